//! The request flow shared by every generation endpoint:
//! precheck (auth) → read and record the body → parse → knobs → injected fault →
//! validation → plan the reply → JSON or stream, with the configured delays.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{request::Parts, Response};

use crate::behavior::{self, Behavior};
use crate::content::{self, Reply, ToolArgs};
use crate::record;
use crate::state::{Format, Outcome, RequestGuard, State};
use crate::stream::Pacing;
use crate::summary::Summary;

/// Largest accepted request body.
pub(crate) const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Per-request facts the renderers need besides the reply.
pub(crate) struct Ctx {
    /// Source of the response, message and tool call ids.
    pub(crate) id: u64,
    /// Unix seconds.
    pub(crate) created: u64,
    /// The model echoed in the response.
    pub(crate) model: String,
    pub(crate) include_usage: bool,
    /// OpenAI format: put usage on the finish chunk even unasked (Mistral, Perplexity).
    pub(crate) usage_on_finish: bool,
    pub(crate) show_reasoning: bool,
    /// The simulated generation time (Bedrock `metrics.latencyMs`).
    pub(crate) latency_ms: u64,
}

/// One wire format's side of the flow.
///
/// Refusals are finished responses (`Err(Response)`): they are the cold path and handed
/// straight back to the client, so boxing them would only add an allocation.
#[allow(clippy::result_large_err)]
pub(crate) trait Api: Send + Sync + Sized + 'static {
    /// How tool arguments are streamed.
    const TOOL_ARGS: ToolArgs = ToolArgs::Split;

    /// The format, for stats and recordings.
    fn format(&self) -> Format;

    /// Reject the request before its body is read (authentication, required query).
    fn precheck(&self, _state: &State, _parts: &Parts) -> Result<(), Response<Body>> {
        Ok(())
    }

    /// Read the body into a summary, or answer the format's 400.
    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<Summary, Response<Body>>;

    /// A 400 in the format's shape (bad knobs, unreadable body).
    fn invalid(&self, message: &str) -> Response<Body>;

    /// The model for error messages and the response (from the body or the path).
    fn model(&self, s: &Summary) -> Option<String>;

    /// The injected `status` fault in the format's shape.
    fn fault(&self, status: u16, b: &Behavior, model: &str) -> Response<Body>;

    /// The format's own required-field checks; they come after the fault, as today.
    fn validate(&self, s: &Summary) -> Result<(), Response<Body>>;

    /// `content_filter=prompt`: the format's answer to a filtered prompt.
    fn prompt_filtered(&self, s: &Summary, b: &Behavior) -> Response<Body>;

    /// The non-streaming response.
    fn full(&self, ctx: &Ctx, reply: &Reply) -> Response<Body>;

    /// The streaming response.
    fn stream(&self, ctx: Ctx, reply: Reply, pacing: Pacing, guard: RequestGuard)
        -> Response<Body>;
}

enum Outcomes {
    Full(Response<Body>),
    Stream(Ctx, Reply, Pacing),
}

/// Handle one generation request, tracking it in the stats.
pub(crate) async fn handle<A: Api>(
    state: Arc<State>,
    req: Request,
    api: A,
    knob_prefix: &str,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let mut guard = state.begin(parts.uri.path(), api.format());
    match answer(&state, &parts, body, &api, knob_prefix).await {
        Outcomes::Full(resp) => {
            guard.finish(Outcome::Completed);
            resp
        }
        Outcomes::Stream(ctx, reply, pacing) => api.stream(ctx, reply, pacing, guard),
    }
}

async fn answer<A: Api>(
    state: &State,
    parts: &Parts,
    body: Body,
    api: &A,
    knob_prefix: &str,
) -> Outcomes {
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            return Outcomes::Full(api.invalid(&format!("Could not read the request body: {e}")))
        }
    };
    if state.cfg.record {
        state.record(record::entry(parts, &bytes, api.format()));
    }
    if let Err(resp) = api.precheck(state, parts) {
        return Outcomes::Full(resp);
    }
    let summary = match api.parse(parts, &bytes) {
        Ok(s) => s,
        Err(resp) => return Outcomes::Full(resp),
    };
    let behavior = match behavior::resolve(
        &state.cfg.defaults,
        knob_prefix,
        &parts.headers,
        summary.mock.as_ref(),
    ) {
        Ok(b) => b,
        Err(msg) => return Outcomes::Full(api.invalid(&msg)),
    };
    let model = api.model(&summary);
    if let Some(resp) = injected_fault(state, parts, api, &behavior, model.as_deref()).await {
        return Outcomes::Full(resp);
    }
    if let Err(resp) = api.validate(&summary) {
        return Outcomes::Full(resp);
    }
    if behavior.content_filter == Some(behavior::ContentFilter::Prompt) {
        sleep(behavior.headers_delay).await;
        return Outcomes::Full(api.prompt_filtered(&summary, &behavior));
    }

    let reply = content::plan(&summary, &behavior, A::TOOL_ARGS);
    let generation = behavior.ttft.saturating_add(
        behavior
            .inter_token
            .checked_mul(reply.token_count())
            .unwrap_or(Duration::MAX),
    );
    let ctx = Ctx {
        id: state.next_id(),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        model: model.unwrap_or_default(),
        include_usage: summary.include_usage,
        usage_on_finish: behavior.usage_on_finish,
        show_reasoning: summary.show_reasoning,
        latency_ms: u64::try_from(generation.as_millis()).unwrap_or(u64::MAX),
    };
    if summary.stream {
        sleep(behavior.headers_delay).await;
        return Outcomes::Stream(ctx, reply, Pacing::new(&behavior));
    }
    sleep(behavior.headers_delay.saturating_add(generation)).await;
    Outcomes::Full(api.full(&ctx, &reply))
}

/// The `status` fault, unless `fail_times` says this request on this path succeeds.
pub(crate) async fn injected_fault<A: Api>(
    state: &State,
    parts: &Parts,
    api: &A,
    behavior: &Behavior,
    model: Option<&str>,
) -> Option<Response<Body>> {
    let status = behavior.status?;
    let fault = match behavior.fail_times {
        Some(n) => state.fail_count(parts.uri.path()) < n,
        None => true,
    };
    if !fault {
        return None;
    }
    sleep(behavior.headers_delay).await;
    Some(api.fault(status, behavior, model.unwrap_or("unknown")))
}

/// Sleep, skipping the timer entirely for zero durations.
pub(crate) async fn sleep(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}
