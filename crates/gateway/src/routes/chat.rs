//! `POST /v1/chat/completions` and the attempt loop.
//!
//! policy (auth) → body (size limit) → peek (validate, read model) → catalog (resolve,
//! scope, conditional routing) → **attempt loop** → response.
//!
//! The attempt loop, in one place:
//! 1. **Pool**: the public model's strategy picks a deployment (healthy, under its own
//!    rpm/tpm, not yet tried by this request when another is left; a deployment whose
//!    cooldown ended gets one probe request).
//! 2. **Keys**: the deployment's provider key pool gives the next key not set aside.
//!    A key answered 429 (set aside for its Retry-After) or 401 (for good) is replaced by
//!    the next key at once, invisibly to the client.
//! 3. **Retries**: a retryable failure (rate limit, server, timeout, connection) is
//!    retried up to `router.retries` times inside the pool, on another deployment when
//!    one is available, else after a backoff (full jitter, or the provider's
//!    Retry-After when it asked for no longer than `router.max_retry_wait`). A client
//!    error (400, context window, content policy, auth) is never retried.
//! 4. **Health**: each failure counts against its deployment; `allowed_failures` in a
//!    row (or a high recent error rate) cool it down for `router.cooldown`.
//! 5. **Fallbacks**: when the pool is exhausted, the model's `fallbacks` for the
//!    failure's reason are tried in order (or the request's own `models` list), each a
//!    new pool; no model is visited twice.
//!
//! A stream is committed to the client only at its first token: until then an
//! attempt's failure (an error status, an error event, a dropped connection, no first
//! token within `first_token_timeout`) moves the loop on. With `hedge_after`, an attempt
//! without a first token by then races a second deployment; the first to answer wins
//! and the other is cancelled.

use crate::catalog::{Deployment, KeyPick, Resolved};
use crate::error::{ApiError, ErrorShape};
use crate::governance::admission::{self, Size};
use crate::ingress::{ClientEncoder, Ingress, PendingSave, ResponsesStream};
use crate::observe::{MediaUnits, Outcome, RequestLog};
use crate::policy::Principal;
use crate::providers;
use crate::relay::Relay;
use crate::router::health::{now_ms, Transition};
use crate::router::pick::{pick, Ask};
use crate::router::{backoff, plan};
use crate::routes::{read_body, RequestId};
use crate::state::{AppState, InflightGuard};
use crate::translate::{StreamIdentity, TranslateRelay};
use crate::upstream;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use switchyard_adapters::canonical::{ChatRequest, Usage};
use switchyard_adapters::openai::fastpath::ChatPeek;
use switchyard_adapters::openai::presets::Quirks;
use switchyard_adapters::openai::{self, fastpath, usage};
use switchyard_adapters::responses::{self, ResponseMeta};
use switchyard_adapters::{anthropic, AdapterError, ErrorClass, UpstreamError, WireFormat};
use switchyard_store::responses::StoredResponse;

/// Upstream error bodies larger than this are cut (they are only read for a message).
const MAX_ERROR_BODY: usize = 256 * 1024;
/// A native (untranslated) body: only `model` is replaced and the gateway's own fields
/// (`models`, `drop_params`) removed; nothing OpenAI-specific is added.
pub(crate) const NATIVE_BODY: Quirks = Quirks {
    stream_options: false,
    ..Quirks::NONE
};
/// The output estimate for routing and limits when the request sets no `max_tokens`.
const DEFAULT_OUTPUT_ESTIMATE: u64 = 1024;

/// `POST /v1/chat/completions`: OpenAI Chat Completions, served by any provider.
#[utoipa::path(
    post,
    path = "/v1/chat/completions",
    tag = "inference",
    operation_id = "createChatCompletion",
    summary = "OpenAI Chat Completions, stream and non-stream, any provider",
    description = "The model is a public model name or `provider/model`. With `stream: true` the answer is `text/event-stream`: `data:` lines of `ChatCompletionChunk`, ended by `data: [DONE]`. Fallbacks: the model's own, or the request's `models` / `x-switchyard-fallbacks`.",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(
        ("x-switchyard-fallbacks" = Option<String>, Header, description = "Comma-separated models to fall back to, in order"),
    ),
    request_body(content = crate::openapi::schemas::ChatCompletionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The completion; with `stream: true` a stream of `ChatCompletionChunk` events",
            content(
                (crate::openapi::schemas::ChatCompletion = "application/json"),
                (String = "text/event-stream"),
            ),
            headers(
                ("x-request-id" = String, description = "The request's id (a client-sent one is kept)"),
                ("x-switchyard-deployment" = String, description = "`provider/model` that served"),
                ("x-switchyard-attempts" = u32, description = "Upstream attempts made"),
                ("x-switchyard-fallback" = String, description = "The public model that served, when a fallback did"),
                ("x-switchyard-cost-usd" = String, description = "Cost in USD (non-streamed answers)"),
                ("x-switchyard-overhead-ms" = String, description = "The gateway's own time (non-streamed answers)"),
                ("x-ratelimit-limit-requests" = u64, description = "A limited key's requests per minute"),
                ("x-ratelimit-remaining-requests" = u64, description = "Requests left this minute"),
                ("x-ratelimit-limit-tokens" = u64, description = "A limited key's tokens per minute"),
                ("x-ratelimit-remaining-tokens" = u64, description = "Tokens left this minute"),
            )),
        crate::openapi::OpenAiInferenceErrors,
    )
)]
pub async fn chat_completions(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    req: axum::extract::Request,
) -> Response {
    serve(st, rid, req, Ingress::OpenAiChat).await
}

/// `POST /chat/completions`: the same without the `/v1` prefix (clients whose base URL
/// lacks it).
#[utoipa::path(
    post,
    path = "/chat/completions",
    tag = "inference",
    operation_id = "createChatCompletionUnversioned",
    summary = "Alias of POST /v1/chat/completions",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(
        ("x-switchyard-fallbacks" = Option<String>, Header, description = "Comma-separated models to fall back to, in order"),
    ),
    request_body(content = crate::openapi::schemas::ChatCompletionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The completion; with `stream: true` a stream of `ChatCompletionChunk` events",
            content(
                (crate::openapi::schemas::ChatCompletion = "application/json"),
                (String = "text/event-stream"),
            ),
            headers(
                ("x-request-id" = String, description = "The request's id (a client-sent one is kept)"),
                ("x-switchyard-deployment" = String, description = "`provider/model` that served"),
                ("x-switchyard-attempts" = u32, description = "Upstream attempts made"),
                ("x-switchyard-fallback" = String, description = "The public model that served, when a fallback did"),
                ("x-switchyard-cost-usd" = String, description = "Cost in USD (non-streamed answers)"),
                ("x-switchyard-overhead-ms" = String, description = "The gateway's own time (non-streamed answers)"),
                ("x-ratelimit-limit-requests" = u64, description = "A limited key's requests per minute"),
                ("x-ratelimit-remaining-requests" = u64, description = "Requests left this minute"),
                ("x-ratelimit-limit-tokens" = u64, description = "A limited key's tokens per minute"),
                ("x-ratelimit-remaining-tokens" = u64, description = "Tokens left this minute"),
            )),
        crate::openapi::OpenAiInferenceErrors,
    )
)]
pub async fn chat_completions_unversioned(
    st: State<AppState>,
    rid: Extension<RequestId>,
    req: axum::extract::Request,
) -> Response {
    chat_completions(st, rid, req).await
}

