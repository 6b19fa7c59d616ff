//! OpenTelemetry traces over OTLP/HTTP (protobuf), off unless an endpoint is configured.
//!
//! Spans are made after the fact from each finished request's [`RequestLog`], with the
//! ids the request path already chose (and sent upstream in `traceparent`) and explicit
//! timestamps: one SERVER span for the request and one CLIENT span per upstream attempt,
//! named and attributed after the OpenTelemetry GenAI semantic conventions.
//!
//! The request path only takes a snapshot of the record and `try_send`s it into a
//! bounded queue (full: the record is dropped and counted). A thread of its own, with a
//! single-threaded runtime, turns records into spans, batches them (up to
//! [`MAX_BATCH`] spans, or every [`BATCH_INTERVAL`]) and POSTs an
//! `ExportTraceServiceRequest` to the collector; a failed export is retried once, then
//! its spans are dropped (a warning at most once a minute). Dropping the exporter (or
//! [`Exporter::flush`]) exports what is queued, within a short bound.

use crate::observe::{AttemptRecord, Outcome, RecordSink, RequestLog, TraceContext};
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span::SpanKind, status::StatusCode, ResourceSpans, ScopeSpans, Span, SpanFlags, Status,
};
use prost::Message;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use switchyard_adapters::canonical::Usage;
use switchyard_config::TelemetryConfig;
use tokio::sync::{mpsc, oneshot};

/// Requests waiting for the exporter thread; beyond this they are dropped and counted.
pub const QUEUE_CAPACITY: usize = 4096;
/// Most spans in one export request.
pub const MAX_BATCH: usize = 512;
/// Spans are exported at least this often.
pub const BATCH_INTERVAL: Duration = Duration::from_secs(1);
/// One export request's time limit.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before the one retry of a failed export.
const RETRY_DELAY: Duration = Duration::from_millis(250);
/// How long dropping the exporter waits for the queued spans to go out.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(3);
/// At most one warning about lost spans per this long.
const WARN_EVERY: Duration = Duration::from_secs(60);
const DEFAULT_SERVICE_NAME: &str = "switchyard";
const SCOPE: &str = "switchyard";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where and how traces are exported, from the config and the standard `OTEL_*`
/// variables (the config wins).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The full traces URL (`{endpoint}/v1/traces`).
    pub url: http::Uri,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub service_name: String,
    pub sample_ratio: f64,
}

impl Settings {
    /// `None` when no endpoint is configured: export is off.
    ///
    /// Endpoint: `telemetry.otlp_endpoint` + `/v1/traces`, else
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else `OTEL_EXPORTER_OTLP_ENDPOINT` +
    /// `/v1/traces`. Headers: `OTEL_EXPORTER_OTLP_HEADERS`, then
    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, then `telemetry.headers` (later ones win).
    /// Service name: `telemetry.service_name`, else `OTEL_SERVICE_NAME`, else
    /// `switchyard`.
    pub fn resolve(
        config: Option<&TelemetryConfig>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Settings> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let configured = config.and_then(|c| c.otlp_endpoint.as_deref());
        let (url, source) = match configured {
            Some(base) => (traces_url(base), "telemetry.otlp_endpoint"),
            None => match env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
                Some(url) => (url.trim().to_string(), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
                None => (
                    traces_url(&env("OTEL_EXPORTER_OTLP_ENDPOINT")?),
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                ),
            },
        };
        let url = match url.parse::<http::Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => u,
            _ => {
                tracing::warn!(
                    source,
                    "the OTLP endpoint is not an http:// or https:// URL; traces are not exported"
                );
                return None;
            }
        };
        let mut pairs: Vec<(String, String)> = Vec::new();
        for var in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(v) = env(var) {
                pairs.extend(parse_env_headers(&v));
            }
        }
        if let Some(c) = config {
            pairs.extend(c.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
        for (k, v) in pairs {
            match (
                HeaderName::from_bytes(k.trim().as_bytes()),
                HeaderValue::from_str(v.trim()),
            ) {
                (Ok(name), Ok(mut value)) => {
                    value.set_sensitive(true);
                    headers.retain(|(n, _)| *n != name);
                    headers.push((name, value));
                }
                // Never the value: it is often a credential.
                _ => tracing::warn!(header = %k.trim(), "invalid OTLP header skipped"),
            }
        }
        let service_name = config
            .and_then(|c| c.service_name.clone())
            .filter(|s| !s.trim().is_empty())
            .or_else(|| env("OTEL_SERVICE_NAME"))
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_string());
        let sample_ratio = config.and_then(|c| c.sample_ratio).unwrap_or(1.0);
        Some(Settings {
            url,
            headers,
            service_name,
            sample_ratio,
        })
    }

    /// The collector's scheme, host and port (for logs: never credentials or paths).
    pub fn endpoint_for_logs(&self) -> String {
        let scheme = self.url.scheme_str().unwrap_or("http");
        let host = self.url.host().unwrap_or("");
        match self.url.port_u16() {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        }
    }
}

