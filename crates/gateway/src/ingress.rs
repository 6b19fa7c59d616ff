//! The client's API on an inference route: OpenAI Chat Completions
//! (`/v1/chat/completions`), Anthropic Messages (`/v1/messages`) or the OpenAI Responses
//! API (`/v1/responses`).
//!
//! Every ingress goes through the same attempt loop (`routes::chat`); what differs is
//! read here: where the prompt and the output cap are in the body (for routing, limits
//! and budgets), how the request becomes canonical, how errors are shaped, and how a
//! stream is written back to the client ([`ClientEncoder`]).

use crate::error::{ApiError, ErrorShape};
use bytes::Bytes;
use std::collections::VecDeque;
use switchyard_adapters::anthropic::AnthropicStreamEncoder;
use switchyard_adapters::canonical::ChatChunk;
use switchyard_adapters::openai::OpenAiStreamEncoder;
use switchyard_adapters::responses::ResponsesStreamEncoder;
use switchyard_store::responses::StoredResponse;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingress {
    OpenAiChat,
    AnthropicMessages,
    Responses,
}

impl Ingress {
    /// The endpoint's name in the request ledger.
    pub fn endpoint(self) -> &'static str {
        match self {
            Ingress::OpenAiChat => "chat.completions",
            Ingress::AnthropicMessages => "messages",
            Ingress::Responses => "responses",
        }
    }

    pub fn error_shape(self) -> ErrorShape {
        match self {
            Ingress::OpenAiChat | Ingress::Responses => ErrorShape::OpenAi,
            Ingress::AnthropicMessages => ErrorShape::Anthropic,
        }
    }

    /// The top-level fields that hold the prompt (token estimates, limits, budgets).
    pub fn prompt_fields(self) -> &'static [&'static str] {
        match self {
            Ingress::OpenAiChat => &["messages"],
            Ingress::AnthropicMessages => &["system", "messages"],
            Ingress::Responses => &["instructions", "input"],
        }
    }

    /// The system prompt's field when it is given apart from the messages.
    pub fn system_field(self) -> Option<&'static str> {
        match self {
            Ingress::OpenAiChat => None,
            Ingress::AnthropicMessages => Some("system"),
            Ingress::Responses => Some("instructions"),
        }
    }

    /// The field that holds the conversation.
    pub fn messages_field(self) -> &'static str {
        match self {
            Ingress::OpenAiChat | Ingress::AnthropicMessages => "messages",
            Ingress::Responses => "input",
        }
    }

    /// The fields that cap the output, in order of precedence.
    pub fn max_output_fields(self) -> &'static [&'static str] {
        match self {
            Ingress::OpenAiChat => &["max_completion_tokens", "max_tokens"],
            Ingress::AnthropicMessages => &["max_tokens"],
            Ingress::Responses => &["max_output_tokens"],
        }
    }

    /// What marks an image in the prompt's raw JSON (for `route_if: has_images`).
    pub fn image_marker(self) -> &'static str {
        match self {
            Ingress::OpenAiChat => "\"image_url\"",
            Ingress::AnthropicMessages => "\"image\"",
            Ingress::Responses => "\"input_image\"",
        }
    }

    /// The prefix of ids the gateway mints for responses that carry none.
    pub fn id_prefix(self) -> &'static str {
        match self {
            Ingress::OpenAiChat => "chatcmpl-",
            Ingress::AnthropicMessages => "msg_",
            Ingress::Responses => "resp_",
        }
    }
}

/// Writes canonical stream chunks in the client's format.
pub enum ClientEncoder {
    OpenAi(OpenAiStreamEncoder),
    Anthropic(Box<AnthropicStreamEncoder>),
    Responses(Box<ResponsesStream>),
    /// The upstream speaks the client's format: its events are forwarded as received
    /// (the decoder still reads them, for usage, the first token and errors).
    Passthrough(ErrorShape),
}

impl ClientEncoder {
    pub fn passthrough(&self) -> bool {
        matches!(self, ClientEncoder::Passthrough(_))
    }

    pub fn encode(&mut self, chunk: &ChatChunk, out: &mut VecDeque<Bytes>) {
        match self {
            ClientEncoder::OpenAi(e) => out.extend(e.encode(chunk)),
            ClientEncoder::Anthropic(e) => out.extend(e.encode(chunk)),
            ClientEncoder::Responses(r) => out.extend(r.encoder.encode(chunk)),
            ClientEncoder::Passthrough(_) => {}
        }
    }

    pub fn finish(&mut self, out: &mut VecDeque<Bytes>) {
        match self {
            ClientEncoder::OpenAi(e) => out.push_back(e.finish()),
            ClientEncoder::Anthropic(e) => out.extend(e.finish()),
            ClientEncoder::Responses(r) => {
                let events = r.encoder.finish();
                if let Some(save) = r.save.take() {
                    let response = events.last().and_then(final_response);
                    save.spawn(r.encoder.output_items(), response);
                }
                out.extend(events);
            }
            ClientEncoder::Passthrough(_) => {}
        }
    }

    /// Ends a stream with an error event the client's SDK raises on.
    pub fn error(&mut self, api: &ApiError, out: &mut VecDeque<Bytes>) {
        if let ClientEncoder::Responses(r) = self {
            let code = api.code.as_deref().unwrap_or(&api.kind);
            out.extend(r.encoder.fail(code, &api.message));
            return;
        }
        let shape = match self {
            ClientEncoder::Responses(_) => ErrorShape::OpenAi,
            ClientEncoder::OpenAi(_) => ErrorShape::OpenAi,
            ClientEncoder::Anthropic(_) => ErrorShape::Anthropic,
            ClientEncoder::Passthrough(shape) => *shape,
        };
        let body = api.body_in(shape);
        let mut event = Vec::with_capacity(32 + body.len());
        if shape == ErrorShape::Anthropic {
            event.extend_from_slice(b"event: error\n");
        }
        event.extend_from_slice(b"data: ");
        event.extend_from_slice(&body);
        event.extend_from_slice(b"\n\n");
        out.push_back(Bytes::from(event));
    }
}

/// A Responses API stream, and the state to keep when it completes (`store: true`).
pub struct ResponsesStream {
    pub encoder: ResponsesStreamEncoder,
    pub save: Option<PendingSave>,
}

/// A stored response still to be written: all of it but its output.
pub struct PendingSave {
    pub store: std::sync::Arc<crate::response_store::ResponseStore>,
    pub record: StoredResponse,
    /// The conversation before this response's output (earlier turns, then this input).
    pub conversation: Vec<serde_json::Value>,
}

impl PendingSave {
    /// Writes the response in the background (the stream's last event is not held
    /// back for the database).
    pub fn spawn(self, output: Vec<serde_json::Value>, response: Option<serde_json::Value>) {
        let PendingSave {
            store,
            mut record,
            mut conversation,
        } = self;
        conversation.extend(output);
        record.conversation = serde_json::to_string(&conversation).unwrap_or_else(|_| "[]".into());
        record.response = response.map_or_else(|| "{}".into(), |r| r.to_string());
        let record = store.remember(record);
        tokio::spawn(async move {
            if let Err(e) = store.persist(&record).await {
                tracing::warn!(error = %e, "could not store a streamed response");
            }
        });
    }
}

/// The `response` object of a `response.completed` (or `.incomplete`) event.
fn final_response(event: &Bytes) -> Option<serde_json::Value> {
    let text = std::str::from_utf8(event).ok()?;
    let data = text.lines().find_map(|l| l.strip_prefix("data: "))?;
    let mut v: serde_json::Value = serde_json::from_str(data).ok()?;
    Some(v.get_mut("response")?.take())
}
