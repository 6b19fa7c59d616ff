//! `GET /metrics`: the Prometheus exposition moves with requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// One sample: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text format strictly enough to catch a malformed line: every line is a
/// `# HELP`/`# TYPE` comment or `name{k="v",...} value`, and every sample's family has
/// HELP and TYPE lines before it.
fn parse(text: &str) -> Vec<Sample> {
    let mut helped = HashSet::new();
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for line in text.lines() {
        assert!(!line.is_empty(), "no blank lines expected:\n{text}");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(!help.is_empty(), "{line}");
            assert!(helped.insert(name.to_string()), "HELP twice: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(typed.insert(name.to_string(), kind.to_string()).is_none());
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment: {line}");
        let name_end = line.find(['{', ' ']).unwrap();
        let name = &line[..name_end];
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            loop {
                let (start, c) = chars.next().unwrap();
                if c == '}' {
                    rest = &r[start + 1..];
                    break;
                }
                let eq = r[start..].find('=').unwrap() + start;
                let key = &r[start..eq];
                assert!(
                    key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                while chars.peek().unwrap().0 < eq {
                    chars.next();
                }
                assert_eq!(chars.next().unwrap().1, '=', "{line}");
                assert_eq!(chars.next().unwrap().1, '"', "{line}");
                let mut value = String::new();
                loop {
                    match chars.next().unwrap().1 {
                        '\\' => match chars.next().unwrap().1 {
                            'n' => value.push('\n'),
                            c @ ('\\' | '"') => value.push(c),
                            c => panic!("bad escape \\{c} in {line}"),
                        },
                        '"' => break,
                        c => value.push(c),
                    }
                }
                labels.insert(key.to_string(), value);
                match chars.peek().unwrap().1 {
                    ',' => {
                        chars.next();
                    }
                    '}' => {}
                    c => panic!("unexpected {c} in {line}"),
                }
            }
        }
        let value = rest.strip_prefix(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).map(String::as_str) == Some("histogram"))
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "no TYPE before {line}");
        assert!(helped.contains(family), "no HELP before {line}");
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    out
}

