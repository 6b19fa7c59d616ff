//! Golden tests over every recording in `fixtures/bedrock/`, and property tests of the
//! framing and the stream decoder. To add a recording, add a row to [`STREAMS`] or
//! [`RESPONSES`]; the expected values are computed from the recording itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::adapter::StreamEvent;
use crate::canonical::{ChatChunk, ContentPart, FinishReason, ToolCall, Usage};
use crate::error::ErrorClass;
use crate::openai::{encode_response, OpenAiStreamEncoder};
use crate::test_support::fixture;
use base64::Engine;
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Where a recorded stream is.
enum StreamSource {
    /// A VCR cassette whose response bodies are the raw binary event stream, with the
    /// `.DECODED.jsonl` made from it (one section per interaction).
    Cassette(&'static str, &'static str),
    /// One event per line as `{"<event type>": payload}`, framed here.
    Events(&'static str),
}

const STREAMS: &[StreamSource] = &[
    StreamSource::Cassette(
        "bedrock/pydanticai_test_bedrock_model_stream.yaml",
        "bedrock/pydanticai_test_bedrock_model_stream.DECODED.jsonl",
    ),
    StreamSource::Cassette(
        "bedrock/pydanticai_test_bedrock_model_iter_stream.yaml",
        "bedrock/pydanticai_test_bedrock_model_iter_stream.DECODED.jsonl",
    ),
    StreamSource::Cassette(
        "bedrock/pydanticai_test_bedrock_model_thinking_part_stream.yaml",
        "bedrock/pydanticai_test_bedrock_model_thinking_part_stream.DECODED.jsonl",
    ),
    StreamSource::Cassette(
        "bedrock/pydanticai_test_bedrock_model_stream_empty_text_delta.yaml",
        "bedrock/pydanticai_test_bedrock_model_stream_empty_text_delta.DECODED.jsonl",
    ),
    StreamSource::Events("bedrock/vercel_converse_stream_text.events.jsonl"),
    StreamSource::Events("bedrock/vercel_converse_stream_reasoning.events.jsonl"),
];

/// Non-streamed responses: a cassette (every interaction) or a bare JSON body.
const RESPONSES: &[&str] = &[
    "bedrock/pydanticai_test_bedrock_model.yaml",
    "bedrock/pydanticai_test_bedrock_model_retry.yaml",
    "bedrock/vercel_converse_nonstream_text.json",
    "bedrock/vercel_converse_nonstream_reasoning.json",
];

/// One recorded exchange of a cassette.
pub(super) struct Interaction {
    pub uri: String,
    pub request: Value,
    pub status: u16,
    /// The raw binary stream, or the JSON body.
    pub body: Vec<u8>,
}

pub(super) fn cassette(rel: &str) -> Vec<Interaction> {
    let doc: Value = serde_yaml_ng::from_slice(&fixture(rel)).unwrap();
    doc["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let resp = &i["response"];
            let body = match resp["body"]["string"].as_str() {
                // `!!binary`: base64 wrapped over lines.
                Some(b64) => {
                    let b64: String = b64.split_whitespace().collect();
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap()
                }
                None => serde_json::to_vec(&resp["parsed_body"]).unwrap(),
            };
            Interaction {
                uri: i["request"]["uri"].as_str().unwrap().to_string(),
                request: serde_json::from_str(i["request"]["body"].as_str().unwrap()).unwrap(),
                status: resp["status"]["code"].as_u64().unwrap() as u16,
                body,
            }
        })
        .collect()
}

/// A recorded stream: the framed bytes and what each frame must decode to.
struct Recording {
    name: String,
    body: Vec<u8>,
    /// (`:event-type`, payload) per frame.
    events: Vec<(String, Value)>,
}

