//! The translated (canonical) path to each provider wire format, end to end against the
//! mock provider: in-stream errors, HTTP errors, credentials (Vertex OAuth tokens,
//! Bedrock SigV4), Azure's stream prelude, usage in the records, client disconnects and
//! unsupported parameters.
//!
//! Fault knobs go in the provider's `base_url` (path segments with `=`), since a body
//! `mock` field would be refused as an unsupported parameter on the canonical path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use switchyard_gateway::observe::Outcome;
use switchyard_mock_provider::{Behavior, MockConfig};

const ANT_KEY: &str = "sk-ant-upstream-secret-1";
const GEM_KEY: &str = "gem-upstream-secret-1";
const AZ_KEY: &str = "az-upstream-secret-1";
const AWS_AKID: &str = "AKIDTESTPROVIDERS";
const AWS_SECRET: &str = "brkSecretAccessKey123";
const AWS_SESSION: &str = "brkSessionToken456";

/// The mock's default reply (12 tokens).
const REPLY: &str = "Hello from the Switchyard mock provider. Hello from the Switchyard mock";

/// Every provider kind, plain and with fault knobs. Direct addressing (`provider/model`)
/// reaches each one.
const PROVIDERS: &str = r#"
master_key: sk-master-test
# One attempt per request: these tests look at each provider's answer.
router:
  retries: 0
  allowed_failures: 1000
providers:
  ant: {kind: anthropic, base_url: "http://{mock}", api_key: sk-ant-upstream-secret-1}
  ant_overloaded: {kind: anthropic, base_url: "http://{mock}/stream_error=overloaded,drop_after=3", api_key: sk-ant-upstream-secret-1}
  ant_stream_rate: {kind: anthropic, base_url: "http://{mock}/stream_error=rate_limit,drop_after=3", api_key: sk-ant-upstream-secret-1}
  ant_stream_invalid: {kind: anthropic, base_url: "http://{mock}/stream_error=invalid_request,drop_after=3", api_key: sk-ant-upstream-secret-1}
  ant_429: {kind: anthropic, base_url: "http://{mock}/status=429,retry_after=7", api_key: sk-ant-upstream-secret-1}
  ant_529: {kind: anthropic, base_url: "http://{mock}/status=529", api_key: sk-ant-upstream-secret-1}
  ant_401_leak: {kind: anthropic, base_url: "http://{mock}/status=401,error_message=invalid%20x-api-key%20sk-ant-upstream-secret-1", api_key: sk-ant-upstream-secret-1}
  ant_cached: {kind: anthropic, base_url: "http://{mock}/cached_tokens=5", api_key: sk-ant-upstream-secret-1}
  ant_slow: {kind: anthropic, base_url: "http://{mock}/tokens=200,delay_ms=20", api_key: sk-ant-upstream-secret-1}
  ant_late: {kind: anthropic, base_url: "http://{mock}/ttft_ms=3000", api_key: sk-ant-upstream-secret-1}
  ant_drop: {kind: anthropic, base_url: "http://{mock}/drop_after=3", api_key: sk-ant-upstream-secret-1}
  gem: {kind: gemini, base_url: "http://{mock}", api_key: gem-upstream-secret-1}
  gem_overloaded: {kind: gemini, base_url: "http://{mock}/stream_error=overloaded,drop_after=3", api_key: gem-upstream-secret-1}
  gem_429: {kind: gemini, base_url: "http://{mock}/status=429", api_key: gem-upstream-secret-1}
  gem_400: {kind: gemini, base_url: "http://{mock}/status=400", api_key: gem-upstream-secret-1}
  brk:
    kind: bedrock
    base_url: "http://{mock}"
    region: us-east-1
    access_key_id: AKIDTESTPROVIDERS
    secret_access_key: brkSecretAccessKey123
    session_token: brkSessionToken456
  brk_nosession:
    kind: bedrock
    base_url: "http://{mock}"
    region: eu-west-1
    access_key_id: AKIDTESTPROVIDERS
    secret_access_key: brkSecretAccessKey123
  brk_overloaded:
    kind: bedrock
    base_url: "http://{mock}/stream_error=overloaded,drop_after=3"
    region: us-east-1
    access_key_id: AKIDTESTPROVIDERS
    secret_access_key: brkSecretAccessKey123
  brk_modelstream:
    kind: bedrock
    base_url: "http://{mock}/stream_error=model_stream_error,drop_after=3"
    region: us-east-1
    access_key_id: AKIDTESTPROVIDERS
    secret_access_key: brkSecretAccessKey123
  brk_429:
    kind: bedrock
    base_url: "http://{mock}/status=429"
    region: us-east-1
    access_key_id: AKIDTESTPROVIDERS
    secret_access_key: brkSecretAccessKey123
    session_token: brkSessionToken456
  brk_400_leak:
    kind: bedrock
    base_url: "http://{mock}/status=400,error_message=token%20brkSessionToken456%20and%20key%20brkSecretAccessKey123%20rejected"
    region: us-east-1
    access_key_id: AKIDTESTPROVIDERS
    secret_access_key: brkSecretAccessKey123
    session_token: brkSessionToken456
  az: {kind: azure, base_url: "http://{mock}", api_key: az-upstream-secret-1, api_version: "2024-10-21"}
