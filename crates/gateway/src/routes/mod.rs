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
use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every route, each registered with its `#[utoipa::path]` documentation: a route
/// added here is in `GET /openapi.json` (see `crate::openapi`).
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .routes(routes!(chat::chat_completions))
        .routes(routes!(chat::chat_completions_unversioned))
        .routes(routes!(chat::messages))
        .routes(routes!(chat::responses))
        .routes(routes!(stored_responses::get, stored_responses::delete))
        .routes(routes!(media::embeddings))
        .routes(routes!(media::images))
        .routes(routes!(media::transcriptions))
        .routes(routes!(media::speech))
        .routes(routes!(count_tokens::count_tokens))
        .routes(routes!(models::list))
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(crate::metrics::scrape))
        .routes(routes!(crate::openapi::serve))
        .routes(routes!(admin::deployments))
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::show, keys::patch, keys::revoke))
        .routes(routes!(
            catalog_admin::create_provider,
            catalog_admin::list_providers
        ))
        .routes(routes!(
            catalog_admin::get_provider,
            catalog_admin::patch_provider,
            catalog_admin::delete_provider
        ))
        .routes(routes!(
            catalog_admin::create_model,
            catalog_admin::list_models
        ))
        .routes(routes!(
            catalog_admin::get_model,
            catalog_admin::patch_model,
            catalog_admin::delete_model
        ))
        .routes(routes!(ledger::requests))
        .routes(routes!(ledger::request))
        .routes(routes!(ledger::usage))
}

pub fn router(state: AppState) -> Router {
    routes().clone().with_state(state)
}

/// The routes without their state, built once: generating the document is not free, and
/// every worker thread (and every gateway of a test process) serves the same routes.
fn routes() -> &'static Router<AppState> {
    static ROUTES: std::sync::OnceLock<Router<AppState>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| {
        let (router, doc) = api_router().split_for_parts();
        crate::openapi::publish(doc);
        router
            .fallback(unknown_route)
            .method_not_allowed_fallback(wrong_method)
            .layer(middleware::from_fn(request_id))
    })
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
