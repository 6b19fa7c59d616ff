//! Ingress decode: an OpenAI Responses API request body into the canonical model.
//!
//! Request mapping:
//! - `input`: a string (one user message) or a list of items, each normalised into
//!   [`ResponsesRequest::input_items`] (`type` written out, string contents as parts)
//!   and decoded into canonical messages:
//!   - messages (`{role, content}`, `type: "message"` optional; roles `user`,
//!     `assistant`, `system`, `developer`), content a string or parts: `input_text` /
//!     `output_text` → text, `refusal` (assistant) → refusal, `input_image` with an
//!     `image_url` (URL or data URL) → image, `input_file` with a `file_data` data URL
//!     → file. Items by `file_id` (`input_image`, `input_file`) and `file_url` are
//!     refused: the gateway has no file store.
//!   - `function_call` (`call_id`, `name`, `arguments`) → an assistant tool call;
//!     consecutive assistant items (reasoning, assistant messages, calls) make one
//!     assistant message, as a provider returned them.
//!   - `function_call_output` (`call_id`, `output` a string or input parts) → a tool
//!     message.
//!   - `reasoning` → a thinking part when it carries `encrypted_content` (a provider
//!     signature, or redacted thinking with [`super::REDACTED_PREFIX`]); its text is
//!     the `content` reasoning text, else the `summary` texts. Without
//!     `encrypted_content` it is dropped: nothing could verify it.
//! - `instructions` → a leading system message (this request's only: a stored
//!   conversation holds items, never earlier instructions, as OpenAI does).
//! - `tools`: `function` tools, flat (`name`, `description`, `parameters`, `strict`).
//!   Built-in tools (`web_search`, `file_search`, `code_interpreter`, `computer_use`,
//!   `mcp`, `custom`, …) are refused by name (`tools[i].type`): the gateway runs none.
//! - `tool_choice` (`auto`/`none`/`required`/`{type: "function", name}`),
//!   `parallel_tool_calls`, `max_output_tokens` → `max_tokens`, `temperature`,
//!   `top_p`, `user`, `reasoning.effort` → `reasoning_effort` (`summary` accepted),
//!   `text.format` (`text`, `json_object`, flat `json_schema`) → `response_format`,
//!   `text.verbosity` other than the default `medium` → `extra.verbosity`, `stream`
//!   (usage always on: Responses streams always report it).
//! - Kept for the Response object only ([`ResponsesRequest::echo`]): `metadata` (it
//!   describes the stored response, not the generation: never sent upstream; the
//!   gateway reads `metadata.tags` from here), `truncation`, `service_tier`,
//!   `prompt_cache_key`, `prompt_cache_retention`, `safety_identifier`,
//!   `max_tool_calls` (built-in tools only), `top_logprobs: 0`. `include` and
//!   `stream_options` are accepted and ignored (encrypted reasoning is always
//!   included).
//! - Refused by name: `background: true`, `conversation`, `prompt`, `top_logprobs`
//!   above 0 (the canonical model carries no log probabilities), `item_reference`
//!   items.
//! - Any other top-level field is kept in `extra` (provider encoders refuse what
//!   they cannot honour, by name, unless `drop_params`).
//!
//! Errors name the field the way OpenAI does (`input[2].content[0].type`).

use super::REDACTED_PREFIX;
use crate::canonical::{
    ChatRequest, ContentPart, ImageSource, Message, ReasoningEffort, ResponseFormat, Role, Tool,
    ToolCall, ToolChoice,
};
use crate::openai::fastpath::RequestError;
use serde_json::{json, Map, Value};

type Result<T> = std::result::Result<T, RequestError>;

/// A parsed `POST /v1/responses` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsesRequest {
    /// This turn as a canonical request: `instructions` as a leading system message,
    /// then this request's input. Earlier turns are added by [`to_canonical`].
    pub chat: ChatRequest,
    pub previous_response_id: Option<String>,
    /// Whether the gateway should keep the response (OpenAI's default: `true`).
    pub store: bool,
    pub instructions: Option<String>,
    /// The request's `input` as item objects (a string input is one user message;
    /// every item has its `type`; message contents are lists of parts), for storage.
    pub input_items: Vec<Value>,
    /// Request fields written back in the Response object (`tools` normalised,
    /// `tool_choice`, `temperature`, `top_p`, `text`, `reasoning`,
    /// `max_output_tokens`, `metadata`, `parallel_tool_calls`, `truncation`, `user`,
    /// `service_tier`, `prompt_cache_key`, `safety_identifier`, …), as sent.
    pub echo: Map<String, Value>,
}