/// `{base}/v1/traces`, whatever trailing slashes the base has.
fn traces_url(base: &str) -> String {
    format!("{}/v1/traces", base.trim().trim_end_matches('/'))
}

/// `k1=v1,k2=v2`, values percent-decoded (the OTLP exporter spec's format).
fn parse_env_headers(v: &str) -> Vec<(String, String)> {
    v.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_string(), percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Head sampling of new traces by ratio, decided from the trace id alone so that every
/// replica (and any OpenTelemetry SDK using the W3C random trace-id bits) agrees: the
/// trace is sampled when the id's low 56 bits are at least `(1 - ratio) * 2^56`.
#[derive(Debug, Clone, Copy)]
pub struct Sampler {
    threshold: u64,
}

const RANDOM_BITS: u64 = 1 << 56;

impl Sampler {
    pub fn new(ratio: f64) -> Sampler {
        let ratio = if ratio.is_nan() {
            1.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        let threshold = ((1.0 - ratio) * RANDOM_BITS as f64).round() as u64;
        Sampler {
            threshold: threshold.min(RANDOM_BITS),
        }
    }

    pub fn sample(&self, trace_id: &[u8; 16]) -> bool {
        let mut low = [0u8; 8];
        low[1..].copy_from_slice(&trace_id[9..]);
        u64::from_be_bytes(low) >= self.threshold
    }
}

/// The OTLP exporter: a [`RecordSink`] that queues sampled records for its thread.
pub struct Exporter {
    tx: Option<mpsc::Sender<Msg>>,
    sampler: Sampler,
    stats: Arc<Stats>,
    /// Told when the thread has exported what was left and stopped.
    done: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

#[derive(Default)]
struct Stats {
    /// Records dropped because the queue was full.
    queue_full: AtomicU64,
    /// Spans exported.
    exported: AtomicU64,
    /// Spans dropped after a failed export and its retry.
    failed: AtomicU64,
}

enum Msg {
    Record(Box<Finished>),
    Flush(oneshot::Sender<()>),
}

impl Exporter {
    /// Starts the exporter's thread.
    pub fn start(settings: Settings) -> std::io::Result<Exporter> {
        let (mut exporter, rx) = Exporter::unstarted(settings.sample_ratio, QUEUE_CAPACITY);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let worker = Worker::new(settings, exporter.stats.clone());
        std::thread::Builder::new()
            .name("switchyard-otlp".to_string())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(worker.run(rx)),
                    Err(e) => tracing::error!(error = %e, "trace exporter runtime failed to start"),
                }
                let _ = done_tx.send(());
            })?;
        exporter.done = Mutex::new(Some(done_rx));
        Ok(exporter)
    }

    /// The exporter's side of the queue, without its thread.
    fn unstarted(sample_ratio: f64, capacity: usize) -> (Exporter, mpsc::Receiver<Msg>) {
        let (tx, rx) = mpsc::channel(capacity);
        let exporter = Exporter {
            tx: Some(tx),
            sampler: Sampler::new(sample_ratio),
            stats: Arc::new(Stats::default()),
            done: Mutex::new(None),
        };
        (exporter, rx)
    }

    pub fn sampler(&self) -> Sampler {
        self.sampler
    }

    /// Records dropped because the queue was full.
    pub fn dropped_records(&self) -> u64 {
        self.stats.queue_full.load(Ordering::Relaxed)
    }

    /// Spans the collector accepted.
    pub fn exported_spans(&self) -> u64 {
        self.stats.exported.load(Ordering::Relaxed)
    }

    /// Spans lost to failed exports.
    pub fn failed_spans(&self) -> u64 {
        self.stats.failed.load(Ordering::Relaxed)
    }

    /// Exports every record queued so far; returns when done or after `bound`.
    pub async fn flush(&self, bound: Duration) {
        let Some(tx) = &self.tx else { return };
        let (reply, done) = oneshot::channel();
        let _ = tokio::time::timeout(bound, async move {
            if tx.send(Msg::Flush(reply)).await.is_ok() {
                let _ = done.await;
            }
        })
        .await;
    }

    fn wants(&self, trace: &TraceContext) -> bool {
        // New traces were sampled on the request path already; deciding again from the
        // id gives the same answer and covers records made elsewhere.
        trace.sampled && (trace.parent_span_id.is_some() || self.sampler.sample(&trace.trace_id))
    }
}

