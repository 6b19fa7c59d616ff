//! The adapter seam: what the gateway asks of a provider's wire format.
//!
//! Adapters are pure: building a request, parsing a response, decoding one stream
//! event and classifying an error do no I/O, so each provider is tested
//! table-driven from recorded payloads. Transport (HTTP, signing, retries) is the
//! gateway's.

use crate::canonical::{ChatChunk, ChatRequest, ChatResponse};
use crate::error::UpstreamError;
use bytes::Bytes;
use http::HeaderMap;

/// Where and as whom one upstream attempt is made.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The provider's base URL, as its SDK calls it.
    pub base_url: &'a str,
    pub api_key: Option<&'a str>,
    pub organization: Option<&'a str>,
    /// The deployment's upstream model id.
    pub upstream_model: &'a str,
}

/// A request ready for the transport (which may still sign it).
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The wire format a provider speaks; same-format traffic takes the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    OpenAiChat,
    AnthropicMessages,
    Gemini,
    BedrockConverse,
}

/// Why an adapter could not build or read a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The request uses something this provider cannot do; `param` names it.
    #[error("{message}")]
    Unsupported { param: String, message: String },
    /// The provider's answer could not be understood.
    #[error("could not read the provider's response: {0}")]
    BadResponse(String),
}

/// One framed unit of an upstream stream.
#[derive(Debug)]
pub enum StreamEvent<'a> {
    /// A server-sent event.
    Sse(&'a crate::sse::SseEvent<'a>),
    /// A binary frame (AWS event stream) with its `:event-type` and payload.
    Frame {
        event_type: &'a str,
        payload: &'a [u8],
    },
}

/// A provider's chat translation, canonical ⇄ wire.
pub trait ChatAdapter: Send + Sync {
    fn wire_format(&self) -> WireFormat;
    fn build_request(
        &self,
        request: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, AdapterError>;
    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, AdapterError>;
    fn stream_decoder(&self) -> Box<dyn StreamDecoder>;
    fn classify_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> UpstreamError;
    /// A request in this provider's own wire format, as the client wrote it: the client
    /// speaks the provider's API, so nothing is translated (thinking blocks,
    /// `cache_control` and signatures stay intact). `path` is the API path under the base
    /// URL (`v1/messages`, `v1/messages/count_tokens`); `forward` holds the client's
    /// headers of the provider's own that should reach it (e.g. `anthropic-beta`).
    /// `None` when the provider has no such ingress.
    fn native_request(
        &self,
        _path: &str,
        _body: Bytes,
        _target: &Target<'_>,
        _forward: &HeaderMap,
    ) -> Option<UpstreamRequest> {
        None
    }
}

/// A stream translation as a state machine: the async wrapper only feeds it events.
pub trait StreamDecoder: Send {
    /// Decodes one upstream event into zero or more canonical chunks; an in-stream
    /// error event becomes `Err`.
    fn on_event(&mut self, event: StreamEvent<'_>) -> Result<Vec<ChatChunk>, UpstreamError>;
    /// Whether the provider signalled the end of the stream.
    fn is_done(&self) -> bool;
}