fn err(param: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError {
        message: message.into(),
        param: Some(param.into()),
    }
}

fn missing(param: &str) -> RequestError {
    err(param, format!("Missing required parameter: '{param}'."))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn invalid_type(param: &str, expected: &str, got: &Value) -> RequestError {
    err(
        param,
        format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            kind(got)
        ),
    )
}

fn invalid_value(param: &str, got: &str, supported: &[&str]) -> RequestError {
    let list: Vec<String> = supported.iter().map(|s| format!("'{s}'")).collect();
    err(
        param,
        format!(
            "Invalid value: '{got}'. Supported values are: {}.",
            list.join(", ")
        ),
    )
}

/// A parameter the gateway understands but cannot honour for any provider.
fn unsupported(param: &str, why: &str) -> RequestError {
    err(
        param,
        format!("'{param}' is not supported by this gateway: {why}."),
    )
}

/// Removes `key`, treating an explicit `null` as absent (as OpenAI does).
fn take(obj: &mut Map<String, Value>, key: &str) -> Option<Value> {
    obj.remove(key).filter(|v| !v.is_null())
}

fn path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn opt_string(obj: &mut Map<String, Value>, parent: &str, key: &str) -> Result<Option<String>> {
    match take(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid_type(&path(parent, key), "a string", &other)),
    }
}

fn req_string(obj: &mut Map<String, Value>, parent: &str, key: &str) -> Result<String> {
    opt_string(obj, parent, key)?.ok_or_else(|| missing(&path(parent, key)))
}

fn opt_bool(obj: &mut Map<String, Value>, parent: &str, key: &str) -> Result<Option<bool>> {
    match take(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(other) => Err(invalid_type(&path(parent, key), "a boolean", &other)),
    }
}

fn opt_f64(obj: &mut Map<String, Value>, key: &str) -> Result<Option<f64>> {
    match take(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(invalid_type(key, "a number", &other)),
    }
}

fn opt_u32(obj: &mut Map<String, Value>, key: &str) -> Result<Option<u32>> {
    match take(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Ok(Some(n)),
            None => Err(err(
                key,
                format!("Invalid '{key}': expected a non-negative integer, but got {n} instead."),
            )),
        },
        Some(other) => Err(invalid_type(key, "an integer", &other)),
    }
}

fn object(value: Option<Value>, param: &str) -> Result<Map<String, Value>> {
    match value {
        None => Err(missing(param)),
        Some(Value::Object(o)) => Ok(o),
        Some(other) => Err(invalid_type(param, "an object", &other)),
    }
}

