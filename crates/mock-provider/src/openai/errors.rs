//! OpenAI-shaped error responses.

use axum::body::Body;
use axum::http::{Response, StatusCode};

use crate::behavior::Behavior;
use crate::http::{json_response, retry_headers, status_code};
use crate::json::push_json_str;

/// `{"error":{"message":..,"type":..,"param":..,"code":..}}` as bytes.
pub(crate) fn error_body(
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(96 + message.len());
    buf.extend_from_slice(b"{\"error\":{\"message\":");
    push_json_str(&mut buf, message);
    buf.extend_from_slice(b",\"type\":");
    push_json_str(&mut buf, kind);
    buf.extend_from_slice(b",\"param\":");
    push_opt(&mut buf, param);
    buf.extend_from_slice(b",\"code\":");
    push_opt(&mut buf, code);
    buf.extend_from_slice(b"}}");
    buf
}

fn push_opt(buf: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(v) => push_json_str(buf, v),
        None => buf.extend_from_slice(b"null"),
    }
}

/// An OpenAI-shaped error response.
pub(crate) fn error_response(
    status: StatusCode,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response<Body> {
    json_response(status, error_body(message, kind, param, code))
}

/// 400 `invalid_request_error`.
pub(crate) fn bad_request(
    message: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response<Body> {
    error_response(
        StatusCode::BAD_REQUEST,
        message,
        "invalid_request_error",
        param,
        code,
    )
}

/// The injected fault response for `behavior.status`.
pub(crate) fn fault_response(status: u16, behavior: &Behavior, model: &str) -> Response<Body> {
    let code = status_code(status);
    let model_msg;
    let (message, kind, err_code): (&str, &str, Option<&str>) = match status {
        400 => (
            "Invalid request (mock fault).",
            "invalid_request_error",
            None,
        ),
        401 => (
            "Incorrect API key provided.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        403 => (
            "You are not allowed to access this resource.",
            "permission_error",
            Some("permission_denied"),
        ),
        404 => {
            model_msg =
                format!("The model `{model}` does not exist or you do not have access to it.");
            (
                model_msg.as_str(),
                "invalid_request_error",
                Some("model_not_found"),
            )
        }
        429 => (
            "Rate limit reached for requests",
            "requests",
            Some("rate_limit_exceeded"),
        ),
        500 => (
            "The server had an error while processing your request.",
            "server_error",
            None,
        ),
        502 | 503 => (
            "The server is overloaded or not ready yet.",
            "server_error",
            Some("overloaded"),
        ),
        s if s >= 500 => ("Mock provider server error.", "server_error", None),
        _ => ("Mock provider error.", "invalid_request_error", None),
    };
    let message = behavior.error_message.as_deref().unwrap_or(message);
    let mut resp = error_response(code, message, kind, None, err_code);
    retry_headers(&mut resp, behavior);
    resp
}
