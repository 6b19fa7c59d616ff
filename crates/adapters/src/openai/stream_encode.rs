//! Ingress encode, streamed: canonical chunks → OpenAI `chat.completion.chunk` SSE
//! events, in exactly the shape OpenAI writes them.

use super::response::{ThinkingBlockOut, UsageOut};
use crate::canonical::{ChatChunk, Usage};
use bytes::Bytes;
use serde::Serialize;

/// Writes one client stream. Feed it every canonical chunk, then call [`finish`].
///
/// The usage trailer (`choices: []`, written only when the client asked for it with
/// `stream_options.include_usage`) goes where OpenAI puts it, after the finish
/// chunks: a `Usage` chunk that arrives once every choice has finished is written
/// at once; usage reported earlier (Anthropic sends input counts first) is merged
/// and held, and goes out with the next such `Usage` or, failing that, from
/// [`finish`] just before `[DONE]`.
///
/// [`finish`]: OpenAiStreamEncoder::finish
pub struct OpenAiStreamEncoder {
    model: String,
    include_usage: bool,
    id: String,
    created: u64,
    /// Written on every chunk, as OpenAI does, once a `Start` has carried one.
    system_fingerprint: Option<String>,
    /// Choices whose first delta (carrying `role`) has been written.
    started_choices: Vec<u32>,
    finished_choices: Vec<u32>,
    /// All usage reported so far, merged.
    usage: Option<Usage>,
    /// `usage` holds values not yet written in a trailer.
    usage_pending: bool,
}

#[derive(Serialize)]
struct ChunkOut<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_fingerprint: Option<&'a str>,
    choices: &'a [ChoiceOut<'a>],
    /// Absent unless the client asked for usage; then `null` except on the trailer.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<UsageOut>>,
}

#[derive(Serialize)]
struct ChoiceOut<'a> {
    index: u32,
    delta: DeltaOut<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct DeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    /// A thinking block's signature, when the provider gives one (at the block's end),
    /// for clients that send reasoning back on the next turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_blocks: Option<[ThinkingBlockOut<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolDeltaOut<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolDeltaOut<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDeltaOut<'a>,
}

#[derive(Serialize)]
struct FunctionDeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

impl OpenAiStreamEncoder {
    /// `model` names the model until a `Start` names the one that answered;
    /// `include_usage` is the client's `stream_options.include_usage`.
    pub fn new(public_model: &str, include_usage: bool) -> Self {
        OpenAiStreamEncoder {
            model: public_model.to_string(),
            include_usage,
            id: String::new(),
            created: 0,
            system_fingerprint: None,
            started_choices: Vec::new(),
            finished_choices: Vec::new(),
            usage: None,
            usage_pending: false,
        }
    }

