//! Golden tests from recorded Gemini and Vertex traffic (`../shared/fixtures/gemini`).
//!
//! Every recording is listed once, in [`STREAMS`], [`RESPONSES`] or [`ERRORS`]; a new
//! one is a new row. Each row states what a client must end up with; the checks
//! also derive text, thinking and signatures from the recorded JSON itself, so a
//! dropped or duplicated part fails whatever the row says. The embeddings
//! recordings (`*batchEmbedContents*` success, `vercel_vertex_embedding.json`) are
//! not `generateContent` traffic and are not used, except the 404 error body.
//! Requests recorded with the real clients are compared with what
//! [`encode_request`] writes for the same conversation at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::ids::{decode_call_id, SIGNATURE_MARKER};
use super::request::{encode_request, Options};
use super::{GeminiAdapter, GeminiStreamDecoder};
use crate::adapter::{ChatAdapter, StreamDecoder, StreamEvent, Target};
use crate::canonical::{
    ChatChunk, ChatRequest, ChatResponse, ContentPart, FinishReason, Message, ReasoningEffort,
    Role, Tool, ToolCall, Usage,
};
use crate::error::{ErrorClass, UpstreamError};
use crate::openai::{encode_response, OpenAiStreamEncoder};
use crate::sse::{parse_event, SseSplitter};
use crate::test_support::fixture;
use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{json, Value};

// ---- reading recordings -------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Source {
    /// A vercel `.chunks.jsonl`: one `data:` JSON per line.
    Jsonl(&'static str),
    /// A pydantic-ai VCR cassette and the interaction in it.
    Cassette(&'static str, usize),
    /// A bare JSON body.
    Json(&'static str),
}

fn cassette(rel: &str) -> Value {
    serde_yaml_ng::from_slice(&fixture(rel)).unwrap()
}

fn interaction(rel: &str, i: usize) -> Value {
    cassette(rel)["interactions"][i].clone()
}

/// The raw bytes the stream's body held. The vercel files lost their framing: each
/// line is framed back the way Gemini writes it (`data: …\r\n\r\n`).
fn stream_body(src: Source) -> Vec<u8> {
    match src {
        Source::Jsonl(rel) => {
            let mut body = Vec::new();
            for line in fixture(rel)
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
            {
                body.extend_from_slice(b"data: ");
                body.extend_from_slice(line);
                body.extend_from_slice(b"\r\n\r\n");
            }
            body
        }
        Source::Cassette(rel, i) => interaction(rel, i)["response"]["body"]["string"]
            .as_str()
            .unwrap()
            .as_bytes()
            .to_vec(),
        Source::Json(rel) => fixture(rel),
    }
}

/// A non-streamed response body as JSON bytes.
fn response_body(src: Source) -> Vec<u8> {
    match src {
        Source::Cassette(rel, i) => {
            serde_json::to_vec(&interaction(rel, i)["response"]["parsed_body"]).unwrap()
        }
        Source::Json(rel) | Source::Jsonl(rel) => fixture(rel),
    }
}

/// The recorded chunks as JSON (what the checks derive expectations from).
fn recorded_chunks(src: Source) -> Vec<Value> {
    let body = stream_body(src);
    let mut split = SseSplitter::new();
    let mut events = Vec::new();
    split.push(Bytes::from(body), &mut events);
    events.extend(split.take_rest());
    events
        .iter()
        .map(|e| parse_event(e))
        .filter(|e| !e.data.is_empty())
        .map(|e| serde_json::from_slice(&e.data).unwrap())
        .collect()
}

/// Feeds `body` cut at `cuts` through the SSE framing and a decoder, as the gateway
/// does (the tail without its blank line is fed at the end).
fn decode_stream(
    body: &[u8],
    cuts: &[usize],
) -> (Vec<Result<Vec<ChatChunk>, UpstreamError>>, bool) {
    let mut split = SseSplitter::new();
    let mut d = GeminiStreamDecoder::new();
    let mut results = Vec::new();
    let mut events = Vec::new();
    let mut at = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(body.len())).collect();
    bounds.sort_unstable();
    bounds.push(body.len());
    for end in bounds {
        if end < at {
            continue;
        }
        split.push(Bytes::copy_from_slice(&body[at..end]), &mut events);
        at = end;
        for raw in events.drain(..) {
            results.push(d.on_event(StreamEvent::Sse(&parse_event(&raw))));
        }
    }
    if let Some(rest) = split.take_rest() {
        results.push(d.on_event(StreamEvent::Sse(&parse_event(&rest))));
    }
    (results, d.is_done())
}

fn decode_ok(src: Source) -> Vec<ChatChunk> {
    let (results, done) = decode_stream(&stream_body(src), &[]);
    assert!(done, "{src:?}: the decoder saw the end");
    results.into_iter().flat_map(Result::unwrap).collect()
}

fn usage(prompt: u64, completion: u64, total: u64, reasoning: u64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
        cached_tokens: 0,
        cache_write_tokens: 0,
        reasoning_tokens: reasoning,
    }
}

// ---- what the recordings say ----------------------------------------------------

/// Text, thinking, and the signatures of text and function call parts, in a recording.
struct Recorded {
    text: String,
    thinking: String,
    text_signatures: Vec<String>,
    call_signatures: Vec<String>,
}

fn recorded(chunks: &[Value]) -> Recorded {
    let mut r = Recorded {
        text: String::new(),
        thinking: String::new(),
        text_signatures: Vec::new(),
        call_signatures: Vec::new(),
    };
    for c in chunks {
        for cand in c["candidates"].as_array().into_iter().flatten() {
            for p in cand["content"]["parts"].as_array().into_iter().flatten() {
                let sig = p["thoughtSignature"].as_str().map(str::to_string);
                if p.get("functionCall").is_some() {
                    r.call_signatures.extend(sig);
                    continue;
                }
                let t = p["text"].as_str().unwrap_or("");
                if p["thought"] == json!(true) {
                    r.thinking.push_str(t);
                } else {
                    r.text.push_str(t);
                }
                r.text_signatures.extend(sig);
            }
        }
    }
    r
}