impl RecordSink for Exporter {
    fn record(&self, log: &RequestLog) {
        let Some(trace) = log.trace else { return };
        if !self.wants(&trace) {
            return;
        }
        let Some(tx) = &self.tx else { return };
        if tx
            .try_send(Msg::Record(Box::new(Finished::new(log, trace))))
            .is_err()
        {
            self.stats.queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        // Closing the queue makes the thread export what is left and stop.
        drop(self.tx.take());
        let done = self.done.get_mut().ok().and_then(Option::take);
        if let Some(done) = done {
            let _ = done.recv_timeout(SHUTDOWN_BOUND);
        }
    }
}

/// What the spans of one request need, copied off its record.
struct Finished {
    trace: TraceContext,
    start: SystemTime,
    total: Duration,
    request_id: String,
    model: String,
    served_model: Option<String>,
    deployment: String,
    provider_kind: &'static str,
    stream: bool,
    status: u16,
    outcome: Outcome,
    error_class: Option<&'static str>,
    attempts: u32,
    ttft: Option<Duration>,
    usage: Option<Usage>,
    cost_usd: f64,
    attempt_log: Vec<AttemptRecord>,
}

impl Finished {
    fn new(log: &RequestLog, trace: TraceContext) -> Finished {
        Finished {
            trace,
            start: log.time,
            total: log.started.elapsed(),
            request_id: log.request_id.clone(),
            model: log.model.clone(),
            served_model: log.served_model.clone(),
            deployment: log.deployment.clone(),
            provider_kind: log.provider_kind,
            stream: log.stream,
            status: log.status,
            outcome: log.outcome,
            error_class: log.error_class,
            attempts: log.attempts,
            ttft: log.ttft,
            usage: log.usage,
            cost_usd: log.cost_usd(),
            attempt_log: log.attempt_log.clone(),
        }
    }

