//! `/admin/keys` (master key only): create (the key is shown once), list, show, patch,
//! revoke. Keys are stored as SHA-256 hashes; every replica's cache picks a change up
//! within a second (this replica's at once).

// The admin handlers' helpers return the finished error response early; a large `Err`
// on this cold path costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

use crate::error::ApiError;
use crate::governance::keys::{self, KeyCache};
use crate::governance::period::Period;
use crate::governance::sync::Sync;
use crate::routes::admin_common::{self, admin_store, db_api_error, db_error};
use crate::routes::time::parse_time;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};
use switchyard_store::{KeyPatch, KeyRecord, NewKey, Store};

fn admin<'a>(st: &'a AppState, headers: &HeaderMap) -> Result<&'a Store, Response> {
    admin_store(st, headers, "virtual keys")
}

fn bad(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message, Some(param.to_string()))
}

/// Reads an optional non-negative integer field; `Some(None)` for an explicit null.
fn opt_u64(obj: &Map<String, Value>, field: &str) -> Result<Option<Option<u64>>, ApiError> {
    match obj.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        // Stored as a signed 64-bit integer: larger values would be cut silently.
        Some(v) => v
            .as_u64()
            .filter(|n| i64::try_from(*n).is_ok())
            .map(|n| Some(Some(n)))
            .ok_or_else(|| {
                bad(
                    field,
                    format!("`{field}` must be a non-negative integer below 2^63"),
                )
            }),
    }
}

fn opt_budget(obj: &Map<String, Value>) -> Result<Option<Option<f64>>, ApiError> {
    match obj.get("budget_usd") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => match v.as_f64() {
            Some(b) if b.is_finite() && b >= 0.0 => Ok(Some(Some(b))),
            _ => Err(bad(
                "budget_usd",
                "`budget_usd` must be a non-negative number",
            )),
        },
    }
}

fn opt_period(obj: &Map<String, Value>) -> Result<Option<Option<String>>, ApiError> {
    match obj.get("budget_period") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if Period::parse(s).is_some() => Ok(Some(Some(s.clone()))),
        Some(_) => Err(bad(
            "budget_period",
            "`budget_period` must be one of day, week, month, total",
        )),
    }
}

fn opt_models(obj: &Map<String, Value>) -> Result<Option<Vec<String>>, ApiError> {
    match obj.get("models") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|m| {
                m.as_str()
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        bad(
                            "models",
                            "`models` must be an array of model names or `provider/*` patterns",
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad("models", "`models` must be an array of model names")),
    }
}

/// `metadata`: an object (null clears it).
fn opt_metadata(obj: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    match obj.get("metadata") {
        None => Ok(None),
        Some(v @ (Value::Null | Value::Object(_))) => Ok(Some(v.clone())),
        Some(_) => Err(bad("metadata", "`metadata` must be an object")),
    }
}

fn opt_expiry(obj: &Map<String, Value>) -> Result<Option<Option<i64>>, ApiError> {
    match obj.get("expires_at") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => parse_time("expires_at", s).map(|t| Some(Some(t))),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|s| s.checked_mul(1000))
            .map(|t| Some(Some(t)))
            .ok_or_else(|| bad("expires_at", "`expires_at` must be a time")),
        Some(_) => Err(bad(
            "expires_at",
            "`expires_at` must be RFC 3339 or unix seconds",
        )),
    }
}

const FIELDS: &[&str] = &[
    "name",
    "models",
    "budget_usd",
    "budget_period",
    "rpm",
    "tpm",
    "max_concurrency",
    "expires_at",
    "metadata",
];

fn object(body: &[u8]) -> Result<Map<String, Value>, Response> {
    let o = admin_common::object(body)?;
    if let Some(unknown) = o.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(bad(
            unknown,
            format!(
                "unknown field `{unknown}`; known fields: {}",
                FIELDS.join(", ")
            ),
        )
        .into_response());
    }
    Ok(o)
}

