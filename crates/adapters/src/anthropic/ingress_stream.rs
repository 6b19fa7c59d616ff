//! Ingress, streamed: canonical chunks → the Anthropic Messages SSE a client expects.
//!
//! Each event is `event: <name>\ndata: <json>\n\n`, in Anthropic's order:
//! - `message_start` (an empty assistant message with the input side of the usage),
//!   then one `ping`. It is written when the first content (or the finish) arrives,
//!   so that the usage a provider reports just after its start is in it.
//! - Per content block: `content_block_start`, deltas (`text_delta`,
//!   `thinking_delta`, `signature_delta`, `input_json_delta`), `content_block_stop`.
//!   A block is closed when a block of another kind (or another tool call) begins.
//!   `Text` and `Refusal` chunks are text blocks; `Thinking` chunks thinking blocks
//!   (a signature is a `signature_delta`); a tool call's first fragment (the one with
//!   `id` and `name`) opens a `tool_use` block with `input: {}`.
//! - At [`AnthropicStreamEncoder::finish`]: the open block is closed, then
//!   `message_delta` (the stop reason and the cumulative usage) and `message_stop`.
//!
//! Only choice 0 is written (Anthropic has no `n`). Anthropic blocks cannot
//! interleave, so an argument fragment for a tool call whose block was already closed
//! (a provider interleaving parallel calls) cannot be placed and is dropped.

use super::ingress::{message_id, stop_reason, OutUsage};
use crate::canonical::{ChatChunk, FinishReason, Usage};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    Tool { call_index: u32 },
}

/// Writes an Anthropic Messages stream from canonical chunks.
#[derive(Debug)]
pub struct AnthropicStreamEncoder {
    model: String,
    id: String,
    started: bool,
    finished: bool,
    /// The open block: its index and kind.
    open: Option<(u32, Open)>,
    next_index: u32,
    usage: Usage,
    finish: Option<(FinishReason, Option<String>)>,
}

#[derive(Serialize)]
struct UsageOut {
    input_tokens: u64,
    output_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
}

impl From<OutUsage> for UsageOut {
    fn from(u: OutUsage) -> Self {
        UsageOut {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_creation_input_tokens: u.cache_creation_input_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens,
        }
    }
}

fn event(name: &str, data: &Value) -> Bytes {
    let json = serde_json::to_string(data).unwrap_or_default();
    Bytes::from(format!("event: {name}\ndata: {json}\n\n"))
}

impl AnthropicStreamEncoder {
    /// `model` is the name the client asked for, written in `message_start`.
    pub fn new(model: &str) -> Self {
        AnthropicStreamEncoder {
            model: model.to_string(),
            id: String::new(),
            started: false,
            finished: false,
            open: None,
            next_index: 0,
            usage: Usage::default(),
            finish: None,
        }
    }

    fn usage_json(&self) -> Value {
        serde_json::to_value(UsageOut::from(OutUsage::from_usage(&self.usage)))
            .unwrap_or(Value::Null)
    }

    fn ensure_started(&mut self, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = message_id(if self.id.is_empty() {
            "gateway"
        } else {
            &self.id
        });
        let message = json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": self.usage_json(),
        });
        out.push(event(
            "message_start",
            &json!({"type": "message_start", "message": message}),
        ));
        out.push(event("ping", &json!({"type": "ping"})));
    }

    fn close(&mut self, out: &mut Vec<Bytes>) {
        if let Some((index, _)) = self.open.take() {
            out.push(event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    /// Makes `kind` the open block (closing another one first); returns its index.
    fn open(&mut self, kind: Open, block: Value, out: &mut Vec<Bytes>) -> u32 {
        if let Some((index, open)) = self.open {
            if open == kind {
                return index;
            }
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, kind));
        out.push(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        index
    }

    fn delta(index: u32, delta: Value, out: &mut Vec<Bytes>) {
        out.push(event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
    }

    fn text(&mut self, text: &str, out: &mut Vec<Bytes>) {
        if text.is_empty() {
            return;
        }
        self.ensure_started(out);
        let index = self.open(Open::Text, json!({"type": "text", "text": ""}), out);
        Self::delta(index, json!({"type": "text_delta", "text": text}), out);
    }

    /// The SSE events for one canonical chunk (possibly none).
    pub fn encode(&mut self, chunk: &ChatChunk) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        match chunk {
            ChatChunk::Start { id, .. } if self.id.is_empty() => self.id.clone_from(id),
            ChatChunk::Usage(u) => self.usage = *u,
            ChatChunk::Text { index: 0, text } | ChatChunk::Refusal { index: 0, text } => {
                self.text(text, &mut out);
            }
            ChatChunk::Thinking {
                index: 0,
                text,
                signature,
            } => {
                let signature = signature.as_deref().filter(|s| !s.is_empty());
                if text.is_empty() && signature.is_none() {
                    return out;
                }
                self.ensure_started(&mut out);
                let index = self.open(
                    Open::Thinking,
                    json!({"type": "thinking", "thinking": "", "signature": ""}),
                    &mut out,
                );
                if !text.is_empty() {
                    Self::delta(
                        index,
                        json!({"type": "thinking_delta", "thinking": text}),
                        &mut out,
                    );
                }
                if let Some(sig) = signature {
                    Self::delta(
                        index,
                        json!({"type": "signature_delta", "signature": sig}),
                        &mut out,
                    );
                }
            }
            ChatChunk::ToolCall {
                index: 0,
                call_index,
                id,
                name,
                arguments,
            } => {
                let kind = Open::Tool {
                    call_index: *call_index,
                };
                let index = match self.open {
                    Some((index, open)) if open == kind => index,
                    // A new call needs its id and name to open a block.
                    _ if id.is_some() || name.is_some() => {
                        self.ensure_started(&mut out);
                        let block = json!({
                            "type": "tool_use",
                            "id": id.as_deref().unwrap_or_default(),
                            "name": name.as_deref().unwrap_or_default(),
                            "input": {},
                        });
                        self.close(&mut out);
                        self.open(kind, block, &mut out)
                    }
                    _ => return out,
                };
                if !arguments.is_empty() {
                    Self::delta(
                        index,
                        json!({"type": "input_json_delta", "partial_json": arguments}),
                        &mut out,
                    );
                }
            }
            ChatChunk::Finish {
                index: 0,
                reason,
                raw_reason,
            } => {
                self.finish = Some((*reason, raw_reason.clone()));
            }
            // Other choices: Anthropic has one.
            _ => {}
        }
        out
    }

    /// Closes the stream: the open block, `message_delta`, `message_stop`.
    pub fn finish(&mut self) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        self.ensure_started(&mut out);
        self.close(&mut out);
        self.finished = true;
        let stop = self
            .finish
            .as_ref()
            .map(|(r, raw)| stop_reason(*r, raw.as_deref()));
        out.push(event(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": null},
                "usage": self.usage_json(),
            }),
        ));
        out.push(event("message_stop", &json!({"type": "message_stop"})));
        out
    }
}
