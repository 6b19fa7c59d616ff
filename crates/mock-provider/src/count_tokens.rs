//! Anthropic's `POST /v1/messages/count_tokens`: a deterministic count (a quarter of
//! the bytes of `system`, `messages` and `tools`), with Anthropic's auth and errors.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

use crate::record;
use crate::state::{Format, State};

const BODY_LIMIT: usize = 32 * 1024 * 1024;

fn reply(status: StatusCode, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    reply(
        status,
        &json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

pub(crate) async fn handle(state: Arc<State>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "unreadable body",
        );
    };
    if state.cfg.record {
        state.record(record::entry(&parts, &bytes, Format::Anthropic));
    }
    if !parts.headers.contains_key("x-api-key") {
        return error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "x-api-key header is required",
        );
    }
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(&bytes) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "The request body must be a JSON object.",
        );
    };
    if !obj.get("messages").is_some_and(Value::is_array) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "messages: Field required",
        );
    }
    let size: usize = ["system", "messages", "tools"]
        .iter()
        .filter_map(|k| obj.get(*k))
        .map(|v| v.to_string().len())
        .sum();
    reply(StatusCode::OK, &json!({"input_tokens": size.div_ceil(4)}))
}
