//! Classifying OpenAI-format error responses.

use crate::error::{retry_after_ms, ErrorClass, UpstreamError};
use serde::Deserialize;

#[derive(Deserialize)]
struct Envelope {
    error: WireError,
}

#[derive(Deserialize)]
struct WireError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    param: Option<serde_json::Value>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

fn text(v: Option<serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Turns an upstream error response into an [`UpstreamError`].
pub fn classify(status: u16, headers: &http::HeaderMap, body: &[u8]) -> UpstreamError {
    let parsed = serde_json::from_slice::<Envelope>(body)
        .ok()
        .map(|e| e.error);
    let (message, kind, code, param) = match parsed {
        Some(e) => (e.message, e.kind, text(e.code), text(e.param)),
        None => (None, None, None, None),
    };
    let message = message.unwrap_or_else(|| {
        let raw = String::from_utf8_lossy(body);
        let raw = raw.trim();
        if raw.is_empty() {
            format!("upstream returned HTTP {status} with an empty body")
        } else {
            raw.chars().take(500).collect()
        }
    });
    let lower_code = code.as_deref().unwrap_or("");
    let lower_kind = kind.as_deref().unwrap_or("");
    let class = if lower_code == "context_length_exceeded"
        || lower_code == "string_above_max_length"
        || message.contains("maximum context length")
    {
        ErrorClass::ContextWindow
    } else if lower_code == "content_filter"
        || lower_code == "content_policy_violation"
        || lower_kind.contains("content_policy")
    {
        ErrorClass::ContentPolicy
    } else if status == 0 {
        // An error inside a stream has no HTTP status of its own: its type and code
        // say what it is (OpenAI's and the compatible hosts' vocabulary).
        from_type(lower_kind, lower_code)
    } else {
        ErrorClass::from_status(status)
    };
    UpstreamError {
        class,
        status: Some(status),
        message,
        kind,
        code,
        param,
        retry_after_ms: retry_after_ms(headers),
    }
}

/// The class of a status-less (in-stream) error from its `type` and `code`.
fn from_type(kind: &str, code: &str) -> ErrorClass {
    let either = |names: &[&str]| names.iter().any(|n| kind == *n || code == *n);
    if either(&[
        "rate_limit_exceeded",
        "rate_limit_error",
        "insufficient_quota",
        "requests",
        "tokens",
    ]) {
        ErrorClass::RateLimit
    } else if either(&["invalid_request_error", "invalid_request", "bad_request"]) {
        ErrorClass::BadRequest
    } else if either(&["authentication_error", "invalid_api_key"]) {
        ErrorClass::Auth
    } else if either(&["permission_error", "permission_denied"]) {
        ErrorClass::PermissionDenied
    } else if either(&["timeout", "timeout_error"]) {
        ErrorClass::Timeout
    } else {
        ErrorClass::Server
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_unsupported_parameter() {
        let body =
            &crate::test_support::fixture("openai/vercel_error_400_unsupported_parameter.json");
        let e = classify(400, &http::HeaderMap::new(), body);
        assert_eq!(e.class, ErrorClass::BadRequest);
        assert_eq!(e.kind.as_deref(), Some("invalid_request_error"));
        assert!(e.message.contains("max_tokens"), "{}", e.message);
    }

    #[test]
    fn in_stream_errors_are_classified_by_type_and_code() {
        let cases: [(&[u8], ErrorClass); 4] = [
            (br#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#, ErrorClass::RateLimit),
            (br#"{"error":{"message":"bad","type":"invalid_request_error","code":null}}"#, ErrorClass::BadRequest),
            (br#"{"error":{"message":"oops","type":"server_error","code":null}}"#, ErrorClass::Server),
            (br#"{"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded"}}"#, ErrorClass::ContextWindow),
        ];
        for (body, class) in cases {
            assert_eq!(classify(0, &http::HeaderMap::new(), body).class, class);
        }
    }

    #[test]
    fn recorded_insufficient_quota() {
        let body = &crate::test_support::fixture("openai/vercel_error_429_insufficient_quota.json");
        let e = classify(429, &http::HeaderMap::new(), body);
        assert_eq!(e.class, ErrorClass::RateLimit);
        assert_eq!(e.code.as_deref(), Some("insufficient_quota"));
    }

    #[test]
    fn context_window_and_plain_bodies() {
        let body = br#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        let e = classify(400, &http::HeaderMap::new(), body);
        assert_eq!(e.class, ErrorClass::ContextWindow);
        assert_eq!(e.param.as_deref(), Some("messages"));
        let e = classify(502, &http::HeaderMap::new(), b"<html>Bad Gateway</html>");
        assert_eq!(e.class, ErrorClass::Server);
        assert_eq!(e.message, "<html>Bad Gateway</html>");
        let e = classify(503, &http::HeaderMap::new(), b"");
        assert!(e.message.contains("503"));
    }
}
