//! Classifying Google API errors.
//!
//! Google answers errors as `{"error": {"code", "message", "status", "details": […]}}`
//! (sometimes wrapped in a one-element JSON array), where `status` is the
//! `google.rpc.Code` name. The class follows `status`, refined by the message and
//! the `ErrorInfo` reason:
//!
//! | status | class |
//! |---|---|
//! | `RESOURCE_EXHAUSTED` | RateLimit (`retry_after_ms` from `RetryInfo.retryDelay`, else `Retry-After`) |
//! | `INVALID_ARGUMENT`, `FAILED_PRECONDITION`, `OUT_OF_RANGE` | BadRequest; ContextWindow when the input token count exceeds the maximum |
//! | `UNAUTHENTICATED` | Auth |
//! | `PERMISSION_DENIED` | PermissionDenied |
//! | `NOT_FOUND` | NotFound |
//! | `UNAVAILABLE`, `INTERNAL`, `UNKNOWN`, `DATA_LOSS`, `ABORTED`, `CANCELLED` | Server |
//! | `DEADLINE_EXCEEDED` | Timeout |
//!
//! An invalid or expired API key is Auth whatever the status (AI Studio sends it as
//! a 400 `INVALID_ARGUMENT` with reason `API_KEY_INVALID`), and so is a call without
//! credentials ("unregistered callers", a 403). A request refused for its content is
//! ContentPolicy. Otherwise the HTTP status decides. `kind` is the `status` name;
//! `code` is the `ErrorInfo` reason when there is one, else the numeric code.

use crate::error::{retry_after_ms, ErrorClass, UpstreamError};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Envelope {
    error: WireError,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireError {
    code: Option<Value>,
    message: Option<String>,
    status: Option<String>,
    details: Option<Vec<Value>>,
}

fn parse(body: &[u8]) -> Option<WireError> {
    // Checked first: serde would also read a struct from an array, positionally.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return serde_json::from_slice::<Vec<Envelope>>(body)
            .ok()?
            .into_iter()
            .next()
            .map(|e| e.error);
    }
    serde_json::from_slice::<Envelope>(body)
        .ok()
        .map(|e| e.error)
}

/// The `details` entry of type `google.rpc.<kind>`.
fn detail<'a>(details: &'a [Value], kind: &str) -> Option<&'a Value> {
    details.iter().find(|d| {
        d.get("@type").and_then(Value::as_str).is_some_and(|t| {
            t.strip_suffix(kind)
                .is_some_and(|p| p.ends_with("google.rpc."))
        })
    })
}

/// A protobuf JSON `Duration` (`"13s"`, `"0.5s"`, `"34.4s"`) in milliseconds.
fn duration_ms(d: &str) -> Option<u64> {
    let secs: f64 = d.trim().strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).round() as u64)
}

