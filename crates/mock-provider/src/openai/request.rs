//! Borrowing, minimal parse of an OpenAI chat completion request into a [`Summary`].
//!
//! Messages are visited one by one without building a tree: only their text length,
//! images and (for the last one) role and content are kept, so large prompts stay cheap.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::summary::{char_count, JsonOutput, Summary, Tool, ToolChoice};

/// The fields of a chat request the mock cares about; everything else is skipped.
#[derive(Deserialize)]
pub(crate) struct ChatRequest<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    messages: Option<Messages<'a>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
    #[serde(default)]
    mock: Option<Value>,
    #[serde(default)]
    tools: Option<Value>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    response_format: Option<Value>,
    #[serde(borrow, default)]
    reasoning_effort: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

impl ChatRequest<'_> {
    pub(crate) fn into_summary(self) -> Summary {
        let messages = self.messages;
        let tool_result = messages
            .as_ref()
            .and_then(|m| m.last.as_ref())
            .filter(|last| last.role.as_deref() == Some("tool"))
            .map(|last| last.content.map_or_else(String::new, content_text));
        Summary {
            model: self.model.map(Cow::into_owned),
            stream: self.stream.unwrap_or(false),
            include_usage: self
                .stream_options
                .and_then(|o| o.include_usage)
                .unwrap_or(false),
            messages: messages.as_ref().map(|m| m.count),
            chars: messages.as_ref().map_or(0, |m| m.chars),
            images: messages.as_ref().map_or(0, |m| m.images),
            tools: self.tools.as_ref().map(tools).unwrap_or_default(),
            tool_choice: self
                .tool_choice
                .as_ref()
                .map(tool_choice)
                .unwrap_or_default(),
            tool_result,
            json: self.response_format.as_ref().and_then(json_output),
            reasoning: self.reasoning_effort.is_some_and(|e| e != "none"),
            show_reasoning: true,
            max_tokens: match (self.max_tokens, self.max_completion_tokens) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            mock: self.mock,
        }
    }
}

/// `[{"type":"function","function":{"name","parameters"}}]` (the flat Responses-style
/// `{"type":"function","name","parameters"}` is read too).
fn tools(v: &Value) -> Vec<Tool> {
    let Some(list) = v.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|t| {
            let f = t.get("function").unwrap_or(t);
            let name = f.get("name")?.as_str()?;
            Some(Tool {
                name: name.to_owned(),
                schema: f.get("parameters").cloned().unwrap_or(Value::Null),
            })
        })
        .collect()
}

/// `"none" | "auto" | "required" | {"type":"function","function":{"name"}}`.
fn tool_choice(v: &Value) -> ToolChoice {
    match v {
        Value::String(s) if s == "none" => ToolChoice::None,
        Value::String(s) if s == "required" => ToolChoice::Any,
        Value::Object(o) => {
            let f = o.get("function").unwrap_or(v);
            match f.get("name").and_then(Value::as_str) {
                Some(name) => ToolChoice::Named(name.to_owned()),
                None => ToolChoice::Auto,
            }
        }
        _ => ToolChoice::Auto,
    }
}

/// `{"type":"json_object"}` or `{"type":"json_schema","json_schema":{"schema"}}`.
fn json_output(v: &Value) -> Option<JsonOutput> {
    match v.get("type")?.as_str()? {
        "json_object" => Some(JsonOutput::Object),
        "json_schema" => Some(match v.get("json_schema").and_then(|s| s.get("schema")) {
            Some(schema) => JsonOutput::Schema(schema.clone()),
            None => JsonOutput::Object,
        }),
        _ => None,
    }
}

/// The text of a message `content`: a string, or its text parts joined.
fn content_text(raw: &RawValue) -> String {
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::String(s)) => s,
        Ok(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.as_str()),
                p => p.get("text").and_then(Value::as_str),
            })
            .collect(),
        _ => String::new(),
    }
}

/// The message list, reduced to what the reply needs.
#[derive(Default, Debug)]
struct Messages<'a> {
    count: u64,
    chars: u64,
    images: u32,
    last: Option<Message<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Messages<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Messages<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of messages")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Messages<'a>, A::Error> {
                let mut m = Messages::default();
                while let Some(msg) = seq.next_element::<Message<'a>>()? {
                    m.count += 1;
                    if let Some(raw) = msg.content {
                        let info: ContentInfo =
                            serde_json::from_str(raw.get()).map_err(de::Error::custom)?;
                        m.chars += info.chars;
                        m.images = m.images.saturating_add(info.images);
                    }
                    m.last = Some(msg);
                }
                Ok(m)
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

