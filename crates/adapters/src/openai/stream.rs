//! Provider decode, streamed: OpenAI Chat Completions SSE chunks → canonical chunks.

use super::response::{finish_reason_raw, WireText};
use super::usage::WireUsage;
use crate::adapter::{StreamDecoder, StreamEvent};
use crate::canonical::{ChatChunk, Usage};
use crate::error::{ErrorClass, UpstreamError};
use serde::de::IgnoredAny;
use serde::Deserialize;

#[derive(Deserialize)]
struct WireChunk {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    created: Option<u64>,
    #[serde(default)]
    choices: Option<Vec<WireChunkChoice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    system_fingerprint: Option<String>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct WireChunkChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<WireDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireDelta {
    #[serde(default)]
    content: Option<WireText>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolDelta>>,
}

#[derive(Deserialize)]
struct WireToolDelta {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunctionDelta>,
}

#[derive(Deserialize)]
struct WireFunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// What has been passed on of one tool call.
struct CallState {
    choice: u32,
    call: u32,
    sent_id: bool,
    sent_name: bool,
}

/// Decodes an OpenAI Chat Completions stream, one SSE event at a time.
#[derive(Default)]
pub struct OpenAiStreamDecoder {
    started: bool,
    done: bool,
    calls: Vec<CallState>,
}

impl OpenAiStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The state of tool call `index` of choice `choice`. Hosts that leave out the
    /// index start a new call when an `id` appears, else continue the last one.
    fn call(&mut self, choice: u32, index: Option<u32>, has_id: bool) -> &mut CallState {
        let in_choice = || self.calls.iter().filter(|c| c.choice == choice);
        let call = match index {
            Some(i) => i,
            None => {
                let last = in_choice().map(|c| c.call).max();
                match (last, has_id) {
                    (Some(l), true) => l + 1,
                    (Some(l), false) => l,
                    (None, _) => 0,
                }
            }
        };
        let pos = match self
            .calls
            .iter()
            .position(|c| c.choice == choice && c.call == call)
        {
            Some(p) => p,
            None => {
                self.calls.push(CallState {
                    choice,
                    call,
                    sent_id: false,
                    sent_name: false,
                });
                self.calls.len() - 1
            }
        };
        &mut self.calls[pos]
    }

    fn decode_choice(&mut self, c: WireChunkChoice, out: &mut Vec<ChatChunk>) {
        let index = c.index;
        if let Some(d) = c.delta {
            let thinking = d
                .reasoning_content
                .filter(|t| !t.is_empty())
                .or(d.reasoning);
            if let Some(text) = thinking.filter(|t| !t.is_empty()) {
                out.push(ChatChunk::Thinking {
                    index,
                    text,
                    signature: None,
                });
            }
            if let Some(text) = d.content.map(WireText::into_text).filter(|t| !t.is_empty()) {
                out.push(ChatChunk::Text { index, text });
            }
            if let Some(text) = d.refusal.filter(|t| !t.is_empty()) {
                out.push(ChatChunk::Refusal { index, text });
            }
            for t in d.tool_calls.unwrap_or_default() {
                let (name, arguments) = match t.function {
                    Some(f) => (
                        f.name.filter(|n| !n.is_empty()),
                        f.arguments.unwrap_or_default(),
                    ),
                    None => (None, String::new()),
                };
                let id = t.id.filter(|i| !i.is_empty());
                let state = self.call(index, t.index, id.is_some());
                // id and name go out once, on the call's first fragment that has them.
                let id = id.filter(|_| !state.sent_id);
                let name = name.filter(|_| !state.sent_name);
                state.sent_id |= id.is_some();
                state.sent_name |= name.is_some();
                let call_index = state.call;
                if id.is_some() || name.is_some() || !arguments.is_empty() {
                    out.push(ChatChunk::ToolCall {
                        index,
                        call_index,
                        id,
                        name,
                        arguments,
                    });
                }
            }
        }
        if let Some(reason) = c.finish_reason.as_deref() {
            let (reason, raw_reason) = finish_reason_raw(reason);
            out.push(ChatChunk::Finish {
                index,
                reason,
                raw_reason,
            });
        }
    }
}

/// An error reported inside the stream, classified as `errors::classify` would, but
/// with no HTTP status (the response had already begun with 200).
fn stream_error(data: &[u8]) -> UpstreamError {
    let mut e = super::errors::classify(0, &http::HeaderMap::new(), data);
    e.status = None;
    e
}

