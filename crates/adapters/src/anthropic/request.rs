//! Provider encode: a canonical request into an Anthropic Messages API body.
//!
//! - `system` and `developer` messages (wherever they are) become the `system` text
//!   blocks, in order; Anthropic has no instruction turns inside `messages`.
//! - Turns are merged so that `user` and `assistant` alternate, as Anthropic requires:
//!   consecutive tool results become `tool_result` blocks of one user turn (ahead of
//!   any user text merged into it, since Anthropic wants results first). Messages
//!   left with no content (an empty assistant turn) are skipped.
//! - Assistant history: `thinking` blocks (only those with a signature: Anthropic
//!   verifies it, so reasoning from other providers cannot be sent back) and
//!   `redacted_thinking` blocks first, as given, then text, then `tool_use` blocks
//!   whose `input` is the call's arguments JSON (which must be an object).
//! - Images by URL or base64; PDF and plain-text files as `document` blocks.
//! - `stop` → `stop_sequences`, `user` → `metadata.user_id`, `top_k` (an extra field)
//!   passed through; `tools`, `tool_choice` (`required` → `any`) and
//!   `parallel_tool_calls: false` → `disable_parallel_tool_use`.
//! - `max_tokens` is required by Anthropic: [`DEFAULT_MAX_TOKENS`] when not given.
//! - `reasoning_effort` → extended thinking; see [`thinking_budget`].
//! - `response_format` → a forced tool named [`JSON_TOOL_NAME`] whose input schema is
//!   the requested schema; its input comes back as the text of the answer.
//!
//! Refused by name (400, or dropped with `drop_params`): `n` > 1, `seed`, audio input,
//! OpenAI file ids, images outside user and tool turns, any unknown top-level field
//! (`logprobs`, `top_logprobs`, `logit_bias`, `frequency_penalty`,
//! `presence_penalty`, … — except when sent with their neutral value, which asks for
//! nothing), and combinations Anthropic rejects with thinking on (`temperature` other
//! than 1, `top_p` below 0.95, `top_k`, forced tool use). Thinking is left off, silently, for a request that continues
//! a tool-use turn whose assistant message came back without its signed thinking
//! (Anthropic would reject it; see `thinking`). Dropped silently,
//! having no Anthropic equivalent that works on every model: message `name`, image
//! `detail`, tool `strict` (Claude follows tool schemas without it).

use super::{DEFAULT_MAX_TOKENS, JSON_TOOL_NAME};
use crate::adapter::AdapterError;
use crate::canonical::{
    ChatRequest, ContentPart, ImageSource, Message, ReasoningEffort, ResponseFormat, Role,
    ToolChoice,
};
use crate::support;
use base64::Engine as _;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::borrow::Cow;

const PROVIDER: &str = "Anthropic";

/// Anthropic's smallest thinking budget.
const MIN_THINKING_BUDGET: u32 = 1024;

/// The thinking budget (`thinking.budget_tokens`) for a `reasoning_effort`:
///
/// | effort | budget |
/// |---|---|
/// | `none` | thinking off |
/// | `minimal` | 1024 (Anthropic's minimum) |
/// | `low` | 2048 |
/// | `medium` | 8192 |
/// | `high` | 16384 |
/// | `xhigh` | 32768 |
///
/// Anthropic advises starting at the minimum and raising the budget for harder
/// tasks; each level doubles or quadruples the last. Thinking counts against
/// `max_tokens` (as reasoning counts against OpenAI's `max_completion_tokens`), so:
/// with the client's `max_tokens`, the budget is cut to fit below it (and thinking is
/// refused when it leaves less than the 1024 minimum); without one, `max_tokens` is
/// the budget plus [`DEFAULT_MAX_TOKENS`] for the answer. Models with a 32k output
/// cap need the client's `max_tokens` for `xhigh`.
pub fn thinking_budget(effort: ReasoningEffort) -> Option<u32> {
    match effort {
        ReasoningEffort::None => None,
        ReasoningEffort::Minimal => Some(MIN_THINKING_BUDGET),
        ReasoningEffort::Low => Some(2048),
        ReasoningEffort::Medium => Some(8192),
        ReasoningEffort::High => Some(16384),
        ReasoningEffort::Xhigh => Some(32768),
    }
}

