//! `POST /v1/chat/completions`.
//!
//! policy (auth) → body (size limit) → peek (validate, read model) → catalog (resolve,
//! scope) → router (pick a deployment) → adapter (build) → transport → relay.

use crate::catalog::Deployment;
use crate::error::ApiError;
use crate::observe::{Outcome, RequestLog};
use crate::providers;
use crate::relay::Relay;
use crate::routes::{read_body, RequestId};
use crate::state::{AppState, InflightGuard};
use crate::translate::{StreamIdentity, TranslateRelay};
use crate::upstream;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue};
use std::sync::Arc;
use std::time::Instant;
use switchyard_adapters::openai::{self, fastpath, usage};
use switchyard_adapters::AdapterError;

/// Upstream error bodies larger than this are cut (they are only read for a message).
const MAX_ERROR_BODY: usize = 256 * 1024;

pub async fn chat_completions(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let principal = match st.policy.authenticate(&headers) {
        Ok(p) => p,
        Err(e) => return rejected(&st, &rid, "", e, started),
    };
    let bytes = match read_body(body, &headers, st.max_body).await {
        Ok(b) => b,
        Err(e) => return rejected(&st, &rid, "", e, started),
    };
    let peek = match fastpath::peek(&bytes) {
        Ok(p) => p,
        Err(e) => {
            return rejected(
                &st,
                &rid,
                "",
                ApiError::bad_request(e.message, e.param),
                started,
            )
        }
    };
    let catalog = st.catalog.load();
    let Some(resolved) = catalog.resolve(&peek.model) else {
        return rejected(
            &st,
            &rid,
            &peek.model,
            ApiError::model_not_found(&peek.model),
            started,
        );
    };
    if let Err(e) = st.policy.authorize_model(&principal, &peek.model) {
        return rejected(&st, &rid, &peek.model, e, started);
    }
    let Some(deployment) = resolved.pick() else {
        let e = ApiError::unavailable(format!(
            "model `{}` has no deployment to route to",
            peek.model
        ));
        return rejected(&st, &rid, &peek.model, e, started);
    };
    let provider = &deployment.provider;
    let mut log = RequestLog::new(
        &st.sinks,
        rid.as_str(),
        &peek.model,
        &deployment.label,
        peek.stream,
        started,
    );
    let inflight = InflightGuard::new(&st, &deployment);

    // Another wire format goes through the canonical model; so do streams from hosts
    // that reject `stream_options` (their usage comes unasked on a content chunk, and
    // the canonical encoder puts it where an OpenAI client looks for it).
    let fast = match &provider.fast {
        Some(fast) if !peek.stream || fast.quirks.stream_options => fast,
        _ => {
            drop(peek);
            return translated(&st, &rid, bytes, deployment, log, inflight, started).await;
        }
    };
    if let Err(e) = peek.check(&fast.quirks, provider.display) {
        let e = ApiError::bad_request(e.message, e.param);
        log.status = e.status.as_u16();
        log.outcome = Outcome::Rejected;
        return e.into_response();
    }
    // Same format: rewrite the model (and the host's quirks), forward the rest byte
    // for byte.
    let body = Bytes::from(peek.upstream_body_with(&deployment.model, &fast.quirks));
    let upstream_req =
        providers::fast_request(provider, fast, &deployment.model, provider.key(), body);
    let skip_prelude = fast.azure.is_some();
    let stream = peek.stream;
    let strip_usage = stream && !peek.include_usage;
    drop(peek);

    log.attempts = 1;
    let upstream_started = Instant::now();
    let resp = match upstream::send(&st.http, upstream_req, rid.as_str(), deployment.timeout).await
    {
        Ok(r) => r,
        Err(e) => return upstream_failed(&mut log, &e, &deployment.label, &provider.secrets()),
    };
    let status = resp.status();
    if !status.is_success() {
        let (parts, body) = resp.into_parts();
        let remaining = deployment
            .timeout
            .saturating_sub(upstream_started.elapsed());
        let body = upstream::read_limited(body, MAX_ERROR_BODY, remaining).await;
        let e = provider
            .adapter
            .classify_error(status.as_u16(), &parts.headers, &body);
        return upstream_failed(&mut log, &e, &deployment.label, &provider.secrets());
    }

    if stream {
        log.status = status.as_u16();
        let relay = Relay::new(resp, strip_usage, deployment.clone(), log, inflight)
            .skip_empty_prelude(skip_prelude);
        let mut response = Response::new(Body::from_stream(relay.into_stream()));
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return routed(response, &deployment.label, 1);
    }

    let (parts, body) = resp.into_parts();
    let content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
    let remaining = deployment
        .timeout
        .saturating_sub(upstream_started.elapsed());
    let body = match upstream::read_body(body, remaining).await {
        Ok(b) => b,
        Err(e) => return upstream_failed(&mut log, &e, &deployment.label, &provider.secrets()),
    };
    let upstream_elapsed = upstream_started.elapsed();
    log.upstream_latency = Some(upstream_elapsed);
    log.usage = usage::response_usage(&body);
    log.status = status.as_u16();
    log.ttft = Some(started.elapsed());
    drop(inflight);

    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        content_type.unwrap_or_else(|| HeaderValue::from_static("application/json")),
    );
    let overhead = started.elapsed().saturating_sub(upstream_elapsed);
    if let Ok(v) = HeaderValue::from_str(&format!("{:.3}", overhead.as_secs_f64() * 1000.0)) {
        h.insert("x-switchyard-overhead-ms", v);
    }
    log.finish();
    routed(response, &deployment.label, 1)
}

