//! Amazon Bedrock Converse: `POST [knobs/]model/{modelId}/converse` (JSON) and
//! `…/converse-stream` (`application/vnd.amazon.eventstream` binary frames). Requests
//! must carry a SigV4-shaped signature for the `bedrock` service.

mod request;
mod sigv4;
mod stream;

use axum::body::Body;
use axum::http::{header, request::Parts, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

use crate::behavior::Behavior;
use crate::content::{Finish, Reply, Usage, SIGNATURE};
use crate::handler::{Api, Ctx};
use crate::http::{json_value, retry_headers, set_header, status_code};
use crate::state::{Format, RequestGuard, State};
use crate::stream::Pacing;
use crate::summary::Summary;

/// One Bedrock model endpoint, as addressed by the path.
pub(crate) struct Bedrock {
    /// The percent-decoded model id.
    pub(crate) model: String,
    /// `converse-stream`.
    pub(crate) stream: bool,
}

/// `stopReason` of a Converse response.
fn stop_reason(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
        Finish::ContentFilter => "content_filtered",
    }
}

fn tool_use_id(id: u64) -> String {
    format!("tooluse_mock_{id}")
}

/// `usage`: `inputTokens` excludes cache reads, `totalTokens` counts everything.
fn usage(u: &Usage) -> Value {
    let mut v = json!({
        "inputTokens": u.prompt.saturating_sub(u.cached),
        "outputTokens": u.completion,
        "totalTokens": u.prompt.saturating_add(u.completion),
    });
    if let (true, Value::Object(map)) = (u.cached > 0, &mut v) {
        map.insert("cacheReadInputTokens".into(), u.cached.into());
        map.insert("cacheWriteInputTokens".into(), 0.into());
    }
    v
}

/// `{"message"}` with the error type in `x-amzn-ErrorType`, as restJson1 services answer.
fn error(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    let mut resp = json_value(status, &json!({ "message": message }));
    set_header(&mut resp, "x-amzn-errortype", kind);
    set_header(
        &mut resp,
        "x-amzn-requestid",
        "00000000-0000-4000-8000-000000000000",
    );
    resp
}

fn validation(message: &str) -> Response<Body> {
    error(StatusCode::BAD_REQUEST, "ValidationException", message)
}

/// The error type and a default message for an HTTP status.
fn error_kind(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("ValidationException", "Invalid request (mock fault)."),
        403 => (
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        ),
        404 => (
            "ResourceNotFoundException",
            "Could not resolve the foundation model from the provided model identifier.",
        ),
        408 => (
            "ModelTimeoutException",
            "Model has timed out in processing the request.",
        ),
        424 => (
            "ModelErrorException",
            "The model returned an error (mock fault).",
        ),
        429 => (
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        503 => (
            "ServiceUnavailableException",
            "Bedrock is unable to process your request.",
        ),
        s if s >= 500 => (
            "InternalServerException",
            "The server encountered an internal error.",
        ),
        _ => ("ValidationException", "Mock provider error."),
    }
}

impl Api for Bedrock {
    fn format(&self) -> Format {
        Format::Bedrock
    }

    /// 403 `Missing Authentication Token` (`UnrecognizedClientException`) without
    /// `Authorization`/`x-amz-date`, 403 `InvalidSignatureException` when they are not
    /// SigV4 for the `bedrock` service.
    fn precheck(&self, _state: &State, parts: &Parts) -> Result<(), Response<Body>> {
        match sigv4::check(&parts.headers) {
            Ok(()) => Ok(()),
            Err(sigv4::Rejection::Missing) => Err(error(
                StatusCode::FORBIDDEN,
                "UnrecognizedClientException",
                "Missing Authentication Token",
            )),
            Err(sigv4::Rejection::Malformed(msg)) => Err(error(
                StatusCode::FORBIDDEN,
                "InvalidSignatureException",
                &msg,
            )),
        }
    }

    fn parse(&self, _parts: &Parts, body: &[u8]) -> Result<Summary, Response<Body>> {
        match serde_json::from_slice::<Value>(body) {
            Ok(v @ Value::Object(_)) => Ok(request::summarize(v, self.stream)),
            Ok(_) | Err(_) => Err(error(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                "The request body is not a valid JSON object.",
            )),
        }
    }

    fn invalid(&self, message: &str) -> Response<Body> {
        validation(message)
    }

    fn model(&self, _s: &Summary) -> Option<String> {
        Some(self.model.clone())
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
        match s.messages {
            None => Err(validation("1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null")),
            Some(0) => Err(validation("A conversation must start with a user message. Try again with a conversation that starts with a user message.")),
            Some(_) => Ok(()),
        }
    }

    fn prompt_filtered(&self, _s: &Summary, b: &Behavior) -> Response<Body> {
        validation(
            b.error_message
                .as_deref()
                .unwrap_or("The request was blocked by the content filter (mock)."),
        )
    }

    fn full(&self, ctx: &Ctx, reply: &Reply) -> Response<Body> {
        let mut content = Vec::new();
        if reply.reasoning {
            content.push(json!({"reasoningContent": {"reasoningText": {"text": reply.reasoning_text(), "signature": SIGNATURE}}}));
        }
        match reply.tool_call() {
            Some(call) => {
                let input: Value = serde_json::from_str(&call.args).unwrap_or_else(|_| json!({}));
                content.push(json!({"toolUse": {"toolUseId": tool_use_id(ctx.id), "name": call.name, "input": input}}));
            }
            None => content.push(json!({"text": reply.text()})),
        }
        let body = json!({
            "metrics": {"latencyMs": ctx.latency_ms},
            "output": {"message": {"content": content, "role": "assistant"}},
            "stopReason": stop_reason(reply.finish),
            "usage": usage(&reply.usage),
        });
        let mut resp = json_value(StatusCode::OK, &body);
        set_header(&mut resp, "x-amzn-requestid", &request_id(ctx.id));
        resp
    }

    fn stream(
        &self,
        ctx: Ctx,
        reply: Reply,
        pacing: Pacing,
        guard: RequestGuard,
    ) -> Response<Body> {
        let id = request_id(ctx.id);
        let enc = stream::FrameEncoder::new(ctx);
        let mut resp = Response::new(crate::stream::body(enc, reply, pacing, guard));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.amazon.eventstream"),
        );
        set_header(&mut resp, "x-amzn-requestid", &id);
        resp
    }
}

/// A UUID-shaped request id derived from the response id.
fn request_id(id: u64) -> String {
    format!("00000000-0000-4000-8000-{id:012x}")
}
