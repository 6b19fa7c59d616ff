//! The attempt loop end to end: pool strategies, key pools, retries, cooldowns,
//! fallbacks, streams committed at the first token, hedging, conditional routing and
//! deployment limits, against the in-process mock provider.
//!
//! Each deployment's provider points at its own mock path (`/label/knobs/v1`), so the
//! mock's per-path counters say how many requests each deployment received.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const HELLO: &str = "Hello from the Switchyard mock provider. Hello from the Switchyard mock";

/// One finished response.
struct Out {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Out {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
    fn deployment(&self) -> String {
        self.header("x-switchyard-deployment").unwrap_or_default()
    }
    fn attempts(&self) -> Option<u32> {
        self.header("x-switchyard-attempts")
            .map(|v| v.parse().unwrap())
    }
    fn fallback(&self) -> Option<String> {
        self.header("x-switchyard-fallback")
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn send(req: reqwest::RequestBuilder) -> Out {
    let resp = req.timeout(Duration::from_secs(15)).send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap_or_default();
    Out {
        status,
        headers,
        body,
    }
}

async fn chat(h: &Harness, body: Value) -> Out {
    send(h.chat(body)).await
}

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": user("hi")})
}

fn ask_stream(model: &str) -> Value {
    json!({"model": model, "messages": user("hi"), "stream": true})
}

/// Requests the mock received on paths under `/{label}/`.
async fn hits(h: &Harness, label: &str) -> u64 {
    let stats = h.mock_stats().await;
    let prefix = format!("/{label}/");
    stats["paths"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(_, v)| v.as_u64().unwrap())
                .sum()
        })
        .unwrap_or(0)
}

/// Recorded upstream requests on paths under `/{label}/`.
async fn requests_to(h: &Harness, label: &str) -> Vec<Value> {
    let prefix = format!("/{label}/");
    h.mock_requests()
        .await
        .into_iter()
        .filter(|r| r["path"].as_str().unwrap().starts_with(&prefix))
        .collect()
}

/// Polls the mock's stats until `f` holds (bounded).
async fn mock_eventually(h: &Harness, what: &str, f: impl Fn(&Value) -> bool) {
    for _ in 0..300 {
        if f(&h.mock_stats().await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}: {}", h.mock_stats().await);
}

/// A provider per label: `name: {kind, base_url: http://{mock}/name/knobs/v1, api_key}`.
fn provider(name: &str, knobs: &str) -> String {
    let knobs = if knobs.is_empty() {
        String::new()
    } else {
        format!("/{knobs}")
    };
    format!(
        "  {name}: {{kind: openai_compatible, base_url: \"http://{{mock}}/{name}{knobs}/v1\", api_key: sk-{name}}}\n"
    )
}

/// A stream's SSE body: (content text, `[DONE]` count, error events, role chunks).
fn stream_parts(body: &str) -> (String, usize, Vec<Value>, usize) {
    let data = sse_data(body);
    let done = data.iter().filter(|d| d.as_str() == "[DONE]").count();
    let events: Vec<Value> = data
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .collect();
    let errors: Vec<Value> = events
        .iter()
        .filter(|e| e.get("error").is_some())
        .cloned()
        .collect();
    let roles = events
        .iter()
        .filter(|e| e["choices"][0]["delta"]["role"].is_string())
        .count();
    let text = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    (text, done, errors, roles)
}

// ---------------------------------------------------------------------------------
// 1. Strategies
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_split_follows_the_weights() {
    let yaml = format!(
        "master_key: sk-master-test\nproviders:\n{}{}models:\n  - name: w\n    deployments:\n      - {{provider: heavy, model: m, weight: 3}}\n      - {{provider: light, model: m, weight: 1}}\n",
        provider("heavy", ""),
        provider("light", "")
    );
    let h = start(&yaml).await;
    let n = 400;
    let mut heavy = 0;
    let mut light = 0;
    for _ in 0..n / 20 {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..20 {
            set.spawn(send(h.chat(ask("w"))));
        }
        while let Some(r) = set.join_next().await {
            let r = r.unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.attempts(), Some(1));
            match r.deployment().as_str() {
                "heavy/m" => heavy += 1,
                "light/m" => light += 1,
                other => panic!("unexpected deployment {other}"),
            }
        }
    }
    assert_eq!(heavy + light, n);
    // Expected 300:100; σ ≈ 8.7, so ±40 is over 4.5σ.
    assert!((260..=340).contains(&heavy), "heavy {heavy}, light {light}");
    assert_eq!(hits(&h, "heavy").await, heavy);
    assert_eq!(hits(&h, "light").await, light);
}

