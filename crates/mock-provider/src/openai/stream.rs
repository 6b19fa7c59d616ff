//! Chat completion chunks as server-sent events (OpenAI and Azure).
//!
//! `data: {json}\n\n` per chunk: the role chunk, one chunk per token, the finish chunk,
//! the usage chunk (with `include_usage`) and `data: [DONE]`. Azure adds its empty
//! first chunk with `prompt_filter_results` and `content_filter_results` on choices.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response};

use crate::azure;
use crate::behavior::StreamErrorKind;
use crate::content::{Kind, Reply};
use crate::handler::Ctx;
use crate::json::{push_json_str, push_u64, push_usage};
use crate::state::RequestGuard;
use crate::stream::{self, Encoder, Pacing};

use super::body::{finish_reason, push_call_id};
use super::errors::error_body;

/// Which dialect of the chat stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    OpenAi,
    Azure,
}

const ROLE_DELTA: &[u8] =
    b"\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]";
const OPEN_CHOICE: &[u8] = b"{\"index\":0,";
const CONTENT_OPEN: &[u8] = b"\"delta\":{\"content\":";
const REASONING_OPEN: &[u8] = b"\"delta\":{\"reasoning_content\":";
const DELTA_CLOSE: &[u8] = b"},\"logprobs\":null,\"finish_reason\":null}]";
const TOOL_ARGS_OPEN: &[u8] =
    b"\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":";
const TOOL_ARGS_CLOSE: &[u8] = b"}}]},\"logprobs\":null,\"finish_reason\":null}]";
const FINISH_OPEN: &[u8] = b"\"delta\":{},\"logprobs\":null,\"finish_reason\":\"";
const FINISH_CLOSE: &[u8] = b"\"}]";
const END_WITH_NULL_USAGE: &[u8] = b",\"usage\":null}\n\n";
const END_PLAIN: &[u8] = b"}\n\n";
const DONE: &[u8] = b"data: [DONE]\n\n";

/// The shared start of every chunk event, up to and including `"choices":[`.
fn chunk_prefix(ctx: &Ctx) -> Vec<u8> {
    let mut buf = Vec::with_capacity(192 + ctx.model.len());
    buf.extend_from_slice(b"data: {\"id\":\"chatcmpl-mock-");
    push_u64(&mut buf, ctx.id);
    buf.extend_from_slice(b"\",\"object\":\"chat.completion.chunk\",\"created\":");
    push_u64(&mut buf, ctx.created);
    buf.extend_from_slice(b",\"model\":");
    push_json_str(&mut buf, &ctx.model);
    buf.extend_from_slice(
        b",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\",\"choices\":[",
    );
    buf
}

struct ChatEncoder {
    prefix: Vec<u8>,
    include_usage: bool,
    usage_on_finish: bool,
    flavor: Flavor,
    id: u64,
    tool_started: bool,
}

impl ChatEncoder {
    /// Chunk start: `prefix` + `{"index":0,` [+ Azure's `content_filter_results`].
    fn open(&self, out: &mut Vec<u8>, filter: &str) {
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(OPEN_CHOICE);
        if self.flavor == Flavor::Azure {
            out.extend_from_slice(b"\"content_filter_results\":");
            out.extend_from_slice(filter.as_bytes());
            out.push(b',');
        }
    }

    /// Chunk end (with `"usage":null` when usage is included at the end).
    fn close(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.include_usage {
            END_WITH_NULL_USAGE
        } else {
            END_PLAIN
        });
    }

    /// A chunk whose delta is `open` + `text` as a JSON string + `close`.
    fn delta(&self, out: &mut Vec<u8>, filter: &str, open: &[u8], text: &str, close: &[u8]) {
        self.open(out, filter);
        out.extend_from_slice(open);
        push_json_str(out, text);
        out.extend_from_slice(close);
        self.close(out);
    }
}

impl Encoder for ChatEncoder {
    fn start(&mut self, _reply: &Reply, out: &mut Vec<u8>) {
        if self.flavor == Flavor::Azure {
            out.extend_from_slice(azure::FIRST_CHUNK.as_bytes());
        }
        self.open(out, azure::EMPTY);
        out.extend_from_slice(ROLE_DELTA);
        self.close(out);
    }

