//! Anthropic Messages API (`POST /v1/messages`): the `anthropic` provider kind.
//!
//! What the gateway does around [`AnthropicAdapter`]:
//! - `Target.base_url` is the API root as Anthropic's SDKs take it ([`DEFAULT_BASE_URL`],
//!   no `/v1`); the adapter appends `v1/messages`.
//! - `Target.api_key` is the raw Anthropic key; it goes in `x-api-key` (no `Bearer`).
//!   `Target.organization` is not used (Anthropic has no such header).
//! - The upstream answers JSON, or SSE with `event:` names when `stream` is set; feed
//!   each SSE event to the decoder from [`ChatAdapter::stream_decoder`]. The stream
//!   ends with `message_stop` (no `[DONE]`); an `error` event ends it early.
//!
//! The translation, in short (details in each module):
//! - [`request`]: system and developer messages become `system`; turns are merged so
//!   roles alternate; tool results become `tool_result` blocks; `reasoning_effort`
//!   becomes a thinking budget; `response_format` becomes a forced tool named
//!   [`JSON_TOOL_NAME`], whose input comes back to the client as plain JSON text.
//! - [`response`] and [`stream`]: content blocks and stop reasons to the canonical
//!   model, usage with cache reads and writes folded into `prompt_tokens`.
//! - [`ingress`] and [`ingress_stream`]: the other direction, for clients of
//!   `POST /v1/messages` served by any provider.
//! - [`errors`]: Anthropic's `{"type":"error","error":{type,message}}` to an
//!   [`crate::ErrorClass`].

pub mod errors;
pub mod ingress;
pub mod ingress_stream;
pub mod request;
pub mod response;
pub mod stream;
mod wire;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod ingress_tests;
#[cfg(test)]
mod request_tests;
#[cfg(test)]
mod stream_props;

pub use ingress::{decode_messages_request, effort_for_budget, encode_messages_response};
pub use ingress_stream::AnthropicStreamEncoder;
pub use request::{encode_request, thinking_budget};
pub use response::decode_response;
pub use stream::AnthropicStreamDecoder;

use crate::adapter::{
    AdapterError, ChatAdapter, StreamDecoder, Target, UpstreamRequest, WireFormat,
};
use crate::canonical::{ChatRequest, ChatResponse};
use crate::error::UpstreamError;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue};

/// Anthropic's API root, as its SDKs default to it.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The `anthropic-version` sent unless the deployment names another. It is the one
/// current version of the Messages API; newer features are opt-in beta headers.
pub const DEFAULT_VERSION: &str = "2023-06-01";

/// The output cap sent when the client gave none: Anthropic requires `max_tokens`,
/// and 4096 is within the output limit of every current Claude model.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The tool through which `response_format` is honoured. The name is reserved: a
/// client tool may not use it, so the response and stream decoders (which know
/// nothing of the request) can recognise it and turn its input back into text.
pub const JSON_TOOL_NAME: &str = "json_response";

/// The Anthropic Messages API adapter.
#[derive(Debug, Clone)]
pub struct AnthropicAdapter {
    version: HeaderValue,
}

impl Default for AnthropicAdapter {
    fn default() -> Self {
        AnthropicAdapter::new(None)
    }
}

impl AnthropicAdapter {
    /// `anthropic_version` is the `anthropic-version` header ([`DEFAULT_VERSION`] when
    /// `None`). A value that cannot be a header value falls back to the default, since
    /// a request without a valid version header is refused by Anthropic anyway.
    pub fn new(anthropic_version: Option<&str>) -> Self {
        let version = anthropic_version
            .and_then(|v| HeaderValue::from_str(v.trim()).ok())
            .unwrap_or(HeaderValue::from_static(DEFAULT_VERSION));
        AnthropicAdapter { version }
    }
}

impl ChatAdapter for AnthropicAdapter {
    fn wire_format(&self) -> WireFormat {
        WireFormat::AnthropicMessages
    }

    fn build_request(
        &self,
        request: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, AdapterError> {
        let body = encode_request(request, target.upstream_model)?;
        let mut headers = HeaderMap::with_capacity(3);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(key) = target.api_key {
            if let Ok(v) = HeaderValue::from_str(key) {
                headers.insert("x-api-key", v);
            }
        }
        headers.insert("anthropic-version", self.version.clone());
        Ok(UpstreamRequest {
            url: crate::openai::join_url(target.base_url, "v1/messages"),
            headers,
            body: Bytes::from(body),
        })
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, AdapterError> {
        decode_response(body)
    }

    fn stream_decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(AnthropicStreamDecoder::new())
    }

    fn classify_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> UpstreamError {
        errors::classify(status, headers, body)
    }

    fn native_request(
        &self,
        path: &str,
        body: Bytes,
        target: &Target<'_>,
        forward: &HeaderMap,
    ) -> Option<UpstreamRequest> {
        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(key) = target.api_key {
            if let Ok(v) = HeaderValue::from_str(key) {
                headers.insert("x-api-key", v);
            }
        }
        // The deployment's version, not the client's: the gateway speaks for the account.
        headers.insert("anthropic-version", self.version.clone());
        for beta in forward.get_all("anthropic-beta") {
            headers.append("anthropic-beta", beta.clone());
        }
        Some(UpstreamRequest {
            url: crate::openai::join_url(target.base_url, path),
            headers,
            body,
        })
    }
}

/// Seconds since the epoch: Anthropic's messages carry no creation time.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::canonical::{Message, Role};
    use serde_json::Value;

    #[test]
    fn builds_the_upstream_request() {
        let req = ChatRequest {
            model: "general".into(),
            messages: vec![Message::text(Role::User, "hi")],
            ..ChatRequest::default()
        };
        let target = Target {
            base_url: "https://api.anthropic.com/",
            api_key: Some("sk-ant-x"),
            organization: Some("ignored"),
            upstream_model: "claude-sonnet-4-5",
        };
        let a = AnthropicAdapter::new(None);
        assert_eq!(a.wire_format(), WireFormat::AnthropicMessages);
        let up = a.build_request(&req, &target).unwrap();
        assert_eq!(up.url, "https://api.anthropic.com/v1/messages");
        assert_eq!(up.headers["x-api-key"], "sk-ant-x");
        assert_eq!(up.headers["anthropic-version"], "2023-06-01");
        assert_eq!(up.headers["content-type"], "application/json");
        assert!(up.headers.get("authorization").is_none());
        assert_eq!(up.headers.len(), 3);
        let body: Value = serde_json::from_slice(&up.body).unwrap();
        assert_eq!(body["model"], "claude-sonnet-4-5");
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);

        let a = AnthropicAdapter::new(Some("2024-01-01"));
        let t = Target {
            api_key: None,
            base_url: "http://proxy:8080/anthropic",
            ..target
        };
        let up = a.build_request(&req, &t).unwrap();
        assert_eq!(up.url, "http://proxy:8080/anthropic/v1/messages");
        assert_eq!(up.headers["anthropic-version"], "2024-01-01");
        assert!(up.headers.get("x-api-key").is_none());
        assert_eq!(
            AnthropicAdapter::new(Some("bad\nvalue")).version,
            DEFAULT_VERSION
        );
        assert_eq!(AnthropicAdapter::default().version, DEFAULT_VERSION);
    }
}
