//! `GET /v1/models`: the catalog the caller may use, in OpenAI's list shape.

use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::HeaderMap;
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "models",
    operation_id = "listModels",
    summary = "The models the key may use (OpenAI list shape)",
    description = "Public models first, then deployments addressable as `provider/model`.",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The list", body = crate::openapi::schemas::ModelList,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::KeyErrors,
    )
)]
pub async fn list(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let principal = match st.policy.authenticate(&headers) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let catalog = st.catalog.load();
    let mut data: Vec<Value> = Vec::new();
    for name in &catalog.order {
        if st.policy.authorize_model(&principal, name).is_ok() {
            data.push(json!({"id": name, "object": "model", "created": catalog.created, "owned_by": "switchyard"}));
        }
    }
    // Deployments are addressable directly as provider/model.
    let direct: BTreeSet<(&str, &str)> = catalog
        .deployments()
        .map(|d| (d.label.as_str(), d.provider.name.as_str()))
        .collect();
    for (label, provider) in direct {
        if st.policy.authorize_model(&principal, label).is_ok()
            && !catalog.models.contains_key(label)
        {
            data.push(json!({"id": label, "object": "model", "created": catalog.created, "owned_by": provider}));
        }
    }
    Json(json!({"object": "list", "data": data})).into_response()
}