/// Decodes a Responses API request body.
pub fn decode_request(body: &[u8]) -> Result<ResponsesRequest> {
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
    let mut echo = Map::new();

    let model = match take(&mut obj, "model") {
        None => return Err(err("model", "you must provide a model parameter")),
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(Value::String(_)) => return Err(err("model", "`model` must not be empty")),
        Some(other) => return Err(invalid_type("model", "a string", &other)),
    };

    // What the gateway cannot do for any provider, refused before anything else.
    if opt_bool(&mut obj, "", "background")? == Some(true) {
        return Err(unsupported(
            "background",
            "responses are generated while the request is open; send the request without it",
        ));
    }
    if take(&mut obj, "conversation").is_some() {
        return Err(unsupported(
            "conversation",
            "use 'previous_response_id' to continue a stored conversation",
        ));
    }
    if take(&mut obj, "prompt").is_some() {
        return Err(unsupported(
            "prompt",
            "prompt templates are stored by OpenAI; send 'instructions' and 'input' instead",
        ));
    }
    match take(&mut obj, "top_logprobs") {
        None => {}
        Some(Value::Number(n)) if n.as_u64() == Some(0) => {
            echo.insert("top_logprobs".into(), Value::Number(n));
        }
        Some(Value::Number(_)) => {
            return Err(unsupported(
                "top_logprobs",
                "log probabilities are not carried across providers",
            ))
        }
        Some(other) => return Err(invalid_type("top_logprobs", "an integer", &other)),
    }

    let previous_response_id =
        opt_string(&mut obj, "", "previous_response_id")?.filter(|s| !s.is_empty());
    let store = opt_bool(&mut obj, "", "store")?.unwrap_or(true);
    let instructions = opt_string(&mut obj, "", "instructions")?;

    let raw_items = match take(&mut obj, "input") {
        None => return Err(missing("input")),
        Some(Value::String(text)) => vec![json!({
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        })],
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(invalid_type(
                "input",
                "a string or an array of input items",
                &other,
            ))
        }
    };
    let (input_items, input_messages) = decode_items(raw_items, "input")?;
    let mut messages = Vec::with_capacity(input_messages.len() + 1);
    messages.extend(instructions_message(instructions.as_deref()));
    messages.extend(input_messages);

    let tools = match take(&mut obj, "tools") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .into_iter()
            .enumerate()
            .map(|(i, t)| decode_tool(i, t))
            .collect::<Result<Vec<_>>>()?,
        Some(other) => return Err(invalid_type("tools", "an array", &other)),
    };
    if !tools.is_empty() {
        echo.insert(
            "tools".into(),
            Value::Array(tools.iter().map(tool_echo).collect()),
        );
    }
    let tool_choice = match take(&mut obj, "tool_choice") {
        None => None,
        Some(v) => {
            echo.insert("tool_choice".into(), v.clone());
            Some(decode_tool_choice(v)?)
        }
    };
    let parallel_tool_calls = opt_bool(&mut obj, "", "parallel_tool_calls")?;
    if let Some(p) = parallel_tool_calls {
        echo.insert("parallel_tool_calls".into(), Value::Bool(p));
    }
    let mut extra_verbosity = None;
    let response_format = match take(&mut obj, "text") {
        None => None,
        Some(v) => {
            echo.insert("text".into(), v.clone());
            let (format, verbosity) = decode_text(v)?;
            extra_verbosity = verbosity;
            format
        }
    };
    let reasoning_effort = match take(&mut obj, "reasoning") {
        None => None,
        Some(v) => {
            echo.insert("reasoning".into(), v.clone());
            decode_reasoning(v)?
        }
    };
    let max_tokens = opt_u32(&mut obj, "max_output_tokens")?;
    if let Some(n) = max_tokens {
        echo.insert("max_output_tokens".into(), n.into());
    }
    let temperature = opt_f64(&mut obj, "temperature")?;
    let top_p = opt_f64(&mut obj, "top_p")?;
    for (key, v) in [("temperature", temperature), ("top_p", top_p)] {
        if let Some(v) = v {
            echo.insert(key.into(), v.into());
        }
    }
    let user = opt_string(&mut obj, "", "user")?;
    if let Some(u) = &user {
        echo.insert("user".into(), u.as_str().into());
    }
    match take(&mut obj, "metadata") {
        None => {}
        Some(v @ Value::Object(_)) => {
            echo.insert("metadata".into(), v);
        }
        Some(other) => return Err(invalid_type("metadata", "an object", &other)),
    }
    match opt_string(&mut obj, "", "truncation")? {
        None => {}
        Some(t) if t == "auto" || t == "disabled" => {
            echo.insert("truncation".into(), t.into());
        }
        Some(t) => return Err(invalid_value("truncation", &t, &["auto", "disabled"])),
    }
    for key in [
        "service_tier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
    ] {
        if let Some(v) = opt_string(&mut obj, "", key)? {
            echo.insert(key.into(), v.into());
        }
    }
    if let Some(n) = opt_u32(&mut obj, "max_tool_calls")? {
        echo.insert("max_tool_calls".into(), n.into());
    }
    match take(&mut obj, "include") {
        None => {}
        Some(Value::Array(a)) => {
            for (i, v) in a.iter().enumerate() {
                if !v.is_string() {
                    return Err(invalid_type(&format!("include[{i}]"), "a string", v));
                }
            }
        }
        Some(other) => return Err(invalid_type("include", "an array", &other)),
    }
    match take(&mut obj, "stream_options") {
        None | Some(Value::Object(_)) => {}
        Some(other) => return Err(invalid_type("stream_options", "an object", &other)),
    }
    let stream = opt_bool(&mut obj, "", "stream")?.unwrap_or(false);
    // The gateway's own switch: never forwarded.
    let drop_params = opt_bool(&mut obj, "", "drop_params")?.unwrap_or(false);
    if let Some(v) = extra_verbosity {
        obj.insert("verbosity".into(), v.into());
    }

    Ok(ResponsesRequest {
        chat: ChatRequest {
            model,
            messages,
            tools,
            tool_choice,
            parallel_tool_calls,
            response_format,
            reasoning_effort,
            max_tokens,
            temperature,
            top_p,
            stop: Vec::new(),
            seed: None,
            n: None,
            user,
            stream,
            include_usage: stream,
            drop_params,
            extra: obj,
        },
        previous_response_id,
        store,
        instructions,
        input_items,
        echo,
    })
}

