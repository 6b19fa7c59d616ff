//! `/admin/providers` and `/admin/models` (master key only): the catalog managed at
//! runtime. Entries are validated by building the merged catalog before they are
//! stored; provider secrets are sealed (AES-256-GCM) and never returned; every replica
//! applies a change within a second (this one at once). Entries from the config file
//! are listed with `"source": "config"` and are changed in the file, not here.

// The handlers' helpers return the finished error response early; a large `Err` on
// this cold path is not worth boxing.
#![allow(clippy::result_large_err)]

use crate::error::ApiError;
use crate::governance::runtime::{self, split_secrets, SECRET_FIELDS};
use crate::governance::sync::Sync;
use crate::routes::admin_common::{admin_store, db_error, object};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};
use switchyard_store::{ModelRecord, ProviderRecord, Store};

fn admin<'a>(st: &'a AppState, headers: &HeaderMap) -> Result<&'a Store, Response> {
    admin_store(st, headers, "the runtime catalog")
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    let mut e = ApiError::bad_request(message, None);
    e.status = status;
    e.code = Some(code.to_string());
    e.into_response()
}

/// Whether a runtime `kind` named `name` may be created (`create`) or changed: not
/// one of the config file's, not created twice, not changed before it exists.
fn may_write(
    kind: &str,
    name: &str,
    in_config: bool,
    exists: bool,
    create: bool,
) -> Result<(), Response> {
    if in_config {
        return Err(error(
            StatusCode::CONFLICT,
            "defined_in_config",
            format!("{kind} `{name}` is defined in the config file; change it there"),
        ));
    }
    match (exists, create) {
        (true, true) => Err(error(
            StatusCode::CONFLICT,
            "exists",
            format!("{kind} `{name}` exists; PATCH it"),
        )),
        (false, false) => Err(ApiError::not_found(format!("no {kind} `{name}`")).into_response()),
        _ => Ok(()),
    }
}

/// What is wrong with the runtime entries `providers`/`models` (replacing the stored
/// ones) next to the config file's, if anything: the merged catalog must build.
fn catalog_problem(
    st: &AppState,
    providers: &[ProviderRecord],
    models: &[ModelRecord],
) -> Option<String> {
    runtime::merge(&st.base_config, providers, models, st.secrets.as_ref())
        .and_then(|merged| runtime::build(&merged))
        .err()
}

/// Refuses an entry that would leave the catalog invalid.
fn validate(
    st: &AppState,
    providers: &[ProviderRecord],
    models: &[ModelRecord],
) -> Result<(), Response> {
    match catalog_problem(st, providers, models) {
        Some(m) => Err(error(StatusCode::BAD_REQUEST, "invalid_catalog", m)),
        None => Ok(()),
    }
}

/// Collapses a handler's early-returned error response and its answer.
fn done(r: Result<Response, Response>) -> Response {
    r.unwrap_or_else(|e| e)
}

async fn apply_now(st: &AppState, store: &Store) {
    let mut sync = Sync::new(store.clone(), st.policy.keys.clone()).with_catalog(st.clone());
    if let Err(e) = sync.refresh_catalog(true).await {
        tracing::error!(error = %e, "runtime catalog not applied");
    }
}

