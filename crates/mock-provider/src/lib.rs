//! `switchyard-mock-provider`: a simulated LLM upstream speaking every provider's wire
//! format, with the same latency and fault knobs on each.
//!
//! It stands in for real providers in tests and benchmarks.
//!
//! # Routes
//!
//! Every `POST` route may be preceded by knob segments (see below), e.g. a gateway
//! `base_url` of `http://mock/status=429,fail_times=1` plus the provider's usual path.
//!
//! | route | format |
//! |---|---|
//! | `POST …/chat/completions` | OpenAI Chat Completions (JSON, or SSE with `stream`) |
//! | `POST …/openai/deployments/{deployment}/chat/completions?api-version=…` | Azure OpenAI chat |
//! | `POST …/v1/messages` | Anthropic Messages (JSON, or SSE with `stream`) |
//! | `POST …/v1beta/models/{model}:generateContent`, `:streamGenerateContent[?alt=sse]` | Gemini (AI Studio) |
//! | `POST …/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent`, `:streamGenerateContent` | Gemini on Vertex AI (bearer token from `…/token` required) |
//! | `POST …/token` | fake Google OAuth2 token endpoint (JWT-bearer grant) |
//! | `POST …/model/{modelId}/converse`, `…/converse-stream` | Bedrock Converse (SigV4-shaped auth required; event-stream frames) |
//! | `POST …/embeddings`, `…/images/generations`, `…/audio/transcriptions` (multipart), `…/audio/speech` | OpenAI media (also under Azure's `…/openai/deployments/{d}/…?api-version=`), see `media.rs` |
//! | `POST …/v1beta/models/{model}:batchEmbedContents`, `:predict` | Gemini embeddings, Imagen |
//! | `POST …/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:predict` | Vertex embeddings or Imagen (`imagen*`), token required |
//! | `POST …/model/{modelId}/invoke` | Bedrock `amazon.titan-embed*` / `cohere.embed*` embeddings (SigV4-shaped auth required) |
//! | `GET …/files/img-*.png` | the PNG behind image `url` answers |
//! | `GET …/models` | an OpenAI model list |
//! | `GET /_mock/stats`, `GET /_mock/requests`, `POST /_mock/reset` | control |
//!
//! Anything else is an OpenAI-shaped 404.
//!
//! Authentication checked: Azure wants `api-version` (404 `Resource not found` without,
//! 400 when not `YYYY-MM-DD[-preview]`) and an `api-key` header or `Authorization: Bearer`
//! (401); Vertex wants `Authorization: Bearer ya29.mock-<n>` issued by the token endpoint
//! (401 `UNAUTHENTICATED`); Bedrock wants `Authorization: AWS4-HMAC-SHA256
//! Credential=…/<day>/<region>/bedrock/aws4_request, SignedHeaders=…host…x-amz-date…,
//! Signature=<64 hex>` and `x-amz-date` (403 `Missing Authentication Token` with
//! `x-amzn-ErrorType: UnrecognizedClientException` when either header is missing, 403
//! `InvalidSignatureException` when malformed). OpenAI, Anthropic and AI Studio keys are
//! only recorded.
//!
//! # Knobs
//!
//! Behaviour is chosen per request, from lowest to highest precedence, by
//! [`MockConfig::defaults`], `key=value[,key=value]` path segments before the provider's
//! path, `x-mock-<key>` request headers and a `"mock"` object in the JSON body. Keys
//! ([`BEHAVIOR_KEYS`], `_` or `-`, any case):
//!
//! - `status`, `fail_times`, `error_message`, `retry_after`, `retry_after_ms`: answer an
//!   HTTP error in the format's own shape (for the first `fail_times` requests on the path);
//! - `headers_delay_ms`, `ttft_ms`, `delay_ms` (between tokens), `tokens` (reply length,
//!   default 12);
//! - `drop_after`: abort a stream after N content tokens;
//! - `stream_error`: end a stream, after `drop_after` tokens (default 0), with the format's
//!   in-stream error event (`overloaded_error`, `rate_limit_error`, `api_error`,
//!   `invalid_request_error`, `model_stream_error`, or a provider's own name for them);
//! - `cached_tokens`: report that many prompt tokens as cache reads;
//! - `content_filter=prompt|response`: a filtered prompt (Azure's 400 `content_filter`)
//!   or a completion cut short with the content-filter finish reason;
//! - `expires_in`: lifetime of tokens from the token endpoint.
//!
//! # Control
//!
//! `GET /_mock/stats`: `total`, `inflight`, `completed`, `cancelled`, `aborted` (streams the
//! mock ended on purpose: `drop_after`, `stream_error`), per-path counts (`paths`), requests
//! per format (`formats`: openai, azure, anthropic, gemini, vertex, bedrock) and
//! `token_requests`. `GET /_mock/requests` (with [`MockConfig::record`]): the last 100
//! requests as `{format, method, path, query, headers, body}`, token requests with their
//! `form` fields and decoded `jwt` header and claims. `POST /_mock/reset` clears counters
//! and recordings; Vertex tokens already issued stay valid.
//!
//! # Replies
//!
//! Every format reads its request into the same summary and answers alike: a tool call
//! when tools are offered (unless tool choice is none or the last message is a tool
//! result), a quote of the tool result after one, JSON when JSON output is requested,
//! reasoning first when reasoning is requested, `I see N image(s).` before the default
//! text when images are present. See `content.rs` for the exact rules.

mod anthropic;
mod azure;
mod bedrock;
mod behavior;
mod content;
mod count_tokens;
mod gemini;
mod handler;
mod http;
mod json;
mod media;
mod oauth;
mod openai;
mod record;
mod routes;
mod schema;
mod state;
mod stream;
mod summary;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::Response;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;

pub use behavior::{parse_behavior_spec, Behavior, ContentFilter, StreamErrorKind, BEHAVIOR_KEYS};

use routes::Route;
use state::State;

/// Configuration of a mock provider instance.
#[derive(Clone, Debug, Default)]
pub struct MockConfig {
    /// Behaviour used when a request does not override it.
    pub defaults: Behavior,
    /// Keep the last 100 requests for `GET /_mock/requests` (off by default).
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
    // `Uri` clones share their bytes; the copy outlives `req`, which the handlers consume.
    let uri = req.uri().clone();
    let (route, knob_len) = routes::route(req.method(), &uri);
    let knobs = uri.path().get(..knob_len).unwrap_or("");
    match route {
        Route::OpenAi => handler::handle(state, req, openai::OpenAi, knobs).await,
        Route::Azure { deployment } => {
            handler::handle(state, req, azure::Azure { deployment }, knobs).await
        }
        Route::Anthropic => handler::handle(state, req, anthropic::Anthropic, knobs).await,
        Route::AnthropicCountTokens => count_tokens::handle(state, req).await,
        Route::Gemini(api) => handler::handle(state, req, api, knobs).await,
        Route::Bedrock(api) => handler::handle(state, req, api, knobs).await,
        Route::Media(m) => media::handle(state, req, m, knobs).await,
        Route::File => media::file(),
        Route::Token => oauth::token(state, req, knobs).await,
        Route::Models => openai::models(),
        Route::NotFound => openai::not_found(req.method().as_str(), uri.path()),
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