/// Top-level extras that ask for nothing when sent with their neutral value
/// (`false`, `0`, `{}`), as some SDKs do by default: accepted and not forwarded.
const NO_OP_WHEN_NEUTRAL: &[&str] = &[
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "frequency_penalty",
    "presence_penalty",
];

fn is_neutral(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Null => true,
        Value::String(_) => false,
    }
}

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Block<'a>>,
    messages: Vec<Turn<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Serialize)]
struct Turn<'a> {
    role: &'static str,
    content: Vec<Block<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: &'a str,
    },
    Image {
        source: Source<'a>,
    },
    Document {
        source: Source<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<&'a str>,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Box<RawValue>,
    },
    ToolResult {
        tool_use_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<ToolResultContent<'a>>,
    },
}

impl Block<'_> {
    fn is_tool_result(&self) -> bool {
        matches!(self, Block::ToolResult { .. })
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Source<'a> {
    Url {
        url: &'a str,
    },
    Base64 {
        media_type: &'a str,
        data: &'a str,
    },
    Text {
        media_type: &'static str,
        data: String,
    },
}

#[derive(Serialize)]
#[serde(untagged)]
enum ToolResultContent<'a> {
    Text(String),
    Blocks(Vec<Block<'a>>),
}

#[derive(Serialize)]
struct Metadata<'a> {
    user_id: &'a str,
}

#[derive(Serialize)]
struct WireTool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<Cow<'a, str>>,
    input_schema: Cow<'a, Value>,
}

#[derive(Serialize)]
struct WireToolChoice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disable_parallel_tool_use: bool,
}

#[derive(Serialize)]
struct Thinking {
    #[serde(rename = "type")]
    kind: &'static str,
    budget_tokens: u32,
}

/// The forced tool standing for `response_format`.
struct JsonTool<'a> {
    description: Cow<'a, str>,
    schema: Cow<'a, Value>,
}

/// Encodes `req` as an Anthropic Messages API body for `upstream_model`.
pub fn encode_request(req: &ChatRequest, upstream_model: &str) -> Result<Vec<u8>, AdapterError> {
    let known: Vec<&str> = std::iter::once("top_k")
        .chain(
            NO_OP_WHEN_NEUTRAL
                .iter()
                .copied()
                .filter(|k| req.extra.get(*k).is_some_and(is_neutral)),
        )
        .collect();
    support::check_extra(req, &known, PROVIDER)?;
    support::check_message_extra(req, PROVIDER)?;
    if req.n.is_some_and(|n| n > 1) {
        support::refuse(req, "n", PROVIDER, "it returns one choice per request")?;
    }
    if req.seed.is_some() {
        support::refuse(req, "seed", PROVIDER, "it has no deterministic sampling")?;
    }
    for (i, t) in req.tools.iter().enumerate() {
        if t.name == JSON_TOOL_NAME {
            return Err(support::unsupported(
                &format!("tools[{i}].function.name"),
                PROVIDER,
                "the gateway reserves this tool name for `response_format`",
            ));
        }
    }

    let json_tool = json_tool(req)?;
    let has_tools = !req.tools.is_empty() || json_tool.is_some();
    let messages = turns(req)?;
    let budget = thinking(req, json_tool.is_some(), &messages)?;
    let sampling = sampling(req, budget.is_some())?;
    let (max_tokens, thinking) = match (budget, req.max_tokens) {
        (None, m) => (m.unwrap_or(DEFAULT_MAX_TOKENS), None),
        (Some(b), Some(m)) => (m, Some(b.min(m.saturating_sub(1)))),
        (Some(b), None) => (b.saturating_add(DEFAULT_MAX_TOKENS), Some(b)),
    };

    let mut tools: Vec<WireTool<'_>> = req
        .tools
        .iter()
        .map(|t| WireTool {
            name: &t.name,
            description: t.description.as_deref().map(Cow::Borrowed),
            input_schema: match &t.parameters {
                Some(p) => Cow::Borrowed(p),
                None => Cow::Owned(json!({"type": "object", "properties": {}})),
            },
        })
        .collect();
    let tool_choice = tool_choice(req, json_tool.is_some());
    if let Some(j) = json_tool {
        tools.push(WireTool {
            name: JSON_TOOL_NAME,
            description: Some(j.description),
            input_schema: j.schema,
        });
    }

    let body = Body {
        model: upstream_model,
        max_tokens,
        system: system_blocks(req)?,
        messages,
        stop_sequences: &req.stop,
        temperature: sampling.temperature,
        top_p: sampling.top_p,
        top_k: sampling.top_k,
        metadata: req.user.as_deref().map(|user_id| Metadata { user_id }),
        tool_choice: if has_tools { tool_choice } else { None },
        tools,
        thinking: thinking.map(|budget_tokens| Thinking {
            kind: "enabled",
            budget_tokens,
        }),
        stream: req.stream,
    };
    // Cannot fail: every map key is a string and JSON numbers are finite.
    serde_json::to_vec(&body)
        .map_err(|e| AdapterError::BadResponse(format!("could not encode the request: {e}")))
}

