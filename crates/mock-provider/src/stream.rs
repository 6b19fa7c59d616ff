//! The streaming driver shared by every format: pacing (`ttft_ms`, `delay_ms`), aborts
//! (`drop_after`), in-stream errors (`stream_error`) and request tracking. Each format
//! supplies an [`Encoder`] that turns tokens into its own framing.

use std::time::Duration;

use axum::body::{Body, Bytes};

use crate::behavior::{Behavior, StreamErrorKind};
use crate::content::Reply;
use crate::handler::sleep;
use crate::state::{Outcome, RequestGuard};

/// Writes one format's stream events.
pub(crate) trait Encoder: Send + 'static {
    /// Events sent at once with the response headers, before the first token.
    fn start(&mut self, reply: &Reply, out: &mut Vec<u8>);
    /// Events carrying token `i` (and any block boundaries before it).
    fn token(&mut self, reply: &Reply, i: u32, out: &mut Vec<u8>);
    /// Events after the last token (finish reason, usage, terminator).
    fn finish(&mut self, reply: &Reply, out: &mut Vec<u8>);
    /// The format's in-stream error; the stream ends right after it.
    fn error(
        &mut self,
        reply: &Reply,
        kind: StreamErrorKind,
        message: Option<&str>,
        out: &mut Vec<u8>,
    );
}

/// The stream knobs of one request.
pub(crate) struct Pacing {
    ttft: Duration,
    inter_token: Duration,
    drop_after: Option<u32>,
    stream_error: Option<StreamErrorKind>,
    error_message: Option<String>,
}

impl Pacing {
    pub(crate) fn new(b: &Behavior) -> Self {
        Self {
            ttft: b.ttft,
            inter_token: b.inter_token,
            drop_after: b.drop_after,
            stream_error: b.stream_error,
            error_message: b.error_message.clone(),
        }
    }

    /// The token before which the in-stream error comes (`drop_after`, else 0).
    fn error_at(&self) -> u32 {
        self.drop_after.unwrap_or(0)
    }
}

#[derive(Clone, Copy)]
enum Phase {
    Start,
    /// Next token index.
    Token(u32),
    End,
}

struct Driver<E> {
    enc: E,
    reply: Reply,
    pacing: Pacing,
    phase: Phase,
    /// Held until the stream ends; dropping it early counts as a cancellation.
    guard: Option<RequestGuard>,
}

type Item = Result<Bytes, std::io::Error>;

impl<E: Encoder> Driver<E> {
    fn finish(&mut self, outcome: Outcome) {
        if let Some(mut g) = self.guard.take() {
            g.finish(outcome);
        }
    }

    fn emit_error(&mut self, out: &mut Vec<u8>) {
        if let Some(kind) = self.pacing.stream_error {
            let msg = self.pacing.error_message.as_deref();
            self.enc.error(&self.reply, kind, msg, out);
        }
        self.phase = Phase::End;
        self.finish(Outcome::Aborted);
    }

    async fn step(mut self) -> Option<(Item, Self)> {
        loop {
            let mut out = Vec::with_capacity(256);
            match self.phase {
                Phase::Start => {
                    self.enc.start(&self.reply, &mut out);
                    self.phase = Phase::Token(0);
                }
                Phase::Token(i) if i < self.reply.token_count() => {
                    let delay = if i == 0 {
                        self.pacing.ttft
                    } else {
                        self.pacing.inter_token
                    };
                    if self.pacing.stream_error.is_some() && self.pacing.error_at() == i {
                        sleep(delay).await;
                        self.emit_error(&mut out);
                    } else if self.pacing.drop_after == Some(i) {
                        // Let the server flush what was already produced, then abort.
                        if delay.is_zero() {
                            tokio::task::yield_now().await;
                        } else {
                            tokio::time::sleep(delay).await;
                        }
                        self.phase = Phase::End;
                        self.finish(Outcome::Aborted);
                        let err = std::io::Error::other("mock provider: drop_after reached");
                        return Some((Err(err), self));
                    } else {
                        sleep(delay).await;
                        self.enc.token(&self.reply, i, &mut out);
                        self.phase = Phase::Token(i + 1);
                    }
                }
                Phase::Token(_) => {
                    if self.pacing.stream_error.is_some() {
                        // `drop_after` at or past the end: the error replaces the finish.
                        self.emit_error(&mut out);
                    } else {
                        self.enc.finish(&self.reply, &mut out);
                        self.phase = Phase::End;
                        self.finish(Outcome::Completed);
                    }
                }
                Phase::End => return None,
            }
            // Encoders may have nothing to say for a token (e.g. hidden reasoning).
            if !out.is_empty() {
                return Some((Ok(Bytes::from(out)), self));
            }
        }
    }
}

/// The streaming body; `guard` lives as long as the body.
pub(crate) fn body<E: Encoder>(enc: E, reply: Reply, pacing: Pacing, guard: RequestGuard) -> Body {
    let driver = Driver {
        enc,
        reply,
        pacing,
        phase: Phase::Start,
        guard: Some(guard),
    };
    Body::from_stream(futures_util::stream::unfold(driver, Driver::step))
}
