//! Reading usage out of OpenAI-format responses and stream chunks without decoding
//! the rest of them.

use crate::canonical::Usage;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek reports cache hits here instead of `prompt_tokens_details`.
    #[serde(default)]
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
    /// Some OpenAI-compatible hosts report prompt-cache writes here.
    #[serde(default)]
    cache_write_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(w: WireUsage) -> Usage {
        let cached = w
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .or(w.prompt_cache_hit_tokens)
            .unwrap_or(0);
        Usage {
            prompt_tokens: w.prompt_tokens,
            completion_tokens: w.completion_tokens,
            total_tokens: if w.total_tokens > 0 {
                w.total_tokens
            } else {
                w.prompt_tokens + w.completion_tokens
            },
            cached_tokens: cached,
            cache_write_tokens: w
                .prompt_tokens_details
                .and_then(|d| d.cache_write_tokens)
                .unwrap_or(0),
            reasoning_tokens: w
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        }
    }
}

#[derive(Deserialize)]
struct WithUsage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// Usage of a non-streamed response body (`None` if it has none).
///
/// OpenAI-format bodies end with the usage object, so it is looked up from the end and
/// only that object is decoded; a quote inside a JSON string is always escaped, so the
/// bytes `"usage"` can only be a key. Anything unexpected falls back to a full decode.
pub fn response_usage(body: &[u8]) -> Option<Usage> {
    if let Some(start) = last_usage_object(body) {
        let mut de = serde_json::Deserializer::from_slice(&body[start..]);
        if let Ok(w) = <WireUsage as serde::Deserialize>::deserialize(&mut de) {
            return Some(w.into());
        }
    }
    serde_json::from_slice::<WithUsage>(body)
        .ok()?
        .usage
        .map(Usage::from)
}

const USAGE_KEY: &[u8] = b"\"usage\"";

/// If the `"usage"` key at `key_at` introduces an object, the offset of its `{`.
fn object_after_key(data: &[u8], key_at: usize) -> Option<usize> {
    let skip_ws = |mut i: usize| {
        while data.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let colon = skip_ws(key_at + USAGE_KEY.len());
    if data.get(colon) != Some(&b':') {
        return None;
    }
    let value = skip_ws(colon + 1);
    (data.get(value) == Some(&b'{')).then_some(value)
}

/// Offset of the `{` of the last `"usage": {…}` in `data`.
fn last_usage_object(data: &[u8]) -> Option<usize> {
    let finder = memchr::memmem::FinderRev::new(USAGE_KEY);
    let mut end = data.len();
    while let Some(pos) = finder.rfind(&data[..end]) {
        if let Some(obj) = object_after_key(data, pos) {
            return Some(obj);
        }
        end = pos;
    }
    None
}

/// Whether a chunk's JSON carries a usage object (not `"usage": null`), found by a byte
/// scan so that the common chunk is not decoded at all.
pub fn has_usage_object(data: &[u8]) -> bool {
    memchr::memmem::find_iter(data, USAGE_KEY).any(|pos| object_after_key(data, pos).is_some())
}

#[derive(Deserialize)]
struct UsageChunk {
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    choices: Option<Vec<serde::de::IgnoredAny>>,
}

/// Usage in a stream chunk, and whether the chunk is the usage-only trailer
/// (`"choices": []`) that OpenAI sends when `include_usage` is on.
pub fn chunk_usage(data: &[u8]) -> Option<(Usage, bool)> {
    if !has_usage_object(data) {
        return None;
    }
    let chunk: UsageChunk = serde_json::from_slice(data).ok()?;
    let usage = chunk.usage?;
    let trailer = chunk.choices.is_none_or(|c| c.is_empty());
    Some((usage.into(), trailer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_usage_with_details() {
        let body = br#"{"id":"x","usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}"#;
        let u = response_usage(body).unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (10, 5, 15)
        );
        assert_eq!((u.cached_tokens, u.reasoning_tokens), (4, 2));
    }

    #[test]
    fn usage_found_from_the_end_and_by_full_parse() {
        let body = br#"{"choices":[{"message":{"content":"the \"usage\": {\"prompt_tokens\": 99} text"}}],"usage": {"prompt_tokens":2,"completion_tokens":3}, "system_fingerprint":"x"}"#;
        let u = response_usage(body).unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (2, 3, 5)
        );
        assert!(response_usage(br#"{"choices":[],"usage":null}"#).is_none());
        assert!(response_usage(b"not json").is_none());
    }

    #[test]
    fn recorded_response_usage() {
        let body = crate::test_support::fixture("openai/vercel_chat_nonstream_text.json");
        let u = response_usage(&body).unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (16, 363, 379)
        );
    }

    #[test]
    fn deepseek_cache_hits() {
        let body =
            br#"{"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_cache_hit_tokens":8}}"#;
        let u = response_usage(body).unwrap();
        assert_eq!((u.cached_tokens, u.total_tokens), (8, 15));
    }

    #[test]
    fn stream_usage_detection() {
        assert!(!has_usage_object(br#"{"choices":[],"usage":null}"#));
        assert!(has_usage_object(
            br#"{"choices":[],"usage" : {"prompt_tokens":1}}"#
        ));
        assert!(!has_usage_object(br#"{"content":"\"usage\" is a word"}"#));
        let (u, trailer) = chunk_usage(
            br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
        )
        .unwrap();
        assert!(trailer);
        assert_eq!(u.total_tokens, 7);
        let (_, trailer) =
            chunk_usage(br#"{"choices":[{"index":0,"delta":{}}],"usage":{"prompt_tokens":3}}"#)
                .unwrap();
        assert!(!trailer);
        assert!(chunk_usage(br#"{"choices":[],"usage":null}"#).is_none());
    }
}
