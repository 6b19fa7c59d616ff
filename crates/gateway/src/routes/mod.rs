//! The HTTP surface. The middleware order, outermost first:
//! 1. `request_id` — keeps or mints `x-request-id`, puts it on every response;
//! 2. the route handler, which calls the policy choke point (`Policy`) first.
//!
//! `GET /metrics` (Prometheus) and the health probes are unauthenticated; they go
//! through `request_id` too (it logs nothing, so a scrape writes no log line).

mod admin;
mod admin_common;
mod catalog_admin;
mod chat;
mod count_tokens;
mod health;
pub mod keys;
pub mod ledger;
mod media;
mod models;
mod stored_responses;
pub mod time;

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/chat/completions", post(chat::chat_completions))
        .route("/v1/messages", post(chat::messages))
        .route("/v1/responses", post(chat::responses))
        .route("/v1/embeddings", post(media::embeddings))
        .route("/embeddings", post(media::embeddings))
        .route("/v1/images/generations", post(media::images))
        .route("/v1/audio/transcriptions", post(media::transcriptions))
        .route("/v1/audio/speech", post(media::speech))
        .route(
            "/v1/responses/{id}",
            get(stored_responses::get).delete(stored_responses::delete),
        )
        .route(
            "/v1/messages/count_tokens",
            post(count_tokens::count_tokens),
        )
        .route("/v1/models", get(models::list))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/admin/deployments", get(admin::deployments))
        .route("/admin/keys", post(keys::create).get(keys::list))
        .route(
            "/admin/keys/{id}",
            get(keys::show).patch(keys::patch).delete(keys::revoke),
        )
        .route("/metrics", get(crate::metrics::scrape))
        .route(
            "/admin/providers",
            post(catalog_admin::create_provider).get(catalog_admin::list_providers),
        )
        .route(
            "/admin/providers/{name}",
            get(catalog_admin::get_provider)
                .patch(catalog_admin::patch_provider)
                .delete(catalog_admin::delete_provider),
        )
        .route(
            "/admin/models",
            post(catalog_admin::create_model).get(catalog_admin::list_models),
        )
        .route(
            "/admin/models/{name}",
            get(catalog_admin::get_model)
                .patch(catalog_admin::patch_model)
                .delete(catalog_admin::delete_model),
        )
        .route("/admin/requests", get(ledger::requests))
        .route("/admin/requests/{request_id}", get(ledger::request))
        .route("/admin/usage", get(ledger::usage))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// The request id of the current request (kept from the client or minted).
#[derive(Clone)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or("")
    }
}

async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(mint_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    resp.headers_mut().insert("x-request-id", id);
    resp
}

async fn wrong_method(req: Request) -> Response {
    ApiError::new(
        http::StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        Some("method_not_allowed"),
        format!("{} is not allowed on {}.", req.method(), req.uri().path()),
    )
    .into_response()
}

fn mint_request_id() -> HeaderValue {
    let id = format!("req_{}", uuid::Uuid::now_v7().simple());
    HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("req_unknown"))
}

async fn unknown_route(req: Request) -> Response {
    ApiError::not_found_route(req.method().as_str(), req.uri().path()).into_response()
}

/// Reads a request body up to `limit` bytes; larger bodies get 413 before being read whole.
pub async fn read_body(body: Body, headers: &HeaderMap, limit: u64) -> Result<Bytes, ApiError> {
    if let Some(len) = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit {
            return Err(ApiError::too_large(limit));
        }
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    axum::body::to_bytes(body, limit_usize).await.map_err(|e| {
        let mut cause: &dyn std::error::Error = &e;
        loop {
            if cause.is::<http_body_util::LengthLimitError>() {
                return ApiError::too_large(limit);
            }
            match cause.source() {
                Some(next) => cause = next,
                None => break,
            }
        }
        ApiError::bad_request(format!("could not read the request body: {e}"), None)
    })
}