#[derive(Deserialize, Debug)]
struct Message<'a> {
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

/// Text characters and images of a message `content` (string or parts array).
#[derive(Default)]
struct ContentInfo {
    chars: u64,
    images: u32,
}

impl<'de> Deserialize<'de> for ContentInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ContentInfo;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ContentInfo, E> {
                Ok(ContentInfo {
                    chars: char_count(v),
                    images: 0,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ContentInfo, A::Error> {
                let mut info = ContentInfo::default();
                while let Some(part) = seq.next_element::<Part>()? {
                    info.chars += part.chars;
                    info.images = info.images.saturating_add(u32::from(part.image));
                }
                Ok(info)
            }
        }
        d.deserialize_any(V)
    }
}

/// One content part: its text characters (`{"type":"text","text":..}`) or whether it is
/// an image (`image_url`, `input_image`, `image`); other parts count nothing.
struct Part {
    chars: u64,
    image: bool,
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Part;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a content part object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Part, E> {
                // Be lenient: a bare string part counts as text.
                Ok(Part {
                    chars: char_count(v),
                    image: false,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Part, A::Error> {
                let mut kind = None::<Cow<'de, str>>;
                let mut text = 0;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "type" => kind = Some(map.next_value::<Cow<'de, str>>()?),
                        "text" => {
                            text = map
                                .next_value::<Option<Cow<'de, str>>>()?
                                .map_or(0, |t| char_count(&t));
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let kind = kind.as_deref();
                Ok(Part {
                    chars: if matches!(kind, None | Some("text")) {
                        text
                    } else {
                        0
                    },
                    image: matches!(kind, Some("image_url" | "input_image" | "image")),
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(body: &[u8]) -> Summary {
        serde_json::from_slice::<ChatRequest<'_>>(body)
            .unwrap()
            .into_summary()
    }

    #[test]
    fn counts_text_content() {
        let body = br#"{"model":"m","messages":[
            {"role":"system","content":"abcd"},
            {"role":"user","content":[{"type":"text","text":"efghi"},{"type":"image_url","image_url":{"url":"x"}}]},
            {"role":"assistant","content":null,"tool_calls":[]}
        ],"stream":true,"stream_options":{"include_usage":true},"extra":{"a":[1,2]}}"#;
        let s = summary(body);
        assert_eq!(s.model.as_deref(), Some("m"));
        assert_eq!(s.messages, Some(3));
        assert_eq!(s.chars, 9);
        assert_eq!(s.images, 1);
        assert_eq!(s.prompt_tokens(), 12 + 3);
        assert!(s.stream);
        assert!(s.include_usage);
        assert!(s.tool_result.is_none());
    }

    #[test]
    fn escaped_model_is_owned() {
        let s = summary(br#"{"model":"a\"b","messages":[]}"#);
        assert_eq!(s.model.as_deref(), Some("a\"b"));
        assert_eq!(s.prompt_tokens(), 1);
    }

    #[test]
    fn tools_choice_format_reasoning_and_tool_result() {
        let body = json!({
            "model": "m",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "20\u{b0}C"}]}
            ],
            "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "w"}},
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            "reasoning_effort": "low",
            "max_tokens": 9,
            "max_completion_tokens": 5
        });
        let s = summary(body.to_string().as_bytes());
        assert_eq!(s.tools.len(), 1);
        assert_eq!(s.tools[0].name, "w");
        assert_eq!(s.tool_choice, ToolChoice::Named("w".into()));
        assert_eq!(s.tool_result.as_deref(), Some("20\u{b0}C"));
        assert!(matches!(s.json, Some(JsonOutput::Schema(_))));
        assert!(s.reasoning);
        assert_eq!(s.max_tokens, Some(5));

        let s = summary(br#"{"messages":[{"role":"tool","content":"ok"}],"tool_choice":"none","reasoning_effort":"none","response_format":{"type":"text"}}"#);
        assert_eq!(s.tool_choice, ToolChoice::None);
        assert_eq!(s.tool_result.as_deref(), Some("ok"));
        assert!(!s.reasoning);
        assert!(s.json.is_none());
        assert_eq!(
            summary(br#"{"tool_choice":"required"}"#).tool_choice,
            ToolChoice::Any
        );
    }

    #[test]
    fn bad_content_is_a_data_error() {
        let err =
            serde_json::from_slice::<ChatRequest<'_>>(br#"{"messages":[{"content":{"a":1}}]}"#)
                .err()
                .unwrap();
        assert!(err.is_data(), "{err}");
    }
}
