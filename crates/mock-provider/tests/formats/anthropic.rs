use serde_json::{json, Value};

use crate::common::*;

fn body() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "Hello there!"}]})
}

async fn post(base: &str, client: &reqwest::Client, path: &str, body: &Value) -> reqwest::Response {
    client
        .post(format!("{base}{path}"))
        .header("x-api-key", "sk-ant-test")
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn message_json() {
    let (base, client) = start().await;
    let resp = post(&base, &client, "/v1/messages", &body()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert_eq!(v["content"], json!([{"type": "text", "text": FULL_12}]));
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["stop_sequence"], Value::Null);
    assert_eq!(v["usage"]["input_tokens"], 7);
    assert_eq!(v["usage"]["output_tokens"], 12);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 0);
    assert_eq!(v["usage"]["cache_creation_input_tokens"], 0);

    let s = stats(&base, &client).await;
    assert_eq!(s["formats"]["anthropic"], 1);
    assert_eq!(s["completed"], 1);
    let rec = recorded(&base, &client).await;
    assert_eq!(rec[0]["format"], "anthropic");
    assert_eq!(rec[0]["headers"]["x-api-key"], "sk-ant-test");
    assert_eq!(rec[0]["headers"]["anthropic-version"], "2023-06-01");
    assert_eq!(rec[0]["body"], body());
}

