//! Provider decode, streamed: Anthropic Messages SSE events → canonical chunks.
//!
//! - `message_start` → `Start` (with `created` = now: Anthropic gives no time) and
//!   the input side of `Usage`.
//! - `content_block_start` / `_delta` / `_stop`, by block type:
//!   - `text`: `text_delta` → `Text`.
//!   - `thinking`: `thinking_delta` → `Thinking`; `signature_delta` →
//!     `Thinking { text: "", signature }`.
//!   - `redacted_thinking`: nothing. The block is whole at its start, but a canonical
//!     chunk has no form for encrypted reasoning, and OpenAI clients could not show
//!     it; a client needing it to continue a thinking turn must not stream.
//!   - `tool_use`: a first `ToolCall` fragment with `id`, `name` and `""` arguments
//!     (Anthropic opens the block with `input: {}`), then each `input_json_delta`
//!     fragment as arguments. A call that got no argument text at all gets `"{}"` at
//!     its `content_block_stop`, so its arguments are valid JSON. `call_index` counts
//!     `tool_use` blocks from 0, whatever Anthropic's block index (a text block before
//!     the first call does not shift it).
//!   - a `tool_use` of [`JSON_TOOL_NAME`] (the `response_format` answer): its input
//!     fragments are `Text`, and the finish is `stop`.
//!   - anything else (server tool blocks, citations): nothing.
//! - `message_delta` → `Finish` and `Usage` (cumulative; fields it repeats replace the
//!   ones from `message_start`, fields it leaves out keep them).
//! - `message_stop` → the end; `ping` → nothing; `error` → `Err`, classified.

use super::errors::classify_stream_error;
use super::wire::{
    compact_json, finish_reason_unwrapped, is_nonempty_object, Block, Typed, WireUsage,
};
use super::JSON_TOOL_NAME;
use crate::adapter::{StreamDecoder, StreamEvent};
use crate::canonical::ChatChunk;
use crate::error::{ErrorClass, UpstreamError};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    index: Option<u32>,
    #[serde(default, borrow)]
    message: Option<&'a RawValue>,
    #[serde(default, borrow)]
    content_block: Option<&'a RawValue>,
    #[serde(default, borrow)]
    delta: Option<&'a RawValue>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
    #[serde(default)]
    stop_reason: Option<String>,
}

/// What one open content block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    /// A client tool call, with whether any argument text has gone out.
    Tool {
        call_index: u32,
        has_args: bool,
    },
    /// The `response_format` answer, with whether any of it has gone out.
    Json {
        has_text: bool,
    },
    /// Blocks with no canonical form.
    Skipped,
}

/// Decodes an Anthropic Messages stream, one SSE event at a time.
#[derive(Default)]
pub struct AnthropicStreamDecoder {
    started: bool,
    done: bool,
    /// Open and finished blocks by Anthropic's block index.
    blocks: Vec<(u32, Kind)>,
    next_call: u32,
    usage: WireUsage,
}

fn bad(msg: impl Into<String>) -> UpstreamError {
    UpstreamError::new(
        ErrorClass::Server,
        None,
        format!("could not read the provider's stream event: {}", msg.into()),
    )
}