/// The thinking budget to send, if `reasoning_effort` asks for one Anthropic can take
/// with the rest of the request (see [`thinking_budget`]).
fn thinking(
    req: &ChatRequest,
    json_tool: bool,
    turns: &[Turn<'_>],
) -> Result<Option<u32>, AdapterError> {
    let Some(budget) = req.reasoning_effort.and_then(thinking_budget) else {
        return Ok(None);
    };
    if continues_unsigned_tool_turn(turns) {
        // Anthropic rejects thinking that resumes a tool-use turn without that turn's
        // signed thinking. OpenAI clients that do not echo `thinking_blocks` send
        // exactly that in every agent loop, so rather than fail the loop, this one
        // request goes without thinking (the turn completes; thinking resumes with
        // the next user turn).
        return Ok(None);
    }
    let forced = json_tool
        || (!req.tools.is_empty()
            && matches!(
                req.tool_choice,
                Some(ToolChoice::Required | ToolChoice::Function { .. })
            ));
    let why = if forced {
        "extended thinking cannot be combined with a forced tool call (`tool_choice` \
         `required` or a named function, or `response_format`, which the gateway \
         implements as a forced tool call)"
    } else if req.max_tokens.is_some_and(|m| m <= MIN_THINKING_BUDGET) {
        "thinking needs `max_tokens` above its 1024-token minimum budget"
    } else {
        return Ok(Some(budget));
    };
    support::refuse(req, "reasoning_effort", PROVIDER, why)?;
    Ok(None)
}

struct Sampling<'a> {
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<&'a Value>,
}

/// Sampling parameters, less those Anthropic rejects with thinking on (refused by
/// name unless dropped).
fn sampling(req: &ChatRequest, thinking: bool) -> Result<Sampling<'_>, AdapterError> {
    let mut s = Sampling {
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.extra.get("top_k"),
    };
    if !thinking {
        return Ok(s);
    }
    if s.temperature.is_some_and(|t| t != 1.0) {
        support::refuse(
            req,
            "temperature",
            PROVIDER,
            "with thinking on (`reasoning_effort`), only the default temperature is allowed",
        )?;
        s.temperature = None;
    }
    if s.top_p.is_some_and(|p| p < 0.95) {
        support::refuse(
            req,
            "top_p",
            PROVIDER,
            "with thinking on (`reasoning_effort`), `top_p` must be at least 0.95",
        )?;
        s.top_p = None;
    }
    if s.top_k.is_some() {
        support::refuse(
            req,
            "top_k",
            PROVIDER,
            "with thinking on (`reasoning_effort`), `top_k` is not allowed",
        )?;
        s.top_k = None;
    }
    Ok(s)
}

