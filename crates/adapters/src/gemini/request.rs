//! Provider encode: the canonical request as a Gemini `GenerateContentRequest`.
//!
//! The body is serialised from borrowed canonical data, so large parts such as
//! base64 images are written once, never copied into an intermediate value.
//!
//! What maps where:
//! - system and developer messages → `systemInstruction` (one text part each, in
//!   order, wherever they stand in the conversation: Gemini has no mid-conversation
//!   instructions);
//! - user → `user` content; assistant → `model` content; tool results →
//!   `functionResponse` parts of a `user` content, consecutive results in one content;
//! - images: base64 → `inlineData`, URLs → `fileData` (MIME type guessed from the
//!   extension, `image/jpeg` when there is none); audio → `inlineData` `audio/<format>`;
//!   files: `file_data` → `inlineData`, a `file_id` that is a URI (`https://`, `gs://`,
//!   e.g. a Gemini Files API URI) → `fileData`, any other file id is refused. OpenAI's
//!   image `detail` has no per-part equivalent on both hosts and is ignored;
//! - assistant thinking: a signed thought → `{"text", "thought": true,
//!   "thoughtSignature"}`; an unsigned one is dropped (Gemini ignores thoughts it
//!   cannot verify, and they are not needed for the next turn); a signature alone
//!   (`Thinking{text: "", signature}`, how a signed text part is carried in the
//!   canonical model) goes back on the message's next text part, else its last
//!   one, else its first function call without one; Anthropic `RedactedThinking`
//!   means nothing to Gemini and is dropped;
//! - tool calls → `functionCall{name, args}` with the signature decoded from the id
//!   ([`super::ids`]); for Gemini 3 and later, the first call of a step with no
//!   signature (history from another model) gets Google's documented
//!   `skip_thought_signature_validator`, without which Gemini 3 answers 400;
//! - a tool result → `functionResponse{name, response}`: the name is that of the
//!   assistant call with the result's `tool_call_id`; `response` is the result text
//!   parsed, when it is a JSON object, else `{"result": <text>}` (Gemini wants an
//!   object). On AI Studio the calls and results also carry the base id
//!   (`functionCall.id`, `functionResponse.id`); Vertex v1 has no such field;
//! - `max_tokens` → `maxOutputTokens`, `temperature`, `top_p` → `topP`, `stop` →
//!   `stopSequences`, `seed`, `n` → `candidateCount`, extra `top_k` → `topK`,
//!   `presence_penalty` / `frequency_penalty` → `presencePenalty` / `frequencyPenalty`;
//! - `response_format`: `json_object` → `responseMimeType: application/json`;
//!   `json_schema` → that plus `responseJsonSchema` (Gemini reads JSON Schema there;
//!   `strict` has no equivalent and is ignored);
//! - `tools` → one `{"functionDeclarations": […]}` with `parametersJsonSchema`;
//!   `tool_choice` → `toolConfig.functionCallingConfig.mode` `AUTO` / `NONE` / `ANY`,
//!   a named function → `ANY` + `allowedFunctionNames`;
//! - `reasoning_effort` → `generationConfig.thinkingConfig`, see `thinking_config` (below).
//!
//! Refused unless `drop_params`: `parallel_tool_calls: false` (Gemini cannot be
//! told to make one call at a time), every top-level field the canonical model does
//! not know except those above (`logprobs`, `top_logprobs`, `logit_bias`,
//! `modalities`, `audio`, `prediction`, …), message fields it does not know, images
//! in system messages or tool results. `user` and message `name`s have no Gemini
//! equivalent and are left out (they do not change the answer).

use super::ids::decode_call_id;
use crate::adapter::AdapterError;
use crate::canonical::{
    ChatRequest, ContentPart, ImageSource, Message, ReasoningEffort, ResponseFormat, Role, Tool,
    ToolChoice,
};
use crate::support;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;

pub(crate) const PROVIDER: &str = "Gemini";

/// The top-level extras this encoder reads.
const KNOWN_EXTRA: &[&str] = &["top_k", "presence_penalty", "frequency_penalty"];