/// `POST /v1/messages`: the Anthropic Messages API, served by any provider.
#[utoipa::path(
    post,
    path = "/v1/messages",
    tag = "inference",
    operation_id = "createMessage",
    summary = "Anthropic Messages, stream and non-stream, any provider",
    description = "Anthropic upstreams get the request as it is; others through the canonical model. With `stream: true` the answer is Anthropic's `text/event-stream` (`message_start` … `message_stop`). Errors are in Anthropic's shape.",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    params(
        ("anthropic-version" = Option<String>, Header, description = "Accepted and ignored (the gateway sets its own upstream)"),
    ),
    request_body(content = crate::openapi::schemas::MessagesRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The message; with `stream: true` a stream of Messages events",
            content(
                (crate::openapi::schemas::MessagesResponse = "application/json"),
                (String = "text/event-stream"),
            ),
            headers(
                ("x-request-id" = String, description = "The request's id (a client-sent one is kept)"),
                ("x-switchyard-deployment" = String, description = "`provider/model` that served"),
                ("x-switchyard-attempts" = u32, description = "Upstream attempts made"),
                ("x-switchyard-fallback" = String, description = "The public model that served, when a fallback did"),
                ("x-switchyard-cost-usd" = String, description = "Cost in USD (non-streamed answers)"),
                ("x-switchyard-overhead-ms" = String, description = "The gateway's own time (non-streamed answers)"),
                ("x-ratelimit-limit-requests" = u64, description = "A limited key's requests per minute"),
                ("x-ratelimit-remaining-requests" = u64, description = "Requests left this minute"),
                ("x-ratelimit-limit-tokens" = u64, description = "A limited key's tokens per minute"),
                ("x-ratelimit-remaining-tokens" = u64, description = "Tokens left this minute"),
            )),
        crate::openapi::AnthropicInferenceErrors,
    )
)]
pub async fn messages(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    req: axum::extract::Request,
) -> Response {
    serve(st, rid, req, Ingress::AnthropicMessages).await
}

/// `POST /v1/responses`: the OpenAI Responses API, served by any provider.
#[utoipa::path(
    post,
    path = "/v1/responses",
    tag = "inference",
    operation_id = "createResponse",
    summary = "OpenAI Responses API, any provider",
    description = "Stream (`stream: true`, `text/event-stream` of Responses events) or not. The request's `model` is a public model name or `provider/model`.",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    request_body(content = crate::openapi::schemas::ResponsesRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The response; a stream of events with `stream: true`",
            content(
                (crate::openapi::schemas::ResponsesResponse = "application/json"),
                (String = "text/event-stream"),
            ),
            headers(
                ("x-request-id" = String, description = "The request's id (a client-sent one is kept)"),
                ("x-switchyard-deployment" = String, description = "`provider/model` that served"),
                ("x-switchyard-attempts" = u32, description = "Upstream attempts made"),
                ("x-switchyard-fallback" = String, description = "The public model that served, when a fallback did"),
                ("x-switchyard-cost-usd" = String, description = "Cost of a non-streamed answer"),
                ("x-switchyard-overhead-ms" = String, description = "The gateway's own time"),
            )),
        crate::openapi::OpenAiInferenceErrors,
    )
)]
pub async fn responses(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    req: axum::extract::Request,
) -> Response {
    serve(st, rid, req, Ingress::Responses).await
}

/// One inference request in the client's format `ingress`, through the attempt loop.
async fn serve(
    st: AppState,
    rid: RequestId,
    req: axum::extract::Request,
    ingress: Ingress,
) -> Response {
    let started = Instant::now();
    let shape = ingress.error_shape();
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let peer = peer_ip(&parts.extensions);
    let principal = match st.policy.authenticate(&headers) {
        Ok(p) => p,
        Err(e) => return rejected(&st, &rid, "", e, started, shape, ingress.endpoint()),
    };
    let bytes = match read_body(body, &headers, st.max_body).await {
        Ok(b) => b,
        Err(e) => return rejected(&st, &rid, "", e, started, shape, ingress.endpoint()),
    };
    let peeked = match ingress {
        Ingress::Responses => fastpath::peek_object(&bytes),
        _ => fastpath::peek(&bytes),
    };
    let peek = match peeked {
        Ok(p) => p,
        Err(e) => {
            let e = ApiError::bad_request(e.message, e.param);
            return rejected(&st, &rid, "", e, started, shape, ingress.endpoint());
        }
    };
    // Other formats than OpenAI's are decoded whole at once: they never take the
    // OpenAI fast path, and a malformed request is refused before anything else.
    let canonical = OnceLock::new();
    let mut stored = None;
    match ingress {
        Ingress::OpenAiChat => {}
        Ingress::AnthropicMessages => match anthropic::decode_messages_request(&bytes) {
            Ok(r) => {
                let _ = canonical.set(Ok(r));
            }
            Err(e) => {
                let e = ApiError::bad_request(e.message, e.param);
                return rejected(
                    &st,
                    &rid,
                    &peek.model,
                    e,
                    started,
                    shape,
                    ingress.endpoint(),
                );
            }
        },
        Ingress::Responses => match responses_turn(&st, &bytes, &principal).await {
            Ok((r, turn)) => {
                let _ = canonical.set(Ok(r));
                stored = Some(turn);
            }
            Err(e) => {
                return rejected(
                    &st,
                    &rid,
                    &peek.model,
                    e,
                    started,
                    shape,
                    ingress.endpoint(),
                )
            }
        },
    }
    let request_list = match request_fallbacks(peek.raw("models"), &peek.model, &headers) {
        Ok(l) => l,
        Err(e) => {
            return rejected(
                &st,
                &rid,
                &peek.model,
                e,
                started,
                shape,
                ingress.endpoint(),
            )
        }
    };
    let catalog = st.catalog.load_full();
    let Some(mut resolved) = catalog.resolve(&peek.model) else {
        let e = ApiError::model_not_found(&peek.model);
        return rejected(
            &st,
            &rid,
            &peek.model,
            e,
            started,
            shape,
            ingress.endpoint(),
        );
    };
    if let Err(e) = st.policy.authorize_model(&principal, &peek.model) {
        return rejected(
            &st,
            &rid,
            &peek.model,
            e,
            started,
            shape,
            ingress.endpoint(),
        );
    }
    let prompt_raw = prompt_raw(&peek, ingress);
    let traits = traits(&peek, &headers, &prompt_raw, ingress);
    let mut serving = peek.model.to_string();
    // Conditional routing: the first rule whose conditions hold sends the request to
    // its model (a rule never chains into another model's rules).
    if let Resolved::Public(m) = &resolved {
        if let Some(rule) = m.route_if.iter().find(|r| plan::matches(&r.when, &traits)) {
            if let Some(r) = catalog.resolve(&rule.model) {
                if let Err(e) = st.policy.authorize_model(&principal, &rule.model) {
                    return rejected(
                        &st,
                        &rid,
                        &peek.model,
                        e,
                        started,
                        shape,
                        ingress.endpoint(),
                    );
                }
                serving = rule.model.clone();
                resolved = r;
            }
        }
    }
    let ask = Ask {
        stream: peek.stream,
        prompt_tokens: traits.prompt_tokens,
        max_output: explicit_max_output(&peek, ingress).unwrap_or(DEFAULT_OUTPUT_ESTIMATE),
        now_ms: now_ms(),
    };
    let call = Call {
        st: &st,
        rid: &rid,
        op: Op::Chat {
            ingress,
            peek: &peek,
        },
        bytes: &bytes,
        canonical,
        turn: stored,
        forward: forwarded_headers(&headers),
        started,
        attempt_log: std::sync::Mutex::new(Vec::new()),
        trace: st.trace_context(&headers),
        forward_trace: headers.contains_key("traceparent"),
    };
    let mut log = RequestLog::new(
        &st.sinks,
        rid.as_str(),
        &peek.model,
        "",
        peek.stream,
        started,
    );
    log.endpoint = ingress.endpoint();
    note_client(&mut log, &headers, peer);
    log.tags.clone_from(&traits.tags);
    log.metadata = peek
        .raw("metadata")
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
        .filter(serde_json::Value::is_object);
    log.trace = Some(call.trace);
    let size_of = |key: &crate::governance::keys::KeyEntry| {
        Size::measure(
            key,
            peek.raw(ingress.messages_field()).unwrap_or("[]"),
            ingress.system_field().and_then(|f| peek.raw(f)),
            peek.raw("tools"),
            explicit_max_output(&peek, ingress),
            traits.prompt_tokens,
        )
    };
    let routing = Routing {
        principal: &principal,
        catalog,
        resolved,
        serving,
        request_list,
        ask,
    };
    run(&call, log, routing, size_of).await
}

