//! The policy choke point. Every inference and admin route authenticates here and
//! asks here whether the caller may use a model; virtual keys, scopes, budgets and
//! limits extend this module, not the routes.

use crate::error::ApiError;
use crate::governance::keys::{KeyCache, KeyEntry, KEY_PREFIX};
use crate::governance::scope;
use http::HeaderMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The master key: every model, the admin API.
    Master,
    /// No master key is configured: the gateway is open (a warning is logged at start).
    Open,
    /// A virtual key: its scopes, limits and budget apply; no admin API.
    Key(Arc<KeyEntry>),
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Master | Principal::Open)
    }

    pub fn key(&self) -> Option<&Arc<KeyEntry>> {
        match self {
            Principal::Key(k) => Some(k),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Policy {
    master_key: Option<String>,
    /// Virtual keys, refreshed from the store.
    pub keys: Arc<KeyCache>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("master_key", &self.master_key.is_some())
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Policy {
    pub fn new(master_key: Option<String>) -> Self {
        Policy {
            master_key,
            keys: Arc::new(KeyCache::default()),
        }
    }

    pub fn is_open(&self) -> bool {
        self.master_key.is_none()
    }

    /// Authenticates a request from `Authorization: Bearer`, `x-api-key` or `api-key`.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let presented = presented_key(headers);
        // A virtual key is recognised by the SHA-256 of what was presented (the cache
        // holds hashes only, so the comparison reveals nothing about stored keys).
        if let Some(p) = presented.filter(|p| p.starts_with(KEY_PREFIX)) {
            if let Some(key) = self.keys.lookup(p) {
                return self.check_key(key);
            }
        }
        let Some(master) = &self.master_key else {
            return Ok(Principal::Open);
        };
        let Some(presented) = presented else {
            return Err(ApiError::unauthorized(
                "Missing API key. Send it as `Authorization: Bearer KEY` (or `x-api-key` / `api-key`).",
            ));
        };
        if bool::from(presented.as_bytes().ct_eq(master.as_bytes())) {
            Ok(Principal::Master)
        } else {
            Err(ApiError::unauthorized(
                "Incorrect API key provided. Use the gateway's master key or a virtual key issued by it.",
            ))
        }
    }

    fn check_key(&self, key: Arc<KeyEntry>) -> Result<Principal, ApiError> {
        if key.revoked {
            return Err(ApiError::unauthorized("This API key has been revoked."));
        }
        if key
            .expires_at_ms
            .is_some_and(|at| crate::router::health::now_ms() >= at)
        {
            return Err(ApiError::unauthorized("This API key has expired."));
        }
        Ok(Principal::Key(key))
    }

    /// Whether `principal` may use `model` (a public name or `provider/model`).
    pub fn authorize_model(&self, principal: &Principal, model: &str) -> Result<(), ApiError> {
        match principal {
            Principal::Master | Principal::Open => Ok(()),
            Principal::Key(k) if scope::allows(&k.scopes, model) => Ok(()),
            Principal::Key(k) => Err(ApiError::model_not_allowed(model, &k.name)),
        }
    }

    /// Whether `principal` may use the admin API.
    pub fn authorize_admin(&self, principal: &Principal) -> Result<(), ApiError> {
        if principal.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "The admin API needs the master key; virtual keys cannot use it.",
            ))
        }
    }
}

/// The key a client presented, in the order the SDKs send them.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v)
            .trim();
        if !token.is_empty() {
            return Some(token);
        }
    }
    for name in ["x-api-key", "api-key"] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            let v = v.trim();
            if !v.is_empty() {
                return Some(v);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn accepts_all_three_headers() {
        let p = Policy::new(Some("sk-master".into()));
        assert!(matches!(
            p.authenticate(&headers("authorization", "Bearer sk-master"))
                .unwrap(),
            Principal::Master
        ));
        assert!(matches!(
            p.authenticate(&headers("x-api-key", "sk-master")).unwrap(),
            Principal::Master
        ));
        assert!(matches!(
            p.authenticate(&headers("api-key", "sk-master")).unwrap(),
            Principal::Master
        ));
    }

    #[test]
    fn rejects_wrong_and_missing() {
        let p = Policy::new(Some("sk-master".into()));
        let e = p
            .authenticate(&headers("authorization", "Bearer sk-wrong"))
            .unwrap_err();
        assert_eq!(e.status, 401);
        assert!(!e.message.contains("sk-wrong"), "never echo keys");
        assert_eq!(p.authenticate(&HeaderMap::new()).unwrap_err().status, 401);
        assert_eq!(
            p.authenticate(&headers("authorization", "Bearer "))
                .unwrap_err()
                .status,
            401
        );
    }

    #[test]
    fn virtual_keys_scopes_expiry_and_revocation() {
        use crate::governance::keys::{hash, KeySpec};
        let p = Policy::new(Some("sk-master".into()));
        let spec = |id: &str, key: &str, expires: Option<u64>, revoked: bool| KeySpec {
            id: id.into(),
            name: id.into(),
            hash: hash(key),
            models: vec!["general".into(), "openai/*".into()],
            budget_usd: None,
            period: None,
            rpm: None,
            tpm: None,
            max_concurrency: None,
            expires_at_ms: expires,
            revoked,
            log_bodies: false,
        };
        p.keys.replace(vec![
            spec("live", "sk-sy-live", None, false),
            spec("old", "sk-sy-old", Some(1), false),
            spec("gone", "sk-sy-gone", None, true),
        ]);
        let who = p
            .authenticate(&headers("authorization", "Bearer sk-sy-live"))
            .unwrap();
        assert_eq!(who.key().unwrap().id, "live");
        assert!(p.authorize_model(&who, "general").is_ok());
        assert!(p.authorize_model(&who, "openai/gpt-4o").is_ok());
        let e = p.authorize_model(&who, "claude/x").unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code.as_deref()),
            (403, Some("model_not_allowed"))
        );
        assert!(p.authorize_admin(&who).is_err());
        for key in [
            "Bearer sk-sy-old",
            "Bearer sk-sy-gone",
            "Bearer sk-sy-unknown",
        ] {
            let e = p.authenticate(&headers("authorization", key)).unwrap_err();
            assert_eq!(e.status, 401, "{key}");
        }
        assert!(p.authorize_admin(&Principal::Master).is_ok());
    }

    #[test]
    fn open_without_master_key() {
        let p = Policy::new(None);
        assert!(matches!(
            p.authenticate(&HeaderMap::new()).unwrap(),
            Principal::Open
        ));
    }
}
