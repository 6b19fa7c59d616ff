//! Ingress: the Anthropic Messages API (`POST /v1/messages`) served by any provider.
//!
//! [`decode_messages_request`] turns a client's Messages body into the canonical
//! request; [`encode_messages_response`] writes a canonical response back as an
//! Anthropic `message`. The stream encoder is in [`super::ingress_stream`].
//!
//! Request mapping:
//! - `system` (a string or text blocks) → one leading `System` message.
//! - `messages`: `user` and `assistant` turns, content a string or blocks. `text`,
//!   `image` (base64 or URL source), `document` (base64 PDF or plain text, as a
//!   `File` part), `thinking` / `redacted_thinking` (assistant), `tool_use`
//!   (assistant → a tool call whose arguments are the compact JSON of `input`) and
//!   `tool_result` (user → a `Tool` message; a user turn mixing results and other
//!   blocks splits into tool messages and user messages, in order).
//! - `tools` (custom tools: name, description, input_schema), `tool_choice`
//!   (`auto`/`any`/`tool`/`none`; `disable_parallel_tool_use` → `parallel_tool_calls:
//!   false`), `max_tokens` (required), `temperature`, `top_p`, `top_k` (kept in
//!   `extra`, where the provider encoders read it), `stop_sequences`, `stream` (with
//!   `include_usage` always on: Anthropic streams always report usage),
//!   `metadata.user_id` → `user`, `thinking` → `reasoning_effort` (the level whose
//!   [`super::thinking_budget`] is nearest the budget; `disabled` → none asked).
//! - Any other top-level field is kept in `extra` (the provider encoders refuse what
//!   they cannot honour, by name).
//!
//! Errors name the field the Anthropic way (`messages.0.content.1.type`), in `param`
//! and at the start of the message.

use super::thinking_budget;
use super::wire::compact_json;
use crate::canonical::{
    ChatRequest, ChatResponse, ContentPart, FinishReason, ImageSource, Message, ReasoningEffort,
    Role, Tool, ToolCall, ToolChoice, Usage,
};
use crate::openai::fastpath::RequestError;
use base64::Engine as _;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

type Result<T> = std::result::Result<T, RequestError>;

fn err(param: &str, message: impl AsRef<str>) -> RequestError {
    RequestError {
        message: format!("{param}: {}", message.as_ref()),
        param: Some(param.to_string()),
    }
}

fn missing(param: &str) -> RequestError {
    err(param, "Field required")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(param: &str, expected: &str, got: &Value) -> RequestError {
    err(
        param,
        format!("Input should be {expected} (got {})", kind(got)),
    )
}

fn bad_value(param: &str, got: &str, allowed: &[&str]) -> RequestError {
    let list: Vec<String> = allowed.iter().map(|s| format!("'{s}'")).collect();
    err(
        param,
        format!("Input should be one of {} (got '{got}')", list.join(", ")),
    )
}

fn at(parent: &str, key: impl std::fmt::Display) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Removes `key`; an explicit `null` is absent.
fn take(obj: &mut Map<String, Value>, key: &str) -> Option<Value> {
    obj.remove(key).filter(|v| !v.is_null())
}

fn opt_string(obj: &mut Map<String, Value>, parent: &str, key: &str) -> Result<Option<String>> {
    match take(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(&at(parent, key), "a valid string", &other)),
    }
}

fn req_string(obj: &mut Map<String, Value>, parent: &str, key: &str) -> Result<String> {
    opt_string(obj, parent, key)?.ok_or_else(|| missing(&at(parent, key)))
}

fn opt_bool(obj: &mut Map<String, Value>, parent: &str, key: &str) -> Result<Option<bool>> {
    match take(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(other) => Err(wrong_type(&at(parent, key), "a valid boolean", &other)),
    }
}

fn opt_f64(obj: &mut Map<String, Value>, key: &str) -> Result<Option<f64>> {
    match take(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(wrong_type(key, "a valid number", &other)),
    }
}

fn opt_u32(obj: &mut Map<String, Value>, parent: &str, key: &str) -> Result<Option<u32>> {
    let param = at(parent, key);
    match take(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) => match whole(&n).and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Ok(Some(n)),
            None => Err(err(
                &param,
                format!("Input should be a non-negative integer (got {n})"),
            )),
        },
        Some(other) => Err(wrong_type(&param, "a valid integer", &other)),
    }
}

/// A non-negative whole number, also when written with a fraction of zero (`476.0`:
/// JSON Schema's integers include it, and Anthropic's API accepts it).
fn whole(n: &serde_json::Number) -> Option<u64> {
    n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 18_446_744_073_709_551_616.0)
            .map(|f| f as u64)
    })
}