/// What a route's front decided: who asks, for which model (after conditional
/// routing), with which fallbacks, and the request's size for the pool's pick.
pub(crate) struct Routing<'p> {
    pub principal: &'p Principal,
    pub catalog: Arc<crate::catalog::Catalog>,
    pub resolved: Resolved,
    pub serving: String,
    pub request_list: Vec<String>,
    pub ask: Ask,
}

/// The part every route shares once its front decoded the request: governance
/// admission, the attempt loop with its fallbacks, and the answer.
pub(crate) async fn run(
    call: &Call<'_>,
    mut log: RequestLog,
    routing: Routing<'_>,
    size_of: impl FnOnce(&crate::governance::keys::KeyEntry) -> Size,
) -> Response {
    let Routing {
        principal,
        catalog,
        mut resolved,
        mut serving,
        request_list,
        ask,
    } = routing;
    // The model after conditional routing: a different one serving later is a fallback.
    let routed = serving.clone();
    // Governance: a virtual key's limits and budget admit the request (or refuse it)
    // before anything is sent; the reservation is settled when the record is emitted.
    if let Some(key) = principal.key() {
        log.key_id = Some(key.id.clone());
        if key.has_limits() {
            let size = size_of(key);
            let admitted = match &call.st.limits {
                Some(redis) => {
                    admission::admit_shared(
                        redis,
                        key,
                        &resolved,
                        &size,
                        call.rid.as_str(),
                        now_ms(),
                    )
                    .await
                }
                None => admission::admit(key, &resolved, &size, now_ms()),
            };
            match admitted {
                Ok(a) => log.admitted = Some(a),
                Err(e) => {
                    log.status = e.status.as_u16();
                    log.outcome = Outcome::Rejected;
                    log.error_class = Some(if e.status == StatusCode::PAYMENT_REQUIRED {
                        "budget_exceeded"
                    } else {
                        "rate_limited"
                    });
                    return e.respond(call.shape());
                }
            }
        }
    }
    let allowed_limits = log.admitted.as_ref().map(|a| a.allowed);
    // Bodies for the ledger, when this request's model, key or the config asks.
    let keep_bodies = call.st.bodies.all
        || matches!(&resolved, Resolved::Public(m) if m.log_bodies)
        || principal.key().is_some_and(|k| k.log_bodies);
    if keep_bodies {
        log.request_body = Some(call.st.bodies.render(call.bytes));
    }
    let mut visited = vec![serving.clone()];
    let counter = AtomicU32::new(0);
    let mut response = loop {
        let result = run_pool(call, &resolved, &ask, &counter).await;
        let attempts = counter.load(Ordering::Relaxed);
        if let Ok(mut a) = call.attempt_log.lock() {
            log.attempt_log.append(&mut a);
        }
        match result {
            Ok(served) => {
                let fallback = (serving != routed).then_some(serving.as_str());
                log.served_model = fallback.map(str::to_string);
                break commit(call, served, log, attempts, fallback, keep_bodies);
            }
            Err(Failure::Rejected(e)) => {
                log.attempts = attempts;
                log.status = e.status.as_u16();
                log.outcome = Outcome::Rejected;
                break e.respond(call.shape());
            }
            Err(failure) => {
                let (class, label) = match &failure {
                    Failure::Upstream(e, d) => (e.class, d.label.clone()),
                    // Nothing available in the pool is the pool's (server-side) failure.
                    _ => (ErrorClass::Server, String::new()),
                };
                let allowed = |name: &str| call.st.policy.authorize_model(principal, name).is_ok();
                let next = plan::next_model(
                    &catalog,
                    &resolved,
                    class,
                    &request_list,
                    &visited,
                    &allowed,
                );
                if let Some((name, r)) = next {
                    tracing::debug!(
                        request_id = call.rid.as_str(),
                        from = %serving,
                        to = %name,
                        class = class.as_str(),
                        deployment = %label,
                        "falling back"
                    );
                    visited.push(name.clone());
                    serving = name;
                    resolved = r;
                    continue;
                }
                log.attempts = attempts;
                break match failure {
                    Failure::Upstream(e, d) => {
                        log.deployment.clone_from(&d.label);
                        log.provider_kind = d.provider.kind.as_str();
                        log.price = d.pricing;
                        upstream_failed(&mut log, &e, &d, attempts, call.shape())
                    }
                    Failure::Unavailable(message, retry_after) => {
                        let mut e = ApiError::unavailable(message);
                        e.retry_after = Some(u32::try_from(retry_after.max(1)).unwrap_or(u32::MAX));
                        log.status = e.status.as_u16();
                        log.outcome = Outcome::UpstreamError;
                        log.error_class = Some("unavailable");
                        e.respond(call.shape())
                    }
                    Failure::Rejected(e) => e.respond(call.shape()),
                };
            }
        }
    };
    if let Some(allowed) = &allowed_limits {
        admission::ratelimit_headers(response.headers_mut(), allowed);
    }
    response
}