/// A message of `role` with nothing in it yet.
fn empty(role: Role) -> Message {
    Message {
        role,
        content: Vec::new(),
        name: None,
        tool_calls: Vec::new(),
        tool_call_id: None,
        extra: Map::new(),
    }
}

/// The system message standing for `instructions` (none when empty).
fn instructions_message(instructions: Option<&str>) -> Option<Message> {
    instructions
        .filter(|s| !s.is_empty())
        .map(|s| Message::text(Role::System, s))
}

/// The canonical request for `req` continuing a stored conversation: `prior` holds
/// the earlier turns' items (each turn's input items, then its output items), which
/// come after this request's `instructions` and before its input.
pub fn to_canonical(req: &ResponsesRequest, prior: &[Value]) -> Result<ChatRequest> {
    let mut chat = req.chat.clone();
    if !prior.is_empty() {
        let (_, earlier) = decode_items(prior.to_vec(), "input").map_err(|e| RequestError {
            message: format!(
                "the stored conversation of 'previous_response_id' cannot be used ({}): {}",
                e.param.as_deref().unwrap_or("input"),
                e.message
            ),
            param: Some("previous_response_id".to_string()),
        })?;
        let at = usize::from(instructions_message(req.instructions.as_deref()).is_some());
        chat.messages.splice(at..at, earlier);
    }
    if chat.messages.iter().all(|m| m.role == Role::System) {
        return Err(err(
            "input",
            "the conversation is empty: 'input' must hold at least one item",
        ));
    }
    Ok(chat)
}

/// What one input item contributes to the conversation.
enum Piece {
    /// A user, system or developer message.
    Message(Message),
    /// Assistant output: text and refusal parts.
    Assistant(Vec<ContentPart>),
    Thinking(ContentPart),
    Call(ToolCall),
    Output(Message),
    /// A reasoning item nothing could verify.
    Nothing,
}

const ITEM_TYPES: &[&str] = &[
    "message",
    "function_call",
    "function_call_output",
    "reasoning",
];

/// Decodes a list of items: their normalised form, and the canonical messages.
fn decode_items(items: Vec<Value>, base: &str) -> Result<(Vec<Value>, Vec<Message>)> {
    let mut normalised = Vec::with_capacity(items.len());
    let mut messages: Vec<Message> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let (item, piece) = decode_item(&format!("{base}[{i}]"), item)?;
        normalised.push(item);
        // The assistant message the piece may join: the last one, while it has made
        // no tool calls (calls join it in any case: parallel calls are consecutive).
        let last = messages.last_mut().filter(|m| m.role == Role::Assistant);
        match piece {
            Piece::Nothing => {}
            Piece::Message(m) | Piece::Output(m) => messages.push(m),
            Piece::Call(call) => match last {
                Some(m) => m.tool_calls.push(call),
                None => messages.push(Message {
                    tool_calls: vec![call],
                    ..empty(Role::Assistant)
                }),
            },
            Piece::Assistant(parts) => match last.filter(|m| m.tool_calls.is_empty()) {
                Some(m) => m.content.extend(parts),
                None => messages.push(Message {
                    content: parts,
                    ..empty(Role::Assistant)
                }),
            },
            Piece::Thinking(part) => match last.filter(|m| m.tool_calls.is_empty()) {
                Some(m) => m.content.push(part),
                None => messages.push(Message {
                    content: vec![part],
                    ..empty(Role::Assistant)
                }),
            },
        }
    }
    Ok((normalised, messages))
}

