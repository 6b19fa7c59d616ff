//! Properties of the stream decoder behind the SSE framing layer: it never panics,
//! whatever the bytes and wherever the network cuts them, and a recorded stream
//! decodes to the same chunks however it is cut.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::golden_tests::recorded_streams;
use super::AnthropicStreamDecoder;
use crate::adapter::{StreamDecoder, StreamEvent};
use crate::canonical::ChatChunk;
use crate::error::UpstreamError;
use crate::sse::{parse_event, SseSplitter};
use bytes::Bytes;
use proptest::prelude::*;
use std::sync::OnceLock;

type Step = Result<Vec<ChatChunk>, UpstreamError>;

/// Cuts `body` at `cuts` (any offsets; out-of-range ones are clamped).
fn pieces(body: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    at.sort_unstable();
    at.dedup();
    let mut out = Vec::new();
    let mut from = 0;
    for c in at.into_iter().chain([body.len()]) {
        out.push(Bytes::copy_from_slice(&body[from..c]));
        from = c;
    }
    out
}

/// What the transport does: splits, parses and decodes every event as it completes,
/// the unterminated tail at the end, and stops at the first error.
fn decode(chunks: Vec<Bytes>) -> Vec<Step> {
    let mut split = SseSplitter::new();
    let mut d = AnthropicStreamDecoder::new();
    let mut out = Vec::new();
    let mut events = Vec::new();
    for c in chunks {
        split.push(c, &mut events);
        for raw in events.drain(..) {
            let step = d.on_event(StreamEvent::Sse(&parse_event(&raw)));
            let failed = step.is_err();
            out.push(step.map(normalise_any));
            if failed {
                return out;
            }
        }
    }
    if let Some(rest) = split.take_rest() {
        out.push(
            d.on_event(StreamEvent::Sse(&parse_event(&rest)))
                .map(normalise_any),
        );
    }
    let _ = d.is_done();
    out
}

/// Like `golden_tests::normalise`, without its check that `created` is the clock (a garbled
/// stream may start with anything).
fn normalise_any(mut chunks: Vec<ChatChunk>) -> Vec<ChatChunk> {
    for c in &mut chunks {
        if let ChatChunk::Start { created, .. } = c {
            *created = 0;
        }
    }
    chunks
}

/// The chunks of a stream, flattened, as one comparable list (errors included).
fn flat(steps: Vec<Step>) -> Vec<Step> {
    let mut out = Vec::new();
    let mut chunks = Vec::new();
    for s in steps {
        match s {
            Ok(c) => chunks.extend(c),
            Err(e) => {
                out.push(Ok(std::mem::take(&mut chunks)));
                out.push(Err(e));
            }
        }
    }
    out.push(Ok(chunks));
    out
}

fn streams() -> &'static [Vec<u8>] {
    static STREAMS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    STREAMS.get_or_init(recorded_streams)
}