/// What a request asks for: a chat in one of the chat APIs, or a media operation.
pub(crate) enum Op<'a> {
    Chat {
        ingress: Ingress,
        peek: &'a ChatPeek<'a>,
    },
    Media(&'a super::media::MediaCall),
}

/// One request's inputs, shared by its attempts.
pub(crate) struct Call<'a> {
    pub(crate) st: &'a AppState,
    pub(crate) rid: &'a RequestId,
    pub(crate) op: Op<'a>,
    pub(crate) bytes: &'a Bytes,
    /// The request in the canonical model: decoded up front for other formats than
    /// OpenAI's, else once, on the first attempt that needs translation.
    canonical: OnceLock<Result<ChatRequest, ApiError>>,
    /// A Responses API request: its response's identity and what to store of it.
    turn: Option<Turn>,
    /// The client's headers of a provider's own API, for a native upstream
    /// (`anthropic-beta`).
    forward: HeaderMap,
    pub(crate) started: Instant,
    /// Every attempt, for the request's record (a mutex: hedged attempts run side by
    /// side in one task).
    attempt_log: std::sync::Mutex<Vec<crate::observe::AttemptRecord>>,
    trace: crate::observe::TraceContext,
    /// The client sent a `traceparent`: each attempt forwards it, as its child.
    forward_trace: bool,
}

impl<'a> Call<'a> {
    /// A request's inputs, for a route without chat-specific state.
    pub(crate) fn new(
        st: &'a AppState,
        rid: &'a RequestId,
        op: Op<'a>,
        bytes: &'a Bytes,
        headers: &HeaderMap,
        started: Instant,
    ) -> Self {
        Call {
            st,
            rid,
            op,
            bytes,
            canonical: OnceLock::new(),
            turn: None,
            forward: HeaderMap::new(),
            started,
            attempt_log: std::sync::Mutex::new(Vec::new()),
            trace: st.trace_context(headers),
            forward_trace: headers.contains_key("traceparent"),
        }
    }

    pub(crate) fn trace(&self) -> crate::observe::TraceContext {
        self.trace
    }

    fn record_attempt(
        &self,
        d: &Deployment,
        result: &Result<Served, Failure>,
        started: Instant,
        span_id: [u8; 8],
    ) {
        let (status, error_class) = match result {
            Ok(Served::Json { status, .. }) => (Some(status.as_u16()), None),
            Ok(_) => (Some(200), None),
            Err(Failure::Upstream(e, _)) => (e.status, Some(e.class.as_str())),
            Err(Failure::Rejected(e)) => (Some(e.status.as_u16()), Some("rejected")),
            Err(Failure::Unavailable(..)) => (None, Some("unavailable")),
        };
        if let Ok(mut log) = self.attempt_log.lock() {
            log.push(crate::observe::AttemptRecord {
                offset: started.saturating_duration_since(self.started),
                span_id,
                deployment: d.label.clone(),
                provider_kind: d.provider.kind.as_str(),
                status,
                error_class,
                latency: started.elapsed(),
            });
        }
    }
}

impl Call<'_> {
    /// The error shape of the client's API.
    pub(crate) fn shape(&self) -> ErrorShape {
        match &self.op {
            Op::Chat { ingress, .. } => ingress.error_shape(),
            Op::Media(_) => ErrorShape::OpenAi,
        }
    }

    fn canonical(&self) -> Result<&ChatRequest, ApiError> {
        self.canonical
            .get_or_init(|| {
                openai::decode_request(self.bytes)
                    .map_err(|e| ApiError::bad_request(e.message, e.param))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// What an attempt produced, not yet committed to the client.
pub(crate) enum Served {
    Json {
        status: StatusCode,
        content_type: Option<HeaderValue>,
        body: Bytes,
        usage: Option<Usage>,
        /// Media units billed besides tokens.
        units: MediaUnits,
        upstream_elapsed: Duration,
        deployment: Arc<Deployment>,
    },
    /// Audio bytes streamed through as they arrive (speech); billed by the
    /// characters asked for, known before the first byte.
    Audio(Box<AudioServed>),
    /// Primed: its first token arrived (or it ended cleanly).
    Relay(Box<Relay>, Arc<Deployment>),
    Translated(Box<TranslateRelay>, Arc<Deployment>),
}

/// Speech being streamed through (see [`Served::Audio`]).
pub(crate) struct AudioServed {
    pub body: hyper::body::Incoming,
    pub content_type: HeaderValue,
    pub units: MediaUnits,
    pub inflight: InflightGuard,
    pub deployment: Arc<Deployment>,
}

pub(crate) enum Failure {
    /// The gateway refuses the request itself (it cannot be expressed for the provider).
    Rejected(ApiError),
    Upstream(UpstreamError, Arc<Deployment>),
    /// No deployment could take the request: message and seconds to retry after.
    Unavailable(String, u64),
}

/// One public model's pool: picks, keys, retries.
async fn run_pool(
    call: &Call<'_>,
    resolved: &Resolved,
    ask: &Ask,
    attempts: &AtomicU32,
) -> Result<Served, Failure> {
    let settings = call.st.router;
    let mut tried: Vec<usize> = Vec::new();
    let mut last: Option<Failure> = None;
    for retry in 0..=settings.retries {
        let ask = Ask {
            now_ms: now_ms(),
            ..*ask
        };
        let (first, probe) = match resolved {
            Resolved::Public(m) => match pick(m, &ask, &tried) {
                Some(p) => (p.deployment, p.probe),
                None => break,
            },
            Resolved::Direct(d) => (d.clone(), false),
        };
        tried.push(first.index);
        let _probe = probe.then(|| ProbeGuard(first.clone()));
        let hedge = match resolved {
            Resolved::Public(m) => m.hedge_after,
            Resolved::Direct(_) => None,
        };
        let result = match (hedge, resolved) {
            (Some(after), Resolved::Public(m)) => {
                hedged(call, m, &first, &ask, &mut tried, after, attempts).await
            }
            _ => attempt_with_keys(call, &first, attempts).await,
        };
        let e = match result {
            Ok(served) => return Ok(served),
            Err(Failure::Upstream(e, d)) => {
                let retryable = e.class.retryable();
                last = Some(Failure::Upstream(e, d));
                if !retryable {
                    break;
                }
                match &last {
                    Some(Failure::Upstream(e, _)) => e.clone(),
                    _ => break,
                }
            }
            Err(other) => return Err(other),
        };
        if retry == settings.retries {
            break;
        }
        // Another deployment is ready: go at once. Else wait as the provider asked
        // (or back off), unless that is longer than worth waiting.
        let other_ready = match resolved {
            Resolved::Public(m) => m.deployments.iter().any(|d| {
                !tried.contains(&d.index)
                    && matches!(
                        d.health.availability(now_ms()),
                        crate::router::health::Availability::Healthy
                    )
            }),
            Resolved::Direct(_) => false,
        };
        if !other_ready {
            match backoff::wait(retry, e.retry_after_ms, settings.max_retry_wait) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => break,
            }
        }
    }
    Err(last.unwrap_or_else(|| unavailable(resolved)))
}

/// Releases a half-open probe claim whatever happens to the attempt (the health
/// record releases it too; this covers a client that went away mid-probe).
struct ProbeGuard(Arc<Deployment>);

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        self.0.health.release_probe();
    }
}

