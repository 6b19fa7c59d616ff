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