#[tokio::test]
async fn message_stream() {
    let (base, client) = start().await;
    let mut b = body();
    b["stream"] = json!(true);
    let resp = post(&base, &client, "/v1/messages", &b).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    // The ping is sent byte for byte as Anthropic does.
    assert!(text.contains("event: ping\ndata: {\"type\": \"ping\"}\n\n"));
    let events = named_events(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(["content_block_delta"; 12]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);

    let start = &events[0].1["message"];
    assert!(start["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(start["model"], "claude-sonnet-4-5");
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["usage"]["input_tokens"], 7);
    assert_eq!(
        events[1].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = events[3..15]
        .iter()
        .map(|(_, e)| {
            assert_eq!(e["delta"]["type"], "text_delta");
            e["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, FULL_12);
    let delta = &events[16].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 12);
    assert_eq!(delta["usage"]["input_tokens"], 7);
    assert_eq!(delta["usage"]["cache_read_input_tokens"], 0);
}

#[tokio::test]
async fn thinking_then_tool_use_stream() {
    let (base, client) = start().await;
    let mut b = body();
    b["stream"] = json!(true);
    b["thinking"] = json!({"type": "enabled", "budget_tokens": 512});
    b["tools"] = json!([{"name": "get_weather", "description": "w", "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "units": {"type": "string", "enum": ["c", "f"]}, "days": {"type": "integer"}},
        "required": ["location", "units", "days"]
    }}]);
    let text = post(&base, &client, "/v1/messages", &b)
        .await
        .text()
        .await
        .unwrap();
    let events = named_events(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    // Thinking block: start, ping, 7 thinking deltas, signature, stop; then a ping between blocks.
    assert_eq!(
        &names[..4],
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta"
        ]
    );
    assert_eq!(
        events[1].1["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    let thinking: String = events
        .iter()
        .filter(|(_, e)| e["delta"]["type"] == "thinking_delta")
        .map(|(_, e)| e["delta"]["thinking"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(thinking, "The user wants a short reply.");
    let sig = events
        .iter()
        .position(|(_, e)| e["delta"]["type"] == "signature_delta")
        .unwrap();
    assert_eq!(events[sig + 1].0, "content_block_stop");
    assert_eq!(events[sig + 1].1["index"], 0);
    assert_eq!(events[sig + 2].0, "ping");
    let tool_start = &events[sig + 3].1;
    assert_eq!(tool_start["index"], 1);
    assert_eq!(tool_start["content_block"]["type"], "tool_use");
    assert_eq!(tool_start["content_block"]["name"], "get_weather");
    assert!(tool_start["content_block"]["id"]
        .as_str()
        .unwrap()
        .starts_with("toolu_"));
    assert_eq!(tool_start["content_block"]["input"], json!({}));
    let fragments: Vec<String> = events
        .iter()
        .filter(|(_, e)| e["delta"]["type"] == "input_json_delta")
        .map(|(_, e)| e["delta"]["partial_json"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fragments[0], "", "the first input_json_delta is empty");
    assert!(fragments.len() >= 3, "{fragments:?}");
    let args: Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(args, json!({"location": "mock", "units": "c", "days": 1}));
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    // 7 thinking tokens + the argument fragments (the empty first one is framing).
    assert_eq!(
        delta["usage"]["output_tokens"],
        7 + fragments.len() as u64 - 1
    );
}

#[tokio::test]
async fn forced_tool_json_and_tool_result_round_trip() {
    let (base, client) = start().await;
    let mut b = body();
    b["tools"] = json!([
        {"name": "other", "input_schema": {"type": "object"}},
        {"name": "record_summary", "input_schema": {"type": "object", "properties": {"title": {"type": "string"}, "ok": {"type": "boolean"}}, "required": ["title", "ok"]}}
    ]);
    b["tool_choice"] = json!({"type": "tool", "name": "record_summary"});
    let v: Value = post(&base, &client, "/v1/messages", &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["stop_reason"], "tool_use");
    let block = &v["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert_eq!(block["name"], "record_summary");
    assert_eq!(block["input"], json!({"title": "mock", "ok": true}));
    let id = block["id"].as_str().unwrap().to_owned();

    // The client answers the call: the reply quotes the result.
    b["messages"] = json!([
        {"role": "user", "content": "Summarize"},
        {"role": "assistant", "content": [block.clone()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "It is 20°C in Paris."}]}
    ]);
    let v: Value = post(&base, &client, "/v1/messages", &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(
        v["content"][0]["text"],
        "The tool said: \"It is 20°C in Paris.\""
    );

    // tool_choice none: plain text.
    b["messages"] = body()["messages"].clone();
    b["tool_choice"] = json!({"type": "none"});
    let v: Value = post(&base, &client, "/v1/messages", &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["content"][0]["text"], FULL_12);
}

#[tokio::test]
async fn thinking_json_images_cache() {
    let (base, client) = start().await;
    let mut b = body();
    b["thinking"] = json!({"type": "enabled", "budget_tokens": 512});
    b["messages"] = json!([{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "text", "text": "What is this?"}
    ]}]);
    b["mock"] = json!({"cached_tokens": 3, "tokens": 2});
    let v: Value = post(&base, &client, "/v1/messages", &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["content"][0]["type"], "thinking");
    assert_eq!(v["content"][0]["thinking"], "The user wants a short reply.");
    assert!(!v["content"][0]["signature"].as_str().unwrap().is_empty());
    assert_eq!(v["content"][1]["text"], "I see 1 image. Hello from");
    // 1 message * 4 + ceil(13 / 4) = 8 prompt tokens, 3 of them cached.
    assert_eq!(v["usage"]["input_tokens"], 5);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 3);
    assert_eq!(v["usage"]["output_tokens"], 7 + 4 + 2);

    let mut b = body();
    b["output_config"] = json!({"format": {"type": "json_schema", "schema": {"type": "object", "properties": {"ids": {"type": "array", "items": {"type": "integer"}}}, "required": ["ids"]}}});
    let v: Value = post(&base, &client, "/v1/messages", &b)
        .await
        .json()
        .await
        .unwrap();
    let text: Value = serde_json::from_str(v["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, json!({"ids": []}));
}

#[tokio::test]
async fn errors_in_anthropic_shape() {
    let (base, client) = start().await;
    for (status, kind, retry) in [
        (400, "invalid_request_error", "false"),
        (401, "authentication_error", "false"),
        (403, "permission_error", "false"),
        (404, "not_found_error", "false"),
        (429, "rate_limit_error", "true"),
        (500, "api_error", "true"),
        (529, "overloaded_error", "true"),
    ] {
        let resp = post(
            &base,
            &client,
            &format!("/status={status},retry_after=3/v1/messages"),
            &body(),
        )
        .await;
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(resp.headers()["x-should-retry"], retry);
        assert_eq!(resp.headers()["retry-after"], "3");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], kind, "{status}");
        assert!(v["error"]["message"].is_string());
    }
    let resp = post(&base, &client, "/status=529/v1/messages", &body()).await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["message"], "Overloaded");

    // Request validation, after fault injection.
    let mut b = body();
    b.as_object_mut().unwrap().remove("max_tokens");
    let resp = post(&base, &client, "/v1/messages", &b).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens"));
    let resp = client
        .post(format!("{base}/v1/messages"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    // Bad knobs are invalid requests too.
    let resp = post(&base, &client, "/ttft_ms=soon/v1/messages", &body()).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("ttft_ms"));
}

#[tokio::test]
async fn mid_stream_error_event() {
    let (base, client) = start().await;
    let mut b = body();
    b["stream"] = json!(true);
    let resp = post(
        &base,
        &client,
        "/stream_error=overloaded_error,drop_after=2/v1/messages",
        &b,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (bytes, aborted) = read_all(resp).await;
    assert!(!aborted, "the error event ends the stream cleanly");
    let events = named_events(std::str::from_utf8(&bytes).unwrap());
    let deltas = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .count();
    assert_eq!(deltas, 2);
    let (name, err) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(
        *err,
        json!({"type": "error", "error": {"details": null, "type": "overloaded_error", "message": "Overloaded"}})
    );
    assert!(!events.iter().any(|(n, _)| n == "message_stop"));
    let s = wait_stats(&base, &client, |s| s["inflight"] == 0).await;
    assert_eq!(s["aborted"], 1);

    // Other kinds and a custom message.
    let resp = post(
        &base,
        &client,
        "/stream_error=rate_limit,error_message=slow%20down/v1/messages",
        &b,
    )
    .await;
    let events = named_events(&resp.text().await.unwrap());
    assert_eq!(events.len(), 2, "message_start then the error");
    assert_eq!(events[1].1["error"]["type"], "rate_limit_error");
    assert_eq!(events[1].1["error"]["message"], "slow down");
}
