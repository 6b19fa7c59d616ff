//! The policy choke point. Every inference and admin route authenticates here and
//! asks here whether the caller may use a model; virtual keys, scopes, budgets and
//! limits extend this module, not the routes.

use crate::error::ApiError;
use http::HeaderMap;
use subtle::ConstantTimeEq;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The master key: every model, the admin API.
    Master,
    /// No master key is configured: the gateway is open (a warning is logged at start).
    Open,
}

#[derive(Debug, Clone)]
pub struct Policy {
    master_key: Option<String>,
}

impl Policy {
    pub fn new(master_key: Option<String>) -> Self {
        Policy { master_key }
    }

    pub fn is_open(&self) -> bool {
        self.master_key.is_none()
    }

    /// Authenticates a request from `Authorization: Bearer`, `x-api-key` or `api-key`.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let Some(master) = &self.master_key else {
            return Ok(Principal::Open);
        };
        let Some(presented) = presented_key(headers) else {
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

    /// Whether `principal` may use `model` (a public name or `provider/model`).
    pub fn authorize_model(&self, principal: &Principal, _model: &str) -> Result<(), ApiError> {
        match principal {
            Principal::Master | Principal::Open => Ok(()),
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
        assert_eq!(
            p.authenticate(&headers("authorization", "Bearer sk-master"))
                .unwrap(),
            Principal::Master
        );
        assert_eq!(
            p.authenticate(&headers("x-api-key", "sk-master")).unwrap(),
            Principal::Master
        );
        assert_eq!(
            p.authenticate(&headers("api-key", "sk-master")).unwrap(),
            Principal::Master
        );
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
    fn open_without_master_key() {
        let p = Policy::new(None);
        assert_eq!(p.authenticate(&HeaderMap::new()).unwrap(), Principal::Open);
    }
}