fn object(value: Value, param: &str) -> Result<Map<String, Value>> {
    match value {
        Value::Object(o) => Ok(o),
        other => Err(wrong_type(param, "an object", &other)),
    }
}

/// Decodes an Anthropic Messages API request body.
pub fn decode_messages_request(body: &[u8]) -> Result<ChatRequest> {
    let value: Value = serde_json::from_slice(body).map_err(|e| RequestError {
        message: format!("the request body is not valid JSON: {e}"),
        param: None,
    })?;
    let Value::Object(mut obj) = value else {
        return Err(RequestError {
            message: "the request body must be a JSON object".to_string(),
            param: None,
        });
    };

    let model = match take(&mut obj, "model") {
        None => return Err(missing("model")),
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(Value::String(_)) => return Err(err("model", "String should not be empty")),
        Some(other) => return Err(wrong_type("model", "a valid string", &other)),
    };
    let max_tokens = opt_u32(&mut obj, "", "max_tokens")?.ok_or_else(|| missing("max_tokens"))?;

    let mut messages = Vec::new();
    match take(&mut obj, "system") {
        None => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::String(s)) => messages.push(Message::text(Role::System, s)),
        Some(Value::Array(blocks)) => {
            let mut content = Vec::with_capacity(blocks.len());
            for (i, b) in blocks.into_iter().enumerate() {
                let param = at("system", i);
                let mut b = object(b, &param)?;
                match req_string(&mut b, &param, "type")?.as_str() {
                    "text" => content.push(ContentPart::Text {
                        text: req_string(&mut b, &param, "text")?,
                    }),
                    other => return Err(bad_value(&at(&param, "type"), other, &["text"])),
                }
            }
            if !content.is_empty() {
                messages.push(Message {
                    content,
                    ..Message::text(Role::System, "")
                });
            }
        }
        Some(other) => {
            return Err(wrong_type(
                "system",
                "a valid string or a list of text blocks",
                &other,
            ))
        }
    }
    match take(&mut obj, "messages") {
        None => return Err(missing("messages")),
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(err("messages", "List should have at least 1 item"))
        }
        Some(Value::Array(a)) => {
            for (i, m) in a.into_iter().enumerate() {
                decode_turn(i, m, &mut messages)?;
            }
        }
        Some(other) => return Err(wrong_type("messages", "a valid list", &other)),
    }

    let tools = match take(&mut obj, "tools") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .into_iter()
            .enumerate()
            .map(|(i, t)| decode_tool(i, t))
            .collect::<Result<Vec<_>>>()?,
        Some(other) => return Err(wrong_type("tools", "a valid list", &other)),
    };
    let (tool_choice, parallel_tool_calls) = match take(&mut obj, "tool_choice") {
        None => (None, None),
        Some(v) => decode_tool_choice(v)?,
    };
    let temperature = opt_f64(&mut obj, "temperature")?;
    let top_p = opt_f64(&mut obj, "top_p")?;
    match take(&mut obj, "top_k") {
        None => {}
        Some(Value::Number(n)) if whole(&n).is_some() => {
            let k = whole(&n).unwrap_or_default();
            obj.insert("top_k".into(), Value::Number(k.into()));
        }
        Some(other) => return Err(wrong_type("top_k", "a non-negative integer", &other)),
    }
    let stop = match take(&mut obj, "stop_sequences") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .into_iter()
            .enumerate()
            .map(|(i, s)| match s {
                Value::String(s) => Ok(s),
                other => Err(wrong_type(
                    &at("stop_sequences", i),
                    "a valid string",
                    &other,
                )),
            })
            .collect::<Result<Vec<_>>>()?,
        Some(other) => return Err(wrong_type("stop_sequences", "a valid list", &other)),
    };
    let stream = opt_bool(&mut obj, "", "stream")?.unwrap_or(false);
    let user = match take(&mut obj, "metadata") {
        None => None,
        Some(v) => {
            let mut m = object(v, "metadata")?;
            let user = opt_string(&mut m, "metadata", "user_id")?;
            if !m.is_empty() {
                // Other metadata keys are not Anthropic's; keep them for whoever knows.
                obj.insert("metadata".into(), Value::Object(m));
            }
            user
        }
    };
    let reasoning_effort = match take(&mut obj, "thinking") {
        None => None,
        Some(v) => decode_thinking(v)?,
    };
    let drop_params = opt_bool(&mut obj, "", "drop_params")?.unwrap_or(false);

    Ok(ChatRequest {
        model,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format: None,
        reasoning_effort,
        max_tokens: Some(max_tokens),
        temperature,
        top_p,
        stop,
        seed: None,
        n: None,
        user,
        stream,
        include_usage: stream,
        drop_params,
        extra: obj,
    })
}

