//! Azure OpenAI: the OpenAI Chat Completions format on Azure's deployment paths.
//!
//! The body is OpenAI's (so chat takes the fast path); what differs is the URL
//! (`/openai/deployments/{deployment}/chat/completions?api-version=…`, the deployment
//! name standing for the model) and the credential (`api-key`, or an Entra ID bearer
//! token). Azure's streams begin with a chunk that has no choices (only
//! `prompt_filter_results`); the OpenAI stream decoder already starts nothing on it,
//! and the fast path relay drops it (see the gateway's relay).

use super::request_encode::encode_request;
use super::response::decode_response;
use super::stream::OpenAiStreamDecoder;
use crate::adapter::{
    AdapterError, ChatAdapter, StreamDecoder, Target, UpstreamRequest, WireFormat,
};
use crate::canonical::{ChatRequest, ChatResponse};
use crate::error::UpstreamError;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue};

/// The GA `api-version` used when the provider sets none.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// How the gateway proves itself to Azure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzureAuth {
    /// `api-key: KEY` (the account's keys).
    ApiKey,
    /// `Authorization: Bearer TOKEN` (Microsoft Entra ID).
    Bearer,
}

/// Builds an Azure chat request for a body already in OpenAI format. `target.api_key`
/// holds the key or the Entra token, as `auth` says.
pub fn chat_request(
    target: &Target<'_>,
    api_version: &str,
    auth: AzureAuth,
    body: Bytes,
) -> UpstreamRequest {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(key) = target.api_key {
        let (name, value) = match auth {
            AzureAuth::ApiKey => (header::HeaderName::from_static("api-key"), key.to_string()),
            AzureAuth::Bearer => (header::AUTHORIZATION, format!("Bearer {key}")),
        };
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    let path = format!(
        "openai/deployments/{}/chat/completions?api-version={}",
        encode_segment(target.upstream_model),
        encode_segment(api_version)
    );
    UpstreamRequest {
        url: super::join_url(target.base_url, &path),
        headers,
        body,
    }
}

/// Percent-encodes what could break out of one path segment or query value.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Azure OpenAI over the canonical model (for ingress formats other than Chat Completions).
#[derive(Debug, Clone)]
pub struct AzureAdapter {
    pub api_version: String,
    pub auth: AzureAuth,
}

impl ChatAdapter for AzureAdapter {
    fn wire_format(&self) -> WireFormat {
        WireFormat::OpenAiChat
    }

    fn build_request(
        &self,
        request: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, AdapterError> {
        let body = encode_request(request, target.upstream_model, false);
        Ok(chat_request(
            target,
            &self.api_version,
            self.auth,
            Bytes::from(body),
        ))
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, AdapterError> {
        decode_response(body)
    }

    fn stream_decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(OpenAiStreamDecoder::new())
    }

    fn classify_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> UpstreamError {
        super::errors::classify(status, headers, body)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::adapter::StreamEvent;
    use crate::canonical::{ChatChunk, FinishReason};
    use crate::error::ErrorClass;
    use crate::sse::parse_event;
    use crate::test_support::fixture;
    use serde_json::Value;

    fn target<'a>(key: Option<&'a str>) -> Target<'a> {
        Target {
            base_url: "https://res.openai.azure.com/",
            api_key: key,
            organization: None,
            upstream_model: "gpt-4o prod",
        }
    }

    #[test]
    fn deployment_path_api_version_and_credentials() {
        let r = chat_request(
            &target(Some("k1")),
            DEFAULT_API_VERSION,
            AzureAuth::ApiKey,
            Bytes::new(),
        );
        assert_eq!(
            r.url,
            "https://res.openai.azure.com/openai/deployments/gpt-4o%20prod/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(r.headers["api-key"], "k1");
        assert!(r.headers.get("authorization").is_none());
        let r = chat_request(
            &target(Some("tok")),
            "2025-04-01-preview",
            AzureAuth::Bearer,
            Bytes::new(),
        );
        assert!(r.url.ends_with("?api-version=2025-04-01-preview"));
        assert_eq!(r.headers["authorization"], "Bearer tok");
        assert!(r.headers.get("api-key").is_none());
    }

    /// The recorded Azure stream: the empty first chunk starts nothing, the content
    /// arrives, and the filter annotations do not disturb decoding.
    #[test]
    fn recorded_stream_with_content_filter_results() {
        let raw = fixture("azure/vercel_azure_chat_stream_content_filter.chunks.jsonl");
        let mut dec = OpenAiStreamDecoder::new();
        let mut chunks = Vec::new();
        for line in raw.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let mut event = b"data: ".to_vec();
            event.extend_from_slice(line);
            event.extend_from_slice(b"\n\n");
            chunks.extend(
                dec.on_event(StreamEvent::Sse(&parse_event(&event)))
                    .unwrap(),
            );
        }
        assert!(matches!(chunks[0], ChatChunk::Start { .. }), "{chunks:?}");
        assert_eq!(
            chunks
                .iter()
                .filter(|c| matches!(c, ChatChunk::Start { .. }))
                .count(),
            1
        );
        let text: String = chunks
            .iter()
            .filter_map(|c| match c {
                ChatChunk::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(!text.is_empty());
        assert!(chunks.iter().any(|c| matches!(
            c,
            ChatChunk::Finish {
                reason: FinishReason::Stop,
                ..
            }
        )));
    }

    #[test]
    fn recorded_nonstream_and_content_filter_error() {
        let doc: Value = serde_yaml_ng::from_slice(&fixture(
            "azure/pydanticai_azure_chat_nonstream_content_filter_results.yaml",
        ))
        .unwrap();
        let interaction = &doc["interactions"][0];
        assert!(interaction["request"]["uri"]
            .as_str()
            .unwrap()
            .contains("/openai/deployments/gpt-4o/chat/completions?api-version="));
        let body = serde_json::to_vec(&interaction["response"]["parsed_body"]).unwrap();
        let adapter = AzureAdapter {
            api_version: DEFAULT_API_VERSION.into(),
            auth: AzureAuth::ApiKey,
        };
        let resp = adapter.parse_response(&body).unwrap();
        assert_eq!(resp.choices.len(), 1);
        assert!(resp.usage.prompt_tokens > 0);

        let filtered = br#"{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400}}"#;
        let e = adapter.classify_error(400, &HeaderMap::new(), filtered);
        assert_eq!(e.class, ErrorClass::ContentPolicy);
    }
}