/// Google's documented stand-in for a missing thought signature on Gemini 3.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// What the encoding depends on besides the request.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// The upstream model id (for the thinking configuration and signatures).
    pub model: &'a str,
    /// Write `id` on function calls and responses (AI Studio; not Vertex v1).
    pub send_call_ids: bool,
}

/// Encodes `req` as a `generateContent` / `streamGenerateContent` body.
pub fn encode_request(req: &ChatRequest, opts: &Options<'_>) -> Result<Vec<u8>, AdapterError> {
    support::check_extra(req, KNOWN_EXTRA, PROVIDER)?;
    support::check_message_extra(req, PROVIDER)?;
    if req.parallel_tool_calls == Some(false) {
        support::refuse(
            req,
            "parallel_tool_calls",
            PROVIDER,
            "Gemini cannot be limited to one function call per turn",
        )?;
    }
    let mut enc = Encoder {
        req,
        opts,
        system: Vec::new(),
        contents: Vec::new(),
    };
    for (i, m) in req.messages.iter().enumerate() {
        enc.message(i, m)?;
    }
    let generation_config = generation_config(req, opts.model)?;
    let tools = if req.tools.is_empty() {
        None
    } else {
        Some([ToolGroup {
            function_declarations: req.tools.iter().map(FunctionDeclaration::from).collect(),
        }])
    };
    let tool_config = match (&tools, &req.tool_choice) {
        (Some(_), Some(choice)) => Some(ToolConfig::from(choice)),
        _ => None,
    };
    let body = Body {
        system_instruction: (!enc.system.is_empty())
            .then_some(SystemInstruction { parts: enc.system }),
        contents: enc.contents,
        tools,
        tool_config,
        generation_config,
    };
    // Cannot fail (every map key is a string; serde_json writes NaN as null), but an
    // error is still reported rather than an empty body sent.
    serde_json::to_vec(&body).map_err(|e| AdapterError::Unsupported {
        param: "messages".into(),
        message: format!("the request could not be encoded for {PROVIDER}: {e}"),
    })
}

struct Encoder<'a, 'o> {
    req: &'a ChatRequest,
    opts: &'o Options<'o>,
    system: Vec<Part<'a>>,
    contents: Vec<Content<'a>>,
}

