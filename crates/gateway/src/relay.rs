//! Relaying an OpenAI-format SSE stream from the upstream to the client.
//!
//! Bytes pass through as received (sliced, not copied) while the relay reads only what
//! the ledger needs: the time of the first token and the usage trailer. When the client
//! did not ask for usage, the gateway asked the upstream anyway; the relay then removes
//! the trailer and the `"usage":null` fields so the client sees what it asked for.
//!
//! Dropping the relay (the client went away) drops the upstream response, which
//! cancels the upstream request, releases the in-flight count and emits the request's
//! record with the usage seen so far.

use crate::catalog::Deployment;
use crate::error::ApiError;
use crate::observe::{Outcome, RequestLog};
use crate::state::InflightGuard;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;
use switchyard_adapters::openai;
use switchyard_adapters::openai::usage::chunk_usage;
use switchyard_adapters::sse::{parse_event, SseSplitter};
use switchyard_adapters::{ErrorClass, UpstreamError};

type Upstream = http_body_util::BodyDataStream<hyper::body::Incoming>;

pub struct Relay {
    upstream: Upstream,
    splitter: SseSplitter,
    out: VecDeque<Bytes>,
    /// The client did not ask for usage: remove what we added.
    strip_usage: bool,
    /// Where the stream comes from: its timeout bounds the wait between chunks, and its
    /// label and keys shape (and redact) an error event.
    deployment: Arc<Deployment>,
    saw_done: bool,
    /// A chunk with model output went by (the stream is then committed to the client).
    output_seen: bool,
    /// Drop a leading chunk with no choices and no usage (Azure's content-filter
    /// preamble, with an empty id and model), which OpenAI never sends.
    skip_prelude: bool,
    finished: bool,
    log: RequestLog,
    /// What the client received, kept for the ledger when bodies are kept.
    capture: Option<crate::bodies::Capture>,
    _inflight: InflightGuard,
}

impl Relay {
    pub fn new(
        upstream: http::Response<hyper::body::Incoming>,
        strip_usage: bool,
        deployment: Arc<Deployment>,
        mut log: RequestLog,
        inflight: InflightGuard,
    ) -> Self {
        // Until the body completes, a dropped relay means the client left.
        log.outcome = Outcome::ClientDisconnected;
        Relay {
            upstream: http_body_util::BodyDataStream::new(upstream.into_body()),
            splitter: SseSplitter::new(),
            out: VecDeque::new(),
            strip_usage,
            deployment,
            saw_done: false,
            output_seen: false,
            skip_prelude: false,
            finished: false,
            log,
            capture: None,
            _inflight: inflight,
        }
    }

    /// See `skip_prelude`.
    pub fn skip_empty_prelude(mut self, skip: bool) -> Self {
        self.skip_prelude = skip;
        self
    }