impl StreamDecoder for OpenAiStreamDecoder {
    fn on_event(&mut self, event: StreamEvent<'_>) -> Result<Vec<ChatChunk>, UpstreamError> {
        let StreamEvent::Sse(ev) = event else {
            return Ok(Vec::new());
        };
        if ev.is_done() {
            self.done = true;
            return Ok(Vec::new());
        }
        let data = ev.data.as_ref();
        if data.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        if ev.event == Some("error") {
            return Err(stream_error(data));
        }
        let chunk: WireChunk = match serde_json::from_slice(data) {
            Ok(c) => c,
            Err(e) => {
                if memchr::memmem::find(data, b"\"error\"").is_some() {
                    return Err(stream_error(data));
                }
                return Err(UpstreamError::new(
                    ErrorClass::Server,
                    None,
                    format!("could not read the provider's stream chunk: {e}"),
                ));
            }
        };
        if chunk.error.is_some() {
            return Err(stream_error(data));
        }
        let choices = chunk.choices.unwrap_or_default();
        let mut out = Vec::new();
        // Azure's leading chunk (no choices, only `prompt_filter_results`) starts nothing.
        if !self.started && (!choices.is_empty() || chunk.usage.is_some()) {
            self.started = true;
            out.push(ChatChunk::Start {
                id: chunk.id.unwrap_or_default(),
                model: chunk.model.unwrap_or_default(),
                created: chunk.created.unwrap_or(0),
                system_fingerprint: chunk.system_fingerprint,
            });
        }
        for c in choices {
            self.decode_choice(c, &mut out);
        }
        if let Some(u) = chunk.usage {
            out.push(ChatChunk::Usage(Usage::from(u)));
        }
        Ok(out)
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::canonical::FinishReason;
    use crate::sse::{parse_event, SseEvent, SseSplitter};
    use crate::test_support::fixture;
    use serde_json::{json, Value};
    use std::borrow::Cow;

    fn feed(d: &mut OpenAiStreamDecoder, data: &[u8]) -> Result<Vec<ChatChunk>, UpstreamError> {
        let ev = SseEvent {
            event: None,
            data: Cow::Borrowed(data),
        };
        d.on_event(StreamEvent::Sse(&ev))
    }

    /// Decodes every line of a `.chunks.jsonl` fixture, then `[DONE]`.
    fn decode_lines(rel: &str) -> (Vec<Value>, Vec<ChatChunk>) {
        let raw = fixture(rel);
        let mut d = OpenAiStreamDecoder::new();
        let mut lines = Vec::new();
        let mut out = Vec::new();
        for line in raw.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            lines.push(serde_json::from_slice::<Value>(line).unwrap());
            out.extend(feed(&mut d, line).unwrap());
        }
        assert!(!d.is_done());
        assert!(feed(&mut d, b"[DONE]").unwrap().is_empty());
        assert!(d.is_done());
        (lines, out)
    }

    fn usage_of(v: &Value) -> Usage {
        let n = |p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        Usage {
            prompt_tokens: n("/prompt_tokens"),
            completion_tokens: n("/completion_tokens"),
            total_tokens: n("/total_tokens"),
            cached_tokens: n("/prompt_tokens_details/cached_tokens"),
            cache_write_tokens: 0,
            reasoning_tokens: n("/completion_tokens_details/reasoning_tokens"),
        }
    }

    /// What a recorded stream must decode to, computed from the recorded JSON.
    fn check_against_recording(rel: &str) -> (String, Usage) {
        let (lines, out) = decode_lines(rel);
        let with_choices: Vec<&Value> = lines
            .iter()
            .filter(|l| l["choices"].as_array().is_some_and(|c| !c.is_empty()))
            .collect();
        let first = with_choices[0];
        let want_text: String = lines
            .iter()
            .flat_map(|l| l["choices"].as_array().into_iter().flatten())
            .filter_map(|c| c["delta"]["content"].as_str())
            .collect();
        let want_reason = with_choices
            .iter()
            .find_map(|l| l["choices"][0]["finish_reason"].as_str())
            .unwrap();
        let want_usage = lines.iter().rev().find(|l| l["usage"].is_object()).unwrap();

        let starts: Vec<&ChatChunk> = out
            .iter()
            .filter(|c| matches!(c, ChatChunk::Start { .. }))
            .collect();
        assert_eq!(
            starts,
            vec![&ChatChunk::Start {
                id: first["id"].as_str().unwrap().into(),
                model: first["model"].as_str().unwrap().into(),
                created: first["created"].as_u64().unwrap(),
                system_fingerprint: first["system_fingerprint"].as_str().map(Into::into),
            }]
        );
        assert!(
            matches!(out[0], ChatChunk::Start { .. }),
            "Start comes first"
        );
        let text: String = out
            .iter()
            .filter_map(|c| match c {
                ChatChunk::Text { index: 0, text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, want_text);
        let finishes: Vec<&ChatChunk> = out
            .iter()
            .filter(|c| matches!(c, ChatChunk::Finish { .. }))
            .collect();
        assert_eq!(
            finishes,
            vec![&ChatChunk::Finish {
                index: 0,
                reason: FinishReason::from_openai(want_reason).unwrap(),
                raw_reason: None,
            }]
        );
        let usage = usage_of(&want_usage["usage"]);
        assert_eq!(out.last(), Some(&ChatChunk::Usage(usage)));
        (text, usage)
    }

    #[test]
    fn recorded_openai_text_stream() {
        let (text, usage) =
            check_against_recording("openai/vercel_chat_stream_text_usage.chunks.jsonl");
        assert!(text.starts_with("**Holiday Name"), "{text}");
        let (_, out) = decode_lines("openai/vercel_chat_stream_text_usage.chunks.jsonl");
        assert!(
            matches!(&out[0], ChatChunk::Start { system_fingerprint: Some(fp), .. } if fp == "fp_de604bd877"),
            "{:?}",
            out[0]
        );
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens
            ),
            (16, 300, 316)
        );
    }

