//! `POST …/chat/completions`.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, request::Parts, HeaderValue, Response, StatusCode};

use crate::behavior::{parse_behavior_spec, percent_decode, Behavior};
use crate::errors::{bad_request, error_response, fault_response, json_response};
use crate::json::{push_json_str, push_u64, push_usage};
use crate::request::ChatRequest;
use crate::state::{Outcome, State};
use crate::stream::{self, StreamPlan};

/// The reply text cycles through these words; each word is one completion token.
pub(crate) const WORDS: [&str; 7] = [
    "Hello",
    " from",
    " the",
    " Switchyard",
    " mock",
    " provider",
    ".",
];

/// The `i`-th (0-based) word of the reply; repeats of the cycle start with " Hello"
/// so the text reads "… provider. Hello from …".
pub(crate) fn word(i: u32) -> &'static str {
    match i as usize % WORDS.len() {
        0 if i > 0 => " Hello",
        n => WORDS[n],
    }
}

/// Default reply length in tokens.
const DEFAULT_TOKENS: u32 = 12;

/// Largest accepted request body.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

const CHAT_SUFFIX: &str = "/chat/completions";

const INVALID_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please visit https://platform.openai.com/docs.)";

pub(crate) fn is_chat_path(path: &str) -> bool {
    path.ends_with(CHAT_SUFFIX)
}

enum Reply {
    Full(Response<Body>),
    Stream(StreamPlan),
}

/// Handle one chat completion request, tracking it in the stats.
pub(crate) async fn chat(state: Arc<State>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let mut guard = state.begin(parts.uri.path());
    match answer(&state, &parts, body).await {
        Reply::Full(resp) => {
            guard.finish(Outcome::Completed);
            resp
        }
        Reply::Stream(plan) => stream::response(plan, guard),
    }
}

async fn answer(state: &State, parts: &Parts, body: Body) -> Reply {
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            return Reply::Full(bad_request(
                &format!("Could not read the request body: {e}"),
                None,
                None,
            ))
        }
    };
    if state.cfg.record {
        state.record(recording(parts, &bytes));
    }

    let req: ChatRequest<'_> = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) if e.is_data() => {
            return Reply::Full(bad_request(
                &format!("Invalid request body: {e}"),
                None,
                None,
            ))
        }
        Err(_) => return Reply::Full(bad_request(INVALID_JSON, None, None)),
    };

    let path = parts.uri.path();
    let behavior = match resolve_behavior(&state.cfg.defaults, path, parts, req.mock.as_ref()) {
        Ok(b) => b,
        Err(msg) => return Reply::Full(bad_request(&msg, None, None)),
    };

    if let Some(status) = behavior.status {
        let fault = match behavior.fail_times {
            Some(n) => state.fail_count(path) < n,
            None => true,
        };
        if fault {
            sleep(behavior.headers_delay).await;
            let model = req.model.as_deref().unwrap_or("unknown");
            return Reply::Full(fault_response(status, &behavior, model));
        }
    }

    let Some(model) = req.model.as_deref() else {
        return Reply::Full(bad_request(
            "you must provide a model parameter",
            Some("model"),
            None,
        ));
    };
    let Some(messages) = &req.messages else {
        return Reply::Full(bad_request(
            "Missing required parameter: 'messages'.",
            Some("messages"),
            Some("missing_required_parameter"),
        ));
    };
    if messages.count == 0 {
        return Reply::Full(bad_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            Some("messages"),
            Some("empty_array"),
        ));
    }

    let requested = behavior.tokens.unwrap_or(DEFAULT_TOKENS);
    let cap = match (req.max_tokens, req.max_completion_tokens) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let (tokens, finish_reason) = match cap {
        Some(cap) if cap < u64::from(requested) => {
            (u32::try_from(cap).unwrap_or(requested), "length")
        }
        _ => (requested, "stop"),
    };
    let prompt_tokens = messages.prompt_tokens();
    let id = state
        .next_id
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());

    if req.stream.unwrap_or(false) {
        sleep(behavior.headers_delay).await;
        let include_usage = req
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        return Reply::Stream(StreamPlan {
            prefix: stream::chunk_prefix(id, created, model),
            tokens,
            finish_reason,
            include_usage,
            prompt_tokens,
            ttft: behavior.ttft,
            inter_token: behavior.inter_token,
            drop_after: behavior.drop_after,
        });
    }

    let delay = behavior
        .headers_delay
        .saturating_add(behavior.ttft)
        .saturating_add(
            behavior
                .inter_token
                .checked_mul(tokens)
                .unwrap_or(Duration::MAX),
        );
    sleep(delay).await;
    Reply::Full(json_response(
        StatusCode::OK,
        completion_body(id, created, model, tokens, finish_reason, prompt_tokens),
    ))
}

