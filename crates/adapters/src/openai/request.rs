//! Ingress decode: an OpenAI Chat Completions request body into the canonical model.
//!
//! The body is walked as a JSON value so that every error can name the offending
//! field the way OpenAI does (`param`, e.g. `messages[2].role`). Top-level fields the
//! canonical model does not know are kept, untouched, in [`ChatRequest::extra`].

use super::fastpath::RequestError;
use crate::canonical::{
    ChatRequest, ContentPart, ImageSource, Message, ReasoningEffort, ResponseFormat, Role, Tool,
    ToolCall, ToolChoice,
};
use serde_json::{Map, Value};

type Result<T> = std::result::Result<T, RequestError>;

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

/// Decodes an OpenAI Chat Completions request body.
pub fn decode_request(body: &[u8]) -> Result<ChatRequest> {
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
        None => return Err(err("model", "you must provide a model parameter")),
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(Value::String(_)) => return Err(err("model", "`model` must not be empty")),
        Some(other) => return Err(invalid_type("model", "a string", &other)),
    };
    let messages = match take(&mut obj, "messages") {
        None => return Err(missing("messages")),
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(err(
                "messages",
                "'messages' must contain at least one message",
            ))
        }
        Some(Value::Array(a)) => a
            .into_iter()
            .enumerate()
            .map(|(i, m)| decode_message(i, m))
            .collect::<Result<Vec<_>>>()?,
        Some(other) => return Err(invalid_type("messages", "an array", &other)),
    };
    let tools = match take(&mut obj, "tools") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .into_iter()
            .enumerate()
            .map(|(i, t)| decode_tool(i, t))
            .collect::<Result<Vec<_>>>()?,
        Some(other) => return Err(invalid_type("tools", "an array", &other)),
    };
    let tool_choice = take(&mut obj, "tool_choice")
        .map(decode_tool_choice)
        .transpose()?;
    let parallel_tool_calls = opt_bool(&mut obj, "", "parallel_tool_calls")?;
    let response_format = take(&mut obj, "response_format")
        .map(decode_response_format)
        .transpose()?;
    let reasoning_effort = opt_string(&mut obj, "", "reasoning_effort")?
        .map(|s| decode_effort(&s))
        .transpose()?;
    // `max_completion_tokens` supersedes the deprecated `max_tokens`.
    let max_completion_tokens = opt_u32(&mut obj, "max_completion_tokens")?;
    let max_tokens = opt_u32(&mut obj, "max_tokens")?;
    let temperature = opt_f64(&mut obj, "temperature")?;
    let top_p = opt_f64(&mut obj, "top_p")?;
    let stop = match take(&mut obj, "stop") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(a)) => a
            .into_iter()
            .enumerate()
            .map(|(i, s)| match s {
                Value::String(s) => Ok(s),
                other => Err(invalid_type(&format!("stop[{i}]"), "a string", &other)),
            })
            .collect::<Result<Vec<_>>>()?,
        Some(other) => {
            return Err(invalid_type(
                "stop",
                "a string or an array of strings",
                &other,
            ))
        }
    };
    let seed = match take(&mut obj, "seed") {
        None => None,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(n) => Some(n),
            None => {
                return Err(err(
                    "seed",
                    format!("Invalid 'seed': expected an integer, but got {n} instead."),
                ))
            }
        },
        Some(other) => return Err(invalid_type("seed", "an integer", &other)),
    };
    let n = opt_u32(&mut obj, "n")?;
    // The gateway's own switch: never forwarded.
    let drop_params = opt_bool(&mut obj, "", "drop_params")?.unwrap_or(false);
    let user = opt_string(&mut obj, "", "user")?;
    let stream = opt_bool(&mut obj, "", "stream")?.unwrap_or(false);
    // `stream_options` shape the stream the gateway itself writes to the client, so
    // only `include_usage` is kept; nothing of it is meant for the upstream.
    let include_usage = match take(&mut obj, "stream_options") {
        None => false,
        Some(Value::Object(mut o)) => {
            opt_bool(&mut o, "stream_options", "include_usage")?.unwrap_or(false)
        }
        Some(other) => return Err(invalid_type("stream_options", "an object", &other)),
    };

    Ok(ChatRequest {
        model,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format,
        reasoning_effort,
        max_tokens: max_completion_tokens.or(max_tokens),
        temperature,
        top_p,
        stop,
        seed,
        n,
        user,
        stream,
        include_usage,
        drop_params,
        extra: obj,
    })
}