    /// The event for one canonical chunk, or `None` when it writes nothing (an empty
    /// fragment, usage the client did not ask for, or usage held back until the
    /// choices finish).
    pub fn encode(&mut self, chunk: &ChatChunk) -> Option<Bytes> {
        let (index, delta, finish_reason) = match chunk {
            ChatChunk::Start {
                id,
                model,
                created,
                system_fingerprint,
            } => {
                // The model that answered, as the provider named it, like OpenAI's
                // resolved snapshot and like the same-format fast path.
                if !model.is_empty() {
                    self.model.clone_from(model);
                }
                self.id.clone_from(id);
                self.created = *created;
                self.system_fingerprint.clone_from(system_fingerprint);
                // OpenAI's first chunk: the role and an empty content.
                let delta = DeltaOut {
                    content: Some(""),
                    ..DeltaOut::default()
                };
                (0, delta, None)
            }
            ChatChunk::Text { index, text } => {
                if text.is_empty() {
                    return None;
                }
                let delta = DeltaOut {
                    content: Some(text),
                    ..DeltaOut::default()
                };
                (*index, delta, None)
            }
            ChatChunk::Refusal { index, text } => {
                if text.is_empty() {
                    return None;
                }
                let delta = DeltaOut {
                    refusal: Some(text),
                    ..DeltaOut::default()
                };
                (*index, delta, None)
            }
            ChatChunk::Thinking {
                index,
                text,
                signature,
            } => {
                if text.is_empty() && signature.is_none() {
                    return None;
                }
                let delta = DeltaOut {
                    reasoning_content: (!text.is_empty()).then_some(text.as_str()),
                    thinking_blocks: signature.as_deref().map(|signature| {
                        [ThinkingBlockOut::Thinking {
                            thinking: "",
                            signature: Some(signature),
                        }]
                    }),
                    ..DeltaOut::default()
                };
                (*index, delta, None)
            }
            ChatChunk::ToolCall {
                index,
                call_index,
                id,
                name,
                arguments,
            } => {
                let first = id.is_some() || name.is_some();
                if !first && arguments.is_empty() {
                    return None;
                }
                let call = ToolDeltaOut {
                    index: *call_index,
                    id: id.as_deref(),
                    kind: first.then_some("function"),
                    function: FunctionDeltaOut {
                        name: name.as_deref(),
                        arguments,
                    },
                };
                let delta = DeltaOut {
                    tool_calls: Some([call]),
                    ..DeltaOut::default()
                };
                (*index, delta, None)
            }
            // OpenAI clients read OpenAI's vocabulary: the provider's own reason stays
            // in the ledger.
            ChatChunk::Finish { index, reason, .. } => {
                if !self.finished_choices.contains(index) {
                    self.finished_choices.push(*index);
                }
                (*index, DeltaOut::default(), Some(reason.as_str()))
            }
            ChatChunk::Usage(u) => {
                match &mut self.usage {
                    Some(acc) => acc.merge_max(u),
                    None => self.usage = Some(*u),
                }
                self.usage_pending = true;
                let all_finished = !self.started_choices.is_empty()
                    && self
                        .started_choices
                        .iter()
                        .all(|c| self.finished_choices.contains(c));
                return if all_finished { self.trailer() } else { None };
            }
        };
        let mut delta = delta;
        if !self.started_choices.contains(&index) {
            self.started_choices.push(index);
            delta.role = Some("assistant");
        }
        let choices = [ChoiceOut {
            index,
            delta,
            logprobs: None,
            finish_reason,
        }];
        let usage = self.include_usage.then_some(None);
        Some(self.event(&choices, usage))
    }

    /// The end of the stream: `data: [DONE]`, preceded by the usage trailer only if
    /// usage is still held back (the stream ended with a choice unfinished).
    pub fn finish(&mut self) -> Bytes {
        const DONE: &[u8] = b"data: [DONE]\n\n";
        match self.trailer() {
            Some(trailer) => {
                let mut out = Vec::with_capacity(trailer.len() + DONE.len());
                out.extend_from_slice(&trailer);
                out.extend_from_slice(DONE);
                Bytes::from(out)
            }
            None => Bytes::from_static(DONE),
        }
    }

    /// The usage trailer, if the client wants one and there is usage not yet written.
    fn trailer(&mut self) -> Option<Bytes> {
        if !self.include_usage || !self.usage_pending {
            return None;
        }
        self.usage_pending = false;
        let usage = self.usage.as_ref().map(UsageOut::from)?;
        Some(self.event(&[], Some(Some(usage))))
    }

