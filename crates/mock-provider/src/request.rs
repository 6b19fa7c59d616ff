//! Borrowing, minimal parse of an OpenAI chat completion request.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// The fields of a chat request the mock cares about; everything else is skipped.
#[derive(Deserialize)]
pub(crate) struct ChatRequest<'a> {
    #[serde(borrow, default)]
    pub(crate) model: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) messages: Option<Messages>,
    #[serde(default)]
    pub(crate) stream: Option<bool>,
    #[serde(default)]
    pub(crate) stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub(crate) max_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) max_completion_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) mock: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    pub(crate) include_usage: Option<bool>,
}

/// The message list, reduced to what prompt token counting needs.
#[derive(Default, Debug, PartialEq, Eq)]
pub(crate) struct Messages {
    pub(crate) count: u64,
    pub(crate) chars: u64,
}

impl Messages {
    /// 4 per message + ceil(chars / 4), at least 1.
    pub(crate) fn prompt_tokens(&self) -> u64 {
        (self.count * 4 + self.chars.div_ceil(4)).max(1)
    }
}

impl<'de> Deserialize<'de> for Messages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Messages;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of messages")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Messages, A::Error> {
                let mut m = Messages::default();
                while let Some(msg) = seq.next_element::<Message>()? {
                    m.count += 1;
                    m.chars += msg.content.map_or(0, |c| c.0);
                }
                Ok(m)
            }
        }
        d.deserialize_seq(V)
    }
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<ContentChars>,
}

/// Number of text characters in a message `content` (string or parts array).
struct ContentChars(u64);

fn char_count(s: &str) -> u64 {
    s.chars().count() as u64
}

impl<'de> Deserialize<'de> for ContentChars {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ContentChars;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ContentChars, E> {
                Ok(ContentChars(char_count(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ContentChars, A::Error> {
                let mut n = 0;
                while let Some(part) = seq.next_element::<Part>()? {
                    n += part.0;
                }
                Ok(ContentChars(n))
            }
        }
        d.deserialize_any(V)
    }
}

/// Text characters of one content part (`{"type":"text","text":..}`); other parts count 0.
struct Part(u64);

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
                Ok(Part(char_count(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Part, A::Error> {
                let mut is_text = None::<bool>;
                let mut text = 0;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "type" => {
                            let t = map.next_value::<Cow<'de, str>>()?;
                            is_text = Some(t == "text");
                        }
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
                Ok(Part(if is_text.unwrap_or(true) { text } else { 0 }))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_text_content() {
        let body = br#"{"model":"m","messages":[
            {"role":"system","content":"abcd"},
            {"role":"user","content":[{"type":"text","text":"efghi"},{"type":"image_url","image_url":{"url":"x"}}]},
            {"role":"assistant","content":null,"tool_calls":[]}
        ],"stream":true,"stream_options":{"include_usage":true},"extra":{"a":[1,2]}}"#;
        let r: ChatRequest<'_> = serde_json::from_slice(body).unwrap();
        assert_eq!(r.model.as_deref(), Some("m"));
        let m = r.messages.unwrap();
        assert_eq!(m, Messages { count: 3, chars: 9 });
        assert_eq!(m.prompt_tokens(), 12 + 3);
        assert_eq!(r.stream, Some(true));
        assert_eq!(r.stream_options.unwrap().include_usage, Some(true));
    }

    #[test]
    fn escaped_model_is_owned() {
        let r: ChatRequest<'_> =
            serde_json::from_slice(br#"{"model":"a\"b","messages":[]}"#).unwrap();
        assert_eq!(r.model.as_deref(), Some("a\"b"));
        assert_eq!(r.messages.unwrap().prompt_tokens(), 1);
    }
}
