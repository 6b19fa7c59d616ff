//! Ingress encode: a canonical response as Responses API output items and as the
//! `response` object.
//!
//! Output items, in the order of the assistant message's content, then its calls:
//! - thinking → `reasoning` (`summary` one `summary_text` with the text, or none;
//!   `encrypted_content` the signature, or `null`); redacted thinking → `reasoning`
//!   with `encrypted_content` [`super::REDACTED_PREFIX`]`<data>` and no summary;
//! - text and refusal parts, consecutive → one `message` (`output_text` parts, text
//!   parts in a row joined; `refusal` parts);
//! - tool calls → `function_call` items (`call_id` the canonical call id).
//!
//! The `response` object has the fields OpenAI writes (as in the recordings), with
//! the request's values ([`ResponseMeta::echo`]) or OpenAI's defaults.
//! `output_text` is not written: it is a convenience the SDKs compute. Status:
//! `completed`, or `incomplete` with `incomplete_details.reason` `max_output_tokens`
//! (finish `length`) or `content_filter`; the last output item is then `incomplete`.

use super::request::ResponsesRequest;
use super::{item_id, now_secs, REDACTED_PREFIX};
use crate::canonical::{ChatResponse, ContentPart, FinishReason, Usage};
use serde_json::{json, Map, Value};

/// What the Response object says besides the output: chosen by the gateway (`id`,
/// `created_at`, `model`) or taken from the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseMeta {
    /// `resp_…`, chosen by the gateway; output item ids derive from it.
    pub id: String,
    /// The model as the client should see it.
    pub model: String,
    /// Unix seconds.
    pub created_at: u64,
    pub previous_response_id: Option<String>,
    pub store: bool,
    pub instructions: Option<String>,
    /// Request fields echoed back ([`ResponsesRequest::echo`]).
    pub echo: Map<String, Value>,
}

impl ResponseMeta {
    /// The meta of the response to `req`, named `model` as the client asked.
    pub fn new(req: &ResponsesRequest, id: impl Into<String>, created_at: u64) -> ResponseMeta {
        ResponseMeta {
            id: id.into(),
            model: req.chat.model.clone(),
            created_at,
            previous_response_id: req.previous_response_id.clone(),
            store: req.store,
            instructions: req.instructions.clone(),
            echo: req.echo.clone(),
        }
    }
}

/// An `output_text` content part.
pub(crate) fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text})
}

pub(crate) fn refusal(text: &str) -> Value {
    json!({"type": "refusal", "refusal": text})
}

pub(crate) fn message_item(id: &str, status: &str, content: Vec<Value>) -> Value {
    json!({
        "id": id,
        "type": "message",
        "status": status,
        "content": content,
        "role": "assistant",
    })
}

pub(crate) fn function_call_item(
    id: &str,
    status: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
) -> Value {
    json!({
        "id": id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    })
}

pub(crate) fn summary_text(text: &str) -> Value {
    json!({"type": "summary_text", "text": text})
}

/// A reasoning item; `text` empty means no summary part.
pub(crate) fn reasoning_item(id: &str, text: &str, encrypted: Option<&str>) -> Value {
    let summary: Vec<Value> = if text.is_empty() {
        Vec::new()
    } else {
        vec![summary_text(text)]
    };
    json!({
        "id": id,
        "type": "reasoning",
        "summary": summary,
        "encrypted_content": encrypted,
    })
}

/// `incomplete_details.reason` for a finish reason that cut the response short.
pub(crate) fn incomplete_reason(reason: Option<FinishReason>) -> Option<&'static str> {
    match reason {
        Some(FinishReason::Length) => Some("max_output_tokens"),
        Some(FinishReason::ContentFilter) => Some("content_filter"),
        _ => None,
    }
}

/// The output items of a finished response (its first choice: Responses has one).
pub fn output_items(resp: &ChatResponse, response_id: &str) -> Vec<Value> {
    let Some(choice) = resp.choices.first() else {
        return Vec::new();
    };
    let mut items: Vec<Value> = Vec::new();
    // The message item being filled: its content parts.
    let mut message: Vec<Value> = Vec::new();
    let flush = |message: &mut Vec<Value>, items: &mut Vec<Value>| {
        if !message.is_empty() {
            let id = item_id("msg", response_id, items.len());
            items.push(message_item(&id, "completed", std::mem::take(message)));
        }
    };
    for part in &choice.message.content {
        match part {
            // Nothing to show (the stream encoder writes nothing for these either).
            ContentPart::Text { text } | ContentPart::Refusal { text } if text.is_empty() => {}
            ContentPart::Thinking {
                text,
                signature: None,
            } if text.is_empty() => {}
            ContentPart::Text { text } => match message.last_mut() {
                Some(last) if last["type"] == "output_text" => {
                    let joined = format!("{}{text}", last["text"].as_str().unwrap_or_default());
                    last["text"] = joined.into();
                }
                _ => message.push(output_text(text)),
            },
            ContentPart::Refusal { text } => message.push(refusal(text)),
            ContentPart::Thinking { text, signature } => {
                flush(&mut message, &mut items);
                let id = item_id("rs", response_id, items.len());
                items.push(reasoning_item(&id, text, signature.as_deref()));
            }
            ContentPart::RedactedThinking { data } => {
                flush(&mut message, &mut items);
                let id = item_id("rs", response_id, items.len());
                let encrypted = format!("{REDACTED_PREFIX}{data}");
                items.push(reasoning_item(&id, "", Some(&encrypted)));
            }
            // Not produced by models as output.
            ContentPart::Image { .. }
            | ContentPart::InputAudio { .. }
            | ContentPart::File { .. } => {}
        }
    }
    flush(&mut message, &mut items);
    for call in &choice.message.tool_calls {
        let index = items.len();
        let call_id = if call.id.is_empty() {
            item_id("call", response_id, index)
        } else {
            call.id.clone()
        };
        let id = item_id("fc", response_id, index);
        items.push(function_call_item(
            &id,
            "completed",
            &call_id,
            &call.name,
            &call.arguments,
        ));
    }
    if incomplete_reason(choice.finish_reason).is_some() {
        mark_incomplete(items.last_mut());
    }
    items
}

