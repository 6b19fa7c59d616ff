//! The format-independent digest of a request that decides what the mock answers.
//!
//! Each wire format reads its own request shape into a [`Summary`]; the reply is then
//! planned from the summary alone (see `content.rs`), so every format behaves alike.

use serde_json::Value;

/// What the mock needs to know about one generation request.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// The model named in the body (Gemini, Bedrock and Azure take it from the path instead).
    pub(crate) model: Option<String>,
    pub(crate) stream: bool,
    /// OpenAI `stream_options.include_usage`.
    pub(crate) include_usage: bool,
    /// Number of messages (system prompt included), `None` when the field is missing.
    pub(crate) messages: Option<u64>,
    /// Text characters over all messages (for the prompt token estimate).
    pub(crate) chars: u64,
    /// Tools offered, in request order.
    pub(crate) tools: Vec<Tool>,
    pub(crate) tool_choice: ToolChoice,
    /// The text of the tool result when the last message is one.
    pub(crate) tool_result: Option<String>,
    /// Images anywhere in the messages.
    pub(crate) images: u32,
    /// Structured (JSON) text output requested.
    pub(crate) json: Option<JsonOutput>,
    /// Reasoning/thinking requested.
    pub(crate) reasoning: bool,
    /// Whether reasoning text is returned (Gemini only returns it with `includeThoughts`).
    pub(crate) show_reasoning: bool,
    pub(crate) max_tokens: Option<u64>,
    /// The body's `"mock"` knob object.
    pub(crate) mock: Option<Value>,
}

impl Summary {
    /// 4 per message + ceil(chars / 4), at least 1 (the mock's prompt token estimate).
    pub(crate) fn prompt_tokens(&self) -> u64 {
        (self.messages.unwrap_or(0) * 4 + self.chars.div_ceil(4)).max(1)
    }
}

/// One tool offered to the model.
#[derive(Debug, Clone)]
pub(crate) struct Tool {
    pub(crate) name: String,
    /// JSON schema of the arguments (`Null` when absent).
    pub(crate) schema: Value,
}

/// How the request constrains tool use.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) enum ToolChoice {
    /// The model may call a tool (the mock always does when tools are offered).
    #[default]
    Auto,
    /// Tools must not be called.
    None,
    /// Some tool must be called.
    Any,
    /// This tool must be called.
    Named(String),
}

/// Requested structured output.
#[derive(Debug, Clone)]
pub(crate) enum JsonOutput {
    /// Any JSON object.
    Object,
    /// JSON matching this schema.
    Schema(Value),
}

/// Characters of `s` as counted for the prompt estimate.
pub(crate) fn char_count(s: &str) -> u64 {
    s.chars().count() as u64
}

/// The text a tool result carries, for quoting in the reply: a string as is, an object
/// with a single string field as that string, anything else as compact JSON.
pub(crate) fn tool_result_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(map) if map.len() == 1 => match map.values().next() {
            Some(Value::String(s)) => s.clone(),
            _ => v.to_string(),
        },
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prompt_estimate() {
        let s = Summary {
            messages: Some(2),
            chars: 9,
            ..Summary::default()
        };
        assert_eq!(s.prompt_tokens(), 8 + 3);
        assert_eq!(Summary::default().prompt_tokens(), 1);
    }

    #[test]
    fn tool_result_texts() {
        assert_eq!(tool_result_text(&json!("sunny")), "sunny");
        assert_eq!(tool_result_text(&json!({"result": "Paris"})), "Paris");
        assert_eq!(
            tool_result_text(&json!({"a": 1, "b": 2})),
            r#"{"a":1,"b":2}"#
        );
        assert_eq!(tool_result_text(&json!(null)), "");
    }
}
