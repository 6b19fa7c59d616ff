//! Gemini `generateContent` / `streamGenerateContent`, on the AI Studio paths
//! (`v1beta/models/{model}:…`) and the Vertex AI paths
//! (`v1/projects/{p}/locations/{l}/publishers/google/models/{model}:…`, which require a
//! bearer token minted by the fake OAuth2 endpoint, see `oauth.rs`).

mod request;
mod stream;

use axum::body::Body;
use axum::http::{header, request::Parts, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

use crate::behavior::Behavior;
use crate::content::{Finish, Reply, ToolArgs, Usage, SIGNATURE};
use crate::handler::{Api, Ctx};
use crate::http::{json_value, retry_delay_secs, retry_headers, status_code};
use crate::state::{Format, RequestGuard, State};
use crate::stream::Pacing;
use crate::summary::Summary;

const UNAUTHENTICATED: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// One Gemini endpoint, as addressed by the path.
pub(crate) struct Gemini {
    pub(crate) model: String,
    /// `:streamGenerateContent`.
    pub(crate) stream: bool,
    /// `alt=sse`: server-sent events; otherwise a stream is one JSON array.
    pub(crate) sse: bool,
    /// A Vertex AI path (bearer token required).
    pub(crate) vertex: bool,
}

/// `finishReason` of a candidate.
fn finish_reason(f: Finish) -> &'static str {
    match f {
        Finish::Stop | Finish::ToolCalls => "STOP",
        Finish::Length => "MAX_TOKENS",
        Finish::ContentFilter => "SAFETY",
    }
}

/// `usageMetadata` for `candidates` answer tokens and `thoughts` reasoning tokens so far.
fn usage_metadata(u: &Usage, candidates: u64, thoughts: u64, reasoning: bool) -> Value {
    let mut m = json!({
        "promptTokenCount": u.prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": u.prompt.saturating_add(candidates).saturating_add(thoughts),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": u.prompt}],
    });
    if let Value::Object(map) = &mut m {
        if reasoning {
            map.insert("thoughtsTokenCount".into(), thoughts.into());
        }
        if u.cached > 0 {
            map.insert("cachedContentTokenCount".into(), u.cached.into());
        }
    }
    m
}

/// A whole `GenerateContentResponse` with one candidate.
fn response(ctx: &Ctx, parts: Vec<Value>, finish: Option<Finish>, usage: Value) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let (Some(f), Value::Object(c)) = (finish, &mut candidate) {
        c.insert("finishReason".into(), finish_reason(f).into());
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": ctx.model,
        "responseId": response_id(ctx.id),
    })
}

fn response_id(id: u64) -> String {
    format!("mock-{id}")
}

/// The answer part (text or function call), with the thought signature when thinking.
fn answer_part(reply: &Reply, text: &str) -> Value {
    let mut part = match reply.tool_call() {
        Some(call) => {
            let args: Value = serde_json::from_str(&call.args).unwrap_or_else(|_| json!({}));
            json!({"functionCall": {"name": call.name, "args": args}})
        }
        None => json!({"text": text}),
    };
    if let (true, Value::Object(p)) = (reply.reasoning, &mut part) {
        p.insert("thoughtSignature".into(), SIGNATURE.into());
    }
    part
}

/// Google's `{"error":{"code","message","status"}}` (with `details` for 429).
fn error_value(code: u16, message: &str, status: &str, details: Option<Value>) -> Value {
    let mut e = json!({"code": code, "message": message, "status": status});
    if let (Some(d), Value::Object(map)) = (details, &mut e) {
        map.insert("details".into(), d);
    }
    json!({ "error": e })
}

