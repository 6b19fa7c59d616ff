//! Helpers shared by the per-format tests.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aws_smithy_eventstream::frame::read_message_from;
use base64::Engine as _;
use futures_util::StreamExt;
use serde_json::{json, Value};
use switchyard_mock_provider::{spawn, Behavior, MockConfig};

pub const FULL_12: &str = "Hello from the Switchyard mock provider. Hello from the Switchyard mock";

/// A mock with recording on.
pub async fn start() -> (String, reqwest::Client) {
    let (addr, _handle): (SocketAddr, _) = spawn(MockConfig {
        defaults: Behavior::default(),
        record: true,
    })
    .await
    .unwrap();
    (format!("http://{addr}"), reqwest::Client::new())
}

pub async fn get_json(client: &reqwest::Client, url: String) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

pub async fn stats(base: &str, client: &reqwest::Client) -> Value {
    get_json(client, format!("{base}/_mock/stats")).await
}

pub async fn recorded(base: &str, client: &reqwest::Client) -> Vec<Value> {
    let v = get_json(client, format!("{base}/_mock/requests")).await;
    v.as_array().unwrap().clone()
}

pub async fn wait_stats(
    base: &str,
    client: &reqwest::Client,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = stats(base, client).await;
        if ok(&s) || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The body so far, and whether it ended with an error (an aborted stream).
pub async fn read_all(resp: reqwest::Response) -> (Vec<u8>, bool) {
    let mut stream = resp.bytes_stream();
    let mut received = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => received.extend_from_slice(&b),
            Err(_) => return (received, true),
        }
    }
    (received, false)
}

/// `event:`/`data:` SSE (Anthropic): `(event name, data JSON)` per event, checking that the
/// name matches the payload's `type`.
pub fn named_events(text: &str) -> Vec<(String, Value)> {
    assert!(
        text.ends_with("\n\n"),
        "body must end with a blank line: {text:?}"
    );
    text.split_terminator("\n\n")
        .map(|ev| {
            let (name_line, data_line) = ev.split_once('\n').expect("two lines per event");
            let name = name_line.strip_prefix("event: ").expect("event line");
            let data = data_line.strip_prefix("data: ").expect("data line");
            let v: Value = serde_json::from_str(data).expect("data is JSON");
            assert_eq!(v["type"], name, "{ev}");
            (name.to_owned(), v)
        })
        .collect()
}

/// `data:`-only SSE with `\n\n` separators (OpenAI, Azure): the payload texts.
pub fn data_events(text: &str) -> Vec<&str> {
    assert!(text.ends_with("\n\n"), "body must end with a blank line");
    text.split_terminator("\n\n")
        .map(|ev| {
            assert!(!ev.contains('\n'), "one line per event: {ev:?}");
            ev.strip_prefix("data: ").expect("only data lines")
        })
        .collect()
}

/// Gemini SSE: `data: {json}\r\n\r\n` per chunk.
pub fn crlf_events(text: &str) -> Vec<Value> {
    assert!(text.ends_with("\r\n\r\n"), "CRLF framing: {text:?}");
    text.split_terminator("\r\n\r\n")
        .map(|ev| {
            let data = ev.strip_prefix("data: ").expect("only data lines");
            assert!(!data.contains('\n'));
            serde_json::from_str(data).expect("chunk is JSON")
        })
        .collect()
}

/// One decoded event-stream frame.
#[derive(Debug)]
pub struct Frame {
    pub headers: Vec<(String, String)>,
    pub payload: Value,
}

impl Frame {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no header {name} in {self:?}"))
    }
}

/// Decode AWS event-stream frames, checking both CRCs (`read_message_from` fails otherwise).
pub fn frames(mut bytes: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let total = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        let msg = read_message_from(&bytes[..total]).expect("valid frame and CRCs");
        let headers = msg
            .headers()
            .iter()
            .map(|h| {
                (
                    h.name().as_str().to_owned(),
                    h.value().as_string().unwrap().as_str().to_owned(),
                )
            })
            .collect();
        out.push(Frame {
            headers,
            payload: serde_json::from_slice(msg.payload()).unwrap(),
        });
        bytes = &bytes[total..];
    }
    out
}

/// SigV4-shaped headers as a signing client sends them (the signature is not checked).
pub fn sigv4(req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    req.header("x-amz-date", "20250101T120000Z").header(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, \
         Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
    )
}

/// A JWT-shaped assertion like a service account's.
pub fn jwt() -> String {
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        enc(json!({"alg": "RS256", "typ": "JWT"})),
        enc(json!({
            "iss": "mock@project.iam.gserviceaccount.com",
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "aud": "https://oauth2.googleapis.com/token",
            "iat": 1, "exp": 3601
        }))
    )
}

/// Mint a Vertex access token from the mock's token endpoint.
pub async fn vertex_token(base: &str, client: &reqwest::Client) -> String {
    let resp = client
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
            jwt()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}