impl<'a> Encoder<'a, '_> {
    fn message(&mut self, i: usize, m: &'a Message) -> Result<(), AdapterError> {
        match m.role {
            Role::System | Role::Developer => {
                for (j, part) in m.content.iter().enumerate() {
                    match part {
                        ContentPart::Text { text } if !text.is_empty() => {
                            self.system.push(Part::text(text));
                        }
                        ContentPart::Text { .. } => {}
                        _ => self.refuse_part(i, j, "system instructions take text only")?,
                    }
                }
            }
            Role::User => {
                let mut parts = Vec::with_capacity(m.content.len());
                for (j, part) in m.content.iter().enumerate() {
                    if let Some(p) = self.user_part(i, j, part)? {
                        parts.push(p);
                    }
                }
                self.push(Content::USER, parts, false);
            }
            Role::Assistant => {
                let parts = self.assistant_parts(i, m)?;
                self.push(Content::MODEL, parts, false);
            }
            Role::Tool => {
                let part = self.tool_result(i, m)?;
                self.push(Content::USER, vec![part], true);
            }
        }
        Ok(())
    }

    /// Appends a content; a tool result joins the previous content when that one
    /// holds tool results too. Contents with no parts are left out (Gemini rejects them).
    fn push(&mut self, role: &'static str, parts: Vec<Part<'a>>, tool_results: bool) {
        if parts.is_empty() {
            return;
        }
        if tool_results {
            if let Some(last) = self.contents.last_mut() {
                if last.tool_results {
                    last.parts.extend(parts);
                    return;
                }
            }
        }
        self.contents.push(Content {
            role,
            parts,
            tool_results,
        });
    }

    fn refuse_part(&self, i: usize, j: usize, why: &str) -> Result<(), AdapterError> {
        support::refuse(
            self.req,
            &format!("messages[{i}].content[{j}]"),
            PROVIDER,
            why,
        )
    }

    fn user_part(
        &self,
        i: usize,
        j: usize,
        part: &'a ContentPart,
    ) -> Result<Option<Part<'a>>, AdapterError> {
        Ok(match part {
            ContentPart::Text { text } if text.is_empty() => None,
            ContentPart::Text { text } => Some(Part::text(text)),
            ContentPart::Image { source, .. } => Some(image_part(source)),
            ContentPart::InputAudio { data, format } => Some(Part {
                inline_data: Some(Blob {
                    mime_type: Cow::Owned(format!("audio/{}", format.to_ascii_lowercase())),
                    data,
                }),
                ..Part::default()
            }),
            ContentPart::File {
                data,
                file_id,
                filename,
            } => match (data, file_id) {
                (Some(data), _) => Some(file_data_part(data, filename.as_deref())),
                (None, Some(id)) if id.starts_with("https://") || id.starts_with("gs://") => {
                    Some(Part {
                        file_data: Some(FileData {
                            mime_type: filename
                                .as_deref()
                                .and_then(mime_from_name)
                                .or_else(|| mime_from_name(id))
                                .map(Cow::Borrowed),
                            file_uri: id,
                        }),
                        ..Part::default()
                    })
                }
                _ => {
                    support::refuse(
                        self.req,
                        &format!("messages[{i}].content[{j}].file.file_id"),
                        PROVIDER,
                        "Gemini reads files by URI (Files API or gs://), not by OpenAI file id",
                    )?;
                    None
                }
            },
            // Not something a user says; nothing to send.
            ContentPart::Thinking { .. }
            | ContentPart::RedactedThinking { .. }
            | ContentPart::Refusal { .. } => None,
        })
    }

    fn assistant_parts(&self, i: usize, m: &'a Message) -> Result<Vec<Part<'a>>, AdapterError> {
        let mut parts: Vec<Part<'a>> = Vec::with_capacity(m.content.len() + m.tool_calls.len());
        // Signatures carried alone, with the number of parts written before them.
        let mut loose: Vec<(usize, &'a str)> = Vec::new();
        for (j, part) in m.content.iter().enumerate() {
            match part {
                ContentPart::Text { text } | ContentPart::Refusal { text } => {
                    if !text.is_empty() {
                        parts.push(Part::text(text));
                    }
                }
                ContentPart::Thinking { text, signature } => match signature.as_deref() {
                    Some(sig) if !sig.is_empty() => {
                        if text.is_empty() {
                            loose.push((parts.len(), sig));
                        } else {
                            parts.push(Part {
                                text: Some(Cow::Borrowed(text)),
                                thought: Some(true),
                                thought_signature: Some(Cow::Borrowed(sig)),
                                ..Part::default()
                            });
                        }
                    }
                    // Unsigned thoughts cannot be verified; Gemini does without them.
                    _ => {}
                },
                ContentPart::RedactedThinking { .. } => {}
                ContentPart::Image { .. }
                | ContentPart::InputAudio { .. }
                | ContentPart::File { .. } => {
                    self.refuse_part(i, j, "assistant messages take text and tool calls only")?;
                }
            }
        }
        let first_call = parts.len();
        for (j, call) in m.tool_calls.iter().enumerate() {
            let args = parse_arguments(&call.arguments).ok_or_else(|| {
                let param = format!("messages[{i}].tool_calls[{j}].function.arguments");
                AdapterError::Unsupported {
                    message: format!(
                        "`{param}` must be a JSON object for {PROVIDER}, which takes function \
                         arguments as an object"
                    ),
                    param,
                }
            })?;
            let (base, signature) = decode_call_id(&call.id);
            parts.push(Part {
                function_call: Some(FunctionCall {
                    id: (self.opts.send_call_ids && !base.is_empty()).then_some(base),
                    name: &call.name,
                    args,
                }),
                thought_signature: signature.map(Cow::Owned),
                ..Part::default()
            });
        }
        for (at, sig) in loose {
            let is_free_text = |p: &Part<'_>| {
                p.text.is_some() && p.thought.is_none() && p.thought_signature.is_none()
            };
            let target = (at..first_call)
                .find(|&k| parts.get(k).is_some_and(is_free_text))
                .or_else(|| {
                    (0..at.min(first_call))
                        .rev()
                        .find(|&k| parts.get(k).is_some_and(is_free_text))
                })
                .or_else(|| {
                    (first_call..parts.len())
                        .find(|&k| parts.get(k).is_some_and(|p| p.thought_signature.is_none()))
                });
            if let Some(p) = target.and_then(|k| parts.get_mut(k)) {
                p.thought_signature = Some(Cow::Borrowed(sig));
            }
        }
        if super::generation(self.opts.model).is_some_and(|g| g >= 3) {
            if let Some(p) = parts.get_mut(first_call) {
                if p.thought_signature.is_none() {
                    p.thought_signature = Some(Cow::Borrowed(SKIP_SIGNATURE));
                }
            }
        }
        Ok(parts)
    }

    fn tool_result(&self, i: usize, m: &'a Message) -> Result<Part<'a>, AdapterError> {
        let call_id = m.tool_call_id.as_deref().unwrap_or("");
        let name = self
            .call_name(i, call_id)
            .or(m.name.as_deref())
            .ok_or_else(|| AdapterError::Unsupported {
                param: format!("messages[{i}].tool_call_id"),
                message: format!(
                    "`messages[{i}].tool_call_id` ({call_id:?}) names no tool call of an earlier \
                     assistant message; {PROVIDER} needs the function's name with its result"
                ),
            })?;
        let mut text: Cow<'a, str> = Cow::Borrowed("");
        for (j, part) in m.content.iter().enumerate() {
            match part {
                ContentPart::Text { text: t } => {
                    text = if text.is_empty() {
                        Cow::Borrowed(t.as_str())
                    } else {
                        Cow::Owned(format!("{text}{t}"))
                    };
                }
                _ => self.refuse_part(i, j, "tool results take text only")?,
            }
        }
        let response = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(o)) => FunctionResult::Object(Value::Object(o)),
            _ => FunctionResult::Text(text),
        };
        let (base, _) = decode_call_id(call_id);
        Ok(Part {
            function_response: Some(FunctionResponse {
                id: (self.opts.send_call_ids && !base.is_empty()).then_some(base),
                name,
                response,
            }),
            ..Part::default()
        })
    }

    /// The name of the call `call_id` answers: the nearest earlier assistant call with
    /// that id (ids may repeat across turns), else one with the same base id (a client
    /// that kept the id but not its signature suffix).
    fn call_name(&self, i: usize, call_id: &str) -> Option<&'a str> {
        let earlier = self.req.messages.get(..i)?;
        let calls = || {
            earlier
                .iter()
                .rev()
                .filter(|m| m.role == Role::Assistant)
                .flat_map(|m| m.tool_calls.iter())
        };
        let (base, _) = decode_call_id(call_id);
        calls()
            .find(|c| c.id == call_id)
            .or_else(|| calls().find(|c| decode_call_id(&c.id).0 == base))
            .map(|c| c.name.as_str())
    }
}