/// A request to a provider of another wire format: decoded into the canonical model,
/// encoded for the provider, and its answer translated back into OpenAI's format.
async fn translated(
    st: &AppState,
    rid: &RequestId,
    bytes: Bytes,
    deployment: Arc<Deployment>,
    mut log: RequestLog,
    inflight: InflightGuard,
    started: Instant,
) -> Response {
    let provider = &deployment.provider;
    let reject = |log: &mut RequestLog, e: ApiError| {
        log.status = e.status.as_u16();
        log.outcome = Outcome::Rejected;
        e.into_response()
    };
    let request = match openai::decode_request(&bytes) {
        Ok(r) => r,
        Err(e) => return reject(&mut log, ApiError::bad_request(e.message, e.param)),
    };
    drop(bytes);
    let upstream_req = match providers::canonical_request(
        provider,
        &request,
        &deployment.model,
        provider.key(),
        deployment.timeout,
    )
    .await
    {
        Ok(Ok(r)) => r,
        Ok(Err(AdapterError::Unsupported { param, message })) => {
            return reject(&mut log, ApiError::bad_request(message, Some(param)))
        }
        Ok(Err(e)) => return reject(&mut log, ApiError::bad_request(e.to_string(), None)),
        Err(e) => return upstream_failed(&mut log, &e, &deployment.label, &provider.secrets()),
    };
    let stream = request.stream;
    let include_usage = request.include_usage;

    log.attempts = 1;
    let upstream_started = Instant::now();
    let resp = match upstream::send(&st.http, upstream_req, rid.as_str(), deployment.timeout).await
    {
        Ok(r) => r,
        Err(e) => return upstream_failed(&mut log, &e, &deployment.label, &provider.secrets()),
    };
    let status = resp.status();
    if !status.is_success() {
        let (parts, body) = resp.into_parts();
        let remaining = deployment
            .timeout
            .saturating_sub(upstream_started.elapsed());
        let body = upstream::read_limited(body, MAX_ERROR_BODY, remaining).await;
        let e = provider
            .adapter
            .classify_error(status.as_u16(), &parts.headers, &body);
        return upstream_failed(&mut log, &e, &deployment.label, &provider.secrets());
    }
    let identity = StreamIdentity {
        id: format!("chatcmpl-{}", rid.as_str()),
        model: deployment.model.clone(),
        created: unix_now(),
    };

    if stream {
        log.status = status.as_u16();
        let relay = TranslateRelay::new(
            resp,
            provider.adapter.stream_decoder(),
            provider.wire,
            &deployment.model,
            include_usage,
            identity,
            deployment.clone(),
            log,
            inflight,
        );
        let mut response = Response::new(Body::from_stream(relay.into_stream()));
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return routed(response, &deployment.label, 1);
    }

    let remaining = deployment
        .timeout
        .saturating_sub(upstream_started.elapsed());
    let body = match upstream::read_body(resp.into_body(), remaining).await {
        Ok(b) => b,
        Err(e) => return upstream_failed(&mut log, &e, &deployment.label, &provider.secrets()),
    };
    let upstream_elapsed = upstream_started.elapsed();
    log.upstream_latency = Some(upstream_elapsed);
    let mut parsed = match provider.adapter.parse_response(&body) {
        Ok(r) => r,
        Err(e) => {
            let e = switchyard_adapters::UpstreamError::new(
                switchyard_adapters::ErrorClass::Server,
                Some(status.as_u16()),
                e.to_string(),
            );
            return upstream_failed(&mut log, &e, &deployment.label, &provider.secrets());
        }
    };
    if parsed.id.is_empty() {
        parsed.id = identity.id;
    }
    if parsed.created == 0 {
        parsed.created = identity.created;
    }
    if parsed.model.is_empty() {
        parsed.model = identity.model;
    }
    log.usage = Some(parsed.usage);
    log.status = status.as_u16();
    log.ttft = Some(started.elapsed());
    drop(inflight);
    // Named as the provider named the model that answered, as on the fast path.
    let out = openai::encode_response(&parsed, &parsed.model);

    let mut response = Response::new(Body::from(out));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let overhead = started.elapsed().saturating_sub(upstream_elapsed);
    if let Ok(v) = HeaderValue::from_str(&format!("{:.3}", overhead.as_secs_f64() * 1000.0)) {
        h.insert("x-switchyard-overhead-ms", v);
    }
    log.finish();
    routed(response, &deployment.label, 1)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An upstream failure: recorded, logged when it is the provider's fault, and answered
/// in the contract's shape.
fn upstream_failed(
    log: &mut RequestLog,
    e: &switchyard_adapters::UpstreamError,
    deployment: &str,
    secrets: &[&str],
) -> Response {
    if e.class.retryable() {
        tracing::warn!(
            request_id = %log.request_id,
            deployment,
            class = e.class.as_str(),
            error = %crate::error::redact(&e.message, secrets),
            "upstream request failed"
        );
    }
    let api = ApiError::from_upstream(e, deployment, secrets);
    log.status = api.status.as_u16();
    log.outcome = Outcome::UpstreamError;
    log.error_class = Some(e.class.as_str());
    routed(api.into_response(), deployment, 1)
}

/// A request the gateway answered itself, logged like any other.
fn rejected(
    st: &AppState,
    rid: &RequestId,
    model: &str,
    e: ApiError,
    started: Instant,
) -> Response {
    let mut log = RequestLog::new(&st.sinks, rid.as_str(), model, "", false, started);
    log.status = e.status.as_u16();
    log.outcome = Outcome::Rejected;
    log.finish();
    e.into_response()
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
