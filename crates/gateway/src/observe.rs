//! What is recorded about each request: one structured log line now; the ledger,
//! metrics and traces hang off the same record.

use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_adapters::canonical::Usage;

/// Receives every finished request's record (the ledger, metrics and tests plug in here).
/// Called on the request's task, possibly from a `Drop`: implementations must not block.
pub trait RecordSink: Send + Sync {
    fn record(&self, log: &RequestLog);
}

pub type Sinks = Arc<[Arc<dyn RecordSink>]>;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Rejected by the gateway (auth, validation, unknown model).
    Rejected,
    /// The upstream answered with an error or could not be reached.
    UpstreamError,
    /// The upstream broke off a stream after it began.
    StreamError,
    /// The client went away before the response finished.
    ClientDisconnected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Rejected => "rejected",
            Outcome::UpstreamError => "upstream_error",
            Outcome::StreamError => "stream_error",
            Outcome::ClientDisconnected => "client_disconnected",
        }
    }
}

/// W3C trace context of a request: continued from the client's `traceparent`, or new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    /// The client's span, when it sent a `traceparent`.
    pub parent_span_id: Option<[u8; 8]>,
    /// The gateway's span for the whole request.
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl TraceContext {
    /// Continues the client's `traceparent` (version 00), else starts a trace.
    pub fn from_headers(headers: &http::HeaderMap) -> TraceContext {
        let parsed = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_traceparent);
        match parsed {
            Some((trace_id, parent, flags)) => TraceContext {
                trace_id,
                parent_span_id: Some(parent),
                span_id: new_span_id(),
                sampled: flags & 1 == 1,
            },
            None => TraceContext {
                trace_id: fastrand::u128(1..).to_be_bytes(),
                parent_span_id: None,
                span_id: new_span_id(),
                sampled: true,
            },
        }
    }

    /// The `traceparent` to send upstream for an attempt span.
    pub fn traceparent(&self, span_id: [u8; 8]) -> String {
        format!(
            "00-{}-{}-{}",
            hex(&self.trace_id),
            hex(&span_id),
            if self.sampled { "01" } else { "00" }
        )
    }
}