fn decode_item(at: &str, value: Value) -> Result<(Value, Piece)> {
    let Value::Object(mut item) = value else {
        return Err(invalid_type(at, "an object", &value));
    };
    let kind = match opt_string(&mut item, at, "type")? {
        Some(k) => k,
        // `EasyInputMessage`: a message may leave out its type.
        None if item.contains_key("role") => "message".to_string(),
        None => return Err(missing(&path(at, "type"))),
    };
    let mut normalised = item.clone();
    normalised.insert("type".into(), kind.as_str().into());
    let piece = match kind.as_str() {
        "message" => {
            let (content, piece) = decode_message(at, &mut item)?;
            normalised.insert("content".into(), Value::Array(content));
            piece
        }
        "function_call" => {
            let call_id = req_string(&mut item, at, "call_id")?;
            let name = req_string(&mut item, at, "name")?;
            let arguments = match take(&mut item, "arguments") {
                None => return Err(missing(&path(at, "arguments"))),
                Some(Value::String(s)) => s,
                // Lenient: some clients send the arguments as a JSON object.
                Some(v @ Value::Object(_)) => {
                    let s = v.to_string();
                    normalised.insert("arguments".into(), s.as_str().into());
                    s
                }
                Some(other) => {
                    return Err(invalid_type(&path(at, "arguments"), "a string", &other))
                }
            };
            Piece::Call(ToolCall {
                id: call_id,
                name,
                arguments,
            })
        }
        "function_call_output" => {
            let call_id = req_string(&mut item, at, "call_id")?;
            let oparam = path(at, "output");
            let content = match take(&mut item, "output") {
                None => return Err(missing(&oparam)),
                Some(Value::String(s)) if s.is_empty() => Vec::new(),
                Some(Value::String(s)) => vec![ContentPart::Text { text: s }],
                Some(Value::Array(parts)) => parts
                    .into_iter()
                    .enumerate()
                    .map(|(j, p)| decode_part(&format!("{oparam}[{j}]"), p, Role::Tool))
                    .collect::<Result<Vec<_>>>()?,
                Some(other) => {
                    return Err(invalid_type(
                        &oparam,
                        "a string or an array of content parts",
                        &other,
                    ))
                }
            };
            Piece::Output(Message {
                content,
                tool_call_id: Some(call_id),
                ..empty(Role::Tool)
            })
        }
        "reasoning" => decode_reasoning_item(at, &mut item)?,
        "item_reference" => {
            return Err(unsupported(
                &path(at, "type"),
                "stored items are continued with 'previous_response_id'; send the item itself",
            ))
        }
        other => {
            return Err(err(
                path(at, "type"),
                format!(
                    "Invalid value: '{other}'. Supported values are: {} (the gateway runs no \
                     built-in tools, so their calls cannot be replayed).",
                    ITEM_TYPES
                        .iter()
                        .map(|t| format!("'{t}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    };
    Ok((Value::Object(normalised), piece))
}

const ROLES: &[&str] = &["user", "assistant", "system", "developer"];

/// A message item: its content as a list of parts (for storage) and its piece.
fn decode_message(at: &str, item: &mut Map<String, Value>) -> Result<(Vec<Value>, Piece)> {
    let role_param = path(at, "role");
    let role = match take(item, "role") {
        None => return Err(missing(&role_param)),
        Some(Value::String(s)) => match s.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" => Role::System,
            "developer" => Role::Developer,
            other => return Err(invalid_value(&role_param, other, ROLES)),
        },
        Some(other) => return Err(invalid_type(&role_param, "a string", &other)),
    };
    let content_param = path(at, "content");
    let raw = match take(item, "content") {
        None => return Err(missing(&content_param)),
        Some(Value::String(text)) if text.is_empty() => Vec::new(),
        Some(Value::String(text)) if role == Role::Assistant => {
            vec![json!({"type": "output_text", "text": text, "annotations": []})]
        }
        Some(Value::String(text)) => vec![json!({"type": "input_text", "text": text})],
        Some(Value::Array(parts)) => parts,
        Some(other) => {
            return Err(invalid_type(
                &content_param,
                "a string or an array of content parts",
                &other,
            ))
        }
    };
    let content = raw
        .iter()
        .enumerate()
        .map(|(j, p)| decode_part(&format!("{content_param}[{j}]"), p.clone(), role))
        .collect::<Result<Vec<_>>>()?;
    let piece = if role == Role::Assistant {
        Piece::Assistant(content)
    } else {
        Piece::Message(Message {
            content,
            ..empty(role)
        })
    };
    Ok((raw, piece))
}

const INPUT_PARTS: &[&str] = &["input_text", "input_image", "input_file"];
const ASSISTANT_PARTS: &[&str] = &["output_text", "refusal"];

/// One content part. `role` is the message's (`Tool` for a function call output).
fn decode_part(at: &str, value: Value, role: Role) -> Result<ContentPart> {
    let Value::Object(mut p) = value else {
        return Err(invalid_type(at, "an object", &value));
    };
    let kind = req_string(&mut p, at, "type")?;
    let assistant = role == Role::Assistant;
    Ok(match kind.as_str() {
        // Either text kind is taken in any message: clients replaying history mix them.
        "input_text" | "output_text" => ContentPart::Text {
            text: req_string(&mut p, at, "text")?,
        },
        "refusal" if assistant => ContentPart::Refusal {
            text: req_string(&mut p, at, "refusal")?,
        },
        "input_image" if !assistant => {
            if p.get("file_id").is_some_and(|v| !v.is_null()) {
                return Err(unsupported(
                    &path(at, "file_id"),
                    "the gateway has no file store; send the image as 'image_url' (a URL or a \
                     base64 data URL)",
                ));
            }
            let url = req_string(&mut p, at, "image_url")?;
            ContentPart::Image {
                source: ImageSource::from_url(&url),
                detail: opt_string(&mut p, at, "detail")?,
            }
        }
        "input_file" if !assistant => {
            for key in ["file_id", "file_url"] {
                if p.get(key).is_some_and(|v| !v.is_null()) {
                    return Err(unsupported(
                        &path(at, key),
                        "the gateway has no file store; send the file inline as 'file_data' (a \
                         base64 data URL)",
                    ));
                }
            }
            let data = req_string(&mut p, at, "file_data")?;
            if !data.starts_with("data:") {
                return Err(err(
                    path(at, "file_data"),
                    "'file_data' must be a data URL ('data:<media type>;base64,<data>')",
                ));
            }
            ContentPart::File {
                data: Some(data),
                file_id: None,
                filename: opt_string(&mut p, at, "filename")?,
            }
        }
        other => {
            let supported = if assistant {
                ASSISTANT_PARTS
            } else {
                INPUT_PARTS
            };
            return Err(invalid_value(&path(at, "type"), other, supported));
        }
    })
}

/// Texts of a reasoning item's `summary` or `content` list (`{type, text}` parts).
fn reasoning_texts(item: &mut Map<String, Value>, at: &str, key: &str) -> Result<Vec<String>> {
    let param = path(at, key);
    match take(item, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(parts)) => parts
            .into_iter()
            .enumerate()
            .map(|(j, p)| {
                let pparam = format!("{param}[{j}]");
                let mut p = object(Some(p), &pparam)?;
                req_string(&mut p, &pparam, "text")
            })
            .collect(),
        Some(other) => Err(invalid_type(&param, "an array", &other)),
    }
}

fn decode_reasoning_item(at: &str, item: &mut Map<String, Value>) -> Result<Piece> {
    let summary = reasoning_texts(item, at, "summary")?;
    let content = reasoning_texts(item, at, "content")?;
    let Some(encrypted) = opt_string(item, at, "encrypted_content")?.filter(|s| !s.is_empty())
    else {
        return Ok(Piece::Nothing);
    };
    if let Some(data) = encrypted.strip_prefix(REDACTED_PREFIX) {
        return Ok(Piece::Thinking(ContentPart::RedactedThinking {
            data: data.to_string(),
        }));
    }
    // The full reasoning text when the item has it, else its summary.
    let text = if content.is_empty() {
        summary.join("\n\n")
    } else {
        content.concat()
    };
    Ok(Piece::Thinking(ContentPart::Thinking {
        text,
        signature: Some(encrypted),
    }))
}

const BUILT_IN_TOOLS: &str = "the gateway runs no built-in tools; only 'function' tools are \
                              supported";

fn decode_tool(i: usize, value: Value) -> Result<Tool> {
    let at = format!("tools[{i}]");
    let Value::Object(mut t) = value else {
        return Err(invalid_type(&at, "an object", &value));
    };
    let kind = req_string(&mut t, &at, "type")?;
    if kind != "function" {
        return Err(err(
            format!("{at}.type"),
            format!("tools of type '{kind}' are not supported: {BUILT_IN_TOOLS}"),
        ));
    }
    if !t.contains_key("name") && t.contains_key("function") {
        return Err(err(
            format!("{at}.name"),
            format!(
                "Missing required parameter: '{at}.name'. Responses API function tools are flat \
                 ({{\"type\": \"function\", \"name\", \"parameters\"}}), not nested under \
                 'function' as in Chat Completions."
            ),
        ));
    }
    let name = req_string(&mut t, &at, "name")?;
    let description = opt_string(&mut t, &at, "description")?;
    let parameters = match take(&mut t, "parameters") {
        None => None,
        Some(v @ Value::Object(_)) => Some(v),
        Some(other) => {
            return Err(invalid_type(
                &format!("{at}.parameters"),
                "an object",
                &other,
            ))
        }
    };
    let strict = opt_bool(&mut t, &at, "strict")?;
    Ok(Tool {
        name,
        description,
        parameters,
        strict,
    })
}

/// A function tool as the Response object lists it.
fn tool_echo(t: &Tool) -> Value {
    json!({
        "type": "function",
        "name": t.name,
        "description": t.description,
        "parameters": t.parameters,
        "strict": t.strict,
    })
}

fn decode_tool_choice(value: Value) -> Result<ToolChoice> {
    const P: &str = "tool_choice";
    match value {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            other => Err(invalid_value(P, other, &["none", "auto", "required"])),
        },
        Value::Object(mut o) => {
            let kind = req_string(&mut o, P, "type")?;
            if kind != "function" {
                return Err(err(
                    "tool_choice.type",
                    format!(
                        "tool_choice of type '{kind}' is not supported: {BUILT_IN_TOOLS}; use \
                         'auto', 'none', 'required' or {{\"type\": \"function\", \"name\"}}"
                    ),
                ));
            }
            Ok(ToolChoice::Function {
                name: req_string(&mut o, P, "name")?,
            })
        }
        other => Err(invalid_type(P, "a string or an object", &other)),
    }
}

/// `text`: the output format, and a `verbosity` that asks for something (not the
/// default `medium`).
fn decode_text(value: Value) -> Result<(Option<ResponseFormat>, Option<String>)> {
    let mut text = object(Some(value), "text")?;
    let verbosity = match opt_string(&mut text, "text", "verbosity")? {
        None => None,
        Some(v) if v == "medium" => None,
        Some(v) if v == "low" || v == "high" => Some(v),
        Some(v) => {
            return Err(invalid_value(
                "text.verbosity",
                &v,
                &["low", "medium", "high"],
            ))
        }
    };
    let format = match take(&mut text, "format") {
        None => None,
        Some(v) => Some(decode_format(v)?),
    };
    Ok((format, verbosity))
}

fn decode_format(value: Value) -> Result<ResponseFormat> {
    const P: &str = "text.format";
    let mut f = object(Some(value), P)?;
    let kind = req_string(&mut f, P, "type")?;
    Ok(match kind.as_str() {
        "text" => ResponseFormat::Text,
        "json_object" => ResponseFormat::JsonObject,
        "json_schema" => ResponseFormat::JsonSchema {
            name: req_string(&mut f, P, "name")?,
            schema: match take(&mut f, "schema") {
                None => return Err(missing("text.format.schema")),
                Some(v @ Value::Object(_)) => Some(v),
                Some(other) => return Err(invalid_type("text.format.schema", "an object", &other)),
            },
            strict: opt_bool(&mut f, P, "strict")?,
            description: opt_string(&mut f, P, "description")?,
        },
        other => {
            return Err(invalid_value(
                "text.format.type",
                other,
                &["text", "json_object", "json_schema"],
            ))
        }
    })
}

fn decode_reasoning(value: Value) -> Result<Option<ReasoningEffort>> {
    const P: &str = "reasoning";
    let mut r = object(Some(value), P)?;
    for key in ["summary", "generate_summary"] {
        if let Some(s) = opt_string(&mut r, P, key)? {
            if !["auto", "concise", "detailed"].contains(&s.as_str()) {
                return Err(invalid_value(
                    &path(P, key),
                    &s,
                    &["auto", "concise", "detailed"],
                ));
            }
        }
    }
    let Some(effort) = opt_string(&mut r, P, "effort")? else {
        return Ok(None);
    };
    Ok(Some(match effort.as_str() {
        "none" => ReasoningEffort::None,
        "minimal" => ReasoningEffort::Minimal,
        "low" => ReasoningEffort::Low,
        "medium" => ReasoningEffort::Medium,
        "high" => ReasoningEffort::High,
        "xhigh" => ReasoningEffort::Xhigh,
        other => {
            return Err(invalid_value(
                "reasoning.effort",
                other,
                &["none", "minimal", "low", "medium", "high", "xhigh"],
            ))
        }
    }))
}
