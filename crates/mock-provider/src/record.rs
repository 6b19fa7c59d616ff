//! Entries of `GET /_mock/requests`: what the gateway sent, for tests to assert on.

use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::state::Format;

/// `{"format","method","path","query","headers","body"}`; all headers are kept (repeated
/// ones joined with ", "), and the body is its JSON or else its text.
pub(crate) fn entry(parts: &Parts, body: &[u8], format: Format) -> Value {
    let body = serde_json::from_slice::<Value>(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    entry_with_body(parts, body, format.name())
}

/// Like [`entry`] with a body already decoded by the caller.
pub(crate) fn entry_with_body(parts: &Parts, body: Value, format: &str) -> Value {
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        match headers.get_mut(name.as_str()) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value.into_owned()));
            }
        }
    }
    serde_json::json!({
        "format": format,
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body": body,
    })
}