async fn scrape(h: &Harness) -> Vec<Sample> {
    let resp = h.http.get(h.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse(&resp.text().await.unwrap())
}

/// The value of the one sample `name` whose labels include `labels`.
fn get(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<_> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(found.len() <= 1, "ambiguous {name} {labels:?}: {found:?}");
    found.first().map(|s| s.value)
}

fn val(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    get(samples, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in {samples:#?}"))
}

const FAMILIES: &[&str] = &[
    "switchyard_requests_total",
    "switchyard_request_duration_seconds",
    "switchyard_time_to_first_token_seconds",
    "switchyard_tokens_total",
    "switchyard_cost_usd_total",
    "switchyard_upstream_errors_total",
    "switchyard_inflight_requests",
    "switchyard_retries_total",
    "switchyard_fallbacks_total",
    "switchyard_rejections_total",
    "switchyard_deployment_up",
    "switchyard_deployment_cooldowns_total",
    "switchyard_deployment_inflight",
    "switchyard_deployment_latency_ewma_seconds",
    "switchyard_ledger_queue_depth",
    "switchyard_ledger_dropped_total",
];

#[tokio::test]
async fn the_exposition_parses_without_auth_and_names_every_family() {
    let h = start(BASIC).await;
    h.chat(json!({"model": "general", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    let resp = h.http.get(h.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "no key needed");
    assert!(resp.headers().contains_key("x-request-id"));
    let text = resp.text().await.unwrap();
    parse(&text);
    for f in FAMILIES {
        assert!(text.contains(&format!("# HELP {f} ")), "{f}");
        assert!(text.contains(&format!("# TYPE {f} ")), "{f}");
    }
    assert!(text.contains("# TYPE switchyard_request_duration_seconds histogram"));
    assert!(text.contains("# TYPE switchyard_inflight_requests gauge"));
    assert!(text.contains("# TYPE switchyard_requests_total counter"));
    assert!(!text.contains(MASTER) && !text.contains(UPSTREAM_KEY));
    assert!(!text.contains("req_"), "no request ids");
}

#[tokio::test]
async fn a_success_counts_its_request_duration_tokens_and_cost() {
    let yaml = BASIC.replace(
        "      - provider: up\n        model: gpt-up\n  - name: pair",
        "      - provider: up\n        model: gpt-up\n        pricing: {input_per_mtok: 2.0, output_per_mtok: 10.0}\n  - name: pair",
    );
    assert_ne!(yaml, BASIC);
    let h = start(&yaml).await;
    let mut cost = 0.0;
    let (mut prompt, mut completion, mut reasoning) = (0.0, 0.0, 0.0);
    for _ in 0..2 {
        let r = h
            .chat(json!({"model": "general", "messages": user("hello there"),
                         "reasoning_effort": "low"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        cost += r.headers()["x-switchyard-cost-usd"]
            .to_str()
            .unwrap()
            .parse::<f64>()
            .unwrap();
        let body: Value = r.json().await.unwrap();
        prompt += body["usage"]["prompt_tokens"].as_f64().unwrap();
        completion += body["usage"]["completion_tokens"].as_f64().unwrap();
        reasoning += body["usage"]["completion_tokens_details"]["reasoning_tokens"]
            .as_f64()
            .unwrap_or(0.0);
    }
    let m = scrape(&h).await;
    let general = [("model", "general")];
    assert_eq!(
        val(
            &m,
            "switchyard_requests_total",
            &[
                ("model", "general"),
                ("deployment", "up/gpt-up"),
                ("status", "200")
            ]
        ),
        2.0
    );
    assert_eq!(
        val(&m, "switchyard_request_duration_seconds_count", &general),
        2.0
    );
    assert_eq!(
        val(
            &m,
            "switchyard_request_duration_seconds_bucket",
            &[("model", "general"), ("le", "+Inf")]
        ),
        2.0
    );
    assert!(val(&m, "switchyard_request_duration_seconds_sum", &general) > 0.0);
    let tokens = |dir: &str| {
        val(
            &m,
            "switchyard_tokens_total",
            &[("model", "general"), ("direction", dir)],
        )
    };
    assert!(prompt > 0.0 && completion > 0.0);
    assert_eq!(tokens("input"), prompt);
    assert_eq!(tokens("output"), completion);
    assert_eq!(tokens("reasoning"), reasoning);
    assert!(reasoning > 0.0, "the mock reasons when asked");
    assert_eq!(tokens("cached"), 0.0);
    assert_eq!(tokens("cache_write"), 0.0);
    let want = (prompt * 2.0 + completion * 10.0) / 1e6;
    let got = val(&m, "switchyard_cost_usd_total", &general);
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    assert!((got - cost).abs() < 1e-7, "{got} vs headers {cost}");
    assert_eq!(val(&m, "switchyard_retries_total", &general), 0.0);
    // Not a streamed request: no time-to-first-token series.
    assert_eq!(
        get(&m, "switchyard_time_to_first_token_seconds_count", &general),
        None
    );
    // The router's view of the deployment, per pool.
    let pool = [("model", "general"), ("deployment", "up/gpt-up")];
    assert_eq!(val(&m, "switchyard_deployment_up", &pool), 1.0);
    assert_eq!(val(&m, "switchyard_deployment_inflight", &pool), 0.0);
    assert!(val(&m, "switchyard_deployment_latency_ewma_seconds", &pool) > 0.0);
    assert_eq!(
        get(
            &m,
            "switchyard_deployment_latency_ewma_seconds",
            &[("model", "pair"), ("deployment", "up/gpt-up")]
        ),
        None,
        "that pool's deployment has not answered yet"
    );
}

#[tokio::test]
async fn upstream_failures_count_by_deployment_and_class() {
    let h = start(BASIC).await;
    let r = h
        .chat(json!({"model": "unreachable", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let m = scrape(&h).await;
    assert_eq!(
        val(
            &m,
            "switchyard_requests_total",
            &[
                ("model", "unreachable"),
                ("deployment", "dead/nothing"),
                ("status", "502")
            ]
        ),
        1.0
    );
    assert_eq!(
        val(
            &m,
            "switchyard_upstream_errors_total",
            &[("deployment", "dead/nothing"), ("class", "connection")]
        ),
        1.0
    );
    assert_eq!(
        val(
            &m,
            "switchyard_request_duration_seconds_count",
            &[("model", "unreachable")]
        ),
        1.0
    );
    assert_eq!(
        val(
            &m,
            "switchyard_rejections_total",
            &[("reason", "bad_request")]
        ),
        0.0,
        "an upstream failure is no rejection"
    );
}

const FLAKY: &str = r#"
master_key: sk-master-test
providers:
  up:
    kind: openai_compatible
    base_url: http://{mock}/a/v1
    api_key: sk-upstream-key-a
  broken:
    kind: openai_compatible
    base_url: http://{mock}/status=500/v1
    api_key: sk-upstream-key-b
models:
  - name: general
    deployments:
      - {provider: up, model: gpt-up}
  - name: fragile
    deployments:
      - {provider: broken, model: x}
router:
  retries: 2
  allowed_failures: 1000
  max_retry_wait: 50ms
"#;

#[tokio::test]
async fn retried_failures_each_count_and_fallbacks_name_both_models() {
    let h = start(FLAKY).await;
    let r = h
        .chat(json!({"model": "fragile", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let m = scrape(&h).await;
    assert_eq!(
        val(
            &m,
            "switchyard_upstream_errors_total",
            &[("deployment", "broken/x"), ("class", "server_error")]
        ),
        3.0,
        "the first attempt and two retries"
    );
    assert_eq!(
        val(&m, "switchyard_retries_total", &[("model", "fragile")]),
        2.0
    );

    // The request's own fallback list: served by `general` after three failures.
    let r = h
        .chat(json!({"model": "fragile", "models": ["general"], "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-fallback"], "general");
    let m = scrape(&h).await;
    assert_eq!(
        val(
            &m,
            "switchyard_fallbacks_total",
            &[("from", "fragile"), ("to", "general")]
        ),
        1.0
    );
    assert_eq!(
        val(
            &m,
            "switchyard_requests_total",
            &[
                ("model", "fragile"),
                ("deployment", "up/gpt-up"),
                ("status", "200")
            ]
        ),
        1.0
    );
    assert_eq!(
        val(
            &m,
            "switchyard_upstream_errors_total",
            &[("deployment", "broken/x"), ("class", "server_error")]
        ),
        6.0
    );
    assert_eq!(
        val(&m, "switchyard_retries_total", &[("model", "fragile")]),
        5.0
    );
}

#[tokio::test]
async fn a_stream_records_its_time_to_first_token() {
    let yaml = BASIC.replace("http://{mock}/a/v1", "http://{mock}/ttft_ms=30/a/v1");
    let h = start(&yaml).await;
    let r = h
        .chat(
            json!({"model": "general", "messages": user("hi"), "stream": true,
                     "stream_options": {"include_usage": true}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let last: Value = serde_json::from_str(
        sse_data(&body)
            .iter()
            .rev()
            .find(|d| d.as_str() != "[DONE]")
            .unwrap(),
    )
    .unwrap();
    let completion = last["usage"]["completion_tokens"].as_f64().unwrap();
    h.eventually("the stream's record", || h.records().len() == 1)
        .await;
    let m = scrape(&h).await;
    let general = [("model", "general")];
    assert_eq!(
        val(&m, "switchyard_time_to_first_token_seconds_count", &general),
        1.0
    );
    assert_eq!(
        val(
            &m,
            "switchyard_time_to_first_token_seconds_bucket",
            &[("model", "general"), ("le", "0.025")]
        ),
        0.0,
        "the first token took at least 30ms"
    );
    assert!(val(&m, "switchyard_time_to_first_token_seconds_sum", &general) >= 0.03);
    assert_eq!(
        val(
            &m,
            "switchyard_tokens_total",
            &[("model", "general"), ("direction", "output")]
        ),
        completion
    );
    assert_eq!(
        val(&m, "switchyard_request_duration_seconds_count", &general),
        1.0
    );
}

#[tokio::test]
async fn unknown_models_share_one_series_and_rejections_have_reasons() {
    let h = start(BASIC).await;
    for i in 0..5 {
        let r = h
            .chat(json!({"model": format!("no-such-model-{i}"), "messages": user("hi")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    let r = h
        .http
        .post(h.url("/v1/chat/completions"))
        .json(&json!({"model": "general", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = h
        .chat(json!({"model": "general", "messages": user(&"x".repeat(8000))}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let resp = h.http.get(h.url("/metrics")).send().await.unwrap();
    let text = resp.text().await.unwrap();
    assert!(!text.contains("no-such-model"), "{text}");
    let m = parse(&text);
    assert_eq!(
        val(
            &m,
            "switchyard_requests_total",
            &[("model", "unknown"), ("deployment", ""), ("status", "404")]
        ),
        5.0
    );
    assert_eq!(
        val(
            &m,
            "switchyard_rejections_total",
            &[("reason", "not_found")]
        ),
        5.0
    );
    assert_eq!(
        val(&m, "switchyard_rejections_total", &[("reason", "auth")]),
        1.0
    );
    assert_eq!(
        val(
            &m,
            "switchyard_rejections_total",
            &[("reason", "too_large")]
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            "switchyard_request_duration_seconds_count",
            &[("model", "unknown")]
        ),
        None,
        "rejections are not routed requests"
    );
}

#[tokio::test]
async fn the_inflight_gauges_follow_a_slow_request() {
    let yaml = BASIC.replace(
        "http://{mock}/a/v1",
        "http://{mock}/headers_delay_ms=800/a/v1",
    );
    let h = start(&yaml).await;
    let req = h.chat(json!({"model": "general", "messages": user("hi")}));
    let pending = tokio::spawn(async move { req.send().await.unwrap().status() });
    let pool = [("model", "general"), ("deployment", "up/gpt-up")];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let m = scrape(&h).await;
        if val(&m, "switchyard_inflight_requests", &[]) == 1.0 {
            assert_eq!(val(&m, "switchyard_deployment_inflight", &pool), 1.0);
            break;
        }
        assert!(Instant::now() < deadline, "never saw the request in flight");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pending.await.unwrap(), 200);
    let m = scrape(&h).await;
    assert_eq!(val(&m, "switchyard_inflight_requests", &[]), 0.0);
    assert_eq!(val(&m, "switchyard_deployment_inflight", &pool), 0.0);
}

#[tokio::test]
async fn a_deployment_in_cooldown_is_down() {
    let yaml = FLAKY.replace(
        "router:\n  retries: 2\n  allowed_failures: 1000\n  max_retry_wait: 50ms",
        "router: {retries: 0, allowed_failures: 1, cooldown: 5s}",
    );
    assert_ne!(yaml, FLAKY);
    let h = start(&yaml).await;
    let pool = [("model", "fragile"), ("deployment", "broken/x")];
    let m = scrape(&h).await;
    assert_eq!(val(&m, "switchyard_deployment_up", &pool), 1.0);
    assert_eq!(val(&m, "switchyard_deployment_cooldowns_total", &pool), 0.0);
    let r = h
        .chat(json!({"model": "fragile", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let m = scrape(&h).await;
    assert_eq!(val(&m, "switchyard_deployment_up", &pool), 0.0);
    assert_eq!(val(&m, "switchyard_deployment_cooldowns_total", &pool), 1.0);
    assert_eq!(
        val(
            &m,
            "switchyard_deployment_up",
            &[("model", "general"), ("deployment", "up/gpt-up")]
        ),
        1.0
    );
    // While it cools down the pool is unavailable: the gateway's 503 is no new cooldown.
    let r = h
        .chat(json!({"model": "fragile", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let m = scrape(&h).await;
    assert_eq!(val(&m, "switchyard_deployment_cooldowns_total", &pool), 1.0);
    assert_eq!(
        val(
            &m,
            "switchyard_requests_total",
            &[("model", "fragile"), ("deployment", ""), ("status", "503")]
        ),
        1.0
    );
}

#[tokio::test]
async fn the_ledger_reports_through_the_registry() {
    let h = start(BASIC).await;
    h.state.metrics.set_ledger_queue_depth(12);
    h.state.metrics.add_ledger_dropped(3);
    h.state.metrics.add_ledger_dropped(1);
    let m = scrape(&h).await;
    assert_eq!(val(&m, "switchyard_ledger_queue_depth", &[]), 12.0);
    assert_eq!(val(&m, "switchyard_ledger_dropped_total", &[]), 4.0);
    h.state.metrics.set_ledger_queue_depth(0);
    let m = scrape(&h).await;
    assert_eq!(val(&m, "switchyard_ledger_queue_depth", &[]), 0.0);
}

/// Cost of one `record` call on a warm registry (label sets already seen), from two
/// threads at once. A measurement, not an assertion: run with
/// `cargo test -p switchyard-gateway --release --test metrics -- --ignored --nocapture`.
#[test]
#[ignore]
fn record_cost_micro_benchmark() {
    use std::sync::Arc;
    use switchyard_adapters::canonical::Usage;
    use switchyard_gateway::metrics::Metrics;
    use switchyard_gateway::observe::{AttemptRecord, Outcome, RecordSink, RequestLog};

    let metrics = Metrics::new();
    let make = |model: &str, deployment: &str| {
        let mut log = RequestLog::detached(Instant::now());
        log.model = model.to_string();
        log.deployment = deployment.to_string();
        log.status = 200;
        log.outcome = Outcome::Ok;
        log.attempts = 1;
        log.ttft = Some(Duration::from_millis(120));
        log.usage = Some(Usage {
            prompt_tokens: 100,
            completion_tokens: 200,
            total_tokens: 300,
            cached_tokens: 10,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
        });
        log.price = Some(switchyard_pricing::Price {
            input_per_mtok: 2.0,
            output_per_mtok: 10.0,
            cached_input_per_mtok: Some(0.5),
            cache_write_per_mtok: None,
            reasoning_per_mtok: None,
            ..Default::default()
        });
        log.attempt_log = vec![AttemptRecord {
            offset: Duration::ZERO,
            span_id: [1; 8],
            deployment: deployment.to_string(),
            provider_kind: "openai_compatible",
            status: Some(200),
            error_class: None,
            latency: Duration::from_millis(300),
        }];
        log
    };
    // A catalog-sized spread of label sets.
    let logs: Arc<Vec<RequestLog>> = Arc::new(
        (0..20)
            .map(|i| make(&format!("model-{i}"), &format!("provider/upstream-{i}")))
            .collect(),
    );
    for log in logs.iter() {
        metrics.record(log);
    }
    const N: usize = 1_000_000;
    for threads in [1, 2] {
        let started = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let metrics = metrics.clone();
                let logs = logs.clone();
                std::thread::spawn(move || {
                    for i in 0..N {
                        metrics.record(&logs[(i + t * 7) % logs.len()]);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let per = started.elapsed().as_nanos() as f64 / N as f64;
        println!("metrics record: {threads} thread(s), {per:.0} ns/record (wall time per thread)");
    }
}