#[tokio::test]
async fn least_busy_avoids_the_deployment_with_requests_in_flight() {
    let yaml = format!(
        "master_key: sk-master-test\nproviders:\n{}{}models:\n  - name: lb\n    strategy: least_busy\n    deployments:\n      - {{provider: busy, model: m}}\n      - {{provider: idle, model: m}}\n",
        provider("busy", "headers_delay_ms=10000"),
        provider("idle", "")
    );
    let h = start(&yaml).await;
    // Until one request is held by the slow deployment, both are idle and ties are
    // broken at random: keep sending until one lands there.
    let mut held = Vec::new();
    for _ in 0..40 {
        let task = tokio::spawn(send(h.chat(ask("lb"))));
        while hits(&h, "busy").await == 0 && !task.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if hits(&h, "busy").await > 0 {
            held.push(task);
            break;
        }
        let r = task.await.unwrap();
        assert_eq!(r.deployment(), "idle/m");
    }
    assert_eq!(held.len(), 1, "no request ever went to the busy deployment");
    let started = Instant::now();
    // Now `busy` has one request in flight for 10s: every new request goes to `idle`.
    for i in 0..20 {
        let r = chat(&h, ask("lb")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.deployment(), "idle/m", "request {i}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "too slow to judge"
    );
    assert_eq!(hits(&h, "busy").await, 1);
    for t in held {
        t.abort();
    }
}

#[tokio::test]
async fn latency_prefers_the_fast_deployment_after_warm_up() {
    let yaml = format!(
        "master_key: sk-master-test\nproviders:\n{}{}models:\n  - name: lat\n    strategy: latency\n    deployments:\n      - {{provider: slow, model: m}}\n      - {{provider: fast, model: m}}\n",
        provider("slow", "headers_delay_ms=150"),
        provider("fast", "")
    );
    let h = start(&yaml).await;
    let mut picks = Vec::new();
    for _ in 0..60 {
        let r = chat(&h, ask("lat")).await;
        assert_eq!(r.status, 200);
        picks.push(r.deployment());
    }
    // A deployment without a sample is tried first, so both get measured.
    assert!(hits(&h, "slow").await >= 1, "slow never measured");
    let fast = picks[10..].iter().filter(|d| *d == "fast/m").count();
    assert!(fast >= 40, "fast served {fast} of the last 50: {picks:?}");
}

#[tokio::test]
async fn ordered_uses_the_first_and_the_second_only_when_the_first_fails() {
    let yaml = format!(
        "master_key: sk-master-test\nproviders:\n{}{}models:\n  - name: ord\n    strategy: ordered\n    deployments:\n      - {{provider: first, model: m}}\n      - {{provider: second, model: m}}\nrouter: {{retries: 2}}\n",
        provider("first", "status=500,fail_times=1"),
        provider("second", "")
    );
    let h = start(&yaml).await;
    // The first request: `first` fails once, the retry goes to `second` at once.
    let r = chat(&h, ask("ord")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.deployment(), "second/m");
    assert_eq!(r.attempts(), Some(2));
    // Then `first` (healthy again, under allowed_failures) serves everything.
    for _ in 0..10 {
        let r = chat(&h, ask("ord")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.deployment(), "first/m");
        assert_eq!(r.attempts(), Some(1));
    }
    assert_eq!(hits(&h, "first").await, 11);
    assert_eq!(hits(&h, "second").await, 1);
}

#[tokio::test]
async fn cost_picks_the_cheapest_for_the_requests_token_estimate() {
    // `unpriced` is listed first: an unpriced deployment comes last.
    // `outheavy` is cheap to read and dear to write, `balanced` the other way round.
    let yaml = format!(
        "master_key: sk-master-test\nproviders:\n{}{}{}models:\n  - name: c\n    strategy: cost\n    deployments:\n      - {{provider: unpriced, model: unpriced-model-zzz}}\n      - {{provider: outheavy, model: m, pricing: {{input_per_mtok: 1.0, output_per_mtok: 100.0}}}}\n      - {{provider: balanced, model: m, pricing: {{input_per_mtok: 10.0, output_per_mtok: 10.0}}}}\n",
        provider("unpriced", ""),
        provider("outheavy", ""),
        provider("balanced", "")
    );
    let h = start(&yaml).await;
    // Short prompt, default output estimate (1024): output dominates → `balanced`.
    for _ in 0..10 {
        let r = chat(&h, ask("c")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.deployment(), "balanced/m");
    }
    // ~1000 prompt tokens and max_tokens 1: input dominates → `outheavy`.
    let long = "word ".repeat(800);
    for _ in 0..5 {
        let r = chat(
            &h,
            json!({"model": "c", "messages": user(&long), "max_tokens": 1}),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.deployment(), "outheavy/m");
    }
    assert_eq!(hits(&h, "unpriced").await, 0);
}

// ---------------------------------------------------------------------------------
// 2. Key pool
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_rate_limited_key_is_set_aside_and_the_next_key_used_at_once() {
    let yaml = "master_key: sk-master-test\nproviders:\n  kp: {kind: openai_compatible, base_url: \"http://{mock}/kp/status=429,fail_times=1,retry_after=30/v1\", api_keys: [k1, k2]}\nmodels:\n  - name: keys\n    deployments:\n      - {provider: kp, model: m}\nrouter: {retries: 0}\n";
    let h = start(yaml).await;
    let r = chat(&h, ask("keys")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.attempts(), Some(2));
    assert_eq!(r.deployment(), "kp/m");
    let seen = requests_to(&h, "kp").await;
    assert_eq!(seen.len(), 2);
    let first = seen[0]["headers"]["authorization"]
        .as_str()
        .unwrap()
        .to_string();
    let second = seen[1]["headers"]["authorization"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second, "the retry used another key");
    assert!(
        ["Bearer k1", "Bearer k2"].contains(&first.as_str()),
        "{first}"
    );
    // The throttled key stays aside for its Retry-After (30s): only the other is used.
    for _ in 0..4 {
        let r = chat(&h, ask("keys")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.attempts(), Some(1));
    }
    let seen = requests_to(&h, "kp").await;
    assert_eq!(seen.len(), 6);
    for s in &seen[2..] {
        assert_eq!(s["headers"]["authorization"], second.as_str());
    }
}

// ---------------------------------------------------------------------------------
// 3. Retries
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_server_error_is_retried_and_a_bad_request_is_not() {
    let yaml = format!(
        "master_key: sk-master-test\nproviders:\n{}{}models:\n  - name: flaky\n    deployments: [{{provider: flaky, model: m}}]\n  - name: bad\n    deployments: [{{provider: bad, model: m}}]\nrouter: {{retries: 2, max_retry_wait: 1s}}\n",
        provider("flaky", "status=500,fail_times=1"),
        provider("bad", "status=400")
    );
    let h = start(&yaml).await;
    let r = chat(&h, ask("flaky")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.attempts(), Some(2));
    assert_eq!(r.json()["choices"][0]["message"]["content"], HELLO);
    assert_eq!(hits(&h, "flaky").await, 2);

    let r = chat(&h, ask("bad")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.attempts(), Some(1));
    assert_eq!(
        r.json()["error"]["message"],
        "Invalid request (mock fault)."
    );
    assert_eq!(hits(&h, "bad").await, 1);
}

#[tokio::test]
async fn retry_after_is_waited_for_up_to_max_retry_wait() {
    let yaml = format!(
        "master_key: sk-master-test\nproviders:\n{}{}models:\n  - name: brief\n    deployments: [{{provider: brief, model: m}}]\n  - name: long\n    deployments: [{{provider: long, model: m}}]\nrouter: {{retries: 2, max_retry_wait: 1s}}\n",
        provider("brief", "status=429,fail_times=1,retry_after_ms=400"),
        provider("long", "status=429,retry_after=30")
    );
    let h = start(&yaml).await;
    // Asked for 400ms: waited, then retried.
    let started = Instant::now();
    let r = chat(&h, ask("brief")).await;
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.attempts(), Some(2));
    assert!(took >= Duration::from_millis(400), "retried after {took:?}");
    assert!(took < Duration::from_millis(2000), "took {took:?}");
    assert_eq!(hits(&h, "brief").await, 2);
    // Asked for 30s, more than max_retry_wait: no retry, the client gets the 429 at once.
    let started = Instant::now();
    let r = chat(&h, ask("long")).await;
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.attempts(), Some(1));
    assert_eq!(r.header("retry-after").as_deref(), Some("30"));
    assert_eq!(hits(&h, "long").await, 1);
}