/// The admin view of a key (never the key itself).
pub fn view(r: &KeyRecord, spend_usd: f64) -> Value {
    let time = |ms: Option<i64>| {
        ms.and_then(|m| u64::try_from(m).ok()).map(|m| {
            humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(m),
            )
            .to_string()
        })
    };
    json!({
        "id": r.id,
        "name": r.name,
        "key_prefix": r.key_prefix,
        "models": r.models,
        "budget_usd": r.budget_usd,
        "budget_period": r.budget_period,
        "spend_usd": (spend_usd * 1e8).round() / 1e8,
        "rpm": r.rpm,
        "tpm": r.tpm,
        "max_concurrency": r.max_concurrency,
        "expires_at": time(r.expires_at_ms),
        "metadata": r.metadata,
        "created_at": time(Some(r.created_at_ms)),
        "revoked": r.is_revoked(),
        "revoked_at": time(r.revoked_at_ms),
    })
}

/// The key's spend in its current budget period: the store's total plus what this
/// replica has not flushed yet.
async fn spend_of(store: &Store, cache: &KeyCache, r: &KeyRecord) -> f64 {
    let now = crate::router::health::now_ms();
    if let Some(entry) = cache.by_id(&r.id) {
        let (_, spent, _, _) = entry.counters.snapshot(entry.limits.period, now);
        if spent > 0.0 {
            return spent;
        }
    }
    let period = r
        .budget_period
        .as_deref()
        .and_then(Period::parse)
        .unwrap_or(Period::Total);
    let (start, _) = period.bounds(now);
    store
        .spend(&r.id, i64::try_from(start).unwrap_or(0))
        .await
        .unwrap_or(0.0)
}

/// Refreshes this replica's cache at once after a change (others poll).
async fn refresh(st: &AppState, store: &Store) {
    if let Err(e) = Sync::new(store.clone(), st.policy.keys.clone())
        .refresh_keys()
        .await
    {
        tracing::warn!(error = %e, "could not refresh the key cache");
    }
}

/// Builds a new key from an admin request body; returns the record and the key.
pub async fn create_key(
    store: &Store,
    o: &Map<String, Value>,
) -> Result<(KeyRecord, String), ApiError> {
    let name = match o.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => return Err(bad("name", "`name` is required (a non-empty string)")),
    };
    let budget = opt_budget(o)?.flatten();
    let period = opt_period(o)?.flatten();
    if period.is_some() && budget.is_none() {
        return Err(bad("budget_period", "`budget_period` needs a `budget_usd`"));
    }
    let secret = keys::generate();
    let new = NewKey {
        name,
        key_hash: crate::observe::hex(&keys::hash(&secret)),
        key_prefix: secret.chars().take(10).collect(),
        models: opt_models(o)?.unwrap_or_default(),
        budget_usd: budget,
        budget_period: budget.map(|_| period.unwrap_or_else(|| "total".to_string())),
        rpm: opt_u64(o, "rpm")?.flatten(),
        tpm: opt_u64(o, "tpm")?.flatten(),
        max_concurrency: opt_u64(o, "max_concurrency")?.flatten(),
        expires_at_ms: opt_expiry(o)?.flatten(),
        metadata: opt_metadata(o)?.unwrap_or(Value::Null),
    };
    let record = store.create_key(&new).await.map_err(db_api_error)?;
    Ok((record, secret))
}

