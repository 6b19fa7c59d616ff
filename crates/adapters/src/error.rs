//! Error classes: what went wrong, independent of the provider that said it.
//!
//! Adapters classify a provider's error response into an [`ErrorClass`]; the gateway
//! maps a class to the client's status and error shape in one place, and the router
//! (retries, cooldowns, fallbacks) decides on the class alone.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The request is wrong (400/422). Never retried.
    BadRequest,
    /// The prompt does not fit the model's context window.
    ContextWindow,
    /// The provider refused the content.
    ContentPolicy,
    /// The provider rejected our credentials (401).
    Auth,
    /// The credentials may not do this (403).
    PermissionDenied,
    /// The upstream does not know the model or route (404).
    NotFound,
    /// Rate limited or out of quota (429).
    RateLimit,
    /// The provider failed (5xx).
    Server,
    /// No answer in time.
    Timeout,
    /// Could not connect, or the connection broke.
    Connection,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::BadRequest => "bad_request",
            ErrorClass::ContextWindow => "context_window",
            ErrorClass::ContentPolicy => "content_policy",
            ErrorClass::Auth => "auth",
            ErrorClass::PermissionDenied => "permission_denied",
            ErrorClass::NotFound => "not_found",
            ErrorClass::RateLimit => "rate_limit",
            ErrorClass::Server => "server_error",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Connection => "connection",
        }
    }

    /// Whether another attempt (same or another deployment) may succeed.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorClass::RateLimit
                | ErrorClass::Server
                | ErrorClass::Timeout
                | ErrorClass::Connection
        )
    }

    /// The class of a bare HTTP status, when the body says nothing more specific.
    pub fn from_status(status: u16) -> ErrorClass {
        match status {
            401 => ErrorClass::Auth,
            403 => ErrorClass::PermissionDenied,
            404 => ErrorClass::NotFound,
            408 => ErrorClass::Timeout,
            413 => ErrorClass::ContextWindow,
            429 => ErrorClass::RateLimit,
            400..=499 => ErrorClass::BadRequest,
            _ => ErrorClass::Server,
        }
    }
}

/// An upstream failure as an adapter understood it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    pub class: ErrorClass,
    /// The upstream's HTTP status, if it answered.
    pub status: Option<u16>,
    /// The upstream's own message (secrets already redacted by the caller).
    pub message: String,
    /// The upstream's error `type` / `code` and `param`, when it gave them.
    pub kind: Option<String>,
    pub code: Option<String>,
    pub param: Option<String>,
    /// How long the upstream asked us to wait, in milliseconds.
    pub retry_after_ms: Option<u64>,
}

impl UpstreamError {
    pub fn new(class: ErrorClass, status: Option<u16>, message: impl Into<String>) -> Self {
        UpstreamError {
            class,
            status,
            message: message.into(),
            kind: None,
            code: None,
            param: None,
            retry_after_ms: None,
        }
    }
}

/// Reads `retry-after-ms` (OpenAI) or `Retry-After` (seconds or an HTTP date we treat as unknown).
pub fn retry_after_ms(headers: &http::HeaderMap) -> Option<u64> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        if ms.is_finite() && ms >= 0.0 {
            return Some(ms as u64);
        }
    }
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s * 1000.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_classes() {
        assert!(ErrorClass::RateLimit.retryable());
        assert!(ErrorClass::Server.retryable());
        assert!(!ErrorClass::BadRequest.retryable());
        assert!(!ErrorClass::ContextWindow.retryable());
        assert_eq!(ErrorClass::from_status(503), ErrorClass::Server);
        assert_eq!(ErrorClass::from_status(422), ErrorClass::BadRequest);
    }

    #[test]
    fn retry_after_headers() {
        let mut h = http::HeaderMap::new();
        assert_eq!(retry_after_ms(&h), None);
        h.insert("retry-after", http::HeaderValue::from_static("2"));
        assert_eq!(retry_after_ms(&h), Some(2000));
        h.insert("retry-after-ms", http::HeaderValue::from_static("150"));
        assert_eq!(retry_after_ms(&h), Some(150));
    }
}