    #[test]
    fn recorded_azure_stream_with_content_filter() {
        let raw = fixture("azure/vercel_azure_chat_stream_content_filter.chunks.jsonl");
        let first_line = raw.split(|&b| b == b'\n').next().unwrap();
        let mut d = OpenAiStreamDecoder::new();
        assert!(
            feed(&mut d, first_line).unwrap().is_empty(),
            "prompt_filter_results chunk"
        );
        let (text, usage) =
            check_against_recording("azure/vercel_azure_chat_stream_content_filter.chunks.jsonl");
        assert!(text.starts_with("Capital of Denmark"), "{text}");
        assert_eq!((usage.reasoning_tokens, usage.total_tokens), (64, 93));
    }

    #[test]
    fn recorded_raw_sse_with_moderation_trailer() {
        let doc: Value = serde_yaml_ng::from_slice(&fixture(
            "openai/pydanticai_test_openai_moderation_stream.yaml",
        ))
        .unwrap();
        let body = doc["interactions"][0]["response"]["body"]["string"]
            .as_str()
            .unwrap();
        let mut split = SseSplitter::new();
        let mut events = Vec::new();
        split.push(bytes::Bytes::copy_from_slice(body.as_bytes()), &mut events);
        let mut d = OpenAiStreamDecoder::new();
        let mut out = Vec::new();
        for raw in &events {
            out.extend(d.on_event(StreamEvent::Sse(&parse_event(raw))).unwrap());
        }
        assert!(d.is_done());
        let text: String = out
            .iter()
            .filter_map(|c| match c {
                ChatChunk::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "Paris.");
        // The moderation chunk after the usage trailer produces nothing.
        assert!(
            matches!(out.last(), Some(ChatChunk::Usage(u)) if u.total_tokens == 24),
            "{out:?}"
        );
    }

    #[test]
    fn tool_call_fragments_thinking_and_refusal() {
        let chunks = [
            json!({"id":"c1","model":"m","created":7,"choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":"hmm"}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"reasoning":"ignored twin","reasoning_content":" ok"}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":"}}]}}]}),
            // A host that repeats id and name on later fragments.
            json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"f","arguments":"1}"}}]}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}]}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"refusal":"no"},"finish_reason":"tool_calls"}],"usage":null}),
        ];
        let mut d = OpenAiStreamDecoder::new();
        let mut out = Vec::new();
        for c in &chunks {
            out.extend(feed(&mut d, &serde_json::to_vec(c).unwrap()).unwrap());
        }
        let tc =
            |call_index, id: Option<&str>, name: Option<&str>, args: &str| ChatChunk::ToolCall {
                index: 0,
                call_index,
                id: id.map(Into::into),
                name: name.map(Into::into),
                arguments: args.into(),
            };
        assert_eq!(
            out,
            vec![
                ChatChunk::Start {
                    id: "c1".into(),
                    model: "m".into(),
                    created: 7,
                    system_fingerprint: None,
                },
                ChatChunk::Thinking {
                    index: 0,
                    text: "hmm".into(),
                    signature: None
                },
                ChatChunk::Thinking {
                    index: 0,
                    text: " ok".into(),
                    signature: None
                },
                tc(0, Some("call_a"), Some("f"), ""),
                tc(0, None, None, "{\"x\":"),
                tc(0, None, None, "1}"),
                tc(1, Some("call_b"), Some("g"), "{}"),
                ChatChunk::Refusal {
                    index: 0,
                    text: "no".into()
                },
                ChatChunk::Finish {
                    index: 0,
                    reason: FinishReason::ToolCalls,
                    raw_reason: None,
                },
            ]
        );
    }

    #[test]
    fn tool_calls_without_index() {
        let mut d = OpenAiStreamDecoder::new();
        let mut out = Vec::new();
        for c in [
            json!({"choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{"}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"}"}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}),
        ] {
            out.extend(feed(&mut d, &serde_json::to_vec(&c).unwrap()).unwrap());
        }
        let idx: Vec<(u32, bool)> = out
            .iter()
            .filter_map(|c| match c {
                ChatChunk::ToolCall { call_index, id, .. } => Some((*call_index, id.is_some())),
                _ => None,
            })
            .collect();
        assert_eq!(idx, vec![(0, true), (0, false), (1, true)]);
    }

    #[test]
    fn refusal_deltas_are_refusal_chunks() {
        let mut d = OpenAiStreamDecoder::new();
        let mut out = Vec::new();
        for c in [
            json!({"id":"r","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null}}]}),
            json!({"id":"r","choices":[{"index":0,"delta":{"refusal":"I can't"}}]}),
            json!({"id":"r","choices":[{"index":0,"delta":{"refusal":""}}]}),
            json!({"id":"r","choices":[{"index":1,"delta":{"content":"ok","refusal":" help."}}]}),
        ] {
            out.extend(feed(&mut d, &serde_json::to_vec(&c).unwrap()).unwrap());
        }
        assert_eq!(
            out[1..],
            [
                ChatChunk::Refusal {
                    index: 0,
                    text: "I can't".into()
                },
                ChatChunk::Text {
                    index: 1,
                    text: "ok".into()
                },
                ChatChunk::Refusal {
                    index: 1,
                    text: " help.".into()
                },
            ]
        );
    }

    #[test]
    fn system_fingerprint_comes_with_start() {
        let mut d = OpenAiStreamDecoder::new();
        // Azure's leading filter chunk starts nothing; the first real chunk carries it.
        assert!(feed(
            &mut d,
            br#"{"choices":[],"id":"","system_fingerprint":null,"prompt_filter_results":[]}"#
        )
        .unwrap()
        .is_empty());
        let out = feed(
            &mut d,
            br#"{"id":"c","model":"m","created":1,"system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"a"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            out[0],
            ChatChunk::Start {
                id: "c".into(),
                model: "m".into(),
                created: 1,
                system_fingerprint: Some("fp_1".into()),
            }
        );
        let out = feed(
            &mut d,
            br#"{"id":"c","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"b"}}]}"#,
        )
        .unwrap();
        assert!(
            out.iter().all(|c| !matches!(c, ChatChunk::Start { .. })),
            "one Start: {out:?}"
        );
    }

    #[test]
    fn finish_keeps_the_providers_own_reason() {
        let cases = [
            ("stop", FinishReason::Stop, None),
            ("tool_calls", FinishReason::ToolCalls, None),
            (
                "function_call",
                FinishReason::ToolCalls,
                Some("function_call"),
            ),
            (
                "insufficient_system_resource",
                FinishReason::Stop,
                Some("insufficient_system_resource"),
            ),
            ("eos", FinishReason::Stop, Some("eos")),
            ("", FinishReason::Stop, None),
        ];
        for (wire, reason, raw) in cases {
            let mut d = OpenAiStreamDecoder::new();
            let chunk = json!({"id":"c","choices":[{"index":2,"delta":{},"finish_reason":wire}]});
            let out = feed(&mut d, &serde_json::to_vec(&chunk).unwrap()).unwrap();
            assert_eq!(
                out.last(),
                Some(&ChatChunk::Finish {
                    index: 2,
                    reason,
                    raw_reason: raw.map(Into::into),
                }),
                "{wire}"
            );
        }
    }

    #[test]
    fn in_stream_errors() {
        let cases: Vec<(&[u8], Option<&str>, ErrorClass)> = vec![
            (
                br#"{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}"#,
                None,
                ErrorClass::Server,
            ),
            (
                br#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
                None,
                ErrorClass::ContextWindow,
            ),
            (
                br#"{"id":"x","choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}],"error":{"code":502,"message":"Provider disconnected"}}"#,
                None,
                ErrorClass::Server,
            ),
            (br#"{"message":"overloaded"}"#, Some("error"), ErrorClass::Server),
            (b"{not json", None, ErrorClass::Server),
        ];
        for (data, event, class) in cases {
            let mut d = OpenAiStreamDecoder::new();
            let ev = SseEvent {
                event,
                data: Cow::Borrowed(data),
            };
            let e = d.on_event(StreamEvent::Sse(&ev)).unwrap_err();
            assert_eq!(e.class, class, "{}", String::from_utf8_lossy(data));
            assert_eq!(e.status, None);
        }
        let mut d = OpenAiStreamDecoder::new();
        let e = feed(
            &mut d,
            br#"{"error":{"message":"boom","type":"server_error","code":"server_error"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.code.as_deref()),
            ("boom", Some("server_error"))
        );
        // Keep-alives and `"error": null` are not errors.
        assert!(feed(&mut d, b"").unwrap().is_empty());
        assert!(feed(&mut d, br#"{"choices":[],"error":null}"#)
            .unwrap()
            .is_empty());
    }
}