fn recordings() -> Vec<Recording> {
    let mut out = Vec::new();
    for source in STREAMS {
        match source {
            StreamSource::Cassette(yaml, decoded) => {
                let text = String::from_utf8(fixture(decoded)).unwrap();
                let mut sections: Vec<Vec<(String, Value)>> = Vec::new();
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    if line.starts_with("## ") {
                        sections.push(Vec::new());
                        continue;
                    }
                    let v: Value = serde_json::from_str(line).unwrap();
                    assert_eq!(v["headers"][":message-type"], "event");
                    assert_eq!(v["headers"][":content-type"], "application/json");
                    let kind = v["headers"][":event-type"].as_str().unwrap().to_string();
                    sections
                        .last_mut()
                        .unwrap()
                        .push((kind, v["payload"].clone()));
                }
                let interactions = cassette(yaml);
                assert_eq!(interactions.len(), sections.len(), "{yaml}");
                for (n, (i, events)) in interactions.into_iter().zip(sections).enumerate() {
                    assert_eq!(i.status, 200);
                    assert!(i.uri.ends_with("/converse-stream"), "{}", i.uri);
                    out.push(Recording {
                        name: format!("{yaml}#{n}"),
                        body: i.body,
                        events,
                    });
                }
            }
            StreamSource::Events(rel) => {
                let text = String::from_utf8(fixture(rel)).unwrap();
                let mut body = Vec::new();
                let mut events = Vec::new();
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    // One top-level key, the event type; its value is the payload, framed
                    // byte for byte as recorded.
                    let map: BTreeMap<String, Box<RawValue>> = serde_json::from_str(line).unwrap();
                    assert_eq!(map.len(), 1, "{line}");
                    let (kind, payload) = map.into_iter().next().unwrap();
                    body.extend(encode_frame(&kind, payload.get().as_bytes()));
                    events.push((kind, serde_json::from_str(payload.get()).unwrap()));
                }
                out.push(Recording {
                    name: rel.to_string(),
                    body,
                    events,
                });
            }
        }
    }
    out
}

fn frames_of(body: &[u8], cuts: &[usize]) -> Result<Vec<Frame>, FrameError> {
    let mut d = FrameDecoder::new();
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
        let cut = cut.clamp(at, body.len());
        d.push(Bytes::copy_from_slice(&body[at..cut]), &mut out)?;
        at = cut;
    }
    assert!(!d.has_partial());
    Ok(out)
}

fn decode_frames(frames: &[Frame]) -> (Vec<ChatChunk>, Vec<bool>) {
    let mut d = BedrockAdapter::new().stream_decoder();
    let mut out = Vec::new();
    let mut done = Vec::new();
    for f in frames {
        out.extend(d.on_event(f.as_stream_event()).unwrap());
        done.push(d.is_done());
    }
    (out, done)
}

#[test]
fn recorded_binary_frames_match_their_decoding() {
    let recs = recordings();
    assert_eq!(recs.len(), 7);
    for rec in &recs {
        let frames = frames_of(&rec.body, &[]).unwrap();
        let got: Vec<(String, Value)> = frames
            .iter()
            .map(|f| {
                assert_eq!(f.message_type, "event");
                (
                    f.event_type.clone(),
                    serde_json::from_slice(&f.payload).unwrap(),
                )
            })
            .collect();
        assert_eq!(got, rec.events, "{}", rec.name);
    }
}

/// What a recorded stream says, read straight from its decoded events.
#[derive(Default, Debug)]
struct Expected {
    text: String,
    thinking: String,
    signatures: Vec<String>,
    /// (id, name, input) per tool-use block, in order.
    calls: Vec<(String, String, String)>,
    stop: String,
    usage: Usage,
}

fn usage_of(u: &Value) -> Usage {
    let n = |k: &str| u[k].as_u64().unwrap_or(0);
    let prompt = n("inputTokens") + n("cacheReadInputTokens") + n("cacheWriteInputTokens");
    Usage {
        prompt_tokens: prompt,
        completion_tokens: n("outputTokens"),
        total_tokens: n("totalTokens").max(prompt + n("outputTokens")),
        cached_tokens: n("cacheReadInputTokens"),
        cache_write_tokens: n("cacheWriteInputTokens"),
        reasoning_tokens: 0,
    }
}

