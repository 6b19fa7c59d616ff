//! Provider encode: a canonical request → a Converse / ConverseStream request body.
//!
//! What maps where:
//! - system and developer messages → `system: [{text}]`, wherever they stand;
//! - user / assistant / tool messages → `messages`, strictly alternating: consecutive
//!   messages of one role are merged, and tool results (a `user` turn on Bedrock) join
//!   the user turn around them. Empty text is never sent (Bedrock rejects empty text
//!   blocks); a message left with no content is dropped, its neighbours merging;
//! - images → `{image: {format, source: {bytes}}}` from base64 (`data:` URLs); a remote
//!   URL is refused, since Bedrock takes bytes only (the gateway may inline URLs first);
//! - assistant tool calls → `toolUse` (the arguments parsed: `input` is JSON), tool
//!   results → `toolResult` with `[{text}]` (empty results as `[]`);
//! - thinking: passed back to Anthropic models only, and only with its signature, which
//!   they verify (`reasoningContent.reasoningText` / `redactedContent`); other models
//!   have no use for another turn's reasoning, so it is left out, as the OpenAI adapter
//!   leaves it out for OpenAI;
//! - `max_tokens`, `temperature`, `top_p`, `stop` → `inferenceConfig`;
//! - tools → `toolConfig.tools[].toolSpec`; `tool_choice` auto / required / function →
//!   `{auto:{}}` / `{any:{}}` / `{tool:{name}}`. Bedrock has no `none`: the tools are
//!   left out instead, unless the conversation already holds tool calls or results, for
//!   which Bedrock requires a `toolConfig`; then the tools are sent with no
//!   `toolChoice`, and the model may still call one. (Tool blocks in a conversation
//!   with no tools declared get a stand-in `toolSpec` per tool name for the same reason.)
//! - `response_format` json_object / json_schema → a tool named [`JSON_TOOL`] whose input
//!   schema is the format's schema, forced with `{tool:{name}}` (or `{any:{}}` when the
//!   client's own tools may be called too, so either a real call or the JSON answer
//!   comes); its input is unwrapped back into text by the response parser and the
//!   stream decoder, with `finish_reason: stop`. The name is therefore reserved;
//! - `reasoning_effort` → `additionalModelRequestFields`, per model family (see
//!   [`Thinking`]); `top_k` (an extra) → `additionalModelRequestFields.top_k` for
//!   Anthropic models.
//!
//! Refused by name unless `drop_params`: `n > 1`, `seed`, `parallel_tool_calls: false`,
//! audio and file parts, and every field the canonical model does not know (`logprobs`,
//! `logit_bias`, `frequency_penalty`, `presence_penalty`, ...). `user` and message
//! `name`s are informational and have no Converse field: they are not sent.

use crate::adapter::AdapterError;
use crate::canonical::{
    ChatRequest, ContentPart, ImageSource, Message, ReasoningEffort, ResponseFormat, Role,
    ToolChoice,
};
use crate::support;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

const PROVIDER: &str = "Bedrock";

/// The tool that carries `response_format` (see the module docs). A client tool of this
/// name is refused.
pub const JSON_TOOL: &str = "json_response";

/// Whether `model_id` is an Anthropic Claude model (`anthropic.claude-...`, a regional
/// inference profile `us.anthropic...` or a foundation-model ARN).
pub(crate) fn is_anthropic(model_id: &str) -> bool {
    model_id.contains("anthropic.")
}

/// Whether `model_id` is Amazon Nova 2 (`amazon.nova-2-lite-v1:0`, `us.amazon.nova-2-...`).
fn is_nova2(model_id: &str) -> bool {
    model_id.contains("nova-2")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest<'a> {
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<SystemBlock<'a>>,
    #[serde(skip_serializing_if = "InferenceConfig::is_empty")]
    inference_config: InferenceConfig<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'a>>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    additional_model_request_fields: Map<String, Value>,
}

#[derive(Serialize)]
struct SystemBlock<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: Vec<Block<'a>>,
}