pub fn new_span_id() -> [u8; 8] {
    fastrand::u64(1..).to_be_bytes()
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn parse_traceparent(v: &str) -> Option<([u8; 16], [u8; 8], u8)> {
    let mut parts = v.trim().split('-');
    let version = parts.next()?;
    let trace = parts.next()?;
    let span = parts.next()?;
    let flags = parts.next()?;
    if version.len() != 2
        || version == "ff"
        || trace.len() != 32
        || span.len() != 16
        || flags.len() != 2
    {
        return None;
    }
    let mut trace_id = [0u8; 16];
    let mut span_id = [0u8; 8];
    for (i, b) in trace_id.iter_mut().enumerate() {
        *b = u8::from_str_radix(trace.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    for (i, b) in span_id.iter_mut().enumerate() {
        *b = u8::from_str_radix(span.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some((trace_id, span_id, u8::from_str_radix(flags, 16).ok()?))
}

/// One upstream attempt of a request.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// When the attempt began, from the request's start.
    pub offset: Duration,
    /// Its trace span (the parent of the provider's spans, via `traceparent`).
    pub span_id: [u8; 8],
    /// `provider/model`.
    pub deployment: String,
    /// The deployment's provider kind (`openai`, `anthropic`, `bedrock`, …).
    pub provider_kind: &'static str,
    /// The upstream's HTTP status, when it answered.
    pub status: Option<u16>,
    /// `None` for the attempt that served.
    pub error_class: Option<&'static str>,
    pub latency: Duration,
}

/// The units a media request is billed by (images, seconds of audio, characters of
/// speech), beside its tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaUnits {
    pub images: u64,
    pub audio_ms: u64,
    pub characters: u64,
}

/// The record of one request, emitted exactly once (by `finish` or on drop).
pub struct RequestLog {
    /// Wall-clock start.
    pub time: std::time::SystemTime,
    pub request_id: String,
    /// The API the client called, set by its route: `chat.completions` (the default),
    /// `messages`, `responses`, `embeddings`, `images.generations`,
    /// `audio.transcriptions` or `audio.speech`.
    pub endpoint: &'static str,
    pub model: String,
    pub deployment: String,
    /// The provider kind of `deployment` (empty when no deployment was reached).
    pub provider_kind: &'static str,
    pub stream: bool,
    pub status: u16,
    pub attempts: u32,
    pub started: Instant,
    /// Time spent waiting on the upstream (until its body ended, for non-streamed calls).
    pub upstream_latency: Option<Duration>,
    pub ttft: Option<Duration>,
    pub usage: Option<Usage>,
    /// What media requests are billed by besides tokens.
    pub units: MediaUnits,
    pub outcome: Outcome,
    pub error_class: Option<&'static str>,
    /// Every upstream attempt, in order.
    pub attempt_log: Vec<AttemptRecord>,
    /// The public model that finally served, when a fallback or route rule changed it.
    pub served_model: Option<String>,
    /// The serving deployment's price, for the cost; `None` when unknown (cost 0,
    /// flagged as unpriced).
    pub price: Option<switchyard_pricing::Price>,
    /// The virtual key that made the request (governance).
    pub key_id: Option<String>,
    pub client_ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
    /// Request metadata tags (`metadata.tags`, `x-switchyard-tags`).
    pub tags: Vec<String>,
    /// The request body's `metadata` object, as sent.
    pub metadata: Option<serde_json::Value>,
    pub trace: Option<TraceContext>,
    /// Bodies kept for the ledger (when enabled).
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    /// A virtual key's admitted reservation, settled when this record is emitted.
    pub admitted: Option<crate::governance::admission::Admitted>,
    sinks: Sinks,
    emitted: bool,
}

impl RequestLog {
    pub fn new(
        sinks: &Sinks,
        request_id: &str,
        model: &str,
        deployment: &str,
        stream: bool,
        started: Instant,
    ) -> Self {
        RequestLog {
            time: std::time::SystemTime::now() - started.elapsed(),
            request_id: request_id.to_string(),
            endpoint: "chat.completions",
            model: model.to_string(),
            deployment: deployment.to_string(),
            provider_kind: "",
            stream,
            status: 0,
            attempts: 0,
            started,
            upstream_latency: None,
            ttft: None,
            usage: None,
            units: MediaUnits::default(),
            outcome: Outcome::Ok,
            error_class: None,
            attempt_log: Vec::new(),
            served_model: None,
            price: None,
            key_id: None,
            client_ip: None,
            user_agent: None,
            tags: Vec::new(),
            metadata: None,
            trace: None,
            admitted: None,
            request_body: None,
            response_body: None,
            sinks: sinks.clone(),
            emitted: false,
        }
    }

    pub fn finish(mut self) {
        self.emit();
    }

    /// A record that is never emitted: what a stream attempt writes into before it is
    /// committed (an attempt that fails before its first token is not the request's
    /// outcome). [`RequestLog::adopt`] moves what it gathered into the real record.
    pub fn detached(started: Instant) -> Self {
        let mut log = RequestLog::new(&Sinks::from(Vec::new()), "", "", "", true, started);
        log.emitted = true;
        log
    }

    /// Takes over the stream figures gathered in a detached record.
    pub fn adopt(&mut self, from: &RequestLog) {
        self.usage = from.usage;
        self.ttft = from.ttft;
        self.outcome = from.outcome;
        self.error_class = from.error_class;
        if from.status != 0 {
            self.status = from.status;
        }
    }

    /// The request's cost in USD from its usage (tokens and media units) and price (0
    /// when either is unknown).
    pub fn cost_usd(&self) -> f64 {
        let Some(price) = &self.price else {
            return 0.0;
        };
        if self.usage.is_none() && self.units == MediaUnits::default() {
            return 0.0;
        }
        let u = self.usage.unwrap_or_default();
        switchyard_pricing::cost_usd(
            price,
            &switchyard_pricing::Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
                cached_tokens: u.cached_tokens,
                cache_write_tokens: u.cache_write_tokens,
                reasoning_tokens: u.reasoning_tokens,
                images: self.units.images,
                audio_ms: self.units.audio_ms,
                characters: self.units.characters,
            },
        )
    }

    fn emit(&mut self) {
        if self.emitted {
            return;
        }
        self.emitted = true;
        let usage = self.usage.unwrap_or_default();
        tracing::info!(
            target: "switchyard::request",
            request_id = %self.request_id,
            endpoint = self.endpoint,
            model = %self.model,
            deployment = %self.deployment,
            stream = self.stream,
            status = self.status,
            outcome = self.outcome.as_str(),
            error_class = self.error_class.unwrap_or(""),
            attempts = self.attempts,
            latency_ms = self.started.elapsed().as_secs_f64() * 1000.0,
            ttft_ms = self.ttft.map(|t| t.as_secs_f64() * 1000.0).unwrap_or(0.0),
            upstream_ms = self.upstream_latency.map(|t| t.as_secs_f64() * 1000.0).unwrap_or(0.0),
            prompt_tokens = usage.prompt_tokens,
            completion_tokens = usage.completion_tokens,
            cached_tokens = usage.cached_tokens,
            reasoning_tokens = usage.reasoning_tokens,
            usage_seen = self.usage.is_some(),
            cost_usd = self.cost_usd(),
            "request"
        );
        for sink in self.sinks.iter() {
            sink.record(self);
        }
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        self.emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_continued_or_started() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        let t = TraceContext::from_headers(&h);
        assert_eq!(hex(&t.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            t.parent_span_id.map(|p| hex(&p)).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert!(t.sampled);
        let up = t.traceparent([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            up,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0102030405060708-01"
        );
        for bad in [
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            h.insert("traceparent", http::HeaderValue::from_static(bad));
            assert!(
                TraceContext::from_headers(&h).parent_span_id.is_none(),
                "{bad}"
            );
        }
    }
}