/// Whether the request goes on with a tool-use turn (it ends with tool results) whose
/// assistant message does not open with a thinking block. With thinking on, Anthropic
/// rejects that: a turn keeps one thinking configuration, and the model's signed
/// reasoning must come back with its tool calls.
fn continues_unsigned_tool_turn(turns: &[Turn<'_>]) -> bool {
    let [.., assistant, last] = turns else {
        return false;
    };
    last.role == "user"
        && last.content.iter().any(Block::is_tool_result)
        && assistant.role == "assistant"
        && !matches!(
            assistant.content.first(),
            Some(Block::Thinking { .. } | Block::RedactedThinking { .. })
        )
}

/// The forced tool for `response_format`, if the request asks for JSON.
fn json_tool(req: &ChatRequest) -> Result<Option<JsonTool<'_>>, AdapterError> {
    const ANSWER: &str = "Give your final answer by calling this tool: its input is the answer";
    Ok(match &req.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => Some(JsonTool {
            description: Cow::Owned(format!("{ANSWER}, as a JSON object.")),
            schema: Cow::Owned(json!({"type": "object"})),
        }),
        Some(ResponseFormat::JsonSchema {
            name,
            schema,
            description,
            ..
        }) => {
            let schema = match schema {
                None => Cow::Owned(json!({"type": "object"})),
                Some(s) => match s.get("type") {
                    Some(Value::String(t)) if t == "object" => Cow::Borrowed(s),
                    // A root with properties but no type is an object schema.
                    None if s.get("properties").is_some() => {
                        let mut s = s.clone();
                        if let Value::Object(o) = &mut s {
                            o.insert("type".into(), Value::String("object".into()));
                        }
                        Cow::Owned(s)
                    }
                    _ => {
                        support::refuse(
                            req,
                            "response_format.json_schema.schema",
                            PROVIDER,
                            "the gateway returns JSON through a tool call, whose input must \
                             be an object: the schema's root must be `\"type\": \"object\"`",
                        )?;
                        return Ok(None);
                    }
                },
            };
            let description = match description {
                Some(d) => format!("{ANSWER} (`{name}`): {d}"),
                None => format!("{ANSWER} (`{name}`), matching the input schema."),
            };
            Some(JsonTool {
                description: Cow::Owned(description),
                schema,
            })
        }
    })
}

/// `tool_choice`. With `response_format`, the answer is forced through the JSON tool:
/// alone, or beside the client's tools, by requiring some tool call (`any`), so the
/// model may still call the client's tools first, as it may on OpenAI.
fn tool_choice(req: &ChatRequest, json: bool) -> Option<WireToolChoice<'_>> {
    let disable_parallel = req.parallel_tool_calls == Some(false);
    let choice = |kind, name| {
        Some(WireToolChoice {
            kind,
            name,
            disable_parallel_tool_use: disable_parallel && kind != "none",
        })
    };
    let client_tools = !req.tools.is_empty();
    match (&req.tool_choice, json) {
        (Some(ToolChoice::Function { name }), _) => choice("tool", Some(name.as_str())),
        (Some(ToolChoice::None), true) => choice("tool", Some(JSON_TOOL_NAME)),
        (_, true) if !client_tools => choice("tool", Some(JSON_TOOL_NAME)),
        (_, true) => choice("any", None),
        (Some(ToolChoice::None), false) => choice("none", None),
        (Some(ToolChoice::Required), false) => choice("any", None),
        (Some(ToolChoice::Auto), false) => choice("auto", None),
        (None, false) if disable_parallel => choice("auto", None),
        (None, false) => None,
    }
}

