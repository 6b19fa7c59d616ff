//! The one place where failures become HTTP responses in the client's error shape.
//!
//! What the client reads (`message`) is kept apart from what is logged: upstream
//! messages are passed through, but with anything that looks like a credential masked.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde::Serialize;
use switchyard_adapters::{ErrorClass, UpstreamError};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: String,
    pub code: Option<String>,
    pub param: Option<String>,
    /// Seconds, sent as `Retry-After`.
    pub retry_after: Option<u32>,
    /// More headers (the `x-ratelimit-*` of a limit refusal).
    pub extra_headers: Option<Box<Vec<(&'static str, u64)>>>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &str,
        code: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind: kind.to_string(),
            code: code.map(str::to_string),
            param: None,
            retry_after: None,
            extra_headers: None,
        }
    }

    pub fn with_param(mut self, param: Option<String>) -> Self {
        self.param = param;
        self
    }

    pub fn bad_request(message: impl Into<String>, param: Option<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            message,
        )
        .with_param(param)
    }

    pub fn unauthorized(message: &str) -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            Some("invalid_api_key"),
            message,
        )
    }

    pub fn model_not_found(model: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("model_not_found"),
            format!(
                "The model `{}` does not exist in this gateway's catalog. GET /v1/models lists the models you can use; a configured provider's models can also be called as provider/model.",
                truncate(model, 200)
            ),
        )
        .with_param(Some("model".into()))
    }

    /// 403: a virtual key outside its model scope.
    pub fn model_not_allowed(model: &str, key_name: &str) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            Some("model_not_allowed"),
            format!(
                "The API key `{}` may not use the model `{}`. GET /v1/models lists the models this key may use.",
                truncate(key_name, 100),
                truncate(model, 200)
            ),
        )
        .with_param(Some("model".into()))
    }

    pub fn forbidden(message: &str) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            Some("forbidden"),
            message,
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found_error",
            Some("not_found"),
            message,
        )
    }

    /// 402: the key's budget for the period is spent.
    pub fn budget_exceeded(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "budget_exceeded",
            Some("budget_exceeded"),
            message,
        )
    }

    /// 429 from the gateway's own limits, with `Retry-After`.
    pub fn rate_limited(message: impl Into<String>, retry_after_s: u64) -> Self {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            Some("rate_limit_exceeded"),
            message,
        );
        e.retry_after = Some(u32::try_from(retry_after_s.max(1)).unwrap_or(u32::MAX));
        e
    }

    pub fn too_large(limit: u64) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            Some("request_too_large"),
            format!("The request body is larger than this gateway's limit of {limit} bytes (server.max_body_size)."),
        )
    }

    pub fn not_found_route(method: &str, path: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("unknown_url"),
            format!(
                "Unknown request URL: {method} {}. Chat requests go to POST /v1/chat/completions.",
                truncate(path, 200)
            ),
        )
    }

    /// Nothing to route to (503, with `Retry-After` as the contract asks).
    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            Some("service_unavailable"),
            message,
        );
        e.retry_after = Some(1);
        e
    }

    /// Maps an upstream failure to the client's status: 4xx passed through with the
    /// upstream's message, 5xx and broken connections 502, timeouts 504.
    pub fn from_upstream(e: &UpstreamError, deployment: &str, secrets: &[&str]) -> Self {
        let message = redact(&e.message, secrets);
        let retry_after = e.retry_after_ms.map(|ms| ms.div_ceil(1000));
        let mut err = match e.class {
            ErrorClass::Timeout => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout_error",
                Some("upstream_timeout"),
                format!("The upstream deployment {deployment} did not answer in time: {message}"),
            ),
            ErrorClass::Connection => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                Some("upstream_connection_error"),
                format!("Could not reach the upstream deployment {deployment}: {message}"),
            ),
            ErrorClass::Server => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                Some("upstream_error"),
                format!(
                    "The upstream deployment {deployment} failed{}: {message}",
                    e.status
                        .map(|s| format!(" with HTTP {s}"))
                        .unwrap_or_default()
                ),
            ),
            class => {
                // A client-side class: the upstream's own 4xx status when it answered
                // with one, else the contract's status for the class (errors inside a
                // stream, or raised by the gateway's own provider auth, have none).
                let status = match e.status {
                    Some(s @ 400..=499) => s,
                    _ => class_status(class),
                };
                let code = e.code.clone().or_else(|| match class {
                    ErrorClass::ContextWindow => Some("context_length_exceeded".to_string()),
                    ErrorClass::ContentPolicy => Some("content_policy_violation".to_string()),
                    _ => None,
                });
                // A status-less error did not come as the upstream's own answer: say
                // which deployment it concerns.
                let message = if e.status.is_some() {
                    message
                } else {
                    format!("The upstream deployment {deployment}: {message}")
                };
                ApiError {
                    status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                    message,
                    kind: e
                        .kind
                        .clone()
                        .unwrap_or_else(|| default_kind(status).to_string()),
                    code,
                    param: e.param.clone(),
                    retry_after: None,
                    extra_headers: None,
                }
            }
        };
        err.retry_after = retry_after.map(|s| u32::try_from(s).unwrap_or(u32::MAX));
        err
    }

    /// The JSON body, also used for errors inside an SSE stream.
    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&Body {
            error: Inner {
                message: &self.message,
                kind: &self.kind,
                param: self.param.as_deref(),
                code: self.code.as_deref(),
            },
        })
        .unwrap_or_default()
    }
}

