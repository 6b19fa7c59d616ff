//! Provider encode: the canonical request as an OpenAI Chat Completions body.
//!
//! The body is serialised straight from borrowed canonical data (no intermediate
//! `serde_json::Value`), so large parts such as base64 images are written once.

use crate::canonical::{
    ChatRequest, ContentPart, ImageSource, Message, ResponseFormat, Role, Tool, ToolCall,
    ToolChoice,
};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// Top-level fields this codec writes itself; an `extra` entry with one of these
/// names is dropped (the canonical field is the source of truth).
const MODELED: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "n",
    "user",
    "stream",
    "stream_options",
];

/// Encodes `req` for an OpenAI-format upstream serving `upstream_model`.
///
/// `reasoning_content`: send assistant `Thinking` parts back as DeepSeek-style
/// `reasoning_content` (for OpenAI-compatible hosts that want it). OpenAI itself
/// rejects the field, so with `false` thinking is left out.
pub fn encode_request(req: &ChatRequest, upstream_model: &str, reasoning_content: bool) -> Vec<u8> {
    let body = WireRequest {
        req,
        model: upstream_model,
        reasoning_content,
    };
    // Serialising into a Vec fails only for non-string map keys, which cannot occur here.
    serde_json::to_vec(&body).unwrap_or_default()
}

struct WireRequest<'a> {
    req: &'a ChatRequest,
    model: &'a str,
    reasoning_content: bool,
}

impl Serialize for WireRequest<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.req;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("model", self.model)?;
        m.serialize_entry(
            "messages",
            &Seq(r.messages.iter().map(|message| WireMessage {
                message,
                reasoning_content: self.reasoning_content,
            })),
        )?;
        if !r.tools.is_empty() {
            m.serialize_entry("tools", &Seq(r.tools.iter().map(WireTool)))?;
        }
        if let Some(choice) = &r.tool_choice {
            m.serialize_entry("tool_choice", &WireToolChoice(choice))?;
        }
        if let Some(v) = r.parallel_tool_calls {
            m.serialize_entry("parallel_tool_calls", &v)?;
        }
        if let Some(f) = &r.response_format {
            m.serialize_entry("response_format", &WireResponseFormat(f))?;
        }
        if let Some(e) = &r.reasoning_effort {
            m.serialize_entry("reasoning_effort", e)?;
        }
        if let Some(v) = r.max_tokens {
            m.serialize_entry("max_completion_tokens", &v)?;
        }
        if let Some(v) = r.temperature {
            m.serialize_entry("temperature", &v)?;
        }
        if let Some(v) = r.top_p {
            m.serialize_entry("top_p", &v)?;
        }
        if !r.stop.is_empty() {
            m.serialize_entry("stop", &r.stop)?;
        }
        if let Some(v) = r.seed {
            m.serialize_entry("seed", &v)?;
        }
        if let Some(v) = r.n {
            m.serialize_entry("n", &v)?;
        }
        if let Some(v) = &r.user {
            m.serialize_entry("user", v)?;
        }
        if r.stream {
            m.serialize_entry("stream", &true)?;
            // Always: the ledger needs usage whatever the client asked for.
            m.serialize_entry(
                "stream_options",
                &IncludeUsage {
                    include_usage: true,
                },
            )?;
        }
        for (k, v) in &r.extra {
            if !MODELED.contains(&k.as_str()) {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

#[derive(Serialize)]
struct IncludeUsage {
    include_usage: bool,
}

/// Serialises an iterator as a JSON array.
struct Seq<I>(I);

impl<I, T> Serialize for Seq<I>
where
    I: Iterator<Item = T> + Clone,
    T: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

/// The text of the parts `pick` selects, joined; borrowed when there is just one.
pub(crate) fn joined<'a>(
    parts: &'a [ContentPart],
    pick: impl Fn(&'a ContentPart) -> Option<&'a str>,
) -> Option<Cow<'a, str>> {
    let mut out: Option<Cow<'a, str>> = None;
    for text in parts.iter().filter_map(pick) {
        match &mut out {
            None => out = Some(Cow::Borrowed(text)),
            Some(acc) => acc.to_mut().push_str(text),
        }
    }
    out
}

pub(crate) fn text_of(p: &ContentPart) -> Option<&str> {
    match p {
        ContentPart::Text { text } => Some(text),
        _ => None,
    }
}

pub(crate) fn thinking_of(p: &ContentPart) -> Option<&str> {
    match p {
        ContentPart::Thinking { text, .. } => Some(text),
        _ => None,
    }
}

pub(crate) fn refusal_of(p: &ContentPart) -> Option<&str> {
    match p {
        ContentPart::Refusal { text } => Some(text),
        _ => None,
    }
}

struct WireMessage<'a> {
    message: &'a Message,
    reasoning_content: bool,
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::Developer => "developer",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

impl Serialize for WireMessage<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let msg = self.message;
        let assistant = msg.role == Role::Assistant;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("role", role_str(msg.role))?;
        if assistant {
            // OpenAI's assistant content is text only; refusal and reasoning have fields.
            let text = joined(&msg.content, text_of);
            let refusal = joined(&msg.content, refusal_of);
            match text {
                Some(t) => m.serialize_entry("content", &t)?,
                None if !msg.tool_calls.is_empty() || refusal.is_some() => {
                    m.serialize_entry("content", &())?
                }
                None => m.serialize_entry("content", "")?,
            }
            if let Some(r) = refusal {
                m.serialize_entry("refusal", &r)?;
            }
            if self.reasoning_content {
                if let Some(t) = joined(&msg.content, thinking_of) {
                    m.serialize_entry("reasoning_content", &t)?;
                }
            }
        } else {
            m.serialize_entry("content", &WireContent(&msg.content))?;
        }
        if let Some(name) = &msg.name {
            m.serialize_entry("name", name)?;
        }
        if assistant && !msg.tool_calls.is_empty() {
            m.serialize_entry("tool_calls", &Seq(msg.tool_calls.iter().map(WireToolCall)))?;
        }
        if let Some(id) = &msg.tool_call_id {
            m.serialize_entry("tool_call_id", id)?;
        }
        // Fields the codec does not model go back as they came. A key it models for
        // this role (as `request::decode_message` reads them) is left out: the canonical
        // field is the source of truth, and a JSON object must not repeat a key.
        for (k, v) in &msg.extra {
            let modelled = match k.as_str() {
                "role" | "content" | "name" => true,
                "refusal" | "reasoning_content" | "tool_calls" => assistant,
                "tool_call_id" => msg.role == Role::Tool || msg.tool_call_id.is_some(),
                _ => false,
            };
            if !modelled {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// Non-assistant content: a string when it is one text part, else an array of parts.
struct WireContent<'a>(&'a [ContentPart]);

fn sendable(p: &ContentPart) -> bool {
    !matches!(
        p,
        ContentPart::Thinking { .. } | ContentPart::RedactedThinking { .. }
    )
}

impl Serialize for WireContent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut parts = self.0.iter().filter(|p| sendable(p));
        let first = parts.next();
        match (first, parts.next()) {
            (None, _) => s.serialize_str(""),
            (Some(ContentPart::Text { text }), None) => s.serialize_str(text),
            _ => {
                let mut seq = s.serialize_seq(None)?;
                for p in self.0.iter().filter(|p| sendable(p)) {
                    seq.serialize_element(&WirePart(p))?;
                }
                seq.end()
            }
        }
    }
}

