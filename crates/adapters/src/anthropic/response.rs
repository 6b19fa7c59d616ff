//! Provider decode: an Anthropic `message` body into the canonical response.
//!
//! Content blocks keep their order: `thinking` (with its signature),
//! `redacted_thinking` and `text` become content parts, `tool_use` becomes a tool call
//! with its `input` as compact JSON arguments. A `tool_use` of the reserved
//! [`JSON_TOOL_NAME`] is the answer to a `response_format` request and becomes text.
//! Server-side tool blocks (`server_tool_use`, `web_search_tool_result`, …) are the
//! provider's own work and have no OpenAI form, so they are left out; text around
//! them is kept.

use super::wire::{compact_json, finish_reason_unwrapped, Block, Typed, WireUsage};
use super::JSON_TOOL_NAME;
use crate::adapter::AdapterError;
use crate::canonical::{ChatResponse, Choice, ContentPart, Message, Role, ToolCall};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default, borrow)]
    content: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default, borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireErrorDetail {
    #[serde(default)]
    message: Option<String>,
}

fn bad(msg: impl Into<String>) -> AdapterError {
    AdapterError::BadResponse(msg.into())
}

/// Decodes a complete (non-streamed) Messages API response.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, AdapterError> {
    let msg: WireMessage<'_> =
        serde_json::from_slice(body).map_err(|e| bad(format!("not a message: {e}")))?;
    if let Some(err) = msg.error {
        let detail = serde_json::from_str::<WireErrorDetail>(err.get())
            .ok()
            .and_then(|d| d.message)
            .unwrap_or_else(|| err.get().to_string());
        return Err(bad(format!(
            "the provider answered with an error: {detail}"
        )));
    }
    let blocks = msg
        .content
        .ok_or_else(|| bad("the message has no `content`"))?;

    let mut content = Vec::new();
    let mut tool_calls = Vec::new();
    for (i, raw) in blocks.into_iter().enumerate() {
        let kind = serde_json::from_str::<Typed<'_>>(raw.get())
            .map_err(|e| bad(format!("content[{i}]: {e}")))?
            .kind;
        if !matches!(
            kind.as_ref(),
            "text" | "thinking" | "redacted_thinking" | "tool_use"
        ) {
            continue;
        }
        let b: Block<'_> =
            serde_json::from_str(raw.get()).map_err(|e| bad(format!("content[{i}]: {e}")))?;
        let missing = |field: &str| bad(format!("content[{i}] ({kind}) has no `{field}`"));
        match kind.as_ref() {
            "text" => content.push(ContentPart::Text {
                text: b.text.ok_or_else(|| missing("text"))?,
            }),
            "thinking" => content.push(ContentPart::Thinking {
                text: b.thinking.ok_or_else(|| missing("thinking"))?,
                signature: b.signature.filter(|s| !s.is_empty()),
            }),
            "redacted_thinking" => content.push(ContentPart::RedactedThinking {
                data: b.data.ok_or_else(|| missing("data"))?,
            }),
            _ => {
                let name = b.name.ok_or_else(|| missing("name"))?;
                let arguments = b
                    .input
                    .map(|r| compact_json(r.get()))
                    .unwrap_or_else(|| "{}".to_string());
                if name == JSON_TOOL_NAME {
                    content.push(ContentPart::Text { text: arguments });
                } else {
                    tool_calls.push(ToolCall {
                        id: b.id.ok_or_else(|| missing("id"))?,
                        name,
                        arguments,
                    });
                }
            }
        }
    }
    let (finish_reason, raw_reason) = match msg.stop_reason.as_deref() {
        Some(r) => {
            let (reason, raw) = finish_reason_unwrapped(r, !tool_calls.is_empty());
            (Some(reason), raw)
        }
        None => (None, None),
    };
    Ok(ChatResponse {
        id: msg.id.unwrap_or_default(),
        model: msg.model.unwrap_or_default(),
        created: super::now_secs(),
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
        usage: msg.usage.unwrap_or_default().to_usage(),
        system_fingerprint: None,
    })
}
