use serde_json::{json, Value};

use crate::common::*;

const PAD: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The model id as a client sends it: `:` percent-encoded.
const MODEL: &str = "us.amazon.nova-micro-v1%3A0";

fn body() -> Value {
    json!({
        "messages": [{"role": "user", "content": [{"text": "Hello there!"}]}],
        "inferenceConfig": {}
    })
}

async fn post(base: &str, client: &reqwest::Client, path: &str, body: &Value) -> reqwest::Response {
    sigv4(client.post(format!("{base}{path}")))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn converse_json() {
    let (base, client) = start().await;
    let resp = post(&base, &client, &format!("/model/{MODEL}/converse"), &body()).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-amzn-requestid"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["output"]["message"],
        json!({"role": "assistant", "content": [{"text": FULL_12}]})
    );
    assert_eq!(v["stopReason"], "end_turn");
    assert_eq!(
        v["usage"],
        json!({"inputTokens": 7, "outputTokens": 12, "totalTokens": 19})
    );
    assert!(v["metrics"]["latencyMs"].is_u64());

    let rec = recorded(&base, &client).await;
    assert_eq!(rec[0]["format"], "bedrock");
    assert_eq!(rec[0]["path"], format!("/model/{MODEL}/converse"));
    assert_eq!(rec[0]["headers"]["x-amz-date"], "20250101T120000Z");
    assert!(rec[0]["headers"]["authorization"]
        .as_str()
        .unwrap()
        .starts_with("AWS4-HMAC-SHA256 "));
    assert_eq!(stats(&base, &client).await["formats"]["bedrock"], 1);
}