/// Tool call arguments as Gemini's `args` object; an empty string means none.
fn parse_arguments(text: &str) -> Option<Value> {
    if text.trim().is_empty() {
        return Some(Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    }
}

fn image_part(source: &ImageSource) -> Part<'_> {
    match source {
        ImageSource::Base64 { media_type, data } => Part {
            inline_data: Some(Blob {
                mime_type: Cow::Borrowed(media_type),
                data,
            }),
            ..Part::default()
        },
        ImageSource::Url { url } => Part {
            file_data: Some(FileData {
                mime_type: Some(Cow::Borrowed(mime_from_name(url).unwrap_or("image/jpeg"))),
                file_uri: url,
            }),
            ..Part::default()
        },
    }
}

/// OpenAI's `file_data`: a `data:` URL, or bare base64 (typed by the file name, else
/// taken for a PDF, the one file type OpenAI accepts there).
fn file_data_part<'a>(data: &'a str, filename: Option<&str>) -> Part<'a> {
    let (mime_type, data) = match data
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(','))
        .and_then(|(meta, payload)| Some((meta.strip_suffix(";base64")?, payload)))
    {
        Some((meta, payload)) => (Cow::Borrowed(meta), payload),
        None => (
            Cow::Borrowed(
                filename
                    .and_then(mime_from_name)
                    .unwrap_or("application/pdf"),
            ),
            data,
        ),
    };
    Part {
        inline_data: Some(Blob { mime_type, data }),
        ..Part::default()
    }
}

