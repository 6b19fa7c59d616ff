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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingress {
    OpenAiChat,
    AnthropicMessages,
}

impl Ingress {
    pub fn error_shape(self) -> ErrorShape {
        match self {
            Ingress::OpenAiChat => ErrorShape::OpenAi,
            Ingress::AnthropicMessages => ErrorShape::Anthropic,
        }
    }

    /// The top-level fields that hold the prompt (token estimates, limits, budgets).
    pub fn prompt_fields(self) -> &'static [&'static str] {
        match self {
            Ingress::OpenAiChat => &["messages"],
            Ingress::AnthropicMessages => &["system", "messages"],
        }
    }

    /// The system prompt's field when it is given apart from the messages.
    pub fn system_field(self) -> Option<&'static str> {
        match self {
            Ingress::OpenAiChat => None,
            Ingress::AnthropicMessages => Some("system"),
        }
    }

    /// The field that holds the conversation.
    pub fn messages_field(self) -> &'static str {
        match self {
            Ingress::OpenAiChat | Ingress::AnthropicMessages => "messages",
        }
    }

    /// The fields that cap the output, in order of precedence.
    pub fn max_output_fields(self) -> &'static [&'static str] {
        match self {
            Ingress::OpenAiChat => &["max_completion_tokens", "max_tokens"],
            Ingress::AnthropicMessages => &["max_tokens"],
        }
    }

    /// What marks an image in the prompt's raw JSON (for `route_if: has_images`).
    pub fn image_marker(self) -> &'static str {
        match self {
            Ingress::OpenAiChat => "\"image_url\"",
            Ingress::AnthropicMessages => "\"image\"",
        }
    }

    /// The prefix of ids the gateway mints for responses that carry none.
    pub fn id_prefix(self) -> &'static str {
        match self {
            Ingress::OpenAiChat => "chatcmpl-",
            Ingress::AnthropicMessages => "msg_",
        }
    }
}

/// Writes canonical stream chunks in the client's format.
pub enum ClientEncoder {
    OpenAi(OpenAiStreamEncoder),
    Anthropic(Box<AnthropicStreamEncoder>),
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
            ClientEncoder::Passthrough(_) => {}
        }
    }

    pub fn finish(&mut self, out: &mut VecDeque<Bytes>) {
        match self {
            ClientEncoder::OpenAi(e) => out.push_back(e.finish()),
            ClientEncoder::Anthropic(e) => out.extend(e.finish()),
            ClientEncoder::Passthrough(_) => {}
        }
    }

    /// Ends a stream with an error event the client's SDK raises on.
    pub fn error(&mut self, api: &ApiError, out: &mut VecDeque<Bytes>) {
        let shape = match self {
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