/// Events made of the pieces a decoder cares about, in any order and combination.
fn event_soup() -> impl Strategy<Value = Vec<u8>> {
    let kinds = prop_oneof![
        Just("message_start"),
        Just("content_block_start"),
        Just("content_block_delta"),
        Just("content_block_stop"),
        Just("message_delta"),
        Just("message_stop"),
        Just("ping"),
        Just("error"),
        Just("unknown"),
    ];
    let blocks = prop_oneof![
        Just(r#"{"type":"text","text":"hi"}"#),
        Just(r#"{"type":"thinking","thinking":"","signature":""}"#),
        Just(r#"{"type":"redacted_thinking","data":"x"}"#),
        Just(r#"{"type":"tool_use","id":"t","name":"f","input":{}}"#),
        Just(r#"{"type":"tool_use","id":"t","name":"f","input":{"a":1}}"#),
        Just(r#"{"type":"tool_use","id":"t","name":"json_response","input":{}}"#),
        Just(r#"{"type":"server_tool_use","id":"s","name":"web_search","input":{}}"#),
        Just(r#"{"type":"text"}"#),
        Just(r#"{}"#),
        Just(r#"7"#),
    ];
    let deltas = prop_oneof![
        Just(r#"{"type":"text_delta","text":"a"}"#),
        Just(r#"{"type":"thinking_delta","thinking":"b"}"#),
        Just(r#"{"type":"signature_delta","signature":"s"}"#),
        Just(r#"{"type":"input_json_delta","partial_json":"{\"q\":"}"#),
        Just(r#"{"type":"input_json_delta","partial_json":""}"#),
        Just(r#"{"type":"citations_delta","citation":{}}"#),
        Just(r#"{"stop_reason":"tool_use"}"#),
        Just(r#"{"stop_reason":"max_tokens","stop_sequence":null}"#),
        Just(r#"{"type":"text_delta","text":7}"#),
        Just(r#"null"#),
    ];
    let usage = prop_oneof![
        Just(r#"{"input_tokens":5,"output_tokens":3}"#),
        Just(
            r#"{"output_tokens":18446744073709551615,"cache_read_input_tokens":18446744073709551615}"#
        ),
        Just(r#"{"input_tokens":null}"#),
        Just(r#""x""#),
    ];
    let event = (kinds, 0u32..4, blocks, deltas, usage, any::<bool>()).prop_map(
        |(kind, index, block, delta, usage, named)| {
            let data = match kind {
                "message_start" => format!(
                    r#"{{"type":"{kind}","message":{{"id":"m","model":"c","usage":{usage}}}}}"#
                ),
                "content_block_start" => {
                    format!(r#"{{"type":"{kind}","index":{index},"content_block":{block}}}"#)
                }
                "content_block_delta" => {
                    format!(r#"{{"type":"{kind}","index":{index},"delta":{delta}}}"#)
                }
                "content_block_stop" => format!(r#"{{"type":"{kind}","index":{index} }}"#),
                "message_delta" => {
                    format!(r#"{{"type":"{kind}","delta":{delta},"usage":{usage}}}"#)
                }
                "error" => {
                    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
                        .to_string()
                }
                other => format!(r#"{{"type":"{other}"}}"#),
            };
            if named {
                format!("event: {kind}\ndata: {data}\n\n")
            } else {
                format!("data: {data}\n\n")
            }
        },
    );
    proptest::collection::vec(event, 0..24).prop_map(|e| e.concat().into_bytes())
}

/// A recorded stream with bytes replaced, inserted or removed.
fn garbled_recording() -> impl Strategy<Value = Vec<u8>> {
    let edits = proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..12);
    (0..streams().len(), edits).prop_map(|(i, edits)| {
        let mut body = streams()[i].clone();
        for (at, byte, op) in edits {
            let at = at % (body.len() + 1);
            match op {
                0 if at < body.len() => body[at] = byte,
                1 => body.insert(at, byte),
                _ if at < body.len() => {
                    body.remove(at);
                }
                _ => {}
            }
        }
        body
    })
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(any::<usize>(), 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048), cuts in cuts()) {
        decode(pieces(&body, &cuts));
    }

    #[test]
    fn arbitrary_events_never_panic(body in event_soup(), cuts in cuts()) {
        let whole = flat(decode(pieces(&body, &[])));
        // Whole or cut, the same events give the same chunks.
        prop_assert_eq!(flat(decode(pieces(&body, &cuts))), whole);
    }

    #[test]
    fn garbled_recordings_never_panic(body in garbled_recording(), cuts in cuts()) {
        decode(pieces(&body, &cuts));
    }

    #[test]
    fn recordings_decode_the_same_however_cut(i in 0..streams().len(), cuts in cuts()) {
        let body = &streams()[i];
        let whole = flat(decode(pieces(body, &[])));
        prop_assert!(whole.iter().all(Result::is_ok));
        prop_assert_eq!(flat(decode(pieces(body, &cuts))), whole);
    }
}

/// The extreme cut: one byte at a time, every recording.
#[test]
fn recordings_decode_the_same_byte_by_byte() {
    for body in streams() {
        let whole = flat(decode(pieces(body, &[])));
        let singles: Vec<usize> = (1..body.len()).collect();
        assert_eq!(flat(decode(pieces(body, &singles))), whole);
        // And the same as the golden tests' own feeding.
        let (events, _, _) = super::golden_tests::decode_stream(body);
        let golden: Vec<ChatChunk> = events.into_iter().flatten().collect();
        assert_eq!(whole, vec![Ok(golden)]);
    }
}
