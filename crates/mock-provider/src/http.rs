//! Response helpers shared by every format.

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Response, StatusCode};

use crate::behavior::Behavior;

/// A JSON response (`content-type: application/json`).
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A JSON response from a value.
pub(crate) fn json_value(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    json_response(status, body.to_string().into_bytes())
}

/// The status to answer for a `status` knob (validated to 200..=599 when parsed).
pub(crate) fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `Retry-After` and `retry-after-ms` from the knobs, on a fault of any format.
pub(crate) fn retry_headers(resp: &mut Response<Body>, behavior: &Behavior) {
    let headers = resp.headers_mut();
    if let Some(ra) = &behavior.retry_after {
        if let Ok(v) = HeaderValue::from_str(ra) {
            headers.insert(header::RETRY_AFTER, v);
        }
    }
    if let Some(ms) = behavior.retry_after_ms {
        headers.insert(
            HeaderName::from_static("retry-after-ms"),
            HeaderValue::from(ms),
        );
    }
}

/// Set a header whose value is known to be valid; a bad value is skipped, never a panic.
pub(crate) fn set_header(resp: &mut Response<Body>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

/// Seconds to wait before a retry, from `retry_after` (when numeric) or `retry_after_ms`.
pub(crate) fn retry_delay_secs(behavior: &Behavior) -> Option<f64> {
    if let Some(s) = behavior
        .retry_after
        .as_deref()
        .and_then(|s| s.parse::<f64>().ok())
    {
        return Some(s);
    }
    behavior.retry_after_ms.map(|ms| ms as f64 / 1000.0)
}