/// A provider as shown: public fields, secret fields as counts, never values.
fn provider_view(name: &str, public: &Value, secret_fields: &[String], source: &str) -> Value {
    let mut v = match public {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    v.insert("name".into(), json!(name));
    v.insert("source".into(), json!(source));
    v.insert("secrets".into(), json!(secret_fields));
    Value::Object(v)
}

fn config_provider_view(name: &str, p: &switchyard_config::ProviderConfig) -> Value {
    let mut secrets = Vec::new();
    if !p.keys().is_empty() {
        secrets.push("api_keys".to_string());
    }
    for (f, set) in [
        ("azure_ad_token", p.azure_ad_token.is_some()),
        ("secret_access_key", p.secret_access_key.is_some()),
    ] {
        if set {
            secrets.push(f.to_string());
        }
    }
    let public = json!({
        "kind": p.kind.as_str(),
        "base_url": p.base_url,
        "organization": p.organization,
        "anthropic_version": p.anthropic_version,
        "project": p.project,
        "location": p.location,
        "api_version": p.api_version,
        "region": p.region,
    });
    let public = Value::Object(
        public
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    );
    provider_view(name, &public, &secrets, "config")
}

fn sealed_fields(st: &AppState, r: &ProviderRecord) -> Vec<String> {
    let (Some(sealed), Some(secret_box)) = (&r.secret, &st.secrets) else {
        return Vec::new();
    };
    secret_box
        .open(sealed)
        .ok()
        .and_then(|p| serde_json::from_slice::<Map<String, Value>>(&p).ok())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[utoipa::path(
    get,
    path = "/admin/providers",
    tag = "admin",
    operation_id = "listProviders",
    summary = "Provider accounts (config file and runtime); secrets never shown",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The providers", body = crate::openapi::schemas::ProviderList,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminErrors,
    )
)]
pub async fn list_providers(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let store = match admin(&st, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut data: Vec<Value> = st
        .base_config
        .providers
        .iter()
        .map(|(n, p)| config_provider_view(n, p))
        .collect();
    match store.list_providers().await {
        Ok(rs) => data.extend(
            rs.iter()
                .map(|r| provider_view(&r.name, &r.config, &sealed_fields(&st, r), "runtime")),
        ),
        Err(e) => return db_error(e),
    }
    Json(json!({"object": "list", "data": data})).into_response()
}

#[utoipa::path(
    get,
    path = "/admin/providers/{name}",
    tag = "admin",
    operation_id = "getProvider",
    summary = "One provider account",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(("name" = String, Path, description = "The provider's name")),
    responses(
        (status = 200, description = "The provider", body = crate::openapi::schemas::ProviderView,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminEntryErrors,
    )
)]
pub async fn get_provider(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let store = match admin(&st, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(p) = st.base_config.providers.get(&name) {
        return Json(config_provider_view(&name, p)).into_response();
    }
    match store.get_provider(&name).await {
        Ok(Some(r)) => Json(provider_view(
            &r.name,
            &r.config,
            &sealed_fields(&st, &r),
            "runtime",
        ))
        .into_response(),
        Ok(None) => ApiError::not_found(format!("no provider `{name}`")).into_response(),
        Err(e) => db_error(e),
    }
}

/// Creates (`create`) or changes a runtime provider from a body of provider fields.
async fn put_provider(
    st: &AppState,
    store: &Store,
    name: &str,
    mut fields: Map<String, Value>,
    create: bool,
) -> Result<Response, Response> {
    if name.is_empty() || name.contains('/') {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_name",
            "a provider name must be non-empty and contain no `/`",
        ));
    }
    let existing = store.get_provider(name).await.map_err(db_error)?;
    may_write(
        "provider",
        name,
        st.base_config.providers.contains_key(name),
        existing.is_some(),
        create,
    )?;
    fields.remove("name");
    // A patch keeps what it does not mention, secrets included.
    let (mut public, mut secrets) = match &existing {
        Some(r) => {
            let public = r.config.as_object().cloned().unwrap_or_default();
            let secrets = match (&r.secret, &st.secrets) {
                (Some(sealed), Some(b)) => b
                    .open(sealed)
                    .ok()
                    .and_then(|p| serde_json::from_slice::<Map<String, Value>>(&p).ok())
                    .unwrap_or_default(),
                _ => Map::new(),
            };
            (public, secrets)
        }
        None => (Map::new(), Map::new()),
    };
    let (new_public, new_secrets) = split_secrets(fields.clone());
    for (k, v) in new_public {
        if v.is_null() {
            public.remove(&k);
        } else {
            public.insert(k, v);
        }
    }
    for f in SECRET_FIELDS {
        if let Some(v) = fields.get(*f) {
            if v.is_null() {
                secrets.remove(*f);
            }
        }
    }
    secrets.extend(new_secrets);
    let sealed = if secrets.is_empty() {
        None
    } else {
        let Some(secret_box) = &st.secrets else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "encryption_key_missing",
                "provider secrets are stored encrypted: set SWITCHYARD_ENCRYPTION_KEY on every replica first",
            ));
        };
        let plain = serde_json::to_vec(&secrets).unwrap_or_default();
        Some(secret_box.seal(&plain).map_err(|e| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "encryption_failed",
                e.to_string(),
            )
        })?)
    };
    let record = ProviderRecord {
        name: name.to_string(),
        config: Value::Object(public.clone()),
        secret: sealed.clone(),
        created_at_ms: 0,
        updated_at_ms: 0,
    };
    let mut providers = store.list_providers().await.map_err(db_error)?;
    providers.retain(|p| p.name != name);
    providers.push(record);
    let models = store.list_models().await.map_err(db_error)?;
    validate(st, &providers, &models)?;
    let saved = store
        .upsert_provider(name, &Value::Object(public), sealed)
        .await
        .map_err(db_error)?;
    apply_now(st, store).await;
    let fields: Vec<String> = secrets.keys().cloned().collect();
    let status = if create {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(provider_view(
            &saved.name,
            &saved.config,
            &fields,
            "runtime",
        )),
    )
        .into_response())
}

