//! A Bedrock Converse request read into a [`Summary`] (the model and streaming come
//! from the path).

use serde_json::Value;

use crate::summary::{char_count, tool_result_text, Summary, Tool, ToolChoice};

pub(crate) fn summarize(v: Value, stream: bool) -> Summary {
    let mut s = Summary {
        stream,
        max_tokens: v
            .get("inferenceConfig")
            .and_then(|c| c.get("maxTokens"))
            .and_then(Value::as_u64),
        show_reasoning: true,
        ..Summary::default()
    };
    if let Some(system) = v.get("system").and_then(Value::as_array) {
        if !system.is_empty() {
            s.chars += blocks_stats(system).0;
            s.messages = Some(1);
        }
    }
    if let Some(messages) = v.get("messages").and_then(Value::as_array) {
        s.messages = Some(s.messages.unwrap_or(0) + messages.len() as u64);
        for m in messages {
            if let Some(blocks) = m.get("content").and_then(Value::as_array) {
                let (chars, images) = blocks_stats(blocks);
                s.chars += chars;
                s.images = s.images.saturating_add(images);
            }
        }
        s.tool_result = messages
            .last()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .and_then(|m| m.get("content"))
            .and_then(Value::as_array)
            .and_then(|blocks| tool_results(blocks));
    }
    if let Some(config) = v.get("toolConfig") {
        s.tools = config
            .get("tools")
            .and_then(Value::as_array)
            .map(|tools| tools.iter().filter_map(tool).collect())
            .unwrap_or_default();
        s.tool_choice = config
            .get("toolChoice")
            .map(tool_choice)
            .unwrap_or_default();
    }
    s.reasoning = v
        .get("additionalModelRequestFields")
        .and_then(|f| f.get("thinking"))
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t != "disabled");
    s.mock = v.get("mock").cloned();
    s
}

/// Text characters and images of content blocks (tool results included).
fn blocks_stats(blocks: &[Value]) -> (u64, u32) {
    blocks.iter().fold((0, 0), |(chars, images), b| {
        if let Some(t) = b.get("text").and_then(Value::as_str) {
            (chars + char_count(t), images)
        } else if b.get("image").is_some() {
            (chars, images.saturating_add(1))
        } else if let Some(inner) = b
            .get("toolResult")
            .and_then(|r| r.get("content"))
            .and_then(Value::as_array)
        {
            let (c, i) = blocks_stats(inner);
            (chars + c, images.saturating_add(i))
        } else {
            (chars, images)
        }
    })
}

/// The text of the `toolResult` blocks of a user message, if it has any.
fn tool_results(blocks: &[Value]) -> Option<String> {
    let texts: Vec<String> = blocks
        .iter()
        .filter_map(|b| b.get("toolResult"))
        .map(|r| {
            r.get("content")
                .and_then(Value::as_array)
                .map(|parts| {
                    parts
                        .iter()
                        .map(|p| match (p.get("text"), p.get("json")) {
                            (Some(Value::String(t)), _) => t.clone(),
                            (_, Some(j)) => tool_result_text(j),
                            _ => String::new(),
                        })
                        .collect::<String>()
                })
                .unwrap_or_default()
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

/// `{"toolSpec":{"name","inputSchema":{"json"}}}`.
fn tool(t: &Value) -> Option<Tool> {
    let spec = t.get("toolSpec")?;
    Some(Tool {
        name: spec.get("name")?.as_str()?.to_owned(),
        schema: spec
            .get("inputSchema")
            .and_then(|s| s.get("json"))
            .cloned()
            .unwrap_or(Value::Null),
    })
}

/// `{"auto":{}}`, `{"any":{}}` or `{"tool":{"name"}}` (Bedrock has no "none").
fn tool_choice(v: &Value) -> ToolChoice {
    if let Some(name) = v
        .get("tool")
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
    {
        ToolChoice::Named(name.to_owned())
    } else if v.get("any").is_some() {
        ToolChoice::Any
    } else {
        ToolChoice::Auto
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_messages_tools_and_thinking() {
        let s = summarize(
            json!({
                "system": [{"text": "be kind"}],
                "messages": [
                    {"role": "user", "content": [{"text": "hello"}, {"image": {"format": "png", "source": {"bytes": "AA=="}}}]},
                    {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "get_capital", "input": {}}}]},
                    {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"text": "Paris"}], "status": "success"}}]}
                ],
                "inferenceConfig": {"maxTokens": 64},
                "toolConfig": {
                    "tools": [{"toolSpec": {"name": "get_capital", "inputSchema": {"json": {"type": "object"}}}}],
                    "toolChoice": {"tool": {"name": "get_capital"}}
                },
                "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}}
            }),
            true,
        );
        assert_eq!(s.messages, Some(4));
        assert_eq!(s.chars, 7 + 5 + 5);
        assert_eq!(s.images, 1);
        assert_eq!(s.tool_result.as_deref(), Some("Paris"));
        assert_eq!(s.tools[0].name, "get_capital");
        assert_eq!(s.tool_choice, ToolChoice::Named("get_capital".into()));
        assert_eq!(s.max_tokens, Some(64));
        assert!(s.reasoning && s.stream);
    }

    #[test]
    fn json_tool_results_and_choices() {
        let s = summarize(
            json!({"messages": [{"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"json": {"temp": 20}}]}}]}],
                   "toolConfig": {"tools": [], "toolChoice": {"any": {}}}}),
            false,
        );
        assert_eq!(s.tool_result.as_deref(), Some(r#"{"temp":20}"#));
        assert_eq!(s.tool_choice, ToolChoice::Any);
        assert!(!s.reasoning);
    }
}
