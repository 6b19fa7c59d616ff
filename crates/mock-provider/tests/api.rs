#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use switchyard_mock_provider::{parse_behavior_spec, spawn, Behavior, MockConfig};

const FULL_12: &str = "Hello from the Switchyard mock provider. Hello from the Switchyard mock";

async fn start(cfg: MockConfig) -> (String, reqwest::Client) {
    let (addr, _handle): (SocketAddr, _) = spawn(cfg).await.unwrap();
    (format!("http://{addr}"), reqwest::Client::new())
}

fn chat_body() -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there!"}]})
}

async fn stats(base: &str, client: &reqwest::Client) -> Value {
    client
        .get(format!("{base}/_mock/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Split an SSE body into its `data:` payloads, checking the framing.
fn sse_events(text: &str) -> Vec<&str> {
    assert!(text.ends_with("\n\n"), "body must end with a blank line");
    text.split_terminator("\n\n")
        .map(|ev| {
            assert!(!ev.contains('\n'), "one line per event: {ev:?}");
            ev.strip_prefix("data: ").expect("only data lines")
        })
        .collect()
}

#[tokio::test]
async fn non_stream_shape_and_usage() {
    let (base, client) = start(MockConfig::default()).await;
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-mock-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["service_tier"], "default");
    assert_eq!(v["system_fingerprint"], "fp_mock");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(
        choice["message"],
        json!({"role": "assistant", "content": FULL_12, "refusal": null, "annotations": []})
    );
    assert_eq!(choice["logprobs"], Value::Null);
    assert_eq!(choice["finish_reason"], "stop");
    // 1 message * 4 + ceil(12 chars / 4)
    assert_eq!(
        v["usage"],
        json!({
            "prompt_tokens": 7, "completion_tokens": 12, "total_tokens": 19,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        })
    );

    let s = stats(&base, &client).await;
    assert_eq!(s["total"], 1);
    assert_eq!(s["completed"], 1);
    assert_eq!(s["inflight"], 0);
    assert_eq!(s["paths"]["/v1/chat/completions"], 1);
}

#[tokio::test]
async fn prompt_tokens_count_parts() {
    let (base, client) = start(MockConfig::default()).await;
    let body = json!({"model": "m", "messages": [
        {"role": "system", "content": "abcde"},
        {"role": "user", "content": [{"type": "text", "text": "fgh"}, {"type": "image_url", "image_url": {"url": "data:"}}]}
    ], "mock": {"tokens": 2}});
    let v: Value = client
        .post(format!("{base}/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], 8 + 2);
    // The image is acknowledged before the `tokens` words: "I", " see", " 1", " image."
    assert_eq!(v["usage"]["completion_tokens"], 4 + 2);
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "I see 1 image. Hello from"
    );
}

#[tokio::test]
async fn stream_without_usage() {
    let (base, client) = start(MockConfig::default()).await;
    let mut body = chat_body();
    body["stream"] = json!(true);
    let resp = client
        .post(format!("{base}/dep-a/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    let events = sse_events(&text);
    assert_eq!(events.len(), 1 + 12 + 1 + 1);
    assert_eq!(*events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let id = chunks[0]["id"].clone();
    for c in &chunks {
        assert_eq!(c["id"], id);
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "gpt-4o-mini");
        assert_eq!(c["service_tier"], "default");
        assert_eq!(c["system_fingerprint"], "fp_mock");
        assert!(c.get("usage").is_none(), "no usage key: {c}");
    }
    assert_eq!(
        chunks[0]["choices"],
        json!([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": null}, "logprobs": null, "finish_reason": null}])
    );
    let text: String = chunks[1..13]
        .iter()
        .map(|c| {
            assert_eq!(c["choices"][0]["finish_reason"], Value::Null);
            c["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(text, FULL_12);
    assert_eq!(
        chunks[13]["choices"],
        json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}])
    );

    let s = stats(&base, &client).await;
    assert_eq!(s["completed"], 1);
    assert_eq!(s["inflight"], 0);
    assert_eq!(s["cancelled"], 0);
    assert_eq!(s["paths"]["/dep-a/v1/chat/completions"], 1);
}

#[tokio::test]
async fn stream_with_usage() {
    let (base, client) = start(MockConfig::default()).await;
    let mut body = chat_body();
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    body["mock"] = json!({"tokens": "3"});
    let text = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&text);
    assert_eq!(events.len(), 1 + 3 + 1 + 1 + 1);
    assert_eq!(events[6], "[DONE]");
    for e in &events[..5] {
        let c: Value = serde_json::from_str(e).unwrap();
        assert_eq!(c["usage"], Value::Null);
        assert!(c.get("usage").is_some());
    }
    let usage: Value = serde_json::from_str(events[5]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 7);
    assert_eq!(usage["usage"]["completion_tokens"], 3);
    assert_eq!(usage["usage"]["total_tokens"], 10);
    assert_eq!(
        usage["usage"]["completion_tokens_details"]["reasoning_tokens"],
        0
    );
}

#[tokio::test]
async fn path_prefix_fault_with_retry_after() {
    let (base, client) = start(MockConfig::default()).await;
    let resp = client
        .post(format!(
            "{base}/status=503,retry_after=2/v1/chat/completions"
        ))
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");
    assert!(resp.headers().get("retry-after-ms").is_none());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "server_error");
    assert_eq!(v["error"]["param"], Value::Null);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("overloaded"));

    // Segments may appear anywhere before /chat/completions and are percent-decoded.
    let resp = client
        .post(format!(
            "{base}/dep/status=500/v1/error_message=went%20wrong/chat/completions"
        ))
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["message"], "went wrong");
}

#[tokio::test]
async fn header_fault() {
    let (base, client) = start(MockConfig::default()).await;
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .header("x-mock-status", "429")
        .header("x-mock-retry-after-ms", "1500")
        .header("x-mock-retry-after", "2")
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after-ms"], "1500");
    assert_eq!(resp.headers()["retry-after"], "2");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})
    );
}

