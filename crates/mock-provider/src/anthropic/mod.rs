//! Anthropic Messages: `POST [knobs/]v1/messages`, JSON and SSE.

mod request;
mod stream;

use axum::body::Body;
use axum::http::{header, request::Parts, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

use crate::behavior::Behavior;
use crate::content::{Finish, Reply, Usage, SIGNATURE};
use crate::handler::{Api, Ctx};
use crate::http::{json_value, retry_headers, set_header, status_code};
use crate::state::{Format, RequestGuard};
use crate::stream::Pacing;
use crate::summary::Summary;

/// `stop_reason` of a message.
fn stop_reason(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
        Finish::ContentFilter => "refusal",
    }
}

fn message_id(id: u64) -> String {
    format!("msg_mock_{id}")
}

fn tool_id(id: u64) -> String {
    format!("toolu_mock_{id}")
}

/// The `usage` object: `input_tokens` excludes cache reads, as Anthropic counts them.
fn usage(u: &Usage, output_tokens: u64) -> Value {
    json!({
        "input_tokens": u.prompt.saturating_sub(u.cached),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": u.cached,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard"
    })
}

/// `{"type":"error","error":{"type","message"},"request_id"}` with `x-should-retry`.
fn error(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    let mut resp = json_value(
        status,
        &json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_mock"}),
    );
    let retry = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
    set_header(
        &mut resp,
        "x-should-retry",
        if retry { "true" } else { "false" },
    );
    set_header(&mut resp, "request-id", "req_mock");
    resp
}

fn invalid_request(message: &str) -> Response<Body> {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

/// Anthropic's error type for a status.
fn error_kind(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("invalid_request_error", "Invalid request (mock fault)."),
        401 => ("authentication_error", "invalid x-api-key"),
        403 => (
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        404 => ("not_found_error", "Not found (mock fault)."),
        413 => (
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
        ),
        429 => (
            "rate_limit_error",
            "This request would exceed your organization's rate limit (mock fault).",
        ),
        504 => ("timeout_error", "Request timed out (mock fault)."),
        529 => ("overloaded_error", "Overloaded"),
        s if s >= 500 => ("api_error", "Internal server error"),
        _ => ("invalid_request_error", "Mock provider error."),
    }
}

pub(crate) struct Anthropic;

impl Api for Anthropic {
    fn format(&self) -> Format {
        Format::Anthropic
    }

    fn parse(&self, _parts: &Parts, body: &[u8]) -> Result<Summary, Response<Body>> {
        match serde_json::from_slice::<Value>(body) {
            Ok(v @ Value::Object(_)) => Ok(request::summarize(v)),
            Ok(_) => Err(invalid_request("The request body must be a JSON object.")),
            Err(e) => Err(invalid_request(&format!(
                "There was an error parsing the body of your request: {e}"
            ))),
        }
    }

    fn invalid(&self, message: &str) -> Response<Body> {
        invalid_request(message)
    }

    fn model(&self, s: &Summary) -> Option<String> {
        s.model.clone()
    }

    fn fault(&self, status: u16, b: &Behavior, _model: &str) -> Response<Body> {
        let (kind, message) = error_kind(status);
        let mut resp = error(
            status_code(status),
            kind,
            b.error_message.as_deref().unwrap_or(message),
        );
        retry_headers(&mut resp, b);
        resp
    }

    fn validate(&self, s: &Summary) -> Result<(), Response<Body>> {
        if s.model.is_none() {
            return Err(invalid_request("model: Field required"));
        }
        match s.messages {
            None => return Err(invalid_request("messages: Field required")),
            Some(0) => {
                return Err(invalid_request(
                    "messages: at least one message is required",
                ))
            }
            Some(_) => {}
        }
        if s.max_tokens.is_none() {
            return Err(invalid_request("max_tokens: Field required"));
        }
        Ok(())
    }

    fn prompt_filtered(&self, _s: &Summary, b: &Behavior) -> Response<Body> {
        invalid_request(
            b.error_message
                .as_deref()
                .unwrap_or("Output blocked by content filtering policy"),
        )
    }

    fn full(&self, ctx: &Ctx, reply: &Reply) -> Response<Body> {
        let mut content = Vec::new();
        if reply.reasoning {
            content.push(json!({"type": "thinking", "thinking": reply.reasoning_text(), "signature": SIGNATURE}));
        }
        match reply.tool_call() {
            Some(call) => {
                let input: Value = serde_json::from_str(&call.args).unwrap_or_else(|_| json!({}));
                content.push(json!({"type": "tool_use", "id": tool_id(ctx.id), "name": call.name, "input": input}));
            }
            None => content.push(json!({"type": "text", "text": reply.text()})),
        }
        let body = json!({
            "model": ctx.model,
            "id": message_id(ctx.id),
            "type": "message",
            "role": "assistant",
            "content": content,
            "stop_reason": stop_reason(reply.finish),
            "stop_sequence": null,
            "usage": usage(&reply.usage, reply.usage.completion),
        });
        let mut resp = json_value(StatusCode::OK, &body);
        set_header(&mut resp, "request-id", &format!("req_mock_{}", ctx.id));
        resp
    }

    fn stream(
        &self,
        ctx: Ctx,
        reply: Reply,
        pacing: Pacing,
        guard: RequestGuard,
    ) -> Response<Body> {
        let id = ctx.id;
        let enc = stream::MessageEncoder::new(ctx);
        let mut resp = Response::new(crate::stream::body(enc, reply, pacing, guard));
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        set_header(&mut resp, "request-id", &format!("req_mock_{id}"));
        resp
    }
}