#[utoipa::path(
    post,
    path = "/admin/providers",
    tag = "admin",
    operation_id = "createProvider",
    summary = "Add a provider account at runtime (secrets sealed with SWITCHYARD_ENCRYPTION_KEY)",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    request_body(content = crate::openapi::schemas::ProviderWrite, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = crate::openapi::schemas::ProviderView,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::CatalogWriteErrors,
    )
)]
pub async fn create_provider(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    done(write_entry(&st, &headers, &body, Entry::Provider, None).await)
}

#[utoipa::path(
    patch,
    path = "/admin/providers/{name}",
    tag = "admin",
    operation_id = "updateProvider",
    summary = "Change a runtime provider account",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(("name" = String, Path, description = "The provider's name")),
    request_body(content = crate::openapi::schemas::ProviderWrite, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed", body = crate::openapi::schemas::ProviderView,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::CatalogWriteErrors,
    )
)]
pub async fn patch_provider(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    done(write_entry(&st, &headers, &body, Entry::Provider, Some(name)).await)
}

#[utoipa::path(
    delete,
    path = "/admin/providers/{name}",
    tag = "admin",
    operation_id = "deleteProvider",
    summary = "Delete a runtime provider account no model uses",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(("name" = String, Path, description = "The provider's name")),
    responses(
        (status = 200, description = "Deleted", body = crate::openapi::schemas::Deleted,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::CatalogWriteErrors,
    )
)]
pub async fn delete_provider(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    done(delete_entry(&st, &headers, Entry::Provider, &name).await)
}

/// Creates (`name` from the body) or patches (`name` from the path) a runtime entry.
async fn write_entry(
    st: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    entry: Entry,
    path_name: Option<String>,
) -> Result<Response, Response> {
    let store = admin(st, headers)?;
    let fields = object(body)?;
    let create = path_name.is_none();
    let name = match path_name {
        Some(n) => n,
        None => fields
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::bad_request("`name` is required", Some("name".into())).into_response()
            })?,
    };
    match entry {
        Entry::Provider => put_provider(st, store, &name, fields, create).await,
        Entry::Model => put_model(st, store, &name, fields, create).await,
    }
}

/// A kind of runtime catalog entry.
#[derive(Clone, Copy)]
enum Entry {
    Provider,
    Model,
}

/// Deletes a runtime provider or model, unless the config file defines it or the
/// catalog without it would not build (something still uses it).
async fn delete_entry(
    st: &AppState,
    headers: &HeaderMap,
    entry: Entry,
    name: &str,
) -> Result<Response, Response> {
    let store = admin(st, headers)?;
    let (kind, in_config) = match entry {
        Entry::Provider => ("provider", st.base_config.providers.contains_key(name)),
        Entry::Model => (
            "model",
            st.base_config.models.iter().any(|m| m.name == name),
        ),
    };
    if in_config {
        return Err(error(
            StatusCode::CONFLICT,
            "defined_in_config",
            format!("{kind} `{name}` is defined in the config file; remove it there"),
        ));
    }
    let mut providers = store.list_providers().await.map_err(db_error)?;
    let mut models = store.list_models().await.map_err(db_error)?;
    let before = providers.len() + models.len();
    match entry {
        Entry::Provider => providers.retain(|p| p.name != name),
        Entry::Model => models.retain(|m| m.name != name),
    }
    if providers.len() + models.len() == before {
        return Err(ApiError::not_found(format!("no {kind} `{name}`")).into_response());
    }
    if let Some(problem) = catalog_problem(st, &providers, &models) {
        return Err(error(
            StatusCode::CONFLICT,
            "in_use",
            format!("{kind} `{name}` is still used: {problem}"),
        ));
    }
    match entry {
        Entry::Provider => store.delete_provider(name).await,
        Entry::Model => store.delete_model(name).await,
    }
    .map_err(db_error)?;
    apply_now(st, store).await;
    Ok(Json(json!({"name": name, "deleted": true})).into_response())
}

fn model_view(name: &str, config: &Value, source: &str) -> Value {
    let mut v = config.as_object().cloned().unwrap_or_default();
    v.insert("name".into(), json!(name));
    v.insert("source".into(), json!(source));
    Value::Object(v)
}

