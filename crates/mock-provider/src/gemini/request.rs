//! A Gemini `GenerateContentRequest` read into a [`Summary`] (the model and streaming
//! come from the path).

use serde_json::Value;

use crate::summary::{char_count, tool_result_text, JsonOutput, Summary, Tool, ToolChoice};

pub(crate) fn summarize(v: Value, stream: bool) -> Summary {
    let gen = v.get("generationConfig");
    let mut s = Summary {
        stream,
        max_tokens: gen
            .and_then(|g| g.get("maxOutputTokens"))
            .and_then(Value::as_u64),
        ..Summary::default()
    };
    if let Some(system) = v.get("systemInstruction").filter(|s| !s.is_null()) {
        s.chars += parts_stats(system.get("parts")).0;
        s.messages = Some(1);
    }
    if let Some(contents) = v.get("contents").and_then(Value::as_array) {
        s.messages = Some(s.messages.unwrap_or(0) + contents.len() as u64);
        for c in contents {
            let (chars, images) = parts_stats(c.get("parts"));
            s.chars += chars;
            s.images = s.images.saturating_add(images);
        }
        s.tool_result = contents
            .last()
            .and_then(|c| c.get("parts"))
            .and_then(function_responses);
    }
    s.tools = v
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t.get("functionDeclarations").and_then(Value::as_array))
                .flatten()
                .filter_map(declaration)
                .collect()
        })
        .unwrap_or_default();
    s.tool_choice = v
        .get("toolConfig")
        .and_then(|t| t.get("functionCallingConfig"))
        .map(tool_choice)
        .unwrap_or_default();
    if let Some(g) = gen {
        if g.get("responseMimeType").and_then(Value::as_str) == Some("application/json") {
            let schema = [
                "responseJsonSchema",
                "responseSchema",
                "_responseJsonSchema",
            ]
            .iter()
            .find_map(|k| g.get(*k));
            s.json = Some(match schema {
                Some(schema) => JsonOutput::Schema(schema.clone()),
                None => JsonOutput::Object,
            });
        }
        if let Some(t) = g.get("thinkingConfig").filter(|t| t.is_object()) {
            // A zero budget turns thinking off; any other setting turns it on.
            s.reasoning = t.get("thinkingBudget").and_then(Value::as_i64) != Some(0);
            s.show_reasoning = t.get("includeThoughts").and_then(Value::as_bool) == Some(true);
        }
    }
    s.mock = v.get("mock").cloned();
    s
}

/// Text characters and images (`inlineData`/`fileData` with an `image/*` type) of parts.
fn parts_stats(parts: Option<&Value>) -> (u64, u32) {
    let Some(parts) = parts.and_then(Value::as_array) else {
        return (0, 0);
    };
    parts.iter().fold((0, 0), |(chars, images), p| {
        let text = p.get("text").and_then(Value::as_str).map_or(0, char_count);
        let is_image = ["inlineData", "fileData"].iter().any(|k| {
            p.get(*k)
                .and_then(|d| d.get("mimeType"))
                .and_then(Value::as_str)
                .is_some_and(|m| m.starts_with("image/"))
        });
        (chars + text, images.saturating_add(u32::from(is_image)))
    })
}

/// The `functionResponse` texts of the last content's parts, if it has any.
fn function_responses(parts: &Value) -> Option<String> {
    let texts: Vec<String> = parts
        .as_array()?
        .iter()
        .filter_map(|p| p.get("functionResponse"))
        .map(|r| r.get("response").map_or_else(String::new, tool_result_text))
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

fn declaration(d: &Value) -> Option<Tool> {
    let schema = d
        .get("parametersJsonSchema")
        .or_else(|| d.get("parameters"))
        .cloned()
        .unwrap_or(Value::Null);
    Some(Tool {
        name: d.get("name")?.as_str()?.to_owned(),
        schema,
    })
}

/// `{"mode":"AUTO"|"ANY"|"NONE"|"VALIDATED","allowedFunctionNames":[..]}`.
fn tool_choice(c: &Value) -> ToolChoice {
    match c.get("mode").and_then(Value::as_str) {
        Some("NONE") => ToolChoice::None,
        Some("ANY") => match c
            .get("allowedFunctionNames")
            .and_then(Value::as_array)
            .and_then(|n| n.first())
            .and_then(Value::as_str)
        {
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
    fn reads_contents_tools_and_config() {
        let s = summarize(
            json!({
                "systemInstruction": {"parts": [{"text": "be nice"}], "role": "user"},
                "contents": [
                    {"role": "user", "parts": [{"text": "what is this"}, {"inlineData": {"mimeType": "image/png", "data": "AA=="}}]},
                    {"role": "model", "parts": [{"functionCall": {"name": "get_capital", "args": {"country": "France"}}}]},
                    {"role": "user", "parts": [{"functionResponse": {"name": "get_capital", "response": {"return_value": "Paris"}}}]}
                ],
                "tools": [{"functionDeclarations": [
                    {"name": "get_capital", "parameters": {"type": "OBJECT", "properties": {"country": {"type": "STRING"}}, "required": ["country"]}}
                ]}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_capital"]}},
                "generationConfig": {
                    "maxOutputTokens": 50,
                    "responseMimeType": "application/json",
                    "thinkingConfig": {"includeThoughts": true}
                }
            }),
            true,
        );
        assert!(s.stream);
        assert_eq!(s.messages, Some(4));
        assert_eq!(s.chars, 7 + 12);
        assert_eq!(s.images, 1);
        assert_eq!(s.tool_result.as_deref(), Some("Paris"));
        assert_eq!(s.tools[0].name, "get_capital");
        assert_eq!(s.tool_choice, ToolChoice::Named("get_capital".into()));
        assert_eq!(s.max_tokens, Some(50));
        assert!(matches!(s.json, Some(JsonOutput::Object)));
        assert!(s.reasoning && s.show_reasoning);
    }

    #[test]
    fn thinking_budget_zero_is_off() {
        let s = summarize(
            json!({"contents": [], "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}),
            false,
        );
        assert!(!s.reasoning);
        let s = summarize(
            json!({"generationConfig": {"thinkingConfig": {"thinkingBudget": 1024}}, "toolConfig": {"functionCallingConfig": {"mode": "NONE"}}}),
            false,
        );
        assert!(s.reasoning && !s.show_reasoning);
        assert_eq!(s.tool_choice, ToolChoice::None);
        assert_eq!(s.messages, None);
    }
}