/// Turns a Google error response into an [`UpstreamError`]. `status` 0 means the
/// error came inside a stream; the body's own `code` then stands for it.
pub fn classify(status: u16, headers: &http::HeaderMap, body: &[u8]) -> UpstreamError {
    let parsed = parse(body).unwrap_or_default();
    let numeric = parsed
        .code
        .as_ref()
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok());
    let details = parsed.details.unwrap_or_default();
    let reason = detail(&details, "ErrorInfo")
        .and_then(|d| d.get("reason"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let retry_delay = detail(&details, "RetryInfo")
        .and_then(|d| d.get("retryDelay"))
        .and_then(Value::as_str)
        .and_then(duration_ms);
    let message = parsed.message.filter(|m| !m.is_empty()).unwrap_or_else(|| {
        let raw = String::from_utf8_lossy(body);
        let raw = raw.trim();
        if raw.is_empty() {
            format!("upstream returned HTTP {status} with an empty body")
        } else {
            raw.chars().take(500).collect()
        }
    });
    let effective = if status == 0 {
        numeric.unwrap_or(500)
    } else {
        status
    };
    let class = class_of(
        parsed.status.as_deref().unwrap_or(""),
        reason.as_deref().unwrap_or(""),
        &message,
        effective,
    );
    let code = reason.or_else(|| numeric.map(|c| c.to_string()));
    UpstreamError {
        class,
        status: Some(status),
        message,
        kind: parsed.status,
        code,
        param: None,
        retry_after_ms: retry_delay.or_else(|| retry_after_ms(headers)),
    }
}

fn class_of(status: &str, reason: &str, message: &str, http_status: u16) -> ErrorClass {
    let lower = message.to_ascii_lowercase();
    if matches!(reason, "API_KEY_INVALID" | "API_KEY_EXPIRED")
        || lower.contains("api key not valid")
        || lower.contains("api key expired")
        || lower.contains("unregistered callers")
    {
        return ErrorClass::Auth;
    }
    if lower.contains("exceeds the maximum number of tokens")
        || (lower.contains("input token count") && lower.contains("exceeds"))
    {
        return ErrorClass::ContextWindow;
    }
    if lower.contains("prohibited content")
        || lower.contains("prohibited_content")
        || (lower.contains("blocked") && lower.contains("safety"))
    {
        return ErrorClass::ContentPolicy;
    }
    match status {
        "RESOURCE_EXHAUSTED" => ErrorClass::RateLimit,
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => ErrorClass::BadRequest,
        "UNAUTHENTICATED" => ErrorClass::Auth,
        "PERMISSION_DENIED" => ErrorClass::PermissionDenied,
        "NOT_FOUND" => ErrorClass::NotFound,
        "UNAVAILABLE" | "INTERNAL" | "UNKNOWN" | "DATA_LOSS" | "ABORTED" | "CANCELLED" => {
            ErrorClass::Server
        }
        "DEADLINE_EXCEEDED" => ErrorClass::Timeout,
        _ => ErrorClass::from_status(http_status),
    }
}

/// An error reported inside a stream (the response had begun with 200).
pub(crate) fn stream_error(data: &[u8]) -> UpstreamError {
    let mut e = classify(0, &http::HeaderMap::new(), data);
    e.status = None;
    e
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn c(status: u16, body: &str) -> UpstreamError {
        classify(status, &http::HeaderMap::new(), body.as_bytes())
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms("13s"), Some(13_000));
        assert_eq!(duration_ms("0.5s"), Some(500));
        assert_eq!(duration_ms("34.4s"), Some(34_400));
        assert_eq!(duration_ms("3.000000001s"), Some(3_000));
        assert_eq!(duration_ms("13"), None);
        assert_eq!(duration_ms("-1s"), None);
        assert_eq!(duration_ms("NaNs"), None);
    }

    #[test]
    fn statuses() {
        let cases = [
            (400, "INVALID_ARGUMENT", "Request contains an invalid argument.", ErrorClass::BadRequest),
            (400, "FAILED_PRECONDITION", "User location is not supported for the API use.", ErrorClass::BadRequest),
            (401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", ErrorClass::Auth),
            (403, "PERMISSION_DENIED", "Permission denied on resource project x.", ErrorClass::PermissionDenied),
            (403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity).", ErrorClass::Auth),
            (404, "NOT_FOUND", "models/x is not found", ErrorClass::NotFound),
            (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted", ErrorClass::RateLimit),
            (500, "INTERNAL", "An internal error has occurred.", ErrorClass::Server),
            (503, "UNAVAILABLE", "The model is overloaded.", ErrorClass::Server),
            (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", ErrorClass::Timeout),
            (400, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", ErrorClass::ContextWindow),
            (400, "INVALID_ARGUMENT", "The request was blocked due to safety reasons.", ErrorClass::ContentPolicy),
            (418, "", "odd", ErrorClass::BadRequest),
        ];
        for (status, gstatus, message, class) in cases {
            let body = serde_json::json!({"error": {"code": status, "message": message, "status": gstatus}});
            let e = c(status, &body.to_string());
            assert_eq!(e.class, class, "{gstatus}: {message}");
            assert_eq!(e.message, message);
            assert_eq!(e.status, Some(status));
            assert_eq!(e.code.as_deref(), Some(status.to_string().as_str()));
        }
    }

    #[test]
    fn invalid_api_key_is_auth() {
        let body = r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}}"#;
        let e = c(400, body);
        assert_eq!(e.class, ErrorClass::Auth);
        assert_eq!(e.kind.as_deref(), Some("INVALID_ARGUMENT"));
        assert_eq!(e.code.as_deref(), Some("API_KEY_INVALID"));
    }

    #[test]
    fn array_wrapped_and_retry_header() {
        let body =
            r#"[{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}]"#;
        let mut h = http::HeaderMap::new();
        h.insert("retry-after", http::HeaderValue::from_static("7"));
        let e = classify(429, &h, body.as_bytes());
        assert_eq!(e.class, ErrorClass::RateLimit);
        assert_eq!(e.message, "Quota exceeded");
        assert_eq!(e.retry_after_ms, Some(7000));
    }

    #[test]
    fn unreadable_bodies() {
        let e = c(502, "<html>Bad Gateway</html>");
        assert_eq!(
            (e.class, e.message.as_str()),
            (ErrorClass::Server, "<html>Bad Gateway</html>")
        );
        let e = c(503, "");
        assert!(e.message.contains("503"));
        let e = c(429, r#"{"error":{}}"#);
        assert_eq!(e.class, ErrorClass::RateLimit);
        // In a stream, the body's code stands for the status.
        let e = stream_error(br#"{"error":{"code":503,"message":"overloaded"}}"#);
        assert_eq!((e.class, e.status), (ErrorClass::Server, None));
        let e = stream_error(br#"{"error":{"code":400,"message":"bad"}}"#);
        assert_eq!(e.class, ErrorClass::BadRequest);
    }
}
