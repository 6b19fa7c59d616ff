//! Properties of the Responses stream encoder over arbitrary chunk sequences: it never
//! panics, the events are well formed (numbered, every item added once and done once,
//! deltas only for open items, one terminal event), what it stores is what it sent,
//! reads back as a conversation, and holds all the text and arguments it was given.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::canonical::{ChatChunk, FinishReason, Usage};
use crate::sse::{parse_event, SseSplitter};
use proptest::prelude::*;
use serde_json::Value;

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("a".to_string()),
        Just("héllo ".to_string()),
        Just("{\"k\":".to_string()),
        Just("\"v\"}".to_string()),
        Just("\n".to_string()),
    ]
}

fn chunk() -> impl Strategy<Value = ChatChunk> {
    let reason = prop_oneof![
        Just(FinishReason::Stop),
        Just(FinishReason::Length),
        Just(FinishReason::ToolCalls),
        Just(FinishReason::ContentFilter),
    ];
    prop_oneof![
        Just(ChatChunk::Start {
            id: "up".into(),
            model: "m".into(),
            created: 1,
            system_fingerprint: None,
        }),
        (0..2u32, word()).prop_map(|(index, text)| ChatChunk::Text { index, text }),
        word().prop_map(|text| ChatChunk::Refusal { index: 0, text }),
        (word(), prop::option::of(Just("sig".to_string()))).prop_map(|(text, signature)| {
            ChatChunk::Thinking {
                index: 0,
                text,
                signature,
            }
        }),
        (0..3u32, any::<bool>(), any::<bool>(), word()).prop_map(
            |(call_index, with_id, with_name, arguments)| ChatChunk::ToolCall {
                index: 0,
                call_index,
                id: with_id.then(|| format!("call_{call_index}")),
                name: with_name.then(|| format!("f{call_index}")),
                arguments,
            }
        ),
        reason.prop_map(|reason| ChatChunk::Finish {
            index: 0,
            reason,
            raw_reason: None,
        }),
        (0..100u64, 0..100u64).prop_map(|(p, c)| ChatChunk::Usage(Usage {
            prompt_tokens: p,
            completion_tokens: c,
            total_tokens: p + c,
            ..Usage::default()
        })),
    ]
}

fn events(frames: &[bytes::Bytes]) -> Vec<Value> {
    let mut split = SseSplitter::new();
    let mut raw = Vec::new();
    for f in frames {
        split.push(f.clone(), &mut raw);
    }
    assert!(split.take_rest().is_none());
    raw.iter()
        .map(|r| {
            let e = parse_event(r);
            let v: Value = serde_json::from_slice(&e.data).unwrap();
            assert_eq!(Some(v["type"].as_str().unwrap()), e.event);
            v
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_chunks_make_a_well_formed_stream(chunks in prop::collection::vec(chunk(), 0..40), fail in any::<bool>()) {
        let mut enc = ResponsesStreamEncoder::new(ResponseMeta {
            id: "resp_z".into(),
            model: "m".into(),
            ..ResponseMeta::default()
        });
        let mut frames = Vec::new();
        for c in &chunks {
            frames.extend(enc.encode(c));
        }
        frames.extend(if fail { enc.fail("server_error", "boom") } else { enc.finish() });
        prop_assert!(enc.finish().is_empty());
        let ev = events(&frames);

        // Numbered from 0; begins in progress; ends once.
        for (n, e) in ev.iter().enumerate() {
            prop_assert_eq!(&e["sequence_number"], &Value::from(n));
        }
        prop_assert_eq!(&ev[0]["type"], "response.created");
        prop_assert_eq!(&ev[1]["type"], "response.in_progress");
        let last = ev.last().unwrap();
        let terminal = ["response.completed", "response.incomplete", "response.failed"];
        prop_assert!(terminal.contains(&last["type"].as_str().unwrap()));
        prop_assert_eq!(
            ev.iter().filter(|e| terminal.contains(&e["type"].as_str().unwrap())).count(),
            1
        );

        // Items: added in index order, done once each, deltas only while open.
        let mut added: Vec<String> = Vec::new();
        let mut done: Vec<Option<Value>> = Vec::new();
        let mut text = String::new();
        let mut args: Vec<String> = Vec::new();
        for e in &ev {
            let index = e["output_index"].as_u64().map(|i| i as usize);
            match e["type"].as_str().unwrap() {
                "response.output_item.added" => {
                    prop_assert_eq!(index, Some(added.len()));
                    added.push(e["item"]["id"].as_str().unwrap().to_string());
                    done.push(None);
                    args.push(String::new());
                }
                "response.output_item.done" => {
                    let i = index.unwrap();
                    prop_assert!(done[i].is_none(), "done twice: {}", e);
                    prop_assert_eq!(e["item"]["id"].as_str(), Some(added[i].as_str()));
                    done[i] = Some(e["item"].clone());
                }
                t if t.ends_with(".delta") || t.ends_with(".done") || t.ends_with(".added") => {
                    let i = index.unwrap();
                    prop_assert!(done[i].is_none(), "event after the item's end: {}", e);
                    prop_assert_eq!(e["item_id"].as_str(), Some(added[i].as_str()));
                    if t == "response.output_text.delta" {
                        text.push_str(e["delta"].as_str().unwrap());
                    }
                    if t == "response.function_call_arguments.delta" {
                        args[i].push_str(e["delta"].as_str().unwrap());
                    }
                }
                _ => {}
            }
        }
        let response = &last["response"];
        let output = response["output"].as_array().unwrap();
        prop_assert_eq!(&enc.output_items(), output);
        if fail {
            // Items still open at the failure are stored without their `done` event.
            prop_assert_eq!(output.len(), added.len());
            prop_assert_eq!(&response["status"], "failed");
        } else {
            prop_assert!(done.iter().all(Option::is_some));
            let finished: Vec<Value> = done.into_iter().flatten().collect();
            prop_assert_eq!(output, &finished);
            let (status, reason) = match response["incomplete_details"]["reason"].as_str() {
                Some(r) => ("incomplete", Some(r)),
                None => ("completed", None),
            };
            prop_assert_eq!(&response["status"], status);
            prop_assert_eq!(last["type"].as_str().unwrap(), format!("response.{status}"));
            let finish = chunks.iter().rev().find_map(|c| match c {
                ChatChunk::Finish { index: 0, reason, .. } => Some(*reason),
                _ => None,
            });
            prop_assert_eq!(reason, response::incomplete_reason(finish));
        }

        // All of choice 0's text, in order; every call's arguments, whole.
        let want: String = chunks
            .iter()
            .filter_map(|c| match c {
                ChatChunk::Text { index: 0, text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        prop_assert_eq!(text, want);
        for (item, a) in output.iter().zip(&args) {
            if item["type"] == "function_call" {
                prop_assert_eq!(item["arguments"].as_str(), Some(a.as_str()));
            }
        }
        // What is stored reads back as a conversation.
        if !output.is_empty() {
            let req = decode_request(br#"{"model": "m", "input": "next"}"#).unwrap();
            prop_assert!(to_canonical(&req, output).is_ok());
        }
    }
}