fn expected(events: &[(String, Value)]) -> Expected {
    let mut e = Expected::default();
    let mut call_blocks = Vec::new();
    for (kind, p) in events {
        match kind.as_str() {
            "contentBlockStart" => {
                let t = &p["start"]["toolUse"];
                call_blocks.push(p["contentBlockIndex"].as_u64().unwrap());
                e.calls.push((
                    t["toolUseId"].as_str().unwrap().into(),
                    t["name"].as_str().unwrap().into(),
                    String::new(),
                ));
            }
            "contentBlockDelta" => {
                let d = &p["delta"];
                if let Some(t) = d["text"].as_str() {
                    e.text.push_str(t);
                }
                if let Some(t) = d["reasoningContent"]["text"].as_str() {
                    e.thinking.push_str(t);
                }
                if let Some(s) = d["reasoningContent"]["signature"].as_str() {
                    e.signatures.push(s.into());
                }
                if let Some(input) = d["toolUse"]["input"].as_str() {
                    let block = p["contentBlockIndex"].as_u64().unwrap();
                    let at = call_blocks.iter().position(|b| *b == block).unwrap();
                    e.calls[at].2.push_str(input);
                }
            }
            "messageStop" => e.stop = p["stopReason"].as_str().unwrap().into(),
            "metadata" => e.usage = usage_of(&p["usage"]),
            _ => {}
        }
    }
    e
}

#[test]
fn recorded_streams_decode_to_what_they_say() {
    for rec in recordings() {
        let name = &rec.name;
        let frames = frames_of(&rec.body, &[]).unwrap();
        let (out, done) = decode_frames(&frames);
        let want = expected(&rec.events);

        assert_eq!(
            out[0],
            ChatChunk::Start {
                id: String::new(),
                model: String::new(),
                created: 0,
                system_fingerprint: None
            },
            "{name}"
        );
        assert_eq!(
            out.iter()
                .filter(|c| matches!(c, ChatChunk::Start { .. }))
                .count(),
            1,
            "{name}"
        );
        let mut text = String::new();
        let mut thinking = String::new();
        let mut signatures = Vec::new();
        let mut calls: Vec<(String, String, String)> = Vec::new();
        for c in &out {
            match c {
                ChatChunk::Text { index: 0, text: t } => {
                    assert!(!t.is_empty(), "{name}: empty text chunk");
                    text.push_str(t);
                }
                ChatChunk::Thinking {
                    index: 0,
                    text: t,
                    signature,
                } => {
                    thinking.push_str(t);
                    assert!(
                        !t.is_empty() || signature.is_some(),
                        "{name}: empty thinking"
                    );
                    signatures.extend(signature.clone());
                }
                ChatChunk::ToolCall {
                    index: 0,
                    call_index,
                    id,
                    name: tool,
                    arguments,
                } => {
                    let k = *call_index as usize;
                    if k == calls.len() {
                        calls.push((
                            id.clone().unwrap(),
                            tool.clone().unwrap(),
                            arguments.clone(),
                        ));
                    } else {
                        assert!(id.is_none() && tool.is_none(), "{name}: id/name repeated");
                        calls[k].2.push_str(arguments);
                    }
                }
                _ => {}
            }
        }
        assert_eq!(text, want.text, "{name}");
        assert_eq!(thinking, want.thinking, "{name}");
        assert_eq!(signatures, want.signatures, "{name}");
        let want_calls: Vec<(String, String, String)> = want
            .calls
            .iter()
            .map(|(i, n, a)| {
                (
                    i.clone(),
                    n.clone(),
                    if a.is_empty() { "{}".into() } else { a.clone() },
                )
            })
            .collect();
        assert_eq!(calls, want_calls, "{name}");
        let finishes: Vec<&ChatChunk> = out
            .iter()
            .filter(|c| matches!(c, ChatChunk::Finish { .. }))
            .collect();
        let reason = match want.stop.as_str() {
            "tool_use" => FinishReason::ToolCalls,
            "end_turn" => FinishReason::Stop,
            other => panic!("{name}: a new stop reason {other} to add here"),
        };
        assert_eq!(
            finishes,
            vec![&ChatChunk::Finish {
                index: 0,
                reason,
                raw_reason: Some(want.stop.clone()),
            }],
            "{name}"
        );
        assert_eq!(out.last(), Some(&ChatChunk::Usage(want.usage)), "{name}");
        // Done exactly at the final `metadata` event.
        let mut want_done = vec![false; frames.len()];
        *want_done.last_mut().unwrap() = true;
        assert_eq!(done, want_done, "{name}");
    }
}

fn chunks_of(rel_index: usize) -> Vec<ChatChunk> {
    let rec = recordings().remove(rel_index);
    decode_frames(&frames_of(&rec.body, &[]).unwrap()).0
}