/// A `ContentBlock` union member: serialises as `{"text": ...}`, `{"toolUse": ...}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Block<'a> {
    Text(&'a str),
    Image(ImageBlock<'a>),
    ToolUse(ToolUse<'a>),
    ToolResult(ToolResult<'a>),
    ReasoningContent(Reasoning<'a>),
}

#[derive(Serialize)]
struct ImageBlock<'a> {
    format: &'static str,
    source: ImageBytes<'a>,
}

#[derive(Serialize)]
struct ImageBytes<'a> {
    /// Base64: the JSON form of a blob.
    bytes: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolUse<'a> {
    tool_use_id: &'a str,
    name: &'a str,
    input: &'a RawValue,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolResult<'a> {
    tool_use_id: &'a str,
    content: Vec<ToolResultBlock<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum ToolResultBlock<'a> {
    Text(&'a str),
    Image(ImageBlock<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Reasoning<'a> {
    ReasoningText {
        text: &'a str,
        signature: &'a str,
    },
    /// Base64 of the encrypted reasoning.
    RedactedContent(&'a str),
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<&'a str>,
}

impl InferenceConfig<'_> {
    fn is_empty(&self) -> bool {
        self.max_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.stop_sequences.is_empty()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'a> {
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireTool<'a> {
    tool_spec: ToolSpec<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolSpec<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: InputSchema<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

#[derive(Serialize)]
struct InputSchema<'a> {
    json: Cow<'a, Value>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum WireToolChoice<'a> {
    Auto(Empty),
    Any(Empty),
    Tool { name: &'a str },
}

/// How `reasoning_effort` maps, per model family:
/// - Anthropic Claude: `{"thinking": {"type": "enabled", "budget_tokens": N}}` with N =
///   1024 (minimal), 2048 (low), 8192 (medium), 16384 (high), 32768 (xhigh). Claude
///   needs `max_tokens` above the budget: a smaller client `max_tokens` lowers the budget
///   to `max_tokens - 1` (refused below 1025); with no `max_tokens`, `maxTokens` is set
///   to the budget + 4096 so the answer has room. Claude cannot force a tool while
///   thinking, so thinking together with `response_format` is refused.
/// - Amazon Nova 2: `{"reasoningConfig": {"type": "enabled", "maxReasoningEffort": E}}`
///   with E = low (minimal, low), medium, high (high, xhigh).
/// - `none`: nothing is sent (thinking is off by default on both).
/// - any other model: refused (Bedrock has no common reasoning switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Thinking {
    Off,
    Budget(u32),
    NovaEffort(&'static str),
}

fn anthropic_budget(effort: ReasoningEffort) -> u32 {
    match effort {
        ReasoningEffort::None | ReasoningEffort::Minimal => 1024,
        ReasoningEffort::Low => 2048,
        ReasoningEffort::Medium => 8192,
        ReasoningEffort::High => 16384,
        ReasoningEffort::Xhigh => 32768,
    }
}

fn thinking(
    req: &ChatRequest,
    model_id: &str,
    forced_tool: bool,
) -> Result<Thinking, AdapterError> {
    let effort = match req.reasoning_effort {
        None | Some(ReasoningEffort::None) => return Ok(Thinking::Off),
        Some(e) => e,
    };
    if is_anthropic(model_id) {
        if forced_tool {
            support::refuse(
                req,
                "reasoning_effort",
                PROVIDER,
                "Claude cannot think while a tool is forced, and `response_format` is \
                 carried by a forced tool on Bedrock",
            )?;
            return Ok(Thinking::Off);
        }
        let mut budget = anthropic_budget(effort);
        if let Some(max) = req.max_tokens {
            if max <= 1024 {
                support::refuse(
                    req,
                    "reasoning_effort",
                    PROVIDER,
                    "Claude's thinking needs `max_tokens` above 1024",
                )?;
                return Ok(Thinking::Off);
            }
            budget = budget.min(max - 1);
        }
        Ok(Thinking::Budget(budget))
    } else if is_nova2(model_id) {
        let e = match effort {
            ReasoningEffort::None | ReasoningEffort::Minimal | ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High | ReasoningEffort::Xhigh => "high",
        };
        Ok(Thinking::NovaEffort(e))
    } else {
        support::refuse(
            req,
            "reasoning_effort",
            PROVIDER,
            "mapped for Anthropic Claude (`anthropic.`) and Amazon Nova 2 (`nova-2`) model ids only",
        )?;
        Ok(Thinking::Off)
    }
}

fn image_format(media_type: &str) -> Option<&'static str> {
    match media_type.to_ascii_lowercase().as_str() {
        "image/png" => Some("png"),
        "image/jpeg" | "image/jpg" => Some("jpeg"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

fn image_block<'a>(at: &str, source: &'a ImageSource) -> Result<ImageBlock<'a>, AdapterError> {
    let param = format!("{at}.image_url");
    match source {
        ImageSource::Url { .. } => Err(AdapterError::Unsupported {
            message: format!(
                "`{param}`: Bedrock takes images as bytes only, not by URL; send the image \
                 as a base64 `data:` URL (data:image/png;base64,...)"
            ),
            param,
        }),
        ImageSource::Base64 { media_type, data } => match image_format(media_type) {
            Some(format) => Ok(ImageBlock {
                format,
                source: ImageBytes { bytes: data },
            }),
            None => Err(AdapterError::Unsupported {
                message: format!(
                    "`{param}`: Bedrock takes png, jpeg, gif and webp images, not `{media_type}`"
                ),
                param,
            }),
        },
    }
}

fn unsupported_part(at: &str, what: &str) -> AdapterError {
    AdapterError::Unsupported {
        param: at.to_string(),
        message: format!("`{at}`: {what} cannot be sent to {PROVIDER} by this gateway"),
    }
}

fn tool_input<'a>(at: &str, arguments: &'a str) -> Result<&'a RawValue, AdapterError> {
    // OpenAI clients may send "" for a call without arguments.
    let text = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    serde_json::from_str::<&RawValue>(text).map_err(|e| {
        let param = format!("{at}.function.arguments");
        AdapterError::Unsupported {
            message: format!(
                "`{param}` must be valid JSON for Bedrock, which takes tool input as JSON: {e}"
            ),
            param,
        }
    })
}

/// The alternating message list being built.
#[derive(Default)]
struct Turns<'a> {
    messages: Vec<WireMessage<'a>>,
}

impl<'a> Turns<'a> {
    fn push(&mut self, role: &'static str, blocks: Vec<Block<'a>>) {
        if blocks.is_empty() {
            return;
        }
        match self.messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => self.messages.push(WireMessage {
                role,
                content: blocks,
            }),
        }
    }
}

fn user_blocks<'a>(i: usize, m: &'a Message) -> Result<Vec<Block<'a>>, AdapterError> {
    let mut blocks = Vec::with_capacity(m.content.len());
    for (j, part) in m.content.iter().enumerate() {
        let at = format!("messages[{i}].content[{j}]");
        match part {
            ContentPart::Text { text } | ContentPart::Refusal { text } => {
                if !text.is_empty() {
                    blocks.push(Block::Text(text));
                }
            }
            ContentPart::Image { source, .. } => {
                blocks.push(Block::Image(image_block(&at, source)?))
            }
            ContentPart::InputAudio { .. } => return Err(unsupported_part(&at, "audio input")),
            ContentPart::File { .. } => return Err(unsupported_part(&at, "a file part")),
            // Reasoning belongs to assistant turns; a user turn carrying some has nothing
            // Bedrock could take.
            ContentPart::Thinking { .. } | ContentPart::RedactedThinking { .. } => {}
        }
    }
    Ok(blocks)
}

fn assistant_blocks<'a>(
    i: usize,
    m: &'a Message,
    send_thinking: bool,
) -> Result<Vec<Block<'a>>, AdapterError> {
    let mut blocks = Vec::with_capacity(m.content.len() + m.tool_calls.len());
    for (j, part) in m.content.iter().enumerate() {
        let at = format!("messages[{i}].content[{j}]");
        match part {
            ContentPart::Text { text } | ContentPart::Refusal { text } => {
                if !text.is_empty() {
                    blocks.push(Block::Text(text));
                }
            }
            ContentPart::Thinking { text, signature } => {
                // Unsigned thinking came from another provider: Claude would reject it.
                if let (true, Some(signature)) = (send_thinking, signature.as_deref()) {
                    blocks.push(Block::ReasoningContent(Reasoning::ReasoningText {
                        text,
                        signature,
                    }));
                }
            }
            ContentPart::RedactedThinking { data } => {
                if send_thinking {
                    blocks.push(Block::ReasoningContent(Reasoning::RedactedContent(data)));
                }
            }
            ContentPart::Image { .. } => {
                return Err(unsupported_part(&at, "an image in an assistant message"))
            }
            ContentPart::InputAudio { .. } => return Err(unsupported_part(&at, "audio")),
            ContentPart::File { .. } => return Err(unsupported_part(&at, "a file part")),
        }
    }
    for (k, call) in m.tool_calls.iter().enumerate() {
        let at = format!("messages[{i}].tool_calls[{k}]");
        blocks.push(Block::ToolUse(ToolUse {
            tool_use_id: &call.id,
            name: &call.name,
            input: tool_input(&at, &call.arguments)?,
        }));
    }
    Ok(blocks)
}

