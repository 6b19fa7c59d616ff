//! `POST /v1/messages/count_tokens` (Anthropic): how many input tokens a Messages
//! request would use.
//!
//! When the model has an Anthropic deployment the question goes to Anthropic (its
//! count is exact for its tokenizer, images and tools included); otherwise it is
//! answered here with the gateway's tokenizer (`o200k_base`), an estimate for models
//! whose tokenizers differ.

use crate::catalog::{Deployment, Resolved};
use crate::error::{ApiError, ErrorShape};
use crate::governance::tokens;
use crate::providers;
use crate::router::health::now_ms;
use crate::routes::{read_body, RequestId};
use crate::state::AppState;
use crate::upstream;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue};
use std::sync::Arc;
use switchyard_adapters::openai::fastpath;
use switchyard_adapters::WireFormat;

const SHAPE: ErrorShape = ErrorShape::Anthropic;

#[utoipa::path(
    post,
    path = "/v1/messages/count_tokens",
    tag = "inference",
    operation_id = "countTokens",
    summary = "Anthropic token counting",
    description = "Exact from Anthropic when the model has an Anthropic deployment; otherwise estimated here with `o200k_base`. Errors are in Anthropic's shape.",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    request_body(content = crate::openapi::schemas::CountTokensRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The prompt's input tokens", body = crate::openapi::schemas::CountTokensResponse,
            headers(
                ("x-request-id" = String, description = "The request's id"),
                ("x-switchyard-deployment" = String, description = "The Anthropic deployment that counted, when one did"),
            )),
        crate::openapi::CountTokensErrors,
    )
)]
pub async fn count_tokens(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let principal = match st.policy.authenticate(&headers) {
        Ok(p) => p,
        Err(e) => return e.respond(SHAPE),
    };
    let bytes = match read_body(body, &headers, st.max_body).await {
        Ok(b) => b,
        Err(e) => return e.respond(SHAPE),
    };
    let peek = match fastpath::peek(&bytes) {
        Ok(p) => p,
        Err(e) => return ApiError::bad_request(e.message, e.param).respond(SHAPE),
    };
    let catalog = st.catalog.load_full();
    let Some(resolved) = catalog.resolve(&peek.model) else {
        return ApiError::model_not_found(&peek.model).respond(SHAPE);
    };
    if let Err(e) = st.policy.authorize_model(&principal, &peek.model) {
        return e.respond(SHAPE);
    }
    if let Some(d) = anthropic_deployment(&resolved) {
        let body = Bytes::from(peek.upstream_body_with(&d.model, &super::chat::NATIVE_BODY));
        return forward(&st, &rid, &d, body, &headers).await;
    }
    let mut input_tokens = tokens::estimate_prompt(peek.raw("messages").unwrap_or("[]"), None);
    if let Some(system) = peek.raw("system") {
        input_tokens += tokens::estimate_system(system);
    }
    if let Some(tools) = peek.raw("tools").filter(|t| *t != "null") {
        input_tokens += tokens::estimate_system(tools);
    }
    let body = serde_json::to_vec(&serde_json::json!({ "input_tokens": input_tokens }))
        .unwrap_or_default();
    json(http::StatusCode::OK, Bytes::from(body))
}

/// The model's first Anthropic-format deployment that is not cooling down.
fn anthropic_deployment(resolved: &Resolved) -> Option<Arc<Deployment>> {
    let now = now_ms();
    let usable = |d: &Arc<Deployment>| {
        d.provider.wire == WireFormat::AnthropicMessages
            && !matches!(
                d.health.availability(now),
                crate::router::health::Availability::CoolingDown { .. }
            )
    };
    match resolved {
        Resolved::Public(m) => m.deployments.iter().find(|d| usable(d)).cloned(),
        Resolved::Direct(d) => usable(d).then(|| d.clone()),
    }
}

async fn forward(
    st: &AppState,
    rid: &RequestId,
    d: &Arc<Deployment>,
    body: Bytes,
    headers: &HeaderMap,
) -> Response {
    let provider = &d.provider;
    let key = provider.pick_key(now_ms());
    let forward = super::chat::forwarded_headers(headers);
    let Some(up) = providers::native_request(
        provider,
        "v1/messages/count_tokens",
        body,
        &d.model,
        key.key(),
        &forward,
    ) else {
        return ApiError::bad_request("this model cannot count tokens", None).respond(SHAPE);
    };
    let http = st.client_for(d.connect_timeout);
    let failed = |e: &switchyard_adapters::UpstreamError| {
        ApiError::from_upstream(e, &d.label, &provider.secrets()).respond(SHAPE)
    };
    let resp = match upstream::send(http, up, rid.as_str(), d.timeout).await {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    let status = resp.status();
    let (parts, body) = resp.into_parts();
    let body = match upstream::read_body(body, d.timeout).await {
        Ok(b) => b,
        Err(e) => return failed(&e),
    };
    if !status.is_success() {
        let e = provider
            .adapter
            .classify_error(status.as_u16(), &parts.headers, &body);
        return failed(&e);
    }
    let mut resp = json(status, body);
    if let Ok(v) = HeaderValue::from_str(&d.label) {
        resp.headers_mut().insert("x-switchyard-deployment", v);
    }
    resp
}

fn json(status: http::StatusCode, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
