//! The runtime catalog: provider accounts and public models added through the admin
//! API, stored in the database (provider secrets sealed with AES-256-GCM), merged with
//! the config file's catalog, and swapped in on every replica when the store's change
//! version moves. A name defined both in the config file and at runtime is an error.

use super::secrets::SecretBox;
use crate::catalog::Catalog;
use serde_json::{Map, Value};
use switchyard_config::{Config, ModelConfig, ProviderConfig};
use switchyard_store::{ModelRecord, ProviderRecord};

/// Provider fields that are secrets: sealed at rest, never returned.
pub const SECRET_FIELDS: &[&str] = &[
    "api_key",
    "api_keys",
    "azure_ad_token",
    "access_key_id",
    "secret_access_key",
    "session_token",
];

/// Splits a provider object into its public fields and its secrets.
pub fn split_secrets(mut obj: Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    let mut secrets = Map::new();
    for f in SECRET_FIELDS {
        if let Some(v) = obj.remove(*f) {
            if !v.is_null() {
                secrets.insert((*f).to_string(), v);
            }
        }
    }
    (obj, secrets)
}

/// A provider's full config from its stored record.
pub fn provider_config(
    r: &ProviderRecord,
    secrets: Option<&SecretBox>,
) -> Result<ProviderConfig, String> {
    let Value::Object(mut obj) = r.config.clone() else {
        return Err(format!(
            "runtime provider `{}`: stored config is not an object",
            r.name
        ));
    };
    if let Some(sealed) = &r.secret {
        let Some(secret_box) = secrets else {
            return Err(format!(
                "runtime provider `{}` has stored secrets but {} is not set",
                r.name,
                super::secrets::ENV_VAR
            ));
        };
        let plain = secret_box
            .open(sealed)
            .map_err(|e| format!("runtime provider `{}`: {e}", r.name))?;
        let Ok(Value::Object(s)) = serde_json::from_slice::<Value>(&plain) else {
            return Err(format!(
                "runtime provider `{}`: stored secrets are unreadable",
                r.name
            ));
        };
        obj.extend(s);
    }
    serde_json::from_value(Value::Object(obj))
        .map_err(|e| format!("runtime provider `{}`: {e}", r.name))
}

pub fn model_config(r: &ModelRecord) -> Result<ModelConfig, String> {
    let mut v = r.config.clone();
    if let Value::Object(o) = &mut v {
        o.insert("name".into(), Value::String(r.name.clone()));
    }
    serde_json::from_value(v).map_err(|e| format!("runtime model `{}`: {e}", r.name))
}

/// The config file's catalog with the runtime entries added; every check the config
/// file gets applies (unknown providers, fallbacks, kind fields, …).
pub fn merge(
    base: &Config,
    providers: &[ProviderRecord],
    models: &[ModelRecord],
    secrets: Option<&SecretBox>,
) -> Result<Config, String> {
    let mut merged = base.clone();
    for p in providers {
        if base.providers.contains_key(&p.name) {
            return Err(format!(
                "provider `{}` is defined both in the config file and at runtime (/admin/providers); remove one",
                p.name
            ));
        }
        merged
            .providers
            .insert(p.name.clone(), provider_config(p, secrets)?);
    }
    for m in models {
        if base.models.iter().any(|b| b.name == m.name) {
            return Err(format!(
                "model `{}` is defined both in the config file and at runtime (/admin/models); remove one",
                m.name
            ));
        }
        merged.models.push(model_config(m)?);
    }
    merged.validate().map_err(|e| {
        format!(
            "{}: {}",
            switchyard_config::locate::display_path(&e.path),
            e.message
        )
    })?;
    Ok(merged)
}

/// Builds the catalog of a merged config.
pub fn build(merged: &Config) -> Result<Catalog, String> {
    Catalog::build(merged).map_err(|e| e.to_string())
}

/// What changes when runtime entries change (to skip rebuilds on key-only changes).
pub fn fingerprint(providers: &[ProviderRecord], models: &[ModelRecord]) -> Vec<(String, i64)> {
    providers
        .iter()
        .map(|p| (format!("p:{}", p.name), p.updated_at_ms))
        .chain(
            models
                .iter()
                .map(|m| (format!("m:{}", m.name), m.updated_at_ms)),
        )
        .collect()
}
