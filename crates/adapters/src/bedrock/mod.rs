//! AWS Bedrock: the Converse and ConverseStream APIs (`bedrock` provider kind).
//!
//! Requests go to `{base}/model/{model id}/converse` (or `/converse-stream`), where base
//! is [`default_base_url`] for the deployment's region unless configured, and the model
//! id (a model id such as `anthropic.claude-sonnet-4-20250514-v1:0`, an inference
//! profile `us.amazon.nova-micro-v1:0` or an ARN) is percent-encoded as one path
//! segment: `:` → `%3A`, `/` → `%2F`, exactly as the AWS SDKs write it.
//!
//! **Authentication is not the adapter's**: [`UpstreamRequest`] carries only
//! `content-type` (and `accept: application/vnd.amazon.eventstream` for streams), and
//! `Target::api_key` is ignored. The gateway signs the finished request with SigV4
//! (service `bedrock`, the deployment's region), over the URL exactly as built here;
//! like the AWS SDKs, its signer must encode the path once more for the canonical
//! request (`%3A` → `%253A`), which is the default of SigV4 for every service but S3.
//!
//! Non-streamed answers are JSON ([`response`]). Streamed answers are not SSE but the
//! binary event stream: the gateway feeds body chunks to a
//! [`eventstream::FrameDecoder`] and each decoded [`eventstream::Frame`] (through
//! [`eventstream::Frame::as_stream_event`]) to the decoder from
//! [`ChatAdapter::stream_decoder`]. A body that ends with
//! [`eventstream::FrameDecoder::has_partial`] was cut off.
//!
//! What is mapped and what refused is documented in [`request`].

pub mod errors;
pub mod eventstream;
pub mod request;
pub mod response;
pub mod stream;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod request_tests;

pub use eventstream::{encode_frame, Frame, FrameDecoder, FrameError};
pub use request::{encode_request, JSON_TOOL};
pub use response::decode_response;
pub use stream::BedrockStreamDecoder;

use crate::adapter::{
    AdapterError, ChatAdapter, StreamDecoder, Target, UpstreamRequest, WireFormat,
};
use crate::canonical::{ChatRequest, ChatResponse};
use crate::error::UpstreamError;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue};

/// The Bedrock Runtime endpoint of an AWS region.
pub fn default_base_url(region: &str) -> String {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}

/// `s` percent-encoded as one URL path segment: everything but RFC 3986's unreserved
/// characters is escaped, as SigV4 expects.
pub fn encode_path_segment(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// The Converse (or ConverseStream) URL of `model_id` under `base`.
pub fn converse_url(base: &str, model_id: &str, stream: bool) -> String {
    format!(
        "{}/model/{}/{}",
        base.trim_end_matches('/'),
        encode_path_segment(model_id),
        if stream {
            "converse-stream"
        } else {
            "converse"
        }
    )
}

/// Bedrock's Converse API.
#[derive(Debug, Clone, Copy, Default)]
pub struct BedrockAdapter;

impl BedrockAdapter {
    pub fn new() -> Self {
        BedrockAdapter
    }
}

impl ChatAdapter for BedrockAdapter {
    fn wire_format(&self) -> WireFormat {
        WireFormat::BedrockConverse
    }

    fn build_request(
        &self,
        request: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, AdapterError> {
        let body = encode_request(request, target.upstream_model)?;
        let mut headers = HeaderMap::with_capacity(2);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if request.stream {
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_static("application/vnd.amazon.eventstream"),
            );
        }
        Ok(UpstreamRequest {
            url: converse_url(target.base_url, target.upstream_model, request.stream),
            headers,
            body: Bytes::from(body),
        })
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, AdapterError> {
        decode_response(body)
    }

    fn stream_decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(BedrockStreamDecoder::new())
    }

    fn classify_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> UpstreamError {
        errors::classify(status, headers, body)
    }
}