    /// The request's SERVER span, then one CLIENT span per attempt.
    fn spans(&self, out: &mut Vec<Span>) {
        let t = &self.trace;
        let start = unix_nanos(self.start);
        let end = start.saturating_add(nanos(self.total));
        let sampled = u32::from(t.sampled);
        let has_remote = SpanFlags::ContextHasIsRemoteMask as u32;
        let is_remote = SpanFlags::ContextIsRemoteMask as u32;

        let mut attrs = vec![
            kv_str("gen_ai.operation.name", "chat"),
            kv_str("gen_ai.request.model", &self.model),
            kv_str("switchyard.request_id", &self.request_id),
            kv_int("switchyard.attempts", i64::from(self.attempts)),
            kv_f64("switchyard.cost_usd", self.cost_usd),
            kv_bool("switchyard.stream", self.stream),
            kv_str("switchyard.outcome", self.outcome.as_str()),
        ];
        if !self.provider_kind.is_empty() {
            attrs.push(kv_str("gen_ai.system", gen_ai_system(self.provider_kind)));
        }
        if !self.deployment.is_empty() {
            attrs.push(kv_str("switchyard.deployment", &self.deployment));
            if self.outcome != Outcome::UpstreamError {
                attrs.push(kv_str(
                    "gen_ai.response.model",
                    upstream_model(&self.deployment),
                ));
            }
        }
        if let Some(m) = &self.served_model {
            attrs.push(kv_str("switchyard.served_model", m));
        }
        push_usage(&mut attrs, self.usage.as_ref());
        if self.status != 0 {
            attrs.push(kv_int("http.response.status_code", i64::from(self.status)));
        }
        if let Some(ttft) = self.ttft {
            attrs.push(kv_f64("switchyard.ttft_ms", ttft.as_secs_f64() * 1000.0));
        }
        let error_type = self
            .error_class
            .map(str::to_string)
            .or_else(|| (self.status >= 400).then(|| self.status.to_string()));
        if let Some(e) = &error_type {
            attrs.push(kv_str("error.type", e));
        }
        // A server span is in error for the gateway's own (5xx) failures and broken
        // streams; a client error (4xx) is the caller's.
        let failed = self.status >= 500 || self.outcome == Outcome::StreamError;
        out.push(Span {
            trace_id: t.trace_id.to_vec(),
            span_id: t.span_id.to_vec(),
            parent_span_id: t.parent_span_id.map(|p| p.to_vec()).unwrap_or_default(),
            flags: sampled
                | has_remote
                | if t.parent_span_id.is_some() {
                    is_remote
                } else {
                    0
                },
            name: format!("chat {}", self.model),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: attrs,
            status: Some(status(failed, error_type.as_deref())),
            ..Default::default()
        });

        // The attempt that served is the last one without an error.
        let served = self
            .attempt_log
            .iter()
            .rposition(|a| a.error_class.is_none());
        for (i, a) in self.attempt_log.iter().enumerate() {
            let model = upstream_model(&a.deployment);
            let a_start = start.saturating_add(nanos(a.offset));
            let mut a_end = a_start.saturating_add(nanos(a.latency));
            let mut attrs = vec![
                kv_str("gen_ai.operation.name", "chat"),
                kv_str("gen_ai.system", gen_ai_system(a.provider_kind)),
                kv_str("gen_ai.request.model", model),
                kv_str("switchyard.request_id", &self.request_id),
                kv_str("switchyard.deployment", &a.deployment),
                kv_int("switchyard.attempt", i as i64 + 1),
            ];
            if let Some(s) = a.status {
                attrs.push(kv_int("http.response.status_code", i64::from(s)));
            }
            if let Some(e) = a.error_class {
                attrs.push(kv_str("error.type", e));
            }
            if served == Some(i) {
                attrs.push(kv_str("gen_ai.response.model", model));
                push_usage(&mut attrs, self.usage.as_ref());
                // A stream's attempt is recorded at its first token; its upstream call
                // lasts until the stream ends with the request.
                if self.stream {
                    a_end = a_end.max(end);
                }
            }
            out.push(Span {
                trace_id: t.trace_id.to_vec(),
                span_id: a.span_id.to_vec(),
                parent_span_id: t.span_id.to_vec(),
                flags: sampled | has_remote,
                name: format!("chat {model}"),
                kind: SpanKind::Client as i32,
                start_time_unix_nano: a_start,
                end_time_unix_nano: a_end,
                attributes: attrs,
                status: Some(status(a.error_class.is_some(), a.error_class)),
                ..Default::default()
            });
        }
    }
}

fn push_usage(attrs: &mut Vec<KeyValue>, usage: Option<&Usage>) {
    if let Some(u) = usage {
        attrs.push(kv_int(
            "gen_ai.usage.input_tokens",
            i64::try_from(u.prompt_tokens).unwrap_or(i64::MAX),
        ));
        attrs.push(kv_int(
            "gen_ai.usage.output_tokens",
            i64::try_from(u.completion_tokens).unwrap_or(i64::MAX),
        ));
    }
}

fn status(failed: bool, message: Option<&str>) -> Status {
    if failed {
        Status {
            code: StatusCode::Error as i32,
            message: message.unwrap_or("").to_string(),
        }
    } else {
        Status::default()
    }
}

/// The model id of a `provider/model` deployment label.
fn upstream_model(deployment: &str) -> &str {
    deployment
        .split_once('/')
        .map_or(deployment, |(_, model)| model)
}

/// `gen_ai.system` for a provider kind: the GenAI conventions' well-known values, else
/// the kind's own name.
pub fn gen_ai_system(kind: &'static str) -> &'static str {
    match kind {
        "openai" => "openai",
        "anthropic" => "anthropic",
        "bedrock" => "aws.bedrock",
        "gemini" => "gcp.gemini",
        "vertex" => "gcp.vertex_ai",
        "azure" => "az.ai.openai",
        "deepseek" => "deepseek",
        "groq" => "groq",
        "mistral" => "mistral_ai",
        "xai" => "xai",
        "perplexity" => "perplexity",
        other => other,
    }
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, nanos)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn kv_str(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.to_string()))
}