fn tool_result_block<'a>(i: usize, m: &'a Message) -> Result<Block<'a>, AdapterError> {
    let mut content = Vec::with_capacity(m.content.len());
    for (j, part) in m.content.iter().enumerate() {
        let at = format!("messages[{i}].content[{j}]");
        match part {
            ContentPart::Text { text } | ContentPart::Refusal { text } => {
                if !text.is_empty() {
                    content.push(ToolResultBlock::Text(text));
                }
            }
            ContentPart::Image { source, .. } => {
                content.push(ToolResultBlock::Image(image_block(&at, source)?));
            }
            ContentPart::InputAudio { .. } => return Err(unsupported_part(&at, "audio")),
            ContentPart::File { .. } => return Err(unsupported_part(&at, "a file part")),
            ContentPart::Thinking { .. } | ContentPart::RedactedThinking { .. } => {}
        }
    }
    Ok(Block::ToolResult(ToolResult {
        tool_use_id: m.tool_call_id.as_deref().unwrap_or_default(),
        content,
    }))
}

/// Checks everything Bedrock cannot honour before anything is encoded.
fn check_supported(req: &ChatRequest, anthropic: bool) -> Result<(), AdapterError> {
    support::check_message_extra(req, PROVIDER)?;
    let known: &[&str] = if anthropic { &["top_k"] } else { &[] };
    support::check_extra(req, known, PROVIDER)?;
    if req.n.is_some_and(|n| n > 1) {
        support::refuse(req, "n", PROVIDER, "Bedrock returns one choice")?;
    }
    if req.seed.is_some() {
        support::refuse(req, "seed", PROVIDER, "Converse has no seed")?;
    }
    if req.parallel_tool_calls == Some(false) {
        support::refuse(
            req,
            "parallel_tool_calls",
            PROVIDER,
            "Converse cannot turn parallel tool calls off",
        )?;
    }
    for (k, tool) in req.tools.iter().enumerate() {
        if tool.name == JSON_TOOL {
            let param = format!("tools[{k}].function.name");
            return Err(AdapterError::Unsupported {
                message: format!(
                    "`{param}`: the tool name `{JSON_TOOL}` is reserved on Bedrock, where the \
                     gateway uses it to carry `response_format`; rename the tool"
                ),
                param,
            });
        }
    }
    Ok(())
}

