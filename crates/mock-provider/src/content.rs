//! What the mock says: the reply planned from a [`Summary`] and the [`Behavior`],
//! shared by every wire format.
//!
//! A reply is a sequence of tokens: optional reasoning tokens, then the content tokens
//! (words of text, or fragments of a tool call's JSON arguments). Streams emit one token
//! per delta and usage counts them, so the numbers always add up.

use std::borrow::Cow;

use crate::behavior::{Behavior, ContentFilter};
use crate::schema;
use crate::summary::{JsonOutput, Summary, ToolChoice};

/// The reply text cycles through these words; each word is one completion token.
pub(crate) const WORDS: [&str; 7] = [
    "Hello",
    " from",
    " the",
    " Switchyard",
    " mock",
    " provider",
    ".",
];

/// The `i`-th (0-based) word of the reply; repeats of the cycle start with " Hello"
/// so the text reads "… provider. Hello from …".
pub(crate) fn word(i: u32) -> &'static str {
    match i as usize % WORDS.len() {
        0 if i > 0 => " Hello",
        n => WORDS[n],
    }
}

/// Reasoning text emitted before the answer when reasoning is requested, one token each.
pub(crate) const REASONING: [&str; 7] = ["The", " user", " wants", " a", " short", " reply", "."];

/// Signature of the mock's reasoning (Anthropic `signature`, Gemini `thoughtSignature`,
/// Bedrock `reasoningContent.signature`); base64 of "switchyard-mock-signature".
pub(crate) const SIGNATURE: &str = "c3dpdGNoeWFyZC1tb2NrLXNpZ25hdHVyZQ==";

/// Default reply length in tokens.
pub(crate) const DEFAULT_TOKENS: u32 = 12;

/// Longest reply in words (`tokens` above it is refused by the knob parser and clamped
/// here), so a non-streaming reply always fits in memory.
pub(crate) const MAX_TOKENS: u32 = 10_000_000;

/// The first word when it follows a prefix.
const SPACED_FIRST_WORD: &str = " Hello";

/// Largest piece of streamed JSON (text or tool arguments), in bytes.
const JSON_PIECE: usize = 8;

/// The JSON text answered when JSON output is requested without a schema.
const DEFAULT_JSON: &str = r#"{"message":"Hello from the Switchyard mock provider."}"#;

/// Why generation stopped, named by each format in its own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

/// Token counts of one reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// The whole prompt, cached part included.
    pub(crate) prompt: u64,
    /// Everything generated, reasoning included.
    pub(crate) completion: u64,
    pub(crate) reasoning: u64,
    /// Prompt tokens read from the cache (never more than `prompt`).
    pub(crate) cached: u64,
}

/// One tool call.
#[derive(Debug, Clone)]
pub(crate) struct ToolCall {
    pub(crate) name: String,
    /// The arguments as a JSON object text.
    pub(crate) args: String,
    /// `args` split for streaming; concatenated they give `args`.
    pub(crate) fragments: Vec<String>,
}

/// The answer part of a reply.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    /// The default reply: `prefix` pieces (the image acknowledgement, usually none), then
    /// the first `n` words of the word cycle, generated on demand.
    Words {
        prefix: Vec<Cow<'static, str>>,
        n: u32,
    },
    /// Text in pieces, one token each.
    Text(Vec<Cow<'static, str>>),
    Tool(ToolCall),
}

impl Content {
    /// Text tokens (`None` for a tool call).
    fn text_len(&self) -> Option<u64> {
        match self {
            Content::Words { prefix, n } => Some(prefix.len() as u64 + u64::from(*n)),
            Content::Text(pieces) => Some(pieces.len() as u64),
            Content::Tool(_) => None,
        }
    }

    /// Keep the first `keep` text tokens.
    fn truncate(&mut self, keep: u64) {
        let keep_usize = usize::try_from(keep).unwrap_or(usize::MAX);
        match self {
            Content::Words { prefix, n } => {
                if keep_usize <= prefix.len() {
                    prefix.truncate(keep_usize);
                    *n = 0;
                } else {
                    let rest = keep - prefix.len() as u64;
                    *n = u32::try_from(rest).map_or(*n, |r| r.min(*n));
                }
            }
            Content::Text(pieces) => pieces.truncate(keep_usize),
            Content::Tool(_) => {}
        }
    }
}

/// What a token is, for the formats that put them in different blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Reasoning,
    Text,
    ToolArgs,
}

/// A planned reply.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// Whether [`REASONING`] comes first.
    pub(crate) reasoning: bool,
    pub(crate) content: Content,
    pub(crate) finish: Finish,
    pub(crate) usage: Usage,
}