    fn event(&self, choices: &[ChoiceOut<'_>], usage: Option<Option<UsageOut>>) -> Bytes {
        let chunk = ChunkOut {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            system_fingerprint: self.system_fingerprint.as_deref(),
            choices,
            usage,
        };
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"data: ");
        // Cannot fail: every map key is a string.
        let _ = serde_json::to_writer(&mut out, &chunk);
        out.extend_from_slice(b"\n\n");
        Bytes::from(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::adapter::{StreamDecoder, StreamEvent};
    use crate::canonical::FinishReason;
    use crate::openai::stream::OpenAiStreamDecoder;
    use crate::sse::{parse_event, SseSplitter};
    use serde_json::{json, Value};

    fn tool(call_index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> ChatChunk {
        ChatChunk::ToolCall {
            index: 0,
            call_index,
            id: id.map(Into::into),
            name: name.map(Into::into),
            arguments: args.into(),
        }
    }

    fn script() -> Vec<ChatChunk> {
        vec![
            ChatChunk::Start {
                id: "chatcmpl-1".into(),
                model: "claude-x".into(),
                created: 42,
                system_fingerprint: Some("fp_1".into()),
            },
            ChatChunk::Usage(Usage {
                prompt_tokens: 20,
                cached_tokens: 5,
                ..Usage::default()
            }),
            ChatChunk::Text {
                index: 0,
                text: "Hel".into(),
            },
            ChatChunk::Text {
                index: 0,
                text: "lo".into(),
            },
            tool(0, Some("call_a"), Some("lookup"), ""),
            tool(0, None, None, "{\"q\":"),
            tool(0, None, None, "\"x\"}"),
            tool(1, Some("call_b"), Some("other"), "{}"),
            ChatChunk::Finish {
                index: 0,
                reason: FinishReason::ToolCalls,
                raw_reason: None,
            },
            ChatChunk::Usage(Usage {
                prompt_tokens: 20,
                completion_tokens: 9,
                total_tokens: 29,
                reasoning_tokens: 3,
                ..Usage::default()
            }),
        ]
    }

    /// The whole client stream, as bytes.
    fn run(include_usage: bool) -> Vec<u8> {
        let mut enc = OpenAiStreamEncoder::new("general", include_usage);
        let mut body = Vec::new();
        for c in script() {
            if let Some(b) = enc.encode(&c) {
                body.extend_from_slice(&b);
            }
        }
        body.extend_from_slice(&enc.finish());
        body
    }

    fn events(body: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(body).unwrap();
        assert!(text.ends_with("data: [DONE]\n\n"));
        text.split_terminator("\n\n")
            .map(|e| e.strip_prefix("data: ").unwrap())
            .filter(|e| *e != "[DONE]")
            .map(|e| serde_json::from_str(e).unwrap())
            .collect()
    }

    #[test]
    fn chunks_have_openai_shape() {
        for include_usage in [true, false] {
            let evs = events(&run(include_usage));
            let trailers: Vec<&Value> = evs
                .iter()
                .filter(|e| e["choices"].as_array().unwrap().is_empty())
                .collect();
            let rest: Vec<&Value> = evs
                .iter()
                .filter(|e| !e["choices"].as_array().unwrap().is_empty())
                .collect();
            for e in &evs {
                assert_eq!(e["id"], "chatcmpl-1");
                assert_eq!(e["object"], "chat.completion.chunk");
                assert_eq!(e["created"], 42);
                // The model that answered (named by `Start`), not the public name.
                assert_eq!(e["model"], "claude-x");
                assert_eq!(e["system_fingerprint"], "fp_1", "on every chunk");
            }
            let deltas: Vec<&Value> = rest.iter().map(|e| &e["choices"][0]["delta"]).collect();
            assert_eq!(deltas[0], &json!({"role": "assistant", "content": ""}));
            assert!(deltas[1..].iter().all(|d| d.get("role").is_none()));
            assert_eq!(deltas[1], &json!({"content": "Hel"}));
            assert_eq!(deltas[2], &json!({"content": "lo"}));
            let calls: Vec<&Value> = deltas
                .iter()
                .filter_map(|d| d.get("tool_calls"))
                .map(|t| &t[0])
                .collect();
            assert_eq!(
                calls,
                vec![
                    &json!({"index":0,"id":"call_a","type":"function","function":{"name":"lookup","arguments":""}}),
                    &json!({"index":0,"function":{"arguments":"{\"q\":"}}),
                    &json!({"index":0,"function":{"arguments":"\"x\"}"}}),
                    &json!({"index":1,"id":"call_b","type":"function","function":{"name":"other","arguments":"{}"}}),
                ]
            );
            let last = rest.last().unwrap();
            assert_eq!(last["choices"][0]["delta"], json!({}));
            assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");
            assert!(rest[..rest.len() - 1]
                .iter()
                .all(|e| e["choices"][0]["finish_reason"].is_null()));

            if include_usage {
                assert!(rest
                    .iter()
                    .all(|e| e["usage"].is_null() && e.get("usage").is_some()));
                assert_eq!(trailers.len(), 1);
                assert_eq!(evs.last().unwrap()["choices"], json!([]));
                assert_eq!(
                    trailers[0]["usage"],
                    json!({"prompt_tokens":20,"completion_tokens":9,"total_tokens":29,
                           "prompt_tokens_details":{"cached_tokens":5},
                           "completion_tokens_details":{"reasoning_tokens":3}})
                );
            } else {
                assert!(trailers.is_empty());
                assert!(evs.iter().all(|e| e.get("usage").is_none()));
            }
        }
    }

    #[test]
    fn usage_trailer_placement() {
        // Usage after the finish chunk is the trailer itself; finish() is just [DONE].
        let mut enc = OpenAiStreamEncoder::new("general", true);
        let script = script();
        let (last, rest) = script.split_last().unwrap();
        let early: Vec<Option<Bytes>> = rest.iter().map(|c| enc.encode(c)).collect();
        assert!(early[1].is_none(), "usage before the finish is held back");
        let trailer = enc.encode(last).unwrap();
        let v: Value = serde_json::from_str(
            std::str::from_utf8(&trailer)
                .unwrap()
                .strip_prefix("data: ")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(v["choices"], json!([]));
        assert_eq!(
            v["usage"]["prompt_tokens_details"]["cached_tokens"], 5,
            "merged with the early usage"
        );
        assert_eq!(enc.finish(), Bytes::from_static(b"data: [DONE]\n\n"));

        // A stream that ends before its finish chunk still gets the trailer, from finish().
        let mut enc = OpenAiStreamEncoder::new("general", true);
        for c in &script[..3] {
            enc.encode(c);
        }
        let end = enc.finish();
        let text = std::str::from_utf8(&end).unwrap();
        assert!(
            text.starts_with("data: {") && text.contains("\"choices\":[]"),
            "{text}"
        );
        assert!(text.ends_with("\n\ndata: [DONE]\n\n"), "{text}");
    }

    #[test]
    fn encoded_stream_decodes_back() {
        let body = run(true);
        let mut split = SseSplitter::new();
        let mut raw = Vec::new();
        split.push(Bytes::from(body), &mut raw);
        let mut d = OpenAiStreamDecoder::new();
        let mut out = Vec::new();
        for r in &raw {
            out.extend(d.on_event(StreamEvent::Sse(&parse_event(r))).unwrap());
        }
        assert!(d.is_done());
        let mut want: Vec<ChatChunk> = script()
            .into_iter()
            .filter(|c| !matches!(c, ChatChunk::Usage(_)))
            .collect();
        want[0] = ChatChunk::Start {
            id: "chatcmpl-1".into(),
            model: "claude-x".into(),
            created: 42,
            system_fingerprint: Some("fp_1".into()),
        };
        want.push(ChatChunk::Usage(Usage {
            prompt_tokens: 20,
            completion_tokens: 9,
            total_tokens: 29,
            cached_tokens: 5,
            cache_write_tokens: 0,
            reasoning_tokens: 3,
        }));
        assert_eq!(out, want);
    }

    #[test]
    fn thinking_second_choice_and_empty_fragments() {
        let mut enc = OpenAiStreamEncoder::new("m", false);
        let ev = |b: Option<Bytes>| -> Value {
            let b = b.unwrap();
            let s = std::str::from_utf8(&b).unwrap();
            serde_json::from_str(
                s.strip_prefix("data: ")
                    .unwrap()
                    .strip_suffix("\n\n")
                    .unwrap(),
            )
            .unwrap()
        };
        let v = ev(enc.encode(&ChatChunk::Thinking {
            index: 0,
            text: "hm".into(),
            signature: None,
        }));
        assert_eq!(
            v["choices"][0]["delta"],
            json!({"role":"assistant","reasoning_content":"hm"})
        );
        assert!(
            v.get("system_fingerprint").is_none(),
            "none without a Start"
        );
        let v = ev(enc.encode(&ChatChunk::Text {
            index: 1,
            text: "b".into(),
        }));
        assert_eq!(v["choices"][0]["index"], 1);
        assert_eq!(
            v["choices"][0]["delta"],
            json!({"role":"assistant","content":"b"})
        );
        assert!(enc
            .encode(&ChatChunk::Text {
                index: 0,
                text: String::new()
            })
            .is_none());
        // A signature alone goes out as a thinking block, for the next turn.
        let v = ev(enc.encode(&ChatChunk::Thinking {
            index: 0,
            text: String::new(),
            signature: Some("sig".into()),
        }));
        assert_eq!(
            v["choices"][0]["delta"],
            json!({"thinking_blocks":[{"type":"thinking","thinking":"","signature":"sig"}]})
        );
        assert!(enc
            .encode(&ChatChunk::Thinking {
                index: 0,
                text: String::new(),
                signature: None
            })
            .is_none());
        assert!(enc.encode(&tool(0, None, None, "")).is_none());
        assert!(enc.encode(&ChatChunk::Usage(Usage::default())).is_none());
        assert_eq!(enc.finish(), Bytes::from_static(b"data: [DONE]\n\n"));
    }

    /// One event's JSON.
    fn json_of(b: &Bytes) -> Value {
        let s = std::str::from_utf8(b).unwrap();
        serde_json::from_str(
            s.strip_prefix("data: ")
                .unwrap()
                .strip_suffix("\n\n")
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn refusal_is_written_as_delta_refusal_and_decodes_back() {
        let chunks = [
            ChatChunk::Start {
                id: "c".into(),
                model: "x".into(),
                created: 1,
                system_fingerprint: None,
            },
            ChatChunk::Refusal {
                index: 0,
                text: "I can't".into(),
            },
            ChatChunk::Refusal {
                index: 0,
                text: String::new(),
            },
            ChatChunk::Refusal {
                index: 0,
                text: " help.".into(),
            },
            ChatChunk::Finish {
                index: 0,
                reason: FinishReason::Stop,
                raw_reason: None,
            },
        ];
        let mut enc = OpenAiStreamEncoder::new("m", false);
        let events: Vec<Bytes> = chunks.iter().filter_map(|c| enc.encode(c)).collect();
        assert_eq!(events.len(), 4, "the empty refusal writes nothing");
        assert_eq!(
            json_of(&events[1])["choices"][0]["delta"],
            json!({"refusal": "I can't"})
        );
        assert!(json_of(&events[0]).get("system_fingerprint").is_none());

        let mut d = OpenAiStreamDecoder::new();
        let mut out = Vec::new();
        for e in &events {
            out.extend(d.on_event(StreamEvent::Sse(&parse_event(e))).unwrap());
        }
        let want: Vec<ChatChunk> = chunks
            .iter()
            .filter(|c| !matches!(c, ChatChunk::Refusal { text, .. } if text.is_empty()))
            .map(|c| match c {
                ChatChunk::Start { .. } => ChatChunk::Start {
                    id: "c".into(),
                    model: "x".into(),
                    created: 1,
                    system_fingerprint: None,
                },
                other => other.clone(),
            })
            .collect();
        assert_eq!(out, want);
    }

    #[test]
    fn fingerprint_on_every_chunk_and_raw_reason_not_sent() {
        let mut enc = OpenAiStreamEncoder::new("m", true);
        let mut events = Vec::new();
        for c in [
            ChatChunk::Start {
                id: "c".into(),
                model: "deepseek-chat".into(),
                created: 1,
                system_fingerprint: Some("fp_ds".into()),
            },
            ChatChunk::Text {
                index: 0,
                text: "a".into(),
            },
            ChatChunk::Finish {
                index: 0,
                reason: FinishReason::Stop,
                raw_reason: Some("insufficient_system_resource".into()),
            },
            ChatChunk::Usage(Usage {
                prompt_tokens: 1,
                completion_tokens: 1,
                total_tokens: 2,
                ..Usage::default()
            }),
        ] {
            events.extend(enc.encode(&c));
        }
        let events: Vec<Value> = events.iter().map(json_of).collect();
        assert_eq!(events.len(), 4);
        assert!(events.iter().all(|e| e["system_fingerprint"] == "fp_ds"));
        assert_eq!(events[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(events[3]["choices"], json!([]), "the usage trailer");
    }
}