    fn token(&mut self, reply: &Reply, i: u32, out: &mut Vec<u8>) {
        let Some((kind, text)) = reply.token(i) else {
            return;
        };
        match kind {
            Kind::Text => self.delta(out, azure::SAFE, CONTENT_OPEN, text, DELTA_CLOSE),
            Kind::Reasoning => self.delta(out, azure::SAFE, REASONING_OPEN, text, DELTA_CLOSE),
            Kind::ToolArgs => {
                if !self.tool_started {
                    // The first tool chunk names the call; later ones only add arguments.
                    self.tool_started = true;
                    let name = reply.tool_call().map_or("", |c| c.name.as_str());
                    self.open(out, azure::EMPTY);
                    out.extend_from_slice(b"\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":");
                    push_call_id(out, self.id);
                    out.extend_from_slice(b",\"type\":\"function\",\"function\":{\"name\":");
                    push_json_str(out, name);
                    out.extend_from_slice(b",\"arguments\":\"\"}}]");
                    out.extend_from_slice(DELTA_CLOSE);
                    self.close(out);
                }
                self.delta(out, azure::EMPTY, TOOL_ARGS_OPEN, text, TOOL_ARGS_CLOSE);
            }
        }
    }

    fn finish(&mut self, reply: &Reply, out: &mut Vec<u8>) {
        self.open(out, azure::completion_filter_on_finish(reply.finish));
        out.extend_from_slice(FINISH_OPEN);
        out.extend_from_slice(finish_reason(reply.finish).as_bytes());
        out.extend_from_slice(FINISH_CLOSE);
        if self.usage_on_finish && !self.include_usage {
            out.extend_from_slice(b",\"usage\":");
            push_usage(out, &reply.usage);
            out.extend_from_slice(END_PLAIN);
        } else {
            self.close(out);
        }
        if self.include_usage {
            out.extend_from_slice(&self.prefix);
            out.extend_from_slice(b"],\"usage\":");
            push_usage(out, &reply.usage);
            out.extend_from_slice(b"}\n\n");
        }
        out.extend_from_slice(DONE);
    }

    fn error(
        &mut self,
        _reply: &Reply,
        kind: StreamErrorKind,
        message: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        let (default_message, kind, code) = stream_error(kind);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&error_body(
            message.unwrap_or(default_message),
            kind,
            None,
            code,
        ));
        out.extend_from_slice(b"\n\n");
    }
}

/// `(message, type, code)` of an in-stream error (the same as the HTTP errors'; the
/// openai SDKs raise on any data event with an `error` key).
fn stream_error(kind: StreamErrorKind) -> (&'static str, &'static str, Option<&'static str>) {
    match kind {
        StreamErrorKind::Overloaded => (
            "The server is overloaded or not ready yet.",
            "server_error",
            Some("overloaded"),
        ),
        StreamErrorKind::RateLimit => (
            "Rate limit reached for requests",
            "requests",
            Some("rate_limit_exceeded"),
        ),
        StreamErrorKind::InvalidRequest => (
            "Invalid request (mock stream error).",
            "invalid_request_error",
            None,
        ),
        StreamErrorKind::Server | StreamErrorKind::ModelStream => (
            "The server had an error while processing your request.",
            "server_error",
            Some("server_error"),
        ),
    }
}

/// The `text/event-stream` response; `guard` lives as long as the body.
pub(crate) fn response(
    ctx: Ctx,
    reply: Reply,
    pacing: Pacing,
    guard: RequestGuard,
    flavor: Flavor,
) -> Response<Body> {
    let enc = ChatEncoder {
        prefix: chunk_prefix(&ctx),
        include_usage: ctx.include_usage,
        usage_on_finish: ctx.usage_on_finish,
        flavor,
        id: ctx.id,
        tool_started: false,
    };
    let mut resp = Response::new(stream::body(enc, reply, pacing, guard));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
