//! The other client APIs (Anthropic Messages, the Responses API, media) through the
//! attempt loop: errors in each client's shape, in-stream failures in each stream's
//! format, fallback before the first byte, and usage recorded on the native path.
//! (The official SDKs drive the same routes in `tests/e2e`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use switchyard_gateway::observe::Outcome;

const CONFIG: &str = r#"
master_key: sk-master-test
router:
  retries: 0
  allowed_failures: 1000
providers:
  ant: {kind: anthropic, base_url: "http://{mock}", api_key: sk-ant-up}
  ant_overloaded: {kind: anthropic, base_url: "http://{mock}/stream_error=overloaded,drop_after=3", api_key: sk-ant-up}
  ant_529: {kind: anthropic, base_url: "http://{mock}/status=529", api_key: sk-ant-up}
  gem_overloaded: {kind: gemini, base_url: "http://{mock}/stream_error=overloaded,drop_after=3", api_key: gem-up}
  oai: {kind: openai_compatible, base_url: "http://{mock}/v1", api_key: sk-up}
  oai_500: {kind: openai_compatible, base_url: "http://{mock}/status=500/v1", api_key: sk-up}
models:
  - name: claude
    deployments: [{provider: ant, model: claude-x}]
  - name: flaky
    deployments: [{provider: ant_529, model: claude-x}]
    fallbacks: [{model: claude, on: [server_error]}]
  - name: embed-flaky
    deployments: [{provider: oai_500, model: text-embedding-3-small}]
    fallbacks: [{model: embed, on: [server_error]}]
  - name: embed
    deployments: [{provider: oai, model: text-embedding-3-small}]
"#;

fn messages_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": "Say hello"}],
    })
}

async fn post(h: &Harness, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(h.url(path))
        .header("x-api-key", "sk-master-test")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `(event name, data JSON)` of each SSE event.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or("")
                .to_string();
            let data = e
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .map(|d| serde_json::from_str(d).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            (name, data)
        })
        .collect()
}

async fn record_of(h: &Harness, rid: &str) -> Record {
    h.eventually(&format!("record of {rid}"), || {
        h.records().iter().any(|r| r.request_id == rid)
    })
    .await;
    h.records()
        .into_iter()
        .find(|r| r.request_id == rid)
        .unwrap()
}

