//! Gateway state, cheap to clone into every handler.
//!
//! `Inner` is shared by every worker thread; the HTTP client is per worker, so that a
//! worker's upstream connections live on its own runtime (see `Gateway::serve`).

use crate::catalog::{Catalog, Deployment};
use crate::policy::Policy;
use arc_swap::ArcSwap;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use switchyard_store::Store;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    /// This worker's upstream client (connection pool).
    pub http: crate::upstream::HttpClient,
    /// This worker's clients for deployments with their own connect timeout.
    pub http_by_connect: Arc<[(std::time::Duration, crate::upstream::HttpClient)]>,
}

fn clients_for(inner: &Inner) -> Arc<[(std::time::Duration, crate::upstream::HttpClient)]> {
    inner
        .catalog
        .load()
        .connect_timeouts()
        .into_iter()
        .map(|t| (t, crate::upstream::client(t)))
        .collect()
}

pub struct Inner {
    /// Swapped whole on reload; readers never lock.
    pub catalog: ArcSwap<Catalog>,
    pub policy: Policy,
    /// Upstream connect timeout, for the per-worker clients.
    pub connect_timeout: std::time::Duration,
    pub max_body: u64,
    /// Requests in flight (streams count until their body ends or the client leaves).
    pub inflight: AtomicI64,
    pub store: Option<Store>,
    /// Responses API state (`store: true`), kept for `previous_response_id`.
    pub responses: Arc<crate::response_store::ResponseStore>,
    /// Where finished requests' records go (the metrics registry among them).
    pub sinks: crate::observe::Sinks,
    /// The request ledger (with a database): its sink and its writer, which `serve`
    /// starts.
    pub ledger: Option<crate::ledger::Ledger>,
    /// The config file's catalog, which runtime providers and models are merged into.
    pub base_config: Arc<switchyard_config::Config>,
    /// Seals provider secrets stored at runtime (`SWITCHYARD_ENCRYPTION_KEY`).
    pub secrets: Option<crate::governance::secrets::SecretBox>,
    /// Which bodies the ledger keeps, capped and redacted.
    pub bodies: crate::bodies::BodySettings,
    /// The Prometheus registry (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Set once shutdown began: readiness fails so load balancers drain us.
    pub draining: AtomicBool,
    /// Retries, cooldowns and timeouts of the attempt loop.
    pub router: crate::router::Settings,
    /// Deployment cooldowns shared with the other replicas (`redis:`).
    pub shared: Option<switchyard_shared_state::SharedCooldowns>,
    /// Virtual keys' limits and budget reservations shared with the other replicas
    /// (`redis:`); `None`: enforced in this process.
    pub limits: Option<Arc<switchyard_shared_state::limits::RedisLimits>>,
    /// The OTLP trace exporter (also one of `sinks`), when export is configured.
    pub telemetry: Option<Arc<crate::telemetry::Exporter>>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        let http = crate::upstream::client(inner.connect_timeout);
        let http_by_connect = clients_for(&inner);
        AppState {
            inner: Arc::new(inner),
            http,
            http_by_connect,
        }
    }

    /// The client for a deployment: its own connect timeout's, else the default.
    pub fn client_for(
        &self,
        connect_timeout: Option<std::time::Duration>,
    ) -> &crate::upstream::HttpClient {
        connect_timeout
            .and_then(|t| self.http_by_connect.iter().find(|(d, _)| *d == t))
            .map_or(&self.http, |(_, c)| c)
    }

    /// A weak handle on the shared state (for callbacks that must not keep it alive).
    pub fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    /// The same shared state with a fresh upstream client, for another worker thread.
    pub fn for_worker(&self) -> Self {
        AppState {
            inner: self.inner.clone(),
            http: crate::upstream::client(self.inner.connect_timeout),
            http_by_connect: clients_for(&self.inner),
        }
    }

    pub fn inflight(&self) -> i64 {
        self.inflight.load(Ordering::Relaxed)
    }

    /// Whether traces are exported (then every attempt sends a `traceparent`).
    pub fn tracing_enabled(&self) -> bool {
        self.inner.telemetry.is_some()
    }

    /// The request's trace context: the client's `traceparent` continued (its sampled
    /// flag honoured), else a new trace, sampled by `telemetry.sample_ratio` from its id
    /// so that every replica decides alike.
    pub fn trace_context(&self, headers: &http::HeaderMap) -> crate::observe::TraceContext {
        let mut trace = crate::observe::TraceContext::from_headers(headers);
        if trace.parent_span_id.is_none() {
            if let Some(t) = &self.inner.telemetry {
                trace.sampled = t.sampler().sample(&trace.trace_id);
            }
        }
        trace
    }

    /// Exports the spans of every request recorded so far, waiting at most `bound`
    /// (shutdown and tests; a no-op when export is off).
    pub async fn flush_telemetry(&self, bound: std::time::Duration) {
        if let Some(t) = &self.inner.telemetry {
            t.flush(bound).await;
        }
    }

    /// Shares a deployment's cooldown (0: recovered) with the other replicas, when
    /// `redis:` is configured; never waits.
    pub fn announce_cooldown(&self, label: &str, until_ms: u64) {
        if let Some(shared) = &self.inner.shared {
            shared.announce(label, until_ms);
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// Counts one request in flight, globally and on its deployment, until dropped —
/// whether the request finished, failed, or the client went away.
pub struct InflightGuard {
    state: AppState,
    deployment: Arc<Deployment>,
}

impl InflightGuard {
    pub fn new(state: &AppState, deployment: &Arc<Deployment>) -> Self {
        state.inflight.fetch_add(1, Ordering::Relaxed);
        deployment.inflight.fetch_add(1, Ordering::Relaxed);
        InflightGuard {
            state: state.clone(),
            deployment: deployment.clone(),
        }
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.state.inflight.fetch_sub(1, Ordering::Relaxed);
        self.deployment.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}
