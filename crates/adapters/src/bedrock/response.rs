//! Provider decode, non-streamed: a Converse response body → canonical response. Also
//! what the stream decoder shares with it: usage, stop reasons, compact JSON.

use super::request::JSON_TOOL;
use crate::adapter::AdapterError;
use crate::canonical::{
    ChatResponse, Choice, ContentPart, FinishReason, Message, Role, ToolCall, Usage,
};
use serde::Deserialize;
use serde_json::value::RawValue;

/// `TokenUsage`. `inputTokens` counts only the input that was neither read from nor
/// written to the prompt cache: the cache counts are reported beside it, not inside
/// (so Bedrock's `totalTokens` is input + cache read + cache write + output). The API
/// reference does not say so in words; this is what prompt-caching responses show and
/// what the maintained Converse clients settled on (opencode's "normalize Bedrock cache
/// usage" fix, Apache APISIX's Bedrock cache-token fix).
#[derive(Deserialize, Default, Debug, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_write_input_tokens: Option<u64>,
    /// Older spellings some responses still carry beside the current ones.
    #[serde(default)]
    cache_read_input_token_count: Option<u64>,
    #[serde(default)]
    cache_write_input_token_count: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Usage {
        let cached = u
            .cache_read_input_tokens
            .or(u.cache_read_input_token_count)
            .unwrap_or(0);
        let cache_write = u
            .cache_write_input_tokens
            .or(u.cache_write_input_token_count)
            .unwrap_or(0);
        let prompt = u
            .input_tokens
            .saturating_add(cached)
            .saturating_add(cache_write);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: u.output_tokens,
            total_tokens: u.total_tokens.max(prompt.saturating_add(u.output_tokens)),
            cached_tokens: cached,
            cache_write_tokens: cache_write,
            // Bedrock does not report reasoning apart from the output.
            reasoning_tokens: 0,
        }
    }
}

/// A `stopReason` in OpenAI's vocabulary. `tool_use` is a tool-calls finish only when
/// the client's tools were called: the forced `json_response` tool is the answer.
pub(crate) fn finish_reason(stop: &str, client_tool_calls: bool) -> (FinishReason, Option<String>) {
    let reason = match stop {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" if client_tool_calls => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        // end_turn, stop_sequence, a tool_use that only answered through the JSON
        // tool, malformed_model_output / malformed_tool_use (the raw reason says so).
        _ => FinishReason::Stop,
    };
    (reason, reason.raw_reason(stop))
}

