//! Anthropic Messages SSE: `event: <name>\ndata: {json}\n\n`.
//!
//! message_start, then per block content_block_start / deltas / content_block_stop
//! (thinking blocks end with a signature_delta; tool_use blocks begin with an empty
//! input_json_delta), `ping` after the first block start and between blocks, then
//! message_delta with the cumulative usage and message_stop. Like the real service,
//! data JSON is padded with spaces before its closing brace.

use serde_json::{json, Value};

use crate::behavior::StreamErrorKind;
use crate::content::{Kind, Reply, SIGNATURE};
use crate::handler::Ctx;
use crate::stream::Encoder;

use super::{message_id, stop_reason, tool_id, usage};

/// The ping payload, byte for byte as Anthropic sends it.
const PING: &[u8] = b"event: ping\ndata: {\"type\": \"ping\"}\n\n";

/// Largest run of padding spaces.
const MAX_PAD: usize = 12;

pub(crate) struct MessageEncoder {
    ctx: Ctx,
    /// Index of the open block, or of the next one when none is open.
    index: u32,
    open: Option<Kind>,
}

impl MessageEncoder {
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
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": self.index, "delta": {"type": "signature_delta", "signature": SIGNATURE}}),
            );
        }
        event(
            out,
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": self.index}),
        );
        self.index += 1;
    }

    fn open_block(&mut self, reply: &Reply, kind: Kind, out: &mut Vec<u8>) {
        if self.index > 0 {
            out.extend_from_slice(PING);
        }
        let block = match kind {
            Kind::Reasoning => json!({"type": "thinking", "thinking": "", "signature": ""}),
            Kind::Text => json!({"type": "text", "text": ""}),
            Kind::ToolArgs => {
                let name = reply.tool_call().map_or("", |c| c.name.as_str());
                json!({"type": "tool_use", "id": tool_id(self.ctx.id), "name": name, "input": {}})
            }
        };
        event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": self.index, "content_block": block}),
        );
        if self.index == 0 {
            out.extend_from_slice(PING);
        }
        if kind == Kind::ToolArgs {
            self.delta(out, json!({"type": "input_json_delta", "partial_json": ""}));
        }
        self.open = Some(kind);
    }

    fn delta(&self, out: &mut Vec<u8>, delta: Value) {
        event(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": self.index, "delta": delta}),
        );
    }
}

impl Encoder for MessageEncoder {
    fn start(&mut self, reply: &Reply, out: &mut Vec<u8>) {
        // Like the real service, message_start reports one output token so far.
        let message = json!({
            "model": self.ctx.model,
            "id": message_id(self.ctx.id),
            "type": "message",
            "role": "assistant",
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": usage(&reply.usage, 1),
        });
        event(
            out,
            "message_start",
            &json!({"type": "message_start", "message": message}),
        );
    }

    fn token(&mut self, reply: &Reply, i: u32, out: &mut Vec<u8>) {
        let Some((kind, text)) = reply.token(i) else {
            return;
        };
        if self.open != Some(kind) {
            self.close_block(out);
            self.open_block(reply, kind, out);
        }
        let delta = match kind {
            Kind::Reasoning => json!({"type": "thinking_delta", "thinking": text}),
            Kind::Text => json!({"type": "text_delta", "text": text}),
            Kind::ToolArgs => json!({"type": "input_json_delta", "partial_json": text}),
        };
        self.delta(out, delta);
    }

    fn finish(&mut self, reply: &Reply, out: &mut Vec<u8>) {
        if self.open.is_none() && self.index == 0 {
            // An empty reply still has one (empty) text block.
            self.open_block(reply, Kind::Text, out);
        }
        self.close_block(out);
        let mut u = usage(&reply.usage, reply.usage.completion);
        if let Value::Object(map) = &mut u {
            // message_delta's usage carries the counts only.
            map.remove("cache_creation");
            map.remove("service_tier");
        }
        event(
            out,
            "message_delta",
            &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(reply.finish), "stop_sequence": null}, "usage": u}),
        );
        event(out, "message_stop", &json!({"type": "message_stop"}));
    }

    fn error(
        &mut self,
        _reply: &Reply,
        kind: StreamErrorKind,
        message: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        let (kind, default_message) = match kind {
            StreamErrorKind::Overloaded => ("overloaded_error", "Overloaded"),
            StreamErrorKind::RateLimit => ("rate_limit_error", "Rate limited"),
            StreamErrorKind::InvalidRequest => ("invalid_request_error", "Invalid request"),
            StreamErrorKind::Server | StreamErrorKind::ModelStream => {
                ("api_error", "Internal server error")
            }
        };
        event(
            out,
            "error",
            &json!({"type": "error", "error": {"details": null, "type": kind, "message": message.unwrap_or(default_message)}}),
        );
    }
}

/// One SSE event, its JSON padded with 0 to [`MAX_PAD`] spaces before the final brace.
fn event(out: &mut Vec<u8>, name: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    let json = data.to_string();
    match json.strip_suffix('}') {
        Some(head) => {
            out.extend_from_slice(head.as_bytes());
            out.resize(out.len() + fastrand::usize(0..=MAX_PAD), b' ');
            out.push(b'}');
        }
        None => out.extend_from_slice(json.as_bytes()),
    }
    out.extend_from_slice(b"\n\n");
}
