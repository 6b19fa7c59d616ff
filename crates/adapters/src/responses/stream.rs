//! Ingress stream encode: canonical chunks → Responses API SSE events.
//!
//! Each event is `event: <type>\ndata: <json>\n\n` with a `sequence_number`
//! counting from 0, in the order OpenAI sends them (as recorded):
//! - `response.created`, `response.in_progress` (status `in_progress`, no output);
//! - per output item: `response.output_item.added`, its content, then
//!   `response.output_item.done` with the finished item:
//!   - message: `response.content_part.added`, `response.output_text.delta`… (or
//!     `response.refusal.delta`…), `response.output_text.done` (`.refusal.done`),
//!     `response.content_part.done`;
//!   - function call: `response.function_call_arguments.delta`…, `.done`;
//!   - reasoning: when it has text, `response.reasoning_summary_part.added`,
//!     `response.reasoning_summary_text.delta`…, `.done`,
//!     `response.reasoning_summary_part.done` (summaries, not `reasoning_text`: what
//!     OpenAI's reasoning models send and clients render); the signature arrives as
//!     the finished item's `encrypted_content`;
//! - `response.completed`, or `response.incomplete` (finish `length` or
//!   `content_filter`), with the whole response and its usage; or, on
//!   [`ResponsesStreamEncoder::fail`], an `error` event and `response.failed`.
//!
//! An item is closed when an item of another kind begins; function calls stay open
//! until something other than a call comes (providers may interleave the fragments
//! of parallel calls), then close in order. Items and ids are those
//! [`super::output_items`] gives for the same content.

use super::item_id;
use super::response::{
    function_call_item, incomplete_reason, message_item, output_text, reasoning_item, refusal,
    response_object, summary_text, ResponseMeta, State,
};
use crate::canonical::{ChatChunk, FinishReason, Usage};
use bytes::Bytes;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Text,
    Refusal,
}

#[derive(Debug)]
struct OpenMessage {
    index: usize,
    id: String,
    /// Finished content parts.
    parts: Vec<Value>,
    /// The part being written.
    current: Option<(PartKind, String)>,
}

#[derive(Debug)]
struct OpenReasoning {
    index: usize,
    id: String,
    text: String,
    signature: Option<String>,
}

#[derive(Debug)]
struct OpenCall {
    call_index: u32,
    index: usize,
    id: String,
    call_id: String,
    name: String,
    arguments: String,
}

#[derive(Debug)]
enum Open {
    Message(OpenMessage),
    Reasoning(OpenReasoning),
}

/// Writes one streamed response as Responses API events.
#[derive(Debug)]
pub struct ResponsesStreamEncoder {
    meta: ResponseMeta,
    sequence: u64,
    started: bool,
    finished: bool,
    /// Output items by output index; `None` while open.
    items: Vec<Option<Value>>,
    open: Option<Open>,
    calls: Vec<OpenCall>,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
}

impl ResponsesStreamEncoder {
    pub fn new(meta: ResponseMeta) -> Self {
        ResponsesStreamEncoder {
            meta,
            sequence: 0,
            started: false,
            finished: false,
            items: Vec::new(),
            open: None,
            calls: Vec::new(),
            usage: None,
            finish: None,
        }
    }

    /// Appends event `data` (its `type` names it), numbered.
    fn emit(&mut self, out: &mut Vec<Bytes>, mut data: Value) {
        let kind = data["type"].as_str().unwrap_or_default().to_string();
        data["sequence_number"] = self.sequence.into();
        self.sequence += 1;
        let json = serde_json::to_string(&data).unwrap_or_default();
        out.push(Bytes::from(format!("event: {kind}\ndata: {json}\n\n")));
    }

    fn snapshot(&self, state: State<'_>) -> Value {
        response_object(&self.meta, state)
    }

    fn ensure_started(&mut self, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        for kind in ["response.created", "response.in_progress"] {
            let response = self.snapshot(State {
                status: "in_progress",
                output: Vec::new(),
                usage: None,
                incomplete: None,
                error: None,
            });
            self.emit(out, json!({"type": kind, "response": response}));
        }
    }

