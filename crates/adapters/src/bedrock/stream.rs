//! Provider decode, streamed: ConverseStream events (one decoded frame each, see
//! [`super::eventstream`]) → canonical chunks.
//!
//! The events, in order: `messageStart`; per content block an optional
//! `contentBlockStart` (only tool-use blocks have one), `contentBlockDelta`s and a
//! `contentBlockStop`; `messageStop` with the stop reason; `metadata` with usage.
//! Mapped: `messageStart` → `Start` (Bedrock names no id, model or time: empty / 0, the
//! gateway fills them); text deltas → `Text`; reasoning text → `Thinking`, its
//! signature → `Thinking{text: "", signature}`; tool-use blocks → `ToolCall`s (id and
//! name from the block start, then the input fragments; a tool given no input still
//! gets `"{}"`); `messageStop` → `Finish`; `metadata` → `Usage`, after which the
//! stream is done (metadata is the last event Bedrock sends; ending at `messageStop`
//! would let usage be missed). Redacted reasoning has no chunk and is dropped; blocks
//! of a tool Bedrock ran itself (`server_tool_use`) and their results are skipped.
//! The forced [`JSON_TOOL`] carrying `response_format` streams as `Text`.
//! Exceptions (`throttlingException`, ...) and framework errors become `Err`.