#[test]
fn recorded_tool_call_stream_exactly() {
    let out = chunks_of(1);
    let n = out.len();
    assert_eq!(
        out[n - 5..],
        [
            ChatChunk::Text {
                index: 0,
                text: ">\n".into()
            },
            ChatChunk::ToolCall {
                index: 0,
                call_index: 0,
                id: Some("tooluse_lAG_zP8QRHmSYOwZzzaCqA".into()),
                name: Some("get_temperature".into()),
                arguments: String::new(),
            },
            ChatChunk::ToolCall {
                index: 0,
                call_index: 0,
                id: None,
                name: None,
                arguments: r#"{"city":"Paris"}"#.into(),
            },
            ChatChunk::Finish {
                index: 0,
                reason: FinishReason::ToolCalls,
                raw_reason: Some("tool_use".into()),
            },
            ChatChunk::Usage(Usage {
                prompt_tokens: 471,
                completion_tokens: 91,
                total_tokens: 562,
                ..Usage::default()
            }),
        ][..]
    );
    // What an OpenAI client reads.
    let mut enc = OpenAiStreamEncoder::new("general", true);
    let mut events: Vec<Value> = Vec::new();
    for c in &out {
        if let Some(b) = enc.encode(c) {
            events.push(sse_json(&b));
        }
    }
    let fin = enc.finish();
    let tail = String::from_utf8(fin.to_vec()).unwrap();
    assert!(tail.ends_with("data: [DONE]\n\n"), "{tail}");
    let calls: Vec<&Value> = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(
        calls[0],
        &json!({"index": 0, "id": "tooluse_lAG_zP8QRHmSYOwZzzaCqA", "type": "function",
                "function": {"name": "get_temperature", "arguments": ""}})
    );
    assert_eq!(
        calls[1],
        &json!({"index": 0, "function": {"arguments": "{\"city\":\"Paris\"}"}})
    );
    let finish = events
        .iter()
        .find_map(|e| e["choices"][0]["finish_reason"].as_str())
        .unwrap();
    assert_eq!(finish, "tool_calls");
    let usage = &events.last().unwrap()["usage"];
    assert_eq!(
        (
            usage["prompt_tokens"].as_u64(),
            usage["total_tokens"].as_u64()
        ),
        (Some(471), Some(562))
    );
}

fn sse_json(event: &[u8]) -> Value {
    let text = std::str::from_utf8(event).unwrap();
    let data = text.strip_prefix("data: ").unwrap().trim_end();
    serde_json::from_str(data).unwrap()
}

#[test]
fn recorded_empty_text_delta_stream_exactly() {
    assert_eq!(
        chunks_of(4),
        vec![
            ChatChunk::Start {
                id: String::new(),
                model: String::new(),
                created: 0,
                system_fingerprint: None
            },
            ChatChunk::Thinking {
                index: 0,
                text: "The user just says \"Hi\". We need to respond appropriately, friendly \
                       greeting. No special instructions. Should be short."
                    .into(),
                signature: None,
            },
            ChatChunk::Text {
                index: 0,
                text: "Hello! How can I help".into()
            },
            ChatChunk::Text {
                index: 0,
                text: " you today?".into()
            },
            ChatChunk::Finish {
                index: 0,
                reason: FinishReason::Stop,
                raw_reason: Some("end_turn".into()),
            },
            ChatChunk::Usage(Usage {
                prompt_tokens: 70,
                completion_tokens: 43,
                total_tokens: 113,
                ..Usage::default()
            }),
        ]
    );
}

#[test]
fn recorded_thinking_streams_give_the_signature_last() {
    for i in [3, 6] {
        let out = chunks_of(i);
        let sig_at = out
            .iter()
            .position(|c| {
                matches!(
                    c,
                    ChatChunk::Thinking {
                        signature: Some(_),
                        ..
                    }
                )
            })
            .unwrap();
        let first_text = out
            .iter()
            .position(|c| matches!(c, ChatChunk::Text { .. }))
            .unwrap();
        let last_thinking = out
            .iter()
            .rposition(|c| {
                matches!(
                    c,
                    ChatChunk::Thinking {
                        signature: None,
                        ..
                    }
                )
            })
            .unwrap();
        assert!(
            last_thinking < sig_at && sig_at < first_text,
            "{i}: {out:?}"
        );
        // An OpenAI client sees the reasoning as `reasoning_content`, then the text.
        let mut enc = OpenAiStreamEncoder::new("general", false);
        let events: Vec<Value> = out
            .iter()
            .filter_map(|c| enc.encode(c))
            .map(|b| sse_json(&b))
            .collect();
        let reasoning: String = events
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["reasoning_content"].as_str())
            .collect();
        assert!(
            reasoning.starts_with("The") || reasoning.starts_with("Let me"),
            "{reasoning}"
        );
        assert!(events.iter().all(|e| e.get("usage").is_none()));
    }
}

