//! Per-request behaviour of the mock: faults, delays, reply length.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};

/// How the mock answers one request.
///
/// Built from [`crate::MockConfig::defaults`], then overridden by path segments,
/// `x-mock-*` headers and a `"mock"` object in the request body.
#[derive(Clone, Debug, Default)]
pub struct Behavior {
    /// Fault: answer this HTTP status with an OpenAI-shaped error body.
    pub status: Option<u16>,
    /// `Retry-After` header value on the fault response.
    pub retry_after: Option<String>,
    /// `retry-after-ms` header on the fault response.
    pub retry_after_ms: Option<u64>,
    /// Apply `status` only to the first N requests on this path, then succeed.
    pub fail_times: Option<u64>,
    /// Override the fault's error message.
    pub error_message: Option<String>,
    /// Sleep before sending response headers.
    pub headers_delay: Duration,
    /// Time to first content token.
    pub ttft: Duration,
    /// Delay between content chunks.
    pub inter_token: Duration,
    /// Reply length in tokens (default 12), capped by the request's max tokens.
    pub tokens: Option<u32>,
    /// Streaming: abort the connection after this many content chunks.
    pub drop_after: Option<u32>,
    /// Streaming: end the stream with the format's in-stream error event of this kind,
    /// after `drop_after` content chunks (0 when unset) instead of aborting.
    pub stream_error: Option<StreamErrorKind>,
    /// Report this many prompt tokens as read from the cache (capped at the prompt size).
    pub cached_tokens: Option<u64>,
    /// Simulate a content filter hit on the prompt or on the completion.
    pub content_filter: Option<ContentFilter>,
    /// OpenAI format: usage on the finish chunk whether or not the client asked, as
    /// Mistral and Perplexity do (they reject `stream_options`).
    pub usage_on_finish: bool,
    /// `expires_in` of tokens minted by the fake OAuth2 token endpoint (default 3600).
    pub expires_in: Option<u64>,
}

/// Category of an in-stream error; each wire format names it in its own words
/// (e.g. `overloaded_error`, `UNAVAILABLE`, `serviceUnavailableException`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamErrorKind {
    /// Anthropic `overloaded_error`, Gemini 503 `UNAVAILABLE`, Bedrock `serviceUnavailableException`.
    Overloaded,
    /// Anthropic `rate_limit_error`, Gemini 429 `RESOURCE_EXHAUSTED`, Bedrock `throttlingException`.
    RateLimit,
    /// Anthropic `api_error`, Gemini 500 `INTERNAL`, Bedrock `internalServerException`.
    Server,
    /// Anthropic `invalid_request_error`, Gemini 400 `INVALID_ARGUMENT`, Bedrock `validationException`.
    InvalidRequest,
    /// Bedrock `modelStreamErrorException` (a server error elsewhere).
    ModelStream,
}

/// Every spelling accepted for `stream_error` (compared case-insensitively).
const STREAM_ERROR_NAMES: &[(&str, StreamErrorKind)] = &[
    ("overloaded", StreamErrorKind::Overloaded),
    ("overloaded_error", StreamErrorKind::Overloaded),
    ("unavailable", StreamErrorKind::Overloaded),
    ("service_unavailable", StreamErrorKind::Overloaded),
    ("serviceunavailableexception", StreamErrorKind::Overloaded),
    ("503", StreamErrorKind::Overloaded),
    ("529", StreamErrorKind::Overloaded),
    ("rate_limit", StreamErrorKind::RateLimit),
    ("rate_limit_error", StreamErrorKind::RateLimit),
    ("rate_limit_exceeded", StreamErrorKind::RateLimit),
    ("resource_exhausted", StreamErrorKind::RateLimit),
    ("throttling", StreamErrorKind::RateLimit),
    ("throttlingexception", StreamErrorKind::RateLimit),
    ("429", StreamErrorKind::RateLimit),
    ("server_error", StreamErrorKind::Server),
    ("api_error", StreamErrorKind::Server),
    ("internal", StreamErrorKind::Server),
    ("internalserverexception", StreamErrorKind::Server),
    ("500", StreamErrorKind::Server),
    ("invalid_request", StreamErrorKind::InvalidRequest),
    ("invalid_request_error", StreamErrorKind::InvalidRequest),
    ("invalid_argument", StreamErrorKind::InvalidRequest),
    ("validationexception", StreamErrorKind::InvalidRequest),
    ("400", StreamErrorKind::InvalidRequest),
    ("model_stream_error", StreamErrorKind::ModelStream),
    ("modelstreamerrorexception", StreamErrorKind::ModelStream),
];

impl StreamErrorKind {
    fn parse(value: &str) -> Option<Self> {
        STREAM_ERROR_NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(value))
            .map(|&(_, kind)| kind)
    }
}

/// Where the simulated content filter fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentFilter {
    /// The prompt is rejected (Azure's 400 `content_filter`, elsewhere the format's 400 or block).
    Prompt,
    /// The completion is cut short with the format's content-filter finish reason.
    Response,
}

