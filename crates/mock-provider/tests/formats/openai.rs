//! OpenAI behaviours beyond the plain reply (which `tests/api.rs` covers).

use serde_json::{json, Value};

use crate::common::*;

fn body() -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there!"}]})
}

fn weather_tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"], "additionalProperties": false}}}])
}

async fn post(base: &str, client: &reqwest::Client, path: &str, body: &Value) -> reqwest::Response {
    client
        .post(format!("{base}{path}"))
        .bearer_auth("sk-test")
        .json(body)
        .send()
        .await
        .unwrap()
}

fn chunks(text: &str) -> Vec<Value> {
    let events = data_events(text);
    assert_eq!(*events.last().unwrap(), "[DONE]");
    events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

#[tokio::test]
async fn tool_call_json_and_stream() {
    let (base, client) = start().await;
    let mut b = body();
    b["tools"] = weather_tools();
    let v: Value = post(&base, &client, "/v1/chat/completions", &b)
        .await
        .json()
        .await
        .unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "mock", "days": 1}));

    b["stream"] = json!(true);
    let chunks = chunks(
        &post(&base, &client, "/v1/chat/completions", &b)
            .await
            .text()
            .await
            .unwrap(),
    );
    // Role, the call header, the argument fragments, finish.
    let head = &chunks[1]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(head["index"], 0);
    assert!(head["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(head["type"], "function");
    assert_eq!(
        head["function"],
        json!({"name": "get_weather", "arguments": ""})
    );
    let fragments: Vec<&str> = chunks[2..chunks.len() - 1]
        .iter()
        .map(|c| {
            let tc = &c["choices"][0]["delta"]["tool_calls"][0];
            assert_eq!(tc["index"], 0);
            assert!(tc.get("id").is_none());
            tc["function"]["arguments"].as_str().unwrap()
        })
        .collect();
    assert!(fragments.len() >= 2);
    assert_eq!(
        serde_json::from_str::<Value>(&fragments.concat()).unwrap(),
        args
    );
    let fin = chunks.last().unwrap();
    assert_eq!(fin["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(fin["choices"][0]["delta"], json!({}));

    // A forced tool is called even when listed second; "none" answers text.
    let mut b = body();
    b["tools"] = json!([
        {"type": "function", "function": {"name": "first", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "second", "parameters": {"type": "object"}}}
    ]);
    b["tool_choice"] = json!({"type": "function", "function": {"name": "second"}});
    let v: Value = post(&base, &client, "/v1/chat/completions", &b)
        .await
        .json()
        .await
        .unwrap();
    let call = &v["choices"][0]["message"]["tool_calls"][0]["function"];
    assert_eq!(call["name"], "second");
    assert_eq!(call["arguments"], "{}");
    b["tool_choice"] = json!("none");
    let v: Value = post(&base, &client, "/v1/chat/completions", &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], FULL_12);
}

#[tokio::test]
async fn tool_result_round_trip() {
    let (base, client) = start().await;
    let mut b = body();
    b["tools"] = weather_tools();
    b["messages"] = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"days\":1}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 24°C"}
    ]);
    let v: Value = post(&base, &client, "/v1/chat/completions", &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "The tool said: \"Sunny, 24°C\""
    );
    assert_eq!(v["usage"]["completion_tokens"], 5);
}

#[tokio::test]
async fn json_output_and_reasoning() {
    let (base, client) = start().await;
    let mut b = body();
    b["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "answer", "strict": true, "schema": {
        "type": "object", "properties": {"answer": {"type": "string"}, "confident": {"type": "boolean"}},
        "required": ["answer", "confident"], "additionalProperties": false}}});
    let v: Value = post(&base, &client, "/v1/chat/completions", &b)
        .await
        .json()
        .await
        .unwrap();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(content).unwrap(),
        json!({"answer": "mock", "confident": true})
    );
    b["response_format"] = json!({"type": "json_object"});
    let v: Value = post(&base, &client, "/v1/chat/completions", &b)
        .await
        .json()
        .await
        .unwrap();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(serde_json::from_str::<Value>(content).unwrap().is_object());

    let mut b = body();
    b["reasoning_effort"] = json!("low");
    let v: Value = post(&base, &client, "/v1/chat/completions", &b)
        .await
        .json()
        .await
        .unwrap();
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["reasoning_content"], "The user wants a short reply.");
    assert_eq!(msg["content"], FULL_12);
    assert_eq!(v["usage"]["completion_tokens"], 19);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        7
    );

    b["stream"] = json!(true);
    b["stream_options"] = json!({"include_usage": true});
    let chunks = chunks(
        &post(&base, &client, "/v1/chat/completions", &b)
            .await
            .text()
            .await
            .unwrap(),
    );
    let reasoning: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["reasoning_content"].as_str())
        .collect();
    assert_eq!(reasoning, "The user wants a short reply.");
    let first_content = chunks
        .iter()
        .position(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        })
        .unwrap();
    let last_reasoning = chunks
        .iter()
        .rposition(|c| c["choices"][0]["delta"]["reasoning_content"].is_string())
        .unwrap();
    assert!(last_reasoning < first_content);
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 7);
}

#[tokio::test]
async fn stream_error_and_cached_tokens() {
    let (base, client) = start().await;
    let mut b = body();
    b["stream"] = json!(true);
    let resp = post(
        &base,
        &client,
        "/stream_error=server_error,drop_after=3/v1/chat/completions",
        &b,
    )
    .await;
    let (bytes, aborted) = read_all(resp).await;
    assert!(!aborted);
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains("[DONE]"));
    let events = data_events(&text);
    // Role chunk, 3 tokens, the error.
    assert_eq!(events.len(), 5);
    let err: Value = serde_json::from_str(events[4]).unwrap();
    assert_eq!(err["error"]["type"], "server_error");
    assert!(err["error"]["message"].is_string());

    let mut b = body();
    b["mock"] = json!({"cached_tokens": 4});
    let v: Value = post(&base, &client, "/v1/chat/completions", &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], 7);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 4);

    let rec = recorded(&base, &client).await;
    assert_eq!(rec[0]["format"], "openai");
    assert_eq!(rec[0]["query"], Value::Null);
    assert_eq!(rec[0]["headers"]["authorization"], "Bearer sk-test");
    let s = stats(&base, &client).await;
    assert_eq!(s["formats"]["openai"], 2);
    assert_eq!(s["aborted"], 1);
}