/// One of an assistant message's `thinking_blocks`:
/// `{"type":"thinking","thinking","signature"}` or `{"type":"redacted_thinking","data"}`.
fn decode_thinking_block(at: &str, value: Value) -> Result<ContentPart> {
    let Value::Object(mut b) = value else {
        return Err(invalid_type(at, "an object", &value));
    };
    match req_string(&mut b, at, "type")?.as_str() {
        "thinking" => Ok(ContentPart::Thinking {
            text: opt_string(&mut b, at, "thinking")?.unwrap_or_default(),
            signature: opt_string(&mut b, at, "signature")?,
        }),
        "redacted_thinking" => Ok(ContentPart::RedactedThinking {
            data: req_string(&mut b, at, "data")?,
        }),
        other => Err(invalid_value(
            &format!("{at}.type"),
            other,
            &["thinking", "redacted_thinking"],
        )),
    }
}

const ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool"];

fn decode_message(i: usize, value: Value) -> Result<Message> {
    let at = format!("messages[{i}]");
    let Value::Object(mut m) = value else {
        return Err(invalid_type(&at, "an object", &value));
    };
    let role_param = format!("{at}.role");
    let role = match take(&mut m, "role") {
        None => return Err(missing(&role_param)),
        Some(Value::String(s)) => match s.as_str() {
            "system" => Role::System,
            "developer" => Role::Developer,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            "function" => return Err(err(
                role_param,
                "the legacy 'function' role is not supported; send tool results as 'tool' messages",
            )),
            other => return Err(invalid_value(&role_param, other, ROLES)),
        },
        Some(other) => return Err(invalid_type(&role_param, "a string", &other)),
    };

    let content_param = format!("{at}.content");
    let mut content = match take(&mut m, "content") {
        None if role == Role::Assistant => Vec::new(),
        None => return Err(missing(&content_param)),
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(Value::String(s)) => vec![ContentPart::Text { text: s }],
        Some(Value::Array(parts)) => parts
            .into_iter()
            .enumerate()
            .map(|(j, p)| decode_part(&format!("{content_param}[{j}]"), p))
            .collect::<Result<Vec<_>>>()?,
        Some(other) => {
            return Err(invalid_type(
                &content_param,
                "a string or an array of content parts",
                &other,
            ))
        }
    };
    let name = opt_string(&mut m, &at, "name")?;

    let mut tool_calls = Vec::new();
    let mut tool_call_id = None;
    match role {
        Role::Assistant => {
            let reasoning = opt_string(&mut m, &at, "reasoning_content")?;
            // `thinking_blocks` (as the gateway returns them) carry the signatures a
            // provider needs to verify its own reasoning on the next turn; they supersede
            // the plain `reasoning_content` text.
            let blocks = match take(&mut m, "thinking_blocks") {
                None => Vec::new(),
                Some(Value::Array(a)) => a
                    .into_iter()
                    .enumerate()
                    .map(|(j, b)| decode_thinking_block(&format!("{at}.thinking_blocks[{j}]"), b))
                    .collect::<Result<Vec<_>>>()?,
                Some(other) => {
                    return Err(invalid_type(
                        &format!("{at}.thinking_blocks"),
                        "an array",
                        &other,
                    ))
                }
            };
            if !blocks.is_empty() {
                content.splice(0..0, blocks);
            } else if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
                content.insert(
                    0,
                    ContentPart::Thinking {
                        text,
                        signature: None,
                    },
                );
            }
            if let Some(text) = opt_string(&mut m, &at, "refusal")? {
                content.push(ContentPart::Refusal { text });
            }
            match take(&mut m, "tool_calls") {
                None => {}
                Some(Value::Array(calls)) => {
                    for (j, call) in calls.into_iter().enumerate() {
                        tool_calls.push(decode_tool_call(&format!("{at}.tool_calls[{j}]"), call)?);
                    }
                }
                Some(other) => {
                    return Err(invalid_type(
                        &format!("{at}.tool_calls"),
                        "an array",
                        &other,
                    ))
                }
            }
        }
        Role::Tool => tool_call_id = Some(req_string(&mut m, &at, "tool_call_id")?),
        _ => {}
    }
    // What is left is not modelled (for this role): kept for the encoder to write back.
    // An explicit `null` means absent, as above, so it is not kept (a client echoing
    // `"audio": null` back should not be refused by an adapter without audio).
    m.retain(|_, v| !v.is_null());

    Ok(Message {
        role,
        content,
        name,
        tool_calls,
        tool_call_id,
        extra: m,
    })
}