    /// A new output item: its index (and slot).
    fn add_item(&mut self, out: &mut Vec<Bytes>, item: Value) -> usize {
        let index = self.items.len();
        self.items.push(None);
        self.emit(
            out,
            json!({"type": "response.output_item.added", "output_index": index, "item": item}),
        );
        index
    }

    fn done_item(&mut self, out: &mut Vec<Bytes>, index: usize, item: Value) {
        self.emit(
            out,
            json!({"type": "response.output_item.done", "output_index": index, "item": item.clone()}),
        );
        self.set_item(index, item);
    }

    fn set_item(&mut self, index: usize, item: Value) {
        if let Some(slot) = self.items.get_mut(index) {
            *slot = Some(item);
        }
    }

    /// Closes the message's current content part.
    fn close_part(&mut self, out: &mut Vec<Bytes>, m: &mut OpenMessage) {
        let Some((kind, text)) = m.current.take() else {
            return;
        };
        let content_index = m.parts.len();
        let (done, part) = match kind {
            PartKind::Text => (
                json!({"type": "response.output_text.done", "text": text, "logprobs": []}),
                output_text(&text),
            ),
            PartKind::Refusal => (
                json!({"type": "response.refusal.done", "refusal": text}),
                refusal(&text),
            ),
        };
        let mut done = done;
        done["item_id"] = m.id.as_str().into();
        done["output_index"] = m.index.into();
        done["content_index"] = content_index.into();
        self.emit(out, done);
        self.emit(
            out,
            json!({
                "type": "response.content_part.done",
                "item_id": m.id,
                "output_index": m.index,
                "content_index": content_index,
                "part": part.clone(),
            }),
        );
        m.parts.push(part);
    }

    /// Closes the open message or reasoning item, with `status`.
    fn close_open(&mut self, out: &mut Vec<Bytes>, status: &str) {
        match self.open.take() {
            None => {}
            Some(Open::Message(mut m)) => {
                self.close_part(out, &mut m);
                let item = message_item(&m.id, status, m.parts);
                self.done_item(out, m.index, item);
            }
            Some(Open::Reasoning(r)) => {
                if !r.text.is_empty() {
                    let base = json!({
                        "item_id": r.id,
                        "output_index": r.index,
                        "summary_index": 0,
                    });
                    let mut text_done = base.clone();
                    text_done["type"] = "response.reasoning_summary_text.done".into();
                    text_done["text"] = r.text.as_str().into();
                    self.emit(out, text_done);
                    let mut part_done = base;
                    part_done["type"] = "response.reasoning_summary_part.done".into();
                    part_done["part"] = summary_text(&r.text);
                    self.emit(out, part_done);
                }
                let item = reasoning_item(&r.id, &r.text, r.signature.as_deref());
                self.done_item(out, r.index, item);
            }
        }
    }

    /// Closes the open function calls, in order, with `status`.
    fn close_calls(&mut self, out: &mut Vec<Bytes>, status: &str) {
        for c in std::mem::take(&mut self.calls) {
            self.emit(
                out,
                json!({
                    "type": "response.function_call_arguments.done",
                    "item_id": c.id,
                    "output_index": c.index,
                    "arguments": c.arguments,
                }),
            );
            let item = function_call_item(&c.id, status, &c.call_id, &c.name, &c.arguments);
            self.done_item(out, c.index, item);
        }
    }