/// The text of every system and developer message, one block per text part.
fn system_blocks(req: &ChatRequest) -> Result<Vec<Block<'_>>, AdapterError> {
    let mut out = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        if !matches!(m.role, Role::System | Role::Developer) {
            continue;
        }
        for (j, part) in m.content.iter().enumerate() {
            match part {
                ContentPart::Text { text } if !text.is_empty() => {
                    out.push(Block::Text { text });
                }
                ContentPart::Text { .. } => {}
                _ => support::refuse(
                    req,
                    &format!("messages[{i}].content[{j}]"),
                    PROVIDER,
                    "system instructions can only be text",
                )?,
            }
        }
    }
    Ok(out)
}

/// The conversation as alternating user and assistant turns.
fn turns(req: &ChatRequest) -> Result<Vec<Turn<'_>>, AdapterError> {
    let mut out: Vec<Turn<'_>> = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        let (role, blocks) = match m.role {
            Role::System | Role::Developer => continue,
            Role::User => ("user", user_blocks(req, i, m)?),
            Role::Tool => ("user", vec![tool_result(req, i, m)?]),
            Role::Assistant => ("assistant", assistant_blocks(req, i, m)?),
        };
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => out.push(Turn {
                role,
                content: blocks,
            }),
        }
    }
    for t in &mut out {
        if t.role == "user" {
            // Stable: results keep their order, and so does the rest.
            t.content.sort_by_key(|b| !b.is_tool_result());
        }
    }
    Ok(out)
}

fn user_blocks<'a>(
    req: &'a ChatRequest,
    i: usize,
    m: &'a Message,
) -> Result<Vec<Block<'a>>, AdapterError> {
    let mut out = Vec::with_capacity(m.content.len());
    for (j, part) in m.content.iter().enumerate() {
        let at = || format!("messages[{i}].content[{j}]");
        match part {
            ContentPart::Text { text } | ContentPart::Refusal { text } => {
                if !text.is_empty() {
                    out.push(Block::Text { text });
                }
            }
            ContentPart::Image { source, .. } => out.push(image(source)),
            ContentPart::InputAudio { .. } => support::refuse(
                req,
                &format!("{}.input_audio", at()),
                PROVIDER,
                "it takes no audio input",
            )?,
            ContentPart::File {
                data,
                file_id,
                filename,
            } => {
                if let Some(block) = document(req, &at(), data, file_id, filename)? {
                    out.push(block);
                }
            }
            // Reasoning belongs to assistant turns; in a user turn it means nothing.
            ContentPart::Thinking { .. } | ContentPart::RedactedThinking { .. } => {}
        }
    }
    Ok(out)
}

fn image(source: &ImageSource) -> Block<'_> {
    Block::Image {
        source: match source {
            ImageSource::Url { url } => Source::Url { url },
            ImageSource::Base64 { media_type, data } => Source::Base64 { media_type, data },
        },
    }
}

/// A `file` part as a `document` block: PDFs as base64, plain text as text.
fn document<'a>(
    req: &ChatRequest,
    at: &str,
    data: &'a Option<String>,
    file_id: &Option<String>,
    filename: &'a Option<String>,
) -> Result<Option<Block<'a>>, AdapterError> {
    let Some(data) = data else {
        if file_id.is_some() {
            support::refuse(
                req,
                &format!("{at}.file.file_id"),
                PROVIDER,
                "OpenAI file ids mean nothing to it; send the file as `file_data`",
            )?;
        }
        return Ok(None);
    };
    // OpenAI's `file_data` is a data URL; bare base64 is a PDF (the only file type
    // OpenAI's chat input takes).
    let (media_type, b64) = match data.strip_prefix("data:").and_then(|r| r.split_once(',')) {
        Some((meta, b64)) => (meta.strip_suffix(";base64").unwrap_or(meta), b64),
        None => ("application/pdf", data.as_str()),
    };
    let title = filename.as_deref();
    let source = match media_type {
        "application/pdf" => Source::Base64 {
            media_type: "application/pdf",
            data: b64,
        },
        "text/plain" => {
            let text = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            match text {
                Some(data) => Source::Text {
                    media_type: "text/plain",
                    data,
                },
                None => {
                    support::refuse(
                        req,
                        &format!("{at}.file.file_data"),
                        PROVIDER,
                        "the text/plain file is not base64 of UTF-8 text",
                    )?;
                    return Ok(None);
                }
            }
        }
        other => {
            support::refuse(
                req,
                &format!("{at}.file.file_data"),
                PROVIDER,
                &format!("it reads PDF and plain-text documents, not `{other}`"),
            )?;
            return Ok(None);
        }
    };
    Ok(Some(Block::Document { source, title }))
}

