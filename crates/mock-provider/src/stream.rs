//! Server-sent-events body of a streaming chat completion.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, Response};

use crate::chat::{sleep, word};
use crate::json::{push_json_str, push_u64, push_usage};
use crate::state::{Outcome, RequestGuard};

/// Everything the stream needs, owned.
pub(crate) struct StreamPlan {
    /// `data: {"id":..,"object":"chat.completion.chunk",..,"choices":[`
    pub(crate) prefix: Vec<u8>,
    pub(crate) tokens: u32,
    pub(crate) finish_reason: &'static str,
    pub(crate) include_usage: bool,
    pub(crate) prompt_tokens: u64,
    pub(crate) ttft: Duration,
    pub(crate) inter_token: Duration,
    pub(crate) drop_after: Option<u32>,
}

/// The shared start of every chunk event, up to and including `"choices":[`.
pub(crate) fn chunk_prefix(id: u64, created: u64, model: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(192 + model.len());
    buf.extend_from_slice(b"data: {\"id\":\"chatcmpl-mock-");
    push_u64(&mut buf, id);
    buf.extend_from_slice(b"\",\"object\":\"chat.completion.chunk\",\"created\":");
    push_u64(&mut buf, created);
    buf.extend_from_slice(b",\"model\":");
    push_json_str(&mut buf, model);
    buf.extend_from_slice(
        b",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\",\"choices\":[",
    );
    buf
}

const ROLE_CHOICE: &[u8] = b"{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]";
const CONTENT_OPEN: &[u8] = b"{\"index\":0,\"delta\":{\"content\":\"";
const CONTENT_CLOSE: &[u8] = b"\"},\"logprobs\":null,\"finish_reason\":null}]";
const FINISH_OPEN: &[u8] = b"{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"";
const FINISH_CLOSE: &[u8] = b"\"}]";
const END_WITH_NULL_USAGE: &[u8] = b",\"usage\":null}\n\n";
const END_PLAIN: &[u8] = b"}\n\n";
const DONE: &[u8] = b"data: [DONE]\n\n";

#[derive(Clone, Copy)]
enum Phase {
    Role,
    /// Next content chunk index.
    Content(u32),
    Usage,
    Done,
    End,
}

struct Sse {
    plan: StreamPlan,
    phase: Phase,
    /// Held until the stream ends; dropping it early counts as a cancellation.
    guard: Option<RequestGuard>,
}

type Item = Result<Bytes, std::io::Error>;

impl Sse {
    fn event(&self, parts: &[&[u8]]) -> Bytes {
        let end = if self.plan.include_usage {
            END_WITH_NULL_USAGE
        } else {
            END_PLAIN
        };
        let len = self.plan.prefix.len() + parts.iter().map(|p| p.len()).sum::<usize>() + end.len();
        let mut buf = Vec::with_capacity(len);
        buf.extend_from_slice(&self.plan.prefix);
        for p in parts {
            buf.extend_from_slice(p);
        }
        buf.extend_from_slice(end);
        Bytes::from(buf)
    }

    fn usage_event(&self) -> Bytes {
        let mut buf = Vec::with_capacity(self.plan.prefix.len() + 320);
        buf.extend_from_slice(&self.plan.prefix);
        buf.extend_from_slice(b"],\"usage\":");
        push_usage(
            &mut buf,
            self.plan.prompt_tokens,
            u64::from(self.plan.tokens),
        );
        buf.extend_from_slice(b"}\n\n");
        Bytes::from(buf)
    }

    fn finish(&mut self, outcome: Outcome) {
        if let Some(mut g) = self.guard.take() {
            g.finish(outcome);
        }
    }

    async fn step(mut self) -> Option<(Item, Self)> {
        let item = match self.phase {
            Phase::Role => {
                self.phase = Phase::Content(0);
                self.event(&[ROLE_CHOICE])
            }
            Phase::Content(i) if i < self.plan.tokens => {
                let delay = if i == 0 {
                    self.plan.ttft
                } else {
                    self.plan.inter_token
                };
                if self.plan.drop_after == Some(i) {
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
                }
                sleep(delay).await;
                self.phase = Phase::Content(i + 1);
                self.event(&[CONTENT_OPEN, word(i).as_bytes(), CONTENT_CLOSE])
            }
            Phase::Content(_) => {
                self.phase = if self.plan.include_usage {
                    Phase::Usage
                } else {
                    Phase::Done
                };
                self.event(&[
                    FINISH_OPEN,
                    self.plan.finish_reason.as_bytes(),
                    FINISH_CLOSE,
                ])
            }
            Phase::Usage => {
                self.phase = Phase::Done;
                self.usage_event()
            }
            Phase::Done => {
                self.phase = Phase::End;
                self.finish(Outcome::Completed);
                Bytes::from_static(DONE)
            }
            Phase::End => return None,
        };
        Some((Ok(item), self))
    }
}

/// The `text/event-stream` response; `guard` lives as long as the body.
pub(crate) fn response(plan: StreamPlan, guard: RequestGuard) -> Response<Body> {
    let sse = Sse {
        plan,
        phase: Phase::Role,
        guard: Some(guard),
    };
    let body = Body::from_stream(futures_util::stream::unfold(sse, Sse::step));
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
