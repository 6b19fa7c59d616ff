//! `GET /v1/responses/{id}` and `DELETE /v1/responses/{id}`: stored Responses API
//! answers (`store: true`), readable and deletable by the key that created them (or
//! the master key).

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use std::sync::Arc;
use switchyard_store::responses::StoredResponse;

#[utoipa::path(
    get,
    path = "/v1/responses/{id}",
    tag = "inference",
    operation_id = "getResponse",
    summary = "A stored Responses API answer (`store: true`), for the key that made it",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The response's id (`resp_…`)")),
    responses(
        (status = 200, description = "The response object as it was returned",
            body = crate::openapi::schemas::ResponsesResponse,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::StoredResponseErrors,
    )
)]
pub async fn get(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match find(&st, &headers, &id).await {
        Ok(r) => {
            let mut resp = Response::new(Body::from(r.response.clone()));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => e.into_response(),
    }
}

#[utoipa::path(
    delete,
    path = "/v1/responses/{id}",
    tag = "inference",
    operation_id = "deleteResponse",
    summary = "Delete a stored Responses API answer",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The response's id (`resp_…`)")),
    responses(
        (status = 200, description = "Deleted", body = crate::openapi::schemas::ResponseDeleted,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::StoredResponseErrors,
    )
)]
pub async fn delete(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = find(&st, &headers, &id).await {
        return e.into_response();
    }
    match st.responses.delete(&id).await {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(
                serde_json::json!({"id": id, "object": "response.deleted", "deleted": true}),
            ),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "could not delete a stored response");
            ApiError::unavailable("the stored response could not be deleted; retry shortly")
                .into_response()
        }
    }
}

async fn find(
    st: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<Arc<StoredResponse>, ApiError> {
    let principal = st.policy.authenticate(headers)?;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("not_found"),
            format!("No response with id '{id}' is stored (or it has expired)."),
        )
    };
    let found = st
        .responses
        .load(id, crate::response_store::now_ms())
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "could not read a stored response");
            ApiError::unavailable("the stored response could not be read; retry shortly")
        })?
        .ok_or_else(not_found)?;
    match principal.key() {
        Some(key) if found.key_id.as_deref() != Some(key.id.as_str()) => Err(not_found()),
        _ => Ok(found),
    }
}
