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
    /// Where finished requests' records go (the metrics registry among them).
    pub sinks: crate::observe::Sinks,
    /// The Prometheus registry (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Set once shutdown began: readiness fails so load balancers drain us.
    pub draining: AtomicBool,
    /// Retries, cooldowns and timeouts of the attempt loop.
    pub router: crate::router::Settings,
    /// Deployment cooldowns shared with the other replicas (`redis:`).
    pub shared: Option<switchyard_shared_state::SharedCooldowns>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        let http = crate::upstream::client(inner.connect_timeout);
        AppState {
            inner: Arc::new(inner),
            http,
        }
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
        }
    }

    pub fn inflight(&self) -> i64 {
        self.inflight.load(Ordering::Relaxed)
    }

    /// Whether traces are exported (then every attempt sends a `traceparent`).
    pub fn tracing_enabled(&self) -> bool {
        false
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
