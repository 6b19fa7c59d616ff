//! Non-streamed responses: provider decode (OpenAI body → canonical) and ingress
//! encode (canonical → the `chat.completion` body an OpenAI client reads).

use super::request_encode::{joined, refusal_of, text_of, thinking_of};
use super::usage::WireUsage;
use crate::adapter::AdapterError;
use crate::canonical::{
    ChatResponse, Choice, ContentPart, FinishReason, Message, Role, ToolCall, Usage,
};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// OpenAI's finish reason; strings outside its vocabulary (some compatible hosts
/// invent their own) count as a normal stop.
pub(crate) fn finish_reason(s: &str) -> FinishReason {
    FinishReason::from_openai(s).unwrap_or(FinishReason::Stop)
}

/// [`finish_reason`], with the provider's string kept when it differs from the result.
pub(crate) fn finish_reason_raw(s: &str) -> (FinishReason, Option<String>) {
    let reason = finish_reason(s);
    (reason, reason.raw_reason(s))
}

/// `content` as OpenAI sends it, or as an array of parts (some compatible hosts).
/// Deserialised by hand: an untagged enum would buffer every stream delta first.
pub(crate) enum WireText {
    Text(String),
    Parts(Vec<WirePart>),
}

impl<'de> Deserialize<'de> for WireText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = WireText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<WireText, E> {
                Ok(WireText::Text(s.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<WireText, E> {
                Ok(WireText::Text(s))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<WireText, A::Error> {
                let mut parts = Vec::new();
                while let Some(p) = seq.next_element()? {
                    parts.push(p);
                }
                Ok(WireText::Parts(parts))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
pub(crate) struct WirePart {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

impl WireText {
    /// The visible text (parts of type `text`, or untyped parts with `text`).
    pub(crate) fn into_text(self) -> String {
        match self {
            WireText::Text(s) => s,
            WireText::Parts(parts) => parts
                .into_iter()
                .filter(|p| p.kind.as_deref().is_none_or(|k| k == "text"))
                .filter_map(|p| p.text)
                .collect(),
        }
    }
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    created: Option<u64>,
    #[serde(default)]
    choices: Option<Vec<WireChoice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    system_fingerprint: Option<String>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<WireText>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
    /// DeepSeek and most OpenAI-compatible reasoning hosts.
    #[serde(default)]
    reasoning_content: Option<String>,
    /// OpenRouter and newer vLLM (which may send both; they then agree).
    #[serde(default)]
    reasoning: Option<String>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<serde_json::Value>,
}

/// Decodes a non-streamed OpenAI Chat Completions response body.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, AdapterError> {
    let wire: WireResponse = serde_json::from_slice(body)
        .map_err(|e| AdapterError::BadResponse(format!("invalid chat completion JSON: {e}")))?;
    let choices = match (wire.choices, wire.error) {
        (Some(c), _) => c,
        (None, Some(_)) => {
            let e = super::errors::classify(200, &http::HeaderMap::new(), body);
            return Err(AdapterError::BadResponse(format!(
                "the provider answered with an error: {}",
                e.message
            )));
        }
        (None, None) => {
            return Err(AdapterError::BadResponse(
                "the chat completion has no `choices`".to_string(),
            ))
        }
    };
    Ok(ChatResponse {
        id: wire.id.unwrap_or_default(),
        model: wire.model.unwrap_or_default(),
        created: wire.created.unwrap_or(0),
        choices: choices.into_iter().map(decode_choice).collect(),
        usage: wire.usage.map(Usage::from).unwrap_or_default(),
        system_fingerprint: wire.system_fingerprint,
    })
}

fn decode_choice(c: WireChoice) -> Choice {
    let mut content = Vec::new();
    let mut tool_calls = Vec::new();
    if let Some(m) = c.message {
        if let Some(text) = m
            .reasoning_content
            .or(m.reasoning)
            .filter(|t| !t.is_empty())
        {
            content.push(ContentPart::Thinking {
                text,
                signature: None,
            });
        }
        if let Some(text) = m.content.map(WireText::into_text).filter(|t| !t.is_empty()) {
            content.push(ContentPart::Text { text });
        }
        if let Some(text) = m.refusal {
            content.push(ContentPart::Refusal { text });
        }
        for call in m.tool_calls.unwrap_or_default() {
            let (name, arguments) = match call.function {
                Some(f) => (f.name.unwrap_or_default(), arguments_text(f.arguments)),
                None => (String::new(), String::new()),
            };
            tool_calls.push(ToolCall {
                id: call.id.unwrap_or_default(),
                name,
                arguments,
            });
        }
    }
    let (finish_reason, raw_reason) = match c.finish_reason.as_deref().map(finish_reason_raw) {
        Some((reason, raw)) => (Some(reason), raw),
        None => (None, None),
    };
    Choice {
        index: c.index,
        message: Message {
            role: Role::Assistant,
            content,
            name: None,
            tool_calls,
            tool_call_id: None,
            extra: serde_json::Map::new(),
        },
        finish_reason,
        raw_reason,
    }
}

/// Arguments are a JSON string on OpenAI; a few compatible hosts send an object.
fn arguments_text(v: Option<serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

/// OpenAI's `usage` object, complete with the details clients read.
#[derive(Serialize)]
pub(crate) struct UsageOut {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetailsOut,
    completion_tokens_details: CompletionDetailsOut,
}

#[derive(Serialize)]
struct PromptDetailsOut {
    cached_tokens: u64,
    /// Not an OpenAI field; written only when a provider reported cache writes
    /// (the `usage` module reads it back).
    #[serde(skip_serializing_if = "is_zero")]
    cache_write_tokens: u64,
}

#[derive(Serialize)]
struct CompletionDetailsOut {
    reasoning_tokens: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl From<&Usage> for UsageOut {
    fn from(u: &Usage) -> UsageOut {
        UsageOut {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total_tokens.max(u.prompt_tokens + u.completion_tokens),
            prompt_tokens_details: PromptDetailsOut {
                cached_tokens: u.cached_tokens,
                cache_write_tokens: u.cache_write_tokens,
            },
            completion_tokens_details: CompletionDetailsOut {
                reasoning_tokens: u.reasoning_tokens,
            },
        }
    }
}

#[derive(Serialize)]
struct ResponseOut<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<ChoiceOut<'a>>,
    usage: UsageOut,
    system_fingerprint: Option<&'a str>,
}

#[derive(Serialize)]
struct ChoiceOut<'a> {
    index: u32,
    message: MessageOut<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct MessageOut<'a> {
    role: &'static str,
    content: Option<Cow<'a, str>>,
    refusal: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<Cow<'a, str>>,
    /// Thinking with its signatures, so a client that sends the message back lets the
    /// provider verify its reasoning (only when there is a signature or redacted block).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    thinking_blocks: Vec<ThinkingBlockOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCallOut<'a>>,
}

/// An entry of `thinking_blocks` (the shape LiteLLM clients already know).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ThinkingBlockOut<'a> {
    Thinking {
        thinking: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        signature: Option<&'a str>,
    },
    RedactedThinking {
        data: &'a str,
    },
}

/// `thinking_blocks` of a message: empty unless some block carries what
/// `reasoning_content` cannot (a signature, or redacted data).
pub(crate) fn thinking_blocks(content: &[ContentPart]) -> Vec<ThinkingBlockOut<'_>> {
    let needed = content.iter().any(|p| {
        matches!(
            p,
            ContentPart::Thinking {
                signature: Some(_),
                ..
            } | ContentPart::RedactedThinking { .. }
        )
    });
    if !needed {
        return Vec::new();
    }
    content
        .iter()
        .filter_map(|p| match p {
            ContentPart::Thinking { text, signature } => Some(ThinkingBlockOut::Thinking {
                thinking: text,
                signature: signature.as_deref(),
            }),
            ContentPart::RedactedThinking { data } => {
                Some(ThinkingBlockOut::RedactedThinking { data })
            }
            _ => None,
        })
        .collect()
}

#[derive(Serialize)]
struct ToolCallOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionOut<'a>,
}

#[derive(Serialize)]
struct FunctionOut<'a> {
    name: &'a str,
    arguments: &'a str,
}

/// Encodes a canonical response as OpenAI's `chat.completion` body, naming the model
/// as the client knows it.
pub fn encode_response(resp: &ChatResponse, public_model: &str) -> Vec<u8> {
    let out = ResponseOut {
        id: &resp.id,
        object: "chat.completion",
        created: resp.created,
        model: public_model,
        choices: resp
            .choices
            .iter()
            .map(|c| ChoiceOut {
                index: c.index,
                message: MessageOut {
                    role: "assistant",
                    content: joined(&c.message.content, text_of),
                    refusal: joined(&c.message.content, refusal_of),
                    reasoning_content: joined(&c.message.content, thinking_of),
                    thinking_blocks: thinking_blocks(&c.message.content),
                    tool_calls: c
                        .message
                        .tool_calls
                        .iter()
                        .map(|t| ToolCallOut {
                            id: &t.id,
                            kind: "function",
                            function: FunctionOut {
                                name: &t.name,
                                arguments: &t.arguments,
                            },
                        })
                        .collect(),
                },
                logprobs: None,
                finish_reason: c.finish_reason.map(FinishReason::as_str),
            })
            .collect(),
        usage: UsageOut::from(&resp.usage),
        system_fingerprint: resp.system_fingerprint.as_deref(),
    };
    // Cannot fail: every map key is a string.
    serde_json::to_vec(&out).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::test_support::fixture;
    use serde_json::{json, Value};

    /// The `parsed_body` of every response in a VCR cassette, as JSON bytes.
    fn cassette_responses(rel: &str) -> Vec<Vec<u8>> {
        let doc: Value = serde_yaml_ng::from_slice(&fixture(rel)).unwrap();
        doc["interactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| serde_json::to_vec(&i["response"]["parsed_body"]).unwrap())
            .collect()
    }

    #[test]
    fn recorded_text_response_decodes_and_round_trips() {
        let body = fixture("openai/vercel_chat_nonstream_text.json");
        let raw: Value = serde_json::from_slice(&body).unwrap();
        let r = decode_response(&body).unwrap();
        assert_eq!(r.id, "chatcmpl-D8Z5f52zQqikDBEKQMQoYcWMcWPeU");
        assert_eq!(r.model, "gpt-4.1-nano-2025-04-14");
        assert_eq!(r.created, 1770933883);
        assert_eq!(r.system_fingerprint.as_deref(), Some("fp_de604bd877"));
        assert_eq!(
            r.usage,
            Usage {
                prompt_tokens: 16,
                completion_tokens: 363,
                total_tokens: 379,
                cached_tokens: 0,
                cache_write_tokens: 0,
                reasoning_tokens: 0,
            }
        );
        assert_eq!(r.choices.len(), 1);
        let c = &r.choices[0];
        assert_eq!(c.finish_reason, Some(FinishReason::Stop));
        assert_eq!(
            c.message.joined_text(),
            raw["choices"][0]["message"]["content"].as_str().unwrap()
        );
        assert_eq!(c.message.content.len(), 1, "null refusal adds no part");

        let out = encode_response(&r, "general");
        let v: Value = serde_json::from_slice(&out).unwrap();
        for key in ["id", "created", "system_fingerprint"] {
            assert_eq!(v[key], raw[key], "{key}");
        }
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "general");
        let (got, want) = (&v["choices"][0], &raw["choices"][0]);
        for key in ["index", "finish_reason", "logprobs"] {
            assert_eq!(got[key], want[key], "{key}");
        }
        for key in ["role", "content", "refusal"] {
            assert_eq!(got["message"][key], want["message"][key], "{key}");
        }
        assert!(got["message"].get("tool_calls").is_none());
        for key in ["prompt_tokens", "completion_tokens", "total_tokens"] {
            assert_eq!(v["usage"][key], raw["usage"][key], "{key}");
        }
        assert_eq!(
            v["usage"]["prompt_tokens_details"],
            json!({"cached_tokens": 0})
        );
        assert_eq!(
            v["usage"]["completion_tokens_details"],
            json!({"reasoning_tokens": 0})
        );
        // And our own output decodes back to the same response.
        let again = decode_response(&out).unwrap();
        assert_eq!(
            again,
            ChatResponse {
                model: "general".into(),
                ..r
            }
        );
    }

    #[test]
    fn recorded_tool_call_responses() {
        let bodies = cassette_responses("openai/pydanticai_test_openai_tool_output.yaml");
        let cases = [
            (
                "call_iXFttys57ap0o16JSlC8yhYo",
                "get_user_country",
                "{}",
                (68, 12, 80),
            ),
            (
                "call_gmD2oUZUzSoCkmNmp3JPUF7R",
                "final_result",
                r#"{"city": "Mexico City", "country": "Mexico"}"#,
                (89, 36, 125),
            ),
        ];
        assert_eq!(bodies.len(), cases.len());
        for (body, (id, name, args, (p, c, t))) in bodies.iter().zip(cases) {
            let r = decode_response(body).unwrap();
            let choice = &r.choices[0];
            assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
            assert!(
                choice.message.content.is_empty(),
                "{:?}",
                choice.message.content
            );
            assert_eq!(
                choice.message.tool_calls,
                vec![ToolCall {
                    id: id.into(),
                    name: name.into(),
                    arguments: args.into()
                }]
            );
            assert_eq!(
                (
                    r.usage.prompt_tokens,
                    r.usage.completion_tokens,
                    r.usage.total_tokens
                ),
                (p, c, t)
            );

            let v: Value = serde_json::from_slice(&encode_response(&r, "m")).unwrap();
            let msg = &v["choices"][0]["message"];
            assert_eq!(msg["content"], Value::Null);
            assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
            assert_eq!(
                msg["tool_calls"],
                json!([{"id": id, "type": "function", "function": {"name": name, "arguments": args}}])
            );
        }
    }

    #[test]
    fn recorded_azure_response_ignores_content_filter_results() {
        let bodies =
            cassette_responses("azure/pydanticai_azure_chat_nonstream_content_filter_results.yaml");
        let r = decode_response(&bodies[0]).unwrap();
        assert_eq!(
            r.choices[0].message.joined_text(),
            "The capital of France is **Paris**."
        );
        assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
        assert_eq!(r.usage.total_tokens, 23);
    }

    #[test]
    fn reasoning_refusal_and_odd_hosts() {
        let cases: Vec<(Value, Vec<ContentPart>, Option<FinishReason>)> = vec![
            (
                json!({"choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning_content":"2+2"},"finish_reason":"stop"}],
                       "usage":{"prompt_tokens":5,"completion_tokens":9,"completion_tokens_details":{"reasoning_tokens":7}}}),
                vec![
                    ContentPart::Thinking {
                        text: "2+2".into(),
                        signature: None,
                    },
                    ContentPart::Text { text: "4".into() },
                ],
                Some(FinishReason::Stop),
            ),
            (
                json!({"choices":[{"message":{"content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}),
                vec![ContentPart::Refusal {
                    text: "I can't help with that.".into(),
                }],
                Some(FinishReason::Stop),
            ),
            (
                json!({"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"reasoning":"r"},"finish_reason":"insufficient_system_resource"}]}),
                vec![
                    ContentPart::Thinking {
                        text: "r".into(),
                        signature: None,
                    },
                    ContentPart::Text { text: "ab".into() },
                ],
                Some(FinishReason::Stop),
            ),
            (
                json!({"choices":[{"message":{"content":"x"},"finish_reason":null}]}),
                vec![ContentPart::Text { text: "x".into() }],
                None,
            ),
        ];
        for (body, content, finish) in cases {
            let r = decode_response(&serde_json::to_vec(&body).unwrap()).unwrap();
            assert_eq!(r.choices[0].message.content, content, "{body}");
            assert_eq!(r.choices[0].finish_reason, finish, "{body}");
            // Thinking and refusal survive our own encoding.
            let again = decode_response(&encode_response(&r, "m")).unwrap();
            assert_eq!(again.choices[0].message.content, content, "{body}");
        }
        let v: Value = serde_json::from_slice(&encode_response(
            &decode_response(&serde_json::to_vec(&json!({"choices":[{"message":{"content":"4","reasoning_content":"2+2"}}],
                "usage":{"prompt_tokens":5,"completion_tokens":9,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":7}}})).unwrap()).unwrap(),
            "m",
        ))
        .unwrap();
        assert_eq!(v["choices"][0]["message"]["reasoning_content"], "2+2");
        assert_eq!(v["usage"]["total_tokens"], 14);
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 3);
        assert_eq!(
            v["usage"]["completion_tokens_details"]["reasoning_tokens"],
            7
        );
    }

    #[test]
    fn choice_keeps_the_providers_own_reason() {
        let cases = [
            ("length", Some(FinishReason::Length), None),
            (
                "function_call",
                Some(FinishReason::ToolCalls),
                Some("function_call"),
            ),
            (
                "insufficient_system_resource",
                Some(FinishReason::Stop),
                Some("insufficient_system_resource"),
            ),
        ];
        for (wire, reason, raw) in cases {
            let body = json!({"choices":[{"message":{"content":"x"},"finish_reason":wire}]});
            let r = decode_response(&serde_json::to_vec(&body).unwrap()).unwrap();
            assert_eq!(r.choices[0].finish_reason, reason, "{wire}");
            assert_eq!(r.choices[0].raw_reason.as_deref(), raw, "{wire}");
            // The client reads OpenAI's vocabulary; the raw reason is for the ledger.
            let v: Value = serde_json::from_slice(&encode_response(&r, "m")).unwrap();
            assert_eq!(
                v["choices"][0]["finish_reason"],
                reason.map(FinishReason::as_str).unwrap()
            );
        }
        let r =
            decode_response(br#"{"choices":[{"message":{"content":"x"},"finish_reason":null}]}"#)
                .unwrap();
        assert_eq!(
            (
                r.choices[0].finish_reason,
                r.choices[0].raw_reason.as_deref()
            ),
            (None, None)
        );
    }

    #[test]
    fn unreadable_bodies() {
        for body in [
            &b"not json"[..],
            b"{}",
            br#"{"error":{"message":"boom","type":"server_error"}}"#,
        ] {
            let e = decode_response(body).unwrap_err();
            assert!(matches!(e, AdapterError::BadResponse(_)), "{e:?}");
        }
        let e = decode_response(br#"{"error":{"message":"boom"}}"#).unwrap_err();
        assert!(e.to_string().contains("boom"), "{e}");
    }
}