/// The `top_k` extra (Anthropic models only), if present.
fn top_k(req: &ChatRequest, anthropic: bool) -> Result<Option<u64>, AdapterError> {
    if !anthropic {
        return Ok(None);
    }
    match req.extra.get("top_k") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(k) => Ok(Some(k)),
            None if req.drop_params => Ok(None),
            None => Err(AdapterError::Unsupported {
                param: "top_k".into(),
                message: "`top_k` must be a non-negative integer".into(),
            }),
        },
    }
}

/// Encodes the Converse body for `model_id` (the same body serves ConverseStream).
pub fn encode_request(req: &ChatRequest, model_id: &str) -> Result<Vec<u8>, AdapterError> {
    let anthropic = is_anthropic(model_id);
    check_supported(req, anthropic)?;

    let mut system = Vec::new();
    let mut turns = Turns::default();
    for (i, m) in req.messages.iter().enumerate() {
        match m.role {
            Role::System | Role::Developer => {
                for (j, part) in m.content.iter().enumerate() {
                    match part {
                        ContentPart::Text { text } => {
                            if !text.is_empty() {
                                system.push(SystemBlock { text });
                            }
                        }
                        _ => {
                            return Err(unsupported_part(
                                &format!("messages[{i}].content[{j}]"),
                                "a non-text part in a system message",
                            ))
                        }
                    }
                }
            }
            Role::User => turns.push("user", user_blocks(i, m)?),
            Role::Assistant => turns.push("assistant", assistant_blocks(i, m, anthropic)?),
            Role::Tool => turns.push("user", vec![tool_result_block(i, m)?]),
        }
    }
    if turns.messages.is_empty() {
        return Err(AdapterError::Unsupported {
            param: "messages".into(),
            message: "Bedrock needs at least one user or assistant message with content".into(),
        });
    }

    let history_tools: Vec<&str> = {
        let mut names = Vec::new();
        for m in &req.messages {
            for call in &m.tool_calls {
                if !names.contains(&call.name.as_str()) {
                    names.push(call.name.as_str());
                }
            }
        }
        names
    };
    let history_has_tools = turns.messages.iter().any(|m| {
        m.content
            .iter()
            .any(|b| matches!(b, Block::ToolUse(_) | Block::ToolResult(_)))
    });

    // The tool that carries `response_format`.
    let json_spec = match &req.response_format {
        Some(ResponseFormat::JsonObject) => Some(ToolSpec {
            name: JSON_TOOL,
            description: Some("Respond with a JSON object: the input of this tool is the answer."),
            input_schema: InputSchema {
                json: Cow::Owned(json!({"type": "object"})),
            },
            strict: None,
        }),
        Some(ResponseFormat::JsonSchema {
            schema,
            description,
            strict,
            ..
        }) => Some(ToolSpec {
            name: JSON_TOOL,
            description: Some(description.as_deref().filter(|d| !d.is_empty()).unwrap_or(
                "Respond with JSON matching this schema: the input of this tool is the answer.",
            )),
            input_schema: InputSchema {
                json: schema
                    .as_ref()
                    .map(Cow::Borrowed)
                    .unwrap_or_else(|| Cow::Owned(json!({"type": "object"}))),
            },
            strict: strict.filter(|s| *s),
        }),
        Some(ResponseFormat::Text) | None => None,
    };

    let choice_none = matches!(req.tool_choice, Some(ToolChoice::None));
    let client_tools_sent = !req.tools.is_empty() && (!choice_none || history_has_tools);
    let mut tools: Vec<WireTool> = Vec::new();
    if client_tools_sent {
        for t in &req.tools {
            tools.push(WireTool {
                tool_spec: ToolSpec {
                    name: &t.name,
                    description: t.description.as_deref().filter(|d| !d.is_empty()),
                    input_schema: InputSchema {
                        json: t.parameters.as_ref().map(Cow::Borrowed).unwrap_or_else(|| {
                            Cow::Owned(json!({"type": "object", "properties": {}}))
                        }),
                    },
                    strict: t.strict.filter(|s| *s),
                },
            });
        }
    }
    if req.tools.is_empty() && history_has_tools {
        // Bedrock requires a toolConfig for a conversation holding tool blocks.
        for name in &history_tools {
            tools.push(WireTool {
                tool_spec: ToolSpec {
                    name,
                    description: None,
                    input_schema: InputSchema {
                        json: Cow::Owned(json!({"type": "object"})),
                    },
                    strict: None,
                },
            });
        }
    }
    let forced_json = json_spec.is_some();
    let tool_choice = match (&json_spec, &req.tool_choice) {
        (_, Some(ToolChoice::Function { name })) => Some(WireToolChoice::Tool { name }),
        (_, Some(ToolChoice::Required)) => Some(WireToolChoice::Any(Empty {})),
        (Some(_), Some(ToolChoice::Auto) | None) if client_tools_sent => {
            Some(WireToolChoice::Any(Empty {}))
        }
        (Some(_), _) => Some(WireToolChoice::Tool { name: JSON_TOOL }),
        (None, Some(ToolChoice::Auto)) => Some(WireToolChoice::Auto(Empty {})),
        (None, Some(ToolChoice::None) | None) => None,
    };
    if let Some(spec) = json_spec {
        tools.push(WireTool { tool_spec: spec });
    }
    let tool_config = if tools.is_empty() {
        None
    } else {
        Some(ToolConfig { tools, tool_choice })
    };

    let mut inference_config = InferenceConfig {
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stop_sequences: req
            .stop
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect(),
    };
    let mut additional = Map::new();
    match thinking(req, model_id, forced_json)? {
        Thinking::Off => {}
        Thinking::Budget(budget) => {
            additional.insert(
                "thinking".into(),
                json!({"type": "enabled", "budget_tokens": budget}),
            );
            if inference_config.max_tokens.is_none() {
                inference_config.max_tokens = Some(budget + 4096);
            }
        }
        Thinking::NovaEffort(effort) => {
            additional.insert(
                "reasoningConfig".into(),
                json!({"type": "enabled", "maxReasoningEffort": effort}),
            );
        }
    }
    if let Some(k) = top_k(req, anthropic)? {
        additional.insert("top_k".into(), json!(k));
    }

    let body = WireRequest {
        messages: turns.messages,
        system,
        inference_config,
        tool_config,
        additional_model_request_fields: additional,
    };
    serde_json::to_vec(&body).map_err(|e| {
        AdapterError::BadResponse(format!("could not encode the Bedrock request: {e}"))
    })
}