impl AnthropicStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn kind(&mut self, index: u32) -> Option<&mut Kind> {
        self.blocks
            .iter_mut()
            .find(|(i, _)| *i == index)
            .map(|(_, k)| k)
    }

    /// `Start` once, first, even if a (malformed) stream skipped `message_start`.
    fn ensure_started(&mut self, out: &mut Vec<ChatChunk>) {
        if !self.started {
            self.started = true;
            out.push(ChatChunk::Start {
                id: String::new(),
                model: String::new(),
                created: super::now_secs(),
                system_fingerprint: None,
            });
        }
    }

    fn message_start(&mut self, message: Option<&RawValue>, out: &mut Vec<ChatChunk>) {
        let m = message.and_then(|m| serde_json::from_str::<StartMessage>(m.get()).ok());
        let (id, model, usage) = match m {
            Some(m) => (m.id, m.model, m.usage),
            None => (None, None, None),
        };
        if !self.started {
            self.started = true;
            out.push(ChatChunk::Start {
                id: id.unwrap_or_default(),
                model: model.unwrap_or_default(),
                created: super::now_secs(),
                system_fingerprint: None,
            });
        }
        if let Some(u) = usage {
            self.usage.update(&u);
            out.push(ChatChunk::Usage(self.usage.to_usage()));
        }
    }

    fn block_start(
        &mut self,
        index: u32,
        block: &RawValue,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), UpstreamError> {
        let kind = serde_json::from_str::<Typed<'_>>(block.get())
            .map_err(|e| bad(format!("content_block_start: {e}")))?
            .kind;
        let b: Block<'_> = serde_json::from_str(block.get())
            .map_err(|e| bad(format!("content_block_start: {e}")))?;
        let kind = match kind.as_ref() {
            "text" => {
                if let Some(text) = b.text.filter(|t| !t.is_empty()) {
                    out.push(ChatChunk::Text { index: 0, text });
                }
                Kind::Text
            }
            "thinking" => {
                let text = b.thinking.unwrap_or_default();
                let signature = b.signature.filter(|s| !s.is_empty());
                if !text.is_empty() || signature.is_some() {
                    out.push(ChatChunk::Thinking {
                        index: 0,
                        text,
                        signature,
                    });
                }
                Kind::Thinking
            }
            "tool_use" => {
                let name = b.name.unwrap_or_default();
                let initial = b
                    .input
                    .filter(|r| is_nonempty_object(r))
                    .map(|r| compact_json(r.get()));
                if name == JSON_TOOL_NAME {
                    let has_text = initial.is_some();
                    if let Some(text) = initial {
                        out.push(ChatChunk::Text { index: 0, text });
                    }
                    Kind::Json { has_text }
                } else {
                    let call_index = self.next_call;
                    self.next_call += 1;
                    let has_args = initial.is_some();
                    out.push(ChatChunk::ToolCall {
                        index: 0,
                        call_index,
                        id: Some(b.id.unwrap_or_default()),
                        name: Some(name),
                        arguments: initial.unwrap_or_default(),
                    });
                    Kind::Tool {
                        call_index,
                        has_args,
                    }
                }
            }
            _ => Kind::Skipped,
        };
        match self.kind(index) {
            Some(k) => *k = kind,
            None => self.blocks.push((index, kind)),
        }
        Ok(())
    }

    fn block_delta(
        &mut self,
        index: u32,
        delta: &RawValue,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), UpstreamError> {
        let d: Delta = serde_json::from_str(delta.get())
            .map_err(|e| bad(format!("content_block_delta: {e}")))?;
        let kind = match self.kind(index) {
            Some(k) => k,
            None => {
                // A delta for a block that never started: text and thinking can still
                // be placed; a tool call's arguments without its id and name cannot.
                let k = match d.kind.as_deref() {
                    Some("text_delta") => Kind::Text,
                    Some("thinking_delta" | "signature_delta") => Kind::Thinking,
                    Some("input_json_delta") => {
                        return Err(bad(format!(
                            "tool input for content block {index}, which never started"
                        )))
                    }
                    _ => Kind::Skipped,
                };
                self.blocks.push((index, k));
                match self.kind(index) {
                    Some(k) => k,
                    None => return Ok(()),
                }
            }
        };
        match (d.kind.as_deref(), kind) {
            (Some("text_delta"), Kind::Text) => {
                if let Some(text) = d.text.filter(|t| !t.is_empty()) {
                    out.push(ChatChunk::Text { index: 0, text });
                }
            }
            (Some("thinking_delta"), Kind::Thinking) => {
                if let Some(text) = d.thinking.filter(|t| !t.is_empty()) {
                    out.push(ChatChunk::Thinking {
                        index: 0,
                        text,
                        signature: None,
                    });
                }
            }
            (Some("signature_delta"), Kind::Thinking) => {
                if let Some(sig) = d.signature.filter(|s| !s.is_empty()) {
                    out.push(ChatChunk::Thinking {
                        index: 0,
                        text: String::new(),
                        signature: Some(sig),
                    });
                }
            }
            (
                Some("input_json_delta"),
                Kind::Tool {
                    call_index,
                    has_args,
                },
            ) => {
                if let Some(arguments) = d.partial_json.filter(|a| !a.is_empty()) {
                    *has_args = true;
                    out.push(ChatChunk::ToolCall {
                        index: 0,
                        call_index: *call_index,
                        id: None,
                        name: None,
                        arguments,
                    });
                }
            }
            (Some("input_json_delta"), Kind::Json { has_text }) => {
                if let Some(text) = d.partial_json.filter(|a| !a.is_empty()) {
                    *has_text = true;
                    out.push(ChatChunk::Text { index: 0, text });
                }
            }
            // Citations, server tool input, deltas that do not match their block.
            _ => {}
        }
        Ok(())
    }

    fn block_stop(&mut self, index: u32, out: &mut Vec<ChatChunk>) {
        let Some(kind) = self.kind(index) else {
            return;
        };
        match kind {
            Kind::Tool {
                call_index,
                has_args: has_args @ false,
            } => {
                *has_args = true;
                out.push(ChatChunk::ToolCall {
                    index: 0,
                    call_index: *call_index,
                    id: None,
                    name: None,
                    arguments: "{}".to_string(),
                });
            }
            Kind::Json {
                has_text: has_text @ false,
            } => {
                *has_text = true;
                out.push(ChatChunk::Text {
                    index: 0,
                    text: "{}".to_string(),
                });
            }
            _ => {}
        }
    }

    fn message_delta(
        &mut self,
        delta: Option<&RawValue>,
        usage: Option<WireUsage>,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), UpstreamError> {
        if let Some(delta) = delta {
            let d: Delta = serde_json::from_str(delta.get())
                .map_err(|e| bad(format!("message_delta: {e}")))?;
            if let Some(stop) = d.stop_reason.as_deref() {
                let (reason, raw_reason) = finish_reason_unwrapped(stop, self.next_call > 0);
                out.push(ChatChunk::Finish {
                    index: 0,
                    reason,
                    raw_reason,
                });
            }
        }
        if let Some(u) = usage {
            self.usage.update(&u);
            out.push(ChatChunk::Usage(self.usage.to_usage()));
        }
        Ok(())
    }
}