struct WirePart<'a>(&'a ContentPart);

impl Serialize for WirePart<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self.0 {
            // A refusal outside an assistant message has no OpenAI field: send it as text.
            ContentPart::Text { text } | ContentPart::Refusal { text } => {
                m.serialize_entry("type", "text")?;
                m.serialize_entry("text", text)?;
            }
            ContentPart::Image { source, detail } => {
                m.serialize_entry("type", "image_url")?;
                m.serialize_entry(
                    "image_url",
                    &ImageUrl {
                        url: UrlOf(source),
                        detail: detail.as_deref(),
                    },
                )?;
            }
            ContentPart::InputAudio { data, format } => {
                m.serialize_entry("type", "input_audio")?;
                m.serialize_entry("input_audio", &InputAudio { data, format })?;
            }
            ContentPart::File {
                data,
                file_id,
                filename,
            } => {
                m.serialize_entry("type", "file")?;
                m.serialize_entry(
                    "file",
                    &File {
                        file_data: data.as_deref(),
                        file_id: file_id.as_deref(),
                        filename: filename.as_deref(),
                    },
                )?;
            }
            // Filtered out by `sendable`.
            ContentPart::Thinking { .. } | ContentPart::RedactedThinking { .. } => {}
        }
        m.end()
    }
}

#[derive(Serialize)]
struct ImageUrl<'a> {
    url: UrlOf<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

/// An image source written as a URL; base64 becomes a `data:` URL without an
/// intermediate copy of the data.
struct UrlOf<'a>(&'a ImageSource);

impl fmt::Display for UrlOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ImageSource::Url { url } => f.write_str(url),
            ImageSource::Base64 { media_type, data } => {
                write!(f, "data:{media_type};base64,{data}")
            }
        }
    }
}

impl Serialize for UrlOf<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Serialize)]
struct InputAudio<'a> {
    data: &'a str,
    format: &'a str,
}

#[derive(Serialize)]
struct File<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    file_data: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<&'a str>,
}

struct WireToolCall<'a>(&'a ToolCall);

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    arguments: &'a str,
}

impl Serialize for WireToolCall<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("id", &c.id)?;
        m.serialize_entry("type", "function")?;
        m.serialize_entry(
            "function",
            &FunctionCall {
                name: &c.name,
                arguments: &c.arguments,
            },
        )?;
        m.end()
    }
}

struct WireTool<'a>(&'a Tool);

#[derive(Serialize)]
struct FunctionDef<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

impl Serialize for WireTool<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("type", "function")?;
        m.serialize_entry(
            "function",
            &FunctionDef {
                name: &t.name,
                description: t.description.as_deref(),
                parameters: t.parameters.as_ref(),
                strict: t.strict,
            },
        )?;
        m.end()
    }
}

#[derive(Serialize)]
struct NamedFunction<'a> {
    name: &'a str,
}

struct WireToolChoice<'a>(&'a ToolChoice);

impl Serialize for WireToolChoice<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ToolChoice::Auto => s.serialize_str("auto"),
            ToolChoice::None => s.serialize_str("none"),
            ToolChoice::Required => s.serialize_str("required"),
            ToolChoice::Function { name } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("type", "function")?;
                m.serialize_entry("function", &NamedFunction { name })?;
                m.end()
            }
        }
    }
}

#[derive(Serialize)]
struct JsonSchema<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

struct WireResponseFormat<'a>(&'a ResponseFormat);

impl Serialize for WireResponseFormat<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self.0 {
            ResponseFormat::Text => m.serialize_entry("type", "text")?,
            ResponseFormat::JsonObject => m.serialize_entry("type", "json_object")?,
            ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
                description,
            } => {
                m.serialize_entry("type", "json_schema")?;
                m.serialize_entry(
                    "json_schema",
                    &JsonSchema {
                        name,
                        description: description.as_deref(),
                        schema: schema.as_ref(),
                        strict: *strict,
                    },
                )?;
            }
        }
        m.end()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "request_tests.rs"]
mod tests;
