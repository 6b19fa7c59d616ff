use serde_json::{json, Value};

use crate::common::*;

const MODEL_PATH: &str = "/v1beta/models/gemini-2.0-flash";
const VERTEX_PATH: &str =
    "/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-pro";

fn body() -> Value {
    json!({
        "contents": [{"role": "user", "parts": [{"text": "Hello there!"}]}],
        "generationConfig": {"temperature": 0.0}
    })
}

async fn post(base: &str, client: &reqwest::Client, path: &str, body: &Value) -> reqwest::Response {
    client
        .post(format!("{base}{path}"))
        .header("x-goog-api-key", "AIza-test")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn generate_content_json() {
    let (base, client) = start().await;
    let resp = post(
        &base,
        &client,
        &format!("{MODEL_PATH}:generateContent?key=AIza-query"),
        &body(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let c = &v["candidates"][0];
    assert_eq!(c["content"]["role"], "model");
    assert_eq!(c["content"]["parts"], json!([{"text": FULL_12}]));
    assert_eq!(c["finishReason"], "STOP");
    assert_eq!(c["index"], 0);
    let u = &v["usageMetadata"];
    assert_eq!(u["promptTokenCount"], 7);
    assert_eq!(u["candidatesTokenCount"], 12);
    assert_eq!(u["totalTokenCount"], 19);
    assert!(u.get("thoughtsTokenCount").is_none());
    assert_eq!(v["modelVersion"], "gemini-2.0-flash");
    assert!(v["responseId"].is_string());

    let rec = recorded(&base, &client).await;
    assert_eq!(rec[0]["format"], "gemini");
    assert_eq!(rec[0]["query"], "key=AIza-query");
    assert_eq!(rec[0]["headers"]["x-goog-api-key"], "AIza-test");
    assert_eq!(stats(&base, &client).await["formats"]["gemini"], 1);
}

#[tokio::test]
async fn stream_sse_crlf() {
    let (base, client) = start().await;
    let mut b = body();
    b["mock"] = json!({"tokens": 3});
    let resp = post(
        &base,
        &client,
        &format!("{MODEL_PATH}:streamGenerateContent?alt=sse"),
        &b,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["content-disposition"], "attachment");
    let chunks = crlf_events(&resp.text().await.unwrap());
    assert_eq!(chunks.len(), 3);
    let mut text = String::new();
    for (i, c) in chunks.iter().enumerate() {
        let cand = &c["candidates"][0];
        text.push_str(cand["content"]["parts"][0]["text"].as_str().unwrap());
        assert_eq!(cand["content"]["role"], "model");
        assert_eq!(c["usageMetadata"]["promptTokenCount"], 7);
        assert_eq!(c["usageMetadata"]["candidatesTokenCount"], i as u64 + 1);
        assert_eq!(c["modelVersion"], "gemini-2.0-flash");
        assert_eq!(c["responseId"], chunks[0]["responseId"]);
        if i < 2 {
            assert!(cand.get("finishReason").is_none(), "{c}");
        }
    }
    assert_eq!(text, "Hello from the");
    assert_eq!(chunks[2]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(chunks[2]["usageMetadata"]["totalTokenCount"], 10);

    // Without alt=sse the stream is one JSON array of the same chunks.
    let resp = post(
        &base,
        &client,
        &format!("{MODEL_PATH}:streamGenerateContent"),
        &b,
    )
    .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(v[2]["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn thinking_function_call_json() {
    let (base, client) = start().await;
    let mut b = body();
    b["generationConfig"] =
        json!({"thinkingConfig": {"includeThoughts": true, "thinkingBudget": 1024}});
    let v: Value = post(&base, &client, &format!("{MODEL_PATH}:generateContent"), &b)
        .await
        .json()
        .await
        .unwrap();
    let parts = &v["candidates"][0]["content"]["parts"];
    assert_eq!(
        parts[0],
        json!({"text": "The user wants a short reply.", "thought": true})
    );
    assert_eq!(parts[1]["text"], FULL_12);
    assert!(parts[1]["thoughtSignature"].is_string());
    assert_eq!(v["usageMetadata"]["thoughtsTokenCount"], 7);
    assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 12);
    assert_eq!(v["usageMetadata"]["totalTokenCount"], 7 + 12 + 7);

    // Thinking without includeThoughts: counted, not shown.
    b["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": 1024}});
    b["stream"] = json!(true);
    let text = post(
        &base,
        &client,
        &format!("{MODEL_PATH}:streamGenerateContent?alt=sse"),
        &b,
    )
    .await
    .text()
    .await
    .unwrap();
    let chunks = crlf_events(&text);
    assert_eq!(chunks.len(), 12);
    assert!(chunks[0]["candidates"][0]["content"]["parts"][0]["thoughtSignature"].is_string());
    assert!(chunks[1]["candidates"][0]["content"]["parts"][0]
        .get("thoughtSignature")
        .is_none());
    assert_eq!(chunks[11]["usageMetadata"]["thoughtsTokenCount"], 7);

    // Function call: whole, in one chunk, finish STOP.
    let mut b = body();
    b["tools"] = json!([{"functionDeclarations": [{"name": "get_capital", "description": "d",
        "parameters": {"type": "OBJECT", "properties": {"country": {"type": "STRING"}}, "required": ["country"]}}]}]);
    let chunks = crlf_events(
        &post(
            &base,
            &client,
            &format!("{MODEL_PATH}:streamGenerateContent?alt=sse"),
            &b,
        )
        .await
        .text()
        .await
        .unwrap(),
    );
    assert_eq!(chunks.len(), 1);
    let cand = &chunks[0]["candidates"][0];
    assert_eq!(
        cand["content"]["parts"][0]["functionCall"],
        json!({"name": "get_capital", "args": {"country": "mock"}})
    );
    assert_eq!(cand["finishReason"], "STOP");

    // Its result comes back: the reply quotes it.
    b["contents"] = json!([
        {"role": "user", "parts": [{"text": "Capital of France?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_capital", "args": {"country": "France"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_capital", "response": {"return_value": "Paris"}}}]}
    ]);
    let v: Value = post(&base, &client, &format!("{MODEL_PATH}:generateContent"), &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "The tool said: \"Paris\""
    );

    // JSON output.
    let mut b = body();
    b["generationConfig"] = json!({"responseMimeType": "application/json", "responseSchema": {
        "type": "OBJECT", "properties": {"answer": {"type": "STRING"}, "score": {"type": "NUMBER"}}, "required": ["answer", "score"]}});
    let v: Value = post(&base, &client, &format!("{MODEL_PATH}:generateContent"), &b)
        .await
        .json()
        .await
        .unwrap();
    let text = v["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap(),
        json!({"answer": "mock", "score": 1})
    );

    // Images and max tokens.
    let mut b = body();
    b["contents"][0]["parts"] =
        json!([{"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}}, {"text": "what?"}]);
    b["generationConfig"] = json!({"maxOutputTokens": 6});
    let v: Value = post(&base, &client, &format!("{MODEL_PATH}:generateContent"), &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "I see 1 image. Hello from"
    );
    assert_eq!(v["candidates"][0]["finishReason"], "MAX_TOKENS");
}

#[tokio::test]
async fn errors_in_google_shape() {
    let (base, client) = start().await;
    let resp = post(
        &base,
        &client,
        &format!("/status=429,retry_after=2{MODEL_PATH}:generateContent"),
        &body(),
    )
    .await;
    assert_eq!(resp.status(), 429);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 429);
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    let retry = v["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo")
        .unwrap();
    assert_eq!(retry["retryDelay"], "2s");

    for (status, name) in [
        (400, "INVALID_ARGUMENT"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
    ] {
        let resp = post(
            &base,
            &client,
            &format!("/status={status}{MODEL_PATH}:streamGenerateContent?alt=sse"),
            &body(),
        )
        .await;
        assert_eq!(resp.status().as_u16(), status);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], status);
        assert_eq!(v["error"]["status"], name);
        assert!(v["error"]["message"].is_string());
    }

    // Validation.
    let resp = post(
        &base,
        &client,
        &format!("{MODEL_PATH}:generateContent"),
        &json!({}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    let resp = post(
        &base,
        &client,
        &format!("{MODEL_PATH}:countTokens"),
        &body(),
    )
    .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn mid_stream_error_is_bare_json() {
    let (base, client) = start().await;
    let resp = post(
        &base,
        &client,
        &format!("/stream_error=overloaded,drop_after=1{MODEL_PATH}:streamGenerateContent?alt=sse"),
        &body(),
    )
    .await;
    let text = resp.text().await.unwrap();
    let (events, error) = text.split_at(text.find("\r\n\r\n").unwrap() + 4);
    assert_eq!(crlf_events(events).len(), 1);
    assert!(error.starts_with("{\n"), "{error:?}");
    let v: Value = serde_json::from_str(error).unwrap();
    assert_eq!(
        v,
        json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}})
    );
}

#[tokio::test]
async fn vertex_requires_a_minted_token() {
    let (base, client) = start().await;
    let url = format!("{base}{VERTEX_PATH}:generateContent");
    let resp = client.post(&url).json(&body()).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 401);
    assert_eq!(v["error"]["status"], "UNAUTHENTICATED");
    let resp = client
        .post(&url)
        .bearer_auth("ya29.forged")
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client
        .post(&url)
        .bearer_auth("ya29.mock-1")
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "not issued yet");

    let token = vertex_token(&base, &client).await;
    assert_eq!(token, "ya29.mock-1");
    let resp = client
        .post(&url)
        .bearer_auth(&token)
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["modelVersion"], "gemini-2.5-pro");
    // Vertex streams too, and knobs work in front of the Vertex path.
    let resp = client
        .post(format!(
            "{base}/tokens=2{VERTEX_PATH}:streamGenerateContent?alt=sse"
        ))
        .bearer_auth(&token)
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(crlf_events(&resp.text().await.unwrap()).len(), 2);

    let s = stats(&base, &client).await;
    assert_eq!(s["token_requests"], 1);
    assert_eq!(s["formats"]["vertex"], 5);
    let rec = recorded(&base, &client).await;
    let token_req = rec.iter().find(|r| r["format"] == "oauth").unwrap();
    assert_eq!(
        token_req["form"]["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    assert_eq!(
        token_req["jwt"]["claims"]["iss"],
        "mock@project.iam.gserviceaccount.com"
    );
    assert_eq!(
        rec.last().unwrap()["headers"]["authorization"],
        "Bearer ya29.mock-1"
    );

    // Tokens stay valid across a reset (a gateway caches them for an hour).
    client
        .post(format!("{base}/_mock/reset"))
        .send()
        .await
        .unwrap();
    let resp = client
        .post(&url)
        .bearer_auth(&token)
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn token_endpoint_errors_and_knobs() {
    let (base, client) = start().await;
    let form = |body: String| {
        client
            .post(format!("{base}/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let resp = form("grant_type=client_credentials".into()).await.unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "unsupported_grant_type");
    let resp = form(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=nope".into(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "invalid_grant");

    let body = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
        jwt()
    );
    let resp = client
        .post(format!(
            "{base}/status=503,fail_times=1,expires_in=60/token"
        ))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "internal_failure");
    let resp = client
        .post(format!(
            "{base}/status=503,fail_times=1,expires_in=60/token"
        ))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["expires_in"], 60);
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["access_token"]
        .as_str()
        .unwrap()
        .starts_with("ya29.mock-"));
    assert_eq!(stats(&base, &client).await["token_requests"], 4);
}