/// The MIME type of a file name or URL, from its extension.
fn mime_from_name(name: &str) -> Option<&'static str> {
    let path = name.split(['?', '#']).next().unwrap_or(name);
    let file = path.rsplit('/').next().unwrap_or(path);
    let (_, ext) = file.rsplit_once('.')?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        "mov" => "video/mov",
        "webm" => "video/webm",
        _ => return None,
    })
}

/// `reasoning_effort` → `thinkingConfig`, with `includeThoughts: true` so that the
/// thoughts come back as reasoning (except for `none`).
///
/// Gemini 3 and later (model ids `gemini-3…`, `gemini-3.1…`) take a `thinkingLevel`
/// (written as the enum's names, as Google's SDKs send them): none and minimal →
/// `MINIMAL`, low → `LOW`, medium → `MEDIUM`, high and xhigh → `HIGH` (Google
/// documents these four levels; not every model takes all of them, e.g. Gemini 3
/// Pro has no `MINIMAL` and cannot stop thinking, and Google's 400 then says so). Earlier models and aliases take a
/// `thinkingBudget` in tokens (which Gemini 3 also accepts): none → 0, minimal → 512,
/// low → 1024, medium → 8192, high → 24576, xhigh → 32768 (24576 on Flash models,
/// their maximum). Gemini 2.5 Pro cannot turn thinking off and answers `none` with a 400.
fn thinking_config(effort: ReasoningEffort, model: &str) -> ThinkingConfig {
    let include_thoughts = (effort != ReasoningEffort::None).then_some(true);
    if super::generation(model).is_some_and(|g| g >= 3) {
        let level = match effort {
            ReasoningEffort::None | ReasoningEffort::Minimal => "MINIMAL",
            ReasoningEffort::Low => "LOW",
            ReasoningEffort::Medium => "MEDIUM",
            ReasoningEffort::High | ReasoningEffort::Xhigh => "HIGH",
        };
        return ThinkingConfig {
            include_thoughts,
            thinking_budget: None,
            thinking_level: Some(level),
        };
    }
    let budget = match effort {
        ReasoningEffort::None => 0,
        ReasoningEffort::Minimal => 512,
        ReasoningEffort::Low => 1024,
        ReasoningEffort::Medium => 8192,
        ReasoningEffort::High => 24_576,
        ReasoningEffort::Xhigh if model.contains("flash") => 24_576,
        ReasoningEffort::Xhigh => 32_768,
    };
    ThinkingConfig {
        include_thoughts,
        thinking_budget: Some(budget),
        thinking_level: None,
    }
}

fn extra_number(req: &ChatRequest, name: &str) -> Result<Option<f64>, AdapterError> {
    match req.extra.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(AdapterError::Unsupported {
            param: name.to_string(),
            message: format!("`{name}` must be a number"),
        }),
    }
}