/// The effort level whose thinking budget is nearest `budget` (ties go up).
pub fn effort_for_budget(budget: u32) -> ReasoningEffort {
    const LEVELS: [ReasoningEffort; 5] = [
        ReasoningEffort::Minimal,
        ReasoningEffort::Low,
        ReasoningEffort::Medium,
        ReasoningEffort::High,
        ReasoningEffort::Xhigh,
    ];
    let mut best = ReasoningEffort::Minimal;
    let mut best_distance = u32::MAX;
    for level in LEVELS {
        if let Some(b) = thinking_budget(level) {
            let d = b.abs_diff(budget);
            if d <= best_distance {
                best = level;
                best_distance = d;
            }
        }
    }
    best
}

fn decode_thinking(v: Value) -> Result<Option<ReasoningEffort>> {
    let mut t = object(v, "thinking")?;
    match req_string(&mut t, "thinking", "type")?.as_str() {
        "enabled" => {
            let budget = opt_u32(&mut t, "thinking", "budget_tokens")?
                .ok_or_else(|| missing("thinking.budget_tokens"))?;
            Ok(Some(effort_for_budget(budget)))
        }
        "disabled" => Ok(None),
        other => Err(bad_value("thinking.type", other, &["enabled", "disabled"])),
    }
}

fn decode_tool(i: usize, v: Value) -> Result<Tool> {
    let param = at("tools", i);
    let mut t = object(v, &param)?;
    if let Some(kind) = opt_string(&mut t, &param, "type")? {
        if kind != "custom" {
            return Err(err(
                &at(&param, "type"),
                format!(
                    "the gateway serves custom tools only; the server tool '{kind}' is not supported"
                ),
            ));
        }
    }
    let name = req_string(&mut t, &param, "name")?;
    let description = opt_string(&mut t, &param, "description")?;
    let parameters = match take(&mut t, "input_schema") {
        None => return Err(missing(&at(&param, "input_schema"))),
        Some(s @ Value::Object(_)) => s,
        Some(other) => return Err(wrong_type(&at(&param, "input_schema"), "an object", &other)),
    };
    Ok(Tool {
        name,
        description,
        parameters: Some(parameters),
        strict: None,
    })
}

fn decode_tool_choice(v: Value) -> Result<(Option<ToolChoice>, Option<bool>)> {
    let param = "tool_choice";
    let mut c = object(v, param)?;
    let choice = match req_string(&mut c, param, "type")?.as_str() {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Required,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Function {
            name: req_string(&mut c, param, "name")?,
        },
        other => {
            return Err(bad_value(
                "tool_choice.type",
                other,
                &["auto", "any", "tool", "none"],
            ))
        }
    };
    let parallel = opt_bool(&mut c, param, "disable_parallel_tool_use")?
        .filter(|d| *d)
        .map(|_| false);
    Ok((Some(choice), parallel))
}

const USER_BLOCKS: &[&str] = &["text", "image", "document", "tool_result"];
const ASSISTANT_BLOCKS: &[&str] = &["text", "thinking", "redacted_thinking", "tool_use"];