fn rid(resp: &reqwest::Response) -> String {
    resp.headers()["x-request-id"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn messages_errors_have_anthropics_shape() {
    let h = start(CONFIG).await;
    // Invalid body: max_tokens is required by the Messages API.
    let resp = post(
        &h,
        "/v1/messages",
        &json!({"model": "claude", "messages": [user("hi")]}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens"),
        "{v}"
    );
    assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
    // Unknown model.
    let resp = post(&h, "/v1/messages", &messages_body("nope", false)).await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "not_found_error");
    // Bad key.
    let resp = reqwest::Client::new()
        .post(h.url("/v1/messages"))
        .header("x-api-key", "wrong")
        .json(&messages_body("claude", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
}

#[tokio::test]
async fn native_messages_record_usage_streamed_and_not() {
    let h = start(CONFIG).await;
    let resp = post(&h, "/v1/messages", &messages_body("claude", false)).await;
    assert_eq!(resp.status(), 200);
    let id = rid(&resp);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["model"], "claude-x");
    let r = record_of(&h, &id).await;
    assert_eq!(r.usage.unwrap().completion_tokens, 12);
    assert_eq!(r.deployment, "ant/claude-x");

    let resp = post(&h, "/v1/messages", &messages_body("claude", true)).await;
    let id = rid(&resp);
    let body = resp.text().await.unwrap();
    let names: Vec<String> = events(&body).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    // Forwarded as the provider sent them: its pings too.
    assert!(names.iter().any(|n| n == "ping"), "{names:?}");
    let r = record_of(&h, &id).await;
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(r.usage.unwrap().completion_tokens, 12);
    assert!(r.ttft.is_some());
}

#[tokio::test]
async fn midstream_failures_end_in_the_clients_format() {
    let h = start(CONFIG).await;
    // Native Anthropic stream, and a Gemini stream translated to Anthropic events.
    for model in ["ant_overloaded/claude-x", "gem_overloaded/gemini-x"] {
        let resp = post(&h, "/v1/messages", &messages_body(model, true)).await;
        assert_eq!(resp.status(), 200, "{model}");
        let id = rid(&resp);
        let evs = events(&resp.text().await.unwrap());
        let (name, data) = evs.last().unwrap();
        assert_eq!(name, "error", "{model}: {evs:?}");
        assert_eq!(data["type"], "error");
        assert!(data["error"]["type"].as_str().is_some(), "{data}");
        assert!(
            evs.iter().any(|(n, _)| n == "content_block_delta"),
            "{model}"
        );
        assert_eq!(record_of(&h, &id).await.outcome, Outcome::StreamError);
    }
    // The Responses API: an `error` event, then `response.failed`.
    let resp = post(
        &h,
        "/v1/responses",
        &json!({"model": "gem_overloaded/gemini-x", "input": "Say hello", "stream": true}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let evs = events(&resp.text().await.unwrap());
    let types: Vec<&str> = evs.iter().filter_map(|(_, d)| d["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"response.created"));
    assert_eq!(
        &types[types.len() - 2..],
        ["error", "response.failed"],
        "{types:?}"
    );
}

#[tokio::test]
async fn fallback_before_the_first_byte_on_every_route() {
    let h = start(CONFIG).await;
    for stream in [false, true] {
        let resp = post(&h, "/v1/messages", &messages_body("flaky", stream)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-switchyard-fallback"], "claude");
        let body = resp.text().await.unwrap();
        let done = if stream {
            "message_stop"
        } else {
            "Hello from the Switchyard mock"
        };
        assert!(body.contains(done), "{body}");
    }
    let resp = post(
        &h,
        "/v1/responses",
        &json!({"model": "flaky", "input": "Say hello", "stream": true}),
    )
    .await;
    assert_eq!(resp.headers()["x-switchyard-fallback"], "claude");
    assert!(resp.text().await.unwrap().contains("response.completed"));
    let resp = reqwest::Client::new()
        .post(h.url("/v1/embeddings"))
        .bearer_auth("sk-master-test")
        .json(&json!({"model": "embed-flaky", "input": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-fallback"], "embed");
    assert_eq!(resp.headers()["x-switchyard-attempts"], "2");
}

#[tokio::test]
async fn stored_responses_belong_to_their_key() {
    let dir = std::env::temp_dir().join(format!("sy-surfaces-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let store =
        switchyard_store::Store::connect(&format!("sqlite://{}", dir.join("s.db").display()))
            .await
            .unwrap();
    store.migrate().await.unwrap();
    let h = start_with_store(CONFIG, Some(store.clone())).await;
    let master = post(
        &h,
        "/v1/responses",
        &json!({"model": "claude", "input": "Say hello"}),
    )
    .await;
    let id = master.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let created: Value = reqwest::Client::new()
        .post(h.url("/admin/keys"))
        .bearer_auth("sk-master-test")
        .json(&json!({"name": "other"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap();
    // Another key can neither read nor continue it.
    let get = reqwest::Client::new()
        .get(h.url(&format!("/v1/responses/{id}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 404);
    let cont = reqwest::Client::new()
        .post(h.url("/v1/responses"))
        .bearer_auth(key)
        .json(&json!({"model": "claude", "input": "again", "previous_response_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(cont.status(), 404);
    let v: Value = cont.json().await.unwrap();
    assert_eq!(v["error"]["param"], "previous_response_id");
    // The master key can.
    let get = reqwest::Client::new()
        .get(h.url(&format!("/v1/responses/{id}")))
        .bearer_auth("sk-master-test")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    // Kept in the database, for the other replicas.
    assert!(store.get_response(&id, 0).await.unwrap().is_some());
    let _ = std::fs::remove_dir_all(dir);
}