fn tool_result<'a>(
    req: &'a ChatRequest,
    i: usize,
    m: &'a Message,
) -> Result<Block<'a>, AdapterError> {
    let Some(id) = m.tool_call_id.as_deref() else {
        return Err(support::unsupported(
            &format!("messages[{i}].tool_call_id"),
            PROVIDER,
            "a tool result must name the call it answers",
        ));
    };
    let all_text = m
        .content
        .iter()
        .all(|p| matches!(p, ContentPart::Text { .. }));
    let content = if all_text {
        let text = m.joined_text();
        (!text.is_empty()).then_some(ToolResultContent::Text(text))
    } else {
        let mut blocks = Vec::with_capacity(m.content.len());
        for (j, part) in m.content.iter().enumerate() {
            match part {
                ContentPart::Text { text } if !text.is_empty() => {
                    blocks.push(Block::Text { text });
                }
                ContentPart::Text { .. } => {}
                ContentPart::Image { source, .. } => blocks.push(image(source)),
                _ => support::refuse(
                    req,
                    &format!("messages[{i}].content[{j}]"),
                    PROVIDER,
                    "a tool result holds only text and images",
                )?,
            }
        }
        (!blocks.is_empty()).then_some(ToolResultContent::Blocks(blocks))
    };
    Ok(Block::ToolResult {
        tool_use_id: id,
        content,
    })
}

fn assistant_blocks<'a>(
    req: &'a ChatRequest,
    i: usize,
    m: &'a Message,
) -> Result<Vec<Block<'a>>, AdapterError> {
    let mut out = Vec::with_capacity(m.content.len() + m.tool_calls.len());
    for part in &m.content {
        match part {
            ContentPart::Thinking {
                text,
                signature: Some(signature),
            } if !signature.is_empty() => out.push(Block::Thinking {
                thinking: text,
                signature,
            }),
            ContentPart::RedactedThinking { data } => out.push(Block::RedactedThinking { data }),
            _ => {}
        }
    }
    for (j, part) in m.content.iter().enumerate() {
        match part {
            ContentPart::Text { text } | ContentPart::Refusal { text } => {
                if !text.is_empty() {
                    out.push(Block::Text { text });
                }
            }
            ContentPart::Thinking { .. } | ContentPart::RedactedThinking { .. } => {}
            ContentPart::Image { .. }
            | ContentPart::InputAudio { .. }
            | ContentPart::File { .. } => support::refuse(
                req,
                &format!("messages[{i}].content[{j}]"),
                PROVIDER,
                "assistant turns hold only text, thinking and tool calls",
            )?,
        }
    }
    for (j, call) in m.tool_calls.iter().enumerate() {
        out.push(Block::ToolUse {
            id: &call.id,
            name: &call.name,
            input: tool_input(i, j, &call.arguments)?,
        });
    }
    Ok(out)
}

/// A call's arguments as the `input` object, kept as raw JSON (key order and all).
/// Empty arguments, as some clients send for a call without parameters, are `{}`.
fn tool_input(i: usize, j: usize, arguments: &str) -> Result<Box<RawValue>, AdapterError> {
    let trimmed = arguments.trim();
    let raw = if trimmed.is_empty() { "{}" } else { trimmed };
    match RawValue::from_string(raw.to_string()) {
        Ok(v) if raw.starts_with('{') => Ok(v),
        _ => Err(support::unsupported(
            &format!("messages[{i}].tool_calls[{j}].function.arguments"),
            PROVIDER,
            "the arguments must be a JSON object, which Anthropic takes as the tool call's `input`",
        )),
    }
}