    fn message_delta(&mut self, out: &mut Vec<Bytes>, kind: PartKind, delta: &str) {
        if delta.is_empty() {
            return;
        }
        self.ensure_started(out);
        self.close_calls(out, "completed");
        let mut m = match self.open.take() {
            Some(Open::Message(m)) => m,
            other => {
                self.open = other;
                self.close_open(out, "completed");
                let index = self.items.len();
                let id = item_id("msg", &self.meta.id, index);
                self.add_item(out, message_item(&id, "in_progress", Vec::new()));
                OpenMessage {
                    index,
                    id,
                    parts: Vec::new(),
                    current: None,
                }
            }
        };
        if m.current.as_ref().is_some_and(|(k, _)| *k != kind) {
            self.close_part(out, &mut m);
        }
        if m.current.is_none() {
            let part = match kind {
                PartKind::Text => output_text(""),
                PartKind::Refusal => refusal(""),
            };
            self.emit(
                out,
                json!({
                    "type": "response.content_part.added",
                    "item_id": m.id,
                    "output_index": m.index,
                    "content_index": m.parts.len(),
                    "part": part,
                }),
            );
            m.current = Some((kind, String::new()));
        }
        let mut event = match kind {
            PartKind::Text => {
                json!({"type": "response.output_text.delta", "delta": delta, "logprobs": []})
            }
            PartKind::Refusal => json!({"type": "response.refusal.delta", "delta": delta}),
        };
        event["item_id"] = m.id.as_str().into();
        event["output_index"] = m.index.into();
        event["content_index"] = m.parts.len().into();
        self.emit(out, event);
        if let Some((_, text)) = m.current.as_mut() {
            text.push_str(delta);
        }
        self.open = Some(Open::Message(m));
    }

    fn thinking(&mut self, out: &mut Vec<Bytes>, text: &str, signature: Option<&str>) {
        if text.is_empty() && signature.is_none() {
            return;
        }
        self.ensure_started(out);
        self.close_calls(out, "completed");
        let mut r = match self.open.take() {
            // A block that already has its signature is finished: text after it is
            // the next block.
            Some(Open::Reasoning(r)) if r.signature.is_none() || text.is_empty() => r,
            other => {
                self.open = other;
                self.close_open(out, "completed");
                let index = self.items.len();
                let id = item_id("rs", &self.meta.id, index);
                self.add_item(out, reasoning_item(&id, "", None));
                OpenReasoning {
                    index,
                    id,
                    text: String::new(),
                    signature: None,
                }
            }
        };
        if !text.is_empty() {
            let base = json!({"item_id": r.id, "output_index": r.index, "summary_index": 0});
            if r.text.is_empty() {
                let mut added = base.clone();
                added["type"] = "response.reasoning_summary_part.added".into();
                added["part"] = summary_text("");
                self.emit(out, added);
            }
            let mut delta = base;
            delta["type"] = "response.reasoning_summary_text.delta".into();
            delta["delta"] = text.into();
            self.emit(out, delta);
            r.text.push_str(text);
        }
        if let Some(sig) = signature {
            r.signature = Some(sig.to_string());
        }
        self.open = Some(Open::Reasoning(r));
    }

    fn tool_call(
        &mut self,
        out: &mut Vec<Bytes>,
        call_index: u32,
        id: Option<&str>,
        name: Option<&str>,
        arguments: &str,
    ) {
        self.ensure_started(out);
        self.close_open(out, "completed");
        let pos = match self.calls.iter().position(|c| c.call_index == call_index) {
            Some(pos) => pos,
            None => {
                let index = self.items.len();
                let item_id_ = item_id("fc", &self.meta.id, index);
                let call_id = id
                    .filter(|s| !s.is_empty())
                    .map_or_else(|| item_id("call", &self.meta.id, index), str::to_string);
                let name = name.unwrap_or_default().to_string();
                self.add_item(
                    out,
                    function_call_item(&item_id_, "in_progress", &call_id, &name, ""),
                );
                self.calls.push(OpenCall {
                    call_index,
                    index,
                    id: item_id_,
                    call_id,
                    name,
                    arguments: String::new(),
                });
                self.calls.len() - 1
            }
        };
        if arguments.is_empty() {
            return;
        }
        let (item, index) = {
            let c = &mut self.calls[pos];
            c.arguments.push_str(arguments);
            (c.id.clone(), c.index)
        };
        self.emit(
            out,
            json!({
                "type": "response.function_call_arguments.delta",
                "item_id": item,
                "output_index": index,
                "delta": arguments,
            }),
        );
    }