const PART_TYPES: &[&str] = &["text", "image_url", "input_audio", "file", "refusal"];

fn object(value: Option<Value>, param: &str) -> Result<Map<String, Value>> {
    match value {
        None => Err(missing(param)),
        Some(Value::Object(o)) => Ok(o),
        Some(other) => Err(invalid_type(param, "an object", &other)),
    }
}

fn decode_part(at: &str, value: Value) -> Result<ContentPart> {
    let Value::Object(mut p) = value else {
        return Err(invalid_type(at, "an object", &value));
    };
    let kind = req_string(&mut p, at, "type")?;
    Ok(match kind.as_str() {
        "text" => ContentPart::Text {
            text: req_string(&mut p, at, "text")?,
        },
        "refusal" => ContentPart::Refusal {
            text: req_string(&mut p, at, "refusal")?,
        },
        "image_url" => {
            let param = format!("{at}.image_url");
            match take(&mut p, "image_url") {
                // Some clients send the URL directly.
                Some(Value::String(url)) => ContentPart::Image {
                    source: ImageSource::from_url(&url),
                    detail: None,
                },
                other => {
                    let mut img = object(other, &param)?;
                    let url = req_string(&mut img, &param, "url")?;
                    ContentPart::Image {
                        source: ImageSource::from_url(&url),
                        detail: opt_string(&mut img, &param, "detail")?,
                    }
                }
            }
        }
        "input_audio" => {
            let param = format!("{at}.input_audio");
            let mut audio = object(take(&mut p, "input_audio"), &param)?;
            ContentPart::InputAudio {
                data: req_string(&mut audio, &param, "data")?,
                format: req_string(&mut audio, &param, "format")?,
            }
        }
        "file" => {
            let param = format!("{at}.file");
            let mut file = object(take(&mut p, "file"), &param)?;
            let data = opt_string(&mut file, &param, "file_data")?;
            let file_id = opt_string(&mut file, &param, "file_id")?;
            if data.is_none() && file_id.is_none() {
                return Err(err(
                    param,
                    "a file part needs either 'file_data' or 'file_id'",
                ));
            }
            ContentPart::File {
                data,
                file_id,
                filename: opt_string(&mut file, &param, "filename")?,
            }
        }
        other => return Err(invalid_value(&format!("{at}.type"), other, PART_TYPES)),
    })
}