fn kv_int(key: &str, v: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(v))
}

fn kv_f64(key: &str, v: f64) -> KeyValue {
    kv(key, any_value::Value::DoubleValue(v))
}

fn kv_bool(key: &str, v: bool) -> KeyValue {
    kv(key, any_value::Value::BoolValue(v))
}

/// The exporter thread: batches spans and posts them.
struct Worker {
    settings: Settings,
    resource: Resource,
    stats: Arc<Stats>,
    http: crate::upstream::HttpClient,
    last_warning: Option<Instant>,
    /// Counts at the last warning, to report what was lost since.
    warned_failed: u64,
    warned_full: u64,
    last_error: Option<String>,
}

impl Worker {
    fn new(settings: Settings, stats: Arc<Stats>) -> Worker {
        let resource = Resource {
            attributes: vec![
                kv_str("service.name", &settings.service_name),
                kv_str("service.version", VERSION),
            ],
            ..Default::default()
        };
        Worker {
            settings,
            resource,
            stats,
            http: crate::upstream::client(Duration::from_secs(5)),
            last_warning: None,
            warned_failed: 0,
            warned_full: 0,
            last_error: None,
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut batch: Vec<Span> = Vec::new();
        let mut tick = tokio::time::interval(BATCH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Msg::Record(r)) => {
                        r.spans(&mut batch);
                        while batch.len() >= MAX_BATCH {
                            let rest = batch.split_off(MAX_BATCH);
                            let full = std::mem::replace(&mut batch, rest);
                            self.export(full, None).await;
                        }
                    }
                    Some(Msg::Flush(reply)) => {
                        self.export_all(&mut batch, None).await;
                        let _ = reply.send(());
                    }
                    None => {
                        // Shut down: what is left goes out within the bound.
                        let deadline = Instant::now() + SHUTDOWN_BOUND.saturating_sub(Duration::from_millis(250));
                        self.export_all(&mut batch, Some(deadline)).await;
                        self.warn_if_lost();
                        return;
                    }
                },
                _ = tick.tick() => {
                    self.export_all(&mut batch, None).await;
                    self.warn_if_lost();
                }
            }
        }
    }

    async fn export_all(&mut self, batch: &mut Vec<Span>, deadline: Option<Instant>) {
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(MAX_BATCH));
            let chunk = std::mem::replace(batch, rest);
            self.export(chunk, deadline).await;
        }
    }

    /// Posts one batch; on a retryable failure tries once more, then drops it.
    async fn export(&mut self, spans: Vec<Span>, deadline: Option<Instant>) {
        let n = spans.len() as u64;
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: SCOPE.to_string(),
                        version: VERSION.to_string(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        let body = Bytes::from(request.encode_to_vec());
        let mut error = String::new();
        for attempt in 0..2 {
            let timeout = match deadline {
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .min(EXPORT_TIMEOUT),
                None => EXPORT_TIMEOUT,
            };
            if timeout.is_zero() {
                break;
            }
            match self.post(body.clone(), timeout).await {
                Ok(()) => {
                    self.stats.exported.fetch_add(n, Ordering::Relaxed);
                    return;
                }
                Err((e, retryable)) => {
                    error = e;
                    if !retryable {
                        break;
                    }
                }
            }
            if attempt == 0 {
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
        self.stats.failed.fetch_add(n, Ordering::Relaxed);
        self.last_error = Some(error);
        self.warn_if_lost();
    }

    /// One POST; the error says whether a retry may help.
    async fn post(&self, body: Bytes, timeout: Duration) -> Result<(), (String, bool)> {
        let mut req = http::Request::new(Full::new(body));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = self.settings.url.clone();
        let h = req.headers_mut();
        for (name, value) in &self.settings.headers {
            h.insert(name.clone(), value.clone());
        }
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        h.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("switchyard/", env!("CARGO_PKG_VERSION"))),
        );
        let send = async {
            let resp = self.http.request(req).await.map_err(|e| {
                (
                    crate::upstream::transport_error(&e, e.is_connect()).message,
                    true,
                )
            })?;
            let status = resp.status();
            // Read the body so the connection can be reused.
            let _ = resp.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                let retryable = matches!(status.as_u16(), 408 | 429 | 502 | 503 | 504)
                    || status.is_server_error();
                Err((format!("the collector answered {status}"), retryable))
            }
        };
        match tokio::time::timeout(timeout, send).await {
            Ok(r) => r,
            Err(_) => Err((
                format!(
                    "no answer from the collector within {}ms",
                    timeout.as_millis()
                ),
                true,
            )),
        }
    }

    /// At most once a minute: spans lost to failed exports or a full queue since the
    /// last warning.
    fn warn_if_lost(&mut self) {
        let failed = self.stats.failed.load(Ordering::Relaxed);
        let full = self.stats.queue_full.load(Ordering::Relaxed);
        if failed == self.warned_failed && full == self.warned_full {
            return;
        }
        if self.last_warning.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            return;
        }
        tracing::warn!(
            collector = %self.settings.endpoint_for_logs(),
            failed_spans = failed - self.warned_failed,
            dropped_requests = full - self.warned_full,
            error = self.last_error.as_deref().unwrap_or(""),
            "traces lost: export failed or the queue was full"
        );
        self.last_warning = Some(Instant::now());
        self.warned_failed = failed;
        self.warned_full = full;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn off_without_an_endpoint() {
        assert!(Settings::resolve(None, &env_of(&[])).is_none());
        let c = TelemetryConfig {
            service_name: Some("x".into()),
            ..Default::default()
        };
        assert!(Settings::resolve(Some(&c), &env_of(&[("OTEL_SERVICE_NAME", "y")])).is_none());
        assert!(Settings::resolve(None, &env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")])).is_none());
        assert!(Settings::resolve(
            None,
            &env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")])
        )
        .is_none());
    }

    #[test]
    fn endpoint_from_config_then_env() {
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, x-team = t1"),
            ("OTEL_SERVICE_NAME", "from-env"),
        ]);
        let s = Settings::resolve(None, &env).unwrap();
        assert_eq!(s.url.to_string(), "http://env:4318/v1/traces");
        assert_eq!(s.service_name, "from-env");
        assert_eq!(s.sample_ratio, 1.0);
        let h: HashMap<_, _> = s
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
            .collect();
        assert_eq!(h["api-key"], "a b");
        assert_eq!(h["x-team"], "t1");

        // The traces endpoint is used verbatim and beats the general one.
        let env2 = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://traces.example:443/custom",
            ),
        ]);
        let s = Settings::resolve(None, &env2).unwrap();
        assert_eq!(s.url.to_string(), "https://traces.example:443/custom");
        assert_eq!(s.endpoint_for_logs(), "https://traces.example:443");

        // The config wins over both.
        let mut c = TelemetryConfig {
            otlp_endpoint: Some("http://cfg:4318".into()),
            sample_ratio: Some(0.25),
            service_name: Some("gw".into()),
            ..Default::default()
        };
        c.headers.insert("api-key".into(), "from-config".into());
        let s = Settings::resolve(Some(&c), &env).unwrap();
        assert_eq!(s.url.to_string(), "http://cfg:4318/v1/traces");
        assert_eq!(s.service_name, "gw");
        assert_eq!(s.sample_ratio, 0.25);
        let keys: Vec<_> = s.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys.iter().filter(|k| **k == "api-key").count(), 1);
        let v = &s.headers.iter().find(|(k, _)| k == "api-key").unwrap().1;
        assert_eq!(v.to_str().unwrap(), "from-config");
    }

    #[test]
    fn ratio_sampling_is_deterministic_and_proportional() {
        let all = Sampler::new(1.0);
        let none = Sampler::new(0.0);
        let quarter = Sampler::new(0.25);
        let mut rng = fastrand::Rng::with_seed(7);
        let mut hits = 0;
        for _ in 0..20_000 {
            let id = rng.u128(1..).to_be_bytes();
            assert!(all.sample(&id));
            assert!(!none.sample(&id));
            let s = quarter.sample(&id);
            assert_eq!(s, Sampler::new(0.25).sample(&id), "same id, same answer");
            hits += usize::from(s);
        }
        assert!((4_000..6_000).contains(&hits), "{hits}");
        assert!(!none.sample(&[0xff; 16]));
        assert!(all.sample(&[0; 16]));
    }

    fn record(trace: Option<TraceContext>) -> RequestLog {
        let sinks = crate::observe::Sinks::from(Vec::new());
        let mut log = RequestLog::new(&sinks, "req_1", "general", "", false, Instant::now());
        log.trace = trace;
        log
    }

    fn new_trace(sampled: bool) -> TraceContext {
        TraceContext {
            trace_id: [7; 16],
            parent_span_id: None,
            span_id: [1; 8],
            sampled,
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let (exporter, mut rx) = Exporter::unstarted(1.0, 2);
        for _ in 0..5 {
            exporter.record(&record(Some(new_trace(true))));
        }
        assert_eq!(exporter.dropped_records(), 3);
        // Unsampled or untraced records are not queued at all.
        exporter.record(&record(Some(new_trace(false))));
        exporter.record(&record(None));
        assert_eq!(exporter.dropped_records(), 3);
        let mut queued = 0;
        while rx.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, 2);
    }

    #[test]
    fn a_failed_request_is_an_error_server_span() {
        let mut log = record(Some(new_trace(true)));
        log.deployment = "up/gpt-up".into();
        log.provider_kind = "bedrock";
        log.status = 502;
        log.outcome = Outcome::UpstreamError;
        log.error_class = Some("server_error");
        log.attempts = 1;
        log.attempt_log.push(AttemptRecord {
            offset: Duration::from_millis(1),
            span_id: [2; 8],
            deployment: "up/gpt-up".into(),
            provider_kind: "bedrock",
            status: Some(500),
            error_class: Some("server_error"),
            latency: Duration::from_millis(5),
        });
        let mut spans = Vec::new();
        Finished::new(&log, new_trace(true)).spans(&mut spans);
        assert_eq!(spans.len(), 2);
        let (server, attempt) = (&spans[0], &spans[1]);
        let attr = |s: &Span, k: &str| {
            s.attributes
                .iter()
                .find(|kv| kv.key == k)
                .and_then(|kv| kv.value.clone())
                .and_then(|v| v.value)
        };
        let text = |v: &str| Some(any_value::Value::StringValue(v.to_string()));
        for s in [server, attempt] {
            assert_eq!(
                s.status.as_ref().map(|s| s.code),
                Some(StatusCode::Error as i32)
            );
            assert_eq!(attr(s, "error.type"), text("server_error"));
            assert_eq!(attr(s, "gen_ai.system"), text("aws.bedrock"));
            assert_eq!(attr(s, "gen_ai.response.model"), None);
        }
        assert_eq!(server.kind, SpanKind::Server as i32);
        assert!(server.parent_span_id.is_empty());
        assert_eq!(attempt.parent_span_id, vec![1; 8]);
        assert_eq!(
            attr(server, "http.response.status_code"),
            Some(any_value::Value::IntValue(502))
        );
        assert_eq!(
            attempt.end_time_unix_nano - attempt.start_time_unix_nano,
            5_000_000
        );
    }

    #[test]
    fn provider_kinds_map_to_gen_ai_systems() {
        assert_eq!(gen_ai_system("bedrock"), "aws.bedrock");
        assert_eq!(gen_ai_system("vertex"), "gcp.vertex_ai");
        assert_eq!(gen_ai_system("gemini"), "gcp.gemini");
        assert_eq!(gen_ai_system("azure"), "az.ai.openai");
        assert_eq!(gen_ai_system("ollama"), "ollama");
        assert_eq!(upstream_model("or/meta/llama-3"), "meta/llama-3");
    }
}
