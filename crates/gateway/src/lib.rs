//! The Switchyard gateway: HTTP server, policy choke point, catalog and router,
//! upstream transport and stream relay. See ARCHITECTURE.md for the request's path.

pub mod catalog;
pub mod error;
pub mod observe;
pub mod policy;
pub mod relay;
pub mod routes;
pub mod state;
pub mod upstream;

use crate::catalog::{Catalog, CatalogError};
use crate::policy::Policy;
use crate::state::{AppState, Inner};
use arc_swap::ArcSwap;
use axum::serve::ListenerExt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use switchyard_config::Config;
use switchyard_store::Store;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("could not create the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A gateway ready to serve: its state (for tests and the binary) and its routes.
pub struct Gateway {
    pub state: AppState,
    pub router: axum::Router,
    pub shutdown_grace: Duration,
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
        let catalog = Catalog::build(config)?;
        let state = AppState::new(Inner {
            catalog: ArcSwap::from_pointee(catalog),
            policy: Policy::new(config.master_key.clone()),
            http: upstream::client(config.server.connect_timeout())?,
            max_body: config.server.max_body_size(),
            inflight: AtomicI64::new(0),
            store,
            sinks: sinks.into(),
            draining: AtomicBool::new(false),
        });
        Ok(Gateway {
            router: routes::router(state.clone()),
            state,
            shutdown_grace: config.server.shutdown_grace(),
        })
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets in-flight
    /// requests and streams finish for up to the grace period.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let grace = self.shutdown_grace;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            state.draining.store(true, Ordering::Relaxed);
            tracing::info!(
                inflight = state.inflight(),
                grace_ms = grace.as_millis() as u64,
                "shutting down: no new connections, waiting for in-flight requests"
            );
            let _ = tx.send(());
        };
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = axum::serve(listener, self.router).with_graceful_shutdown(signal);
        let deadline = async move {
            if rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            res = server => {
                tracing::info!("all connections closed; stopped");
                res
            }
            _ = deadline => {
                tracing::warn!(
                    inflight = self.state.inflight(),
                    "shutdown grace period over; cutting the remaining requests"
                );
                Ok(())
            }
        }
    }
}
