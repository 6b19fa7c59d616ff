//! `streamGenerateContent`: with `alt=sse`, `data: {json}\r\n\r\n` per chunk (CRLF, no
//! `event:` lines, no terminator); without it, one JSON array of the same chunks.
//!
//! Every chunk is a whole response with cumulative `usageMetadata`; only the last one has
//! `finishReason`. Function calls come whole in one chunk. An in-stream error is a bare,
//! multi-line `{"error":…}` object after the chunks, as the real service sends it.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response};
use serde_json::{json, Value};

use crate::behavior::StreamErrorKind;
use crate::content::{Finish, Kind, Reply};
use crate::handler::Ctx;
use crate::stream::Encoder;

use super::{answer_part, error_value, response, usage_metadata};

pub(crate) struct ChunkEncoder {
    ctx: Ctx,
    sse: bool,
    /// Answer and reasoning tokens sent so far.
    candidates: u64,
    thoughts: u64,
    /// The thought signature goes on the first answer part only.
    signed: bool,
    /// A chunk with `finishReason` was sent.
    finished: bool,
    /// No chunk written yet (array framing needs to know).
    first: bool,
}

impl ChunkEncoder {
    pub(crate) fn new(ctx: Ctx, sse: bool) -> Self {
        Self {
            ctx,
            sse,
            candidates: 0,
            thoughts: 0,
            signed: false,
            finished: false,
            first: true,
        }
    }

    fn frame(&mut self, out: &mut Vec<u8>, json: &str) {
        if self.sse {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(json.as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
        } else {
            out.extend_from_slice(if self.first { b"[" } else { b",\r\n" });
            out.extend_from_slice(json.as_bytes());
        }
        self.first = false;
    }

    fn chunk(&mut self, reply: &Reply, part: Value, finish: Option<Finish>, out: &mut Vec<u8>) {
        let usage = usage_metadata(
            &reply.usage,
            self.candidates,
            self.thoughts,
            reply.reasoning,
        );
        let body = response(&self.ctx, vec![part], finish, usage).to_string();
        self.frame(out, &body);
    }
}

impl Encoder for ChunkEncoder {
    fn start(&mut self, _reply: &Reply, _out: &mut Vec<u8>) {}

    fn token(&mut self, reply: &Reply, i: u32, out: &mut Vec<u8>) {
        let Some((kind, text)) = reply.token(i) else {
            return;
        };
        let last = i + 1 == reply.token_count();
        let part = match kind {
            Kind::Reasoning => {
                self.thoughts += 1;
                if !self.ctx.show_reasoning {
                    return;
                }
                json!({"text": text, "thought": true})
            }
            Kind::Text | Kind::ToolArgs => {
                self.candidates += 1;
                let mut part = answer_part(reply, text);
                if self.signed {
                    if let Value::Object(p) = &mut part {
                        p.remove("thoughtSignature");
                    }
                }
                self.signed = true;
                part
            }
        };
        let finish = (last && kind != Kind::Reasoning).then_some(reply.finish);
        self.finished |= finish.is_some();
        self.chunk(reply, part, finish, out);
    }

    fn finish(&mut self, reply: &Reply, out: &mut Vec<u8>) {
        if !self.finished {
            self.chunk(reply, json!({"text": ""}), Some(reply.finish), out);
        }
        if !self.sse {
            out.push(b']');
        }
    }

    fn error(
        &mut self,
        _reply: &Reply,
        kind: StreamErrorKind,
        message: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        let (code, status, default_message) = match kind {
            StreamErrorKind::Overloaded => (
                503,
                "UNAVAILABLE",
                "The model is overloaded. Please try again later.",
            ),
            StreamErrorKind::RateLimit => (
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details.",
            ),
            StreamErrorKind::InvalidRequest => (
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
            ),
            StreamErrorKind::Server | StreamErrorKind::ModelStream => {
                (500, "INTERNAL", "An internal error has occurred.")
            }
        };
        let err = error_value(code, message.unwrap_or(default_message), status, None);
        if self.sse {
            let text = serde_json::to_string_pretty(&err).unwrap_or_else(|_| err.to_string());
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\n");
        } else {
            self.frame(out, &err.to_string());
            out.push(b']');
        }
    }
}

/// Stream response headers (`content-disposition: attachment` as Google sends).
pub(crate) fn set_headers(resp: &mut Response<Body>, sse: bool) {
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if sse {
            "text/event-stream"
        } else {
            "application/json; charset=UTF-8"
        }),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
}