#[test]
fn recorded_text_stream_starts_as_recorded() {
    let out = chunks_of(0);
    let text: String = out
        .iter()
        .filter_map(|c| match c {
            ChatChunk::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        text.starts_with("The capital of France is Paris. Paris is not"),
        "{text}"
    );
    assert!(text.ends_with("\"The City of Love.\""), "{text}");
}

/// The non-streamed JSON bodies of a response fixture.
fn response_bodies(rel: &str) -> Vec<Vec<u8>> {
    if rel.ends_with(".yaml") {
        cassette(rel)
            .into_iter()
            .map(|i| {
                assert_eq!(i.status, 200);
                assert!(i.uri.ends_with("/converse"), "{}", i.uri);
                i.body
            })
            .collect()
    } else {
        vec![fixture(rel)]
    }
}

#[test]
fn recorded_responses_parse_to_what_they_say() {
    let mut seen = 0;
    for rel in RESPONSES {
        for body in response_bodies(rel) {
            seen += 1;
            let raw: Value = serde_json::from_slice(&body).unwrap();
            let r = BedrockAdapter::new().parse_response(&body).unwrap();
            assert_eq!((r.id.as_str(), r.model.as_str(), r.created), ("", "", 0));
            assert_eq!(r.choices.len(), 1);
            let c = &r.choices[0];
            let blocks = raw["output"]["message"]["content"].as_array().unwrap();
            let mut want_content = Vec::new();
            let mut want_calls = Vec::new();
            for b in blocks {
                if let Some(t) = b["text"].as_str() {
                    want_content.push(ContentPart::Text { text: t.into() });
                }
                let rt = &b["reasoningContent"]["reasoningText"];
                if rt.is_object() {
                    want_content.push(ContentPart::Thinking {
                        text: rt["text"].as_str().unwrap().into(),
                        signature: rt["signature"].as_str().map(Into::into),
                    });
                }
                let t = &b["toolUse"];
                if t.is_object() {
                    want_calls.push(ToolCall {
                        id: t["toolUseId"].as_str().unwrap().into(),
                        name: t["name"].as_str().unwrap().into(),
                        arguments: t["input"].to_string(),
                    });
                }
            }
            assert_eq!(c.message.content, want_content, "{rel}");
            assert_eq!(c.message.tool_calls, want_calls, "{rel}");
            let stop = raw["stopReason"].as_str().unwrap();
            let reason = if stop == "tool_use" {
                FinishReason::ToolCalls
            } else {
                FinishReason::Stop
            };
            assert_eq!(c.finish_reason, Some(reason), "{rel}");
            assert_eq!(c.raw_reason.as_deref(), Some(stop), "{rel}");
            assert_eq!(r.usage, usage_of(&raw["usage"]), "{rel}");

            // What an OpenAI client reads.
            let out: Value = serde_json::from_slice(&encode_response(&r, "general")).unwrap();
            let msg = &out["choices"][0]["message"];
            let text: String = want_content
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(msg["content"].as_str().unwrap_or_default(), text, "{rel}");
            assert_eq!(out["choices"][0]["finish_reason"], reason.as_str());
            assert_eq!(out["usage"]["prompt_tokens"], r.usage.prompt_tokens);
            assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
            for (k, call) in want_calls.iter().enumerate() {
                assert_eq!(msg["tool_calls"][k]["id"], call.id.as_str());
                assert_eq!(msg["tool_calls"][k]["function"]["name"], call.name.as_str());
                assert_eq!(
                    msg["tool_calls"][k]["function"]["arguments"],
                    call.arguments.as_str()
                );
            }
        }
    }
    assert_eq!(seen, 5);
}

#[test]
fn recorded_reasoning_response_exactly() {
    let r = decode_response(&fixture("bedrock/vercel_converse_nonstream_reasoning.json")).unwrap();
    let out: Value = serde_json::from_slice(&encode_response(&r, "m")).unwrap();
    let msg = &out["choices"][0]["message"];
    assert_eq!(
        msg["reasoning_content"],
        "Let me count the r's in \"strawberry\":\n\ns-t-r-a-w-b-e-r-r-y\n\nThere are 3 r's."
    );
    assert_eq!(
        msg["content"],
        "There are **3** r's in \"strawberry\":\n\n1. st**r**awbe**r****r**y"
    );
    assert_eq!(
        (
            r.usage.prompt_tokens,
            r.usage.completion_tokens,
            r.usage.total_tokens
        ),
        (51, 78, 129)
    );
    let r = decode_response(&response_bodies(RESPONSES[1])[0]).unwrap();
    assert_eq!(
        r.choices[0].message.tool_calls,
        vec![ToolCall {
            id: "tooluse_Ze_bgl9CSqu8aJv7XD-_Dw".into(),
            name: "get_capital".into(),
            arguments: r#"{"country":"France"}"#.into(),
        }]
    );
}

fn feed(
    d: &mut dyn crate::adapter::StreamDecoder,
    kind: &str,
    payload: Value,
) -> Result<Vec<ChatChunk>, crate::error::UpstreamError> {
    let payload = serde_json::to_vec(&payload).unwrap();
    d.on_event(StreamEvent::Frame {
        event_type: kind,
        payload: &payload,
    })
}

#[test]
fn json_tool_streams_as_text_and_tools_without_input_get_empty_objects() {
    let mut d = BedrockStreamDecoder::new();
    let mut out = Vec::new();
    for (kind, p) in [
        ("messageStart", json!({"role": "assistant"})),
        (
            "contentBlockStart",
            json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "j1", "name": JSON_TOOL}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{\"a\":"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": ""}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "1}"}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 0})),
        ("messageStop", json!({"stopReason": "tool_use"})),
    ] {
        out.extend(feed(&mut d, kind, p).unwrap());
    }
    let text: String = out
        .iter()
        .filter_map(|c| match c {
            ChatChunk::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, r#"{"a":1}"#);
    assert!(!out.iter().any(|c| matches!(c, ChatChunk::ToolCall { .. })));
    assert_eq!(
        out.last(),
        Some(&ChatChunk::Finish {
            index: 0,
            reason: FinishReason::Stop,
            raw_reason: Some("tool_use".into())
        })
    );
    assert!(!d.is_done(), "done only after metadata");

    // Two tools at block indexes 1 and 3, the first with no input at all, the
    // second never stopped; a server tool in between takes no call index.
    let mut d = BedrockStreamDecoder::new();
    let mut out = Vec::new();
    for (kind, p) in [
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "x"}}),
        ),
        (
            "contentBlockStart",
            json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "a", "name": "f"}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 1})),
        (
            "contentBlockStart",
            json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "s", "name": "web", "type": "server_tool_use"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{}"}}}),
        ),
        (
            "contentBlockStart",
            json!({"contentBlockIndex": 3, "start": {"toolUse": {"toolUseId": "b", "name": "g"}}}),
        ),
        ("messageStop", json!({"stopReason": "tool_use"})),
        (
            "metadata",
            json!({"usage": {"inputTokens": 5, "outputTokens": 6, "totalTokens": 1011, "cacheReadInputTokens": 1000}, "metrics": {"latencyMs": 1}}),
        ),
    ] {
        out.extend(feed(&mut d, kind, p).unwrap());
    }
    let tc = |call_index, id: Option<&str>, name: Option<&str>, args: &str| ChatChunk::ToolCall {
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
                id: String::new(),
                model: String::new(),
                created: 0,
                system_fingerprint: None
            },
            ChatChunk::Text {
                index: 0,
                text: "x".into()
            },
            tc(0, Some("a"), Some("f"), ""),
            tc(0, None, None, "{}"),
            tc(1, Some("b"), Some("g"), ""),
            tc(1, None, None, "{}"),
            ChatChunk::Finish {
                index: 0,
                reason: FinishReason::ToolCalls,
                raw_reason: Some("tool_use".into())
            },
            ChatChunk::Usage(Usage {
                prompt_tokens: 1005,
                completion_tokens: 6,
                total_tokens: 1011,
                cached_tokens: 1000,
                cache_write_tokens: 0,
                reasoning_tokens: 0,
            }),
        ]
    );
    assert!(d.is_done());
}