// ---- streams ---------------------------------------------------------------------

struct StreamCase {
    src: Source,
    id: &'static str,
    model: &'static str,
    /// Vertex's `createTime`, else 0.
    created: u64,
    text_starts: &'static str,
    /// Name and arguments of each tool call, in order.
    calls: &'static [(&'static str, &'static str)],
    finish: FinishReason,
    raw: &'static str,
    usage: Usage,
}

const STREAMS: &[StreamCase] = &[
    StreamCase {
        src: Source::Jsonl("gemini/vercel_stream_function_call.chunks.jsonl"),
        id: "b36LacjwM668nsEP2tbsgQQ",
        model: "gemini-3-pro-preview",
        created: 0,
        text_starts: "",
        calls: &[("weather", r#"{"location":"San Francisco"}"#)],
        finish: FinishReason::ToolCalls,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 29,
            completion_tokens: 60,
            total_tokens: 89,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 45,
        },
    },
    StreamCase {
        src: Source::Jsonl("gemini/vercel_stream_reasoning.chunks.jsonl"),
        id: "dX6LadKVC7SZ28oPr9yJoQs",
        model: "gemini-3-pro-preview",
        created: 0,
        text_starts: "There are **3** \"r\"s in strawberry.",
        calls: &[],
        finish: FinishReason::Stop,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 9,
            completion_tokens: 285,
            total_tokens: 294,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 256,
        },
    },
    StreamCase {
        src: Source::Jsonl("gemini/vercel_stream_text_thoughtsig.chunks.jsonl"),
        id: "bH6LaZW8Fp_3nsEPqtaSwQ4",
        model: "gemini-3-pro-preview",
        created: 0,
        text_starts: "There are **3** \"r\"s in strawberry.\n\nst**r**awbe**rr**y",
        calls: &[],
        finish: FinishReason::Stop,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 9,
            completion_tokens: 208,
            total_tokens: 217,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 185,
        },
    },
    StreamCase {
        src: Source::Jsonl("gemini/vercel_vertex_stream_partial_function_args.chunks.jsonl"),
        id: "dqHOab6xGLzWodAPkPuViA4",
        model: "gemini-3.1-pro-preview",
        // createTime 2026-04-02T17:03:50.399550Z
        created: 1_775_149_430,
        text_starts: "",
        calls: &[
            ("getWeather", r#"{"location":"Boston"}"#),
            ("getWeather", r#"{"location":"San Francisco"}"#),
        ],
        finish: FinishReason::ToolCalls,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 26,
            completion_tokens: 155,
            total_tokens: 181,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 132,
        },
    },
    StreamCase {
        src: Source::Cassette("gemini/pydanticai_test_google_model_stream.yaml", 0),
        id: "w1peaMz6INOvnvgPgYfPiQY",
        model: "gemini-2.0-flash-exp",
        created: 0,
        text_starts: "The capital of France is Paris.\n",
        calls: &[],
        finish: FinishReason::Stop,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 13,
            completion_tokens: 8,
            total_tokens: 21,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
        },
    },
    StreamCase {
        src: Source::Cassette("gemini/pydanticai_test_google_model_iter_stream.yaml", 0),
        id: "1lpeaMTxIpW1nvgP-O3vwQY",
        model: "gemini-2.0-flash",
        created: 0,
        text_starts: "",
        calls: &[("get_capital", r#"{"country":"France"}"#)],
        finish: FinishReason::ToolCalls,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 52,
            completion_tokens: 5,
            total_tokens: 57,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
        },
    },
    StreamCase {
        src: Source::Cassette("gemini/pydanticai_test_google_model_iter_stream.yaml", 1),
        id: "11peaOXwBPH_2PgPh_z--AY",
        model: "gemini-2.0-flash",
        created: 0,
        text_starts: "",
        calls: &[("get_temperature", r#"{"city":"Paris"}"#)],
        finish: FinishReason::ToolCalls,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 64,
            completion_tokens: 5,
            total_tokens: 69,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
        },
    },
    StreamCase {
        src: Source::Cassette("gemini/pydanticai_test_google_model_iter_stream.yaml", 2),
        id: "11peaI_ZJLq3nvgP0vasuQk",
        model: "gemini-2.0-flash",
        created: 0,
        text_starts: "The temperature in Paris is 30°C.\n",
        calls: &[],
        finish: FinishReason::Stop,
        raw: "STOP",
        // The prompt count went from 169 to 79 between chunks: the last one counts.
        usage: Usage {
            prompt_tokens: 79,
            completion_tokens: 12,
            total_tokens: 91,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
        },
    },
    StreamCase {
        src: Source::Cassette(
            "gemini/pydanticai_test_google_model_thinking_part_iter.yaml",
            0,
        ),
        id: "beHBaJfEMIi-qtsP3769-Q8",
        model: "gemini-2.5-pro",
        created: 0,
        text_starts: "This is a great question! Safely crossing the street",
        calls: &[],
        finish: FinishReason::Stop,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 34,
            completion_tokens: 1256,
            total_tokens: 1290,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 787,
        },
    },
    StreamCase {
        src: Source::Cassette(
            "gemini/pydanticai_test_google_stream_usage_is_live_mid_stream.yaml",
            0,
        ),
        id: "ru1garvBEoOiqtsP2fznmQw",
        model: "gemini-2.5-flash",
        created: 0,
        text_starts: "1\n2\n3\n",
        calls: &[],
        finish: FinishReason::Stop,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 18,
            completion_tokens: 115,
            total_tokens: 133,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 35,
        },
    },
    StreamCase {
        src: Source::Cassette(
            "gemini/pydanticai_test_google_streaming_tool_call_thought_signature.yaml",
            0,
        ),
        id: "QUVVadTSNJ6_qtsPvN7J8Q0",
        model: "gemini-3-pro-preview",
        created: 0,
        text_starts: "",
        calls: &[("get_country", "{}")],
        finish: FinishReason::ToolCalls,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 29,
            completion_tokens: 212,
            total_tokens: 241,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 202,
        },
    },
    StreamCase {
        src: Source::Cassette(
            "gemini/pydanticai_test_google_streaming_tool_call_thought_signature.yaml",
            1,
        ),
        id: "REVVabaiCdq4qtsPnZu96Qo",
        model: "gemini-3-pro-preview",
        created: 0,
        text_starts: "The capital of Mexico is Mexico City.",
        calls: &[],
        finish: FinishReason::Stop,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 257,
            completion_tokens: 8,
            total_tokens: 265,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
        },
    },
];