impl Reply {
    fn reasoning_len(&self) -> u32 {
        if self.reasoning {
            REASONING.len() as u32
        } else {
            0
        }
    }

    fn content_len(&self) -> u32 {
        let n = match &self.content {
            Content::Words { prefix, n } => return (prefix.len() as u32).saturating_add(*n),
            Content::Text(pieces) => pieces.len(),
            Content::Tool(call) => call.fragments.len(),
        };
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Number of tokens a stream emits.
    pub(crate) fn token_count(&self) -> u32 {
        self.reasoning_len().saturating_add(self.content_len())
    }

    /// The `i`-th token, `None` past the end.
    pub(crate) fn token(&self, i: u32) -> Option<(Kind, &str)> {
        let r = self.reasoning_len();
        if i < r {
            return REASONING.get(i as usize).map(|t| (Kind::Reasoning, *t));
        }
        let j = i - r;
        match &self.content {
            Content::Words { prefix, n } => {
                if let Some(p) = prefix.get(j as usize) {
                    return Some((Kind::Text, p.as_ref()));
                }
                let w = j - prefix.len() as u32;
                if w >= *n {
                    None
                } else if w == 0 && !prefix.is_empty() {
                    Some((Kind::Text, SPACED_FIRST_WORD))
                } else {
                    Some((Kind::Text, word(w)))
                }
            }
            Content::Text(pieces) => pieces.get(j as usize).map(|p| (Kind::Text, p.as_ref())),
            Content::Tool(call) => call
                .fragments
                .get(j as usize)
                .map(|f| (Kind::ToolArgs, f.as_str())),
        }
    }

    /// The whole reasoning text (empty without reasoning).
    pub(crate) fn reasoning_text(&self) -> String {
        if self.reasoning {
            REASONING.concat()
        } else {
            String::new()
        }
    }

    /// The whole answer text (empty for a tool call).
    pub(crate) fn text(&self) -> String {
        match &self.content {
            Content::Words { .. } => (0..self.content_len())
                .filter_map(|j| self.token(self.reasoning_len() + j).map(|(_, t)| t))
                .collect(),
            Content::Text(pieces) => pieces.concat(),
            Content::Tool(_) => String::new(),
        }
    }

    pub(crate) fn tool_call(&self) -> Option<&ToolCall> {
        match &self.content {
            Content::Tool(call) => Some(call),
            _ => None,
        }
    }
}

/// How a format streams tool arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ToolArgs {
    /// In several fragments (OpenAI, Anthropic, Bedrock).
    Split,
    /// In one piece (Gemini sends each function call whole).
    Whole,
}

/// Decide the reply. In order of precedence:
/// 1. `content_filter=response`: the first half of the text reply, finish content filter;
/// 2. tools offered, tool choice not `none`, last message not a tool result: a call to the
///    forced tool or else the first one, with arguments sampled from its schema;
/// 3. last message a tool result: `The tool said: "<result>"`;
/// 4. JSON output requested: a JSON object (sampled from the schema when given);
/// 5. otherwise the word cycle (`tokens` long), prefixed by `I see N image(s).` when the
///    request holds images.
///
/// Text replies are capped at the request's max tokens (finish length); reasoning
/// tokens come first when requested and are not capped.
pub(crate) fn plan(s: &Summary, b: &Behavior, tool_args: ToolArgs) -> Reply {
    let prompt = s.prompt_tokens();
    let mut finish = Finish::Stop;
    let mut content = if b.content_filter == Some(ContentFilter::Response) {
        finish = Finish::ContentFilter;
        let mut text = text_content(s, b);
        let keep = text.text_len().unwrap_or(0) / 2;
        text.truncate(keep);
        text
    } else if let Some(call) = tool_call(s, tool_args) {
        finish = Finish::ToolCalls;
        Content::Tool(call)
    } else {
        text_content(s, b)
    };
    if let (Some(cap), Some(len)) = (s.max_tokens, content.text_len()) {
        if cap < len {
            if finish != Finish::ContentFilter {
                finish = Finish::Length;
            }
            content.truncate(cap);
        }
    }
    let mut reply = Reply {
        reasoning: s.reasoning,
        content,
        finish,
        usage: Usage::default(),
    };
    let completion = u64::from(reply.token_count());
    reply.usage = Usage {
        prompt,
        completion,
        reasoning: u64::from(reply.reasoning_len()),
        cached: b.cached_tokens.unwrap_or(0).min(prompt),
    };
    reply
}