#[tokio::test]
async fn body_mock_fault_wins() {
    let defaults = Behavior {
        status: Some(500),
        ..Behavior::default()
    };
    let (base, client) = start(MockConfig {
        defaults,
        record: false,
    })
    .await;
    let mut body = chat_body();
    body["mock"] = json!({"status": 401, "error_message": "nope"});
    let resp = client
        .post(format!("{base}/status=503/v1/chat/completions"))
        .header("x-mock-status", "429")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": {"message": "nope", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}})
    );

    // status=0 clears the default fault.
    body["mock"] = json!({"status": 0});
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
}

#[tokio::test]
async fn fail_times_then_success_and_reset() {
    let (base, client) = start(MockConfig::default()).await;
    let url = format!("{base}/fail_times=2,status=500/v1/chat/completions");
    let mut got = Vec::new();
    for _ in 0..4 {
        let resp = client.post(&url).json(&chat_body()).send().await.unwrap();
        got.push(resp.status().as_u16());
    }
    assert_eq!(got, [500, 500, 200, 200]);
    // The counter is per path.
    let other = format!("{base}/x/fail_times=2,status=500/v1/chat/completions");
    let resp = client.post(&other).json(&chat_body()).send().await.unwrap();
    assert_eq!(resp.status(), 500);

    let s = stats(&base, &client).await;
    assert_eq!(s["total"], 5);
    assert_eq!(
        s["paths"]["/fail_times=2,status=500/v1/chat/completions"],
        4
    );

    let resp = client
        .post(format!("{base}/_mock/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let s = stats(&base, &client).await;
    assert_eq!(s["total"], 0);
    assert_eq!(s["paths"], json!({}));
    let resp = client.post(&url).json(&chat_body()).send().await.unwrap();
    assert_eq!(resp.status(), 500);
}

#[tokio::test]
async fn max_tokens_finish_length() {
    let (base, client) = start(MockConfig::default()).await;
    let mut body = chat_body();
    body["max_tokens"] = json!(3);
    let v: Value = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello from the");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 3);

    let mut body = chat_body();
    body["max_completion_tokens"] = json!(2);
    body["stream"] = json!(true);
    let text = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&text);
    assert_eq!(events.len(), 1 + 2 + 1 + 1);
    let fin: Value = serde_json::from_str(events[3]).unwrap();
    assert_eq!(fin["choices"][0]["finish_reason"], "length");

    // A cap at or above the reply length keeps "stop".
    let mut body = chat_body();
    body["max_tokens"] = json!(12);
    let v: Value = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn drop_after_aborts_stream() {
    let (base, client) = start(MockConfig::default()).await;
    let mut body = chat_body();
    body["stream"] = json!(true);
    let resp = client
        .post(format!("{base}/drop_after=3/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut received = Vec::new();
    let mut error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => received.extend_from_slice(&b),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert!(error.is_some(), "client must see a body error");
    let text = String::from_utf8(received).unwrap();
    assert!(!text.contains("[DONE]"));
    assert_eq!(text.matches("\"delta\":{\"content\":").count(), 3, "{text}");

    let s = wait_stats(&base, &client, |s| s["inflight"] == 0).await;
    assert_eq!(s["aborted"], 1);
    assert_eq!(s["cancelled"], 0);
}

async fn wait_stats(base: &str, client: &reqwest::Client, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = stats(base, client).await;
        if ok(&s) || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn client_drop_cancels_stream() {
    let (base, client) = start(MockConfig::default()).await;
    let mut body = chat_body();
    body["stream"] = json!(true);
    body["mock"] = json!({"tokens": 1000, "delay_ms": 20});
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut seen = 0;
    while seen < 3 {
        let b = stream.next().await.unwrap().unwrap();
        seen += b.as_ref().windows(6).filter(|w| w == b"data: ").count();
    }
    let s = stats(&base, &client).await;
    assert_eq!(s["inflight"], 1);
    drop(stream);

    let s = wait_stats(&base, &client, |s| {
        s["cancelled"] == 1 && s["inflight"] == 0
    })
    .await;
    assert_eq!(s["cancelled"], 1, "{s}");
    assert_eq!(s["inflight"], 0, "{s}");
    assert_eq!(s["completed"], 0, "{s}");
}

#[tokio::test]
async fn client_drop_during_slow_headers_cancels() {
    let (base, client) = start(MockConfig::default()).await;
    let fut = client
        .post(format!("{base}/headers_delay_ms=5000/v1/chat/completions"))
        .json(&chat_body())
        .send();
    let res = tokio::time::timeout(Duration::from_millis(200), fut).await;
    assert!(res.is_err());
    let s = wait_stats(&base, &client, |s| {
        s["cancelled"] == 1 && s["inflight"] == 0
    })
    .await;
    assert_eq!(s["cancelled"], 1, "{s}");
    assert_eq!(s["inflight"], 0, "{s}");
}

#[tokio::test]
async fn delays_apply() {
    let (base, client) = start(MockConfig::default()).await;
    // Non-stream: headers_delay + ttft + tokens * inter_token.
    let t = Instant::now();
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .header("x-mock-ttft-ms", "40")
        .header("x-mock-delay-ms", "5")
        .header("x-mock-tokens", "4")
        .header("x-mock-headers-delay-ms", "10")
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(70));

    // Stream: headers at once, first content after ttft.
    let mut body = chat_body();
    body["stream"] = json!(true);
    body["mock"] = json!({"ttft_ms": 150, "tokens": 1});
    let t = Instant::now();
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let headers_at = t.elapsed();
    let text = resp.text().await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert!(headers_at < Duration::from_millis(150), "{headers_at:?}");
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn recording_on() {
    let (base, client) = start(MockConfig {
        defaults: Behavior::default(),
        record: true,
    })
    .await;
    client
        .post(format!("{base}/dep-a/v1/chat/completions"))
        .header("authorization", "Bearer sk-test")
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    client
        .post(format!("{base}/v1/chat/completions"))
        .body("not json")
        .send()
        .await
        .unwrap();
    let recs: Value = client
        .get(format!("{base}/_mock/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let recs = recs.as_array().unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["method"], "POST");
    assert_eq!(recs[0]["path"], "/dep-a/v1/chat/completions");
    assert_eq!(recs[0]["headers"]["authorization"], "Bearer sk-test");
    assert_eq!(recs[0]["body"], chat_body());
    assert_eq!(recs[1]["body"], "not json");

    client
        .post(format!("{base}/_mock/reset"))
        .send()
        .await
        .unwrap();
    let recs: Value = client
        .get(format!("{base}/_mock/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(recs, json!([]));

    // Only the last 100 are kept.
    for i in 0..105 {
        let mut body = chat_body();
        body["n"] = json!(i);
        client
            .post(format!("{base}/v1/chat/completions"))
            .json(&body)
            .send()
            .await
            .unwrap();
    }
    let recs: Value = client
        .get(format!("{base}/_mock/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let recs = recs.as_array().unwrap();
    assert_eq!(recs.len(), 100);
    assert_eq!(recs[0]["body"]["n"], 5);
    assert_eq!(recs[99]["body"]["n"], 104);
}

#[tokio::test]
async fn recording_off() {
    let (base, client) = start(MockConfig::default()).await;
    client
        .post(format!("{base}/v1/chat/completions"))
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    let recs: Value = client
        .get(format!("{base}/_mock/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(recs, json!([]));
}

async fn post_raw(base: &str, client: &reqwest::Client, path: &str, body: &str) -> (u16, Value) {
    let resp = client
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn request_validation_errors() {
    let (base, client) = start(MockConfig::default()).await;
    let (st, v) = post_raw(&base, &client, "/v1/chat/completions", "{nope").await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["param"], Value::Null);
    assert_eq!(v["error"]["code"], Value::Null);
    assert!(v["error"]["message"].as_str().unwrap().contains("JSON"));

    let (st, v) = post_raw(&base, &client, "/v1/chat/completions", r#"{"messages":[]}"#).await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["param"], "model");

    let (st, v) = post_raw(&base, &client, "/v1/chat/completions", r#"{"model":"m"}"#).await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["param"], "messages");

    let (st, v) = post_raw(
        &base,
        &client,
        "/v1/chat/completions",
        r#"{"model":"m","messages":[{"role":"user","content":"x"}],"mock":{"bogus":1}}"#,
    )
    .await;
    assert_eq!(st, 400);
    assert!(v["error"]["message"].as_str().unwrap().contains("bogus"));

    let (st, v) = post_raw(
        &base,
        &client,
        "/ttft_ms=soon/v1/chat/completions",
        &chat_body().to_string(),
    )
    .await;
    assert_eq!(st, 400);
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("ttft_ms") && msg.contains("soon"), "{msg}");

    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .header("x-mock-whatever", "1")
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("whatever"));
}

#[tokio::test]
async fn models_and_not_found() {
    let (base, client) = start(MockConfig::default()).await;
    let v: Value = client
        .get(format!("{base}/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert!(!v["data"].as_array().unwrap().is_empty());
    assert_eq!(v["data"][0]["object"], "model");

    let resp = client
        .get(format!("{base}/v1/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v1/nothing"));

    let resp = client
        .get(format!("{base}/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[test]
fn behavior_spec_errors() {
    let mut b = Behavior::default();
    assert!(parse_behavior_spec("status=503,retry_after=2,ttft_ms=50", &mut b).is_ok());
    assert_eq!(b.status, Some(503));
    assert_eq!(b.ttft, Duration::from_millis(50));
    let err = parse_behavior_spec("status=503,nope=1", &mut b).unwrap_err();
    assert!(err.contains("nope"), "{err}");
    let err = parse_behavior_spec("delay_ms=fast", &mut b).unwrap_err();
    assert!(err.contains("delay_ms"), "{err}");
    let err = parse_behavior_spec("tokens", &mut b).unwrap_err();
    assert!(err.contains("tokens"), "{err}");
}