impl StreamDecoder for AnthropicStreamDecoder {
    fn on_event(&mut self, event: StreamEvent<'_>) -> Result<Vec<ChatChunk>, UpstreamError> {
        let StreamEvent::Sse(ev) = event else {
            return Ok(Vec::new());
        };
        let data = ev.data.as_ref();
        if ev.event == Some("error") {
            return Err(classify_stream_error(data));
        }
        // Anthropic ends with `message_stop`; an OpenAI-style `[DONE]` (some proxies add
        // one) ends the stream as well.
        if ev.is_done() {
            self.done = true;
            return Ok(Vec::new());
        }
        if ev.event == Some("ping") || data.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let e: WireEvent<'_> = serde_json::from_slice(data).map_err(|e| bad(e.to_string()))?;
        let mut out = Vec::new();
        match e.kind.as_str() {
            "message_start" => self.message_start(e.message, &mut out),
            "content_block_start" => {
                let (Some(index), Some(block)) = (e.index, e.content_block) else {
                    return Err(bad("content_block_start without index or block"));
                };
                self.ensure_started(&mut out);
                self.block_start(index, block, &mut out)?;
            }
            "content_block_delta" => {
                let (Some(index), Some(delta)) = (e.index, e.delta) else {
                    return Err(bad("content_block_delta without index or delta"));
                };
                self.ensure_started(&mut out);
                self.block_delta(index, delta, &mut out)?;
            }
            "content_block_stop" => {
                if let Some(index) = e.index {
                    self.block_stop(index, &mut out);
                }
            }
            "message_delta" => {
                self.ensure_started(&mut out);
                self.message_delta(e.delta, e.usage, &mut out)?;
            }
            "message_stop" => self.done = true,
            "error" => return Err(classify_stream_error(data)),
            // `ping`, and event types newer than this adapter.
            _ => {}
        }
        Ok(out)
    }

    fn is_done(&self) -> bool {
        self.done
    }
}