fn generation_config<'a>(
    req: &'a ChatRequest,
    model: &str,
) -> Result<Option<GenerationConfig<'a>>, AdapterError> {
    let top_k = match extra_number(req, "top_k")? {
        Some(k) if k >= 0.0 && k.fract() == 0.0 => Some(k as u64),
        Some(_) => {
            return Err(AdapterError::Unsupported {
                param: "top_k".into(),
                message: "`top_k` must be a non-negative integer".into(),
            })
        }
        None => None,
    };
    let (response_mime_type, response_json_schema) = match &req.response_format {
        None | Some(ResponseFormat::Text) => (None, None),
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema { schema, .. }) => (
            Some("application/json"),
            schema.as_ref().filter(|s| !s.is_null()),
        ),
    };
    let c = GenerationConfig {
        max_output_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        top_k,
        stop_sequences: &req.stop,
        seed: req.seed,
        candidate_count: req.n,
        presence_penalty: extra_number(req, "presence_penalty")?,
        frequency_penalty: extra_number(req, "frequency_penalty")?,
        response_mime_type,
        response_json_schema,
        thinking_config: req.reasoning_effort.map(|e| thinking_config(e, model)),
    };
    Ok((!c.is_empty()).then_some(c))
}

// ---- the wire shapes -------------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<SystemInstruction<'a>>,
    contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<[ToolGroup<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<GenerationConfig<'a>>,
}

#[derive(Serialize)]
struct SystemInstruction<'a> {
    parts: Vec<Part<'a>>,
}

#[derive(Serialize)]
struct Content<'a> {
    role: &'static str,
    parts: Vec<Part<'a>>,
    /// Holds tool results (so that the next one joins it).
    #[serde(skip)]
    tool_results: bool,
}

impl Content<'_> {
    const USER: &'static str = "user";
    const MODEL: &'static str = "model";
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thought: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inline_data: Option<Blob<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_data: Option<FileData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_call: Option<FunctionCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_response: Option<FunctionResponse<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thought_signature: Option<Cow<'a, str>>,
}

impl<'a> Part<'a> {
    fn text(text: &'a str) -> Self {
        Part {
            text: Some(Cow::Borrowed(text)),
            ..Part::default()
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Blob<'a> {
    mime_type: Cow<'a, str>,
    data: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    mime_type: Option<Cow<'a, str>>,
    file_uri: &'a str,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    name: &'a str,
    args: Value,
}

#[derive(Serialize)]
struct FunctionResponse<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    name: &'a str,
    response: FunctionResult<'a>,
}

/// A tool result: its own JSON object, or its text under `result`.
enum FunctionResult<'a> {
    Object(Value),
    Text(Cow<'a, str>),
}

impl Serialize for FunctionResult<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FunctionResult::Object(v) => v.serialize(s),
            FunctionResult::Text(t) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("result", t)?;
                m.end()
            }
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolGroup<'a> {
    function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionDeclaration<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters_json_schema: Option<&'a Value>,
}

impl<'a> From<&'a Tool> for FunctionDeclaration<'a> {
    fn from(t: &'a Tool) -> Self {
        FunctionDeclaration {
            name: &t.name,
            description: t.description.as_deref(),
            parameters_json_schema: t.parameters.as_ref().filter(|p| !p.is_null()),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'a> {
    function_calling_config: FunctionCallingConfig<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig<'a> {
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_function_names: Option<[&'a str; 1]>,
}

impl<'a> From<&'a ToolChoice> for ToolConfig<'a> {
    fn from(c: &'a ToolChoice) -> Self {
        let (mode, allowed_function_names) = match c {
            ToolChoice::Auto => ("AUTO", None),
            ToolChoice::None => ("NONE", None),
            ToolChoice::Required => ("ANY", None),
            ToolChoice::Function { name } => ("ANY", Some([name.as_str()])),
        };
        ToolConfig {
            function_calling_config: FunctionCallingConfig {
                mode,
                allowed_function_names,
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_json_schema: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_config: Option<ThinkingConfig>,
}

impl GenerationConfig<'_> {
    fn is_empty(&self) -> bool {
        self.max_output_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.top_k.is_none()
            && self.stop_sequences.is_empty()
            && self.seed.is_none()
            && self.candidate_count.is_none()
            && self.presence_penalty.is_none()
            && self.frequency_penalty.is_none()
            && self.response_mime_type.is_none()
            && self.thinking_config.is_none()
    }
}

#[derive(Serialize, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    include_thoughts: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_budget: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_level: Option<&'static str>,
}