#[test]
fn in_stream_exceptions_and_errors() {
    let cases = [
        ("throttlingException", ErrorClass::RateLimit),
        ("serviceUnavailableException", ErrorClass::Server),
        ("internalServerException", ErrorClass::Server),
        ("modelStreamErrorException", ErrorClass::Server),
        ("validationException", ErrorClass::BadRequest),
        ("modelTimeoutException", ErrorClass::Timeout),
    ];
    for (kind, class) in cases {
        let mut body = encode_frame("messageStart", br#"{"role":"assistant"}"#);
        body.extend(eventstream::encode_exception(
            kind,
            br#"{"message":"it failed"}"#,
        ));
        let frames = frames_of(&body, &[]).unwrap();
        assert_eq!(frames[1].message_type, "exception");
        let mut d = BedrockAdapter::new().stream_decoder();
        assert_eq!(d.on_event(frames[0].as_stream_event()).unwrap().len(), 1);
        let e = d.on_event(frames[1].as_stream_event()).unwrap_err();
        assert_eq!(
            (e.class, e.status, e.message.as_str()),
            (class, None, "it failed"),
            "{kind}"
        );
        assert_eq!(e.kind.as_deref(), Some(kind));
    }
    let frames = frames_of(
        &eventstream::encode_exception(
            "validationException",
            br#"{"message":"Input is too long for requested model."}"#,
        ),
        &[],
    )
    .unwrap();
    let e = BedrockStreamDecoder::new()
        .on_event(frames[0].as_stream_event())
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::ContextWindow);

    // A framework error frame (code and text in headers).
    let frames = frames_of(
        &eventstream::encode_error("InternalFailure", "try again"),
        &[],
    )
    .unwrap();
    let e = BedrockStreamDecoder::new()
        .on_event(frames[0].as_stream_event())
        .unwrap_err();
    assert_eq!(
        (e.class, e.message.as_str()),
        (ErrorClass::Server, "try again")
    );

    // Unknown events are skipped; malformed known ones are errors.
    let mut d = BedrockStreamDecoder::new();
    assert!(feed(&mut d, "someFutureEvent", json!({"x": 1}))
        .unwrap()
        .is_empty());
    let e = d
        .on_event(StreamEvent::Frame {
            event_type: "contentBlockDelta",
            payload: b"{not json",
        })
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Server);
    let e = feed(
        &mut d,
        "contentBlockDelta",
        json!({"contentBlockIndex": 7, "delta": {"toolUse": {"input": "{}"}}}),
    )
    .unwrap_err();
    assert!(e.message.contains("block 7"), "{}", e.message);
    // SSE events are not Bedrock's.
    let sse = crate::sse::parse_event(b"data: {}\n\n");
    assert!(d.on_event(StreamEvent::Sse(&sse)).unwrap().is_empty());
}