/// Every deployment of the pool is cooling down or at its own limits.
fn unavailable(resolved: &Resolved) -> Failure {
    let now = now_ms();
    let (name, soonest) = match resolved {
        Resolved::Public(m) => (
            m.name.as_str(),
            m.deployments
                .iter()
                .filter_map(|d| match d.health.availability(now) {
                    crate::router::health::Availability::CoolingDown { until_ms } => {
                        Some(until_ms.saturating_sub(now))
                    }
                    _ => None,
                })
                .min()
                .unwrap_or(1000),
        ),
        Resolved::Direct(d) => (d.label.as_str(), 1000),
    };
    Failure::Unavailable(
        format!(
            "model `{name}` has no healthy deployment right now (all cooling down or at their \
             rate limits); retry shortly"
        ),
        soonest.div_ceil(1000),
    )
}

/// An attempt raced by a second deployment after `after` without a first token.
async fn hedged(
    call: &Call<'_>,
    model: &crate::catalog::PublicModel,
    first: &Arc<Deployment>,
    ask: &Ask,
    tried: &mut Vec<usize>,
    after: Duration,
    attempts: &AtomicU32,
) -> Result<Served, Failure> {
    let primary = attempt_with_keys(call, first, attempts);
    tokio::pin!(primary);
    let early = tokio::select! {
        r = &mut primary => Some(r),
        _ = tokio::time::sleep(after) => None,
    };
    if let Some(r) = early {
        return r;
    }
    let Some(second) = pick(model, ask, tried).filter(|p| p.deployment.index != first.index) else {
        return primary.await;
    };
    tried.push(second.deployment.index);
    let _probe = second.probe.then(|| ProbeGuard(second.deployment.clone()));
    let backup = attempt_with_keys(call, &second.deployment, attempts);
    tokio::pin!(backup);
    // The first success wins; the loser's future is dropped, which cancels its
    // upstream request. A failure waits for the other attempt.
    let result = tokio::select! {
        r = &mut primary => match r {
            Ok(s) => Ok(s),
            Err(_) => backup.await,
        },
        r = &mut backup => match r {
            Ok(s) => Ok(s),
            Err(_) => primary.await,
        },
    };
    result
}

/// One deployment, moving through its provider's key pool on 429 and 401.
async fn attempt_with_keys(
    call: &Call<'_>,
    d: &Arc<Deployment>,
    attempts: &AtomicU32,
) -> Result<Served, Failure> {
    let provider = &d.provider;
    loop {
        let now = now_ms();
        let key = provider.pick_key(now);
        if let KeyPick::Exhausted { until_ms } = key {
            let mut e = UpstreamError::new(
                ErrorClass::RateLimit,
                None,
                format!(
                    "every API key of provider `{}` is set aside after rate limiting or \
                     rejection",
                    provider.name
                ),
            );
            e.retry_after_ms = Some(until_ms.saturating_sub(now));
            return Err(Failure::Upstream(e, d.clone()));
        }
        attempts.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let span_id = crate::observe::new_span_id();
        let result = attempt(call, d, key.key(), span_id).await;
        call.record_attempt(d, &result, started, span_id);
        let settings = call.st.router;
        match result {
            Ok(served) => {
                let ttft = match &served {
                    Served::Json { .. } => None,
                    _ => Some(started.elapsed()),
                };
                let t = d.health.record_success(ttft, started.elapsed());
                announce(call.st, d, t);
                return Ok(served);
            }
            Err(Failure::Upstream(e, dep)) => {
                // A key the provider refused or throttled is set aside, and the next
                // key is used at once when there is one.
                if let KeyPick::Key { index, .. } = key {
                    if provider.key_count() > 1
                        && matches!(e.class, ErrorClass::RateLimit | ErrorClass::Auth)
                    {
                        let until = if e.class == ErrorClass::Auth {
                            u64::MAX
                        } else {
                            now.saturating_add(e.retry_after_ms.unwrap_or(
                                u64::try_from(settings.cooldown.as_millis()).unwrap_or(30_000),
                            ))
                        };
                        provider.set_aside(index, until);
                        if provider.keys_available(now_ms()) > 0 {
                            tracing::debug!(
                                deployment = %d.label,
                                key = index,
                                class = e.class.as_str(),
                                "key set aside; trying the next key"
                            );
                            continue;
                        }
                    }
                }
                // Only failures of the deployment's side count against its health.
                if e.class.retryable() || e.class == ErrorClass::Auth {
                    let t = d.health.record_failure(
                        settings.allowed_failures,
                        settings.cooldown,
                        now_ms(),
                    );
                    announce(call.st, d, t);
                }
                return Err(Failure::Upstream(e, dep));
            }
            Err(other) => return Err(other),
        }
    }
}

/// Tells other replicas about a health transition (when shared state is configured).
fn announce(st: &AppState, d: &Deployment, t: Transition) {
    match t {
        Transition::None => {}
        Transition::CooledDown(until) => {
            tracing::warn!(deployment = %d.label, until_ms = until, "deployment cooling down");
            st.announce_cooldown(&d.label, until);
        }
        Transition::Recovered => {
            tracing::info!(deployment = %d.label, "deployment recovered");
            st.announce_cooldown(&d.label, 0);
        }
    }
}

