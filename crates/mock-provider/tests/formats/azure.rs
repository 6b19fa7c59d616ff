use serde_json::{json, Value};

use crate::common::*;

const PATH: &str = "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21";

fn body() -> Value {
    json!({"messages": [{"role": "user", "content": "Hello there!"}]})
}

async fn post(base: &str, client: &reqwest::Client, path: &str, body: &Value) -> reqwest::Response {
    client
        .post(format!("{base}{path}"))
        .header("api-key", "azure-key")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn chat_json() {
    let (base, client) = start().await;
    let mut b = body();
    b["model"] = json!("ignored");
    let resp = post(&base, &client, PATH, &b).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("apim-request-id"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "my-gpt4o", "the deployment's model");
    let choice = &v["choices"][0];
    assert_eq!(choice["message"]["content"], FULL_12);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        choice["content_filter_results"]["hate"],
        json!({"filtered": false, "severity": "safe"})
    );
    assert_eq!(v["prompt_filter_results"][0]["prompt_index"], 0);
    assert_eq!(
        v["prompt_filter_results"][0]["content_filter_results"]["jailbreak"],
        json!({"filtered": false, "detected": false})
    );
    assert_eq!(v["usage"]["prompt_tokens"], 7);

    let rec = recorded(&base, &client).await;
    assert_eq!(rec[0]["format"], "azure");
    assert_eq!(rec[0]["query"], "api-version=2024-10-21");
    assert_eq!(rec[0]["headers"]["api-key"], "azure-key");
    assert_eq!(stats(&base, &client).await["formats"]["azure"], 1);
}

#[tokio::test]
async fn chat_stream_starts_with_the_empty_chunk() {
    let (base, client) = start().await;
    let mut b = body();
    b["stream"] = json!(true);
    b["stream_options"] = json!({"include_usage": true});
    b["mock"] = json!({"tokens": 2});
    let text = post(&base, &client, PATH, &b).await.text().await.unwrap();
    let events = data_events(&text);
    assert_eq!(*events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    // Empty first chunk, role, 2 tokens, finish, usage.
    assert_eq!(chunks.len(), 6);
    let first = &chunks[0];
    assert_eq!(first["choices"], json!([]));
    assert_eq!(first["id"], "");
    assert_eq!(first["model"], "");
    assert_eq!(first["created"], 0);
    assert_eq!(first["object"], "");
    assert!(first["prompt_filter_results"].is_array());
    assert_eq!(chunks[1]["choices"][0]["content_filter_results"], json!({}));
    assert_eq!(chunks[1]["choices"][0]["delta"]["role"], "assistant");
    for c in &chunks[2..4] {
        assert_eq!(c["model"], "my-gpt4o");
        assert_eq!(
            c["choices"][0]["content_filter_results"]["violence"]["filtered"],
            false
        );
    }
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[5]["usage"]["completion_tokens"], 2);
}

#[tokio::test]
async fn api_version_and_key_are_required() {
    let (base, client) = start().await;
    let resp = post(
        &base,
        &client,
        "/openai/deployments/d/chat/completions",
        &body(),
    )
    .await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": {"code": "404", "message": "Resource not found"}})
    );
    let resp = post(
        &base,
        &client,
        "/openai/deployments/d/chat/completions?api-version=latest",
        &body(),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["message"], "API version not supported");

    let resp = client
        .post(format!("{base}{PATH}"))
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "401");
    // Entra ID tokens work as well as keys.
    let resp = client
        .post(format!("{base}{PATH}"))
        .bearer_auth("entra-token")
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn content_filter_and_rate_limit() {
    let (base, client) = start().await;
    let resp = post(
        &base,
        &client,
        &format!("/content_filter=prompt{PATH}"),
        &body(),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "content_filter");
    assert_eq!(v["error"]["param"], "prompt");
    assert_eq!(v["error"]["status"], 400);
    assert_eq!(
        v["error"]["innererror"]["code"],
        "ResponsibleAIPolicyViolation"
    );
    assert_eq!(
        v["error"]["innererror"]["content_filter_result"]["sexual"]["filtered"],
        true
    );

    let v: Value = post(
        &base,
        &client,
        &format!("/content_filter=response{PATH}"),
        &body(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(
        v["choices"][0]["content_filter_results"]["sexual"],
        json!({"filtered": true, "severity": "high"})
    );
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from the Switchyard mock provider"
    );

    let mut b = body();
    b["stream"] = json!(true);
    let text = post(
        &base,
        &client,
        &format!("/content_filter=response{PATH}"),
        &b,
    )
    .await
    .text()
    .await
    .unwrap();
    let events = data_events(&text);
    let fin: Value = serde_json::from_str(events[events.len() - 2]).unwrap();
    assert_eq!(fin["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(
        fin["choices"][0]["content_filter_results"]["sexual"]["filtered"],
        true
    );

    let resp = post(
        &base,
        &client,
        &format!("/status=429,retry_after=2{PATH}"),
        &body(),
    )
    .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "2");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 2 seconds."}})
    );
    // Other statuses are relayed in OpenAI's shape.
    let resp = post(&base, &client, &format!("/status=500{PATH}"), &body()).await;
    assert_eq!(resp.status(), 500);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "server_error");
}
