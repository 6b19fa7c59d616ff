//! Provider decode, streamed: `streamGenerateContent?alt=sse` → canonical chunks.
//!
//! Every SSE `data:` is a whole `GenerateContentResponse` holding the next piece of
//! each candidate. The first one starts the response; parts become text, thinking
//! and tool call chunks as in [`super::response`]; the chunk with a candidate's
//! `finishReason` finishes it; `usageMetadata` (running totals, on every chunk, the
//! prompt count included, which may change as the stream goes) becomes a `Usage`
//! each time. There is no `[DONE]`: the stream is done once every candidate has
//! finished (the body then ends).
//!
//! Function calls arrive whole, one tool call chunk each with id, name and all the
//! arguments, except on Vertex with `streamFunctionCallArguments`: the call's first
//! part (name, `willContinue`) gives the first fragment (id, name, no arguments),
//! the arguments are assembled from the `partialArgs` that follow (see
//! `partial_args`) and go out as one fragment when the call closes.
//!
//! An error inside the stream (`{"error": …}` as `data:`, or bare JSON with no
//! `data:` prefix, which [`crate::sse::parse_event`] hands over the same way) is
//! returned as a classified [`UpstreamError`].

use super::errors::stream_error;
use super::ids::{encode_call_id, generated_call_id};
use super::partial_args::PartialArgs;
use super::wire::{
    finish_reason, read_response, unix_seconds, NotAResponse, WireCandidate, WireFunctionCall,
};
use crate::adapter::{StreamDecoder, StreamEvent};
use crate::canonical::{ChatChunk, FinishReason};
use crate::error::{ErrorClass, UpstreamError};

/// One candidate's progress.
struct ChoiceState {
    index: u32,
    /// Tool calls seen so far (the next call's `call_index`).
    calls: u32,
    finished: bool,
    /// A Vertex call whose arguments are still streaming.
    pending: Option<(u32, PartialArgs)>,
}

/// Decodes a Gemini stream, one SSE event at a time.
#[derive(Default)]
pub struct GeminiStreamDecoder {
    started: bool,
    done: bool,
    response_id: String,
    /// Calls seen across all candidates (for generated ids).
    next_call: u32,
    choices: Vec<ChoiceState>,
}

impl GeminiStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn choice(&mut self, index: u32) -> &mut ChoiceState {
        let pos = match self.choices.iter().position(|c| c.index == index) {
            Some(p) => p,
            None => {
                self.choices.push(ChoiceState {
                    index,
                    calls: 0,
                    finished: false,
                    pending: None,
                });
                self.choices.len() - 1
            }
        };
        &mut self.choices[pos]
    }

    fn decode_candidate(&mut self, pos: usize, c: WireCandidate, out: &mut Vec<ChatChunk>) {
        let index = c
            .index
            .unwrap_or_else(|| u32::try_from(pos).unwrap_or(u32::MAX));
        self.choice(index);
        let parts = c.content.and_then(|c| c.parts).unwrap_or_default();
        for p in parts {
            let signature = p.thought_signature.filter(|s| !s.is_empty());
            if let Some(f) = p.function_call {
                self.function_call(index, f, signature.as_deref(), out);
                continue;
            }
            let text = p.text.filter(|t| !t.is_empty());
            if p.thought == Some(true) {
                if let Some(text) = text {
                    out.push(ChatChunk::Thinking {
                        index,
                        text,
                        signature: None,
                    });
                }
                if let Some(sig) = signature {
                    out.push(ChatChunk::Thinking {
                        index,
                        text: String::new(),
                        signature: Some(sig),
                    });
                }
            } else {
                // A text part's signature is carried as a signature-only thought.
                if let Some(sig) = signature {
                    out.push(ChatChunk::Thinking {
                        index,
                        text: String::new(),
                        signature: Some(sig),
                    });
                }
                if let Some(text) = text {
                    out.push(ChatChunk::Text { index, text });
                }
            }
        }
        if let Some(raw) = c.finish_reason.as_deref() {
            let st = self.choice(index);
            if let Some((call_index, args)) = st.pending.take() {
                out.push(args_fragment(index, call_index, args));
            }
            if !st.finished {
                st.finished = true;
                let (reason, raw_reason) = finish_reason(raw, st.calls > 0);
                out.push(ChatChunk::Finish {
                    index,
                    reason,
                    raw_reason,
                });
            }
        }
    }

    fn function_call(
        &mut self,
        index: u32,
        f: WireFunctionCall,
        signature: Option<&str>,
        out: &mut Vec<ChatChunk>,
    ) {
        let continues = f.will_continue == Some(true);
        let name = f.name.filter(|n| !n.is_empty());
        let st = self.choice(index);
        if let Some((call_index, mut args)) = st.pending.take() {
            if name.is_none() {
                // More of the call being streamed.
                for a in f.partial_args.iter().flatten() {
                    args.apply(a);
                }
                if let Some(v) = f.args {
                    args.merge(v);
                }
                if continues {
                    st.pending = Some((call_index, args));
                } else {
                    out.push(args_fragment(index, call_index, args));
                }
                return;
            }
            // A new call begins: the previous one is over.
            out.push(args_fragment(index, call_index, args));
        }
        if name.is_none() && f.partial_args.is_none() && f.args.is_none() {
            // An empty `functionCall: {}` with no call open: nothing to say.
            return;
        }
        let call_index = st.calls;
        st.calls += 1;
        let base = match f.id.filter(|id| !id.is_empty()) {
            Some(id) => id,
            None => generated_call_id(&self.response_id, self.next_call),
        };
        self.next_call += 1;
        let id = Some(encode_call_id(&base, signature));
        let name = Some(name.unwrap_or_default());
        if continues || f.partial_args.is_some() {
            let mut args = PartialArgs::default();
            for a in f.partial_args.iter().flatten() {
                args.apply(a);
            }
            if let Some(v) = f.args {
                args.merge(v);
            }
            if continues {
                out.push(ChatChunk::ToolCall {
                    index,
                    call_index,
                    id,
                    name,
                    arguments: String::new(),
                });
                self.choice(index).pending = Some((call_index, args));
            } else {
                out.push(ChatChunk::ToolCall {
                    index,
                    call_index,
                    id,
                    name,
                    arguments: args.into_json(),
                });
            }
            return;
        }
        let arguments = match f.args {
            Some(v @ serde_json::Value::Object(_)) => v.to_string(),
            _ => "{}".to_string(),
        };
        out.push(ChatChunk::ToolCall {
            index,
            call_index,
            id,
            name,
            arguments,
        });
    }
}