#[tokio::test]
async fn converse_stream_frames() {
    let (base, client) = start().await;
    let mut b = body();
    b["mock"] = json!({"tokens": 3, "cached_tokens": 2});
    let resp = post(
        &base,
        &client,
        &format!("/model/{MODEL}/converse-stream"),
        &b,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let frames = frames(&resp.bytes().await.unwrap());
    let types: Vec<&str> = frames.iter().map(|f| f.header(":event-type")).collect();
    assert_eq!(
        types,
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    for f in &frames {
        assert_eq!(f.header(":content-type"), "application/json");
        assert_eq!(f.header(":message-type"), "event");
        let p = f.payload["p"].as_str().unwrap();
        assert!(!p.is_empty() && PAD.starts_with(p), "{p}");
    }
    assert_eq!(frames[0].payload["role"], "assistant");
    let text: String = frames[1..4]
        .iter()
        .map(|f| {
            assert_eq!(f.payload["contentBlockIndex"], 0);
            f.payload["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "Hello from the");
    assert_eq!(frames[4].payload["contentBlockIndex"], 0);
    assert_eq!(frames[5].payload["stopReason"], "end_turn");
    let meta = &frames[6].payload;
    assert_eq!(meta["usage"]["inputTokens"], 5);
    assert_eq!(meta["usage"]["cacheReadInputTokens"], 2);
    assert_eq!(meta["usage"]["outputTokens"], 3);
    assert_eq!(meta["usage"]["totalTokens"], 10);
    assert!(meta["metrics"]["latencyMs"].is_u64());
}

#[tokio::test]
async fn reasoning_then_tool_use_stream() {
    let (base, client) = start().await;
    let mut b = body();
    b["additionalModelRequestFields"] =
        json!({"thinking": {"type": "enabled", "budget_tokens": 1024}});
    b["toolConfig"] = json!({"tools": [{"toolSpec": {"name": "get_temperature", "description": "t",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}]});
    let frames = frames(
        &post(
            &base,
            &client,
            "/model/anthropic.claude-sonnet-4%3A0/converse-stream",
            &b,
        )
        .await
        .bytes()
        .await
        .unwrap(),
    );
    let types: Vec<&str> = frames.iter().map(|f| f.header(":event-type")).collect();
    assert_eq!(types[0], "messageStart");
    // Only the tool use block has a contentBlockStart.
    assert_eq!(
        types.iter().filter(|t| **t == "contentBlockStart").count(),
        1
    );
    let reasoning: String = frames
        .iter()
        .filter_map(|f| f.payload["delta"]["reasoningContent"]["text"].as_str())
        .collect();
    assert_eq!(reasoning, "The user wants a short reply.");
    let sig = frames
        .iter()
        .position(|f| f.payload["delta"]["reasoningContent"]["signature"].is_string())
        .unwrap();
    assert_eq!(frames[sig].payload["contentBlockIndex"], 0);
    assert_eq!(frames[sig + 1].header(":event-type"), "contentBlockStop");
    let start = &frames[sig + 2];
    assert_eq!(start.header(":event-type"), "contentBlockStart");
    assert_eq!(start.payload["contentBlockIndex"], 1);
    assert_eq!(start.payload["start"]["toolUse"]["name"], "get_temperature");
    assert!(start.payload["start"]["toolUse"]["toolUseId"].is_string());
    let inputs: Vec<&str> = frames
        .iter()
        .filter_map(|f| f.payload["delta"]["toolUse"]["input"].as_str())
        .collect();
    assert!(inputs.len() >= 2);
    assert_eq!(
        serde_json::from_str::<Value>(&inputs.concat()).unwrap(),
        json!({"city": "mock"})
    );
    let stop = frames
        .iter()
        .find(|f| f.header(":event-type") == "messageStop")
        .unwrap();
    assert_eq!(stop.payload["stopReason"], "tool_use");

    // Non-stream: reasoningContent, then toolUse.
    let v: Value = post(&base, &client, "/model/m/converse", &b)
        .await
        .json()
        .await
        .unwrap();
    let content = &v["output"]["message"]["content"];
    assert_eq!(
        content[0]["reasoningContent"]["reasoningText"]["text"],
        "The user wants a short reply."
    );
    assert!(content[0]["reasoningContent"]["reasoningText"]["signature"].is_string());
    assert_eq!(content[1]["toolUse"]["name"], "get_temperature");
    assert_eq!(content[1]["toolUse"]["input"], json!({"city": "mock"}));
    assert_eq!(v["stopReason"], "tool_use");

    // The tool result comes back: quoted.
    let mut b = body();
    b["messages"] = json!([
        {"role": "user", "content": [{"text": "temp?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "get_temperature", "input": {"city": "Paris"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "30°C"}], "status": "success"}}]}
    ]);
    b["toolConfig"] = json!({"tools": [{"toolSpec": {"name": "get_temperature", "inputSchema": {"json": {"type": "object"}}}}]});
    let v: Value = post(&base, &client, "/model/m/converse", &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["output"]["message"]["content"][0]["text"],
        "The tool said: \"30°C\""
    );
}

#[tokio::test]
async fn sigv4_is_required() {
    let (base, client) = start().await;
    let resp = client
        .post(format!("{base}/model/{MODEL}/converse"))
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "UnrecognizedClientException"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v, json!({"message": "Missing Authentication Token"}));

    // A bearer token is not a signature.
    let resp = client
        .post(format!("{base}/model/{MODEL}/converse-stream"))
        .bearer_auth("abc")
        .header("x-amz-date", "20250101T120000Z")
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "InvalidSignatureException"
    );
    // The recording still shows what was sent.
    let rec = recorded(&base, &client).await;
    assert_eq!(rec.len(), 2);
    assert_eq!(rec[1]["headers"]["authorization"], "Bearer abc");
}

#[tokio::test]
async fn errors_in_aws_shape() {
    let (base, client) = start().await;
    for (status, kind) in [
        (400, "ValidationException"),
        (403, "AccessDeniedException"),
        (429, "ThrottlingException"),
        (500, "InternalServerException"),
        (503, "ServiceUnavailableException"),
    ] {
        let resp = post(
            &base,
            &client,
            &format!("/status={status}/model/{MODEL}/converse"),
            &body(),
        )
        .await;
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(resp.headers()["x-amzn-errortype"], kind);
        let v: Value = resp.json().await.unwrap();
        assert!(v["message"].is_string(), "{v}");
        assert_eq!(v.as_object().unwrap().len(), 1);
    }
    let resp = post(
        &base,
        &client,
        &format!("/model/{MODEL}/converse"),
        &json!({"messages": []}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-amzn-errortype"], "ValidationException");
}

#[tokio::test]
async fn exception_frame_mid_stream() {
    let (base, client) = start().await;
    let resp = post(
        &base,
        &client,
        &format!("/stream_error=throttlingException,drop_after=1/model/{MODEL}/converse-stream"),
        &body(),
    )
    .await;
    let (bytes, aborted) = read_all(resp).await;
    assert!(!aborted);
    let got = frames(&bytes);
    assert_eq!(got.len(), 3, "messageStart, one delta, the exception");
    let last = got.last().unwrap();
    assert_eq!(last.header(":message-type"), "exception");
    assert_eq!(last.header(":exception-type"), "throttlingException");
    assert_eq!(last.header(":content-type"), "application/json");
    assert!(last.payload["message"].is_string());

    let resp = post(
        &base,
        &client,
        &format!("/stream_error=model_stream_error/model/{MODEL}/converse-stream"),
        &body(),
    )
    .await;
    let frames = frames(&resp.bytes().await.unwrap());
    assert_eq!(
        frames.last().unwrap().header(":exception-type"),
        "modelStreamErrorException"
    );
}