    /// The response body.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
        futures_util::stream::unfold(self, |mut relay| async move {
            relay.next_bytes().await.map(|b| (Ok(b), relay))
        })
    }

    async fn next_bytes(&mut self) -> Option<Bytes> {
        loop {
            if let Some(b) = self.out.pop_front() {
                if let Some(c) = &mut self.capture {
                    c.push(&b);
                }
                return Some(b);
            }
            if self.finished {
                return None;
            }
            if let Err(e) = self.pull().await {
                self.fail(e);
            }
        }
    }

    /// Reads and processes one upstream chunk (or the end of the body).
    async fn pull(&mut self) -> Result<(), UpstreamError> {
        match tokio::time::timeout(self.deployment.timeout, self.upstream.next()).await {
            Ok(Some(Ok(chunk))) => self.on_chunk(chunk),
            Ok(None) => {
                self.finished = true;
                if let Some(rest) = self.splitter.take_rest() {
                    // A last event without its blank line: complete it for the client.
                    self.on_event(rest)?;
                    self.out.push_back(Bytes::from_static(b"\n\n"));
                }
                self.log.outcome = if self.saw_done {
                    Outcome::Ok
                } else {
                    Outcome::StreamError
                };
                Ok(())
            }
            Ok(Some(Err(e))) => Err(crate::upstream::transport_error(&e, false)),
            Err(_) => Err(crate::upstream::timed_out(self.deployment.timeout)),
        }
    }

    /// Reads until the first output (or the end) by `deadline`. Until then nothing has
    /// reached the client, so a failure is returned for the attempt loop to fall back
    /// on, instead of being written into the stream.
    pub async fn prime(&mut self, deadline: tokio::time::Instant) -> Result<(), UpstreamError> {
        while !self.output_seen && !self.finished {
            match tokio::time::timeout_at(deadline, self.pull()).await {
                Ok(r) => r?,
                Err(_) => {
                    let waited = deadline.saturating_duration_since(tokio::time::Instant::now());
                    let mut e = crate::upstream::timed_out(waited);
                    e.message = "no first token in time".to_string();
                    return Err(e);
                }
            }
        }
        if self.finished && !self.saw_done && !self.output_seen {
            return Err(UpstreamError::new(
                ErrorClass::Connection,
                None,
                "the provider's stream ended before its first token",
            ));
        }
        Ok(())
    }

    /// Keeps up to `max` bytes of what the client receives for the ledger.
    pub fn capture_body(&mut self, max: usize) {
        self.capture = Some(crate::bodies::Capture::new(max));
    }

    /// The request's record, once this stream is the one that serves it.
    pub fn attach(&mut self, mut log: RequestLog) {
        log.adopt(&self.log);
        log.outcome = Outcome::ClientDisconnected;
        self.log = log;
    }

    fn on_chunk(&mut self, chunk: Bytes) -> Result<(), UpstreamError> {
        let mut events = Vec::new();
        self.splitter.push(chunk, &mut events);
        for ev in events {
            self.on_event(ev)?;
        }
        Ok(())
    }

    fn on_event(&mut self, raw: Bytes) -> Result<(), UpstreamError> {
        let ev = parse_event(&raw);
        let data: &[u8] = &ev.data;
        if std::mem::take(&mut self.skip_prelude) && is_empty_prelude(data) {
            return Ok(());
        }
        if ev.is_done() {
            self.saw_done = true;
        } else {
            if !self.output_seen && is_error_event(data) {
                // Before the first token an in-stream error is a failed attempt.
                return Err(openai::errors::classify(0, &http::HeaderMap::new(), data)).map_err(
                    |mut e| {
                        e.status = None;
                        e
                    },
                );
            }
            if !self.output_seen && carries_output(data) {
                self.output_seen = true;
                self.log.ttft = Some(self.log.started.elapsed());
            }
            if let Some((usage, trailer)) = chunk_usage(data) {
                match &mut self.log.usage {
                    Some(seen) => seen.merge_max(&usage),
                    None => self.log.usage = Some(usage),
                }
                if trailer && self.strip_usage {
                    return Ok(());
                }
            }
            if self.strip_usage {
                if let Some(cleaned) = strip_null_usage(&raw) {
                    self.out.push_back(cleaned);
                    return Ok(());
                }
            }
        }
        self.out.push_back(raw);
        Ok(())
    }

    /// Ends the stream with an OpenAI-style error event (the SDKs raise on it).
    fn fail(&mut self, err: UpstreamError) {
        self.finished = true;
        self.log.outcome = Outcome::StreamError;
        self.log.error_class = Some(err.class.as_str());
        let secrets = self.deployment.provider.secrets();
        let api = ApiError::from_upstream(&err, &self.deployment.label, &secrets);
        let mut event = Vec::with_capacity(64 + api.message.len());
        event.extend_from_slice(b"data: ");
        event.extend_from_slice(&api.body_bytes());
        event.extend_from_slice(b"\n\n");
        self.out.push_back(Bytes::from(event));
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(c) = self.capture.take() {
            self.log.response_body = Some(c.finish());
        }
        // The stream's tokens count against its deployment's own `tpm`.
        if let Some(u) = self.log.usage {
            self.deployment
                .limits
                .record_tokens(crate::router::health::now_ms(), u.total_tokens);
        }
        if self.finished && self.log.outcome == Outcome::ClientDisconnected {
            self.log.outcome = Outcome::Ok;
        }
        // `log` emits itself when dropped; `_inflight` releases its counts.
    }
}

/// Whether an event is an in-stream error (`{"error": …}`).
fn is_error_event(data: &[u8]) -> bool {
    let trimmed = data.trim_ascii_start();
    trimmed.starts_with(b"{\"error\"")
}

/// Whether a chunk carries model output (text, reasoning or a tool call), for TTFT.
fn carries_output(data: &[u8]) -> bool {
    for key in [
        &b"\"content\":\""[..],
        b"\"reasoning_content\":\"",
        b"\"tool_calls\":[",
    ] {
        if let Some(pos) = memchr::memmem::find(data, key) {
            // An empty string is the role-only opening chunk, not output.
            if data.get(pos + key.len()) != Some(&b'"') {
                return true;
            }
        }
    }
    false
}

/// Azure's first stream chunk: no choices, no usage, only filter results.
fn is_empty_prelude(data: &[u8]) -> bool {
    memchr::memmem::find(data, b"\"choices\":[]").is_some()
        && memchr::memmem::find(data, b"\"usage\":{").is_none()
}

/// Removes `"usage":null` fields that exist only because the gateway forced usage on.
fn strip_null_usage(raw: &[u8]) -> Option<Bytes> {
    const FIELD: &[u8] = b",\"usage\":null";
    let pos = memchr::memmem::find(raw, FIELD)?;
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..pos]);
    out.extend_from_slice(&raw[pos + FIELD.len()..]);
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_detection() {
        assert!(!carries_output(
            br#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#
        ));
        assert!(carries_output(
            br#"{"choices":[{"delta":{"content":"Hi"}}]}"#
        ));
        assert!(carries_output(
            br#"{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}"#
        ));
        assert!(!carries_output(
            br#"{"choices":[],"usage":{"prompt_tokens":1}}"#
        ));
    }

    #[test]
    fn azure_prelude_detection() {
        assert!(is_empty_prelude(
            br#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[]}"#
        ));
        assert!(!is_empty_prelude(
            br#"{"choices":[],"usage":{"prompt_tokens":1}}"#
        ));
        assert!(!is_empty_prelude(br#"{"choices":[{"delta":{}}]}"#));
    }

    #[test]
    fn null_usage_is_stripped() {
        let raw = b"data: {\"id\":\"x\",\"choices\":[],\"usage\":null}\n\n";
        assert_eq!(
            strip_null_usage(raw).unwrap().as_ref(),
            b"data: {\"id\":\"x\",\"choices\":[]}\n\n"
        );
        assert!(strip_null_usage(b"data: {\"a\":1}\n\n").is_none());
    }
}