    /// The SSE events for one canonical chunk (possibly none). Only choice 0 is
    /// written: a response has one output.
    pub fn encode(&mut self, chunk: &ChatChunk) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        match chunk {
            ChatChunk::Start { .. } => self.ensure_started(&mut out),
            ChatChunk::Usage(u) => self.usage = Some(*u),
            ChatChunk::Text { index: 0, text } => {
                self.message_delta(&mut out, PartKind::Text, text);
            }
            ChatChunk::Refusal { index: 0, text } => {
                self.message_delta(&mut out, PartKind::Refusal, text);
            }
            ChatChunk::Thinking {
                index: 0,
                text,
                signature,
            } => {
                let signature = signature.as_deref().filter(|s| !s.is_empty());
                self.thinking(&mut out, text, signature);
            }
            ChatChunk::ToolCall {
                index: 0,
                call_index,
                id,
                name,
                arguments,
            } => self.tool_call(
                &mut out,
                *call_index,
                id.as_deref(),
                name.as_deref(),
                arguments,
            ),
            ChatChunk::Finish {
                index: 0, reason, ..
            } => self.finish = Some(*reason),
            _ => {}
        }
        out
    }

    /// Ends the stream: closes the open items, then `response.completed` (or
    /// `response.incomplete`) with the whole response and its usage.
    pub fn finish(&mut self) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        self.ensure_started(&mut out);
        let incomplete = incomplete_reason(self.finish);
        let status = if incomplete.is_some() {
            "incomplete"
        } else {
            "completed"
        };
        // What is still open when the response was cut short is what was cut.
        self.close_open(&mut out, status);
        self.close_calls(&mut out, status);
        self.finished = true;
        let response = self.snapshot(State {
            status,
            output: self.output_items(),
            usage: Some(&self.usage.unwrap_or_default()),
            incomplete,
            error: None,
        });
        let kind = format!("response.{status}");
        self.emit(&mut out, json!({"type": kind, "response": response}));
        out
    }

    /// Ends the stream with a failure: an `error` event, then `response.failed` with
    /// what was produced so far (open items `incomplete`). `code` is an OpenAI error
    /// code or type (`server_error`, `rate_limit_exceeded`, …).
    pub fn fail(&mut self, code: &str, message: &str) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        self.ensure_started(&mut out);
        self.finished = true;
        // Open items end here, without their events.
        match self.open.take() {
            None => {}
            Some(Open::Message(mut m)) => {
                if let Some((kind, text)) = m.current.take() {
                    m.parts.push(match kind {
                        PartKind::Text => output_text(&text),
                        PartKind::Refusal => refusal(&text),
                    });
                }
                self.set_item(m.index, message_item(&m.id, "incomplete", m.parts));
            }
            Some(Open::Reasoning(r)) => {
                let item = reasoning_item(&r.id, &r.text, r.signature.as_deref());
                self.set_item(r.index, item);
            }
        }
        for c in std::mem::take(&mut self.calls) {
            let item = function_call_item(&c.id, "incomplete", &c.call_id, &c.name, &c.arguments);
            self.set_item(c.index, item);
        }
        // Both shapes: the spec's (`code`, `message`, `param` at the top) and the one
        // OpenAI sends (`error: {type, code, message, param}`), which the SDKs raise.
        self.emit(
            &mut out,
            json!({
                "type": "error",
                "code": code,
                "message": message,
                "param": null,
                "error": {"type": code, "code": code, "message": message, "param": null},
            }),
        );
        let response = self.snapshot(State {
            status: "failed",
            output: self.output_items(),
            usage: self.usage.as_ref(),
            incomplete: None,
            error: Some(json!({"code": code, "message": message})),
        });
        self.emit(
            &mut out,
            json!({"type": "response.failed", "response": response}),
        );
        out
    }

    /// The output items finished so far (all of them after [`Self::finish`]), for
    /// storage.
    pub fn output_items(&self) -> Vec<Value> {
        self.items.iter().flatten().cloned().collect()
    }

    /// The usage reported by the provider, if any yet.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }
}