/// The last item of a response cut short is `incomplete` (reasoning items carry no
/// status).
fn mark_incomplete(item: Option<&mut Value>) {
    if let Some(item) = item {
        if item.get("status").is_some() {
            item["status"] = "incomplete".into();
        }
    }
}

/// `usage` as the Responses API writes it.
pub(crate) fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": u.cached_tokens,
            "cache_write_tokens": u.cache_write_tokens,
        },
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.total_tokens.max(u.prompt_tokens + u.completion_tokens),
    })
}

/// The state of a Response object.
pub(crate) struct State<'a> {
    pub status: &'a str,
    pub output: Vec<Value>,
    pub usage: Option<&'a Usage>,
    pub incomplete: Option<&'a str>,
    pub error: Option<Value>,
}

/// The `response` object: what OpenAI writes, the request's values echoed.
pub(crate) fn response_object(meta: &ResponseMeta, state: State<'_>) -> Value {
    let done = matches!(state.status, "completed" | "incomplete" | "failed");
    let mut o = Map::new();
    o.insert("id".into(), meta.id.as_str().into());
    o.insert("object".into(), "response".into());
    o.insert("created_at".into(), meta.created_at.into());
    o.insert("status".into(), state.status.into());
    o.insert("background".into(), false.into());
    o.insert(
        "completed_at".into(),
        if state.status == "completed" {
            now_secs().max(meta.created_at).into()
        } else {
            Value::Null
        },
    );
    o.insert("error".into(), state.error.unwrap_or(Value::Null));
    o.insert(
        "incomplete_details".into(),
        state
            .incomplete
            .map_or(Value::Null, |reason| json!({"reason": reason})),
    );
    o.insert("instructions".into(), meta.instructions.clone().into());
    o.insert("model".into(), meta.model.as_str().into());
    o.insert("output".into(), Value::Array(state.output));
    o.insert(
        "previous_response_id".into(),
        meta.previous_response_id.clone().into(),
    );
    o.insert("store".into(), meta.store.into());
    o.insert(
        "usage".into(),
        match state.usage {
            Some(u) if done => usage_json(u),
            _ => Value::Null,
        },
    );
    // The request's parameters, or what OpenAI reports when they were not sent.
    let defaults = [
        ("max_output_tokens", Value::Null),
        ("max_tool_calls", Value::Null),
        ("parallel_tool_calls", true.into()),
        ("prompt_cache_key", Value::Null),
        ("prompt_cache_retention", Value::Null),
        ("reasoning", json!({"effort": null, "summary": null})),
        ("safety_identifier", Value::Null),
        ("service_tier", "default".into()),
        ("temperature", 1.0.into()),
        (
            "text",
            json!({"format": {"type": "text"}, "verbosity": "medium"}),
        ),
        ("tool_choice", "auto".into()),
        ("tools", json!([])),
        ("top_logprobs", 0.into()),
        ("top_p", 1.0.into()),
        ("truncation", "disabled".into()),
        ("user", Value::Null),
        ("metadata", json!({})),
    ];
    for (key, default) in defaults {
        o.insert(key.into(), meta.echo.get(key).cloned().unwrap_or(default));
    }
    Value::Object(o)
}

/// The Response object of a finished (non-streamed) response.
pub fn encode_response(resp: &ChatResponse, meta: &ResponseMeta) -> Vec<u8> {
    let reason = resp.choices.first().and_then(|c| c.finish_reason);
    let incomplete = incomplete_reason(reason);
    let object = response_object(
        meta,
        State {
            status: if incomplete.is_some() {
                "incomplete"
            } else {
                "completed"
            },
            output: output_items(resp, &meta.id),
            usage: Some(&resp.usage),
            incomplete,
            error: None,
        },
    );
    serde_json::to_vec(&object).unwrap_or_default()
}