fn tool_call(s: &Summary, tool_args: ToolArgs) -> Option<ToolCall> {
    if s.tools.is_empty() || s.tool_choice == ToolChoice::None || s.tool_result.is_some() {
        return None;
    }
    let (name, args) = match &s.tool_choice {
        ToolChoice::Named(name) => match s.tools.iter().find(|t| &t.name == name) {
            Some(tool) => (tool.name.clone(), schema::sample(&tool.schema)),
            None => (name.clone(), serde_json::Value::Object(Default::default())),
        },
        _ => {
            let tool = s.tools.first()?;
            (tool.name.clone(), schema::sample(&tool.schema))
        }
    };
    let args = match args {
        serde_json::Value::Object(_) => args.to_string(),
        // Arguments are always an object; a non-object schema gets an empty one.
        _ => "{}".to_owned(),
    };
    let fragments = match tool_args {
        ToolArgs::Split => split_at_least_two(&args),
        ToolArgs::Whole => vec![args.clone()],
    };
    Some(ToolCall {
        name,
        args,
        fragments,
    })
}

/// The text reply (rules 3 to 5 of [`plan`]).
fn text_content(s: &Summary, b: &Behavior) -> Content {
    if let Some(result) = &s.tool_result {
        return Content::Text(split_words(&format!("The tool said: \"{result}\"")));
    }
    if let Some(json) = &s.json {
        let text = match json {
            JsonOutput::Object => DEFAULT_JSON.to_owned(),
            JsonOutput::Schema(schema) => schema::sample(schema).to_string(),
        };
        return Content::Text(split_bytes(&text, JSON_PIECE));
    }
    let prefix = if s.images > 0 {
        let noun = if s.images == 1 { "image" } else { "images" };
        split_words(&format!("I see {} {noun}.", s.images))
    } else {
        Vec::new()
    };
    Content::Words {
        prefix,
        n: b.tokens.unwrap_or(DEFAULT_TOKENS).min(MAX_TOKENS),
    }
}

/// Split before each space, so pieces read "The", " tool", " said:".
fn split_words(s: &str) -> Vec<Cow<'static, str>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c == ' ' && i > start {
            pieces.push(Cow::Owned(s[start..i].to_owned()));
            start = i;
        }
    }
    if start < s.len() {
        pieces.push(Cow::Owned(s[start..].to_owned()));
    }
    pieces
}

/// Split into pieces of at most `max` bytes (more for a single wide character).
fn split_bytes(s: &str, max: usize) -> Vec<Cow<'static, str>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < s.len() {
        let mut end = (start + max).min(s.len());
        while !s.is_char_boundary(end) {
            end += 1;
        }
        pieces.push(Cow::Owned(s[start..end].to_owned()));
        start = end;
    }
    pieces
}

