//! The Switchyard gateway: HTTP server, policy choke point, catalog and router,
//! upstream transport and stream relay. See ARCHITECTURE.md for the request's path.

pub mod bodies;
pub mod catalog;
pub mod error;
pub mod governance;
pub mod ingress;
pub mod ledger;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod policy;
pub mod providers;
pub mod relay;
pub mod response_store;
pub mod router;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod translate;
pub mod upstream;

use crate::catalog::{Catalog, CatalogError};
use crate::policy::Policy;
use crate::state::{AppState, Inner};
use arc_swap::ArcSwap;
use axum::serve::ListenerExt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use switchyard_config::Config;
use switchyard_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long shutdown waits for the last spans to be exported.
const TELEMETRY_FLUSH_BOUND: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("redis: {0}")]
    Redis(String),
    #[error("telemetry: {0}")]
    Telemetry(String),
}

/// A gateway ready to serve: its state (for tests and the binary) and its settings.
pub struct Gateway {
    pub state: AppState,
    pub shutdown_grace: Duration,
    pub workers: usize,
}

impl Gateway {
    pub fn build(config: &Config, store: Option<Store>) -> Result<Gateway, BuildError> {
        Gateway::build_with_sinks(config, store, Vec::new())
    }

    /// Like [`Gateway::build`], with extra receivers of request records.
    pub fn build_with_sinks(
        config: &Config,
        store: Option<Store>,
        sinks: Vec<std::sync::Arc<dyn observe::RecordSink>>,
    ) -> Result<Gateway, BuildError> {
        Gateway::build_with_metrics(config, store, sinks, metrics::Metrics::new())
    }

    /// Like [`Gateway::build_with_sinks`], recording into `metrics` (made beforehand,
    /// e.g. to hand it to the ledger writer for its queue figures). The metrics sink
    /// always comes first, before `sinks`.
    pub fn build_with_metrics(
        config: &Config,
        store: Option<Store>,
        sinks: Vec<std::sync::Arc<dyn observe::RecordSink>>,
        metrics: Arc<metrics::Metrics>,
    ) -> Result<Gateway, BuildError> {
        // Settles virtual keys' reservations first, so limits free up before anything
        // else looks at the record; then metrics, then the caller's sinks.
        let mut all: Vec<Arc<dyn observe::RecordSink>> = Vec::with_capacity(sinks.len() + 3);
        all.push(Arc::new(governance::admission::GovernanceSink));
        all.push(metrics.clone());
        all.extend(sinks);
        let mut sinks = all;
        let catalog = Catalog::build(config)?;
        // The request ledger, written by a background task in batches.
        let ledger = store.clone().map(|store| {
            ledger::Ledger::new(
                store,
                config.ledger.queue_size(),
                config.ledger.retention_days(),
                metrics.clone(),
            )
        });
        if let Some(l) = &ledger {
            sinks.push(l.sink.clone());
        }
        // Traces: off unless an OTLP endpoint is configured (here or in OTEL_* env).
        let env = |name: &str| std::env::var(name).ok();
        let telemetry = match telemetry::Settings::resolve(config.telemetry.as_ref(), &env) {
            None => None,
            Some(settings) => {
                tracing::info!(
                    collector = %settings.endpoint_for_logs(),
                    "exporting traces over OTLP/HTTP"
                );
                let exporter = telemetry::Exporter::start(settings)
                    .map_err(|e| BuildError::Telemetry(e.to_string()))?;
                let exporter = Arc::new(exporter);
                sinks.push(exporter.clone());
                Some(exporter)
            }
        };
        // Cooldowns decided by other replicas land in this process's catalog; the
        // callback runs on the shared-state thread and finds the catalog through a
        // weak reference set once the state exists.
        let inner_ref: Arc<OnceLock<Weak<state::Inner>>> = Arc::new(OnceLock::new());
        let shared = match &config.redis {
            None => None,
            Some(url) => {
                let slot = inner_ref.clone();
                let on_remote: switchyard_shared_state::RemoteCallback =
                    Arc::new(move |label: &str, until_ms: u64| {
                        if let Some(inner) = slot.get().and_then(Weak::upgrade) {
                            let catalog = inner.catalog.load();
                            for d in catalog.deployments().filter(|d| d.label == label) {
                                d.health.apply_remote(until_ms);
                            }
                        }
                    });
                Some(
                    switchyard_shared_state::SharedCooldowns::start(url, "switchyard", on_remote)
                        .map_err(|e| BuildError::Redis(e.to_string()))?,
                )
            }
        };
        let limits = match &config.redis {
            None => None,
            Some(url) => Some(Arc::new(
                switchyard_shared_state::limits::RedisLimits::start(url, "switchyard")
                    .map_err(|e| BuildError::Redis(e.to_string()))?,
            )),
        };
        let state = AppState::new(Inner {
            catalog: ArcSwap::from_pointee(catalog),
            policy: Policy::new(config.master_key.clone()),
            connect_timeout: config.server.connect_timeout(),
            max_body: config.server.max_body_size(),
            inflight: AtomicI64::new(0),
            responses: Arc::new(response_store::ResponseStore::new(
                store.clone(),
                response_store::DEFAULT_TTL,
            )),
            store,
            sinks: sinks.into(),
            metrics,
            draining: AtomicBool::new(false),
            router: router::Settings::from_config(&config.router),
            shared,
            telemetry,
            limits,
            ledger,
            bodies: bodies::BodySettings::from_config(&config.ledger),
            base_config: Arc::new(config.clone()),
            secrets: governance::secrets::SecretBox::from_env(&|n| std::env::var(n).ok()),
        });
        let _ = inner_ref.set(state.downgrade());
        Ok(Gateway {
            state,
            shutdown_grace: config.server.shutdown_grace(),
            workers: config.server.workers(),
        })
    }