// ---------------------------------------------------------------------------------
// 4. Cooldown and the half-open probe
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_failing_deployment_cools_down_then_one_probe_brings_it_back() {
    // `ordered`: without its cooldown every request would go to `sick` first.
    let yaml = format!(
        "master_key: sk-master-test\nproviders:\n{}{}models:\n  - name: pool\n    strategy: ordered\n    deployments:\n      - {{provider: sick, model: m}}\n      - {{provider: well, model: m}}\nrouter: {{retries: 0, allowed_failures: 2, cooldown: 800ms}}\n",
        provider("sick", "status=500,fail_times=2"),
        provider("well", "")
    );
    let h = start(&yaml).await;
    // Two failures in a row (no retries: the client sees them).
    for _ in 0..2 {
        let r = chat(&h, ask("pool")).await;
        assert_eq!(r.status, 502, "{}", r.body);
        assert_eq!(r.deployment(), "sick/m");
    }
    let tripped = Instant::now();
    // Cooling down: skipped.
    for _ in 0..3 {
        let r = chat(&h, ask("pool")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.deployment(), "well/m");
    }
    assert!(
        tripped.elapsed() < Duration::from_millis(800),
        "too slow to judge the cooldown"
    );
    assert_eq!(hits(&h, "sick").await, 2);
    assert_eq!(hits(&h, "well").await, 3);

    // After the cooldown, concurrent requests: exactly one probes `sick` (slow answers
    // keep the probe in flight while the others pick).
    tokio::time::sleep(Duration::from_millis(850).saturating_sub(tripped.elapsed())).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..4 {
        set.spawn(send(h.chat(
            json!({"model": "pool", "messages": user("hi"), "mock": {"headers_delay_ms": 200}}),
        )));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut deployments = Vec::new();
    while let Some(r) = set.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        deployments.push(r.deployment());
    }
    deployments.sort();
    assert_eq!(deployments, ["sick/m", "well/m", "well/m", "well/m"]);
    assert_eq!(hits(&h, "sick").await, 3);

    // The probe succeeded: back in rotation (first in order again).
    for _ in 0..3 {
        let r = chat(&h, ask("pool")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.deployment(), "sick/m");
    }
    assert_eq!(hits(&h, "sick").await, 6);
}