/// Every key understood by [`Behavior::set`], in canonical (`snake_case`) spelling.
pub const BEHAVIOR_KEYS: &[&str] = &[
    "status",
    "retry_after",
    "retry_after_ms",
    "fail_times",
    "error_message",
    "headers_delay_ms",
    "ttft_ms",
    "delay_ms",
    "tokens",
    "drop_after",
    "stream_error",
    "cached_tokens",
    "content_filter",
    "expires_in",
    "usage_on_finish",
];

impl Behavior {
    /// Set one behaviour key from its textual value.
    ///
    /// `key` may be written with `_` or `-` (`ttft_ms`, `ttft-ms`) and is matched
    /// case-insensitively. `status=0` clears a configured fault.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        match canonical_key(key) {
            Some("status") => {
                let status: u16 = parse_num(key, value)?;
                if status == 0 {
                    self.status = None;
                } else if (200..=599).contains(&status) {
                    self.status = Some(status);
                } else {
                    return Err(format!(
                        "invalid value '{value}' for mock key '{key}': expected an HTTP status between 200 and 599 (or 0 for none)"
                    ));
                }
            }
            Some("retry_after") => {
                if HeaderValue::from_str(value).is_err() {
                    return Err(format!(
                        "invalid value '{value}' for mock key '{key}': not a valid header value"
                    ));
                }
                self.retry_after = Some(value.to_owned());
            }
            Some("retry_after_ms") => self.retry_after_ms = Some(parse_num(key, value)?),
            Some("fail_times") => self.fail_times = Some(parse_num(key, value)?),
            Some("error_message") => self.error_message = Some(value.to_owned()),
            Some("headers_delay_ms") => self.headers_delay = parse_ms(key, value)?,
            Some("ttft_ms") => self.ttft = parse_ms(key, value)?,
            Some("delay_ms") => self.inter_token = parse_ms(key, value)?,
            Some("tokens") => {
                let n: u32 = parse_num(key, value)?;
                if n > crate::content::MAX_TOKENS {
                    return Err(format!(
                        "invalid value '{value}' for mock key '{key}': at most {} tokens",
                        crate::content::MAX_TOKENS
                    ));
                }
                self.tokens = Some(n);
            }
            Some("drop_after") => self.drop_after = Some(parse_num(key, value)?),
            Some("stream_error") => {
                self.stream_error = if value.is_empty() || value.eq_ignore_ascii_case("none") {
                    None
                } else {
                    Some(StreamErrorKind::parse(value).ok_or_else(|| {
                        format!(
                            "invalid value '{value}' for mock key '{key}': expected one of overloaded_error, rate_limit_error, api_error, invalid_request_error, model_stream_error (or a provider's own name for them, or none)"
                        )
                    })?)
                };
            }
            Some("cached_tokens") => self.cached_tokens = Some(parse_num(key, value)?),
            Some("content_filter") => {
                self.content_filter = match value.to_ascii_lowercase().as_str() {
                    "prompt" => Some(ContentFilter::Prompt),
                    "response" | "completion" => Some(ContentFilter::Response),
                    "" | "none" => None,
                    _ => {
                        return Err(format!(
                            "invalid value '{value}' for mock key '{key}': expected prompt, response or none"
                        ))
                    }
                };
            }
            Some("expires_in") => self.expires_in = Some(parse_num(key, value)?),
            Some("usage_on_finish") => {
                self.usage_on_finish = match value {
                    "true" | "1" | "" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(format!(
                            "invalid value '{value}' for mock key '{key}': expected true or false"
                        ))
                    }
                }
            }
            _ => {
                return Err(format!(
                    "unknown mock key '{key}' (expected one of: {})",
                    BEHAVIOR_KEYS.join(", ")
                ))
            }
        }
        Ok(())
    }
}

/// Map `key` (any of `_`/`-`, any case) to its canonical spelling.
fn canonical_key(key: &str) -> Option<&'static str> {
    let key = key.trim();
    BEHAVIOR_KEYS.iter().copied().find(|canon| {
        canon.len() == key.len()
            && canon.bytes().zip(key.bytes()).all(|(c, k)| {
                let k = if k == b'-' {
                    b'_'
                } else {
                    k.to_ascii_lowercase()
                };
                c == k
            })
    })
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    value
        .parse::<T>()
        .map_err(|e| format!("invalid value '{value}' for mock key '{key}': {e}"))
}

fn parse_ms(key: &str, value: &str) -> Result<Duration, String> {
    parse_num::<u64>(key, value).map(Duration::from_millis)
}

/// Parse a comma-separated `key=value` list into `into`, e.g.
/// `"status=503,retry_after=2,ttft_ms=50"`. Empty items are ignored.
pub fn parse_behavior_spec(spec: &str, into: &mut Behavior) -> Result<(), String> {
    for item in spec.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!(
                "invalid mock spec item '{item}': expected key=value"
            ));
        };
        into.set(key, value)?;
    }
    Ok(())
}

