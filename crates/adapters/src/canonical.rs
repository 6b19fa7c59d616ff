//! The canonical model: one typed shape of a chat call, its response and its stream.
//!
//! Every ingress format (OpenAI Chat Completions, Responses, Anthropic Messages)
//! decodes into these types and every provider adapter encodes from them, so a new
//! format or provider is one codec, never one converter per pair. Same-format
//! traffic (OpenAI client → OpenAI-compatible upstream) skips this model entirely
//! on the fast path (`openai::fastpath`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A chat request, independent of any wire format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model as the client named it (a public name or `provider/model`).
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub response_format: Option<ResponseFormat>,
    pub reasoning_effort: Option<ReasoningEffort>,
    /// Output cap (`max_tokens` or `max_completion_tokens` on OpenAI).
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub n: Option<u32>,
    pub user: Option<String>,
    pub stream: bool,
    /// The client asked for usage in the stream (`stream_options.include_usage`).
    pub include_usage: bool,
    /// The client asked that parameters the provider cannot honour be dropped instead of
    /// refused (`"drop_params": true` in the body, as in LiteLLM).
    #[serde(default)]
    pub drop_params: bool,
    /// Fields the codec does not model, kept so that same-format upstreams get them untouched
    /// and other adapters can refuse them by name.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    /// Ordered content. Assistant thinking is kept here as `Thinking` parts, in place.
    pub content: Vec<ContentPart>,
    pub name: Option<String>,
    /// Assistant tool calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For `Role::Tool`: the call this result answers.
    pub tool_call_id: Option<String>,
    /// Message fields the codec does not model (an echoed assistant `audio` or
    /// `annotations`, the legacy `function_call`, a provider's own fields), kept so that
    /// same-format upstreams get them untouched and other adapters can refuse them by name.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl Message {
    pub fn text(role: Role, text: impl Into<String>) -> Message {
        Message {
            role,
            content: vec![ContentPart::Text { text: text.into() }],
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            extra: Map::new(),
        }
    }

    /// All text parts joined, for formats that take a single string.
    pub fn joined_text(&self) -> String {
        let mut out = String::new();
        for part in &self.content {
            if let ContentPart::Text { text } = part {
                out.push_str(text);
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text {
        text: String,
    },
    Image {
        source: ImageSource,
        /// OpenAI's `detail` (`auto`, `low`, `high`).
        detail: Option<String>,
    },
    InputAudio {
        /// Base64 audio.
        data: String,
        format: String,
    },
    File {
        /// Base64 file data or a provider file id.
        data: Option<String>,
        file_id: Option<String>,
        filename: Option<String>,
    },
    /// Model reasoning. `signature` lets providers verify it on the next turn.
    Thinking {
        text: String,
        signature: Option<String>,
    },
    /// Reasoning the provider returned encrypted; passed back verbatim.
    RedactedThinking {
        data: String,
    },
    /// The assistant declined (OpenAI `refusal`).
    Refusal {
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageSource {
    Url { url: String },
    Base64 { media_type: String, data: String },
}

impl ImageSource {
    /// Parses an OpenAI `image_url.url`, which may be a `data:` URL.
    pub fn from_url(url: &str) -> ImageSource {
        if let Some(rest) = url.strip_prefix("data:") {
            if let Some((meta, data)) = rest.split_once(',') {
                if let Some(media_type) = meta.strip_suffix(";base64") {
                    return ImageSource::Base64 {
                        media_type: media_type.to_string(),
                        data: data.to_string(),
                    };
                }
            }
        }
        ImageSource::Url {
            url: url.to_string(),
        }
    }

    /// Back to a URL (base64 as a `data:` URL).
    pub fn to_url(&self) -> String {
        match self {
            ImageSource::Url { url } => url.clone(),
            ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// JSON text of the arguments, as the model produced it.
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the parameters.
    pub parameters: Option<Value>,
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    Auto,
    None,
    Required,
    Function { name: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        schema: Option<Value>,
        strict: Option<bool>,
        description: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningEffort {
    None,
    Minimal,
    Low,
    Medium,
    High,
    Xhigh,
}

/// Why generation stopped, normalised to OpenAI's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
        }
    }

    /// A provider's own reason string as a `raw_reason`: `None` when it says nothing
    /// more than this normalised reason (it is the same string, or empty).
    pub fn raw_reason(self, provider_reason: &str) -> Option<String> {
        (!provider_reason.is_empty() && provider_reason != self.as_str())
            .then(|| provider_reason.to_string())
    }

    /// OpenAI's strings, plus the legacy `function_call`.
    pub fn from_openai(s: &str) -> Option<FinishReason> {
        Some(match s {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            _ => return None,
        })
    }
}

/// Token usage, complete: what the ledger records and what clients see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// All input tokens, cached ones included (OpenAI's `prompt_tokens`).
    pub prompt_tokens: u64,
    /// All output tokens, reasoning included.
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Input tokens written to the provider's prompt cache (Anthropic cache creation).
    pub cache_write_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Combines usage reported in pieces (streams report some fields early, some late):
    /// each field keeps the larger value, since providers report running totals.
    pub fn merge_max(&mut self, other: &Usage) {
        self.prompt_tokens = self.prompt_tokens.max(other.prompt_tokens);
        self.completion_tokens = self.completion_tokens.max(other.completion_tokens);
        self.cached_tokens = self.cached_tokens.max(other.cached_tokens);
        self.cache_write_tokens = self.cache_write_tokens.max(other.cache_write_tokens);
        self.reasoning_tokens = self.reasoning_tokens.max(other.reasoning_tokens);
        self.total_tokens = self
            .total_tokens
            .max(other.total_tokens)
            .max(self.prompt_tokens + self.completion_tokens);
    }
}

/// A complete (non-streamed) response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub id: String,
    /// The model that answered, as the upstream named it.
    pub model: String,
    pub created: u64,
    pub choices: Vec<Choice>,
    pub usage: Usage,
    pub system_fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub index: u32,
    /// The assistant message (text, thinking, refusal parts and tool calls).
    pub message: Message,
    pub finish_reason: Option<FinishReason>,
    /// The provider's own finish reason, when it differs from `finish_reason`'s string
    /// (DeepSeek's `insufficient_system_resource`, Anthropic's `end_turn`), for the ledger.
    #[serde(default)]
    pub raw_reason: Option<String>,
}

/// One step of a streamed response. Stream decoders turn provider events into these;
/// stream encoders turn them into the client's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatChunk {
    /// The response began.
    Start {
        id: String,
        model: String,
        created: u64,
        /// The backend configuration that served the response (OpenAI's `system_fingerprint`).
        #[serde(default)]
        system_fingerprint: Option<String>,
    },
    /// Visible text for choice `index`.
    Text { index: u32, text: String },
    /// Refusal text for choice `index` (OpenAI's `delta.refusal`).
    Refusal { index: u32, text: String },
    /// Reasoning text (and, at the end of a block, its signature).
    Thinking {
        index: u32,
        text: String,
        signature: Option<String>,
    },
    /// A tool call fragment. `call_index` counts tool calls within the choice from 0
    /// (OpenAI's `tool_calls[].index`), whatever block index the provider used.
    /// `id` and `name` are set on a call's first fragment only.
    ToolCall {
        index: u32,
        call_index: u32,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    /// Choice `index` finished. `raw_reason` is the provider's own reason when it
    /// differs from `reason`'s string (see [`Choice::raw_reason`]).
    Finish {
        index: u32,
        reason: FinishReason,
        #[serde(default)]
        raw_reason: Option<String>,
    },
    /// Usage so far (providers may report it more than once; later values supersede).
    Usage(Usage),
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_fields_default_when_absent() {
        let start: ChatChunk =
            serde_json::from_value(json!({"type": "start", "id": "c", "model": "m", "created": 1}))
                .unwrap();
        assert!(matches!(
            start,
            ChatChunk::Start {
                system_fingerprint: None,
                ..
            }
        ));
        let finish: ChatChunk =
            serde_json::from_value(json!({"type": "finish", "index": 0, "reason": "stop"}))
                .unwrap();
        assert_eq!(
            finish,
            ChatChunk::Finish {
                index: 0,
                reason: FinishReason::Stop,
                raw_reason: None
            }
        );
        let msg = json!({"role": "assistant", "content": [], "name": null, "tool_call_id": null});
        let choice: Choice =
            serde_json::from_value(json!({"index": 0, "message": msg, "finish_reason": "length"}))
                .unwrap();
        assert_eq!(choice.raw_reason, None);
        assert!(choice.message.extra.is_empty());
        // An empty `extra` is left out.
        assert_eq!(serde_json::to_value(&choice.message).unwrap(), msg);
    }

    #[test]
    fn new_fields_round_trip() {
        let mut message = Message::text(Role::Assistant, "hi");
        message.extra.insert("audio".into(), json!({"id": "a"}));
        let choice = Choice {
            index: 0,
            message,
            finish_reason: Some(FinishReason::Stop),
            raw_reason: Some("end_turn".into()),
        };
        let v = serde_json::to_value(&choice).unwrap();
        assert_eq!(v["message"]["extra"], json!({"audio": {"id": "a"}}));
        assert_eq!(serde_json::from_value::<Choice>(v).unwrap(), choice);
        for chunk in [
            ChatChunk::Refusal {
                index: 1,
                text: "no".into(),
            },
            ChatChunk::Start {
                id: "c".into(),
                model: "m".into(),
                created: 1,
                system_fingerprint: Some("fp".into()),
            },
            ChatChunk::Finish {
                index: 0,
                reason: FinishReason::Length,
                raw_reason: Some("max_tokens".into()),
            },
        ] {
            let v = serde_json::to_value(&chunk).unwrap();
            assert_eq!(serde_json::from_value::<ChatChunk>(v).unwrap(), chunk);
        }
    }

    #[test]
    fn raw_reason_only_when_it_says_more() {
        assert_eq!(FinishReason::Stop.raw_reason("stop"), None);
        assert_eq!(FinishReason::Stop.raw_reason(""), None);
        assert_eq!(
            FinishReason::Stop.raw_reason("end_turn").as_deref(),
            Some("end_turn")
        );
        assert_eq!(
            FinishReason::ToolCalls
                .raw_reason("function_call")
                .as_deref(),
            Some("function_call")
        );
    }
}