    /// The Prometheus registry: the ledger writer reports its queue through it.
    pub fn metrics(&self) -> Arc<metrics::Metrics> {
        self.state.metrics.clone()
    }

    /// The routes, bound to this gateway's state.
    pub fn router(&self) -> axum::Router {
        routes::router(self.state.clone())
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets in-flight
    /// requests and streams finish for up to the grace period.
    ///
    /// Thread per core: the calling task serves as one worker, and `workers - 1` more
    /// threads each run a single-threaded runtime accepting from the same socket, with
    /// their own upstream connection pools. A request then lives on one thread from
    /// accept to upstream and back, with no cross-thread wake-ups; on a loaded 2-core
    /// machine this measured ~35% less CPU per request than the work-stealing runtime
    /// (bench/RESULTS.md). Shared state (catalog, counters) is lock-free.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        // Background work on this runtime, stopped after the last request finished so
        // that its spend and records are written.
        let (bg_stop, bg_rx) = watch::channel(false);
        let mut background = Vec::new();
        if let Some(store) = state.store.clone() {
            let mut sync = governance::sync::Sync::new(store, state.policy.keys.clone())
                .with_limits(state.limits.clone())
                .with_catalog(state.clone());
            if let Err(e) = sync.refresh_keys().await {
                tracing::warn!(error = %e, "could not load virtual keys from the database");
            }
            if let Err(e) = sync.refresh_catalog(true).await {
                tracing::error!(error = %e, "runtime providers and models not applied");
            }
            background.push(tokio::spawn(sync.run(bg_rx.clone())));
        }
        let writer = state
            .ledger
            .as_ref()
            .and_then(|l| l.writer.lock().ok().and_then(|mut w| w.take()));
        // The ledger writer runs beside the other background work, on this runtime
        // (a thread of its own measured no faster on the benchmark machine).
        if let Some(writer) = writer {
            background.push(tokio::spawn(writer.run(bg_rx.clone())));
        }
        background.push(tokio::spawn(state.responses.clone().purge(bg_rx.clone())));
        let result = self.serve_inner(listener, shutdown).await;
        let _ = bg_stop.send(true);
        for task in background {
            if tokio::time::timeout(BACKGROUND_FLUSH_BOUND, task)
                .await
                .is_err()
            {
                tracing::warn!("background flush did not finish in time");
            }
        }
        // The spans of the last requests, within a short bound.
        state.flush_telemetry(TELEMETRY_FLUSH_BOUND).await;
        result
    }