fn decode_tool_call(at: &str, value: Value) -> Result<ToolCall> {
    let Value::Object(mut c) = value else {
        return Err(invalid_type(at, "an object", &value));
    };
    if let Some(kind) = opt_string(&mut c, at, "type")? {
        if kind != "function" {
            return Err(invalid_value(&format!("{at}.type"), &kind, &["function"]));
        }
    }
    let id = req_string(&mut c, at, "id")?;
    let fparam = format!("{at}.function");
    let mut f = object(take(&mut c, "function"), &fparam)?;
    let name = req_string(&mut f, &fparam, "name")?;
    let arguments = match take(&mut f, "arguments") {
        None => String::new(),
        Some(Value::String(s)) => s,
        // Lenient: some clients send the arguments as a JSON object.
        Some(v @ Value::Object(_)) => v.to_string(),
        Some(other) => {
            return Err(invalid_type(
                &format!("{fparam}.arguments"),
                "a string",
                &other,
            ))
        }
    };
    Ok(ToolCall {
        id,
        name,
        arguments,
    })
}

fn decode_tool(i: usize, value: Value) -> Result<Tool> {
    let at = format!("tools[{i}]");
    let Value::Object(mut t) = value else {
        return Err(invalid_type(&at, "an object", &value));
    };
    if let Some(kind) = opt_string(&mut t, &at, "type")? {
        if kind != "function" {
            return Err(err(
                format!("{at}.type"),
                format!("tools of type '{kind}' are not supported here; only 'function' tools are"),
            ));
        }
    }
    let fparam = format!("{at}.function");
    let mut f = object(take(&mut t, "function"), &fparam)?;
    let name = req_string(&mut f, &fparam, "name")?;
    let description = opt_string(&mut f, &fparam, "description")?;
    let parameters = match take(&mut f, "parameters") {
        None => None,
        Some(v @ Value::Object(_)) => Some(v),
        Some(other) => {
            return Err(invalid_type(
                &format!("{fparam}.parameters"),
                "an object",
                &other,
            ))
        }
    };
    let strict = opt_bool(&mut f, &fparam, "strict")?;
    Ok(Tool {
        name,
        description,
        parameters,
        strict,
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
                    format!("tool_choice of type '{kind}' is not supported here; use 'function'"),
                ));
            }
            let mut f = object(take(&mut o, "function"), "tool_choice.function")?;
            Ok(ToolChoice::Function {
                name: req_string(&mut f, "tool_choice.function", "name")?,
            })
        }
        other => Err(invalid_type(P, "a string or an object", &other)),
    }
}

fn decode_response_format(value: Value) -> Result<ResponseFormat> {
    const P: &str = "response_format";
    let Value::Object(mut o) = value else {
        return Err(invalid_type(P, "an object", &value));
    };
    let kind = req_string(&mut o, P, "type")?;
    Ok(match kind.as_str() {
        "text" => ResponseFormat::Text,
        "json_object" => ResponseFormat::JsonObject,
        "json_schema" => {
            const S: &str = "response_format.json_schema";
            let mut s = object(take(&mut o, "json_schema"), S)?;
            ResponseFormat::JsonSchema {
                name: req_string(&mut s, S, "name")?,
                schema: match take(&mut s, "schema") {
                    None => None,
                    Some(v @ Value::Object(_)) => Some(v),
                    Some(other) => {
                        return Err(invalid_type(&format!("{S}.schema"), "an object", &other))
                    }
                },
                strict: opt_bool(&mut s, S, "strict")?,
                description: opt_string(&mut s, S, "description")?,
            }
        }
        other => {
            return Err(invalid_value(
                "response_format.type",
                other,
                &["text", "json_object", "json_schema"],
            ))
        }
    })
}

fn decode_effort(s: &str) -> Result<ReasoningEffort> {
    Ok(match s {
        "none" => ReasoningEffort::None,
        "minimal" => ReasoningEffort::Minimal,
        "low" => ReasoningEffort::Low,
        "medium" => ReasoningEffort::Medium,
        "high" => ReasoningEffort::High,
        "xhigh" => ReasoningEffort::Xhigh,
        other => {
            return Err(invalid_value(
                "reasoning_effort",
                other,
                &["none", "minimal", "low", "medium", "high", "xhigh"],
            ))
        }
    })
}
