//! Relaying a stream through the canonical model to the client.
//!
//! The upstream body is framed (SSE, or AWS event-stream frames for Bedrock), each
//! event is decoded by the provider's [`StreamDecoder`] into canonical chunks, and
//! each chunk is written in the client's format by its [`ClientEncoder`] (OpenAI
//! `chat.completion.chunk`s, Anthropic Messages events, …). When the provider speaks
//! the client's own format (an Anthropic client on an Anthropic upstream) the events are
//! forwarded as received and the decoder only reads them. Usage and time to first token are read off the canonical
//! chunks for the ledger. As with the same-format [`crate::relay::Relay`], dropping the
//! relay cancels the upstream request and records what was seen.

use crate::catalog::Deployment;
use crate::error::ApiError;
use crate::ingress::ClientEncoder;
use crate::observe::{Outcome, RequestLog};
use crate::state::InflightGuard;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;
use switchyard_adapters::bedrock::eventstream::FrameDecoder;
use switchyard_adapters::canonical::ChatChunk;
use switchyard_adapters::sse::{parse_event, SseSplitter};
use switchyard_adapters::{ErrorClass, StreamDecoder, StreamEvent, UpstreamError, WireFormat};

type Upstream = http_body_util::BodyDataStream<hyper::body::Incoming>;

/// How the upstream body is cut into events.
enum Framing {
    Sse(SseSplitter),
    EventStream(FrameDecoder),
}

/// What the gateway fills in where a provider's stream names nothing (Bedrock gives
/// no id, model or time).
pub struct StreamIdentity {
    pub id: String,
    pub model: String,
    pub created: u64,
}

pub struct TranslateRelay {
    upstream: Upstream,
    framing: Framing,
    decoder: Box<dyn StreamDecoder>,
    encoder: ClientEncoder,
    identity: StreamIdentity,
    out: VecDeque<Bytes>,
    deployment: Arc<Deployment>,
    finished: bool,
    log: RequestLog,
    /// What the client received, kept for the ledger when bodies are kept.
    capture: Option<crate::bodies::Capture>,
    _inflight: InflightGuard,
}