#[utoipa::path(
    post,
    path = "/admin/keys",
    tag = "admin",
    operation_id = "createKey",
    summary = "Create a virtual key (the key is shown once)",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    request_body(content = crate::openapi::schemas::KeyCreate, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; `key` is shown only here", body = crate::openapi::schemas::KeyCreated,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminQueryErrors,
    )
)]
pub async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let store = match admin(&st, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let o = match object(&body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    match create_key(store, &o).await {
        Ok((record, secret)) => {
            refresh(&st, store).await;
            let mut v = view(&record, 0.0);
            v["key"] = Value::String(secret);
            (StatusCode::CREATED, Json(v)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[utoipa::path(
    get,
    path = "/admin/keys",
    tag = "admin",
    operation_id = "listKeys",
    summary = "Virtual keys (revoked ones included)",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The keys", body = crate::openapi::schemas::KeyList,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminErrors,
    )
)]
pub async fn list(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let store = match admin(&st, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let records = match store.list_keys(true).await {
        Ok(r) => r,
        Err(e) => return db_error(e),
    };
    let mut data = Vec::with_capacity(records.len());
    for r in &records {
        data.push(view(r, spend_of(store, &st.policy.keys, r).await));
    }
    Json(json!({"object": "list", "data": data})).into_response()
}

#[utoipa::path(
    get,
    path = "/admin/keys/{id}",
    tag = "admin",
    operation_id = "getKey",
    summary = "One virtual key",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 200, description = "The key", body = crate::openapi::schemas::KeyView,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminEntryErrors,
    )
)]
pub async fn show(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let store = match admin(&st, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match store.get_key(&id).await {
        Ok(Some(r)) => Json(view(&r, spend_of(store, &st.policy.keys, &r).await)).into_response(),
        Ok(None) => ApiError::not_found(format!("no key `{id}`")).into_response(),
        Err(e) => db_error(e),
    }
}

#[utoipa::path(
    patch,
    path = "/admin/keys/{id}",
    tag = "admin",
    operation_id = "updateKey",
    summary = "Change a key's name, scope, limits or budget",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The key's id")),
    request_body(content = crate::openapi::schemas::KeyPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The key as changed", body = crate::openapi::schemas::KeyView,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminEntryErrors,
    )
)]
pub async fn patch(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let store = match admin(&st, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let o = match object(&body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let build = || -> Result<KeyPatch, ApiError> {
        Ok(KeyPatch {
            name: match o.get("name") {
                None => None,
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Some(_) => return Err(bad("name", "`name` must be a non-empty string")),
            },
            models: match o.get("models") {
                Some(Value::Null) => Some(Vec::new()),
                _ => opt_models(&o)?,
            },
            budget_usd: opt_budget(&o)?,
            budget_period: opt_period(&o)?,
            rpm: opt_u64(&o, "rpm")?,
            tpm: opt_u64(&o, "tpm")?,
            max_concurrency: opt_u64(&o, "max_concurrency")?,
            expires_at_ms: opt_expiry(&o)?,
            metadata: opt_metadata(&o)?,
        })
    };
    let mut patch = match build() {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    // A budget set without a period counts for the key's whole life.
    if matches!(patch.budget_usd, Some(Some(_))) && patch.budget_period.is_none() {
        if let Ok(Some(existing)) = store.get_key(&id).await {
            if existing.budget_period.is_none() {
                patch.budget_period = Some(Some("total".to_string()));
            }
        }
    }
    match store.update_key(&id, &patch).await {
        Ok(Some(r)) => {
            refresh(&st, store).await;
            Json(view(&r, spend_of(store, &st.policy.keys, &r).await)).into_response()
        }
        Ok(None) => ApiError::not_found(format!("no key `{id}`")).into_response(),
        Err(e) => db_error(e),
    }
}

#[utoipa::path(
    delete,
    path = "/admin/keys/{id}",
    tag = "admin",
    operation_id = "revokeKey",
    summary = "Revoke a key (every replica within a second)",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 200, description = "Revoked", body = crate::openapi::schemas::KeyRevoked,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminEntryErrors,
    )
)]
pub async fn revoke(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let store = match admin(&st, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match store.revoke_key(&id).await {
        Ok(true) => {
            refresh(&st, store).await;
            Json(json!({"id": id, "revoked": true})).into_response()
        }
        Ok(false) => match store.get_key(&id).await {
            Ok(Some(_)) => Json(json!({"id": id, "revoked": true})).into_response(),
            Ok(None) => ApiError::not_found(format!("no key `{id}`")).into_response(),
            Err(e) => db_error(e),
        },
        Err(e) => db_error(e),
    }
}
