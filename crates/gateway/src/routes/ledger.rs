//! The ledger's admin API (master key only): `GET /admin/requests`,
//! `GET /admin/requests/{request_id}` and `GET /admin/usage`.
//!
//! Times (`from`, `to`) are RFC 3339 (`2026-11-22T10:00:00Z`), a UTC date
//! (`2026-11-22`) or unix seconds.

use crate::error::ApiError;
use crate::routes::admin_common::db_error;
pub use crate::routes::time::parse_time;

use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;
use switchyard_store::{RequestFilter, UsageBucket as Bucket, UsageGroup as GroupBy, UsageQuery};

fn admin(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let principal = st.policy.authenticate(headers)?;
    st.policy.authorize_admin(&principal)
}

fn store(st: &AppState) -> Result<&switchyard_store::Store, ApiError> {
    st.store.as_ref().ok_or_else(|| {
        ApiError::unavailable("the request ledger needs a database (`database:` in the config)")
    })
}

fn now_ms() -> i64 {
    i64::try_from(crate::router::health::now_ms()).unwrap_or(i64::MAX)
}

#[derive(Deserialize)]
pub struct RequestsParams {
    key: Option<String>,
    model: Option<String>,
    deployment: Option<String>,
    endpoint: Option<String>,
    status: Option<String>,
    outcome: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn requests(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<RequestsParams>,
) -> Response {
    match requests_inner(&st, &headers, p).await {
        Ok(r) | Err(r) => r,
    }
}

async fn requests_inner(
    st: &AppState,
    headers: &HeaderMap,
    p: RequestsParams,
) -> Result<Response, Response> {
    admin(st, headers).map_err(IntoResponse::into_response)?;
    let store = store(st).map_err(IntoResponse::into_response)?;
    let status = match p.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(s.parse::<u16>().map_err(|_| {
            ApiError::bad_request(
                "`status` must be an HTTP status code",
                Some("status".into()),
            )
            .into_response()
        })?),
    };
    let filter = RequestFilter {
        key_id: p.key,
        model: p.model,
        deployment: p.deployment,
        endpoint: p.endpoint,
        status,
        outcome: p.outcome,
        from_ms: p
            .from
            .as_deref()
            .map(|v| parse_time("from", v))
            .transpose()
            .map_err(IntoResponse::into_response)?,
        to_ms: p
            .to
            .as_deref()
            .map(|v| parse_time("to", v))
            .transpose()
            .map_err(IntoResponse::into_response)?,
        limit: p.limit,
        cursor: p.cursor,
    };
    let page = store.list_requests(&filter).await.map_err(db_error)?;
    Ok(Json(json!({
        "object": "list",
        "data": page.rows,
        "next_cursor": page.next_cursor,
    }))
    .into_response())
}

pub async fn request(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = admin(&st, &headers) {
        return e.into_response();
    }
    let store = match store(&st) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    match store.get_request(&id).await {
        Ok(Some(row)) => Json(row).into_response(),
        Ok(None) => ApiError::not_found(format!(
            "no request `{id}` in the ledger (it may not be written yet, or is past retention)"
        ))
        .into_response(),
        Err(e) => db_error(e),
    }
}

#[derive(Deserialize)]
pub struct UsageParams {
    group_by: Option<String>,
    bucket: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub async fn usage(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<UsageParams>,
) -> Response {
    match usage_inner(&st, &headers, p).await {
        Ok(r) | Err(r) => r,
    }
}

async fn usage_inner(
    st: &AppState,
    headers: &HeaderMap,
    p: UsageParams,
) -> Result<Response, Response> {
    admin(st, headers).map_err(IntoResponse::into_response)?;
    let store = store(st).map_err(IntoResponse::into_response)?;
    let invalid = |param: &str, allowed: &str| {
        ApiError::bad_request(
            format!("`{param}` must be one of: {allowed}"),
            Some(param.to_string()),
        )
        .into_response()
    };
    let group_by = match p.group_by.as_deref().unwrap_or("model") {
        "model" => GroupBy::Model,
        "key" => GroupBy::Key,
        "deployment" => GroupBy::Deployment,
        "provider" => GroupBy::Provider,
        "endpoint" => GroupBy::Endpoint,
        _ => {
            return Err(invalid(
                "group_by",
                "model, key, deployment, provider, endpoint",
            ))
        }
    };
    let bucket = match p.bucket.as_deref().unwrap_or("day") {
        "hour" => Bucket::Hour,
        "day" => Bucket::Day,
        _ => return Err(invalid("bucket", "hour, day")),
    };
    let to_ms = match p.to.as_deref() {
        Some(v) => parse_time("to", v).map_err(IntoResponse::into_response)?,
        None => now_ms(),
    };
    let from_ms = match p.from.as_deref() {
        Some(v) => parse_time("from", v).map_err(IntoResponse::into_response)?,
        None => to_ms - 7 * 86_400_000,
    };
    if from_ms >= to_ms {
        return Err(
            ApiError::bad_request("`from` must be before `to`", Some("from".into()))
                .into_response(),
        );
    }
    let rows = store
        .usage(&UsageQuery {
            group_by,
            bucket,
            from_ms,
            to_ms,
        })
        .await
        .map_err(db_error)?;
    Ok(Json(json!({"object": "list", "data": rows})).into_response())
}
