//! Wire pieces shared by the response and stream decoders: content blocks, usage,
//! stop reasons.

use crate::canonical::{FinishReason, Usage};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Just the `type` of a content block, read first so that block types this adapter
/// does not know (server tools, their results, future ones) are skipped, whatever
/// their other fields hold.
#[derive(Deserialize)]
pub(crate) struct Typed<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: std::borrow::Cow<'a, str>,
}

/// A content block of the kinds this adapter reads (`text`, `thinking`,
/// `redacted_thinking`, `tool_use`), in a response or a `content_block_start`.
#[derive(Deserialize)]
pub(crate) struct Block<'a> {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub thinking: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Kept as raw text so the arguments keep the model's key order.
    #[serde(default, borrow)]
    pub input: Option<&'a RawValue>,
}

/// Anthropic's `usage`. In a stream, `message_start` carries the input side and
/// `message_delta` the cumulative output (recent streams repeat the input side there
/// too); a field left out keeps its earlier value.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Later counts replace earlier ones, field by field.
    pub fn update(&mut self, later: &WireUsage) {
        fn pick(now: &mut Option<u64>, later: Option<u64>) {
            if later.is_some() {
                *now = later;
            }
        }
        pick(&mut self.input_tokens, later.input_tokens);
        pick(&mut self.output_tokens, later.output_tokens);
        pick(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        pick(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
    }

    /// OpenAI semantics: Anthropic's `input_tokens` counts only the uncached input
    /// after the last cache breakpoint, so the prompt is that plus cache reads and
    /// cache writes. Anthropic reports no separate thinking count: thinking is
    /// inside `output_tokens`, and `reasoning_tokens` stays 0.
    pub fn to_usage(self) -> Usage {
        let cached = self.cache_read_input_tokens.unwrap_or(0);
        let written = self.cache_creation_input_tokens.unwrap_or(0);
        let prompt = self
            .input_tokens
            .unwrap_or(0)
            .saturating_add(cached)
            .saturating_add(written);
        let completion = self.output_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
            cached_tokens: cached,
            cache_write_tokens: written,
            reasoning_tokens: 0,
        }
    }
}

/// Anthropic's `stop_reason` in OpenAI's vocabulary, with the raw reason kept when
/// it differs. `pause_turn` (a server tool loop paused; the client may continue the
/// turn) ends this response normally. Unknown future reasons are a normal stop.
pub(crate) fn finish_reason(stop_reason: &str) -> (FinishReason, Option<String>) {
    let reason = match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    };
    (reason, reason.raw_reason(stop_reason))
}

/// The finish reason when the only tool the model called was [`super::JSON_TOOL_NAME`]:
/// that call is the answer, shown as text, so the client sees a normal stop.
pub(crate) fn finish_reason_unwrapped(
    stop_reason: &str,
    client_tool_calls: bool,
) -> (FinishReason, Option<String>) {
    if stop_reason == "tool_use" && !client_tool_calls {
        (FinishReason::Stop, Some(stop_reason.to_string()))
    } else {
        finish_reason(stop_reason)
    }
}

/// JSON text without the whitespace outside strings: the compact form OpenAI clients
/// get for tool arguments, with the model's key order kept (a `serde_json::Value`
/// round trip would sort the keys).
pub(crate) fn compact_json(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_string = false;
    let mut escaped = false;
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
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}

/// Whether raw JSON is an object with at least one member (the `input: {}` that opens
/// a streamed `tool_use` block is not arguments yet).
pub(crate) fn is_nonempty_object(raw: &RawValue) -> bool {
    let s = raw.get().trim();
    s.starts_with('{') && s.trim_start_matches('{').trim_start() != "}"
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn compacts_outside_strings_only() {
        assert_eq!(
            compact_json("{ \"b\" : [1, 2],\n \"a\": \"x y \\\" z\" }"),
            r#"{"b":[1,2],"a":"x y \" z"}"#
        );
        assert_eq!(compact_json(r#"{"a":"\\"}"#), r#"{"a":"\\"}"#);
    }

    #[test]
    fn empty_objects() {
        let raw = |s: &str| RawValue::from_string(s.to_string()).unwrap();
        assert!(!is_nonempty_object(&raw("{}")));
        assert!(!is_nonempty_object(&raw("{ \n }")));
        assert!(is_nonempty_object(&raw("{\"a\":1}")));
        assert!(!is_nonempty_object(&raw("[]")));
    }

    #[test]
    fn usage_folds_cache_into_prompt() {
        let mut u = WireUsage {
            input_tokens: Some(10),
            output_tokens: Some(1),
            cache_creation_input_tokens: Some(20),
            cache_read_input_tokens: Some(300),
        };
        u.update(&WireUsage {
            output_tokens: Some(42),
            ..WireUsage::default()
        });
        assert_eq!(
            u.to_usage(),
            Usage {
                prompt_tokens: 330,
                completion_tokens: 42,
                total_tokens: 372,
                cached_tokens: 300,
                cache_write_tokens: 20,
                reasoning_tokens: 0,
            }
        );
    }

    #[test]
    fn stop_reasons() {
        let cases = [
            ("end_turn", FinishReason::Stop),
            ("stop_sequence", FinishReason::Stop),
            ("pause_turn", FinishReason::Stop),
            ("max_tokens", FinishReason::Length),
            ("model_context_window_exceeded", FinishReason::Length),
            ("tool_use", FinishReason::ToolCalls),
            ("refusal", FinishReason::ContentFilter),
            ("something_new", FinishReason::Stop),
        ];
        for (raw, want) in cases {
            assert_eq!(finish_reason(raw), (want, Some(raw.to_string())), "{raw}");
        }
        assert_eq!(
            finish_reason_unwrapped("tool_use", false),
            (FinishReason::Stop, Some("tool_use".into()))
        );
        assert_eq!(
            finish_reason_unwrapped("tool_use", true).0,
            FinishReason::ToolCalls
        );
    }
}
