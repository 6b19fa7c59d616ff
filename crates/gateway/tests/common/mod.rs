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