#[test]
fn other_stop_reasons_in_streams() {
    for (stop, reason) in [
        ("max_tokens", FinishReason::Length),
        ("stop_sequence", FinishReason::Stop),
        ("guardrail_intervened", FinishReason::ContentFilter),
        ("content_filtered", FinishReason::ContentFilter),
        ("model_context_window_exceeded", FinishReason::Length),
    ] {
        let mut d = BedrockStreamDecoder::new();
        let out = feed(&mut d, "messageStop", json!({"stopReason": stop})).unwrap();
        assert_eq!(
            out.last(),
            Some(&ChatChunk::Finish {
                index: 0,
                reason,
                raw_reason: Some(stop.into())
            })
        );
        // A second messageStop finishes nothing more.
        assert!(feed(&mut d, "messageStop", json!({"stopReason": stop}))
            .unwrap()
            .is_empty());
    }
}

/// Frames as the gateway would feed them: decode, then decode each frame, stopping at
/// the first error of either layer. Never panics, whatever the bytes.
fn run_all(body: &[u8], cuts: &[usize]) -> (Vec<Frame>, Vec<ChatChunk>, bool) {
    let mut fd = FrameDecoder::new();
    let mut d = BedrockStreamDecoder::new();
    let mut frames = Vec::new();
    let mut chunks = Vec::new();
    let mut at = 0;
    let mut failed = false;
    for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
        let cut = cut.clamp(at, body.len());
        let mut got = Vec::new();
        let r = fd.push(Bytes::copy_from_slice(&body[at..cut]), &mut got);
        at = cut;
        for f in &got {
            match d.on_event(f.as_stream_event()) {
                Ok(c) => chunks.extend(c),
                Err(_) => failed = true,
            }
        }
        frames.extend(got);
        if r.is_err() {
            failed = true;
            break;
        }
    }
    (frames, chunks, failed)
}

