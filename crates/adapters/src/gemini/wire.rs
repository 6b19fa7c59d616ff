//! `GenerateContentResponse` as Gemini writes it, for responses and stream chunks
//! alike (every stream chunk is a whole response), and what its fields mean in
//! canonical terms: finish reasons and usage.

use crate::canonical::{FinishReason, Usage};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

/// Why a body is not a `GenerateContentResponse`.
pub(crate) enum NotAResponse {
    /// It is a Google error (`{"error": …}`, or one wrapped in an array).
    Error,
    /// It is not readable at all.
    Invalid(String),
}

/// Reads a response (or stream chunk) body.
pub(crate) fn read_response(body: &[u8]) -> Result<WireResponse, NotAResponse> {
    let has_error = || memchr::memmem::find(body, b"\"error\"").is_some();
    // serde would read a struct from an array positionally: arrays are never responses.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(if has_error() {
            NotAResponse::Error
        } else {
            NotAResponse::Invalid("a JSON array where a response object was expected".into())
        });
    }
    match serde_json::from_slice::<WireResponse>(body) {
        Ok(w) if w.error.is_some() => Err(NotAResponse::Error),
        Ok(w) => Ok(w),
        Err(_) if has_error() => Err(NotAResponse::Error),
        Err(e) => Err(NotAResponse::Invalid(e.to_string())),
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct WireResponse {
    pub candidates: Option<Vec<WireCandidate>>,
    pub prompt_feedback: Option<WirePromptFeedback>,
    pub usage_metadata: Option<WireUsage>,
    pub model_version: Option<String>,
    pub response_id: Option<String>,
    /// Vertex only: when the response was made (RFC 3339).
    pub create_time: Option<String>,
    pub error: Option<IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct WireCandidate {
    /// Left out by some models when there is one candidate.
    pub index: Option<u32>,
    pub content: Option<WireContent>,
    pub finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct WireContent {
    /// Absent when the model produced nothing (e.g. `MAX_TOKENS` spent on thinking).
    pub parts: Option<Vec<WirePart>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct WirePart {
    pub text: Option<String>,
    /// The part is a thought (summary), not answer text.
    pub thought: Option<bool>,
    pub thought_signature: Option<String>,
    pub function_call: Option<WireFunctionCall>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct WireFunctionCall {
    pub id: Option<String>,
    pub name: Option<String>,
    pub args: Option<Value>,
    /// Vertex streamed arguments (`streamFunctionCallArguments`).
    pub partial_args: Option<Vec<WirePartialArg>>,
    /// Vertex: more of this call follows in later chunks.
    pub will_continue: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct WirePartialArg {
    /// RFC 9535 JSON path of the argument, e.g. `$.location` or `$.items[0].name`.
    pub json_path: Option<String>,
    pub string_value: Option<String>,
    pub number_value: Option<f64>,
    pub bool_value: Option<bool>,
    /// `"NULL_VALUE"` when the argument is null.
    pub null_value: Option<IgnoredAny>,
    /// More of this same string value follows in the next partial argument.
    pub will_continue: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct WirePromptFeedback {
    pub block_reason: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct WireUsage {
    pub prompt_token_count: Option<u64>,
    pub cached_content_token_count: Option<u64>,
    pub candidates_token_count: Option<u64>,
    pub tool_use_prompt_token_count: Option<u64>,
    pub thoughts_token_count: Option<u64>,
    pub total_token_count: Option<u64>,
}

impl WireUsage {
    /// Whether any count is present (Vertex streams send `{"trafficType": …}` alone
    /// on chunks that have no counts yet).
    pub fn has_counts(&self) -> bool {
        self.prompt_token_count.is_some()
            || self.cached_content_token_count.is_some()
            || self.candidates_token_count.is_some()
            || self.tool_use_prompt_token_count.is_some()
            || self.thoughts_token_count.is_some()
            || self.total_token_count.is_some()
    }

    /// Canonical usage. Gemini counts thoughts apart from `candidatesTokenCount`, and
    /// the prompt of tool use (e.g. search results) apart from `promptTokenCount`;
    /// `promptTokenCount` already includes cached tokens.
    pub fn to_usage(self) -> Usage {
        let n = |v: Option<u64>| v.unwrap_or(0);
        let prompt = n(self.prompt_token_count).saturating_add(n(self.tool_use_prompt_token_count));
        let reasoning = n(self.thoughts_token_count);
        let completion = n(self.candidates_token_count).saturating_add(reasoning);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: n(self.total_token_count).max(prompt.saturating_add(completion)),
            cached_tokens: n(self.cached_content_token_count),
            cache_write_tokens: 0,
            reasoning_tokens: reasoning,
        }
    }
}

/// The canonical finish reason of a candidate and the raw Gemini reason.
///
/// `STOP` means `tool_calls` when the candidate called functions (Gemini has no
/// reason of its own for it); every safety-like stop is `content_filter`; reasons
/// with no OpenAI counterpart (`MALFORMED_FUNCTION_CALL`, `OTHER`, …) are `stop`,
/// with Gemini's word kept in `raw_reason`.
pub(crate) fn finish_reason(raw: &str, has_calls: bool) -> (FinishReason, Option<String>) {
    let reason = match raw {
        "STOP" if has_calls => FinishReason::ToolCalls,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION"
        | "LANGUAGE" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    };
    (reason, reason.raw_reason(raw))
}

/// Seconds since the Unix epoch of an RFC 3339 UTC time such as
/// `2026-02-17T04:32:14.753059Z` (Vertex's `createTime`); `None` for anything else.
pub(crate) fn unix_seconds(time: &str) -> Option<u64> {
    let b = time.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = time.get(from..from + len)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, s) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    if !time.ends_with('Z') {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), after H. Hinnant's algorithm.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3_600 + mi * 60 + s).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons() {
        let f = |raw, calls| finish_reason(raw, calls);
        assert_eq!(f("STOP", false), (FinishReason::Stop, Some("STOP".into())));
        assert_eq!(
            f("STOP", true),
            (FinishReason::ToolCalls, Some("STOP".into()))
        );
        assert_eq!(f("MAX_TOKENS", true).0, FinishReason::Length);
        for r in [
            "SAFETY",
            "RECITATION",
            "BLOCKLIST",
            "PROHIBITED_CONTENT",
            "SPII",
            "IMAGE_SAFETY",
            "LANGUAGE",
        ] {
            assert_eq!(f(r, false).0, FinishReason::ContentFilter, "{r}");
        }
        assert_eq!(
            f("MALFORMED_FUNCTION_CALL", false),
            (FinishReason::Stop, Some("MALFORMED_FUNCTION_CALL".into()))
        );
        assert_eq!(f("OTHER", false).0, FinishReason::Stop);
    }

    #[test]
    fn usage_counts_thoughts_as_output() {
        let w = WireUsage {
            prompt_token_count: Some(100),
            cached_content_token_count: Some(60),
            candidates_token_count: Some(10),
            tool_use_prompt_token_count: Some(5),
            thoughts_token_count: Some(40),
            total_token_count: Some(155),
        };
        assert_eq!(
            w.to_usage(),
            Usage {
                prompt_tokens: 105,
                completion_tokens: 50,
                total_tokens: 155,
                cached_tokens: 60,
                cache_write_tokens: 0,
                reasoning_tokens: 40,
            }
        );
        // A total smaller than its parts (or none) is made whole.
        let w = WireUsage {
            prompt_token_count: Some(3),
            candidates_token_count: Some(4),
            ..WireUsage::default()
        };
        assert_eq!(w.to_usage().total_tokens, 7);
        assert!(w.has_counts());
        assert!(!WireUsage::default().has_counts());
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_seconds("2026-02-17T04:32:14.753059Z"),
            Some(1_771_302_734)
        );
        assert_eq!(unix_seconds("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(unix_seconds("2026-02-17T04:32:14+01:00"), None);
        assert_eq!(unix_seconds("yesterday"), None);
        assert_eq!(unix_seconds("2026-13-01T00:00:00Z"), None);
        assert_eq!(unix_seconds("1969-12-31T23:59:59Z"), None);
        assert_eq!(unix_seconds("2026-0é-17T04:32:14Z"), None);
    }
}