impl TranslateRelay {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        upstream: http::Response<hyper::body::Incoming>,
        decoder: Box<dyn StreamDecoder>,
        wire: WireFormat,
        encoder: ClientEncoder,
        identity: StreamIdentity,
        deployment: Arc<Deployment>,
        mut log: RequestLog,
        inflight: InflightGuard,
    ) -> Self {
        log.outcome = Outcome::ClientDisconnected;
        let framing = match wire {
            WireFormat::BedrockConverse => Framing::EventStream(FrameDecoder::default()),
            _ => Framing::Sse(SseSplitter::new()),
        };
        TranslateRelay {
            upstream: http_body_util::BodyDataStream::new(upstream.into_body()),
            framing,
            decoder,
            encoder,
            identity,
            out: VecDeque::new(),
            deployment,
            finished: false,
            log,
            capture: None,
            _inflight: inflight,
        }
    }

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

    /// Reads and translates one upstream chunk (or the end of the body).
    async fn pull(&mut self) -> Result<(), UpstreamError> {
        match tokio::time::timeout(self.deployment.timeout, self.upstream.next()).await {
            Ok(Some(Ok(chunk))) => self.on_chunk(chunk),
            Ok(None) => self.on_end(),
            Ok(Some(Err(e))) => Err(crate::upstream::transport_error(&e, false)),
            Err(_) => Err(crate::upstream::timed_out(self.deployment.timeout)),
        }
    }

    /// Reads until the first output (or the end) by `deadline`; a failure before then
    /// is returned for the attempt loop to fall back on (see `Relay::prime`).
    pub async fn prime(&mut self, deadline: tokio::time::Instant) -> Result<(), UpstreamError> {
        while self.log.ttft.is_none() && !self.finished {
            match tokio::time::timeout_at(deadline, self.pull()).await {
                Ok(r) => r?,
                Err(_) => {
                    let mut e = crate::upstream::timed_out(std::time::Duration::ZERO);
                    e.message = "no first token in time".to_string();
                    return Err(e);
                }
            }
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
        log.outcome = if self.finished {
            Outcome::Ok
        } else {
            Outcome::ClientDisconnected
        };
        self.log = log;
    }

    fn on_chunk(&mut self, chunk: Bytes) -> Result<(), UpstreamError> {
        match &mut self.framing {
            Framing::Sse(splitter) => {
                let mut events = Vec::new();
                splitter.push(chunk, &mut events);
                for raw in events {
                    let ev = parse_event(&raw);
                    feed(
                        &mut *self.decoder,
                        StreamEvent::Sse(&ev),
                        &mut self.encoder,
                        &self.identity,
                        &mut self.log,
                        &mut self.out,
                    )?;
                    if self.encoder.passthrough() {
                        self.out.push_back(raw);
                    }
                }
                Ok(())
            }
            Framing::EventStream(frames) => {
                let mut decoded = Vec::new();
                frames.push(chunk, &mut decoded).map_err(|e| {
                    UpstreamError::new(
                        ErrorClass::Server,
                        None,
                        format!("the provider's event stream is corrupt: {e}"),
                    )
                })?;
                for frame in &decoded {
                    feed(
                        &mut *self.decoder,
                        frame.as_stream_event(),
                        &mut self.encoder,
                        &self.identity,
                        &mut self.log,
                        &mut self.out,
                    )?;
                }
                Ok(())
            }
        }
    }

    fn on_end(&mut self) -> Result<(), UpstreamError> {
        // A last SSE event without its blank line still counts (Gemini ends that way).
        if let Framing::Sse(splitter) = &mut self.framing {
            if let Some(rest) = splitter.take_rest() {
                let ev = parse_event(&rest);
                feed(
                    &mut *self.decoder,
                    StreamEvent::Sse(&ev),
                    &mut self.encoder,
                    &self.identity,
                    &mut self.log,
                    &mut self.out,
                )?;
            }
        }
        if !self.decoder.is_done() {
            return Err(UpstreamError::new(
                ErrorClass::Connection,
                None,
                "the provider's stream ended before the response was complete",
            ));
        }
        self.finished = true;
        self.log.outcome = Outcome::Ok;
        self.encoder.finish(&mut self.out);
        Ok(())
    }

    /// Ends the stream with an error event in the client's format (the SDKs raise on it).
    fn fail(&mut self, err: UpstreamError) {
        self.finished = true;
        self.log.outcome = Outcome::StreamError;
        self.log.error_class = Some(err.class.as_str());
        let secrets = self.deployment.provider.secrets();
        let api = ApiError::from_upstream(&err, &self.deployment.label, &secrets);
        self.encoder.error(&api, &mut self.out);
    }
}

/// One upstream event through the decoder and the encoder.
fn feed(
    decoder: &mut dyn StreamDecoder,
    event: StreamEvent<'_>,
    encoder: &mut ClientEncoder,
    identity: &StreamIdentity,
    log: &mut RequestLog,
    out: &mut VecDeque<Bytes>,
) -> Result<(), UpstreamError> {
    for mut chunk in decoder.on_event(event)? {
        match &mut chunk {
            ChatChunk::Start {
                id, model, created, ..
            } => {
                if id.is_empty() {
                    id.clone_from(&identity.id);
                }
                if model.is_empty() {
                    model.clone_from(&identity.model);
                }
                if *created == 0 {
                    *created = identity.created;
                }
            }
            ChatChunk::Usage(u) => match &mut log.usage {
                Some(seen) => seen.merge_max(u),
                None => log.usage = Some(*u),
            },
            ChatChunk::Text { text, .. } | ChatChunk::Thinking { text, .. }
                if !text.is_empty() && log.ttft.is_none() =>
            {
                log.ttft = Some(log.started.elapsed());
            }
            ChatChunk::ToolCall { .. } if log.ttft.is_none() => {
                log.ttft = Some(log.started.elapsed());
            }
            _ => {}
        }
        encoder.encode(&chunk, out);
    }
    Ok(())
}

impl Drop for TranslateRelay {
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
    }
}