/// The contract's status of a client-side error class.
fn class_status(class: ErrorClass) -> u16 {
    match class {
        ErrorClass::Auth => 401,
        ErrorClass::PermissionDenied => 403,
        ErrorClass::NotFound => 404,
        ErrorClass::RateLimit => 429,
        ErrorClass::Timeout => 504,
        ErrorClass::Server | ErrorClass::Connection => 502,
        ErrorClass::BadRequest | ErrorClass::ContextWindow | ErrorClass::ContentPolicy => 400,
    }
}

fn default_kind(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        _ => "invalid_request_error",
    }
}

/// The error body a client's API speaks: OpenAI's `{"error":{message,type,param,code}}`
/// or Anthropic's `{"type":"error","error":{type,message}}` (on `/v1/messages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    OpenAi,
    Anthropic,
}

impl ApiError {
    /// The Anthropic error body: its `type` names the class as Anthropic's API does.
    pub fn anthropic_body_bytes(&self) -> Vec<u8> {
        let kind = match self.status.as_u16() {
            400 | 405 | 422 => "invalid_request_error",
            401 => "authentication_error",
            402 => "billing_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            504 => "timeout_error",
            _ => "api_error",
        };
        serde_json::to_vec(&serde_json::json!({
            "type": "error",
            "error": {"type": kind, "message": self.message},
        }))
        .unwrap_or_default()
    }

    /// The body in the client's shape.
    pub fn body_in(&self, shape: ErrorShape) -> Vec<u8> {
        match shape {
            ErrorShape::OpenAi => self.body_bytes(),
            ErrorShape::Anthropic => self.anthropic_body_bytes(),
        }
    }

    /// The response in the client's shape (status and headers are the same in both).
    pub fn respond(self, shape: ErrorShape) -> Response {
        match shape {
            ErrorShape::OpenAi => self.into_response(),
            ErrorShape::Anthropic => {
                let body = self.anthropic_body_bytes();
                self.response_with(body)
            }
        }
    }

    fn response_with(self, body: Vec<u8>) -> Response {
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.retry_after {
            h.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        for (name, v) in self.extra_headers.iter().flat_map(|b| b.iter()) {
            h.insert(*name, HeaderValue::from(*v));
        }
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body_bytes();
        self.response_with(body)
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Masks known secrets and anything shaped like an API key (`sk-…`, `key-…`).
pub fn redact(message: &str, secrets: &[&str]) -> String {
    let mut out = message.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 6) {
        if out.contains(*s) {
            out = out.replace(*s, "[redacted]");
        }
    }
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(pos) = rest.find("sk-") {
        let before_ok = pos == 0 || !rest.as_bytes()[pos - 1].is_ascii_alphanumeric();
        let tail = &rest[pos + 3..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*'))
            .unwrap_or(tail.len());
        result.push_str(&rest[..pos]);
        if before_ok && len >= 6 {
            result.push_str("sk-[redacted]");
        } else {
            result.push_str(&rest[pos..pos + 3 + len]);
        }
        rest = &tail[len..];
    }
    result.push_str(rest);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_keys() {
        assert_eq!(
            redact(
                "Incorrect API key provided: sk-proj-abc***xyz. See docs",
                &[]
            ),
            "Incorrect API key provided: sk-[redacted]. See docs"
        );
        assert_eq!(
            redact("key mysecretkey used", &["mysecretkey"]),
            "key [redacted] used"
        );
        assert_eq!(redact("task-sk-1 ok", &[]), "task-sk-1 ok");
    }

    #[test]
    fn upstream_mapping() {
        let mut e = UpstreamError::new(ErrorClass::Server, Some(500), "boom");
        assert_eq!(
            ApiError::from_upstream(&e, "p/m", &[]).status,
            StatusCode::BAD_GATEWAY
        );
        e.class = ErrorClass::RateLimit;
        e.status = Some(429);
        e.retry_after_ms = Some(1500);
        let a = ApiError::from_upstream(&e, "p/m", &[]);
        assert_eq!((a.status.as_u16(), a.retry_after), (429, Some(2)));
        assert_eq!(a.kind, "rate_limit_error");
        let t = UpstreamError::new(ErrorClass::Timeout, None, "after 1s");
        assert_eq!(
            ApiError::from_upstream(&t, "p/m", &[]).status,
            StatusCode::GATEWAY_TIMEOUT
        );
    }
}