/// The recorded stream bodies, read once for all property-test cases.
fn recorded_stream(i: usize) -> Vec<u8> {
    static BODIES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    BODIES.get_or_init(|| recordings().into_iter().map(|r| r.body).collect())[i].clone()
}

/// Payloads shaped like Bedrock's, with arbitrary values, for decoder fuzzing.
fn payload_strategy() -> impl Strategy<Value = (String, Vec<u8>)> {
    let kinds = prop::sample::select(vec![
        "messageStart",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
        "throttlingException",
        "unknownEvent",
    ]);
    let index = 0u32..4;
    let text = ".{0,8}";
    (kinds, index, text, 0u8..8).prop_map(|(kind, index, text, shape)| {
        let p = match shape {
            0 => json!({"contentBlockIndex": index, "delta": {"text": text}}),
            1 => json!({"contentBlockIndex": index, "delta": {"toolUse": {"input": text}}}),
            2 => json!({"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": text, "name": text}}}),
            3 => json!({"contentBlockIndex": index, "delta": {"reasoningContent": {"text": text, "signature": text}}}),
            4 => json!({"stopReason": text}),
            5 => json!({"usage": {"inputTokens": index, "outputTokens": u64::MAX, "totalTokens": index}}),
            6 => json!({"message": text}),
            _ => json!({"contentBlockIndex": index}),
        };
        (kind.to_string(), serde_json::to_vec(&p).unwrap())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (a) Arbitrary bytes in arbitrary chunks never panic either layer.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        cuts in prop::collection::vec(0usize..512, 0..8),
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let _ = run_all(&bytes, &cuts);
        // A valid prelude in front makes the decoder read further into the bytes.
        let mut framed = encode_frame("contentBlockDelta", &bytes);
        framed.extend_from_slice(&bytes);
        let _ = run_all(&framed, &cuts);
    }

    /// (a) Well-framed events with arbitrary Bedrock-like payloads never panic the
    /// decoder, in any order.
    #[test]
    fn arbitrary_events_never_panic(events in prop::collection::vec(payload_strategy(), 0..24)) {
        let mut body = Vec::new();
        for (kind, payload) in &events {
            body.extend(encode_frame(kind, payload));
        }
        let (frames, _, _) = run_all(&body, &[]);
        prop_assert_eq!(frames.len(), events.len());
    }

    /// (b) A recorded stream split anywhere yields the same frames and chunks as whole.
    #[test]
    fn recorded_stream_split_anywhere(
        which in 0usize..7,
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let body = recorded_stream(which);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
        cuts.sort_unstable();
        let whole = run_all(&body, &[]);
        let split = run_all(&body, &cuts);
        prop_assert!(!whole.2 && !split.2);
        prop_assert_eq!(&whole.0, &split.0);
        prop_assert_eq!(&whole.1, &split.1);
    }

    /// (c) One flipped byte never yields a wrong frame: the frames before it come out,
    /// the damaged one fails its CRC (or, for a length byte, the bounds; or, if the
    /// corrupt length reaches past the body, the stream ends cut off).
    #[test]
    fn flipped_byte_fails_the_check(
        which in 0usize..7,
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let body = recorded_stream(which);
        let originals = frames_of(&body, &[]).unwrap();
        let pos = at.index(body.len());
        let mut bad = body.clone();
        bad[pos] ^= mask;
        // The frame holding `pos`, and where it starts.
        let (mut k, mut start) = (0, 0);
        loop {
            let len = u32::from_be_bytes(body[start..start + 4].try_into().unwrap()) as usize;
            if pos < start + len {
                break;
            }
            start += len;
            k += 1;
        }
        let mut d = FrameDecoder::new();
        let mut out = Vec::new();
        let r = d.push(Bytes::from(bad), &mut out);
        prop_assert_eq!(&out[..], &originals[..k]);
        if pos >= start + 4 {
            prop_assert!(r.is_err());
        } else {
            prop_assert!(r.is_err() || d.has_partial());
        }
    }
}
