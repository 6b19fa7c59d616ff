//! Classifying Bedrock errors: HTTP error responses and the exception events of a
//! ConverseStream.
//!
//! Bedrock (AWS rest-json) names the error in the `x-amzn-errortype` header, e.g.
//! `ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/`, and puts
//! the text in the body as `{"message": ...}` (`{"Message": ...}` from the AWS front
//! end, e.g. for bad credentials). Some answers carry the type in the body's `__type`
//! (`com.amazon.coral.service#UnrecognizedClientException`) instead. In a stream the
//! same exceptions arrive as frames named after the union member
//! (`throttlingException`), with the same `{"message": ...}` payload.

use crate::error::{retry_after_ms, ErrorClass, UpstreamError};
use serde::Deserialize;

#[derive(Deserialize, Default)]
struct WireError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "Message")]
    message_upper: Option<String>,
    #[serde(default, rename = "__type")]
    kind: Option<String>,
    /// The AWS front end's envelope for some authentication failures:
    /// `{"Output": {"__type": "...#UnrecognizedClientException"}, "Version": "1.0"}`.
    #[serde(default, rename = "Output")]
    output: Option<WireOutput>,
}

#[derive(Deserialize, Default)]
struct WireOutput {
    #[serde(default, rename = "__type")]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// `ValidationException:http://...` or `com.amazon.coral.service#ValidationException`
/// → `ValidationException`.
fn short_kind(raw: &str) -> Option<String> {
    let after_ns = raw.rsplit('#').next().unwrap_or(raw);
    let name = after_ns.split(':').next().unwrap_or(after_ns).trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// Whether a validation message says the prompt does not fit the model.
fn is_context_window(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "input is too long",
        "too many input tokens",
        "context window",
        "context length",
        "prompt is too long",
        "too many total text bytes",
        "input length",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// The class of an error named `kind` (either spelling: `ThrottlingException` or the
/// stream's `throttlingException`), falling back on the HTTP status.
fn class_of(kind: Option<&str>, status: Option<u16>, message: &str) -> ErrorClass {
    let lower = kind.map(str::to_ascii_lowercase);
    let by_kind = match lower.as_deref() {
        Some(
            "throttlingexception" | "toomanyrequestsexception" | "servicequotaexceededexception",
        ) => Some(ErrorClass::RateLimit),
        Some("validationexception") => Some(if is_context_window(message) {
            ErrorClass::ContextWindow
        } else if message.contains("model identifier is invalid") {
            // A deployment naming a model Bedrock does not know: another deployment
            // may serve the request, so this is the upstream not knowing the model.
            ErrorClass::NotFound
        } else {
            ErrorClass::BadRequest
        }),
        Some("accessdeniedexception") => Some(ErrorClass::PermissionDenied),
        Some(
            "unrecognizedclientexception"
            | "invalidsignatureexception"
            | "incompletesignatureexception"
            | "missingauthenticationtokenexception"
            | "expiredtokenexception"
            | "invalidclienttokenid",
        ) => Some(ErrorClass::Auth),
        Some("resourcenotfoundexception") => Some(ErrorClass::NotFound),
        Some("modeltimeoutexception") => Some(ErrorClass::Timeout),
        Some(
            "serviceunavailableexception"
            | "internalserverexception"
            | "internalfailure"
            | "modelnotreadyexception"
            | "modelerrorexception"
            | "modelstreamerrorexception",
        ) => Some(ErrorClass::Server),
        _ => None,
    };
    if let Some(class) = by_kind {
        return class;
    }
    let lower_message = message.to_ascii_lowercase();
    match status {
        Some(403)
            if lower_message.contains("security token") || lower_message.contains("signature") =>
        {
            ErrorClass::Auth
        }
        Some(400 | 413) if is_context_window(message) => ErrorClass::ContextWindow,
        Some(400) if message.contains("model identifier is invalid") => ErrorClass::NotFound,
        Some(s) => ErrorClass::from_status(s),
        // An in-stream error of a kind we do not know: the provider failed mid-answer.
        None => ErrorClass::Server,
    }
}

/// Turns a Bedrock HTTP error response into an [`UpstreamError`].
pub fn classify(status: u16, headers: &http::HeaderMap, body: &[u8]) -> UpstreamError {
    let wire: WireError = serde_json::from_slice(body).unwrap_or_default();
    let kind = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .and_then(short_kind)
        .or_else(|| wire.kind.as_deref().and_then(short_kind))
        .or_else(|| {
            let output = wire.output.as_ref()?;
            output.kind.as_deref().and_then(short_kind)
        });
    let message = wire
        .message
        .or(wire.message_upper)
        .or_else(|| wire.output.and_then(|o| o.message))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            let raw = String::from_utf8_lossy(body);
            let raw = raw.trim();
            if raw.is_empty() {
                format!("Bedrock returned HTTP {status} with an empty body")
            } else {
                raw.chars().take(500).collect()
            }
        });
    UpstreamError {
        class: class_of(kind.as_deref(), Some(status), &message),
        status: Some(status),
        message,
        kind,
        code: None,
        param: None,
        retry_after_ms: retry_after_ms(headers),
    }
}

#[derive(Deserialize)]
struct WireException {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "Message")]
    message_upper: Option<String>,
    #[serde(default, rename = "originalStatusCode")]
    original_status: Option<u16>,
    #[serde(default, rename = "originalMessage")]
    original_message: Option<String>,
}