// ---------------------------------------------------------------------------------
// 5. Fallbacks
// ---------------------------------------------------------------------------------

/// Models `a429`, `a500`, `aslow` (timeout), `actx` (context window), `apolicy`
/// (content policy), `a400` (plain bad request); each falls back to `b` on rate_limit,
/// `c` on server_error, `d` on timeout, `e` on context_window, `f` on content_policy.
fn fallback_yaml() -> String {
    let mut providers = String::new();
    for (name, knobs) in [
        ("a429", "status=429"),
        ("a500", "status=500"),
        ("aslow", "headers_delay_ms=5000"),
        (
            "actx",
            "status=400,error_message=This%20model%27s%20maximum%20context%20length%20is%2010%20tokens",
        ),
        ("apolicy", "content_filter=prompt"),
        ("a400", "status=400"),
        ("solo", "status=500"),
        ("loopa", "status=500"),
        ("loopb", "status=500"),
        ("b", ""),
        ("c", ""),
        ("d", ""),
        ("e", ""),
        ("f", ""),
    ] {
        providers.push_str(&provider(name, knobs));
    }
    let fallbacks = "    fallbacks:\n      - {model: b, on: [rate_limit]}\n      - {model: c, on: [server_error]}\n      - {model: d, on: [timeout]}\n      - {model: e, on: [context_window]}\n      - {model: f, on: [content_policy]}\n";
    let mut models = String::new();
    for a in ["a429", "a500", "aslow", "actx", "apolicy"] {
        let timeout = if a == "aslow" { ", timeout: 200ms" } else { "" };
        models.push_str(&format!(
            "  - name: {a}\n    deployments: [{{provider: {a}, model: m{timeout}}}]\n{fallbacks}"
        ));
    }
    // A plain bad request: falls back on every reason, but a 400 is none of them.
    models.push_str("  - name: a400\n    deployments: [{provider: a400, model: m}]\n    fallbacks: [{model: b}, {model: c}]\n");
    models.push_str("  - name: solo\n    deployments: [{provider: solo, model: m}]\n");
    models.push_str("  - name: loopa\n    deployments: [{provider: loopa, model: m}]\n    fallbacks: [{model: loopb}]\n");
    models.push_str("  - name: loopb\n    deployments: [{provider: loopb, model: m}]\n    fallbacks: [{model: loopa}]\n");
    for m in ["b", "c", "d", "e", "f"] {
        models.push_str(&format!(
            "  - name: {m}\n    deployments: [{{provider: {m}, model: m}}]\n"
        ));
    }
    format!(
        "master_key: sk-master-test\nproviders:\n{providers}models:\n{models}router: {{retries: 0}}\n"
    )
}

#[tokio::test]
async fn each_fallback_reason_sends_to_its_own_model() {
    let h = start(&fallback_yaml()).await;
    for (model, to) in [
        ("a429", "b"),
        ("a500", "c"),
        ("aslow", "d"),
        ("actx", "e"),
        ("apolicy", "f"),
    ] {
        let started = Instant::now();
        let r = chat(&h, ask(model)).await;
        assert_eq!(r.status, 200, "{model}: {}", r.body);
        assert_eq!(r.fallback().as_deref(), Some(to), "{model}");
        assert_eq!(r.deployment(), format!("{to}/m"), "{model}");
        assert_eq!(r.attempts(), Some(2), "{model}");
        assert_eq!(r.json()["choices"][0]["message"]["content"], HELLO);
        assert_eq!(hits(&h, model).await, 1, "{model}");
        if model == "aslow" {
            assert!(started.elapsed() < Duration::from_millis(2500));
        }
    }
    // Each fallback served exactly the one reason it is configured for.
    for m in ["b", "c", "d", "e", "f"] {
        assert_eq!(hits(&h, m).await, 1, "{m}");
    }
}

