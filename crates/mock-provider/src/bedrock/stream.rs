//! ConverseStream as AWS event-stream frames (prelude, headers, JSON payload, CRC32s,
//! written by `aws-smithy-eventstream`).
//!
//! messageStart, then contentBlockDelta per token (text and reasoning blocks have no
//! contentBlockStart; tool use blocks do), contentBlockStop per block (reasoning blocks
//! end with a signature delta), messageStop, metadata. Every payload carries a random
//! `"p"` padding field like the real service. Errors are `:message-type: exception` frames.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use serde_json::{json, Value};

use crate::behavior::StreamErrorKind;
use crate::content::{Kind, Reply, SIGNATURE};
use crate::handler::Ctx;
use crate::stream::Encoder;

use super::{stop_reason, tool_use_id, usage};

/// The padding alphabet; `"p"` is a prefix of it of random length.
const PAD: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

pub(crate) struct FrameEncoder {
    ctx: Ctx,
    /// Index of the open block, or of the next one when none is open.
    index: u32,
    open: Option<Kind>,
}

impl FrameEncoder {
    pub(crate) fn new(ctx: Ctx) -> Self {
        Self {
            ctx,
            index: 0,
            open: None,
        }
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        let Some(kind) = self.open.take() else {
            return;
        };
        if kind == Kind::Reasoning {
            event(
                out,
                "contentBlockDelta",
                json!({"contentBlockIndex": self.index, "delta": {"reasoningContent": {"signature": SIGNATURE}}}),
            );
        }
        event(
            out,
            "contentBlockStop",
            json!({"contentBlockIndex": self.index}),
        );
        self.index += 1;
    }
}

impl Encoder for FrameEncoder {
    fn start(&mut self, _reply: &Reply, out: &mut Vec<u8>) {
        event(out, "messageStart", json!({"role": "assistant"}));
    }

    fn token(&mut self, reply: &Reply, i: u32, out: &mut Vec<u8>) {
        let Some((kind, text)) = reply.token(i) else {
            return;
        };
        if self.open != Some(kind) {
            self.close_block(out);
            if kind == Kind::ToolArgs {
                let name = reply.tool_call().map_or("", |c| c.name.as_str());
                event(
                    out,
                    "contentBlockStart",
                    json!({"contentBlockIndex": self.index, "start": {"toolUse": {"name": name, "toolUseId": tool_use_id(self.ctx.id)}}}),
                );
            }
            self.open = Some(kind);
        }
        let delta = match kind {
            Kind::Text => json!({ "text": text }),
            Kind::Reasoning => json!({"reasoningContent": {"text": text}}),
            Kind::ToolArgs => json!({"toolUse": {"input": text}}),
        };
        event(
            out,
            "contentBlockDelta",
            json!({"contentBlockIndex": self.index, "delta": delta}),
        );
    }

    fn finish(&mut self, reply: &Reply, out: &mut Vec<u8>) {
        self.close_block(out);
        event(
            out,
            "messageStop",
            json!({"stopReason": stop_reason(reply.finish)}),
        );
        event(
            out,
            "metadata",
            json!({"metrics": {"latencyMs": self.ctx.latency_ms}, "usage": usage(&reply.usage)}),
        );
    }

    fn error(
        &mut self,
        _reply: &Reply,
        kind: StreamErrorKind,
        message: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        let (kind, default_message) = match kind {
            StreamErrorKind::Overloaded => (
                "serviceUnavailableException",
                "Bedrock is unable to process your request.",
            ),
            StreamErrorKind::RateLimit => (
                "throttlingException",
                "Too many requests, please wait before trying again.",
            ),
            StreamErrorKind::InvalidRequest => ("validationException", "Invalid request (mock)."),
            StreamErrorKind::Server => (
                "internalServerException",
                "The server encountered an internal error.",
            ),
            StreamErrorKind::ModelStream => (
                "modelStreamErrorException",
                "The model encountered an error while streaming.",
            ),
        };
        let payload = json!({ "message": message.unwrap_or(default_message) });
        write(
            out,
            vec![
                Header::new(":exception-type", HeaderValue::String(kind.into())),
                Header::new(
                    ":content-type",
                    HeaderValue::String("application/json".into()),
                ),
                Header::new(":message-type", HeaderValue::String("exception".into())),
            ],
            payload.to_string(),
        );
    }
}

/// One `:message-type: event` frame; `payload` gets the `"p"` padding.
fn event(out: &mut Vec<u8>, event_type: &'static str, mut payload: Value) {
    if let Value::Object(map) = &mut payload {
        let len = fastrand::usize(1..=PAD.len());
        map.insert("p".into(), Value::String(PAD[..len].to_owned()));
    }
    write(
        out,
        vec![
            Header::new(":event-type", HeaderValue::String(event_type.into())),
            Header::new(
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            Header::new(":message-type", HeaderValue::String("event".into())),
        ],
        payload.to_string(),
    );
}

fn write(out: &mut Vec<u8>, headers: Vec<Header>, payload: String) {
    let message = Message::new_from_parts(headers, payload.into_bytes());
    if let Err(e) = write_message_to(&message, out) {
        // Only oversized frames fail (16 MiB payloads); the mock never makes those.
        tracing::error!("mock provider: cannot write an event-stream frame: {e}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;

    #[test]
    fn frames_decode_with_padding() {
        let mut out = Vec::new();
        event(&mut out, "messageStart", json!({"role": "assistant"}));
        let msg = read_message_from(&out[..]).unwrap();
        let headers: Vec<(String, String)> = msg
            .headers()
            .iter()
            .map(|h| {
                (
                    h.name().as_str().to_owned(),
                    h.value().as_string().unwrap().as_str().to_owned(),
                )
            })
            .collect();
        assert_eq!(headers[0], (":event-type".into(), "messageStart".into()));
        assert_eq!(headers[2], (":message-type".into(), "event".into()));
        let v: Value = serde_json::from_slice(msg.payload()).unwrap();
        assert_eq!(v["role"], "assistant");
        assert!(PAD.starts_with(v["p"].as_str().unwrap()));
    }
}