/// One upstream attempt on deployment `d` with `key`. Streams are primed: they come
/// back only once their first token arrived.
async fn attempt(
    call: &Call<'_>,
    d: &Arc<Deployment>,
    key: Option<&str>,
    span_id: [u8; 8],
) -> Result<Served, Failure> {
    let provider = &d.provider;
    let (ingress, peek) = match &call.op {
        Op::Chat { ingress, peek } => (*ingress, *peek),
        Op::Media(m) => return super::media::attempt(call, m, d, key, span_id).await,
    };
    let stream = peek.stream;
    let fast = provider
        .fast
        .as_ref()
        .filter(|_| ingress == Ingress::OpenAiChat)
        // Hosts that reject `stream_options` stream through the canonical encoder,
        // which puts their unasked usage where an OpenAI client looks for it.
        .filter(|f| !stream || f.quirks.stream_options);
    // The client speaks the provider's own API: forwarded untranslated.
    let native =
        ingress == Ingress::AnthropicMessages && provider.wire == WireFormat::AnthropicMessages;
    let upstream_req = match fast {
        _ if native => {
            let body = Bytes::from(peek.upstream_body_with(&d.model, &NATIVE_BODY));
            match providers::native_request(
                provider,
                "v1/messages",
                body,
                &d.model,
                key,
                &call.forward,
            ) {
                Some(r) => r,
                None => {
                    return Err(Failure::Rejected(ApiError::bad_request(
                        format!("{} cannot take this request natively", provider.display),
                        None,
                    )))
                }
            }
        }
        Some(fast) => {
            if let Err(e) = peek.check(&fast.quirks, provider.display) {
                return Err(Failure::Rejected(ApiError::bad_request(e.message, e.param)));
            }
            let body = Bytes::from(peek.upstream_body_with(&d.model, &fast.quirks));
            providers::fast_request(provider, fast, &d.model, key, body)
        }
        None => {
            let request = call.canonical().map_err(Failure::Rejected)?;
            match providers::canonical_request(provider, request, &d.model, key, d.timeout).await {
                Ok(Ok(r)) => r,
                Ok(Err(AdapterError::Unsupported { param, message })) => {
                    return Err(Failure::Rejected(ApiError::bad_request(
                        message,
                        Some(param),
                    )))
                }
                Ok(Err(e)) => {
                    return Err(Failure::Rejected(ApiError::bad_request(
                        e.to_string(),
                        None,
                    )))
                }
                Err(e) => return Err(Failure::Upstream(e, d.clone())),
            }
        }
    };
    let mut upstream_req = upstream_req;
    if call.forward_trace || call.st.tracing_enabled() {
        if let Ok(v) = HeaderValue::from_str(&call.trace.traceparent(span_id)) {
            upstream_req.headers.insert("traceparent", v);
        }
    }
    let fail = |e: UpstreamError| Failure::Upstream(e, d.clone());
    let inflight = InflightGuard::new(call.st, d);
    d.limits.record_request(now_ms());
    let upstream_started = Instant::now();
    let head_timeout = if stream {
        d.first_token_timeout
    } else {
        d.timeout
    };
    let http = call.st.client_for(d.connect_timeout);
    let resp = upstream::send(http, upstream_req, call.rid.as_str(), head_timeout)
        .await
        .map_err(fail)?;
    let status = resp.status();
    if !status.is_success() {
        let (parts, body) = resp.into_parts();
        let remaining = d.timeout.saturating_sub(upstream_started.elapsed());
        let body = upstream::read_limited(body, MAX_ERROR_BODY, remaining).await;
        let e = provider
            .adapter
            .classify_error(status.as_u16(), &parts.headers, &body);
        return Err(fail(e));
    }

    if stream {
        let deadline = tokio::time::Instant::from_std(upstream_started + d.first_token_timeout);
        let detached = RequestLog::detached(call.started);
        if fast.is_some() && !native {
            let strip_usage = !peek.include_usage;
            let skip_prelude = fast.is_some_and(|f| f.azure.is_some());
            let mut relay = Relay::new(resp, strip_usage, d.clone(), detached, inflight)
                .skip_empty_prelude(skip_prelude);
            relay.prime(deadline).await.map_err(fail)?;
            return Ok(Served::Relay(Box::new(relay), d.clone()));
        }
        let encoder = if native {
            ClientEncoder::Passthrough(ingress.error_shape())
        } else {
            let request = call.canonical().map_err(Failure::Rejected)?;
            match ingress {
                Ingress::OpenAiChat => ClientEncoder::OpenAi(openai::OpenAiStreamEncoder::new(
                    &d.model,
                    request.include_usage,
                )),
                Ingress::AnthropicMessages => ClientEncoder::Anthropic(Box::new(
                    anthropic::AnthropicStreamEncoder::new(&d.model),
                )),
                Ingress::Responses => {
                    let turn = call.turn.as_ref().ok_or_else(|| {
                        Failure::Rejected(ApiError::bad_request("not a Responses request", None))
                    })?;
                    let mut meta = turn.meta.clone();
                    meta.model.clone_from(&d.model);
                    ClientEncoder::Responses(Box::new(ResponsesStream {
                        encoder: responses::ResponsesStreamEncoder::new(meta),
                        save: turn.pending(call.st, &d.model),
                    }))
                }
            }
        };
        let identity = StreamIdentity {
            id: format!("{}{}", ingress.id_prefix(), call.rid.as_str()),
            model: d.model.clone(),
            created: unix_now(),
        };
        let mut relay = TranslateRelay::new(
            resp,
            provider.adapter.stream_decoder(),
            provider.wire,
            encoder,
            identity,
            d.clone(),
            detached,
            inflight,
        );
        relay.prime(deadline).await.map_err(fail)?;
        return Ok(Served::Translated(Box::new(relay), d.clone()));
    }

    let (parts, body) = resp.into_parts();
    let remaining = d.timeout.saturating_sub(upstream_started.elapsed());
    let body = upstream::read_body(body, remaining).await.map_err(fail)?;
    let upstream_elapsed = upstream_started.elapsed();
    drop(inflight);
    if native {
        // Read for its usage only; the client gets the provider's bytes.
        let usage = provider.adapter.parse_response(&body).ok().map(|r| r.usage);
        return Ok(Served::Json {
            status,
            content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
            body,
            usage,
            units: MediaUnits::default(),
            upstream_elapsed,
            deployment: d.clone(),
        });
    }
    if fast.is_some() {
        let usage = usage::response_usage(&body);
        return Ok(Served::Json {
            status,
            content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
            body,
            usage,
            units: MediaUnits::default(),
            upstream_elapsed,
            deployment: d.clone(),
        });
    }
    let mut parsed = provider.adapter.parse_response(&body).map_err(|e| {
        fail(UpstreamError::new(
            ErrorClass::Server,
            Some(status.as_u16()),
            e.to_string(),
        ))
    })?;
    if parsed.id.is_empty() {
        parsed.id = format!("{}{}", ingress.id_prefix(), call.rid.as_str());
    }
    if parsed.created == 0 {
        parsed.created = unix_now();
    }
    if parsed.model.is_empty() {
        parsed.model.clone_from(&d.model);
    }
    // Named as the provider named the model that answered, as on the fast path.
    let out = match ingress {
        Ingress::OpenAiChat => openai::encode_response(&parsed, &parsed.model),
        Ingress::AnthropicMessages => anthropic::encode_messages_response(&parsed, &parsed.model),
        Ingress::Responses => match &call.turn {
            Some(turn) => turn.finish(call.st, &parsed).await,
            None => openai::encode_response(&parsed, &parsed.model),
        },
    };
    Ok(Served::Json {
        status,
        content_type: None,
        body: Bytes::from(out),
        usage: Some(parsed.usage),
        units: MediaUnits::default(),
        upstream_elapsed,
        deployment: d.clone(),
    })
}