/// One Anthropic turn, appended as one or more canonical messages.
fn decode_turn(i: usize, v: Value, out: &mut Vec<Message>) -> Result<()> {
    let param = at("messages", i);
    let mut m = object(v, &param)?;
    let role_param = at(&param, "role");
    let role = match take(&mut m, "role") {
        None => return Err(missing(&role_param)),
        Some(Value::String(s)) => match s.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => return Err(bad_value(&role_param, other, &["user", "assistant"])),
        },
        Some(other) => return Err(wrong_type(&role_param, "a valid string", &other)),
    };
    let content_param = at(&param, "content");
    let blocks = match take(&mut m, "content") {
        None => return Err(missing(&content_param)),
        Some(Value::String(s)) => {
            if !s.is_empty() {
                out.push(Message::text(role, s));
            }
            return Ok(());
        }
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(wrong_type(
                &content_param,
                "a valid string or a list of content blocks",
                &other,
            ))
        }
    };
    let mut current = Message {
        content: Vec::new(),
        ..Message::text(role, "")
    };
    for (j, b) in blocks.into_iter().enumerate() {
        let bparam = at(&content_param, j);
        let mut b = object(b, &bparam)?;
        let kind = req_string(&mut b, &bparam, "type")?;
        match (role, kind.as_str()) {
            (_, "text") => current.content.push(ContentPart::Text {
                text: req_string(&mut b, &bparam, "text")?,
            }),
            (Role::User, "image") => current.content.push(image(&mut b, &bparam)?),
            (Role::User, "document") => current.content.push(document(&mut b, &bparam)?),
            (Role::User, "tool_result") => {
                flush(&mut current, out);
                out.push(tool_result(&mut b, &bparam)?);
            }
            (Role::Assistant, "thinking") => current.content.push(ContentPart::Thinking {
                text: req_string(&mut b, &bparam, "thinking")?,
                signature: opt_string(&mut b, &bparam, "signature")?.filter(|s| !s.is_empty()),
            }),
            (Role::Assistant, "redacted_thinking") => {
                current.content.push(ContentPart::RedactedThinking {
                    data: req_string(&mut b, &bparam, "data")?,
                })
            }
            (Role::Assistant, "tool_use") => {
                let id = req_string(&mut b, &bparam, "id")?;
                let name = req_string(&mut b, &bparam, "name")?;
                let arguments = match take(&mut b, "input") {
                    None => "{}".to_string(),
                    Some(v @ Value::Object(_)) => compact_json(&v.to_string()),
                    Some(other) => {
                        return Err(wrong_type(&at(&bparam, "input"), "an object", &other))
                    }
                };
                current.tool_calls.push(ToolCall {
                    id,
                    name,
                    arguments,
                });
            }
            (_, other) => {
                let allowed = if role == Role::User {
                    USER_BLOCKS
                } else {
                    ASSISTANT_BLOCKS
                };
                return Err(bad_value(&at(&bparam, "type"), other, allowed));
            }
        }
    }
    flush(&mut current, out);
    Ok(())
}

/// Appends the message being built, if it holds anything, and starts a fresh one.
fn flush(current: &mut Message, out: &mut Vec<Message>) {
    if current.content.is_empty() && current.tool_calls.is_empty() {
        return;
    }
    let fresh = Message {
        content: Vec::new(),
        ..Message::text(current.role, "")
    };
    out.push(std::mem::replace(current, fresh));
}

fn source(b: &mut Map<String, Value>, param: &str) -> Result<(String, Map<String, Value>)> {
    let sparam = at(param, "source");
    let s = take(b, "source").ok_or_else(|| missing(&sparam))?;
    let mut s = object(s, &sparam)?;
    let kind = req_string(&mut s, &sparam, "type")?;
    Ok((kind, s))
}

fn image(b: &mut Map<String, Value>, param: &str) -> Result<ContentPart> {
    let (kind, mut s) = source(b, param)?;
    let sparam = at(param, "source");
    let source = match kind.as_str() {
        "base64" => ImageSource::Base64 {
            media_type: req_string(&mut s, &sparam, "media_type")?,
            data: req_string(&mut s, &sparam, "data")?,
        },
        "url" => ImageSource::Url {
            url: req_string(&mut s, &sparam, "url")?,
        },
        other => return Err(bad_value(&at(&sparam, "type"), other, &["base64", "url"])),
    };
    Ok(ContentPart::Image {
        source,
        detail: None,
    })
}

/// A `document` block as a `File` part holding a data URL (PDF or plain text).
fn document(b: &mut Map<String, Value>, param: &str) -> Result<ContentPart> {
    let (kind, mut s) = source(b, param)?;
    let sparam = at(param, "source");
    let data = match kind.as_str() {
        "base64" => {
            let media_type = req_string(&mut s, &sparam, "media_type")?;
            let data = req_string(&mut s, &sparam, "data")?;
            format!("data:{media_type};base64,{data}")
        }
        "text" => {
            let data = req_string(&mut s, &sparam, "data")?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(data.as_bytes());
            format!("data:text/plain;base64,{b64}")
        }
        other => return Err(bad_value(&at(&sparam, "type"), other, &["base64", "text"])),
    };
    Ok(ContentPart::File {
        data: Some(data),
        file_id: None,
        filename: opt_string(b, param, "title")?,
    })
}