/// The closing fragment of a streamed call: all its arguments.
fn args_fragment(index: u32, call_index: u32, args: PartialArgs) -> ChatChunk {
    ChatChunk::ToolCall {
        index,
        call_index,
        id: None,
        name: None,
        arguments: args.into_json(),
    }
}

impl StreamDecoder for GeminiStreamDecoder {
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
        let chunk = match read_response(data) {
            Ok(c) => c,
            Err(NotAResponse::Error) => return Err(stream_error(data)),
            Err(NotAResponse::Invalid(e)) => {
                return Err(UpstreamError::new(
                    ErrorClass::Server,
                    None,
                    format!("could not read the provider's stream chunk: {e}"),
                ))
            }
        };
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            self.response_id = chunk.response_id.clone().unwrap_or_default();
            out.push(ChatChunk::Start {
                id: self.response_id.clone(),
                model: chunk.model_version.clone().unwrap_or_default(),
                created: chunk
                    .create_time
                    .as_deref()
                    .and_then(unix_seconds)
                    .unwrap_or(0),
                system_fingerprint: None,
            });
        }
        let candidates = chunk.candidates.unwrap_or_default();
        if candidates.is_empty() {
            if let Some(block) = chunk.prompt_feedback.and_then(|f| f.block_reason) {
                // The prompt was blocked: no candidate will come.
                let st = self.choice(0);
                if !st.finished {
                    st.finished = true;
                    out.push(ChatChunk::Finish {
                        index: 0,
                        reason: FinishReason::ContentFilter,
                        raw_reason: Some(block),
                    });
                }
            }
        }
        for (pos, c) in candidates.into_iter().enumerate() {
            self.decode_candidate(pos, c, &mut out);
        }
        if let Some(u) = chunk.usage_metadata.filter(|u| u.has_counts()) {
            out.push(ChatChunk::Usage(u.to_usage()));
        }
        if !self.choices.is_empty() && self.choices.iter().all(|c| c.finished) {
            self.done = true;
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
    use crate::canonical::Usage;
    use crate::sse::SseEvent;
    use serde_json::{json, Value};
    use std::borrow::Cow;

    fn feed(d: &mut GeminiStreamDecoder, v: &Value) -> Result<Vec<ChatChunk>, UpstreamError> {
        let data = serde_json::to_vec(v).unwrap();
        let ev = SseEvent {
            event: None,
            data: Cow::Borrowed(&data),
        };
        d.on_event(StreamEvent::Sse(&ev))
    }

    fn tc(call_index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> ChatChunk {
        ChatChunk::ToolCall {
            index: 0,
            call_index,
            id: id.map(Into::into),
            name: name.map(Into::into),
            arguments: args.into(),
        }
    }

    #[test]
    fn blocked_prompt_is_one_filtered_choice() {
        let mut d = GeminiStreamDecoder::new();
        let out = feed(
            &mut d,
            &json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                    "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
                    "modelVersion": "gemini-2.5-flash", "responseId": "r"}),
        )
        .unwrap();
        assert_eq!(
            out,
            vec![
                ChatChunk::Start {
                    id: "r".into(),
                    model: "gemini-2.5-flash".into(),
                    created: 0,
                    system_fingerprint: None,
                },
                ChatChunk::Finish {
                    index: 0,
                    reason: FinishReason::ContentFilter,
                    raw_reason: Some("PROHIBITED_CONTENT".into()),
                },
                ChatChunk::Usage(Usage {
                    prompt_tokens: 7,
                    total_tokens: 7,
                    ..Usage::default()
                }),
            ]
        );
        assert!(d.is_done());
    }

    #[test]
    fn thoughts_calls_and_candidates() {
        let mut d = GeminiStreamDecoder::new();
        let mut out = Vec::new();
        for chunk in [
            json!({"responseId": "r_1", "candidates": [
                {"index": 0, "content": {"role": "model", "parts": [
                    {"text": "plan", "thought": true, "thoughtSignature": "c2ln"},
                    {"text": "Calling."},
                    {"functionCall": {"id": "fc-7", "name": "f", "args": {"a": 1}}},
                    {"functionCall": {"name": "g"}}
                ]}},
                {"index": 1, "content": {"parts": [{"text": "other"}]}}
            ]}),
            json!({"candidates": [
                {"index": 1, "content": {"parts": [{"text": ""}]}, "finishReason": "MALFORMED_FUNCTION_CALL"},
                {"index": 0, "content": {"parts": [{"functionCall": {}}]}, "finishReason": "STOP"}
            ]}),
        ] {
            out.extend(feed(&mut d, &chunk).unwrap());
        }
        assert_eq!(
            out[1..],
            [
                ChatChunk::Thinking {
                    index: 0,
                    text: "plan".into(),
                    signature: None
                },
                ChatChunk::Thinking {
                    index: 0,
                    text: String::new(),
                    signature: Some("c2ln".into())
                },
                ChatChunk::Text {
                    index: 0,
                    text: "Calling.".into()
                },
                tc(0, Some("fc-7"), Some("f"), r#"{"a":1}"#),
                tc(1, Some("call_r1_1"), Some("g"), "{}"),
                ChatChunk::Text {
                    index: 1,
                    text: "other".into()
                },
                ChatChunk::Finish {
                    index: 1,
                    reason: FinishReason::Stop,
                    raw_reason: Some("MALFORMED_FUNCTION_CALL".into()),
                },
                ChatChunk::Finish {
                    index: 0,
                    reason: FinishReason::ToolCalls,
                    raw_reason: Some("STOP".into()),
                },
            ]
        );
        assert!(d.is_done());
    }

    #[test]
    fn a_named_part_closes_a_streamed_call() {
        let mut d = GeminiStreamDecoder::new();
        let mut out = Vec::new();
        for chunk in [
            json!({"candidates": [{"content": {"parts": [
                {"functionCall": {"name": "f", "willContinue": true,
                  "partialArgs": [{"jsonPath": "$.q", "stringValue": "a", "willContinue": true}]}}
            ]}}]}),
            json!({"candidates": [{"content": {"parts": [
                {"functionCall": {"partialArgs": [{"jsonPath": "$.q", "stringValue": "b"}], "willContinue": true}},
                {"functionCall": {"name": "g", "args": {"x": true}}}
            ]}}]}),
            // A call left open at the end is closed by the finish.
            json!({"candidates": [{"content": {"parts": [
                {"functionCall": {"name": "h", "willContinue": true}}
            ]}, "finishReason": "STOP"}]}),
        ] {
            out.extend(feed(&mut d, &chunk).unwrap());
        }
        assert_eq!(
            out[1..],
            [
                tc(0, Some("call_0"), Some("f"), ""),
                tc(0, None, None, r#"{"q":"ab"}"#),
                tc(1, Some("call_1"), Some("g"), r#"{"x":true}"#),
                tc(2, Some("call_2"), Some("h"), ""),
                tc(2, None, None, "{}"),
                ChatChunk::Finish {
                    index: 0,
                    reason: FinishReason::ToolCalls,
                    raw_reason: Some("STOP".into()),
                },
            ]
        );
    }

    #[test]
    fn keep_alives_and_not_yet_done() {
        let mut d = GeminiStreamDecoder::new();
        let ev = SseEvent {
            event: None,
            data: Cow::Borrowed(b"  "),
        };
        assert!(d.on_event(StreamEvent::Sse(&ev)).unwrap().is_empty());
        let out = feed(
            &mut d,
            &json!({"candidates": [{"content": {"parts": [{"text": "a"}]}}],
                    "usageMetadata": {"trafficType": "ON_DEMAND"}}),
        )
        .unwrap();
        // No counts, no usage.
        assert_eq!(out.len(), 2);
        assert!(!d.is_done());
        let frame = StreamEvent::Frame {
            event_type: "x",
            payload: b"",
        };
        assert!(d.on_event(frame).unwrap().is_empty());
    }
}