/// Whether an event type names an exception (by the spelling every exception member
/// of `ConverseStreamOutput` has).
pub(crate) fn is_exception_type(event_type: &str) -> bool {
    event_type.to_ascii_lowercase().ends_with("exception")
}

/// The message of an exception or error payload, if it has the `{"message": ...}`
/// shape; `None` for anything else (an event of a kind we do not know).
pub(crate) fn payload_message(payload: &[u8]) -> Option<String> {
    let e: WireException = serde_json::from_slice(payload).ok()?;
    e.message.or(e.message_upper)
}

/// An exception (or framework error) inside a ConverseStream, classified like the HTTP
/// error of the same name; no status, since the response had begun with 200.
pub fn stream_exception(event_type: &str, payload: &[u8]) -> UpstreamError {
    let wire: Option<WireException> = serde_json::from_slice(payload).ok();
    let mut message = wire
        .as_ref()
        .and_then(|w| w.message.clone().or_else(|| w.message_upper.clone()))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            let raw = String::from_utf8_lossy(payload);
            let raw = raw.trim();
            if raw.is_empty() {
                format!("Bedrock sent `{event_type}` in the stream")
            } else {
                raw.chars().take(500).collect()
            }
        });
    // modelStreamErrorException may carry what the model host itself said.
    if let Some(w) = &wire {
        if let Some(original) = w.original_message.as_deref().filter(|o| !o.is_empty()) {
            if !message.contains(original) {
                match w.original_status {
                    Some(s) => message = format!("{message} (model said {s}: {original})"),
                    None => message = format!("{message} (model said: {original})"),
                }
            }
        }
    }
    UpstreamError {
        class: class_of(Some(event_type), None, &message),
        status: None,
        message,
        kind: Some(event_type.to_string()),
        code: None,
        param: None,
        retry_after_ms: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    fn headers(kind: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-amzn-errortype", HeaderValue::from_str(kind).unwrap());
        h
    }

    /// The recorded 400s of converse and converse-stream (no `x-amzn-errortype` was kept).
    #[test]
    fn recorded_invalid_model_errors() {
        for rel in [
            "bedrock/pydanticai_test_bedrock_error.yaml",
            "bedrock/pydanticai_test_bedrock_streaming_error.yaml",
        ] {
            let doc: serde_json::Value =
                serde_yaml_ng::from_slice(&crate::test_support::fixture(rel)).unwrap();
            let resp = &doc["interactions"][0]["response"];
            let status = resp["status"]["code"].as_u64().unwrap() as u16;
            let body = serde_json::to_vec(&resp["parsed_body"]).unwrap();
            let e = classify(status, &HeaderMap::new(), &body);
            assert_eq!(e.status, Some(400));
            assert_eq!(e.message, "The provided model identifier is invalid.");
            assert_eq!(e.class, ErrorClass::NotFound, "{rel}");
            assert_eq!(e.kind, None);
            // With the header Bedrock sends, the same.
            let e = classify(
                400,
                &headers(
                    "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                ),
                &body,
            );
            assert_eq!(
                (e.class, e.kind.as_deref()),
                (ErrorClass::NotFound, Some("ValidationException"))
            );
        }
    }

    #[test]
    fn classes_by_error_type_and_status() {
        let cases: &[(u16, Option<&str>, &str, ErrorClass)] = &[
            (
                429,
                Some("ThrottlingException:http://x/"),
                r#"{"message":"Too many requests, please wait before trying again."}"#,
                ErrorClass::RateLimit,
            ),
            (
                429,
                None,
                r#"{"message":"Too many tokens"}"#,
                ErrorClass::RateLimit,
            ),
            (
                400,
                Some("ValidationException"),
                r#"{"message":"Input is too long for requested model."}"#,
                ErrorClass::ContextWindow,
            ),
            (
                400,
                Some("ValidationException"),
                r#"{"message":"prompt is too long: 210000 tokens > 200000 maximum"}"#,
                ErrorClass::ContextWindow,
            ),
            (
                400,
                Some("ValidationException"),
                r#"{"message":"The model returned the following errors: too many input tokens"}"#,
                ErrorClass::ContextWindow,
            ),
            (
                400,
                Some("ValidationException"),
                r#"{"message":"messages: text content blocks must be non-empty"}"#,
                ErrorClass::BadRequest,
            ),
            (
                403,
                Some("AccessDeniedException"),
                r#"{"message":"You don't have access to the model with the specified model ID."}"#,
                ErrorClass::PermissionDenied,
            ),
            (
                403,
                Some("UnrecognizedClientException"),
                r#"{"message":"The security token included in the request is invalid."}"#,
                ErrorClass::Auth,
            ),
            (
                403,
                None,
                r#"{"Message":"The security token included in the request is expired"}"#,
                ErrorClass::Auth,
            ),
            (
                403,
                None,
                r#"{"message":"The request signature we calculated does not match the signature you provided."}"#,
                ErrorClass::Auth,
            ),
            (
                403,
                None,
                r#"{"Output":{"__type":"com.amazon.coral.service#UnrecognizedClientException"},"Version":"1.0"}"#,
                ErrorClass::Auth,
            ),
            (
                404,
                Some("ResourceNotFoundException"),
                r#"{"message":"Model not found"}"#,
                ErrorClass::NotFound,
            ),
            (
                408,
                Some("ModelTimeoutException"),
                r#"{"message":"Model has timed out in processing the request."}"#,
                ErrorClass::Timeout,
            ),
            (408, None, "", ErrorClass::Timeout),
            (
                503,
                Some("ServiceUnavailableException"),
                r#"{"message":"Bedrock is unable to process your request."}"#,
                ErrorClass::Server,
            ),
            (
                500,
                Some("InternalServerException"),
                r#"{"message":"Internal server error"}"#,
                ErrorClass::Server,
            ),
            (
                429,
                Some("ModelNotReadyException"),
                r#"{"message":"Model is not ready"}"#,
                ErrorClass::Server,
            ),
            (
                424,
                Some("ModelErrorException"),
                r#"{"message":"The model failed"}"#,
                ErrorClass::Server,
            ),
            (502, None, "<html>Bad Gateway</html>", ErrorClass::Server),
        ];
        for (status, kind, body, class) in cases {
            let h = kind.map(headers).unwrap_or_default();
            let e = classify(*status, &h, body.as_bytes());
            assert_eq!(e.class, *class, "{status} {kind:?} {body}");
            assert_eq!(e.status, Some(*status));
            assert!(!e.message.is_empty());
            if let Some(k) = kind {
                assert_eq!(e.kind.as_deref(), k.split(':').next());
            }
        }
        let e = classify(
            403,
            &HeaderMap::new(),
            br#"{"Message":"The security token included in the request is expired"}"#,
        );
        assert_eq!(
            e.message,
            "The security token included in the request is expired"
        );
        let e = classify(500, &HeaderMap::new(), b"");
        assert!(e.message.contains("500"), "{}", e.message);
    }

    #[test]
    fn retry_after_is_read() {
        let mut h = headers("ThrottlingException");
        h.insert("retry-after", HeaderValue::from_static("3"));
        let e = classify(429, &h, br#"{"message":"slow down"}"#);
        assert_eq!(e.retry_after_ms, Some(3000));
    }

    #[test]
    fn stream_exceptions() {
        let cases = [
            ("throttlingException", ErrorClass::RateLimit),
            ("serviceUnavailableException", ErrorClass::Server),
            ("internalServerException", ErrorClass::Server),
            ("modelStreamErrorException", ErrorClass::Server),
            ("validationException", ErrorClass::BadRequest),
            ("modelTimeoutException", ErrorClass::Timeout),
            ("someNewException", ErrorClass::Server),
        ];
        for (kind, class) in cases {
            let e = stream_exception(kind, br#"{"message":"boom"}"#);
            assert_eq!((e.class, e.status), (class, None), "{kind}");
            assert_eq!(e.message, "boom");
            assert_eq!(e.kind.as_deref(), Some(kind));
        }
        let e = stream_exception(
            "validationException",
            br#"{"message":"Input is too long for requested model."}"#,
        );
        assert_eq!(e.class, ErrorClass::ContextWindow);
        let e = stream_exception(
            "modelStreamErrorException",
            br#"{"message":"Model stream error","originalStatusCode":529,"originalMessage":"Overloaded"}"#,
        );
        assert_eq!(e.message, "Model stream error (model said 529: Overloaded)");
        let e = stream_exception("throttlingException", b"not json");
        assert_eq!(
            (e.class, e.message.as_str()),
            (ErrorClass::RateLimit, "not json")
        );
        assert!(is_exception_type("ThrottlingException"));
        assert!(!is_exception_type("messageStop"));
    }
}
