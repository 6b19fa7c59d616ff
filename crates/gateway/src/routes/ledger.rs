//! The ledger's admin API (master key only): `GET /admin/requests`,
//! `GET /admin/requests/{request_id}` and `GET /admin/usage`.
//!
//! Times (`from`, `to`) are RFC 3339 (`2026-11-22T10:00:00Z`), a UTC date
//! (`2026-11-22`) or unix seconds.

use crate::error::ApiError;
use crate::routes::admin_common::db_error;
pub use crate::routes::time::parse_time;

use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;
use switchyard_store::{RequestFilter, UsageBucket as Bucket, UsageGroup as GroupBy, UsageQuery};
use utoipa::IntoParams;

fn admin(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let principal = st.policy.authenticate(headers)?;
    st.policy.authorize_admin(&principal)
}

fn store(st: &AppState) -> Result<&switchyard_store::Store, ApiError> {
    st.store.as_ref().ok_or_else(|| {
        ApiError::unavailable("the request ledger needs a database (`database:` in the config)")
    })
}

/// A query string that does not parse (`limit=abc`): a 400 in the API's error shape,
/// not axum's plain-text rejection.
fn bad_query(e: &QueryRejection) -> Response {
    ApiError::bad_request(format!("invalid query string: {}", e.body_text()), None).into_response()
}

fn now_ms() -> i64 {
    i64::try_from(crate::router::health::now_ms()).unwrap_or(i64::MAX)
}

/// Filters of `GET /admin/requests`; they combine with AND.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestsParams {
    /// A virtual key's id.
    key: Option<String>,
    /// The public model asked for.
    model: Option<String>,
    /// `provider/model`.
    deployment: Option<String>,
    /// The API called: `chat.completions`, `messages`, `responses`, `embeddings`,
    /// `images.generations`, `audio.transcriptions`, `audio.speech`.
    endpoint: Option<String>,
    /// An HTTP status code (three digits); empty: any.
    #[param(pattern = "^([0-9]{3})?$")]
    status: Option<String>,
    /// `ok`, `rejected`, `upstream_error`, `stream_error`, `client_disconnected`.
    outcome: Option<String>,
    /// RFC 3339, a date (`2026-11-22`) or unix seconds; inclusive.
    from: Option<String>,
    /// RFC 3339, a date or unix seconds; exclusive.
    to: Option<String>,
    /// Rows per page (default 50; more than 1000 gives 1000).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4_294_967_295_i64)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/admin/requests",
    tag = "admin",
    operation_id = "listRequests",
    summary = "The request log, newest first, one page",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(RequestsParams),
    responses(
        (status = 200, description = "A page of requests", body = crate::openapi::schemas::RequestPage,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminQueryErrors,
    )
)]
pub async fn requests(
    State(st): State<AppState>,
    headers: HeaderMap,
    p: Result<Query<RequestsParams>, QueryRejection>,
) -> Response {
    let p = match p {
        Ok(Query(p)) => p,
        Err(e) => return bad_query(&e),
    };
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
        cursor: p.cursor.filter(|c| !c.is_empty()),
    };
    let page = store.list_requests(&filter).await.map_err(|e| match e {
        // The client's cursor, not the database: a 400 naming it.
        switchyard_store::StoreError::InvalidCursor => ApiError::bad_request(
            "`cursor` must be the `next_cursor` of a previous page",
            Some("cursor".into()),
        )
        .into_response(),
        e => db_error(e),
    })?;
    Ok(Json(json!({
        "object": "list",
        "data": page.rows,
        "next_cursor": page.next_cursor,
    }))
    .into_response())
}

#[utoipa::path(
    get,
    path = "/admin/requests/{request_id}",
    tag = "admin",
    operation_id = "getRequest",
    summary = "One request of the log",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(("request_id" = String, Path, description = "The `x-request-id` of the request")),
    responses(
        (status = 200, description = "The request", body = switchyard_store::LedgerRow,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminEntryErrors,
    )
)]
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

/// `GET /admin/usage`: grouping, bucket and time range (default: the last 7 days).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// Default `model`.
    #[param(value_type = Option<crate::openapi::schemas::UsageGroupBy>)]
    group_by: Option<String>,
    /// Default `day`.
    #[param(value_type = Option<crate::openapi::schemas::UsageBucketSize>)]
    bucket: Option<String>,
    /// RFC 3339, a date (`2026-11-22`) or unix seconds; inclusive.
    from: Option<String>,
    /// RFC 3339, a date or unix seconds; exclusive.
    to: Option<String>,
}

#[utoipa::path(
    get,
    path = "/admin/usage",
    tag = "admin",
    operation_id = "usage",
    summary = "Usage grouped and bucketed (UTC), with latency percentiles",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(UsageParams),
    responses(
        (status = 200, description = "Usage rows", body = crate::openapi::schemas::UsageList,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminQueryErrors,
    )
)]
pub async fn usage(
    State(st): State<AppState>,
    headers: HeaderMap,
    p: Result<Query<UsageParams>, QueryRejection>,
) -> Response {
    let p = match p {
        Ok(Query(p)) => p,
        Err(e) => return bad_query(&e),
    };
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