fn tool_result(b: &mut Map<String, Value>, param: &str) -> Result<Message> {
    let id = req_string(b, param, "tool_use_id")?;
    let cparam = at(param, "content");
    let content = match take(b, "content") {
        None => Vec::new(),
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(Value::String(s)) => vec![ContentPart::Text { text: s }],
        Some(Value::Array(a)) => {
            let mut parts = Vec::with_capacity(a.len());
            for (k, inner) in a.into_iter().enumerate() {
                let iparam = at(&cparam, k);
                let mut inner = object(inner, &iparam)?;
                match req_string(&mut inner, &iparam, "type")?.as_str() {
                    "text" => parts.push(ContentPart::Text {
                        text: req_string(&mut inner, &iparam, "text")?,
                    }),
                    "image" => parts.push(image(&mut inner, &iparam)?),
                    other => {
                        return Err(bad_value(&at(&iparam, "type"), other, &["text", "image"]))
                    }
                }
            }
            parts
        }
        Some(other) => {
            return Err(wrong_type(
                &cparam,
                "a valid string or a list of content blocks",
                &other,
            ))
        }
    };
    let mut extra = Map::new();
    if opt_bool(b, param, "is_error")? == Some(true) {
        extra.insert("is_error".into(), Value::Bool(true));
    }
    Ok(Message {
        role: Role::Tool,
        content,
        name: None,
        tool_calls: Vec::new(),
        tool_call_id: Some(id),
        extra,
    })
}

// ---------------------------------------------------------------------------
// Response encode

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum OutBlock<'a> {
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Box<RawValue>,
    },
}

#[derive(Serialize, Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct OutUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl OutUsage {
    /// Anthropic's split: `input_tokens` is the input neither read from nor written to
    /// the cache.
    pub fn from_usage(u: &Usage) -> OutUsage {
        OutUsage {
            input_tokens: u
                .prompt_tokens
                .saturating_sub(u.cached_tokens)
                .saturating_sub(u.cache_write_tokens),
            output_tokens: u.completion_tokens,
            cache_creation_input_tokens: u.cache_write_tokens,
            cache_read_input_tokens: u.cached_tokens,
        }
    }
}

#[derive(Serialize)]
struct OutMessage<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<OutBlock<'a>>,
    stop_reason: Option<&'a str>,
    stop_sequence: Option<&'a str>,
    usage: OutUsage,
}

/// Anthropic's message ids start with `msg_`.
pub(super) fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_string()
    } else {
        format!("msg_{id}")
    }
}

/// The stop reasons Anthropic itself uses.
const ANTHROPIC_STOP_REASONS: &[&str] = &[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
];

/// Anthropic's `stop_reason` for a canonical finish: the provider's own reason when it
/// is an Anthropic one, otherwise mapped.
pub(super) fn stop_reason(reason: FinishReason, raw: Option<&str>) -> &'static str {
    if let Some(raw) = raw {
        if let Some(r) = ANTHROPIC_STOP_REASONS.iter().find(|r| **r == raw) {
            return r;
        }
    }
    match reason {
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
    }
}

/// Tool call arguments as an `input` object; anything but a JSON object is `{}`.
pub(super) fn tool_input(arguments: &str) -> Box<RawValue> {
    let trimmed = arguments.trim();
    let is_object = trimmed.starts_with('{')
        && serde_json::from_str::<Value>(trimmed).is_ok_and(|v| v.is_object());
    let raw = if is_object {
        compact_json(trimmed)
    } else {
        "{}".to_string()
    };
    RawValue::from_string(raw).unwrap_or_else(|_| empty_object())
}

fn empty_object() -> Box<RawValue> {
    // `{}` is valid JSON; the fallback is only there to avoid a panic path.
    RawValue::from_string("{}".to_string()).unwrap_or_else(|_| Box::<RawValue>::default())
}

/// Encodes a canonical response (its first choice) as an Anthropic `message` body.
pub fn encode_messages_response(resp: &ChatResponse, model: &str) -> Vec<u8> {
    let choice = resp.choices.first();
    let mut content = Vec::new();
    if let Some(c) = choice {
        for part in &c.message.content {
            match part {
                ContentPart::Thinking { text, signature } => content.push(OutBlock::Thinking {
                    thinking: text,
                    signature: signature.as_deref().unwrap_or(""),
                }),
                ContentPart::RedactedThinking { data } => {
                    content.push(OutBlock::RedactedThinking { data })
                }
                ContentPart::Text { text } | ContentPart::Refusal { text } if !text.is_empty() => {
                    content.push(OutBlock::Text { text })
                }
                // Assistant output has no other parts.
                _ => {}
            }
        }
        for call in &c.message.tool_calls {
            content.push(OutBlock::ToolUse {
                id: &call.id,
                name: &call.name,
                input: tool_input(&call.arguments),
            });
        }
    }
    let stop = choice.and_then(|c| {
        c.finish_reason
            .map(|r| stop_reason(r, c.raw_reason.as_deref()))
    });
    let msg = OutMessage {
        id: message_id(&resp.id),
        kind: "message",
        role: "assistant",
        model,
        content,
        stop_reason: stop,
        stop_sequence: None,
        usage: OutUsage::from_usage(&resp.usage),
    };
    serde_json::to_vec(&msg).unwrap_or_default()
}