    /// Loads the virtual keys from the database now (tests and tools that do not
    /// `serve`).
    pub async fn load_keys(&self) -> Result<(), switchyard_store::StoreError> {
        if let Some(store) = &self.state.store {
            governance::sync::Sync::new(store.clone(), self.state.policy.keys.clone())
                .refresh_keys()
                .await?;
        }
        Ok(())
    }

    /// Merges the runtime providers and models from the database into the catalog now.
    /// A name defined both in the config file and at runtime is an error (start-up
    /// refuses it; `switchyard check` reports it).
    pub async fn load_runtime_catalog(&self) -> Result<(), String> {
        let Some(store) = &self.state.store else {
            return Ok(());
        };
        governance::sync::Sync::new(store.clone(), self.state.policy.keys.clone())
            .with_catalog(self.state.clone())
            .refresh_catalog(true)
            .await
    }

    async fn serve_inner(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let grace = self.shutdown_grace;
        let (stop_tx, stop_rx) = watch::channel(false);
        let signal_state = state.clone();
        tokio::spawn(async move {
            shutdown.await;
            signal_state.draining.store(true, Ordering::Relaxed);
            tracing::info!(
                inflight = signal_state.inflight(),
                grace_ms = grace.as_millis() as u64,
                "shutting down: no new connections, waiting for in-flight requests"
            );
            let _ = stop_tx.send(true);
        });

        let mut threads = Vec::new();
        if self.workers > 1 {
            let std_listener = listener.into_std()?;
            for i in 1..self.workers {
                let l = std_listener.try_clone()?;
                let worker_state = state.for_worker();
                let rx = stop_rx.clone();
                let handle = std::thread::Builder::new()
                    .name(format!("switchyard-worker-{i}"))
                    .spawn(move || {
                        let rt = match tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                        {
                            Ok(rt) => rt,
                            Err(e) => {
                                tracing::error!(error = %e, "worker runtime failed to start");
                                return;
                            }
                        };
                        rt.block_on(async move {
                            match TcpListener::from_std(l) {
                                Ok(l) => {
                                    if let Err(e) = serve_worker(l, worker_state, rx, grace).await {
                                        tracing::error!(error = %e, "worker stopped with an error");
                                    }
                                }
                                Err(e) => tracing::error!(error = %e, "worker listener failed"),
                            }
                        });
                    })?;
                threads.push(handle);
            }
            let listener = TcpListener::from_std(std_listener)?;
            let res = serve_worker(listener, state, stop_rx, grace).await;
            join_workers(threads).await;
            res
        } else {
            serve_worker(listener, state, stop_rx, grace).await
        }
    }
}

/// How long the ledger and spend flushes may take after the last request.
const BACKGROUND_FLUSH_BOUND: Duration = Duration::from_secs(10);

/// Waits for the other workers' threads without blocking this runtime.
async fn join_workers(threads: Vec<std::thread::JoinHandle<()>>) {
    let _ = tokio::task::spawn_blocking(move || {
        for t in threads {
            let _ = t.join();
        }
    })
    .await;
}

/// One worker: accept, serve, and on the stop signal drain for up to `grace`.
async fn serve_worker(
    listener: TcpListener,
    state: AppState,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) -> std::io::Result<()> {
    let router = routes::router(state.clone());
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let mut stop_serving = stop.clone();
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop_serving.wait_for(|s| *s).await;
    });
    let deadline = async move {
        if stop.wait_for(|s| *s).await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        res = server => res,
        _ = deadline => {
            tracing::warn!(
                inflight = state.inflight(),
                "shutdown grace period over; cutting the remaining requests"
            );
            Ok(())
        }
    }
}
