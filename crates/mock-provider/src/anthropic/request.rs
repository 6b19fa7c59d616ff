//! An Anthropic Messages request read into a [`Summary`].

use serde_json::Value;

use crate::summary::{char_count, tool_result_text, JsonOutput, Summary, Tool, ToolChoice};

pub(crate) fn summarize(v: Value) -> Summary {
    let mut s = Summary {
        model: v.get("model").and_then(Value::as_str).map(str::to_owned),
        stream: v.get("stream").and_then(Value::as_bool).unwrap_or(false),
        max_tokens: v.get("max_tokens").and_then(Value::as_u64),
        show_reasoning: true,
        ..Summary::default()
    };
    if let Some(system) = v.get("system").filter(|s| !s.is_null()) {
        let (chars, _) = content_stats(system);
        s.chars += chars;
        s.messages = Some(1);
    }
    if let Some(messages) = v.get("messages").and_then(Value::as_array) {
        s.messages = Some(s.messages.unwrap_or(0) + messages.len() as u64);
        for m in messages {
            if let Some(content) = m.get("content") {
                let (chars, images) = content_stats(content);
                s.chars += chars;
                s.images = s.images.saturating_add(images);
            }
        }
        s.tool_result = messages
            .last()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .and_then(|m| m.get("content"))
            .and_then(tool_results);
    }
    s.tools = v
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| tools.iter().filter_map(tool).collect())
        .unwrap_or_default();
    s.tool_choice = v.get("tool_choice").map(tool_choice).unwrap_or_default();
    s.reasoning = v
        .get("thinking")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t != "disabled");
    // Structured outputs: `output_format` (beta) or `output_config.format`.
    let format = v
        .get("output_format")
        .or_else(|| v.get("output_config").and_then(|c| c.get("format")));
    if let Some(f) = format.filter(|f| f.get("type").and_then(Value::as_str) == Some("json_schema"))
    {
        s.json = Some(match f.get("schema") {
            Some(schema) => JsonOutput::Schema(schema.clone()),
            None => JsonOutput::Object,
        });
    }
    s.mock = v.get("mock").cloned();
    s
}

/// Text characters and images of a `content` (string or blocks, tool results included).
fn content_stats(content: &Value) -> (u64, u32) {
    match content {
        Value::String(s) => (char_count(s), 0),
        Value::Array(blocks) => blocks.iter().fold((0, 0), |(chars, images), b| {
            match b.get("type").and_then(Value::as_str) {
                Some("text") => (
                    chars + b.get("text").and_then(Value::as_str).map_or(0, char_count),
                    images,
                ),
                Some("image") => (chars, images.saturating_add(1)),
                Some("tool_result") => {
                    let (c, i) = b.get("content").map_or((0, 0), content_stats);
                    (chars + c, images.saturating_add(i))
                }
                _ => (chars, images),
            }
        }),
        _ => (0, 0),
    }
}

/// The text of the `tool_result` blocks of a user message, if it has any.
fn tool_results(content: &Value) -> Option<String> {
    let blocks = content.as_array()?;
    let texts: Vec<String> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        .map(|b| match b.get("content") {
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
            Some(other) => tool_result_text(other),
            None => String::new(),
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

/// A client tool (`{"name","input_schema"}`); server tools have no schema and are skipped.
fn tool(t: &Value) -> Option<Tool> {
    let schema = t.get("input_schema")?;
    Some(Tool {
        name: t.get("name")?.as_str()?.to_owned(),
        schema: schema.clone(),
    })
}

/// `{"type":"auto"|"any"|"none"|"tool","name"}`.
fn tool_choice(v: &Value) -> ToolChoice {
    match v.get("type").and_then(Value::as_str) {
        Some("none") => ToolChoice::None,
        Some("any") => ToolChoice::Any,
        Some("tool") => match v.get("name").and_then(Value::as_str) {
            Some(name) => ToolChoice::Named(name.to_owned()),
            None => ToolChoice::Any,
        },
        _ => ToolChoice::Auto,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_messages_tools_and_options() {
        let s = summarize(json!({
            "model": "claude-x",
            "max_tokens": 100,
            "stream": true,
            "system": [{"type": "text", "text": "be brief"}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}
                ]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]}
            ],
            "tools": [
                {"name": "w", "input_schema": {"type": "object"}},
                {"type": "web_search_20250305", "name": "web_search"}
            ],
            "tool_choice": {"type": "tool", "name": "w"},
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}
        }));
        assert_eq!(s.model.as_deref(), Some("claude-x"));
        assert_eq!(s.max_tokens, Some(100));
        assert!(s.stream);
        assert_eq!(s.messages, Some(4));
        assert_eq!(s.chars, 8 + 4 + 5);
        assert_eq!(s.images, 1);
        assert_eq!(s.tool_result.as_deref(), Some("sunny"));
        assert_eq!(s.tools.len(), 1);
        assert_eq!(s.tool_choice, ToolChoice::Named("w".into()));
        assert!(s.reasoning);
        assert!(matches!(s.json, Some(JsonOutput::Schema(_))));
    }

    #[test]
    fn tool_result_blocks_of_text() {
        let s = summarize(json!({"messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "a", "content": [{"type": "text", "text": "one"}]},
            {"type": "tool_result", "tool_use_id": "b", "content": [{"type": "text", "text": "two"}]}
        ]}], "thinking": {"type": "disabled"}, "tool_choice": {"type": "none"}}));
        assert_eq!(s.tool_result.as_deref(), Some("one\ntwo"));
        assert!(!s.reasoning);
        assert_eq!(s.tool_choice, ToolChoice::None);
        assert!(
            summarize(json!({"messages": [{"role": "user", "content": "hi"}]}))
                .tool_result
                .is_none()
        );
    }
}
