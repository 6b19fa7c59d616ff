//! Provider decode, non-streamed: a `GenerateContentResponse` → canonical.
//!
//! Each candidate is a choice (its `index`). In a candidate's parts: a thought part
//! → `Thinking{text, signature}`; text parts → one `Text` (joined); a text part's
//! `thoughtSignature` → a `Thinking{text: "", signature}` part, so that it survives
//! the canonical model (an Anthropic-format client can send it back; the encoder
//! puts it back on a text part); a `functionCall` → a tool call whose id carries its
//! signature ([`super::ids`]). Images, executable code and other parts have no
//! place in an OpenAI message and are left out.
//!
//! A prompt blocked outright (`promptFeedback.blockReason`, no candidates) is one
//! empty choice with `content_filter`. `id` is `responseId`, `model` is
//! `modelVersion`, `created` is Vertex's `createTime` (0 on AI Studio, which gives
//! no time: the gateway fills it in).

use super::ids::{encode_call_id, generated_call_id};
use super::wire::{finish_reason, read_response, unix_seconds, NotAResponse, WireCandidate};
use crate::adapter::AdapterError;
use crate::canonical::{
    ChatResponse, Choice, ContentPart, FinishReason, Message, Role, ToolCall, Usage,
};

/// Decodes a non-streamed `generateContent` response body.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, AdapterError> {
    let wire = match read_response(body) {
        Ok(w) => w,
        Err(NotAResponse::Error) => return Err(error_response(body)),
        Err(NotAResponse::Invalid(e)) => {
            return Err(AdapterError::BadResponse(format!(
                "invalid generateContent JSON: {e}"
            )))
        }
    };
    let response_id = wire.response_id.unwrap_or_default();
    let mut next_call = 0u32;
    let mut choices: Vec<Choice> = wire
        .candidates
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(pos, c)| decode_candidate(pos, c, &response_id, &mut next_call))
        .collect();
    if choices.is_empty() {
        // No candidate at all: the prompt was blocked (or, rarely, nothing came back).
        let block = wire.prompt_feedback.and_then(|f| f.block_reason);
        let (finish_reason, raw_reason) = match block {
            Some(b) => (FinishReason::ContentFilter, Some(b)),
            None => (FinishReason::Stop, None),
        };
        choices.push(Choice {
            index: 0,
            message: assistant(Vec::new(), Vec::new()),
            finish_reason: Some(finish_reason),
            raw_reason,
        });
    }
    Ok(ChatResponse {
        id: response_id,
        model: wire.model_version.unwrap_or_default(),
        created: wire
            .create_time
            .as_deref()
            .and_then(unix_seconds)
            .unwrap_or(0),
        choices,
        usage: wire
            .usage_metadata
            .map(|u| u.to_usage())
            .unwrap_or(Usage::default()),
        system_fingerprint: None,
    })
}

fn error_response(body: &[u8]) -> AdapterError {
    let e = super::errors::classify(200, &http::HeaderMap::new(), body);
    AdapterError::BadResponse(format!(
        "the provider answered with an error: {}",
        e.message
    ))
}

fn assistant(content: Vec<ContentPart>, tool_calls: Vec<ToolCall>) -> Message {
    Message {
        role: Role::Assistant,
        content,
        name: None,
        tool_calls,
        tool_call_id: None,
        extra: serde_json::Map::new(),
    }
}