#[utoipa::path(
    get,
    path = "/admin/models",
    tag = "admin",
    operation_id = "listCatalogModels",
    summary = "Public models (config file and runtime)",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The models", body = crate::openapi::schemas::ModelViewList,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminErrors,
    )
)]
pub async fn list_models(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let store = match admin(&st, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut data: Vec<Value> = st
        .base_config
        .models
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "source": "config",
                "strategy": m.strategy.as_str(),
                "deployments": m.deployments.iter().map(|d| json!({"provider": d.provider, "model": d.model, "weight": d.weight})).collect::<Vec<_>>(),
                "fallbacks": m.fallbacks.iter().map(|f| json!({"model": f.model, "on": f.reasons().iter().map(|r| r.as_str()).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    match store.list_models().await {
        Ok(ms) => data.extend(ms.iter().map(|m| model_view(&m.name, &m.config, "runtime"))),
        Err(e) => return db_error(e),
    }
    Json(json!({"object": "list", "data": data})).into_response()
}

#[utoipa::path(
    get,
    path = "/admin/models/{name}",
    tag = "admin",
    operation_id = "getCatalogModel",
    summary = "One public model",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(("name" = String, Path, description = "The model's name")),
    responses(
        (status = 200, description = "The model", body = crate::openapi::schemas::ModelView,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminEntryErrors,
    )
)]
pub async fn get_model(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let store = match admin(&st, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match store.get_model(&name).await {
        Ok(Some(m)) => Json(model_view(&m.name, &m.config, "runtime")).into_response(),
        Ok(None) if st.base_config.models.iter().any(|m| m.name == name) => {
            Json(json!({"name": name, "source": "config"})).into_response()
        }
        Ok(None) => ApiError::not_found(format!("no model `{name}`")).into_response(),
        Err(e) => db_error(e),
    }
}

async fn put_model(
    st: &AppState,
    store: &Store,
    name: &str,
    mut fields: Map<String, Value>,
    create: bool,
) -> Result<Response, Response> {
    if name.trim().is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_name",
            "a model name must be non-empty",
        ));
    }
    let existing = store.get_model(name).await.map_err(db_error)?;
    may_write(
        "model",
        name,
        st.base_config.models.iter().any(|m| m.name == name),
        existing.is_some(),
        create,
    )?;
    fields.remove("name");
    let mut config = existing
        .as_ref()
        .and_then(|m| m.config.as_object().cloned())
        .unwrap_or_default();
    for (k, v) in fields {
        if v.is_null() {
            config.remove(&k);
        } else {
            config.insert(k, v);
        }
    }
    let record = ModelRecord {
        name: name.to_string(),
        config: Value::Object(config.clone()),
        created_at_ms: 0,
        updated_at_ms: 0,
    };
    let providers = store.list_providers().await.map_err(db_error)?;
    let mut models = store.list_models().await.map_err(db_error)?;
    models.retain(|m| m.name != name);
    models.push(record);
    validate(st, &providers, &models)?;
    let saved = store
        .upsert_model(name, &Value::Object(config))
        .await
        .map_err(db_error)?;
    apply_now(st, store).await;
    let status = if create {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(model_view(&saved.name, &saved.config, "runtime")),
    )
        .into_response())
}

#[utoipa::path(
    post,
    path = "/admin/models",
    tag = "admin",
    operation_id = "createCatalogModel",
    summary = "Add a public model at runtime (live on every replica within a second)",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    request_body(content = crate::openapi::schemas::ModelWrite, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = crate::openapi::schemas::ModelView,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::CatalogWriteErrors,
    )
)]
pub async fn create_model(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    done(write_entry(&st, &headers, &body, Entry::Model, None).await)
}

#[utoipa::path(
    patch,
    path = "/admin/models/{name}",
    tag = "admin",
    operation_id = "updateCatalogModel",
    summary = "Change a runtime public model",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(("name" = String, Path, description = "The model's name")),
    request_body(content = crate::openapi::schemas::ModelWrite, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed", body = crate::openapi::schemas::ModelView,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::CatalogWriteErrors,
    )
)]
pub async fn patch_model(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    done(write_entry(&st, &headers, &body, Entry::Model, Some(name)).await)
}

#[utoipa::path(
    delete,
    path = "/admin/models/{name}",
    tag = "admin",
    operation_id = "deleteCatalogModel",
    summary = "Delete a runtime public model nothing falls back to",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(("name" = String, Path, description = "The model's name")),
    responses(
        (status = 200, description = "Deleted", body = crate::openapi::schemas::Deleted,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::CatalogWriteErrors,
    )
)]
pub async fn delete_model(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    done(delete_entry(&st, &headers, Entry::Model, &name).await)
}