/// Defaults, then `key=value` segments of `knob_prefix` (the path before the provider's own
/// path), then `x-mock-*` headers, then the body's `"mock"` object.
pub(crate) fn resolve<'a>(
    defaults: &'a Behavior,
    knob_prefix: &str,
    headers: &HeaderMap,
    mock: Option<&serde_json::Value>,
) -> Result<Cow<'a, Behavior>, String> {
    let mut b = Cow::Borrowed(defaults);
    if knob_prefix.contains('=') {
        for seg in knob_prefix.split('/').filter(|s| s.contains('=')) {
            parse_behavior_spec(&percent_decode(seg), b.to_mut())?;
        }
    }
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix("x-mock-") {
            let value = value
                .to_str()
                .map_err(|_| format!("invalid value for mock header '{name}'"))?;
            b.to_mut().set(key, value)?;
        }
    }
    match mock {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(map)) => {
            for (key, value) in map {
                let b = b.to_mut();
                match value {
                    serde_json::Value::String(s) => b.set(key, s)?,
                    serde_json::Value::Number(n) => b.set(key, &n.to_string())?,
                    serde_json::Value::Null => {}
                    other => {
                        return Err(format!(
                        "invalid value {other} for mock key '{key}': expected a number or a string"
                    ))
                    }
                }
            }
        }
        Some(_) => return Err("'mock' must be an object".to_owned()),
    }
    Ok(b)
}

/// Decode `%XX` escapes of a path segment (invalid escapes are kept verbatim).
pub(crate) fn percent_decode(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('%') {
        return std::borrow::Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_all_keys() {
        let mut b = Behavior::default();
        parse_behavior_spec(
            "status=503, retry_after=2,retry_after_ms=1500,fail_times=3,error_message=boom,headers_delay_ms=5,ttft_ms=50,delay_ms=7,tokens=4,drop_after=2",
            &mut b,
        )
        .unwrap();
        assert_eq!(b.status, Some(503));
        assert_eq!(b.retry_after.as_deref(), Some("2"));
        assert_eq!(b.retry_after_ms, Some(1500));
        assert_eq!(b.fail_times, Some(3));
        assert_eq!(b.error_message.as_deref(), Some("boom"));
        assert_eq!(b.headers_delay, Duration::from_millis(5));
        assert_eq!(b.ttft, Duration::from_millis(50));
        assert_eq!(b.inter_token, Duration::from_millis(7));
        assert_eq!(b.tokens, Some(4));
        assert_eq!(b.drop_after, Some(2));
        parse_behavior_spec(
            "stream_error=ThrottlingException,cached_tokens=5,content_filter=response,expires_in=60",
            &mut b,
        )
        .unwrap();
        assert_eq!(b.stream_error, Some(StreamErrorKind::RateLimit));
        assert_eq!(b.cached_tokens, Some(5));
        assert_eq!(b.content_filter, Some(ContentFilter::Response));
        assert_eq!(b.expires_in, Some(60));
        parse_behavior_spec("stream_error=none,content_filter=none", &mut b).unwrap();
        assert_eq!(b.stream_error, None);
        assert_eq!(b.content_filter, None);
        parse_behavior_spec("status=0", &mut b).unwrap();
        assert_eq!(b.status, None);
    }

    #[test]
    fn spec_accepts_dashes_and_empty_items() {
        let mut b = Behavior::default();
        parse_behavior_spec("TTFT-MS=10,,", &mut b).unwrap();
        assert_eq!(b.ttft, Duration::from_millis(10));
        parse_behavior_spec("", &mut b).unwrap();
    }

    #[test]
    fn spec_errors() {
        let mut b = Behavior::default();
        let e = parse_behavior_spec("bogus=1", &mut b).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        let e = parse_behavior_spec("status=abc", &mut b).unwrap_err();
        assert!(e.contains("status") && e.contains("abc"), "{e}");
        let e = parse_behavior_spec("status=99", &mut b).unwrap_err();
        assert!(e.contains("status"), "{e}");
        let e = parse_behavior_spec("ttft_ms", &mut b).unwrap_err();
        assert!(e.contains("key=value"), "{e}");
        let e = parse_behavior_spec("tokens=-1", &mut b).unwrap_err();
        assert!(e.contains("tokens"), "{e}");
        let e = parse_behavior_spec("retry_after=a\u{7f}b", &mut b).unwrap_err();
        assert!(e.contains("retry_after"), "{e}");
        let e = parse_behavior_spec("tokens=4000000000", &mut b).unwrap_err();
        assert!(e.contains("tokens"), "{e}");
        let e = parse_behavior_spec("stream_error=kaboom", &mut b).unwrap_err();
        assert!(e.contains("stream_error"), "{e}");
        let e = parse_behavior_spec("content_filter=maybe", &mut b).unwrap_err();
        assert!(e.contains("content_filter"), "{e}");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Cc"), "a b,c");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("bad%zz%4"), "bad%zz%4");
    }
}