fn decode_candidate(
    pos: usize,
    c: WireCandidate,
    response_id: &str,
    next_call: &mut u32,
) -> Choice {
    let mut content = Vec::new();
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    let parts = c.content.and_then(|c| c.parts).unwrap_or_default();
    for p in parts {
        if let Some(f) = p.function_call {
            let base = match f.id.filter(|id| !id.is_empty()) {
                Some(id) => id,
                None => generated_call_id(response_id, *next_call),
            };
            *next_call += 1;
            let arguments = match f.args {
                Some(v @ serde_json::Value::Object(_)) => v.to_string(),
                _ => "{}".to_string(),
            };
            tool_calls.push(ToolCall {
                id: encode_call_id(&base, p.thought_signature.as_deref()),
                name: f.name.unwrap_or_default(),
                arguments,
            });
            continue;
        }
        let Some(t) = p.text else {
            continue;
        };
        if p.thought == Some(true) {
            content.push(ContentPart::Thinking {
                text: t,
                signature: p.thought_signature,
            });
            continue;
        }
        if let Some(sig) = p.thought_signature.filter(|s| !s.is_empty()) {
            content.push(ContentPart::Thinking {
                text: String::new(),
                signature: Some(sig),
            });
        }
        text.push_str(&t);
    }
    if !text.is_empty() {
        content.push(ContentPart::Text { text });
    }
    let (finish_reason, raw_reason) = match c.finish_reason.as_deref() {
        Some(raw) => {
            let (reason, raw) = finish_reason(raw, !tool_calls.is_empty());
            (Some(reason), raw)
        }
        None => (None, None),
    };
    Choice {
        index: c
            .index
            .unwrap_or_else(|| u32::try_from(pos).unwrap_or(u32::MAX)),
        message: assistant(content, tool_calls),
        finish_reason,
        raw_reason,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: serde_json::Value) -> Result<ChatResponse, AdapterError> {
        decode_response(&serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn thoughts_text_and_calls_in_order() {
        let r = decode(json!({
            "responseId": "r",
            "candidates": [
                {"content": {"role": "model", "parts": [
                    {"text": "think", "thought": true, "thoughtSignature": "c2ln"},
                    {"text": "Hello, "},
                    {"text": "world", "thoughtSignature": "dGV4dA=="},
                    {"functionCall": {"name": "f", "args": {"a": [1]}}, "thoughtSignature": "Y2FsbA=="},
                    {"functionCall": {"id": "own", "name": "g"}},
                    {"inlineData": {"mimeType": "image/png", "data": "AA=="}}
                ]}, "finishReason": "STOP"},
                {"index": 1, "content": {"parts": [{"text": "second"}]}, "finishReason": "SAFETY"}
            ]
        }))
        .unwrap();
        let c = &r.choices[0];
        assert_eq!(
            c.message.content,
            vec![
                ContentPart::Thinking {
                    text: "think".into(),
                    signature: Some("c2ln".into())
                },
                ContentPart::Thinking {
                    text: String::new(),
                    signature: Some("dGV4dA==".into())
                },
                ContentPart::Text {
                    text: "Hello, world".into()
                },
            ]
        );
        assert_eq!(
            c.message.tool_calls,
            vec![
                ToolCall {
                    id: "call_r_0__thought__Y2FsbA".into(),
                    name: "f".into(),
                    arguments: r#"{"a":[1]}"#.into()
                },
                ToolCall {
                    id: "own".into(),
                    name: "g".into(),
                    arguments: "{}".into()
                },
            ]
        );
        assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
        let c = &r.choices[1];
        assert_eq!(c.index, 1);
        assert_eq!(c.message.joined_text(), "second");
        assert_eq!(
            (c.finish_reason, c.raw_reason.as_deref()),
            (Some(FinishReason::ContentFilter), Some("SAFETY"))
        );
        assert_eq!(r.usage, Usage::default());
    }

    #[test]
    fn blocked_prompt_and_empty_answers() {
        let r = decode(json!({"promptFeedback": {"blockReason": "SAFETY"},
                              "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4}}))
        .unwrap();
        assert_eq!(r.choices.len(), 1);
        assert!(r.choices[0].message.content.is_empty());
        assert_eq!(
            (
                r.choices[0].finish_reason,
                r.choices[0].raw_reason.as_deref()
            ),
            (Some(FinishReason::ContentFilter), Some("SAFETY"))
        );
        assert_eq!(r.usage.prompt_tokens, 4);
        let r = decode(json!({"modelVersion": "m"})).unwrap();
        assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
        assert_eq!((r.id.as_str(), r.model.as_str(), r.created), ("", "m", 0));
    }

    #[test]
    fn errors_and_garbage_are_bad_responses() {
        for body in [
            br#"{"error":{"code":500,"message":"boom","status":"INTERNAL"}}"#.as_slice(),
            br#"[{"error":{"code":500,"message":"boom","status":"INTERNAL"}}]"#,
        ] {
            match decode_response(body).unwrap_err() {
                AdapterError::BadResponse(m) => assert!(m.contains("boom"), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        for body in [b"{nope".as_slice(), b"[]", b"", br#"{"candidates": 3}"#] {
            assert!(matches!(
                decode_response(body),
                Err(AdapterError::BadResponse(_))
            ));
        }
    }
}