/// Sleep, skipping the timer entirely for zero durations.
pub(crate) async fn sleep(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// Defaults, then `key=value` path segments, then `x-mock-*` headers, then the body's `"mock"`.
fn resolve_behavior<'a>(
    defaults: &'a Behavior,
    path: &str,
    parts: &Parts,
    mock: Option<&serde_json::Value>,
) -> Result<Cow<'a, Behavior>, String> {
    let mut b = Cow::Borrowed(defaults);
    let prefix = path.strip_suffix(CHAT_SUFFIX).unwrap_or(path);
    if prefix.contains('=') {
        for seg in prefix.split('/').filter(|s| s.contains('=')) {
            parse_behavior_spec(&percent_decode(seg), b.to_mut())?;
        }
    }
    for (name, value) in &parts.headers {
        if let Some(key) = name.as_str().strip_prefix("x-mock-") {
            let value = value
                .to_str()
                .map_err(|_| format!("invalid value for mock header '{name}'"))?;
            b.to_mut().set(key, value)?;
        }
    }
    match mock {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(map)) => {
            for (key, value) in map {
                let b = b.to_mut();
                match value {
                    serde_json::Value::String(s) => b.set(key, s)?,
                    serde_json::Value::Number(n) => b.set(key, &n.to_string())?,
                    serde_json::Value::Null => {}
                    other => {
                        return Err(format!(
                        "invalid value {other} for mock key '{key}': expected a number or a string"
                    ))
                    }
                }
            }
        }
        Some(_) => return Err("'mock' must be an object".to_owned()),
    }
    Ok(b)
}

/// The non-streaming `chat.completion` body.
fn completion_body(
    id: u64,
    created: u64,
    model: &str,
    tokens: u32,
    finish_reason: &str,
    prompt_tokens: u64,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(640 + model.len() + tokens as usize * 8);
    buf.extend_from_slice(b"{\"id\":\"chatcmpl-mock-");
    push_u64(&mut buf, id);
    buf.extend_from_slice(b"\",\"object\":\"chat.completion\",\"created\":");
    push_u64(&mut buf, created);
    buf.extend_from_slice(b",\"model\":");
    push_json_str(&mut buf, model);
    buf.extend_from_slice(
        b",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"",
    );
    for i in 0..tokens {
        buf.extend_from_slice(word(i).as_bytes());
    }
    buf.extend_from_slice(
        b"\",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"",
    );
    buf.extend_from_slice(finish_reason.as_bytes());
    buf.extend_from_slice(b"\"}],\"usage\":");
    push_usage(&mut buf, prompt_tokens, u64::from(tokens));
    buf.extend_from_slice(b",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\"}");
    buf
}

/// `{"method","path","headers","body"}` for `/_mock/requests`.
fn recording(parts: &Parts, body: &Bytes) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        match headers.get_mut(name.as_str()) {
            Some(serde_json::Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&value);
            }
            _ => {
                headers.insert(
                    name.as_str().to_owned(),
                    serde_json::Value::String(value.into_owned()),
                );
            }
        }
    }
    let body = serde_json::from_slice::<serde_json::Value>(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()));
    serde_json::json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "headers": headers,
        "body": body,
    })
}

/// `GET …/models`.
pub(crate) fn models() -> Response<Body> {
    const MODELS: &str = concat!(
        r#"{"object":"list","data":["#,
        r#"{"id":"mock-gpt-4o","object":"model","created":1700000000,"owned_by":"switchyard-mock"},"#,
        r#"{"id":"mock-gpt-4o-mini","object":"model","created":1700000000,"owned_by":"switchyard-mock"},"#,
        r#"{"id":"mock-small","object":"model","created":1700000000,"owned_by":"switchyard-mock"}"#,
        "]}"
    );
    let mut resp = Response::new(Body::from(MODELS));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// 404 for anything unknown, in OpenAI's words.
pub(crate) fn not_found(method: &str, path: &str) -> Response<Body> {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("Invalid URL ({method} {path})"),
        "invalid_request_error",
        None,
        None,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn completion_body_shape() {
        let body = completion_body(7, 1, "m\"x", 12, "stop", 9);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["id"], "chatcmpl-mock-7");
        assert_eq!(v["model"], "m\"x");
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "Hello from the Switchyard mock provider. Hello from the Switchyard mock"
        );
        assert_eq!(v["usage"]["total_tokens"], 21);
    }
}