models:
  - name: claude
    deployments: [{provider: ant, model: claude-x}]
  - name: claude-impatient
    deployments: [{provider: ant_late, model: claude-x, timeout: 300ms}]
"#;

// ---------------------------------------------------------------------------------
// Helpers

/// The `data:` payloads of an SSE body as JSON, and whether it ended with `[DONE]`.
fn parse_sse(body: &str) -> (Vec<Value>, bool) {
    let data = sse_data(body);
    let done = data.last().map(String::as_str) == Some("[DONE]");
    let chunks = data
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("bad SSE data {d}: {e}")))
        .collect();
    (chunks, done)
}

/// The concatenated `delta.content` of chunks.
fn text_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

fn rid(resp: &reqwest::Response) -> String {
    resp.headers()["x-request-id"].to_str().unwrap().to_string()
}

/// The record of request `rid`, once emitted.
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

/// Posts a streamed chat request; returns the request id and the whole body.
async fn stream_chat(h: &Harness, body: Value) -> (u16, String, String) {
    let resp = h.chat(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let id = rid(&resp);
    (status, id, resp.text().await.unwrap())
}

/// Upstream requests recorded by the mock in `format`.
async fn seen_in(h: &Harness, format: &str) -> Vec<Value> {
    h.mock_requests()
        .await
        .into_iter()
        .filter(|r| r["format"] == format)
        .collect()
}

/// An OpenAI error body: `{"error":{"message","type","param","code"}}`, all four keys.
fn assert_openai_error(v: &Value) {
    let e = v["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no error object: {v}"));
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(e["type"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
    assert!(e.contains_key("param") && e.contains_key("code"), "{v}");
    assert_eq!(v.as_object().unwrap().len(), 1, "only `error`: {v}");
}

/// An RSA key in PEM, made once per test process.
fn rsa_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        let out = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .output()
            .expect("openssl is needed to make a service-account key");
        assert!(out.status.success(), "openssl failed: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    })
}

/// A Vertex service-account file whose token endpoint is `token_uri`.
fn service_account(token_uri: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "sy-providers-sa-{}-{}.json",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let sa = json!({
        "type": "service_account",
        "project_id": "p",
        "private_key_id": "k",
        "private_key": rsa_pem(),
        "client_email": "t@p.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    });
    std::fs::write(&path, serde_json::to_vec(&sa).unwrap()).unwrap();
    path
}

/// A recording mock, spawned first so that its address can go into files.
async fn spawn_mock() -> std::net::SocketAddr {
    switchyard_mock_provider::spawn(MockConfig {
        defaults: Behavior::default(),
        record: true,
    })
    .await
    .unwrap()
    .0
}

fn vertex_yaml(sa: &std::path::Path, timeout: &str) -> String {
    format!(
        r#"
master_key: sk-master-test
server:
  workers: 2
providers:
  vx:
    kind: vertex
    base_url: "http://{{mock}}"
    project: p
    location: us-central1
    credentials_file: "{}"
models:
  - name: gemini-vx
    deployments: [{{provider: vx, model: gemini-x, timeout: {timeout}}}]
"#,
        sa.display()
    )
}

// ---------------------------------------------------------------------------------
// 1. Mid-stream provider errors

/// A provider's in-stream error after 3 tokens: the content before it reaches the
/// client, then one OpenAI-style error event (no `[DONE]`); the record says StreamError.
async fn check_stream_error(h: &Harness, model: &str, provider_message: &str) -> (Value, Record) {
    let (status, id, body) = stream_chat(
        h,
        json!({"model": model, "messages": user("hi"), "stream": true}),
    )
    .await;
    assert_eq!(status, 200, "{model}: the stream had begun: {body}");
    assert!(!body.contains("[DONE]"), "{model}: {body}");
    for secret in [ANT_KEY, GEM_KEY, AWS_SECRET, AWS_SESSION] {
        assert!(!body.contains(secret), "{model} leaked a secret: {body}");
    }
    let (chunks, done) = parse_sse(&body);
    assert!(!done);
    let (last, content) = chunks.split_last().unwrap();
    assert_eq!(
        text_of(content),
        "Hello from the",
        "{model}: the 3 tokens before the error were delivered: {body}"
    );
    assert!(
        content.iter().all(|c| c.get("error").is_none()),
        "only the last event is an error: {body}"
    );
    assert_openai_error(last);
    let deployment = model;
    let message = last["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(provider_message),
        "{model}: provider message kept: {message}"
    );
    assert!(message.contains(deployment), "{model}: {message}");
    let rec = record_of(h, &id).await;
    assert_eq!(rec.outcome, Outcome::StreamError, "{model}");
    assert_eq!(rec.status, 200, "{model}");
    assert_eq!(h.state.inflight(), 0, "{model}");
    (last.clone(), rec)
}

#[tokio::test]
async fn mid_stream_errors_end_with_an_openai_error_event() {
    let h = start(PROVIDERS).await;

    // Anthropic `overloaded_error` event (a server error): message_start had reported the
    // prompt and one output token, and that usage is kept.
    let (ev, rec) = check_stream_error(&h, "ant_overloaded/claude-x", "Overloaded").await;
    assert_eq!(ev["error"]["type"], "upstream_error");
    assert_eq!(ev["error"]["code"], "upstream_error");
    let u = rec.usage.expect("usage from message_start");
    assert_eq!((u.prompt_tokens, u.completion_tokens), (5, 1));

    // Gemini: a bare multi-line `{"error":{"code":503,"status":"UNAVAILABLE"}}` after
    // the chunks; every chunk carried running usage.
    let (ev, rec) = check_stream_error(
        &h,
        "gem_overloaded/gemini-x",
        "The model is overloaded. Please try again later.",
    )
    .await;
    assert_eq!(ev["error"]["type"], "upstream_error");
    assert_eq!(ev["error"]["code"], "upstream_error");
    let u = rec.usage.expect("usage from the chunks before the error");
    assert_eq!(u.completion_tokens, 3);
    assert!(u.prompt_tokens > 0);

    // Bedrock: `serviceUnavailableException` and `modelStreamErrorException` frames;
    // Bedrock reports usage only in its closing `metadata` event, never reached.
    for (model, message) in [
        (
            "brk_overloaded/anthropic.claude-x-v1:0",
            "Bedrock is unable to process your request.",
        ),
        (
            "brk_modelstream/anthropic.claude-x-v1:0",
            "The model encountered an error while streaming.",
        ),
    ] {
        let (ev, rec) = check_stream_error(&h, model, message).await;
        assert_eq!(ev["error"]["type"], "upstream_error", "{model}");
        assert_eq!(ev["error"]["code"], "upstream_error", "{model}");
        assert!(rec.usage.is_none(), "{model}: {:?}", rec.usage);
    }

    // The connection dropped after 3 tokens: a connection error event.
    let (ev, rec) = check_stream_error(&h, "ant_drop/claude-x", "the connection broke off").await;
    assert_eq!(ev["error"]["code"], "upstream_connection_error", "{ev}");
    assert_eq!(ev["error"]["type"], "upstream_error", "{ev}");
    assert_eq!(rec.usage.map(|u| u.completion_tokens), Some(1));

    // The mock ended each stream on purpose.
    let stats = h.mock_stats().await;
    assert_eq!(stats["aborted"], 5, "{stats}");
}

/// The upstream went silent after its first event, before any token: nothing has been
/// committed to the client yet, so the request fails as a whole with 504 (a fallback,
/// had one been configured, would have been tried).
#[tokio::test]
async fn a_silent_translated_stream_times_out_before_its_first_token() {
    let h = start(PROVIDERS).await;
    let started = Instant::now();
    let (status, id, body) = stream_chat(
        &h,
        json!({"model": "claude-impatient", "messages": user("hi"), "stream": true}),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "bounded by the timeout"
    );
    assert_eq!(status, 504, "{body}");
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_openai_error(&e);
    assert_eq!(e["error"]["type"], "timeout_error", "{e}");
    assert_eq!(e["error"]["code"], "upstream_timeout", "{e}");
    let rec = record_of(&h, &id).await;
    assert_eq!(rec.outcome, Outcome::UpstreamError);
    assert_eq!(h.state.inflight(), 0);
    // The upstream request was dropped, not left running.
    for _ in 0..300 {
        if h.mock_stats().await["cancelled"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = h.mock_stats().await;
    assert_eq!(
        (stats["cancelled"].as_u64(), stats["inflight"].as_u64()),
        (Some(1), Some(0)),
        "{stats}"
    );
}

/// The error event's `type` follows the class of the provider's in-stream error, as
/// the same error answered over HTTP would (Anthropic names its types like OpenAI).
#[tokio::test]

async fn mid_stream_error_type_follows_the_error_class() {
    let h = start(PROVIDERS).await;
    let (ev, _) = check_stream_error(&h, "ant_stream_rate/claude-x", "Rate limited").await;
    assert_eq!(ev["error"]["type"], "rate_limit_error", "{ev}");
    let (ev, _) = check_stream_error(&h, "ant_stream_invalid/claude-x", "Invalid request").await;
    assert_eq!(ev["error"]["type"], "invalid_request_error", "{ev}");
}

// ---------------------------------------------------------------------------------
// 2. HTTP errors per provider

/// Posts a non-streamed request and returns (status, retry-after, body).
async fn fail(h: &Harness, model: &str, stream: bool) -> (u16, Option<String>, Value) {
    let resp = h
        .chat(json!({"model": model, "messages": user("hi"), "stream": stream}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        resp.headers()["content-type"],
        "application/json",
        "{model}"
    );
    let text = resp.text().await.unwrap();
    for secret in [ANT_KEY, GEM_KEY, AWS_SECRET, AWS_SESSION] {
        assert!(!text.contains(secret), "{model} leaked a secret: {text}");
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_openai_error(&body);
    (status, retry_after, body)
}

#[tokio::test]
async fn provider_http_errors_map_to_the_contract() {
    let h = start(PROVIDERS).await;

    for stream in [false, true] {
        // Anthropic 429 rate_limit_error: 429, Retry-After passed on.
        let (status, ra, e) = fail(&h, "ant_429/claude-x", stream).await;
        assert_eq!((status, ra.as_deref()), (429, Some("7")), "{e}");
        assert_eq!(e["error"]["type"], "rate_limit_error");
        assert_eq!(
            e["error"]["message"],
            "This request would exceed your organization's rate limit (mock fault)."
        );

        // Anthropic 529 overloaded_error: a provider failure, 502.
        let (status, ra, e) = fail(&h, "ant_529/claude-x", stream).await;
        assert_eq!((status, ra), (502, None), "{e}");
        assert_eq!(e["error"]["code"], "upstream_error");
        let m = e["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("ant_529/claude-x") && m.contains("529") && m.contains("Overloaded"),
            "{m}"
        );

        // Gemini 429 RESOURCE_EXHAUSTED: no Retry-After header from the mock, only
        // RetryInfo.retryDelay "1s" in the body; the client gets Retry-After: 1.
        let (status, ra, e) = fail(&h, "gem_429/gemini-x", stream).await;
        assert_eq!((status, ra.as_deref()), (429, Some("1")), "{e}");
        assert_eq!(
            e["error"]["message"],
            "You exceeded your current quota, please check your plan and billing details."
        );

        // Gemini 400 INVALID_ARGUMENT: 400 with the provider's message.
        let (status, ra, e) = fail(&h, "gem_400/gemini-x", stream).await;
        assert_eq!((status, ra), (400, None), "{e}");
        assert_eq!(
            e["error"]["message"],
            "Request contains an invalid argument."
        );

        // Bedrock 429 ThrottlingException: 429.
        let (status, _, e) = fail(&h, "brk_429/anthropic.claude-x-v1:0", stream).await;
        assert_eq!(status, 429, "{e}");
        assert_eq!(
            e["error"]["message"],
            "Too many requests, please wait before trying again."
        );

        // Bedrock 400 ValidationException: 400, its message with the AWS secret and
        // session token masked.
        let (status, _, e) = fail(&h, "brk_400_leak/anthropic.claude-x-v1:0", stream).await;
        assert_eq!(status, 400, "{e}");
        assert_eq!(
            e["error"]["message"],
            "token [redacted] and key [redacted] rejected"
        );

        // Anthropic 401 whose message quotes the key: passed through, key masked.
        let (status, _, e) = fail(&h, "ant_401_leak/claude-x", stream).await;
        assert_eq!(status, 401, "{e}");
        assert_eq!(e["error"]["type"], "authentication_error");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid x-api-key "),
            "{e}"
        );
    }

    // Each one reached its provider in that provider's format, and was recorded as an
    // upstream error.
    let stats = h.mock_stats().await;
    assert_eq!(stats["formats"]["anthropic"], 6, "{stats}");
    assert_eq!(stats["formats"]["gemini"], 4, "{stats}");
    assert_eq!(stats["formats"]["bedrock"], 4, "{stats}");
    let recs = h.records();
    assert_eq!(recs.len(), 14);
    assert!(
        recs.iter().all(|r| r.outcome == Outcome::UpstreamError),
        "{recs:?}"
    );
}

// ---------------------------------------------------------------------------------
// 3. Vertex AI: OAuth tokens from a service account

#[tokio::test]
async fn vertex_mints_one_token_and_reuses_it() {
    let mock = spawn_mock().await;
    let sa = service_account(&format!("http://{mock}/token"));
    let h = start_with_mock(&vertex_yaml(&sa, "30s"), mock).await;

    for stream in [false, true, false, true] {
        let resp = h
            .chat(json!({"model": "gemini-vx", "messages": user("hi"), "stream": stream}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.unwrap();
        if stream {
            let (chunks, done) = parse_sse(&body);
            assert!(done, "{body}");
            assert_eq!(text_of(&chunks), REPLY);
        } else {
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["choices"][0]["message"]["content"], REPLY);
        }
    }
    let stats = h.mock_stats().await;
    assert_eq!(stats["token_requests"], 1, "the token is cached: {stats}");
    assert_eq!(stats["formats"]["vertex"], 4, "{stats}");

    let seen = seen_in(&h, "vertex").await;
    assert_eq!(seen.len(), 4);
    let auth = seen[0]["headers"]["authorization"].as_str().unwrap();
    assert!(auth.starts_with("Bearer ya29.mock-"), "{auth}");
    assert!(seen.iter().all(|r| r["headers"]["authorization"] == auth));
    assert_eq!(
        seen[0]["path"],
        "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-x:generateContent"
    );
    assert_eq!(
        seen[1]["path"],
        "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-x:streamGenerateContent"
    );
    assert_eq!(seen[1]["query"], "alt=sse");

    // The token request was a JWT-bearer grant signed for the service account.
    let token_req = seen_in(&h, "oauth").await;
    assert_eq!(token_req.len(), 1);
    assert_eq!(
        token_req[0]["form"]["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    assert_eq!(
        token_req[0]["jwt"]["claims"]["iss"],
        "t@p.iam.gserviceaccount.com"
    );
    let _ = std::fs::remove_file(sa);
}

/// Concurrent first requests, on both worker threads, share one token.
#[tokio::test]
async fn vertex_concurrent_first_requests_mint_one_token() {
    let mock = spawn_mock().await;
    let sa = service_account(&format!("http://{mock}/token"));
    let h = start_with_mock(&vertex_yaml(&sa, "30s"), mock).await;
    let send = || {
        h.chat(json!({"model": "gemini-vx", "messages": user("hi")}))
            .send()
    };
    let (a, b, c, d) = tokio::join!(send(), send(), send(), send());
    for r in [a, b, c, d] {
        assert_eq!(r.unwrap().status(), 200);
    }
    let stats = h.mock_stats().await;
    assert_eq!(stats["token_requests"], 1, "{stats}");
    let _ = std::fs::remove_file(sa);
}

#[tokio::test]
async fn vertex_with_an_unreachable_token_endpoint_fails_cleanly() {
    let mock = spawn_mock().await;
    // Nothing listens on port 9: the token request is refused.
    let sa = service_account("http://127.0.0.1:9/token");
    let h = start_with_mock(&vertex_yaml(&sa, "30s"), mock).await;
    for stream in [false, true] {
        let started = Instant::now();
        let resp = tokio::time::timeout(
            Duration::from_secs(20),
            h.chat(json!({"model": "gemini-vx", "messages": user("hi"), "stream": stream}))
                .send(),
        )
        .await
        .expect("answered, not hung")
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(10));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        let e: Value = serde_json::from_str(&text).unwrap();
        assert_openai_error(&e);
        // The gateway could not authenticate to the provider: the contract's auth 401.
        assert_eq!(status, 401, "{e}");
        assert_eq!(e["error"]["type"], "authentication_error");
        let m = e["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("vx/gemini-x") && m.contains("could not get a Google access token"),
            "{m}"
        );
    }
    assert_eq!(h.mock_stats().await["formats"]["vertex"], 0);
    let recs = h.records();
    assert_eq!(recs.len(), 2);
    assert!(recs.iter().all(|r| r.outcome == Outcome::UpstreamError));
    assert_eq!(h.state.inflight(), 0);
    let _ = std::fs::remove_file(sa);
}

/// The contract's status for the Auth class is 401 (authentication_error).
#[tokio::test]

async fn vertex_token_failure_is_an_auth_error() {
    let mock = spawn_mock().await;
    let sa = service_account("http://127.0.0.1:9/token");
    let h = start_with_mock(&vertex_yaml(&sa, "30s"), mock).await;
    let resp = h
        .chat(json!({"model": "gemini-vx", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["type"], "authentication_error", "{e}");
    let _ = std::fs::remove_file(sa);
}

/// A token endpoint that accepts connections and never answers: the request is bounded
/// by the deployment's timeout like any other upstream wait.
#[tokio::test]

async fn vertex_silent_token_endpoint_times_out() {
    let mock = spawn_mock().await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let _holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let sa = service_account(&format!("http://{silent_addr}/token"));
    let h = start_with_mock(&vertex_yaml(&sa, "500ms"), mock).await;
    let started = Instant::now();
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        h.chat(json!({"model": "gemini-vx", "messages": user("hi")}))
            .send(),
    )
    .await
    .expect("the request hung on the token endpoint")
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(resp.status(), 504);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["code"], "upstream_timeout", "{e}");
    let _ = std::fs::remove_file(sa);
}

// ---------------------------------------------------------------------------------
// 4. Bedrock SigV4

fn check_sigv4(req: &Value, region: &str, session: Option<&str>) {
    let h = &req["headers"];
    let auth = h["authorization"].as_str().unwrap();
    let prefix = format!("AWS4-HMAC-SHA256 Credential={AWS_AKID}/");
    assert!(auth.starts_with(&prefix), "{auth}");
    assert!(
        auth.contains(&format!("/{region}/bedrock/aws4_request, SignedHeaders=")),
        "{auth}"
    );
    let signed = auth
        .split("SignedHeaders=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    let signed: Vec<&str> = signed.split(';').collect();
    assert!(
        signed.contains(&"host") && signed.contains(&"x-amz-date"),
        "{auth}"
    );
    let sig = auth.split("Signature=").nth(1).unwrap();
    assert!(
        sig.len() == 64 && sig.chars().all(|c| c.is_ascii_hexdigit()),
        "{auth}"
    );
    let date = h["x-amz-date"].as_str().unwrap();
    assert!(
        date.len() == 16
            && date.as_bytes()[8] == b'T'
            && date.ends_with('Z')
            && date[..8].chars().all(|c| c.is_ascii_digit()),
        "{date}"
    );
    // The credential scope's day is the x-amz-date day.
    assert!(
        auth.starts_with(&format!("{prefix}{}/", &date[..8])),
        "{auth}"
    );
    match session {
        Some(token) => {
            assert_eq!(h["x-amz-security-token"], token);
            assert!(signed.contains(&"x-amz-security-token"), "{auth}");
        }
        None => assert!(h.get("x-amz-security-token").is_none(), "{h}"),
    }
    assert!(
        !req.to_string().contains(AWS_SECRET),
        "the secret key is never sent"
    );
}

#[tokio::test]
async fn bedrock_requests_are_signed_with_the_model_id_encoded() {
    let h = start(PROVIDERS).await;
    for stream in [false, true] {
        let resp = h
            .chat(json!({"model": "brk/anthropic.claude-x-v1:0", "messages": user("hi"), "stream": stream}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "the mock accepted the signature");
        let body = resp.text().await.unwrap();
        if stream {
            let (chunks, done) = parse_sse(&body);
            assert!(done);
            assert_eq!(text_of(&chunks), REPLY);
        }
    }
    let resp = h
        .chat(json!({"model": "brk_nosession/anthropic.claude-x-v1:0", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let seen = seen_in(&h, "bedrock").await;
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0]["path"], "/model/anthropic.claude-x-v1%3A0/converse");
    assert_eq!(
        seen[1]["path"],
        "/model/anthropic.claude-x-v1%3A0/converse-stream"
    );
    check_sigv4(&seen[0], "us-east-1", Some(AWS_SESSION));
    check_sigv4(&seen[1], "us-east-1", Some(AWS_SESSION));
    check_sigv4(&seen[2], "eu-west-1", None);
}

// ---------------------------------------------------------------------------------
// 5. Azure (fast path)

#[tokio::test]
async fn azure_stream_hides_the_empty_prelude_chunk() {
    let h = start(PROVIDERS).await;
    for include_usage in [false, true] {
        let (status, _, body) = stream_chat(
            &h,
            json!({"model": "az/my-deployment", "messages": user("hi"), "stream": true,
                   "stream_options": {"include_usage": include_usage}}),
        )
        .await;
        assert_eq!(status, 200);
        let (chunks, done) = parse_sse(&body);
        assert!(done, "{body}");
        assert!(!body.contains("prompt_filter_results"), "{body}");
        for c in &chunks {
            let id_ok = c["id"].as_str().is_some_and(|s| !s.is_empty());
            let choices = c["choices"].as_array().unwrap();
            let trailer = include_usage && choices.is_empty() && c["usage"].is_object();
            assert!(
                id_ok && (!choices.is_empty() || trailer),
                "an empty or id-less chunk reached the client: {c}"
            );
        }
        assert_eq!(text_of(&chunks), REPLY);
        let last = chunks.last().unwrap();
        if include_usage {
            assert_eq!(last["usage"]["completion_tokens"], 12);
        } else {
            assert!(!body.contains("\"usage\""), "{body}");
        }
    }
    let seen = seen_in(&h, "azure").await;
    assert_eq!(seen.len(), 2);
    for r in &seen {
        assert_eq!(
            r["path"],
            "/openai/deployments/my-deployment/chat/completions"
        );
        assert_eq!(r["query"], "api-version=2024-10-21");
        assert_eq!(r["headers"]["api-key"], AZ_KEY);
        assert!(r["headers"].get("authorization").is_none());
        assert_eq!(r["body"]["stream_options"]["include_usage"], true);
    }
}

// ---------------------------------------------------------------------------------
// 6. Usage in the records

#[tokio::test]
async fn translated_streams_record_usage_the_client_did_not_ask_for() {
    let mock = spawn_mock().await;
    let sa = service_account(&format!("http://{mock}/token"));
    let yaml = format!(
        "{PROVIDERS}  - name: gemini-vx\n    deployments: [{{provider: vx, model: gemini-x}}]\n"
    )
    .replace(
        "providers:\n",
        &format!(
            "providers:\n  vx: {{kind: vertex, base_url: \"http://{{mock}}\", project: p, location: us-central1, credentials_file: \"{}\"}}\n",
            sa.display()
        ),
    );
    let h = start_with_mock(&yaml, mock).await;
    for model in [
        "ant/claude-x",
        "gem/gemini-x",
        "gemini-vx",
        "brk/anthropic.claude-x-v1:0",
    ] {
        let (status, id, body) = stream_chat(
            &h,
            json!({"model": model, "messages": user("hi"), "stream": true}),
        )
        .await;
        assert_eq!(status, 200, "{model}: {body}");
        assert!(
            !body.contains("usage"),
            "{model}: client did not ask: {body}"
        );
        let (chunks, done) = parse_sse(&body);
        assert!(done, "{model}");
        assert_eq!(text_of(&chunks), REPLY, "{model}");
        let rec = record_of(&h, &id).await;
        assert_eq!(rec.outcome, Outcome::Ok, "{model}");
        assert!(rec.ttft.is_some(), "{model}");
        let u = rec
            .usage
            .unwrap_or_else(|| panic!("{model}: no usage recorded"));
        assert_eq!(u.completion_tokens, 12, "{model}");
        assert!(u.prompt_tokens > 0, "{model}");
        assert_eq!(u.total_tokens, u.prompt_tokens + 12, "{model}");

        // Asked for, usage comes in the last chunk, with the same numbers.
        let (_, id, body) = stream_chat(
            &h,
            json!({"model": model, "messages": user("hi"), "stream": true,
                   "stream_options": {"include_usage": true}}),
        )
        .await;
        let (chunks, done) = parse_sse(&body);
        assert!(done, "{model}");
        let last = chunks.last().unwrap();
        assert_eq!(last["choices"], json!([]), "{model}: {last}");
        assert_eq!(last["usage"]["completion_tokens"], 12, "{model}");
        assert_eq!(last["usage"]["prompt_tokens"], u.prompt_tokens, "{model}");
        assert_eq!(
            record_of(&h, &id).await.usage.unwrap().prompt_tokens,
            u.prompt_tokens
        );
    }
    let _ = std::fs::remove_file(sa);
}

#[tokio::test]
async fn anthropic_cache_reads_are_recorded_within_the_prompt() {
    let h = start(PROVIDERS).await;
    // 1 message of 33 characters: the mock counts 4 + ceil(33 / 4) = 13 prompt tokens.
    let prompt = "Please say hello to everyone now.";
    let mut usages = Vec::new();
    for model in ["ant/claude-x", "ant_cached/claude-x"] {
        let (status, id, _) = stream_chat(
            &h,
            json!({"model": model, "messages": user(prompt), "stream": true}),
        )
        .await;
        assert_eq!(status, 200);
        usages.push(record_of(&h, &id).await.usage.unwrap());
    }
    let (plain, cached) = (usages[0], usages[1]);
    assert_eq!(plain.prompt_tokens, 13);
    assert_eq!(plain.cached_tokens, 0);
    assert_eq!(cached.cached_tokens, 5);
    assert_eq!(
        cached.prompt_tokens, 13,
        "prompt_tokens counts the cached tokens"
    );
    assert_eq!(cached.completion_tokens, 12);

    // Non-streamed, the same.
    let resp = h
        .chat(json!({"model": "ant_cached/claude-x", "messages": user(prompt)}))
        .send()
        .await
        .unwrap();
    let id = rid(&resp);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], 13);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 5);
    let u = record_of(&h, &id).await.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.cached_tokens), (13, 5));
}

#[tokio::test]
async fn gemini_reasoning_tokens_are_recorded() {
    let h = start(PROVIDERS).await;
    let (status, id, body) = stream_chat(
        &h,
        json!({"model": "gem/gemini-x", "messages": user("hi"), "stream": true,
               "reasoning_effort": "low"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (chunks, done) = parse_sse(&body);
    assert!(done);
    assert_eq!(text_of(&chunks), REPLY);
    let u = record_of(&h, &id).await.usage.unwrap();
    assert_eq!(u.reasoning_tokens, 7);
    assert_eq!(
        u.completion_tokens,
        12 + 7,
        "reasoning counts as completion"
    );

    let seen = seen_in(&h, "gemini").await;
    assert!(seen[0]["body"]["generationConfig"]["thinkingConfig"].is_object());

    let resp = h
        .chat(json!({"model": "gem/gemini-x", "messages": user("hi"), "reasoning_effort": "low"}))
        .send()
        .await
        .unwrap();
    let id = rid(&resp);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        7
    );
    assert_eq!(record_of(&h, &id).await.usage.unwrap().reasoning_tokens, 7);
}

// ---------------------------------------------------------------------------------
// 7. Client disconnect on a translated stream

#[tokio::test]
async fn client_disconnect_on_a_translated_stream_cancels_upstream() {
    let h = start(PROVIDERS).await;
    let mut resp = h
        .chat(json!({"model": "ant_slow/claude-x", "messages": user("hi"), "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = rid(&resp);
    // Read until some text came, then hang up.
    let mut got = String::new();
    let streamed_text = |got: &str| {
        let whole = &got[..got.rfind("\n\n").map_or(0, |i| i + 2)];
        text_of(&parse_sse(whole).0)
    };
    while !streamed_text(&got).starts_with("Hello from the") {
        let chunk = resp.chunk().await.unwrap().expect("stream still open");
        got.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(h.state.inflight(), 1);
    drop(resp);

    for _ in 0..300 {
        if h.mock_stats().await["cancelled"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = h.mock_stats().await;
    assert_eq!(stats["cancelled"], 1, "{stats}");
    assert_eq!(stats["inflight"], 0, "{stats}");
    assert_eq!(stats["completed"], 0, "{stats}");
    h.eventually("gateway in-flight back to zero", || h.state.inflight() == 0)
        .await;
    let catalog = h.state.catalog.load();
    assert!(catalog
        .deployments()
        .all(|d| d.inflight.load(Ordering::Relaxed) == 0));

    let rec = record_of(&h, &id).await;
    assert_eq!(rec.outcome, Outcome::ClientDisconnected);
    assert!(rec.ttft.is_some());
    // The usage seen so far: Anthropic's message_start (the prompt, one output token).
    let u = rec.usage.expect("partial usage from message_start");
    assert_eq!((u.prompt_tokens, u.completion_tokens), (5, 1));
}

// ---------------------------------------------------------------------------------
// 8. Unsupported parameters

#[tokio::test]
async fn unsupported_parameters_are_refused_by_name_or_dropped() {
    let h = start(PROVIDERS).await;
    let r = h
        .chat(json!({"model": "claude", "messages": user("hi"),
                     "logit_bias": {"50256": -100}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_openai_error(&e);
    assert_eq!(e["error"]["param"], "logit_bias");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    let m = e["error"]["message"].as_str().unwrap();
    assert!(m.contains("Anthropic") && m.contains("drop_params"), "{m}");

    let r = h
        .chat(json!({"model": "claude", "messages": user("hi"), "n": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["param"], "n");
    assert_eq!(h.mock_stats().await["total"], 0, "refused before upstream");
    let recs = h.records();
    assert_eq!(recs.len(), 2);
    assert!(recs
        .iter()
        .all(|r| r.outcome == Outcome::Rejected && r.status == 400));

    for stream in [false, true] {
        let r = h
            .chat(
                json!({"model": "claude", "messages": user("hi"), "stream": stream,
                         "logit_bias": {"50256": -100}, "n": 2, "drop_params": true}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "stream={stream}");
        let body = r.text().await.unwrap();
        if stream {
            let (chunks, done) = parse_sse(&body);
            assert!(done);
            assert_eq!(text_of(&chunks), REPLY);
        } else {
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["choices"].as_array().unwrap().len(), 1);
        }
    }
    let seen = seen_in(&h, "anthropic").await;
    assert_eq!(seen.len(), 2);
    for r in &seen {
        let body = r["body"].as_object().unwrap();
        for gone in ["logit_bias", "n", "drop_params"] {
            assert!(!body.contains_key(gone), "{gone} forwarded: {body:?}");
        }
        assert_eq!(body["model"], "claude-x");
        assert_eq!(r["headers"]["x-api-key"], ANT_KEY);
    }
}
