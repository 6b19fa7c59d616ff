//! The OpenAI Chat Completions provider adapter over the canonical model (used when
//! the client's format is not OpenAI's; same-format traffic takes the fast path).

use super::request_encode::encode_request;
use super::response::decode_response;
use super::stream::OpenAiStreamDecoder;
use crate::adapter::{
    AdapterError, ChatAdapter, StreamDecoder, Target, UpstreamRequest, WireFormat,
};
use crate::canonical::{ChatRequest, ChatResponse};
use crate::error::UpstreamError;
use bytes::Bytes;
use http::HeaderMap;

/// OpenAI and OpenAI-compatible upstreams.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAiAdapter {
    /// Send assistant thinking back as `reasoning_content` (DeepSeek-style hosts).
    /// OpenAI itself rejects the field, so this is off for the `openai` kind.
    pub reasoning_content: bool,
}

impl ChatAdapter for OpenAiAdapter {
    fn wire_format(&self) -> WireFormat {
        WireFormat::OpenAiChat
    }

    fn build_request(
        &self,
        request: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, AdapterError> {
        let body = encode_request(request, target.upstream_model, self.reasoning_content);
        Ok(super::chat_request(target, Bytes::from(body)))
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
    use crate::canonical::{ChatChunk, ContentPart, Message, Role};
    use crate::error::ErrorClass;
    use crate::sse::parse_event;
    use serde_json::Value;

    #[test]
    fn adapter_wires_the_codec() {
        let mut req = ChatRequest {
            model: "general".into(),
            messages: vec![
                Message::text(Role::User, "hi"),
                Message {
                    content: vec![
                        ContentPart::Thinking {
                            text: "t".into(),
                            signature: Some("s".into()),
                        },
                        ContentPart::Text {
                            text: "hello".into(),
                        },
                    ],
                    ..Message::text(Role::Assistant, "")
                },
            ],
            stream: true,
            ..ChatRequest::default()
        };
        req.messages.push(Message::text(Role::User, "again"));
        let target = Target {
            base_url: "https://api.deepseek.com/v1",
            api_key: Some("sk-x"),
            organization: None,
            upstream_model: "deepseek-reasoner",
        };
        for (flag, thinking) in [(false, None), (true, Some("t"))] {
            let a = OpenAiAdapter {
                reasoning_content: flag,
            };
            assert_eq!(a.wire_format(), WireFormat::OpenAiChat);
            let up = a.build_request(&req, &target).unwrap();
            assert_eq!(up.url, "https://api.deepseek.com/v1/chat/completions");
            assert_eq!(up.headers["authorization"], "Bearer sk-x");
            let body: Value = serde_json::from_slice(&up.body).unwrap();
            assert_eq!(body["model"], "deepseek-reasoner");
            assert_eq!(body["stream_options"]["include_usage"], true);
            assert_eq!(body["messages"][1]["content"], "hello");
            assert_eq!(body["messages"][1]["reasoning_content"].as_str(), thinking);
        }

        let a = OpenAiAdapter::default();
        let r = a
            .parse_response(br#"{"id":"x","choices":[{"index":0,"message":{"content":"ok"},"finish_reason":"length"}]}"#)
            .unwrap();
        assert_eq!(r.choices[0].message.joined_text(), "ok");
        let mut d = a.stream_decoder();
        let ev = parse_event(
            b"data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
        );
        let out = d.on_event(StreamEvent::Sse(&ev)).unwrap();
        assert!(matches!(
            out.as_slice(),
            [ChatChunk::Start { .. }, ChatChunk::Text { .. }]
        ));
        let e = a.classify_error(
            429,
            &HeaderMap::new(),
            br#"{"error":{"message":"slow down","code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!((e.class, e.status), (ErrorClass::RateLimit, Some(429)));
    }
}
