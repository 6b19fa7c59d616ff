//! Classifying Anthropic error responses and in-stream `error` events.
//!
//! The body is `{"type":"error","error":{"type":…,"message":…},"request_id":…}`; the
//! error `type` decides the class, the HTTP status only when the type is unknown:
//!
//! | `error.type` | status | class |
//! |---|---|---|
//! | `invalid_request_error` | 400 | `BadRequest`; `ContextWindow` when the message says the prompt does not fit ("prompt is too long", "exceed context limit"); `ContentPolicy` for "content filtering policy" |
//! | `authentication_error` | 401 | `Auth` |
//! | `billing_error` | 402 | `PermissionDenied`: this key may not be used until billing is fixed, but another deployment may serve |
//! | `permission_error` | 403 | `PermissionDenied` |
//! | `not_found_error` | 404 | `NotFound` |
//! | `request_too_large` | 413 | `ContextWindow`: the body is over the byte limit, so, as for an over-long prompt, only a smaller input helps (the same class the crate gives a bare 413) |
//! | `rate_limit_error` | 429 | `RateLimit` (`error.details.error_code`, e.g. a spend limit, is kept in `code`) |
//! | `api_error` | 500 | `Server` |
//! | `timeout_error` | 504 | `Timeout` |
//! | `overloaded_error` | 529 | `Server` |

use crate::error::{retry_after_ms, ErrorClass, UpstreamError};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Envelope {
    error: WireError,
}

#[derive(Deserialize)]
struct WireError {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Option<Value>,
}

/// Turns an upstream error response into an [`UpstreamError`].
pub fn classify(status: u16, headers: &http::HeaderMap, body: &[u8]) -> UpstreamError {
    let mut e = classify_body(Some(status), body);
    e.retry_after_ms = retry_after_ms(headers);
    e
}

/// An `error` event inside a stream (the response had begun with 200, so there is no
/// status to go by).
pub(crate) fn classify_stream_error(data: &[u8]) -> UpstreamError {
    classify_body(None, data)
}

fn classify_body(status: Option<u16>, body: &[u8]) -> UpstreamError {
    let parsed = serde_json::from_slice::<Envelope>(body)
        .ok()
        .map(|e| e.error);
    let (kind, message, details) = match parsed {
        Some(e) => (e.kind, e.message, e.details),
        None => (None, None, None),
    };
    let message = message.unwrap_or_else(|| {
        let raw = String::from_utf8_lossy(body);
        let raw = raw.trim();
        match (raw.is_empty(), status) {
            (false, _) => raw.chars().take(500).collect(),
            (true, Some(s)) => format!("upstream returned HTTP {s} with an empty body"),
            (true, None) => "the upstream stream reported an error".to_string(),
        }
    });
    let code = details
        .as_ref()
        .and_then(|d| d.get("error_code"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let class = match kind.as_deref() {
        Some("invalid_request_error") => invalid_request_class(&message),
        Some("authentication_error") => ErrorClass::Auth,
        Some("billing_error") | Some("permission_error") => ErrorClass::PermissionDenied,
        Some("not_found_error") => ErrorClass::NotFound,
        Some("request_too_large") => ErrorClass::ContextWindow,
        Some("rate_limit_error") => ErrorClass::RateLimit,
        Some("api_error") | Some("overloaded_error") => ErrorClass::Server,
        Some("timeout_error") => ErrorClass::Timeout,
        _ => match status {
            Some(400) => invalid_request_class(&message),
            Some(s) => ErrorClass::from_status(s),
            None => ErrorClass::Server,
        },
    };
    UpstreamError {
        class,
        status,
        message,
        kind,
        code,
        param: None,
        retry_after_ms: None,
    }
}

/// Anthropic reports an over-long prompt as a plain `invalid_request_error`; only the
/// message tells it apart ("prompt is too long: 210000 tokens > 200000 maximum",
/// "input length and `max_tokens` exceed context limit: …").
fn invalid_request_class(message: &str) -> ErrorClass {
    let m = message.to_ascii_lowercase();
    if m.contains("prompt is too long")
        || m.contains("context limit")
        || m.contains("context window")
        || m.contains("context length")
    {
        ErrorClass::ContextWindow
    } else if m.contains("content filtering policy") {
        ErrorClass::ContentPolicy
    } else {
        ErrorClass::BadRequest
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};
    use serde_json::json;

    fn body(kind: &str, message: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"}))
            .unwrap()
    }

    #[test]
    fn every_documented_type() {
        let cases = [
            (400, "invalid_request_error", "max_tokens: Field required", ErrorClass::BadRequest),
            (400, "invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum", ErrorClass::ContextWindow),
            (400, "invalid_request_error", "input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000, decrease input length or `max_tokens` and try again", ErrorClass::ContextWindow),
            (400, "invalid_request_error", "Output blocked by content filtering policy", ErrorClass::ContentPolicy),
            (401, "authentication_error", "invalid x-api-key", ErrorClass::Auth),
            (402, "billing_error", "credit balance too low", ErrorClass::PermissionDenied),
            (403, "permission_error", "no access", ErrorClass::PermissionDenied),
            (404, "not_found_error", "model: claude-x", ErrorClass::NotFound),
            (413, "request_too_large", "Request exceeds the maximum size", ErrorClass::ContextWindow),
            (429, "rate_limit_error", "slow down", ErrorClass::RateLimit),
            (500, "api_error", "Internal server error", ErrorClass::Server),
            (504, "timeout_error", "Request timeout", ErrorClass::Timeout),
            (529, "overloaded_error", "Overloaded", ErrorClass::Server),
            // Unknown types fall back to the status.
            (409, "conflict_error", "conflict", ErrorClass::BadRequest),
            (503, "brand_new_error", "x", ErrorClass::Server),
        ];
        for (status, kind, message, class) in cases {
            let e = classify(status, &HeaderMap::new(), &body(kind, message));
            assert_eq!(e.class, class, "{kind}: {message}");
            assert_eq!(e.status, Some(status));
            assert_eq!(e.kind.as_deref(), Some(kind));
            assert_eq!(e.message, message);
        }
    }

    #[test]
    fn retry_after_details_and_plain_bodies() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        let b = br#"{"type":"error","error":{"type":"rate_limit_error","message":"spend limit","details":{"error_code":"enforced_spend_limit_reached"}}}"#;
        let e = classify(429, &h, b);
        assert_eq!(e.retry_after_ms, Some(7000));
        assert_eq!(e.code.as_deref(), Some("enforced_spend_limit_reached"));

        let e = classify(502, &HeaderMap::new(), b"<html>Bad Gateway</html>");
        assert_eq!(
            (e.class, e.message.as_str()),
            (ErrorClass::Server, "<html>Bad Gateway</html>")
        );
        let e = classify(529, &HeaderMap::new(), b"");
        assert_eq!(e.class, ErrorClass::Server);
        assert!(e.message.contains("529"));
        let e = classify(400, &HeaderMap::new(), b"prompt is too long");
        assert_eq!(e.class, ErrorClass::ContextWindow);

        let e = classify_stream_error(b"not json");
        assert_eq!((e.class, e.status), (ErrorClass::Server, None));
    }
}