/// Hands the served attempt to the client, with the request's record.
fn commit(
    call: &Call<'_>,
    served: Served,
    mut log: RequestLog,
    attempts: u32,
    fallback: Option<&str>,
    keep_bodies: bool,
) -> Response {
    log.attempts = attempts;
    let (mut response, deployment) = match served {
        Served::Json {
            status,
            content_type,
            body,
            usage,
            units,
            upstream_elapsed,
            deployment,
        } => {
            log.units = units;
            log.deployment.clone_from(&deployment.label);
            log.provider_kind = deployment.provider.kind.as_str();
            log.price = deployment.pricing;
            log.status = status.as_u16();
            log.usage = usage;
            log.upstream_latency = Some(upstream_elapsed);
            log.ttft = Some(call.started.elapsed());
            if let Some(u) = usage {
                deployment.limits.record_tokens(now_ms(), u.total_tokens);
            }
            if keep_bodies {
                log.response_body = Some(call.st.bodies.render(&body));
            }
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                content_type.unwrap_or_else(|| HeaderValue::from_static("application/json")),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("{:.8}", log.cost_usd())) {
                h.insert("x-switchyard-cost-usd", v);
            }
            let overhead = call.started.elapsed().saturating_sub(upstream_elapsed);
            if let Ok(v) = HeaderValue::from_str(&format!("{:.3}", overhead.as_secs_f64() * 1000.0))
            {
                h.insert("x-switchyard-overhead-ms", v);
            }
            log.finish();
            (response, deployment)
        }
        Served::Audio(audio) => {
            let AudioServed {
                body,
                content_type,
                units,
                inflight,
                deployment,
            } = *audio;
            log.units = units;
            log.deployment.clone_from(&deployment.label);
            log.provider_kind = deployment.provider.kind.as_str();
            log.price = deployment.pricing;
            log.status = 200;
            log.ttft = Some(call.started.elapsed());
            // Billed by what was asked for, so the record is complete now; the guard
            // keeps the deployment's in-flight count until the last byte.
            log.finish();
            let stream = http_body_util::BodyDataStream::new(body).map(move |chunk| {
                let _ = &inflight;
                chunk
            });
            let mut response = Response::new(Body::from_stream(stream));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
            (response, deployment)
        }
        Served::Relay(mut relay, deployment) => {
            if keep_bodies {
                relay.capture_body(call.st.bodies.max_bytes);
            }
            log.deployment.clone_from(&deployment.label);
            log.provider_kind = deployment.provider.kind.as_str();
            log.price = deployment.pricing;
            log.status = 200;
            relay.attach(log);
            (sse(Body::from_stream(relay.into_stream())), deployment)
        }
        Served::Translated(mut relay, deployment) => {
            if keep_bodies {
                relay.capture_body(call.st.bodies.max_bytes);
            }
            log.deployment.clone_from(&deployment.label);
            log.provider_kind = deployment.provider.kind.as_str();
            log.price = deployment.pricing;
            log.status = 200;
            relay.attach(log);
            (sse(Body::from_stream(relay.into_stream())), deployment)
        }
    };
    if let Some(model) = fallback {
        if let Ok(v) = HeaderValue::from_str(model) {
            response.headers_mut().insert("x-switchyard-fallback", v);
        }
    }
    routed(response, &deployment.label, attempts)
}

fn sse(body: Body) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The request's own fallback order: `"models": [...]` in the body (OpenRouter style)
/// and/or `x-switchyard-fallbacks: a, b` (the header's models come after the body's).
pub(crate) fn request_fallbacks(
    models_raw: Option<&str>,
    model: &str,
    headers: &HeaderMap,
) -> Result<Vec<String>, ApiError> {
    let mut list = Vec::new();
    if let Some(raw) = models_raw {
        match serde_json::from_str::<Option<Vec<String>>>(raw) {
            Ok(models) => list.extend(models.unwrap_or_default()),
            Err(_) => {
                return Err(ApiError::bad_request(
                    "`models` must be an array of model names to fall back to, in order",
                    Some("models".to_string()),
                ))
            }
        }
    }
    if let Some(v) = headers.get("x-switchyard-fallbacks") {
        let Ok(v) = v.to_str() else {
            return Err(ApiError::bad_request(
                "x-switchyard-fallbacks must be a comma-separated list of model names",
                None,
            ));
        };
        list.extend(
            v.split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string),
        );
    }
    list.retain(|m| m != model);
    Ok(list)
}

/// The prompt's raw JSON (for token estimates): the ingress's prompt fields, joined.
fn prompt_raw<'a>(peek: &'a ChatPeek<'_>, ingress: Ingress) -> std::borrow::Cow<'a, str> {
    let mut parts = ingress.prompt_fields().iter().filter_map(|f| peek.raw(f));
    let first = parts.next().unwrap_or("");
    match parts.next() {
        None => std::borrow::Cow::Borrowed(first),
        Some(second) => {
            let mut joined = String::with_capacity(first.len() + second.len() + 1);
            joined.push_str(first);
            joined.push('\n');
            joined.push_str(second);
            for more in parts {
                joined.push('\n');
                joined.push_str(more);
            }
            std::borrow::Cow::Owned(joined)
        }
    }
}

/// The client's headers that belong to a provider's own API and reach a native upstream.
pub(crate) fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for v in headers.get_all("anthropic-beta") {
        out.append("anthropic-beta", v.clone());
    }
    out
}

