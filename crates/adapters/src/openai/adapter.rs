//! The OpenAI Chat Completions provider adapter over the canonical model (used when
//! the client's format is not OpenAI's; same-format traffic takes the fast path).

use super::presets::Quirks;
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
    /// The host's deviations from OpenAI (renamed and rejected fields, no
    /// `stream_options`), applied to the encoded body as on the fast path.
    pub quirks: Option<(Quirks, &'static str)>,
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
        let body = match &self.quirks {
            Some((quirks, provider)) if *quirks != Quirks::NONE => {
                let peek = super::fastpath::peek(&body).map_err(|e| {
                    AdapterError::BadResponse(format!(
                        "re-reading the encoded request: {}",
                        e.message
                    ))
                })?;
                if !request.drop_params {
                    peek.check(quirks, provider)
                        .map_err(|e| AdapterError::Unsupported {
                            param: e.param.unwrap_or_default(),
                            message: e.message,
                        })?;
                }
                peek.upstream_body_with(target.upstream_model, quirks)
            }
            _ => body,
        };
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
                quirks: None,
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

    /// A host's quirks hold on the canonical path too: Mistral gets `random_seed`,
    /// `max_tokens` and no `stream_options`; a field it rejects is refused by name.
    #[test]
    fn quirks_apply_to_encoded_requests() {
        let mistral = super::super::presets::preset("mistral").unwrap();
        let a = OpenAiAdapter {
            reasoning_content: false,
            quirks: Some((mistral.quirks, mistral.display)),
        };
        let target = Target {
            base_url: "https://api.mistral.ai/v1",
            api_key: Some("k"),
            organization: None,
            upstream_model: "mistral-large-latest",
        };
        let mut req = ChatRequest {
            model: "m".into(),
            messages: vec![Message::text(Role::User, "hi")],
            seed: Some(7),
            max_tokens: Some(9),
            stream: true,
            ..ChatRequest::default()
        };
        let body: Value =
            serde_json::from_slice(&a.build_request(&req, &target).unwrap().body).unwrap();
        assert_eq!(body["random_seed"], 7);
        assert_eq!(body["max_tokens"], 9);
        assert!(body.get("seed").is_none() && body.get("stream_options").is_none());
        assert!(body.get("max_completion_tokens").is_none());

        req.extra
            .insert("logit_bias".into(), serde_json::json!({"1": 1}));
        match a.build_request(&req, &target) {
            Err(AdapterError::Unsupported { param, .. }) => assert_eq!(param, "logit_bias"),
            other => panic!("{other:?}"),
        }
        req.drop_params = true;
        let body: Value =
            serde_json::from_slice(&a.build_request(&req, &target).unwrap().body).unwrap();
        assert!(body.get("logit_bias").is_none());
    }
}