/// The tool calls of choice 0 assembled from their fragments: (id, name, arguments).
fn assembled_calls(out: &[ChatChunk]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for c in out {
        if let ChatChunk::ToolCall {
            index: 0,
            call_index,
            id,
            name,
            arguments,
        } = c
        {
            let k = *call_index as usize;
            if k == calls.len() {
                // The first fragment names the call.
                calls.push((
                    id.clone().expect("id on the first fragment"),
                    name.clone().expect("name on the first fragment"),
                    String::new(),
                ));
            } else {
                assert!(k < calls.len(), "call_index counts from 0 in order");
                assert!(
                    id.is_none() && name.is_none(),
                    "id and name on the first fragment only"
                );
            }
            calls[k].2.push_str(arguments);
        }
    }
    calls
}

#[test]
fn recorded_streams_decode() {
    for case in STREAMS {
        let src = case.src;
        let out = decode_ok(src);
        let rec = recorded(&recorded_chunks(src));

        assert_eq!(
            out.first(),
            Some(&ChatChunk::Start {
                id: case.id.into(),
                model: case.model.into(),
                created: case.created,
                system_fingerprint: None,
            }),
            "{src:?}"
        );
        let starts = out
            .iter()
            .filter(|c| matches!(c, ChatChunk::Start { .. }))
            .count();
        assert_eq!(starts, 1, "{src:?}");

        let text: String = out
            .iter()
            .filter_map(|c| match c {
                ChatChunk::Text { index: 0, text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, rec.text, "{src:?}");
        assert!(text.starts_with(case.text_starts), "{src:?}: {text}");
        let thinking: String = out
            .iter()
            .filter_map(|c| match c {
                ChatChunk::Thinking { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(thinking, rec.thinking, "{src:?}");
        let text_sigs: Vec<&str> = out
            .iter()
            .filter_map(|c| match c {
                ChatChunk::Thinking {
                    text,
                    signature: Some(s),
                    ..
                } if text.is_empty() => Some(s.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text_sigs, rec.text_signatures, "{src:?}");

        let calls = assembled_calls(&out);
        assert_eq!(calls.len(), case.calls.len(), "{src:?}");
        let mut call_sigs = Vec::new();
        for ((id, name, args), (want_name, want_args)) in calls.iter().zip(case.calls) {
            assert_eq!(name, want_name, "{src:?}");
            let got: Value = serde_json::from_str(args).unwrap();
            let want: Value = serde_json::from_str(want_args).unwrap();
            assert_eq!(got, want, "{src:?}");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{id}"
            );
            call_sigs.extend(decode_call_id(id).1);
        }
        assert_eq!(call_sigs, rec.call_signatures, "{src:?}");

        let finishes: Vec<&ChatChunk> = out
            .iter()
            .filter(|c| matches!(c, ChatChunk::Finish { .. }))
            .collect();
        assert_eq!(
            finishes,
            vec![&ChatChunk::Finish {
                index: 0,
                reason: case.finish,
                raw_reason: Some(case.raw.into()),
            }],
            "{src:?}"
        );
        assert_eq!(out.last(), Some(&ChatChunk::Usage(case.usage)), "{src:?}");
    }
}

#[test]
fn usage_goes_out_on_every_chunk() {
    let src = Source::Cassette(
        "gemini/pydanticai_test_google_stream_usage_is_live_mid_stream.yaml",
        0,
    );
    let usages: Vec<Usage> = decode_ok(src)
        .into_iter()
        .filter_map(|c| match c {
            ChatChunk::Usage(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(
        usages,
        vec![
            usage(18, 66, 84, 35),
            usage(18, 114, 132, 35),
            usage(18, 115, 133, 35)
        ]
    );
}

#[test]
fn vertex_streamed_arguments_exact_chunks() {
    let out = decode_ok(Source::Jsonl(
        "gemini/vercel_vertex_stream_partial_function_args.chunks.jsonl",
    ));
    let ids: Vec<Option<&str>> = out
        .iter()
        .filter_map(|c| match c {
            ChatChunk::ToolCall { id, .. } => Some(id.as_deref()),
            _ => None,
        })
        .collect();
    let first = ids[0].unwrap();
    assert!(first.starts_with(&format!(
        "call_dqHOab6xGLzWodAPkPuViA4_0{SIGNATURE_MARKER}CiMBjz1rX25KieIB4d4AwFn8_WbsHTRN"
    )));
    let tc = |call_index, id: Option<&str>, name: Option<&str>, args: &str| ChatChunk::ToolCall {
        index: 0,
        call_index,
        id: id.map(Into::into),
        name: name.map(Into::into),
        arguments: args.into(),
    };
    assert_eq!(
        out[1..],
        [
            tc(0, Some(first), Some("getWeather"), ""),
            tc(0, None, None, r#"{"location":"Boston"}"#),
            tc(
                1,
                Some("call_dqHOab6xGLzWodAPkPuViA4_1"),
                Some("getWeather"),
                ""
            ),
            tc(1, None, None, r#"{"location":"San Francisco"}"#),
            ChatChunk::Finish {
                index: 0,
                reason: FinishReason::ToolCalls,
                raw_reason: Some("STOP".into()),
            },
            ChatChunk::Usage(usage(26, 155, 181, 132)),
        ]
    );
}

#[test]
fn thought_parts_then_a_signed_text_part() {
    let out = decode_ok(Source::Cassette(
        "gemini/pydanticai_test_google_model_thinking_part_iter.yaml",
        0,
    ));
    let kinds: Vec<&str> = out
        .iter()
        .map(|c| match c {
            ChatChunk::Start { .. } => "start",
            ChatChunk::Thinking { text, .. } if text.is_empty() => "signature",
            ChatChunk::Thinking { .. } => "thinking",
            ChatChunk::Text { .. } => "text",
            ChatChunk::Usage(_) => "usage",
            ChatChunk::Finish { .. } => "finish",
            _ => "other",
        })
        .filter(|k| *k != "usage")
        .collect();
    let mut want = vec![
        "start",
        "thinking",
        "thinking",
        "thinking",
        "thinking",
        "signature",
    ];
    want.extend(std::iter::repeat_n("text", 19));
    want.push("finish");
    assert_eq!(kinds, want);
    assert!(
        matches!(&out[1], ChatChunk::Thinking { text, signature: None, .. } if text.starts_with("**Clarifying User Goals**"))
    );
}

#[test]
fn stream_into_openai_chunks() {
    // What an OpenAI client reads for a Gemini 3 function call.
    let out = decode_ok(Source::Jsonl(
        "gemini/vercel_stream_function_call.chunks.jsonl",
    ));
    let mut enc = OpenAiStreamEncoder::new("gemini", true);
    let mut events: Vec<Value> = Vec::new();
    for c in &out {
        if let Some(b) = enc.encode(c) {
            for raw in b
                .split(|&x| x == b'\n')
                .filter(|l| l.starts_with(b"data: {"))
            {
                events.push(serde_json::from_slice(&raw[6..]).unwrap());
            }
        }
    }
    let tool_delta = events
        .iter()
        .find(|e| e["choices"][0]["delta"]["tool_calls"].is_array())
        .unwrap();
    let call = &tool_delta["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "weather");
    assert_eq!(
        call["function"]["arguments"],
        r#"{"location":"San Francisco"}"#
    );
    let id = call["id"].as_str().unwrap();
    assert!(id.starts_with("call_b36LacjwM668nsEP2tbsgQQ_0__thought__EqUCCqICAb4-9vsh"));
    assert_eq!(tool_delta["id"], "b36LacjwM668nsEP2tbsgQQ");
    let finish = events
        .iter()
        .find_map(|e| e["choices"][0]["finish_reason"].as_str())
        .unwrap();
    assert_eq!(finish, "tool_calls");
    let trailer = events
        .iter()
        .rev()
        .find(|e| e["usage"].is_object())
        .unwrap();
    assert_eq!(trailer["choices"], json!([]));
    assert_eq!(trailer["usage"]["prompt_tokens"], 29);
    assert_eq!(trailer["usage"]["completion_tokens"], 60);
    assert_eq!(trailer["usage"]["total_tokens"], 89);
    assert_eq!(
        trailer["usage"]["completion_tokens_details"]["reasoning_tokens"],
        45
    );
}

/// The OpenAI chunks a client reads for a recorded stream.
fn openai_events(src: Source) -> Vec<Value> {
    let mut enc = OpenAiStreamEncoder::new("gemini", true);
    let mut body = Vec::new();
    for c in decode_ok(src) {
        body.extend(enc.encode(&c).unwrap_or_default());
    }
    body.extend_from_slice(&enc.finish());
    let text = String::from_utf8(body).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: {"))
        .map(|e| serde_json::from_str(&format!("{{{e}")).unwrap())
        .collect()
}

#[test]
fn thinking_and_streamed_arguments_into_openai_chunks() {
    let events = openai_events(Source::Cassette(
        "gemini/pydanticai_test_google_model_thinking_part_iter.yaml",
        0,
    ));
    let first_reasoning = events
        .iter()
        .find_map(|e| e["choices"][0]["delta"]["reasoning_content"].as_str())
        .unwrap();
    assert!(first_reasoning.starts_with("**Clarifying User Goals**"));
    let trailer = events.last().unwrap();
    assert_eq!(trailer["usage"]["completion_tokens"], 1256);
    assert_eq!(
        trailer["usage"]["completion_tokens_details"]["reasoning_tokens"],
        787
    );

    let events = openai_events(Source::Jsonl(
        "gemini/vercel_vertex_stream_partial_function_args.chunks.jsonl",
    ));
    let deltas: Vec<&Value> = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(deltas.len(), 4);
    assert_eq!(
        deltas[0]["function"],
        json!({"name": "getWeather", "arguments": ""})
    );
    assert_eq!(deltas[0]["type"], "function");
    assert_eq!(
        deltas[1],
        &json!({"index": 0, "function": {"arguments": "{\"location\":\"Boston\"}"}})
    );
    assert_eq!(deltas[2]["index"], 1);
    assert_eq!(deltas[2]["id"], "call_dqHOab6xGLzWodAPkPuViA4_1");
    assert_eq!(
        deltas[3]["function"]["arguments"],
        "{\"location\":\"San Francisco\"}"
    );
}

// ---- non-streamed responses -----------------------------------------------------

struct ResponseCase {
    src: Source,
    id: &'static str,
    model: &'static str,
    created: u64,
    text: &'static str,
    calls: &'static [(&'static str, &'static str)],
    /// Signature-only thinking parts (signed text parts).
    text_signatures: usize,
    finish: FinishReason,
    raw: &'static str,
    usage: Usage,
}

const RESPONSES: &[ResponseCase] = &[
    ResponseCase {
        src: Source::Json("gemini/vercel_nonstream_text.json"),
        id: "Un6LacrVMcjUxs0PmJfWoQc",
        model: "gemini-3-pro-preview",
        created: 0,
        text: "There are **3** r's in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y.",
        calls: &[],
        text_signatures: 1,
        finish: FinishReason::Stop,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 9,
            completion_tokens: 272,
            total_tokens: 281,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 244,
        },
    },
    ResponseCase {
        src: Source::Cassette("gemini/pydanticai_test_google_tool_output.yaml", 0),
        id: "LlteaIDvD9m7nvgPz5Sb0Aw",
        model: "gemini-2.0-flash",
        created: 0,
        text: "",
        calls: &[("get_user_country", "{}")],
        text_signatures: 0,
        finish: FinishReason::ToolCalls,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 33,
            completion_tokens: 5,
            total_tokens: 38,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
        },
    },
    ResponseCase {
        src: Source::Cassette("gemini/pydanticai_test_google_tool_output.yaml", 1),
        id: "LlteaOzCOPOdnvgPrJbnoQg",
        model: "gemini-2.0-flash",
        created: 0,
        text: "",
        calls: &[(
            "final_result",
            r#"{"city":"Mexico City","country":"Mexico"}"#,
        )],
        text_signatures: 0,
        finish: FinishReason::ToolCalls,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 47,
            completion_tokens: 8,
            total_tokens: 55,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
        },
    },
    ResponseCase {
        // MAX_TOKENS spent on thinking: a candidate with no `parts`.
        src: Source::Cassette(
            "gemini/pydanticai_test_google_model_max_tokens_thinking_model_empty_response.yaml",
            0,
        ),
        id: "fH8oaunbEbr9qtsPjYGX4A0",
        model: "gemini-2.5-pro",
        created: 0,
        text: "",
        calls: &[],
        text_signatures: 0,
        finish: FinishReason::Length,
        raw: "MAX_TOKENS",
        usage: Usage {
            prompt_tokens: 15,
            completion_tokens: 2,
            total_tokens: 17,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 2,
        },
    },
    ResponseCase {
        src: Source::Cassette(
            "gemini/pydanticai_vertex_generateContent_then_400_INVALID_ARGUMENT.yaml",
            0,
        ),
        id: "Tu-TaaP7LdfUitUPyPqQ-AU",
        model: "gemini-3-flash-preview",
        // createTime 2026-02-17T04:32:14.753059Z
        created: 1_771_302_734,
        text: "",
        calls: &[("get_file", r#"{"type":"IMAGE"}"#)],
        text_signatures: 0,
        finish: FinishReason::ToolCalls,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 22,
            completion_tokens: 312,
            total_tokens: 334,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 303,
        },
    },
    ResponseCase {
        src: Source::Cassette(
            "gemini/pydanticai_vertex_generateContent_then_400_INVALID_ARGUMENT.yaml",
            1,
        ),
        id: "Ue-TadriMaWSq7UPsvSeuQY",
        model: "gemini-3-flash-preview",
        created: 1_771_302_737,
        text: "",
        calls: &[("get_file", "{}")],
        text_signatures: 0,
        finish: FinishReason::ToolCalls,
        raw: "STOP",
        usage: Usage {
            prompt_tokens: 102,
            completion_tokens: 198,
            total_tokens: 300,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 191,
        },
    },
];

fn parse(src: Source) -> ChatResponse {
    GeminiAdapter::studio()
        .parse_response(&response_body(src))
        .unwrap_or_else(|e| panic!("{src:?}: {e}"))
}

#[test]
fn recorded_responses_parse() {
    for case in RESPONSES {
        let src = case.src;
        let r = parse(src);
        let body: Value = serde_json::from_slice(&response_body(src)).unwrap();
        let rec = recorded(std::slice::from_ref(&body));
        assert_eq!(
            (r.id.as_str(), r.model.as_str(), r.created),
            (case.id, case.model, case.created),
            "{src:?}"
        );
        assert_eq!(r.choices.len(), 1, "{src:?}");
        let c = &r.choices[0];
        assert_eq!(c.index, 0);
        assert_eq!(c.message.role, Role::Assistant);
        assert_eq!(c.message.joined_text(), case.text, "{src:?}");
        assert_eq!(c.message.joined_text(), rec.text, "{src:?}");
        let sigs: Vec<&str> = c
            .message
            .content
            .iter()
            .filter_map(|p| match p {
                ContentPart::Thinking {
                    text,
                    signature: Some(s),
                } if text.is_empty() => Some(s.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(sigs.len(), case.text_signatures, "{src:?}");
        assert_eq!(sigs, rec.text_signatures, "{src:?}");
        // Thinking (signatures included) comes before the text.
        if let Some(last) = c.message.content.last() {
            if !case.text.is_empty() {
                assert!(matches!(last, ContentPart::Text { .. }), "{src:?}");
            }
        }
        assert_eq!(c.message.tool_calls.len(), case.calls.len(), "{src:?}");
        let mut call_sigs = Vec::new();
        for (call, (name, args)) in c.message.tool_calls.iter().zip(case.calls) {
            assert_eq!(call.name, *name);
            assert_eq!(
                serde_json::from_str::<Value>(&call.arguments).unwrap(),
                serde_json::from_str::<Value>(args).unwrap()
            );
            assert!(
                call.id
                    .starts_with(&format!("call_{}", case.id.replace('_', ""))),
                "{}",
                call.id
            );
            call_sigs.extend(decode_call_id(&call.id).1);
        }
        assert_eq!(call_sigs, rec.call_signatures, "{src:?}");
        assert_eq!(c.finish_reason, Some(case.finish), "{src:?}");
        assert_eq!(c.raw_reason.as_deref(), Some(case.raw), "{src:?}");
        assert_eq!(r.usage, case.usage, "{src:?}");
    }
}

#[test]
fn response_into_openai_body() {
    let r = parse(Source::Json("gemini/vercel_nonstream_text.json"));
    let out: Value = serde_json::from_slice(&encode_response(&r, "gemini")).unwrap();
    assert_eq!(out["id"], "Un6LacrVMcjUxs0PmJfWoQc");
    assert_eq!(out["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        out["choices"][0]["message"]["content"],
        "There are **3** r's in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y."
    );
    assert_eq!(out["usage"]["prompt_tokens"], 9);
    assert_eq!(out["usage"]["completion_tokens"], 272);
    assert_eq!(out["usage"]["total_tokens"], 281);
    assert_eq!(
        out["usage"]["completion_tokens_details"]["reasoning_tokens"],
        244
    );

    let r = parse(Source::Cassette(
        "gemini/pydanticai_vertex_generateContent_then_400_INVALID_ARGUMENT.yaml",
        0,
    ));
    let out: Value = serde_json::from_slice(&encode_response(&r, "gemini")).unwrap();
    let msg = &out["choices"][0]["message"];
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(msg["tool_calls"][0]["type"], "function");
    assert_eq!(msg["tool_calls"][0]["function"]["name"], "get_file");
    assert_eq!(
        msg["tool_calls"][0]["function"]["arguments"],
        r#"{"type":"IMAGE"}"#
    );
}

// ---- errors ------------------------------------------------------------------------

struct ErrorCase {
    src: Source,
    status: u16,
    class: ErrorClass,
    kind: &'static str,
    message_starts: &'static str,
    retry_after_ms: Option<u64>,
}

const ERRORS: &[ErrorCase] = &[
    ErrorCase {
        src: Source::Json("gemini/vercel_error_429_resource_exhausted.json"),
        status: 429,
        class: ErrorClass::RateLimit,
        kind: "RESOURCE_EXHAUSTED",
        message_starts: "You exceeded your current quota",
        retry_after_ms: Some(34_400),
    },
    ErrorCase {
        src: Source::Cassette(
            "gemini/pydanticai_vertex_generateContent_then_400_INVALID_ARGUMENT.yaml",
            2,
        ),
        status: 400,
        class: ErrorClass::BadRequest,
        kind: "INVALID_ARGUMENT",
        message_starts: "Cannot fetch content from the provided URL.",
        retry_after_ms: None,
    },
    ErrorCase {
        src: Source::Cassette("gemini/pydanticai_batchEmbedContents_404_NOT_FOUND.yaml", 0),
        status: 404,
        class: ErrorClass::NotFound,
        kind: "NOT_FOUND",
        message_starts: "models/nonexistent-model is not found",
        retry_after_ms: None,
    },
];

/// The Gemini 503 body quoted in `errors_quoted_from_issues.md`.
fn quoted_503() -> Vec<u8> {
    let md = String::from_utf8(fixture("errors_quoted_from_issues.md")).unwrap();
    let section = md.split("### 503 UNAVAILABLE (raw JSON)").nth(1).unwrap();
    let block = section.split("```").nth(1).unwrap();
    block.trim().as_bytes().to_vec()
}

#[test]
fn recorded_errors_classify() {
    let a = GeminiAdapter::studio();
    for case in ERRORS {
        let body = response_body(case.src);
        let e = a.classify_error(case.status, &http::HeaderMap::new(), &body);
        assert_eq!(e.class, case.class, "{:?}", case.src);
        assert_eq!(e.status, Some(case.status));
        assert_eq!(e.kind.as_deref(), Some(case.kind));
        assert_eq!(e.code.as_deref(), Some(case.status.to_string().as_str()));
        assert!(e.message.starts_with(case.message_starts), "{}", e.message);
        assert_eq!(e.retry_after_ms, case.retry_after_ms);
    }
    // The recorded status line of the cassettes agrees.
    let i = interaction(
        "gemini/pydanticai_vertex_generateContent_then_400_INVALID_ARGUMENT.yaml",
        2,
    );
    assert_eq!(i["response"]["status"]["code"], 400);

    let body = quoted_503();
    let e = a.classify_error(503, &http::HeaderMap::new(), &body);
    assert_eq!(e.class, ErrorClass::Server);
    assert_eq!(
        e.message,
        "The model is overloaded. Please try again later."
    );
    assert_eq!(e.kind.as_deref(), Some("UNAVAILABLE"));
}

#[test]
fn errors_inside_streams() {
    // Pretty-printed JSON with no `data:` (as Google writes it), after a good chunk;
    // the body ends without a blank line.
    let mut body = stream_body(Source::Cassette(
        "gemini/pydanticai_test_google_model_stream.yaml",
        0,
    ));
    let first_event_end = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    body.truncate(first_event_end);
    body.extend_from_slice(&quoted_503());
    body.push(b'\n');
    let (results, done) = decode_stream(&body, &[]);
    assert!(!done);
    assert_eq!(results.len(), 2);
    assert!(results[0].as_ref().is_ok_and(|c| !c.is_empty()));
    let e = results[1].as_ref().unwrap_err();
    assert_eq!((e.class, e.status), (ErrorClass::Server, None));
    assert_eq!(
        e.message,
        "The model is overloaded. Please try again later."
    );

    // As a `data:` event, and wrapped in an array.
    for data in [
        fixture("gemini/vercel_error_429_resource_exhausted.json"),
        br#"[{"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}]"#.to_vec(),
    ] {
        let compact: Value = serde_json::from_slice(&data).unwrap();
        let framed = format!("data: {compact}\r\n\r\n");
        let (results, _) = decode_stream(framed.as_bytes(), &[]);
        let e = results[0].as_ref().unwrap_err();
        assert!(matches!(
            e.class,
            ErrorClass::RateLimit | ErrorClass::BadRequest
        ));
        if e.class == ErrorClass::RateLimit {
            assert_eq!(e.retry_after_ms, Some(34_400));
        }
    }
    let (results, _) = decode_stream(b"data: {not json\r\n\r\n", &[]);
    assert_eq!(results[0].as_ref().unwrap_err().class, ErrorClass::Server);
}

// ---- requests, against those the real clients sent --------------------------------

/// The request of a cassette interaction, with the Python SDK's snake_case keys in
/// camelCase and signatures in the standard base64 alphabet (the SDK writes bytes
/// URL-safe; Google reads both).
fn recorded_request(rel: &str, i: usize) -> Value {
    fn camel(k: &str) -> &str {
        // Only the SDK's own field names: arguments and results are the caller's data.
        match k {
            "function_call" => "functionCall",
            "function_response" => "functionResponse",
            "thought_signature" => "thoughtSignature",
            "parameters_json_schema" => "parametersJsonSchema",
            "file_data" => "fileData",
            "file_uri" => "fileUri",
            "inline_data" => "inlineData",
            "mime_type" => "mimeType",
            other => other,
        }
    }
    fn norm(v: &Value) -> Value {
        match v {
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| {
                        let k = camel(k).to_string();
                        let v = match (k.as_str(), v) {
                            ("thoughtSignature", Value::String(s)) => {
                                Value::String(s.replace('-', "+").replace('_', "/"))
                            }
                            _ => norm(v),
                        };
                        (k, v)
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
            other => other.clone(),
        }
    }
    norm(&interaction(rel, i)["request"]["parsed_body"])
}

fn encode(req: &ChatRequest, model: &str, studio: bool) -> Value {
    let body = encode_request(
        req,
        &Options {
            model,
            send_call_ids: studio,
        },
    )
    .unwrap();
    serde_json::from_slice(&body).unwrap()
}

fn assistant_calls(calls: Vec<ToolCall>) -> Message {
    Message {
        tool_calls: calls,
        ..Message::text(Role::Assistant, "")
    }
}

fn tool_result(id: &str, text: &str) -> Message {
    Message {
        tool_call_id: Some(id.into()),
        ..Message::text(Role::Tool, text)
    }
}

#[test]
fn request_matches_pydantic_ai_tool_loop() {
    let rel = "gemini/pydanticai_test_google_tool_output.yaml";
    let want = recorded_request(rel, 1);
    let req = ChatRequest {
        messages: vec![
            Message::text(Role::User, "What is the largest city in the user country?"),
            assistant_calls(vec![ToolCall {
                id: "pyd_ai_3fa5644dae1d4aad997ae39c70006fbd".into(),
                name: "get_user_country".into(),
                arguments: "{}".into(),
            }]),
            tool_result(
                "pyd_ai_3fa5644dae1d4aad997ae39c70006fbd",
                r#"{"return_value": "Mexico"}"#,
            ),
        ],
        ..ChatRequest::default()
    };
    let got = encode(&req, "gemini-2.0-flash", true);
    assert_eq!(got["contents"], want["contents"]);
}

#[test]
fn request_matches_pydantic_ai_streamed_tool_loop() {
    let rel = "gemini/pydanticai_test_google_model_iter_stream.yaml";
    let want = recorded_request(rel, 2);
    let mut messages = vec![
        Message::text(Role::System, "You are a helpful chatbot."),
        Message::text(
            Role::User,
            "What is the temperature of the capital of France?",
        ),
    ];
    for (id, name, args, result) in [
        (
            "pyd_ai_0e1a07b3c2b64d2ab3ad2efbe18e1b97",
            "get_capital",
            r#"{"country":"France"}"#,
            r#"{"return_value":"Paris"}"#,
        ),
        (
            "pyd_ai_98b25d994c5648df82f683188629229d",
            "get_temperature",
            r#"{"city":"Paris"}"#,
            r#"{"return_value":"30°C"}"#,
        ),
    ] {
        messages.push(assistant_calls(vec![ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: args.into(),
        }]));
        messages.push(tool_result(id, result));
    }
    let got = encode(
        &ChatRequest {
            messages,
            ..ChatRequest::default()
        },
        "gemini-2.0-flash",
        true,
    );
    assert_eq!(got["contents"], want["contents"]);
    // pydantic-ai also writes `role: user` on the instruction, which Gemini ignores.
    assert_eq!(
        got["systemInstruction"]["parts"],
        want["systemInstruction"]["parts"]
    );
}

#[test]
fn request_matches_pydantic_ai_simple_stream() {
    let want = recorded_request("gemini/pydanticai_test_google_model_stream.yaml", 0);
    let req = ChatRequest {
        messages: vec![
            Message::text(Role::System, "You are a helpful chatbot."),
            Message::text(Role::User, "What is the capital of France?"),
        ],
        temperature: Some(0.0),
        stream: true,
        ..ChatRequest::default()
    };
    let got = encode(&req, "gemini-2.0-flash-exp", true);
    assert_eq!(got["contents"], want["contents"]);
    assert_eq!(got["generationConfig"], want["generationConfig"]);
    let up = GeminiAdapter::studio()
        .build_request(
            &req,
            &Target {
                base_url: super::STUDIO_BASE_URL,
                api_key: Some("k"),
                organization: None,
                upstream_model: "gemini-2.0-flash-exp",
            },
        )
        .unwrap();
    assert_eq!(
        up.url,
        interaction("gemini/pydanticai_test_google_model_stream.yaml", 0)["request"]["uri"]
    );

    let want = recorded_request(
        "gemini/pydanticai_test_google_model_max_tokens_thinking_model_empty_response.yaml",
        0,
    );
    let req = ChatRequest {
        max_tokens: Some(5),
        ..req
    };
    let got = encode(&req, "gemini-2.5-pro", true);
    assert_eq!(
        got["generationConfig"]["maxOutputTokens"],
        want["generationConfig"]["maxOutputTokens"]
    );
}

/// A Gemini 3 tool loop: the streamed call's signature rides in the id the client
/// saw and comes back on the `functionCall` part of the next request, as the
/// recorded follow-up has it.
#[test]
fn thought_signature_round_trips_through_the_client() {
    let rel = "gemini/pydanticai_test_google_streaming_tool_call_thought_signature.yaml";
    let out = decode_ok(Source::Cassette(rel, 0));
    let calls = assembled_calls(&out);
    let (id, name, args) = calls[0].clone();
    let want = recorded_request(rel, 1);
    let req = ChatRequest {
        messages: vec![
            Message::text(
                Role::User,
                "What is the capital of the user country? Call the tool",
            ),
            assistant_calls(vec![ToolCall {
                id: id.clone(),
                name,
                arguments: args,
            }]),
            tool_result(&id, r#"{"return_value":"Mexico"}"#),
        ],
        tools: vec![Tool {
            name: "get_country".into(),
            description: Some(String::new()),
            parameters: Some(
                json!({"additionalProperties": false, "properties": {}, "type": "object"}),
            ),
            strict: None,
        }],
        ..ChatRequest::default()
    };
    let mut got = encode(&req, "gemini-3-pro-preview", true);
    // The ids differ (pydantic-ai makes its own); the rest is the same.
    let mut want_contents = want["contents"].clone();
    for v in [&mut got["contents"], &mut want_contents] {
        v[1]["parts"][0]["functionCall"]["id"] = json!("x");
        v[2]["parts"][0]["functionResponse"]["id"] = json!("x");
    }
    assert_eq!(got["contents"], want_contents);
    // Byte for byte the signature Gemini streamed.
    let streamed = &recorded_chunks(Source::Cassette(rel, 0))[0];
    assert_eq!(
        got["contents"][1]["parts"][0]["thoughtSignature"],
        streamed["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    );
    assert_eq!(got["tools"], want["tools"]);
}

#[test]
fn request_matches_vertex_tool_loop() {
    let rel = "gemini/pydanticai_vertex_generateContent_then_400_INVALID_ARGUMENT.yaml";
    let first = parse(Source::Cassette(rel, 0));
    let call = first.choices[0].message.tool_calls[0].clone();
    let want_first = recorded_request(rel, 0);
    let want = recorded_request(rel, 1);
    let error_text = want["contents"][2]["parts"][0]["functionResponse"]["response"]["error"]
        .as_str()
        .unwrap();
    let tools = vec![Tool {
        name: "get_file".into(),
        description: Some(String::new()),
        parameters: Some(
            json!({"additionalProperties": false, "properties": {}, "type": "object"}),
        ),
        strict: None,
    }];
    let req = ChatRequest {
        messages: vec![
            Message::text(
                Role::User,
                "Use the get_file tool now to retrieve a image file, then describe what you received.",
            ),
            assistant_calls(vec![call.clone()]),
            tool_result(&call.id, &json!({ "error": error_text }).to_string()),
        ],
        tools,
        ..ChatRequest::default()
    };
    // Vertex v1: no ids on calls and results.
    let got = encode(&req, "gemini-3-flash-preview", false);
    let mut want_contents = want["contents"].clone();
    for (c, key) in [(1, "functionCall"), (2, "functionResponse")] {
        want_contents[c]["parts"][0][key]
            .as_object_mut()
            .unwrap()
            .remove("id");
    }
    assert_eq!(got["contents"], want_contents);
    assert_eq!(got["tools"], want_first["tools"]);
}

#[test]
fn reasoning_effort_on_a_recorded_thinking_request() {
    let want = recorded_request(
        "gemini/pydanticai_test_google_model_thinking_part_iter.yaml",
        0,
    );
    let req = ChatRequest {
        messages: vec![
            Message::text(Role::System, "You are a helpful assistant."),
            Message::text(Role::User, "How do I cross the street?"),
        ],
        reasoning_effort: Some(ReasoningEffort::Medium),
        ..ChatRequest::default()
    };
    let got = encode(&req, "gemini-2.5-pro", true);
    assert_eq!(got["contents"], want["contents"]);
    assert_eq!(
        got["generationConfig"]["thinkingConfig"]["includeThoughts"],
        want["generationConfig"]["thinkingConfig"]["includeThoughts"]
    );
    assert_eq!(
        got["generationConfig"]["thinkingConfig"]["thinkingBudget"],
        8192
    );
}

// ---- the stream decoder under arbitrary input ---------------------------------------

/// Recorded streams for the split test: CRLF framing, partial arguments, thoughts.
const SPLIT_STREAMS: &[Source] = &[
    Source::Jsonl("gemini/vercel_vertex_stream_partial_function_args.chunks.jsonl"),
    Source::Cassette(
        "gemini/pydanticai_test_google_model_thinking_part_iter.yaml",
        0,
    ),
    Source::Cassette(
        "gemini/pydanticai_test_google_streaming_tool_call_thought_signature.yaml",
        0,
    ),
    Source::Cassette("gemini/pydanticai_test_google_model_iter_stream.yaml", 2),
];

fn flatten(results: Vec<Result<Vec<ChatChunk>, UpstreamError>>) -> Vec<ChatChunk> {
    results.into_iter().flat_map(Result::unwrap).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        cuts in proptest::collection::vec(0usize..2048, 0..16),
    ) {
        let _ = decode_stream(&body, &cuts);
    }

    #[test]
    fn arbitrary_json_like_input_never_panics(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just("data: ".to_string()),
                Just("\r\n\r\n".to_string()),
                Just("\n\n".to_string()),
                Just(r#"{"candidates":[{"index":1,"content":{"parts":["#.to_string()),
                Just(r#"{"functionCall":{"name":"f","willContinue":true}}"#.to_string()),
                Just(r#"{"functionCall":{"partialArgs":[{"jsonPath":"$.a[3].b","stringValue":"x","willContinue":true}],"willContinue":true}}"#.to_string()),
                Just(r#"{"functionCall":{}}"#.to_string()),
                Just(r#"{"text":"t","thought":true,"thoughtSignature":"c2ln"}"#.to_string()),
                Just(r#"]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1}}"#.to_string()),
                Just(r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#.to_string()),
                Just(r#"{"error":{"code":503}}"#.to_string()),
                Just(",".to_string()),
                "[ -~]{0,12}",
            ],
            0..40,
        ),
        cuts in proptest::collection::vec(0usize..4096, 0..16),
    ) {
        let _ = decode_stream(pieces.concat().as_bytes(), &cuts);
    }

    #[test]
    fn recorded_streams_split_anywhere_decode_the_same(
        which in 0..SPLIT_STREAMS.len(),
        cuts in proptest::collection::vec(0usize..20_000, 0..24),
    ) {
        let body = stream_body(SPLIT_STREAMS[which]);
        let (whole, whole_done) = decode_stream(&body, &[]);
        let (split, split_done) = decode_stream(&body, &cuts);
        prop_assert!(whole_done && split_done);
        prop_assert_eq!(flatten(split), flatten(whole));
    }
}