/// What conditional routing and the limits look at, read off the raw body.
fn traits(
    peek: &ChatPeek<'_>,
    headers: &HeaderMap,
    prompt: &str,
    ingress: Ingress,
) -> plan::Traits {
    let messages = prompt;
    let mut tags: Vec<String> = Vec::new();
    if let Some(raw) = peek.raw("metadata") {
        #[derive(serde::Deserialize)]
        struct Meta {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        if let Ok(m) = serde_json::from_str::<Meta>(raw) {
            tags.extend(m.tags.unwrap_or_default());
        }
    }
    if let Some(v) = headers
        .get("x-switchyard-tags")
        .and_then(|v| v.to_str().ok())
    {
        tags.extend(
            v.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        );
    }
    plan::Traits {
        prompt_tokens: plan::estimate_tokens(messages.len()),
        has_images: messages.contains(ingress.image_marker()),
        has_tools: peek
            .raw("tools")
            .is_some_and(|t| t.trim() != "[]" && t != "null"),
        tags,
    }
}

/// The connection's peer address.
pub(crate) fn peer_ip(extensions: &http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Records who made the request: the client's address (the first `X-Forwarded-For` hop
/// when a proxy set one, else the connection's peer) and its user agent.
pub(crate) fn note_client(
    log: &mut RequestLog,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
) {
    log.client_ip = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse().ok())
        .or(peer);
    log.user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(256).collect());
}

/// The output cap the request itself sets, if any.
fn explicit_max_output(peek: &ChatPeek<'_>, ingress: Ingress) -> Option<u64> {
    ingress
        .max_output_fields()
        .iter()
        .find_map(|k| peek.raw(k).and_then(|v| v.parse::<u64>().ok()))
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An upstream failure: recorded, logged when it is the provider's fault, and answered
/// in the contract's shape.
fn upstream_failed(
    log: &mut RequestLog,
    e: &UpstreamError,
    deployment: &Deployment,
    attempts: u32,
    shape: ErrorShape,
) -> Response {
    let secrets = deployment.provider.secrets();
    if e.class.retryable() {
        tracing::warn!(
            request_id = %log.request_id,
            deployment = %deployment.label,
            class = e.class.as_str(),
            error = %crate::error::redact(&e.message, &secrets),
            "upstream request failed"
        );
    }
    let api = ApiError::from_upstream(e, &deployment.label, &secrets);
    log.status = api.status.as_u16();
    log.outcome = Outcome::UpstreamError;
    log.error_class = Some(e.class.as_str());
    routed(api.respond(shape), &deployment.label, attempts)
}

/// A request the gateway answered itself, logged like any other.
pub(crate) fn rejected(
    st: &AppState,
    rid: &RequestId,
    model: &str,
    e: ApiError,
    started: Instant,
    shape: ErrorShape,
    endpoint: &'static str,
) -> Response {
    let mut log = RequestLog::new(&st.sinks, rid.as_str(), model, "", false, started);
    log.endpoint = endpoint;
    log.status = e.status.as_u16();
    log.outcome = Outcome::Rejected;
    log.finish();
    e.respond(shape)
}

/// Adds the routing headers of a response that went to a deployment.
fn routed(mut resp: Response, deployment: &str, attempts: u32) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(deployment) {
        h.insert("x-switchyard-deployment", v);
    }
    h.insert("x-switchyard-attempts", HeaderValue::from(attempts));
    resp
}

/// One turn of a Responses API conversation: the response's identity (its id is
/// chosen before any attempt, so a streamed and a stored answer agree) and, with
/// `store`, what to keep of it.
struct Turn {
    meta: ResponseMeta,
    store: bool,
    key_id: Option<String>,
    /// Earlier turns' items, then this request's input.
    conversation: Vec<serde_json::Value>,
}

impl Turn {
    fn record(&self, st: &AppState, model: &str) -> StoredResponse {
        let now = crate::response_store::now_ms();
        let ttl = i64::try_from(st.responses.ttl().as_millis()).unwrap_or(i64::MAX);
        StoredResponse {
            id: self.meta.id.clone(),
            key_id: self.key_id.clone(),
            model: model.to_string(),
            conversation: String::new(),
            response: String::new(),
            created_at_ms: now,
            expires_at_ms: now.saturating_add(ttl),
        }
    }

    /// What a stream stores when it completes (`None` without `store`).
    fn pending(&self, st: &AppState, model: &str) -> Option<PendingSave> {
        self.store.then(|| PendingSave {
            store: st.responses.clone(),
            record: self.record(st, model),
            conversation: self.conversation.clone(),
        })
    }

    /// The Response object of a finished non-streamed answer, stored first when asked
    /// (so a follow-up to any replica finds it). A failed write is logged, not fatal:
    /// the answer is not lost for it.
    async fn finish(
        &self,
        st: &AppState,
        parsed: &switchyard_adapters::canonical::ChatResponse,
    ) -> Vec<u8> {
        let mut meta = self.meta.clone();
        meta.model.clone_from(&parsed.model);
        let body = responses::encode_response(parsed, &meta);
        if self.store {
            let mut record = self.record(st, &parsed.model);
            let mut conversation = self.conversation.clone();
            conversation.extend(responses::output_items(parsed, &meta.id));
            record.conversation =
                serde_json::to_string(&conversation).unwrap_or_else(|_| "[]".into());
            record.response = String::from_utf8_lossy(&body).into_owned();
            if let Err(e) = st.responses.save(record).await {
                tracing::warn!(error = %e, response_id = %meta.id, "could not store a response");
            }
        }
        body
    }
}

/// Decodes a Responses API request and, with `previous_response_id`, puts the stored
/// conversation in front of it. A stored response can only be continued by the key
/// that created it (or the master key).
async fn responses_turn(
    st: &AppState,
    bytes: &[u8],
    principal: &Principal,
) -> Result<(ChatRequest, Turn), ApiError> {
    let req =
        responses::decode_request(bytes).map_err(|e| ApiError::bad_request(e.message, e.param))?;
    let key_id = principal.key().map(|k| k.id.clone());
    let mut conversation: Vec<serde_json::Value> = Vec::new();
    if let Some(prev) = &req.previous_response_id {
        let not_found = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("previous_response_not_found"),
                format!(
                    "Previous response with id '{prev}' not found: it was not stored \
                     (`store: false`), has expired, or belongs to another key."
                ),
            )
            .with_param(Some("previous_response_id".to_string()))
        };
        let found = st
            .responses
            .load(prev, crate::response_store::now_ms())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "could not read a stored response");
                ApiError::unavailable("the stored conversation could not be read; retry shortly")
            })?
            .ok_or_else(not_found)?;
        if key_id.is_some() && found.key_id != key_id {
            return Err(not_found());
        }
        conversation = serde_json::from_str(&found.conversation).unwrap_or_default();
    }
    let chat = responses::to_canonical(&req, &conversation)
        .map_err(|e| ApiError::bad_request(e.message, e.param))?;
    conversation.extend(req.input_items.iter().cloned());
    let id = format!("resp_{}", uuid::Uuid::now_v7().simple());
    let meta = ResponseMeta::new(&req, id, unix_now());
    Ok((
        chat,
        Turn {
            meta,
            store: req.store,
            key_id,
            conversation,
        },
    ))
}