use super::errors::{is_exception_type, payload_message, stream_exception};
use super::request::JSON_TOOL;
use super::response::{finish_reason, WireUsage};
use crate::adapter::{StreamDecoder, StreamEvent};
use crate::canonical::{ChatChunk, Usage};
use crate::error::{ErrorClass, UpstreamError};
use serde::de::DeserializeOwned;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStart {
    #[serde(default)]
    content_block_index: u32,
    #[serde(default)]
    start: Option<StartUnion>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartUnion {
    #[serde(default)]
    tool_use: Option<ToolUseStart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUseStart {
    #[serde(default)]
    tool_use_id: String,
    #[serde(default)]
    name: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockDelta {
    #[serde(default)]
    content_block_index: u32,
    #[serde(default)]
    delta: Option<DeltaUnion>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaUnion {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_use: Option<ToolUseDelta>,
    #[serde(default)]
    reasoning_content: Option<ReasoningDelta>,
}

#[derive(Deserialize)]
struct ToolUseDelta {
    #[serde(default)]
    input: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReasoningDelta {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    signature: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStop {
    #[serde(default)]
    content_block_index: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageStop {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// What a content block (by Bedrock's `contentBlockIndex`) turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    /// A client tool call; `call_index` counts the choice's tool calls from 0.
    Tool { call_index: u32, has_input: bool },
    /// The forced `response_format` tool: its input is text.
    Json { has_input: bool },
    /// A tool Bedrock runs itself, or a block kind with nothing for a chat completion.
    Skipped,
}

struct Block {
    index: u32,
    kind: BlockKind,
    stopped: bool,
}

/// Decodes a ConverseStream, one frame at a time.
#[derive(Default)]
pub struct BedrockStreamDecoder {
    started: bool,
    finished: bool,
    done: bool,
    blocks: Vec<Block>,
    next_call: u32,
}

fn bad_event(event_type: &str, e: impl std::fmt::Display) -> UpstreamError {
    UpstreamError::new(
        ErrorClass::Server,
        None,
        format!("could not read Bedrock's `{event_type}` stream event: {e}"),
    )
}

fn parse<T: DeserializeOwned>(event_type: &str, payload: &[u8]) -> Result<T, UpstreamError> {
    serde_json::from_slice(payload).map_err(|e| bad_event(event_type, e))
}

impl BedrockStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn start(&mut self, out: &mut Vec<ChatChunk>) {
        if !self.started {
            self.started = true;
            out.push(ChatChunk::Start {
                id: String::new(),
                model: String::new(),
                created: 0,
                system_fingerprint: None,
            });
        }
    }

    fn block_mut(&mut self, index: u32) -> Option<&mut Block> {
        self.blocks.iter_mut().find(|b| b.index == index)
    }

    fn on_block_start(&mut self, e: BlockStart, out: &mut Vec<ChatChunk>) {
        let index = e.content_block_index;
        let kind = match e.start.and_then(|s| s.tool_use) {
            Some(t) if t.kind.as_deref() == Some("server_tool_use") => BlockKind::Skipped,
            Some(t) if t.name == JSON_TOOL => BlockKind::Json { has_input: false },
            Some(t) => {
                let call_index = self.next_call;
                self.next_call += 1;
                out.push(ChatChunk::ToolCall {
                    index: 0,
                    call_index,
                    id: Some(t.tool_use_id),
                    name: Some(t.name),
                    arguments: String::new(),
                });
                BlockKind::Tool {
                    call_index,
                    has_input: false,
                }
            }
            // A server tool's result, an image: nothing for the client.
            None => BlockKind::Skipped,
        };
        self.blocks.retain(|b| b.index != index);
        self.blocks.push(Block {
            index,
            kind,
            stopped: false,
        });
    }

    fn on_block_delta(
        &mut self,
        e: BlockDelta,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), UpstreamError> {
        let Some(delta) = e.delta else {
            return Ok(());
        };
        let index = e.content_block_index;
        if let Some(text) = delta.text.filter(|t| !t.is_empty()) {
            out.push(ChatChunk::Text { index: 0, text });
        }
        if let Some(r) = delta.reasoning_content {
            if let Some(text) = r.text.filter(|t| !t.is_empty()) {
                out.push(ChatChunk::Thinking {
                    index: 0,
                    text,
                    signature: None,
                });
            }
            if let Some(signature) = r.signature.filter(|s| !s.is_empty()) {
                out.push(ChatChunk::Thinking {
                    index: 0,
                    text: String::new(),
                    signature: Some(signature),
                });
            }
            // `redactedContent` has no chunk: OpenAI clients cannot carry it.
        }
        if let Some(t) = delta.tool_use {
            let Some(block) = self.block_mut(index) else {
                return Err(UpstreamError::new(
                    ErrorClass::Server,
                    None,
                    format!("Bedrock streamed tool input for block {index}, which no contentBlockStart opened"),
                ));
            };
            match &mut block.kind {
                BlockKind::Tool {
                    call_index,
                    has_input,
                } => {
                    if !t.input.is_empty() {
                        *has_input = true;
                        out.push(ChatChunk::ToolCall {
                            index: 0,
                            call_index: *call_index,
                            id: None,
                            name: None,
                            arguments: t.input,
                        });
                    }
                }
                BlockKind::Json { has_input } => {
                    if !t.input.is_empty() {
                        *has_input = true;
                        out.push(ChatChunk::Text {
                            index: 0,
                            text: t.input,
                        });
                    }
                }
                BlockKind::Skipped => {}
            }
        }
        Ok(())
    }

    /// A tool block ending with no input still has arguments: `{}`.
    fn close(block: &mut Block, out: &mut Vec<ChatChunk>) {
        if block.stopped {
            return;
        }
        block.stopped = true;
        match block.kind {
            BlockKind::Tool {
                call_index,
                has_input: false,
            } => out.push(ChatChunk::ToolCall {
                index: 0,
                call_index,
                id: None,
                name: None,
                arguments: "{}".into(),
            }),
            BlockKind::Json { has_input: false } => out.push(ChatChunk::Text {
                index: 0,
                text: "{}".into(),
            }),
            _ => {}
        }
    }

    fn on_message_stop(&mut self, e: MessageStop, out: &mut Vec<ChatChunk>) {
        // Blocks Bedrock left open are closed first, so every call is complete.
        for block in &mut self.blocks {
            Self::close(block, out);
        }
        if self.finished {
            return;
        }
        self.finished = true;
        let stop = e.stop_reason.unwrap_or_default();
        let (reason, raw_reason) = finish_reason(&stop, self.next_call > 0);
        out.push(ChatChunk::Finish {
            index: 0,
            reason,
            raw_reason,
        });
    }
}

impl StreamDecoder for BedrockStreamDecoder {
    fn on_event(&mut self, event: StreamEvent<'_>) -> Result<Vec<ChatChunk>, UpstreamError> {
        let StreamEvent::Frame {
            event_type,
            payload,
        } = event
        else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        match event_type {
            "messageStart" => self.start(&mut out),
            "contentBlockStart" => {
                let e = parse(event_type, payload)?;
                self.start(&mut out);
                self.on_block_start(e, &mut out);
            }
            "contentBlockDelta" => {
                let e = parse(event_type, payload)?;
                self.start(&mut out);
                self.on_block_delta(e, &mut out)?;
            }
            "contentBlockStop" => {
                let e: BlockStop = parse(event_type, payload)?;
                self.start(&mut out);
                if let Some(block) = self.block_mut(e.content_block_index) {
                    Self::close(block, &mut out);
                }
            }
            "messageStop" => {
                let e = parse(event_type, payload)?;
                self.start(&mut out);
                self.on_message_stop(e, &mut out);
            }
            "metadata" => {
                let e: Metadata = parse(event_type, payload)?;
                self.start(&mut out);
                if let Some(u) = e.usage {
                    out.push(ChatChunk::Usage(Usage::from(u)));
                }
                self.done = true;
            }
            other if is_exception_type(other) => return Err(stream_exception(other, payload)),
            other => {
                // A framework `error` frame (see `Frame::payload`) or an exception with
                // an unusual name; an event of a kind Bedrock added later is skipped.
                if payload_message(payload).is_some() {
                    return Err(stream_exception(other, payload));
                }
            }
        }
        Ok(out)
    }

    fn is_done(&self) -> bool {
        self.done
    }
}