/// JSON text without the whitespace between tokens (strings untouched), so tool
/// arguments read as OpenAI writes them, with the model's key order kept.
pub(crate) fn compact_json(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in raw.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireResponse {
    #[serde(default)]
    output: Option<WireOutput>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireOutput {
    #[serde(default)]
    message: Option<WireMessage>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Vec<WireBlock>,
}

/// A `ContentBlock` union member; blocks of other kinds (images, server tool results,
/// guard content) carry nothing for a chat completion.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireBlock {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_use: Option<WireToolUse>,
    #[serde(default)]
    reasoning_content: Option<WireReasoning>,
    #[serde(default)]
    citations_content: Option<WireCitations>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireToolUse {
    #[serde(default)]
    tool_use_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    input: Option<Box<RawValue>>,
    /// `server_tool_use`: a tool Bedrock ran itself, not one for the client.
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireReasoning {
    #[serde(default)]
    reasoning_text: Option<WireReasoningText>,
    /// Base64, as the canonical `RedactedThinking` keeps it.
    #[serde(default)]
    redacted_content: Option<String>,
}

#[derive(Deserialize)]
struct WireReasoningText {
    #[serde(default)]
    text: String,
    #[serde(default)]
    signature: Option<String>,
}

#[derive(Deserialize)]
struct WireCitations {
    #[serde(default)]
    content: Vec<WireCitedText>,
}

#[derive(Deserialize)]
struct WireCitedText {
    #[serde(default)]
    text: Option<String>,
}

fn input_json(input: Option<&RawValue>) -> String {
    match input {
        Some(raw) => compact_json(raw.get()),
        None => "{}".to_string(),
    }
}

/// Decodes a Converse response body. Bedrock gives no id, model or creation time:
/// they are empty / 0 here and the gateway fills them.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, AdapterError> {
    let wire: WireResponse = serde_json::from_slice(body)
        .map_err(|e| AdapterError::BadResponse(format!("invalid Converse response JSON: {e}")))?;
    let message = wire.output.and_then(|o| o.message).ok_or_else(|| {
        AdapterError::BadResponse("the Converse response has no output.message".into())
    })?;

    let mut content = Vec::new();
    let mut tool_calls = Vec::new();
    for block in message.content {
        if let Some(text) = block.text.filter(|t| !t.is_empty()) {
            content.push(ContentPart::Text { text });
        }
        if let Some(r) = block.reasoning_content {
            if let Some(t) = r.reasoning_text {
                content.push(ContentPart::Thinking {
                    text: t.text,
                    signature: t.signature.filter(|s| !s.is_empty()),
                });
            }
            if let Some(data) = r.redacted_content {
                content.push(ContentPart::RedactedThinking { data });
            }
        }
        if let Some(c) = block.citations_content {
            let text: String = c.content.into_iter().filter_map(|t| t.text).collect();
            if !text.is_empty() {
                content.push(ContentPart::Text { text });
            }
        }
        if let Some(t) = block.tool_use {
            if t.kind.as_deref() == Some("server_tool_use") {
                continue;
            }
            let arguments = input_json(t.input.as_deref());
            if t.name == JSON_TOOL {
                // The forced tool that carries `response_format`: its input is the answer.
                content.push(ContentPart::Text { text: arguments });
            } else {
                tool_calls.push(ToolCall {
                    id: t.tool_use_id,
                    name: t.name,
                    arguments,
                });
            }
        }
    }
    let (finish_reason, raw_reason) = match wire.stop_reason.as_deref() {
        Some(stop) => {
            let (r, raw) = finish_reason(stop, !tool_calls.is_empty());
            (Some(r), raw)
        }
        None => (None, None),
    };
    Ok(ChatResponse {
        id: String::new(),
        model: String::new(),
        created: 0,
        choices: vec![Choice {
            index: 0,
            message: Message {
                role: Role::Assistant,
                content,
                name: None,
                tool_calls,
                tool_call_id: None,
                extra: serde_json::Map::new(),
            },
            finish_reason,
            raw_reason,
        }],
        usage: wire.usage.map(Usage::from).unwrap_or_default(),
        system_fingerprint: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compacts_outside_strings_only() {
        assert_eq!(
            compact_json("{ \"a b\" : [1, 2],\n\t\"c\": \"x \\\" y\" }"),
            r#"{"a b":[1,2],"c":"x \" y"}"#
        );
        assert_eq!(compact_json(r#"{"k":"\\"}"#), r#"{"k":"\\"}"#);
    }

    #[test]
    fn usage_adds_cache_to_prompt() {
        let u: WireUsage = serde_json::from_value(json!({
            "inputTokens": 10, "outputTokens": 5, "totalTokens": 1215,
            "cacheReadInputTokens": 1000, "cacheWriteInputTokens": 200
        }))
        .unwrap();
        assert_eq!(
            Usage::from(u),
            Usage {
                prompt_tokens: 1210,
                completion_tokens: 5,
                total_tokens: 1215,
                cached_tokens: 1000,
                cache_write_tokens: 200,
                reasoning_tokens: 0,
            }
        );
        // A total that leaves the cache out is corrected upwards.
        let u: WireUsage = serde_json::from_value(json!({
            "inputTokens": 10, "outputTokens": 5, "totalTokens": 15, "cacheReadInputTokens": 100
        }))
        .unwrap();
        assert_eq!(Usage::from(u).total_tokens, 115);
    }

    #[test]
    fn stop_reasons() {
        let cases = [
            ("end_turn", true, FinishReason::Stop),
            ("stop_sequence", false, FinishReason::Stop),
            ("max_tokens", false, FinishReason::Length),
            ("model_context_window_exceeded", false, FinishReason::Length),
            ("tool_use", true, FinishReason::ToolCalls),
            ("tool_use", false, FinishReason::Stop),
            ("guardrail_intervened", false, FinishReason::ContentFilter),
            ("content_filtered", false, FinishReason::ContentFilter),
            ("malformed_tool_use", false, FinishReason::Stop),
        ];
        for (stop, calls, want) in cases {
            let (r, raw) = finish_reason(stop, calls);
            assert_eq!(r, want, "{stop}");
            assert_eq!(raw.as_deref(), Some(stop), "{stop}");
        }
    }

    #[test]
    fn blocks_of_every_kind_in_order() {
        let body = json!({
            "output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "think", "signature": "sig"}}},
                {"reasoningContent": {"redactedContent": "c2VjcmV0"}},
                {"text": ""},
                {"text": "Hello"},
                {"citationsContent": {"content": [{"text": " cited"}], "citations": []}},
                {"toolUse": {"toolUseId": "srv", "name": "web_search", "input": {}, "type": "server_tool_use"}},
                {"toolResult": {"toolUseId": "srv", "content": [{"text": "found"}], "type": "web_search_result"}},
                {"toolUse": {"toolUseId": "t1", "name": "f", "input": {"z": 1, "a": [true, null]}}},
                {"toolUse": {"toolUseId": "t2", "name": "g"}}
            ]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7},
            "metrics": {"latencyMs": 1}
        });
        // `json!` sorts keys: the tool input goes in as raw text, to show its order kept.
        let body = serde_json::to_string(&body).unwrap().replace(
            r#"{"a":[true,null],"z":1}"#,
            r#"{ "z": 1, "a": [true, null] }"#,
        );
        let r = decode_response(body.as_bytes()).unwrap();
        let c = &r.choices[0];
        assert_eq!(
            c.message.content,
            vec![
                ContentPart::Thinking {
                    text: "think".into(),
                    signature: Some("sig".into())
                },
                ContentPart::RedactedThinking {
                    data: "c2VjcmV0".into()
                },
                ContentPart::Text {
                    text: "Hello".into()
                },
                ContentPart::Text {
                    text: " cited".into()
                },
            ]
        );
        assert_eq!(
            c.message.tool_calls,
            vec![
                ToolCall {
                    id: "t1".into(),
                    name: "f".into(),
                    arguments: r#"{"z":1,"a":[true,null]}"#.into()
                },
                ToolCall {
                    id: "t2".into(),
                    name: "g".into(),
                    arguments: "{}".into()
                },
            ]
        );
        assert_eq!(
            (c.finish_reason, c.raw_reason.as_deref()),
            (Some(FinishReason::ToolCalls), Some("tool_use"))
        );
        assert_eq!((r.id.as_str(), r.model.as_str(), r.created), ("", "", 0));
        assert_eq!(r.usage.total_tokens, 7);
    }

    #[test]
    fn json_tool_is_unwrapped_to_text() {
        let body = json!({
            "output": {"message": {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "j", "name": JSON_TOOL, "input": {"city": "Paris", "n": [1, 2]}}}
            ]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
        });
        let r = decode_response(&serde_json::to_vec(&body).unwrap()).unwrap();
        let c = &r.choices[0];
        assert_eq!(c.message.joined_text(), r#"{"city":"Paris","n":[1,2]}"#);
        assert!(c.message.tool_calls.is_empty());
        assert_eq!(c.finish_reason, Some(FinishReason::Stop));
        assert_eq!(c.raw_reason.as_deref(), Some("tool_use"));
    }

    #[test]
    fn malformed_bodies_are_bad_responses() {
        for body in [
            &b"not json"[..],
            br#"{"stopReason":"end_turn"}"#,
            br#"{"output":{}}"#,
        ] {
            assert!(matches!(
                decode_response(body),
                Err(AdapterError::BadResponse(_))
            ));
        }
    }
}
