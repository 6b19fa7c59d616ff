//! Properties of the OpenAI stream decoder behind the SSE splitter: arbitrary bytes cut
//! anywhere never panic, and a recorded stream decodes to the same chunks however it is
//! cut into network reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::OpenAiStreamDecoder;
use crate::adapter::{StreamDecoder, StreamEvent};
use crate::canonical::ChatChunk;
use crate::sse::{parse_event, SseSplitter};
use crate::test_support::fixture;
use bytes::Bytes;
use proptest::prelude::*;

/// Feeds `body` cut at `cuts` (offsets, any order, out-of-range ignored); returns the
/// chunks, or the first in-stream error's message.
fn decode(body: &[u8], cuts: &[usize]) -> Result<Vec<ChatChunk>, String> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.push(0);
    points.push(body.len());
    points.sort_unstable();
    points.dedup();
    let mut splitter = SseSplitter::new();
    let mut decoder = OpenAiStreamDecoder::new();
    let mut out = Vec::new();
    for w in points.windows(2) {
        let mut events = Vec::new();
        splitter.push(Bytes::copy_from_slice(&body[w[0]..w[1]]), &mut events);
        for raw in events {
            let chunks = decoder
                .on_event(StreamEvent::Sse(&parse_event(&raw)))
                .map_err(|e| e.message)?;
            out.extend(chunks);
        }
    }
    if let Some(rest) = splitter.take_rest() {
        out.extend(
            decoder
                .on_event(StreamEvent::Sse(&parse_event(&rest)))
                .map_err(|e| e.message)?,
        );
    }
    Ok(out)
}

/// The recorded OpenAI and Azure streams, as raw SSE bodies.
fn recordings() -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    for rel in [
        "openai/vercel_chat_stream_text_usage.chunks.jsonl",
        "azure/vercel_azure_chat_stream_content_filter.chunks.jsonl",
    ] {
        let mut body = Vec::new();
        for line in fixture(rel)
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            body.extend_from_slice(b"data: ");
            body.extend_from_slice(line);
            body.extend_from_slice(b"\n\n");
        }
        body.extend_from_slice(b"data: [DONE]\n\n");
        bodies.push(body);
    }
    let doc: serde_json::Value = serde_yaml_ng::from_slice(&fixture(
        "openai/pydanticai_test_openai_moderation_stream.yaml",
    ))
    .unwrap();
    for i in doc["interactions"].as_array().unwrap() {
        if let Some(s) = i["response"]["body"]["string"].as_str() {
            bodies.push(s.as_bytes().to_vec());
        }
    }
    bodies
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_bytes_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let _ = decode(&body, &cuts);
    }

    #[test]
    fn sse_shaped_noise_never_panics(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":3}]}}]}".to_string()),
                Just("data: {\"choices\":[{\"index\":4294967295,\"delta\":{}}],\"usage\":{\"prompt_tokens\":18446744073709551615}}".to_string()),
                Just("data: [DONE]".to_string()),
                Just("event: error".to_string()),
                "data: [ -~]{0,40}",
                "[ -~]{0,20}",
                Just(String::new()),
            ],
            0..40,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let body = lines.join("\n");
        let _ = decode(body.as_bytes(), &cuts);
    }

    #[test]
    fn recordings_decode_the_same_however_cut(
        which in 0usize..3,
        cuts in proptest::collection::vec(any::<usize>(), 0..24),
    ) {
        let bodies = recordings();
        let body = &bodies[which % bodies.len()];
        let whole = decode(body, &[]).unwrap();
        prop_assert!(!whole.is_empty());
        prop_assert_eq!(decode(body, &cuts).unwrap(), whole);
    }
}
