//! Test harness: the mock provider and the gateway, both in-process on loopback.
#![allow(dead_code)]

use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_adapters::canonical::Usage;
use switchyard_gateway::observe::{Outcome, RecordSink, RequestLog};
use switchyard_gateway::state::AppState;
use switchyard_gateway::Gateway;
use switchyard_mock_provider::{Behavior, MockConfig};

pub const MASTER: &str = "sk-master-test";
pub const UPSTREAM_KEY: &str = "sk-upstream-key-a";

#[derive(Debug, Clone)]
pub struct Record {
    pub request_id: String,
    pub model: String,
    pub deployment: String,
    pub status: u16,
    pub outcome: Outcome,
    pub usage: Option<Usage>,
    pub ttft: Option<Duration>,
}

#[derive(Default)]
pub struct Collect(pub Mutex<Vec<Record>>);

impl RecordSink for Collect {
    fn record(&self, log: &RequestLog) {
        self.0.lock().unwrap().push(Record {
            request_id: log.request_id.clone(),
            model: log.model.clone(),
            deployment: log.deployment.clone(),
            status: log.status,
            outcome: log.outcome,
            usage: log.usage,
            ttft: log.ttft,
        });
    }
}

pub struct Harness {
    pub gw: String,
    pub mock: SocketAddr,
    pub state: AppState,
    pub records: Arc<Collect>,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// `{mock}` in `yaml` is replaced by the mock provider's address.
pub async fn start(yaml: &str) -> Harness {
    let (mock, _) = switchyard_mock_provider::spawn(MockConfig {
        defaults: Behavior::default(),
        record: true,
    })
    .await
    .unwrap();
    start_with_mock(yaml, mock).await
}

pub async fn start_with_mock(yaml: &str, mock: SocketAddr) -> Harness {
    start_full(yaml, mock, None).await
}

/// Like [`start`], with a database for readiness.
pub async fn start_with_store(yaml: &str, store: Option<switchyard_store::Store>) -> Harness {
    let (mock, _) = switchyard_mock_provider::spawn(MockConfig::default())
        .await
        .unwrap();
    start_full(yaml, mock, store).await
}

/// Like [`start_with_mock`], with a database.
pub async fn start_full_with(
    yaml: &str,
    mock: SocketAddr,
    store: Option<switchyard_store::Store>,
) -> Harness {
    start_full(yaml, mock, store).await
}

async fn start_full(
    yaml: &str,
    mock: SocketAddr,
    store: Option<switchyard_store::Store>,
) -> Harness {
    let text = yaml.replace("{mock}", &mock.to_string());
    let config = switchyard_config::parse_str("test.yaml", &text, &|_: &str| None).unwrap();
    let records = Arc::new(Collect::default());
    let gateway = Gateway::build_with_sinks(&config, store, vec![records.clone()]).unwrap();
    let state = gateway.state.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gateway.serve(listener, async {
        let _ = rx.await;
    }));
    Harness {
        gw: format!("http://{addr}"),
        mock,
        state,
        records,
        http: reqwest::Client::new(),
        shutdown: Some(tx),
        server: Some(server),
    }
}

pub const BASIC: &str = r#"
master_key: sk-master-test
providers:
  up:
    kind: openai_compatible
    base_url: http://{mock}/a/v1
    api_key: sk-upstream-key-a
  other:
    kind: openai_compatible
    base_url: http://{mock}/b/v1
    api_key: sk-upstream-key-b
  dead:
    kind: openai_compatible
    base_url: http://127.0.0.1:9/v1
models:
  - name: general
    deployments:
      - provider: up
        model: gpt-up
  - name: pair
    deployments:
      - {provider: up, model: gpt-up, weight: 3}
      - {provider: other, model: gpt-other, weight: 1}
  - name: impatient
    deployments:
      - {provider: up, model: gpt-up, timeout: 300ms}
  - name: unreachable
    deployments:
      - {provider: dead, model: nothing}
server:
  max_body_size: 4KiB
  shutdown_grace: 5s
# These tests look at one attempt each; the attempt loop has its own tests (routing.rs).
router:
  retries: 0
  allowed_failures: 1000
"#;

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gw)
    }

    pub fn chat(&self, body: Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(MASTER)
            .json(&body)
    }

    pub async fn mock_requests(&self) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("http://{}/_mock/requests", self.mock))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v.as_array().cloned().unwrap_or_default()
    }

    pub async fn mock_stats(&self) -> Value {
        self.http
            .get(format!("http://{}/_mock/stats", self.mock))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn records(&self) -> Vec<Record> {
        self.records.0.lock().unwrap().clone()
    }

    /// Waits (bounded) until `f` holds.
    pub async fn eventually<F: FnMut() -> bool>(&self, what: &str, mut f: F) {
        for _ in 0..200 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for: {what}");
    }

    /// Waits (bounded, 5s) until the async check `f` holds.
    pub async fn eventually_async<F, Fut>(&self, what: &str, mut f: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..250 {
            if f().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting for: {what}");
    }

    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn user(text: &str) -> Value {
    serde_json::json!([{"role": "user", "content": text}])
}

/// Splits an SSE body into its `data:` payloads.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|ev| {
            ev.lines()
                .find_map(|l| l.strip_prefix("data: ").map(str::to_string))
        })
        .collect()
}

/// An OTLP/HTTP collector on loopback: decodes what is posted to `/v1/traces`.
#[derive(Clone, Default)]
pub struct Collector {
    pub addr: Option<SocketAddr>,
    pub received: Arc<Mutex<Vec<Export>>>,
}

/// One export request as the collector saw it.
#[derive(Clone, Debug)]
pub struct Export {
    pub headers: http::HeaderMap,
    pub request: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
}

impl Collector {
    pub async fn spawn() -> Collector {
        use prost::Message;
        let received: Arc<Mutex<Vec<Export>>> = Arc::default();
        let sink = received.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |headers: http::HeaderMap, body: bytes::Bytes| {
                let sink = sink.clone();
                async move {
                    let request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(body)
                        .unwrap();
                    sink.lock().unwrap().push(Export { headers, request });
                    let resp = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::default();
                    (
                        [(http::header::CONTENT_TYPE, "application/x-protobuf")],
                        resp.encode_to_vec(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Collector {
            addr: Some(addr),
            received,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr.unwrap())
    }

    /// Every span received so far, with its resource's `service.name`.
    pub fn spans(&self) -> Vec<(String, opentelemetry_proto::tonic::trace::v1::Span)> {
        let mut out = Vec::new();
        for e in self.received.lock().unwrap().iter() {
            for rs in &e.request.resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                    .map(|kv| attr_string(kv.value.as_ref()))
                    .unwrap_or_default();
                for ss in &rs.scope_spans {
                    for s in &ss.spans {
                        out.push((service.clone(), s.clone()));
                    }
                }
            }
        }
        out
    }
}

fn attr_string(v: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    match v.and_then(|v| v.value.as_ref()) {
        Some(V::StringValue(s)) => s.clone(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => d.to_string(),
        Some(V::BoolValue(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// A span's attribute, as a string (ints and doubles printed).
pub fn span_attr(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| attr_string(kv.value.as_ref()))
}

/// A span's integer attribute.
pub fn span_int(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> Option<i64> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            V::IntValue(i) => Some(*i),
            _ => None,
        })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