#[tokio::test]
async fn a_bad_request_does_not_fall_back() {
    let h = start(&fallback_yaml()).await;
    let r = chat(&h, ask("a400")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.fallback(), None);
    assert_eq!(r.deployment(), "a400/m");
    assert_eq!(r.attempts(), Some(1));
    // Not even to the request's own list.
    let r = chat(
        &h,
        json!({"model": "a400", "messages": user("hi"), "models": ["b"]}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.fallback(), None);
    assert_eq!(hits(&h, "a400").await, 2);
    assert_eq!(hits(&h, "b").await, 0);
    assert_eq!(hits(&h, "c").await, 0);
}

#[tokio::test]
async fn the_requests_own_fallback_list_is_used_and_not_forwarded() {
    let h = start(&fallback_yaml()).await;
    // Body `models`.
    let r = chat(
        &h,
        json!({"model": "solo", "messages": user("hi"), "models": ["b"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.fallback().as_deref(), Some("b"));
    assert_eq!(r.deployment(), "b/m");
    assert_eq!(r.attempts(), Some(2));
    // Header.
    let r = send(h.chat(ask("solo")).header("x-switchyard-fallbacks", "c")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.fallback().as_deref(), Some("c"));
    assert_eq!(r.deployment(), "c/m");
    // Both: the body's models come first.
    let r = send(
        h.chat(json!({"model": "solo", "messages": user("hi"), "models": ["d"]}))
            .header("x-switchyard-fallbacks", "e"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.fallback().as_deref(), Some("d"));
    // The request's list replaces the configured one: a500 would go to `c` by config.
    let r = chat(
        &h,
        json!({"model": "a500", "messages": user("hi"), "models": ["f"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.fallback().as_deref(), Some("f"));

    // `models` is the gateway's field: never sent upstream, to any deployment.
    let seen = h.mock_requests().await;
    assert_eq!(seen.len(), 8, "{seen:?}");
    for s in &seen {
        assert!(s["body"].get("models").is_none(), "{s}");
        assert_eq!(s["body"]["model"], "m");
    }
    assert_eq!(hits(&h, "solo").await, 3);
    assert_eq!(hits(&h, "e").await, 0);
}

#[tokio::test]
async fn a_fallback_cycle_visits_each_model_once() {
    let h = start(&fallback_yaml()).await;
    let r = chat(&h, ask("loopa")).await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(r.attempts(), Some(2));
    assert_eq!(r.deployment(), "loopb/m");
    assert_eq!(hits(&h, "loopa").await, 1);
    assert_eq!(hits(&h, "loopb").await, 1);
    // The same through the request's own list naming the model itself and its fallback.
    let r = chat(
        &h,
        json!({"model": "loopa", "messages": user("hi"), "models": ["loopb", "loopa", "loopb"]}),
    )
    .await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(r.attempts(), Some(2));
    assert_eq!(hits(&h, "loopa").await, 2);
    assert_eq!(hits(&h, "loopb").await, 2);
}

// ---------------------------------------------------------------------------------
// 6. Streams: fallback before the first token, never after
// ---------------------------------------------------------------------------------

fn stream_yaml() -> String {
    let mut providers = String::new();
    for (name, knobs) in [
        ("s500", "status=500"),
        ("serr", "stream_error=server_error,drop_after=0"),
        ("sdrop", "drop_after=0"),
        ("slate", "ttft_ms=5000"),
        ("slate2", "ttft_ms=5000"),
        ("shead", "headers_delay_ms=5000"),
        ("srl", "stream_error=rate_limit,drop_after=0"),
        ("sbad", "stream_error=invalid_request,drop_after=0"),
        ("smid", "drop_after=3"),
        ("smiderr", "stream_error=server_error,drop_after=3"),
        ("good", ""),
        ("limited", ""),
    ] {
        providers.push_str(&provider(name, knobs));
    }
    let mut models = String::new();
    // `slate2` and `shead` wait for the router's first_token_timeout (300ms).
    for m in [
        "s500", "serr", "sdrop", "smid", "smiderr", "sbad", "slate2", "shead",
    ] {
        models.push_str(&format!(
            "  - name: {m}\n    deployments: [{{provider: {m}, model: m}}]\n    fallbacks: [{{model: good}}]\n"
        ));
    }
    models.push_str("  - name: slate\n    deployments: [{provider: slate, model: m, first_token_timeout: 200ms}]\n    fallbacks: [{model: good}]\n");
    models.push_str("  - name: srl\n    deployments: [{provider: srl, model: m}]\n    fallbacks: [{model: limited, on: [rate_limit]}]\n");
    models.push_str("  - name: good\n    deployments: [{provider: good, model: m}]\n");
    models.push_str("  - name: limited\n    deployments: [{provider: limited, model: m}]\n");
    format!(
        "master_key: sk-master-test\nproviders:\n{providers}models:\n{models}router: {{retries: 0, first_token_timeout: 300ms}}\n"
    )
}

#[tokio::test]
async fn a_stream_failing_before_its_first_token_falls_back_cleanly() {
    let h = start(&stream_yaml()).await;
    let mut good = 0;
    for model in ["s500", "serr", "sdrop", "slate", "slate2", "shead"] {
        let started = Instant::now();
        let r = chat(&h, ask_stream(model)).await;
        assert_eq!(r.status, 200, "{model}: {}", r.body);
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("text/event-stream"));
        assert_eq!(r.fallback().as_deref(), Some("good"), "{model}");
        assert_eq!(r.deployment(), "good/m", "{model}");
        assert_eq!(r.attempts(), Some(2), "{model}");
        let (text, done, errors, roles) = stream_parts(&r.body);
        assert_eq!(text, HELLO, "{model}: {}", r.body);
        assert_eq!(done, 1, "{model}: {}", r.body);
        assert!(errors.is_empty(), "{model}: {errors:?}");
        assert_eq!(roles, 1, "{model}: one opening chunk: {}", r.body);
        assert_eq!(sse_data(&r.body).last().unwrap(), "[DONE]");
        assert_eq!(hits(&h, model).await, 1, "{model}");
        good += 1;
        assert_eq!(hits(&h, "good").await, good, "{model}");
        if ["slate", "slate2", "shead"].contains(&model) {
            let took = started.elapsed();
            assert!(took < Duration::from_millis(2500), "{model}: {took:?}");
        }
    }
}

#[tokio::test]
async fn an_in_stream_rate_limit_before_the_first_token_falls_back_as_a_rate_limit() {
    let h = start(&stream_yaml()).await;
    let r = chat(&h, ask_stream("srl")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.fallback().as_deref(), Some("limited"));
    let (text, done, errors, _) = stream_parts(&r.body);
    assert_eq!(text, HELLO);
    assert_eq!(done, 1);
    assert!(errors.is_empty(), "{errors:?}");
}

#[tokio::test]
async fn an_in_stream_invalid_request_before_the_first_token_is_not_fallen_back() {
    let h = start(&stream_yaml()).await;
    let r = chat(&h, ask_stream("sbad")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.fallback(), None);
    assert_eq!(
        r.json()["error"]["type"],
        "invalid_request_error",
        "{}",
        r.body
    );
    assert_eq!(hits(&h, "sbad").await, 1);
    assert_eq!(hits(&h, "good").await, 0);
}

#[tokio::test]
async fn a_stream_failing_after_its_first_token_ends_with_an_error_event() {
    let h = start(&stream_yaml()).await;
    for model in ["smid", "smiderr"] {
        let r = chat(&h, ask_stream(model)).await;
        assert_eq!(r.status, 200, "{model}: {}", r.body);
        assert_eq!(r.fallback(), None, "{model}");
        assert_eq!(r.deployment(), format!("{model}/m"));
        assert_eq!(r.attempts(), Some(1));
        let (text, done, errors, _) = stream_parts(&r.body);
        assert_eq!(text, "Hello from the", "{model}: {}", r.body);
        assert_eq!(done, 0, "{model}: {}", r.body);
        assert_eq!(errors.len(), 1, "{model}: {}", r.body);
        // The error is the last event.
        let last: Value = serde_json::from_str(sse_data(&r.body).last().unwrap()).unwrap();
        assert!(last.get("error").is_some(), "{model}: {}", r.body);
    }
    assert_eq!(hits(&h, "good").await, 0, "no fallback once committed");
}

// ---------------------------------------------------------------------------------
// 7. Hedging
// ---------------------------------------------------------------------------------

fn hedge_yaml() -> String {
    format!(
        "master_key: sk-master-test\nproviders:\n{}{}{}models:\n  - name: hedged\n    strategy: ordered\n    hedge_after: 100ms\n    deployments:\n      - {{provider: slowhead, model: m}}\n      - {{provider: quick, model: m}}\n  - name: hedged_stream\n    strategy: ordered\n    hedge_after: 100ms\n    deployments:\n      - {{provider: slowttft, model: m}}\n      - {{provider: quick, model: m}}\n",
        provider("slowhead", "headers_delay_ms=5000"),
        provider("slowttft", "ttft_ms=5000"),
        provider("quick", "")
    )
}

#[tokio::test]
async fn a_hedged_request_is_served_by_the_faster_deployment() {
    let h = start(&hedge_yaml()).await;
    let started = Instant::now();
    let r = chat(&h, ask("hedged")).await;
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(took < Duration::from_millis(2000), "took {took:?}");
    assert!(
        took >= Duration::from_millis(100),
        "hedged before hedge_after: {took:?}"
    );
    assert_eq!(r.deployment(), "quick/m");
    assert_eq!(r.attempts(), Some(2));
    assert_eq!(r.fallback(), None);
    assert_eq!(r.json()["choices"][0]["message"]["content"], HELLO);
    assert_eq!(hits(&h, "slowhead").await, 1);
    assert_eq!(hits(&h, "quick").await, 1);
    // The slow attempt's upstream request was cancelled, not left running.
    mock_eventually(&h, "the slow attempt cancelled", |s| {
        s["cancelled"].as_u64().unwrap() >= 1 && s["inflight"].as_u64().unwrap() == 0
    })
    .await;
}

#[tokio::test]
async fn a_hedged_stream_is_served_by_the_first_to_produce_a_token() {
    let h = start(&hedge_yaml()).await;
    let started = Instant::now();
    let r = chat(&h, ask_stream("hedged_stream")).await;
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(took < Duration::from_millis(2000), "took {took:?}");
    assert_eq!(r.deployment(), "quick/m");
    assert_eq!(r.attempts(), Some(2));
    let (text, done, errors, roles) = stream_parts(&r.body);
    assert_eq!(text, HELLO);
    assert_eq!(done, 1);
    assert!(errors.is_empty());
    assert_eq!(roles, 1);
    assert_eq!(hits(&h, "slowttft").await, 1);
    mock_eventually(&h, "the slow stream cancelled", |s| {
        s["cancelled"].as_u64().unwrap() >= 1 && s["inflight"].as_u64().unwrap() == 0
    })
    .await;
}

#[tokio::test]
async fn a_fast_answer_is_not_hedged() {
    let h = start(&hedge_yaml()).await;
    // The body knob overrides the path's delay: the first deployment answers at once.
    let r = chat(
        &h,
        json!({"model": "hedged", "messages": user("hi"), "mock": {"headers_delay_ms": 0}}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.deployment(), "slowhead/m");
    assert_eq!(r.attempts(), Some(1));
    assert_eq!(hits(&h, "quick").await, 0);
}

// ---------------------------------------------------------------------------------
// 8. Conditional routing
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn route_if_sends_matching_requests_to_their_model() {
    let yaml = format!(
        "master_key: sk-master-test\nproviders:\n{}{}{}{}models:\n  - name: front\n    deployments: [{{provider: front, model: m}}]\n    route_if:\n      - {{when: {{prompt_tokens_over: 500}}, model: big}}\n      - {{when: {{has_images: true}}, model: vision}}\n      - {{when: {{tag: batch}}, model: cheap}}\n  - name: big\n    deployments: [{{provider: big, model: m}}]\n  - name: vision\n    deployments: [{{provider: vision, model: m}}]\n  - name: cheap\n    deployments: [{{provider: cheap, model: m}}]\n",
        provider("front", ""),
        provider("big", ""),
        provider("vision", ""),
        provider("cheap", "")
    );
    let h = start(&yaml).await;
    // Long prompt (~750 tokens by the estimate).
    let r = chat(
        &h,
        json!({"model": "front", "messages": user(&"x".repeat(3000))}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.deployment(), "big/m");
    // An image.
    let r = chat(
        &h,
        json!({"model": "front", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
        ]}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.deployment(), "vision/m");
    // A tag by header, and by body metadata.
    let r = send(
        h.chat(ask("front"))
            .header("x-switchyard-tags", "urgent, batch"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.deployment(), "cheap/m");
    let r = chat(
        &h,
        json!({"model": "front", "messages": user("hi"), "metadata": {"tags": ["batch"]}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.deployment(), "cheap/m");
    // Matching nothing (short, no image, another tag): stays.
    let r = send(h.chat(ask("front")).header("x-switchyard-tags", "urgent")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.deployment(), "front/m");
    let r = chat(&h, ask("front")).await;
    assert_eq!(r.deployment(), "front/m");
    assert_eq!(r.fallback(), None);
    assert_eq!(hits(&h, "front").await, 2);
    assert_eq!(hits(&h, "big").await, 1);
    assert_eq!(hits(&h, "vision").await, 1);
    assert_eq!(hits(&h, "cheap").await, 2);
}

// ---------------------------------------------------------------------------------
// 9. Deployment rpm
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_deployment_at_its_rpm_is_skipped() {
    let yaml = format!(
        "master_key: sk-master-test\nproviders:\n{}{}models:\n  - name: rl\n    strategy: ordered\n    deployments:\n      - {{provider: capped, model: m, rpm: 3}}\n      - {{provider: spare, model: m}}\n",
        provider("capped", ""),
        provider("spare", "")
    );
    let h = start(&yaml).await;
    stay_inside_one_minute().await;
    let mut served = Vec::new();
    for _ in 0..7 {
        let r = chat(&h, ask("rl")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.attempts(), Some(1));
        served.push(r.deployment());
    }
    assert_eq!(
        served,
        ["capped/m", "capped/m", "capped/m", "spare/m", "spare/m", "spare/m", "spare/m"]
    );
    assert_eq!(hits(&h, "capped").await, 3);
}

/// The per-minute windows slide at minute boundaries: start well inside a minute.
async fn stay_inside_one_minute() {
    let into = switchyard_gateway::router::health::now_ms() % 60_000;
    if into > 55_000 {
        tokio::time::sleep(Duration::from_millis(60_100 - into)).await;
    }
}

fn tpm_yaml() -> String {
    format!(
        "master_key: sk-master-test\nproviders:\n{}{}models:\n  - name: tl\n    strategy: ordered\n    deployments:\n      - {{provider: tcapped, model: m, tpm: 50}}\n      - {{provider: tspare, model: m}}\n",
        provider("tcapped", ""),
        provider("tspare", "")
    )
}

/// Each request: the mock counts 5 prompt + 5 completion tokens = 10; the gateway
/// asks room for its estimate, 9 prompt + max_tokens 5 = 14. So `tcapped` (tpm 50)
/// takes requests while 10·k + 14 ≤ 50: four of them.
const TPM_EXPECTED: [&str; 7] = [
    "tcapped/m",
    "tcapped/m",
    "tcapped/m",
    "tcapped/m",
    "tspare/m",
    "tspare/m",
    "tspare/m",
];

#[tokio::test]
async fn a_deployment_at_its_tpm_is_skipped() {
    let h = start(&tpm_yaml()).await;
    stay_inside_one_minute().await;
    let mut served = Vec::new();
    for _ in 0..7 {
        let r = chat(
            &h,
            json!({"model": "tl", "messages": user("hi"), "max_tokens": 5}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["usage"]["total_tokens"], 10);
        served.push(r.deployment());
    }
    assert_eq!(served, TPM_EXPECTED);
}

#[tokio::test]
async fn streamed_tokens_count_against_the_tpm_too() {
    let h = start(&tpm_yaml()).await;
    stay_inside_one_minute().await;
    let mut served = Vec::new();
    for _ in 0..7 {
        let r = chat(
            &h,
            json!({"model": "tl", "messages": user("hi"), "max_tokens": 5, "stream": true,
                   "stream_options": {"include_usage": true}}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (_, done, _, _) = stream_parts(&r.body);
        assert_eq!(done, 1);
        assert!(r.body.contains("\"total_tokens\":10"), "{}", r.body);
        served.push(r.deployment());
    }
    assert_eq!(served, TPM_EXPECTED);
}

// ---------------------------------------------------------------------------------
// 10. Everything cooling down
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn all_deployments_cooling_down_is_503_with_retry_after() {
    let yaml = format!(
        "master_key: sk-master-test\nproviders:\n{}{}models:\n  - name: down\n    deployments:\n      - {{provider: down1, model: m}}\n      - {{provider: down2, model: m}}\nrouter: {{retries: 1, allowed_failures: 1, cooldown: 5s}}\n",
        provider("down1", "status=500"),
        provider("down2", "status=500")
    );
    let h = start(&yaml).await;
    // Both fail (the retry goes to the other at once): both cool down.
    let r = chat(&h, ask("down")).await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(r.attempts(), Some(2));
    assert_eq!(hits(&h, "down1").await, 1);
    assert_eq!(hits(&h, "down2").await, 1);
    // Now nothing is available: 503 at once, with how long to wait.
    let started = Instant::now();
    let r = chat(&h, ask("down")).await;
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(r.status, 503, "{}", r.body);
    let retry_after: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((4..=5).contains(&retry_after), "retry-after {retry_after}");
    assert_eq!(r.json()["error"]["code"], "service_unavailable");
    assert_eq!(hits(&h, "down1").await, 1);
    assert_eq!(hits(&h, "down2").await, 1);
}

/// A deployment's own connect timeout bounds connecting to it (a listener whose accept
/// queue is full drops new connections' SYNs, so connecting would otherwise wait for the
/// server's 10s default).
#[tokio::test]
async fn a_deployment_connect_timeout_bounds_the_connect() {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let _listener = socket.listen(1).unwrap();
    // Fill the accept queue (never accepted).
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(c)) = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(c);
        }
    }
    let yaml = format!(
        r#"
master_key: sk-master-test
providers:
  full: {{kind: openai_compatible, base_url: "http://{addr}/v1", api_key: k}}
models:
  - name: m
    deployments: [{{provider: full, model: x, connect_timeout: 300ms, timeout: 20s}}]
router: {{retries: 0}}
"#
    );
    let h = start(&yaml).await;
    let started = std::time::Instant::now();
    let r = h
        .chat(serde_json::json!({"model": "m", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "upstream_connection_error", "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