/// Tool arguments in 8-byte pieces, but always at least two (so clients must join them).
fn split_at_least_two(s: &str) -> Vec<String> {
    let pieces: Vec<String> = split_bytes(s, JSON_PIECE)
        .into_iter()
        .map(Cow::into_owned)
        .collect();
    if pieces.len() >= 2 {
        return pieces;
    }
    let mut mid = s.len() / 2;
    while mid > 0 && !s.is_char_boundary(mid) {
        mid -= 1;
    }
    vec![s[..mid].to_owned(), s[mid..].to_owned()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::summary::Tool;
    use serde_json::json;

    fn summary() -> Summary {
        Summary {
            messages: Some(1),
            chars: 12,
            ..Summary::default()
        }
    }

    fn all_tokens(r: &Reply) -> Vec<(Kind, String)> {
        (0..r.token_count())
            .map(|i| {
                let (k, t) = r.token(i).unwrap();
                (k, t.to_owned())
            })
            .collect()
    }

    #[test]
    fn default_reply_is_the_word_cycle() {
        let r = plan(&summary(), &Behavior::default(), ToolArgs::Split);
        assert_eq!(
            r.text(),
            "Hello from the Switchyard mock provider. Hello from the Switchyard mock"
        );
        assert_eq!(r.finish, Finish::Stop);
        assert_eq!(
            r.usage,
            Usage {
                prompt: 7,
                completion: 12,
                reasoning: 0,
                cached: 0
            }
        );
        assert!(r.token(12).is_none());
    }

    #[test]
    fn max_tokens_caps_text() {
        let s = Summary {
            max_tokens: Some(3),
            ..summary()
        };
        let r = plan(&s, &Behavior::default(), ToolArgs::Split);
        assert_eq!(r.text(), "Hello from the");
        assert_eq!(r.finish, Finish::Length);
        let s = Summary {
            max_tokens: Some(2),
            images: 1,
            ..summary()
        };
        let r = plan(&s, &Behavior::default(), ToolArgs::Split);
        assert_eq!(r.text(), "I see");
        assert_eq!(r.finish, Finish::Length);
    }

    #[test]
    fn tool_call_with_sampled_args() {
        let s = Summary {
            tools: vec![
                Tool {
                    name: "get_weather".into(),
                    schema: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
                },
                Tool {
                    name: "other".into(),
                    schema: json!(null),
                },
            ],
            ..summary()
        };
        let r = plan(&s, &Behavior::default(), ToolArgs::Split);
        let call = r.tool_call().unwrap();
        assert_eq!(call.name, "get_weather");
        assert_eq!(call.args, r#"{"city":"mock"}"#);
        assert!(call.fragments.len() >= 2);
        assert_eq!(call.fragments.concat(), call.args);
        assert_eq!(r.finish, Finish::ToolCalls);
        assert_eq!(r.usage.completion, call.fragments.len() as u64);

        let forced = Summary {
            tool_choice: ToolChoice::Named("other".into()),
            ..s
        };
        let r = plan(&forced, &Behavior::default(), ToolArgs::Whole);
        let call = r.tool_call().unwrap();
        assert_eq!(call.name, "other");
        assert_eq!(call.fragments, vec!["{}".to_owned()]);
    }

    #[test]
    fn tool_choice_none_and_tool_results_answer_text() {
        let tools = vec![Tool {
            name: "t".into(),
            schema: json!({}),
        }];
        let s = Summary {
            tools: tools.clone(),
            tool_choice: ToolChoice::None,
            ..summary()
        };
        assert!(plan(&s, &Behavior::default(), ToolArgs::Split)
            .tool_call()
            .is_none());
        let s = Summary {
            tools,
            tool_result: Some("20°C and sunny".into()),
            ..summary()
        };
        let r = plan(&s, &Behavior::default(), ToolArgs::Split);
        assert_eq!(r.text(), "The tool said: \"20°C and sunny\"");
        assert_eq!(r.usage.completion, 6);
        assert_eq!(r.finish, Finish::Stop);
    }

    #[test]
    fn json_reasoning_images_and_cache() {
        let s = Summary {
            json: Some(JsonOutput::Object),
            reasoning: true,
            ..summary()
        };
        let b = Behavior {
            cached_tokens: Some(100),
            ..Behavior::default()
        };
        let r = plan(&s, &b, ToolArgs::Split);
        let v: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
        assert!(v.is_object());
        let toks = all_tokens(&r);
        assert_eq!(toks[0], (Kind::Reasoning, "The".to_owned()));
        assert_eq!(r.usage.reasoning, 7);
        assert_eq!(r.usage.completion, toks.len() as u64);
        assert_eq!(r.usage.cached, 7, "capped at the prompt");
        assert_eq!(r.reasoning_text(), "The user wants a short reply.");

        let s = Summary {
            images: 2,
            ..summary()
        };
        let b = Behavior {
            tokens: Some(2),
            ..Behavior::default()
        };
        assert_eq!(
            plan(&s, &b, ToolArgs::Split).text(),
            "I see 2 images. Hello from"
        );
    }

    #[test]
    fn content_filter_cuts_the_reply() {
        let b = Behavior {
            content_filter: Some(ContentFilter::Response),
            ..Behavior::default()
        };
        let r = plan(&summary(), &b, ToolArgs::Split);
        assert_eq!(r.text(), "Hello from the Switchyard mock provider");
        assert_eq!(r.finish, Finish::ContentFilter);
    }

    #[test]
    fn long_replies_are_generated_lazily() {
        let s = Summary {
            images: 1,
            ..summary()
        };
        let b = Behavior {
            tokens: Some(u32::MAX),
            content_filter: Some(ContentFilter::Response),
            ..Behavior::default()
        };
        let r = plan(&s, &b, ToolArgs::Split);
        assert_eq!(r.token_count(), (4 + MAX_TOKENS) / 2);
        assert_eq!(r.token(4).unwrap().1, " Hello");
        assert_eq!(r.token(5).unwrap().1, " from");
        assert!(r.token(r.token_count()).is_none());
    }

    #[test]
    fn splitting() {
        assert_eq!(split_at_least_two("{}"), vec!["{", "}"]);
        assert_eq!(split_bytes("ééééé", 3).concat(), "ééééé");
        assert_eq!(split_words("a bc  d"), vec!["a", " bc", " ", " d"]);
    }
}
