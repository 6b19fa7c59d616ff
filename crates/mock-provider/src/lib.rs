//! `switchyard-mock-provider`: a simulated OpenAI-compatible upstream.
//!
//! It stands in for real LLM providers in tests and benchmarks. Behaviour (faults,
//! delays, reply length, stream aborts) is chosen per request, from lowest to highest
//! precedence, by [`MockConfig::defaults`], `key=value` path segments before
//! `/chat/completions`, `x-mock-<key>` request headers and a `"mock"` object in the
//! JSON request body. See [`Behavior`] and [`parse_behavior_spec`].
//!
//! Routes: `POST …/chat/completions`, `GET …/models`, `GET /_mock/stats`,
//! `GET /_mock/requests`, `POST /_mock/reset`; anything else is an OpenAI-shaped 404.

mod behavior;
mod chat;
mod errors;
mod json;
mod request;
mod state;
mod stream;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;

pub use behavior::{parse_behavior_spec, Behavior, BEHAVIOR_KEYS};

use state::State;

/// Configuration of a mock provider instance.
#[derive(Clone, Debug, Default)]
pub struct MockConfig {
    /// Behaviour used when a request does not override it.
    pub defaults: Behavior,
    /// Keep the last 100 chat requests for `GET /_mock/requests` (off by default).
    pub record: bool,
}

/// The whole mock application.
pub fn router(cfg: MockConfig) -> Router {
    let state = Arc::new(State::new(cfg));
    Router::new()
        .route("/_mock/stats", get(stats))
        .route("/_mock/requests", get(requests))
        .route("/_mock/reset", post(reset))
        .fallback(dispatch)
        .with_state(state)
}

/// Serve the mock on `listener` (with `TCP_NODELAY` on every accepted socket).
pub async fn serve(listener: tokio::net::TcpListener, cfg: MockConfig) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::trace!("failed to set TCP_NODELAY: {err}");
        }
    });
    axum::serve(listener, router(cfg)).await
}

/// Bind `127.0.0.1:0` and serve the mock in a background task (for tests).
pub async fn spawn(cfg: MockConfig) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let handle = tokio::spawn(async move {
        if let Err(err) = serve(listener, cfg).await {
            tracing::error!("mock provider stopped: {err}");
        }
    });
    Ok((addr, handle))
}

async fn dispatch(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    req: Request,
) -> Response<Body> {
    let path = req.uri().path();
    let method = req.method();
    if *method == Method::POST && chat::is_chat_path(path) {
        chat::chat(state, req).await
    } else if *method == Method::GET && path.ends_with("/models") {
        chat::models()
    } else {
        chat::not_found(method.as_str(), path)
    }
}

async fn stats(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> axum::Json<serde_json::Value> {
    axum::Json(state.stats_json())
}

async fn requests(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> axum::Json<Vec<serde_json::Value>> {
    axum::Json(state.recorded())
}

async fn reset(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> axum::Json<serde_json::Value> {
    state.reset();
    axum::Json(serde_json::json!({"reset": true}))
}
