//! The same knobs on every format, placed in front of each provider's path.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

/// One format's endpoint for these tests.
struct Case {
    name: &'static str,
    json_path: &'static str,
    stream_path: &'static str,
    body: Value,
    /// The body of a stream request (formats that stream by body flag).
    stream_body: Value,
    auth: Auth,
}

enum Auth {
    Nothing,
    AzureKey,
    Sigv4,
    Bearer(String),
}

impl Case {
    fn request(
        &self,
        client: &reqwest::Client,
        url: String,
        stream: bool,
    ) -> reqwest::RequestBuilder {
        let req = client.post(url).json(if stream {
            &self.stream_body
        } else {
            &self.body
        });
        match &self.auth {
            Auth::Nothing => req,
            Auth::AzureKey => req.header("api-key", "k"),
            Auth::Sigv4 => sigv4(req),
            Auth::Bearer(t) => req.bearer_auth(t),
        }
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        base: &str,
        knobs: &str,
        stream: bool,
    ) -> reqwest::Response {
        let path = if stream {
            self.stream_path
        } else {
            self.json_path
        };
        self.request(client, format!("{base}{knobs}{path}"), stream)
            .send()
            .await
            .unwrap()
    }
}

fn with_stream(mut v: Value) -> Value {
    v["stream"] = json!(true);
    v
}

/// Every format, Vertex authorised with `token`.
fn cases(token: &str) -> Vec<Case> {
    let chat = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let anthropic =
        json!({"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]});
    let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let bedrock = json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]});
    vec![
        Case {
            name: "openai",
            json_path: "/v1/chat/completions",
            stream_path: "/v1/chat/completions",
            stream_body: with_stream(chat.clone()),
            body: chat.clone(),
            auth: Auth::Nothing,
        },
        Case {
            name: "azure",
            json_path: "/openai/deployments/d/chat/completions?api-version=2024-10-21",
            stream_path: "/openai/deployments/d/chat/completions?api-version=2024-10-21",
            stream_body: with_stream(chat.clone()),
            body: chat,
            auth: Auth::AzureKey,
        },
        Case {
            name: "anthropic",
            json_path: "/v1/messages",
            stream_path: "/v1/messages",
            stream_body: with_stream(anthropic.clone()),
            body: anthropic,
            auth: Auth::Nothing,
        },
        Case {
            name: "gemini",
            json_path: "/v1beta/models/gemini-2.0-flash:generateContent",
            stream_path: "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
            stream_body: gemini.clone(),
            body: gemini.clone(),
            auth: Auth::Nothing,
        },
        Case {
            name: "vertex",
            json_path: "/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro:generateContent",
            stream_path: "/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            stream_body: gemini.clone(),
            body: gemini,
            auth: Auth::Bearer(token.to_owned()),
        },
        Case {
            name: "bedrock",
            json_path: "/model/amazon.nova-micro-v1%3A0/converse",
            stream_path: "/model/amazon.nova-micro-v1%3A0/converse-stream",
            stream_body: bedrock.clone(),
            body: bedrock,
            auth: Auth::Sigv4,
        },
    ]
}

#[tokio::test]
async fn status_and_fail_times_on_every_format() {
    let (base, client) = start().await;
    let token = vertex_token(&base, &client).await;
    for case in cases(&token) {
        for stream in [false, true] {
            let knobs = format!(
                "/{}-{stream}/fail_times=1,status=503,retry_after_ms=250",
                case.name
            );
            let resp = case.send(&client, &base, &knobs, stream).await;
            assert_eq!(resp.status(), 503, "{} stream={stream}", case.name);
            assert_eq!(resp.headers()["retry-after-ms"], "250", "{}", case.name);
            let resp = case.send(&client, &base, &knobs, stream).await;
            assert_eq!(resp.status(), 200, "{} stream={stream}", case.name);
            resp.bytes().await.unwrap();
        }
        // Header knobs work too.
        let resp = case
            .request(&client, format!("{base}{}", case.json_path), false)
            .header("x-mock-status", "429")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429, "{}", case.name);
    }
    let s = stats(&base, &client).await;
    for f in [
        "openai",
        "azure",
        "anthropic",
        "gemini",
        "vertex",
        "bedrock",
    ] {
        assert_eq!(s["formats"][f], 5, "{f}: {s}");
    }
}

#[tokio::test]
async fn ttft_on_every_stream() {
    let (base, client) = start().await;
    let token = vertex_token(&base, &client).await;
    for case in cases(&token) {
        let t = Instant::now();
        let resp = case
            .send(&client, &base, "/ttft_ms=150,tokens=2", true)
            .await;
        let headers_at = t.elapsed();
        assert_eq!(resp.status(), 200, "{}", case.name);
        let (_, aborted) = read_all(resp).await;
        assert!(!aborted);
        assert!(
            headers_at < Duration::from_millis(150),
            "{}: {headers_at:?}",
            case.name
        );
        assert!(t.elapsed() >= Duration::from_millis(150), "{}", case.name);

        // Non-stream: the whole generation time before the headers.
        let t = Instant::now();
        let resp = case
            .send(&client, &base, "/ttft_ms=60,delay_ms=10,tokens=3", false)
            .await;
        assert_eq!(resp.status(), 200, "{}", case.name);
        assert!(t.elapsed() >= Duration::from_millis(90), "{}", case.name);
    }
}

#[tokio::test]
async fn drop_after_and_stream_error_on_every_stream() {
    let (base, client) = start().await;
    let token = vertex_token(&base, &client).await;
    let cases = cases(&token);
    for case in &cases {
        let resp = case.send(&client, &base, "/drop_after=2", true).await;
        assert_eq!(resp.status(), 200, "{}", case.name);
        let (_, aborted) = read_all(resp).await;
        assert!(aborted, "{}: the client sees a broken body", case.name);

        let resp = case
            .send(
                &client,
                &base,
                "/stream_error=rate_limit_error,drop_after=1",
                true,
            )
            .await;
        let (bytes, aborted) = read_all(resp).await;
        assert!(!aborted, "{}", case.name);
        assert!(!bytes.is_empty());
    }
    let n = cases.len() as u64 * 2;
    let s = wait_stats(&base, &client, |s| s["inflight"] == 0 && s["aborted"] == n).await;
    assert_eq!(s["aborted"], n, "{s}");
    assert_eq!(s["cancelled"], 0, "{s}");
}
