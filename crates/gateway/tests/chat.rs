//! End-to-end behaviour of `POST /v1/chat/completions` against the mock provider.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;
use switchyard_gateway::observe::Outcome;

#[tokio::test]
async fn non_stream_is_forwarded_with_the_providers_key_and_untouched_fields() {
    let h = start(BASIC).await;
    let resp = h
        .chat(
            json!({"model": "general", "messages": user("hi"), "temperature": 0.5,
                     "x_custom": {"keep": [1, "two"]}, "metadata": {"team": "a"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let hdr = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert!(hdr("x-request-id").unwrap().starts_with("req_"));
    assert_eq!(hdr("x-switchyard-deployment").as_deref(), Some("up/gpt-up"));
    assert_eq!(hdr("x-switchyard-attempts").as_deref(), Some("1"));
    assert!(
        hdr("x-switchyard-overhead-ms")
            .unwrap()
            .parse::<f64>()
            .unwrap()
            >= 0.0
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from the Switchyard mock provider. Hello from the Switchyard mock"
    );
    assert_eq!(body["usage"]["completion_tokens"], 12);

    let seen = h.mock_requests().await;
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req["path"], "/a/v1/chat/completions");
    assert_eq!(
        req["headers"]["authorization"],
        format!("Bearer {UPSTREAM_KEY}")
    );
    assert!(
        !req.to_string().contains(MASTER),
        "the client's key never goes upstream"
    );
    assert_eq!(req["body"]["model"], "gpt-up");
    assert_eq!(req["body"]["x_custom"], json!({"keep": [1, "two"]}));
    assert_eq!(req["body"]["metadata"], json!({"team": "a"}));
    assert_eq!(req["body"]["temperature"], 0.5);

    let recs = h.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].outcome, Outcome::Ok);
    assert_eq!(recs[0].usage.unwrap().completion_tokens, 12);
    assert_eq!(recs[0].deployment, "up/gpt-up");
}

#[tokio::test]
async fn client_request_id_is_kept_and_forwarded() {
    let h = start(BASIC).await;
    let resp = h
        .chat(json!({"model": "general", "messages": user("hi")}))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-abc-123");
    assert_eq!(
        h.mock_requests().await[0]["headers"]["x-request-id"],
        "trace-abc-123"
    );
}

#[tokio::test]
async fn stream_without_include_usage_hides_usage_but_records_it() {
    let h = start(BASIC).await;
    let resp = h
        .chat(json!({"model": "general", "messages": user("hi"), "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert_eq!(resp.headers()["x-switchyard-deployment"], "up/gpt-up");
    let body = resp.text().await.unwrap();
    let data = sse_data(&body);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert!(
        !body.contains("usage"),
        "client did not ask for usage: {body}"
    );
    let text: String = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        text,
        "Hello from the Switchyard mock provider. Hello from the Switchyard mock"
    );

    // The gateway asked the upstream for usage anyway, and recorded it.
    let seen = h.mock_requests().await;
    assert_eq!(seen[0]["body"]["stream_options"]["include_usage"], true);
    h.eventually("record", || !h.records().is_empty()).await;
    let rec = &h.records()[0];
    assert_eq!(rec.outcome, Outcome::Ok);
    let usage = rec.usage.expect("usage recorded");
    assert_eq!(usage.completion_tokens, 12);
    assert!(usage.prompt_tokens > 0);
    assert!(rec.ttft.is_some());
}

#[tokio::test]
async fn stream_with_include_usage_passes_the_trailer() {
    let h = start(BASIC).await;
    let body = h
        .chat(
            json!({"model": "general", "messages": user("hi"), "stream": true,
                     "stream_options": {"include_usage": true}}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let data = sse_data(&body);
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["completion_tokens"], 12);
    assert!(chunks[..chunks.len() - 1]
        .iter()
        .all(|c| c["usage"].is_null() && c.get("usage").is_some()));
}

#[tokio::test]
async fn auth_headers_and_failures() {
    let h = start(BASIC).await;
    let body = json!({"model": "general", "messages": user("hi")});
    for (name, value) in [("x-api-key", MASTER), ("api-key", MASTER)] {
        let r = h
            .http
            .post(h.url("/v1/chat/completions"))
            .header(name, value)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
    }
    let r = h
        .http
        .post(h.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("x-request-id"));
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "invalid_api_key");
    let r = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth("sk-nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(!r.text().await.unwrap().contains("sk-nope"));
    assert_eq!(
        h.mock_stats().await["total"],
        2,
        "rejected requests never reach upstream"
    );
}

#[tokio::test]
async fn request_errors_name_the_problem() {
    let h = start(BASIC).await;
    let post_raw = |b: &'static str| {
        h.http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(MASTER)
            .header("content-type", "application/json")
            .body(b)
    };
    let r = post_raw("{oops").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    assert_eq!(e["error"]["type"], "invalid_request_error");

    let r = h.chat(json!({"model": "general"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["param"], "messages");

    let r = h.chat(json!({"messages": user("x")})).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["param"], "model");

    let r = h
        .chat(json!({"model": "no-such-model", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "model_not_found");
    assert_eq!(e["error"]["param"], "model");

    let big = "x".repeat(5000);
    let r = h
        .chat(json!({"model": "general", "messages": user(&big)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "request_too_large"
    );

    // Chunked body without content-length, over the limit.
    let chunks =
        futures_util::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1000])));
    let r = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(MASTER)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(h.mock_stats().await["total"], 0);

    let r = h.http.get(h.url("/v1/nothing")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "unknown_url"
    );

    let r = h
        .http
        .get(h.url("/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "method_not_allowed"
    );
}

#[tokio::test]
async fn upstream_errors_map_to_the_contract() {
    let h = start(BASIC).await;
    let with_mock = |mock: Value| json!({"model": "general", "messages": user("x"), "mock": mock});

    // 4xx passes through with the upstream's message; 429 keeps Retry-After.
    let r = h
        .chat(with_mock(json!({"status": 429, "retry_after": "7"})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(r.headers()["x-switchyard-deployment"], "up/gpt-up");
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Rate limit"),
        "{e}"
    );

    let r = h
        .chat(with_mock(
            json!({"status": 400, "error_message": "Unsupported parameter: 'foo'"}),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["message"], "Unsupported parameter: 'foo'");

    // Upstream credentials never leak through a passed-through message.
    let r = h
        .chat(with_mock(json!({"status": 401, "error_message": format!("Incorrect API key provided: {UPSTREAM_KEY}")})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let text = r.text().await.unwrap();
    assert!(!text.contains(UPSTREAM_KEY), "{text}");

    // 5xx becomes 502.
    let r = h
        .chat(with_mock(json!({"status": 503})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "upstream_error"
    );

    // Connection refused becomes 502.
    let r = h
        .chat(json!({"model": "unreachable", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "upstream_connection_error"
    );

    // No answer within the deployment timeout becomes 504, for slow headers and slow bodies.
    for mock in [json!({"headers_delay_ms": 2000}), json!({"ttft_ms": 2000})] {
        let started = std::time::Instant::now();
        let r = h
            .chat(json!({"model": "impatient", "messages": user("x"), "mock": mock}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 504, "{mock}");
        assert!(started.elapsed() < Duration::from_millis(1500));
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"]["code"],
            "upstream_timeout"
        );
    }
    // A streamed request whose headers are late also times out with 504.
    let r = h
        .chat(json!({"model": "impatient", "messages": user("x"), "stream": true, "mock": {"headers_delay_ms": 2000}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 504);

    let recs = h.records();
    assert!(
        recs.iter().all(|r| r.outcome == Outcome::UpstreamError),
        "{recs:?}"
    );
}

#[tokio::test]
async fn direct_provider_addressing() {
    let h = start(BASIC).await;
    let r = h
        .chat(json!({"model": "other/any-model-id", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-deployment"], "other/any-model-id");
    let seen = h.mock_requests().await;
    assert_eq!(seen[0]["path"], "/b/v1/chat/completions");
    assert_eq!(seen[0]["body"]["model"], "any-model-id");
    assert_eq!(
        seen[0]["headers"]["authorization"],
        "Bearer sk-upstream-key-b"
    );
}

#[tokio::test]
async fn weighted_pool_spreads_requests() {
    let h = start(BASIC).await;
    let mut up = 0;
    let n = 200;
    for _ in 0..n {
        let r = h
            .chat(json!({"model": "pair", "messages": user("x")}))
            .send()
            .await
            .unwrap();
        if r.headers()["x-switchyard-deployment"] == "up/gpt-up" {
            up += 1;
        }
    }
    // Expected 150 of 200; bounds are ~5 standard deviations wide.
    assert!((120..=180).contains(&up), "up/gpt-up served {up} of {n}");
}

#[tokio::test]
async fn client_disconnect_cancels_upstream_and_releases_inflight() {
    let h = start(BASIC).await;
    let mut resp = h
        .chat(
            json!({"model": "general", "messages": user("x"), "stream": true,
                     "mock": {"tokens": 200, "delay_ms": 20}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Read a few chunks, then hang up.
    let mut got = 0;
    while got < 3 {
        if resp.chunk().await.unwrap().is_some() {
            got += 1;
        }
    }
    assert_eq!(h.state.inflight(), 1);
    drop(resp);
    h.eventually("upstream cancelled", || true).await;
    for _ in 0..200 {
        if h.mock_stats().await["cancelled"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = h.mock_stats().await;
    assert_eq!(stats["cancelled"], 1, "{stats}");
    assert_eq!(stats["inflight"], 0, "{stats}");
    h.eventually("gateway in-flight back to zero", || h.state.inflight() == 0)
        .await;
    let catalog = h.state.catalog.load();
    assert!(catalog
        .deployments()
        .all(|d| d.inflight.load(std::sync::atomic::Ordering::Relaxed) == 0));
    h.eventually("record", || !h.records().is_empty()).await;
    assert_eq!(h.records()[0].outcome, Outcome::ClientDisconnected);
}

#[tokio::test]
async fn upstream_dropping_mid_stream_ends_with_an_error_event() {
    let h = start(BASIC).await;
    let body = h
        .chat(json!({"model": "general", "messages": user("x"), "stream": true, "mock": {"drop_after": 2}}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let data = sse_data(&body);
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("up/gpt-up"),
        "{last}"
    );
    assert!(!body.contains("[DONE]"));
    h.eventually("record", || !h.records().is_empty()).await;
    assert_eq!(h.records()[0].outcome, Outcome::StreamError);
    assert_eq!(h.state.inflight(), 0);
}

#[tokio::test]
async fn models_and_health() {
    let h = start(BASIC).await;
    let r = h.http.get(h.url("/v1/models")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = h
        .http
        .get(h.url("/v1/models"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(&ids[..4], ["general", "pair", "impatient", "unreachable"]);
    assert!(ids.contains(&"other/gpt-other"));
    let live = h.http.get(h.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let ready: Value = h
        .http
        .get(h.url("/health/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ok");
}

#[tokio::test]
async fn graceful_shutdown_lets_streams_finish_and_refuses_new_work() {
    let mut h = start(BASIC).await;
    let resp = h
        .chat(
            json!({"model": "general", "messages": user("x"), "stream": true,
                     "mock": {"tokens": 20, "delay_ms": 25}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    h.shutdown();
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("[DONE]"),
        "in-flight stream completed during shutdown"
    );
    let server = h.server.take().unwrap();
    tokio::time::timeout(Duration::from_secs(3), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let err = reqwest::Client::new()
        .post(h.url("/v1/chat/completions"))
        .send()
        .await;
    assert!(err.is_err(), "no new connections after shutdown");
}

#[tokio::test]
async fn shutdown_grace_period_bounds_the_wait() {
    let yaml = BASIC.replace("shutdown_grace: 5s", "shutdown_grace: 200ms");
    let mut h = start(&yaml).await;
    let resp = h
        .chat(
            json!({"model": "general", "messages": user("x"), "stream": true,
                     "mock": {"tokens": 100, "delay_ms": 100}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let started = std::time::Instant::now();
    h.shutdown();
    let server = h.server.take().unwrap();
    tokio::time::timeout(Duration::from_secs(3), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stopped after the grace period"
    );
    drop(resp);
}

#[tokio::test]
async fn readiness_fails_when_the_database_does_not_answer() {
    let dir = std::env::temp_dir().join(format!("sy-ready-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = switchyard_store::Store::connect(&format!("sqlite://{}/r.db", dir.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let h = start_with_store(BASIC, Some(store.clone())).await;
    let ok = h.http.get(h.url("/health/ready")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let v: Value = ok.json().await.unwrap();
    assert_eq!(v["database"]["backend"], "sqlite");
    store.close().await;
    let down = h.http.get(h.url("/health/ready")).send().await.unwrap();
    assert_eq!(down.status(), 503);
    // Liveness has no dependencies.
    assert_eq!(
        h.http
            .get(h.url("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn client_traceparent_is_continued_upstream() {
    let h = start(BASIC).await;
    let r = h
        .chat(json!({"model": "general", "messages": user("x")}))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let reqs = h.mock_requests().await;
    let sent = reqs.last().unwrap()["headers"]["traceparent"]
        .as_str()
        .unwrap()
        .to_string();
    // Same trace, the gateway's attempt span as the parent, sampled flag kept.
    assert!(
        sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{sent}"
    );
    assert!(sent.ends_with("-01"), "{sent}");
    assert!(!sent.contains("00f067aa0ba902b7"), "{sent}");
    // Without one, nothing is invented upstream (tracing export is off here).
    h.chat(json!({"model": "general", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    let reqs = h.mock_requests().await;
    assert!(reqs.last().unwrap()["headers"].get("traceparent").is_none());
}

#[tokio::test]
async fn non_streamed_responses_carry_their_cost() {
    let yaml = BASIC.replace(
        "      - provider: up\n        model: gpt-up\n  - name: pair",
        "      - provider: up\n        model: gpt-up\n        pricing: {input_per_mtok: 2.0, output_per_mtok: 10.0}\n  - name: pair",
    );
    assert_ne!(yaml, BASIC);
    let h = start(&yaml).await;
    let r = h
        .chat(json!({"model": "general", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    let cost: f64 = r.headers()["x-switchyard-cost-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let (p, c) = (
        body["usage"]["prompt_tokens"].as_f64().unwrap(),
        body["usage"]["completion_tokens"].as_f64().unwrap(),
    );
    let want = (p * 2.0 + c * 10.0) / 1e6;
    assert!((cost - want).abs() < 1e-9, "{cost} vs {want}");
}
