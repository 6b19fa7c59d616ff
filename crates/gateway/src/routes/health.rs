//! Liveness (no dependencies) and readiness (database, Redis; draining on shutdown).

use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[utoipa::path(
    get,
    path = "/health/live",
    tag = "operations",
    operation_id = "live",
    summary = "Liveness (no dependencies)",
    security(()),
    responses(
        (status = 200, description = "The process serves", body = crate::openapi::schemas::Liveness,
            headers(("x-request-id" = String, description = "The request's id"))),
    )
)]
pub async fn live() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "operations",
    operation_id = "ready",
    summary = "Readiness (database, Redis; draining on shutdown)",
    security(()),
    responses(
        (status = 200, description = "Ready", body = crate::openapi::schemas::Readiness,
            headers(("x-request-id" = String, description = "The request's id"))),
        (status = 503, description = "Draining, or the database or Redis does not answer", body = crate::openapi::schemas::Readiness,
            headers(("x-request-id" = String, description = "The request's id"))),
    )
)]
pub async fn ready(State(st): State<AppState>) -> Response {
    if st.draining.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
            .into_response();
    }
    let database = match &st.store {
        None => json!({"status": "disabled"}),
        Some(store) => match tokio::time::timeout(Duration::from_secs(2), store.ping()).await {
            Ok(Ok(())) => json!({"status": "ok", "backend": store.backend()}),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: database ping failed");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"status": "unavailable", "database": {"status": "error", "backend": store.backend()}})),
                )
                    .into_response();
            }
            Err(_) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"status": "unavailable", "database": {"status": "timeout", "backend": store.backend()}})),
                )
                    .into_response()
            }
        },
    };
    let redis = match &st.shared {
        None => json!({"status": "disabled"}),
        Some(shared) if shared.connected() => json!({"status": "ok"}),
        Some(_) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": database, "redis": {"status": "unavailable"}})),
            )
                .into_response()
        }
    };
    Json(json!({"status": "ok", "database": database, "redis": redis})).into_response()
}