fn error(code: u16, message: &str, status: &str, details: Option<Value>) -> Response<Body> {
    let mut resp = json_value(
        status_code(code),
        &error_value(code, message, status, details),
    );
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

fn invalid_argument(message: &str) -> Response<Body> {
    error(400, message, "INVALID_ARGUMENT", None)
}

/// Google's status name and a default message for an HTTP status.
fn status_name(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => ("UNAUTHENTICATED", UNAUTHENTICATED),
        403 => ("PERMISSION_DENIED", "The caller does not have permission"),
        404 => ("NOT_FOUND", "Requested entity was not found."),
        409 => ("ABORTED", "The operation was aborted."),
        429 => (
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        499 => ("CANCELLED", "The operation was cancelled."),
        501 => ("NOT_IMPLEMENTED", "Operation is not implemented."),
        503 => (
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        504 => (
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
        ),
        s if s >= 500 => ("INTERNAL", "An internal error has occurred."),
        _ => ("FAILED_PRECONDITION", "Precondition check failed."),
    }
}

/// `RetryInfo.retryDelay` text such as `"2s"` or `"1.5s"`.
fn retry_delay(b: &Behavior) -> String {
    let secs = retry_delay_secs(b).unwrap_or(1.0);
    format!("{secs}s")
}

impl Api for Gemini {
    const TOOL_ARGS: ToolArgs = ToolArgs::Whole;

    fn format(&self) -> Format {
        if self.vertex {
            Format::Vertex
        } else {
            Format::Gemini
        }
    }

    /// Vertex paths need `Authorization: Bearer <token from the mock's token endpoint>`.
    fn precheck(&self, state: &State, parts: &Parts) -> Result<(), Response<Body>> {
        if !self.vertex {
            return Ok(());
        }
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match token {
            Some(t) if state.token_issued(t.trim()) => Ok(()),
            _ => Err(error(401, UNAUTHENTICATED, "UNAUTHENTICATED", None)),
        }
    }

    fn parse(&self, _parts: &Parts, body: &[u8]) -> Result<Summary, Response<Body>> {
        match serde_json::from_slice::<Value>(body) {
            Ok(v @ Value::Object(_)) => Ok(request::summarize(v, self.stream)),
            Ok(_) => Err(invalid_argument(
                "Invalid JSON payload received. Expected an object.",
            )),
            Err(e) => Err(invalid_argument(&format!(
                "Invalid JSON payload received. {e}"
            ))),
        }
    }

    fn invalid(&self, message: &str) -> Response<Body> {
        invalid_argument(message)
    }

    fn model(&self, _s: &Summary) -> Option<String> {
        Some(self.model.clone())
    }

    fn fault(&self, status: u16, b: &Behavior, model: &str) -> Response<Body> {
        let (name, default) = status_name(status);
        let not_found;
        let default = if status == 404 {
            not_found = format!("models/{model} is not found for API version v1beta, or is not supported for generateContent.");
            not_found.as_str()
        } else {
            default
        };
        let details = (status == 429).then(|| {
            json!([
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay(b)}
            ])
        });
        let mut resp = error(
            status,
            b.error_message.as_deref().unwrap_or(default),
            name,
            details,
        );
        retry_headers(&mut resp, b);
        resp
    }

    fn validate(&self, s: &Summary) -> Result<(), Response<Body>> {
        match s.messages {
            Some(n) if n > 0 => Ok(()),
            _ => Err(invalid_argument(
                "* GenerateContentRequest.contents: contents is not specified\n",
            )),
        }
    }

    /// A blocked prompt: 200 with `promptFeedback.blockReason` and no candidates.
    fn prompt_filtered(&self, s: &Summary, _b: &Behavior) -> Response<Body> {
        let prompt = s.prompt_tokens();
        let body = json!({
            "promptFeedback": {
                "blockReason": "SAFETY",
                "safetyRatings": [{"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "HIGH", "blocked": true}]
            },
            "usageMetadata": {"promptTokenCount": prompt, "totalTokenCount": prompt},
            "modelVersion": self.model,
        });
        if self.stream && self.sse {
            let mut resp = Response::new(Body::from(format!("data: {body}\r\n\r\n")));
            stream::set_headers(&mut resp, true);
            resp
        } else if self.stream {
            let mut resp = Response::new(Body::from(format!("[{body}]")));
            stream::set_headers(&mut resp, false);
            resp
        } else {
            json_value(StatusCode::OK, &body)
        }
    }

    fn full(&self, ctx: &Ctx, reply: &Reply) -> Response<Body> {
        let mut parts = Vec::new();
        if reply.reasoning && ctx.show_reasoning {
            parts.push(json!({"text": reply.reasoning_text(), "thought": true}));
        }
        parts.push(answer_part(reply, &reply.text()));
        let u = &reply.usage;
        let usage = usage_metadata(
            u,
            u.completion.saturating_sub(u.reasoning),
            u.reasoning,
            reply.reasoning,
        );
        json_value(
            StatusCode::OK,
            &response(ctx, parts, Some(reply.finish), usage),
        )
    }

    fn stream(
        &self,
        ctx: Ctx,
        reply: Reply,
        pacing: Pacing,
        guard: RequestGuard,
    ) -> Response<Body> {
        let enc = stream::ChunkEncoder::new(ctx, self.sse);
        let mut resp = Response::new(crate::stream::body(enc, reply, pacing, guard));
        stream::set_headers(&mut resp, self.sse);
        resp
    }
}
