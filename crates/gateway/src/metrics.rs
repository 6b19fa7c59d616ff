//! Prometheus metrics: `GET /metrics`, text exposition format 0.0.4.
//!
//! **Unauthenticated**, like the health probes, so that Prometheus scrapers need no key.
//! It shows model names, deployment labels and traffic figures (never keys, request ids
//! or prompts): keep the port off the public internet, or filter `/metrics` at the proxy
//! in front. A scrape goes through the `request_id` middleware like every route (so it
//! carries `x-request-id`), which logs nothing: there is no request line per scrape.
//!
//! # Recording
//!
//! [`Metrics`] is a [`RecordSink`]: every finished request's [`RequestLog`] is folded
//! into counters and histograms on the request's own task, on every worker thread. The
//! hot path takes no lock: each metric family is a copy-on-write map (an [`ArcSwap`] of
//! a hash map of label set → atomics) that is read without locking or reference-count
//! writes; only the first sight of a new label set takes the family's mutex, copies the
//! map and swaps it. Counters are atomic adds, histograms fixed buckets of atomics. A
//! request whose (model, deployment, status) was seen before costs one map lookup (that
//! series holds its model's series too), plus one per failed attempt: ~0.1–0.3 µs per
//! record (`record_cost_micro_benchmark` in `tests/metrics.rs`, bench/RESULTS.md).
//!
//! Labels stay low-cardinality: `model` is the public model as requested, but
//! `"unknown"` for a request rejected as `model_not_found` (404) or without a model, and
//! past [`MAX_LABEL_VALUES`] distinct models (or deployments) new ones are counted as
//! `"other"` (a client addressing `provider/<anything>` directly cannot grow the
//! registry without bound). No key ids, request ids or tags.
//!
//! Values read at scrape time: the in-flight gauge (from the state's counter) and each
//! catalog deployment's health, in-flight count and latency EWMA. A deployment that
//! several public models share has its own health in each pool, so those gauges carry
//! `model` as well as `deployment`.
//!
//! # Families
//!
//! | name | type | labels |
//! |---|---|---|
//! | `switchyard_requests_total` | counter | `model`, `deployment`, `status` |
//! | `switchyard_request_duration_seconds` | histogram | `model` (routed requests) |
//! | `switchyard_time_to_first_token_seconds` | histogram | `model` (streamed requests) |
//! | `switchyard_tokens_total` | counter | `model`, `direction` (input, output, cached, cache_write, reasoning) |
//! | `switchyard_cost_usd_total` | counter | `model` |
//! | `switchyard_upstream_errors_total` | counter | `deployment`, `class` (each failed attempt) |
//! | `switchyard_inflight_requests` | gauge | |
//! | `switchyard_retries_total` | counter | `model` (attempts beyond the first) |
//! | `switchyard_fallbacks_total` | counter | `from`, `to` (requested and serving model) |
//! | `switchyard_rejections_total` | counter | `reason` |
//! | `switchyard_deployment_up` | gauge | `model`, `deployment` |
//! | `switchyard_deployment_cooldowns_total` | counter | `model`, `deployment` |
//! | `switchyard_deployment_inflight` | gauge | `model`, `deployment` |
//! | `switchyard_deployment_latency_ewma_seconds` | gauge | `model`, `deployment` |
//! | `switchyard_ledger_queue_depth` | gauge | |
//! | `switchyard_ledger_dropped_total` | counter | |
//!
//! The ledger's two figures come from its writer, through
//! [`Metrics::set_ledger_queue_depth`] and [`Metrics::add_ledger_dropped`].

use crate::catalog::{Catalog, Deployment, PublicModel};
use crate::observe::{Outcome, RecordSink, RequestLog};
use crate::router::health::{now_ms, Availability};
use crate::state::AppState;
use arc_swap::ArcSwap;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use hashbrown::{Equivalent, HashMap};
use std::fmt::Write as _;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Distinct `model` (and `deployment`) label values kept; later ones count as `other`.
pub const MAX_LABEL_VALUES: usize = 1000;
/// Series of `switchyard_requests_total` and `switchyard_fallbacks_total` kept.
const MAX_SERIES: usize = 10_000;
/// The `model` label of requests for no known model.
pub const UNKNOWN: &str = "unknown";
/// The label value past the cardinality limits.
pub const OTHER: &str = "other";

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram upper bounds, in microseconds and as written in `le`: 5 ms to 5 min, for
/// LLM calls (a cache hit in milliseconds, a long generation in minutes).
const BOUNDS_US: [u64; 16] = [
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    20_000_000,
    30_000_000,
    60_000_000,
    120_000_000,
    300_000_000,
];
const BOUNDS_LE: [&str; 16] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "20", "30",
    "60", "120", "300",
];

/// `direction` values of `switchyard_tokens_total`, in [`ModelSeries::tokens`] order.
const DIRECTIONS: [&str; 5] = ["input", "output", "cached", "cache_write", "reasoning"];

/// `reason` values of `switchyard_rejections_total`, by the refusal's status.
const REASONS: [(u16, &str); 8] = [
    (400, "bad_request"),
    (401, "auth"),
    (402, "budget"),
    (403, "model_not_allowed"),
    (404, "not_found"),
    (413, "too_large"),
    (429, "rate_limited"),
    (503, "unavailable"),
];

/// The registry: one per gateway (no process-global state), shared by every worker.
pub struct Metrics {
    models: Family<String, ModelSeries>,
    /// Holds each label set's model series too, so that a request seen before costs
    /// one lookup.
    requests: Family<RequestKey, RequestSeries>,
    deployments: Family<String, DeploymentSeries>,
    fallbacks: Family<FallbackKey, AtomicU64>,
    /// By [`REASONS`] index; the last slot is `other`.
    rejections: [AtomicU64; REASONS.len() + 1],
    ledger_queue_depth: AtomicU64,
    ledger_dropped: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            models: Family::new(MAX_LABEL_VALUES),
            requests: Family::new(MAX_SERIES),
            deployments: Family::new(MAX_LABEL_VALUES),
            fallbacks: Family::new(MAX_SERIES),
            rejections: Default::default(),
            ledger_queue_depth: AtomicU64::new(0),
            ledger_dropped: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// The ledger writer's queue depth now (`switchyard_ledger_queue_depth`).
    pub fn set_ledger_queue_depth(&self, n: u64) {
        self.ledger_queue_depth.store(n, Ordering::Relaxed);
    }

    /// Records the ledger dropped `n` more records (`switchyard_ledger_dropped_total`).
    pub fn add_ledger_dropped(&self, n: u64) {
        self.ledger_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// The exposition: what was recorded, plus the gauges read now from the catalog and
    /// the in-flight count.
    pub fn render(&self, catalog: &Catalog, inflight: i64) -> String {
        let mut out = String::with_capacity(8192);
        self.render_requests(&mut out);
        self.render_models(&mut out);
        self.render_errors(&mut out);
        header(
            &mut out,
            "switchyard_inflight_requests",
            "gauge",
            "Requests in flight (streams until their body ends).",
        );
        let _ = writeln!(out, "switchyard_inflight_requests {}", inflight.max(0));
        self.render_fallbacks(&mut out);
        self.render_rejections(&mut out);
        render_deployments(&mut out, catalog);
        header(
            &mut out,
            "switchyard_ledger_queue_depth",
            "gauge",
            "Request records waiting to be written to the ledger.",
        );
        let _ = writeln!(
            out,
            "switchyard_ledger_queue_depth {}",
            self.ledger_queue_depth.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "switchyard_ledger_dropped_total",
            "counter",
            "Request records the ledger dropped (queue full or write failed).",
        );
        let _ = writeln!(
            out,
            "switchyard_ledger_dropped_total {}",
            self.ledger_dropped.load(Ordering::Relaxed)
        );
        out
    }

    fn render_requests(&self, out: &mut String) {
        header(
            out,
            "switchyard_requests_total",
            "counter",
            "Finished requests by public model, serving deployment and HTTP status.",
        );
        for (k, v) in self.requests.sorted() {
            let _ = write!(out, "switchyard_requests_total{{model=");
            quoted(out, &k.model);
            out.push_str(",deployment=");
            quoted(out, &k.deployment);
            let _ = writeln!(
                out,
                ",status=\"{}\"}} {}",
                k.status,
                v.count.load(Ordering::Relaxed)
            );
        }
    }

    fn render_models(&self, out: &mut String) {
        // Only models that had a routed request: a name seen only in rejections has no
        // durations, tokens or cost.
        let models: Vec<_> = self
            .models
            .sorted()
            .into_iter()
            .filter(|(_, s)| s.duration.count() > 0)
            .collect();
        header(
            out,
            "switchyard_request_duration_seconds",
            "histogram",
            "Duration of routed requests, to the end of the response body.",
        );
        for (model, s) in &models {
            s.duration
                .render(out, "switchyard_request_duration_seconds", model);
        }
        header(
            out,
            "switchyard_time_to_first_token_seconds",
            "histogram",
            "Time to the first token of streamed requests.",
        );
        for (model, s) in &models {
            if s.ttft.count() > 0 {
                s.ttft
                    .render(out, "switchyard_time_to_first_token_seconds", model);
            }
        }
        header(
            out,
            "switchyard_tokens_total",
            "counter",
            "Tokens by direction (input counts all prompt tokens, cached included; output all completion tokens, reasoning included).",
        );
        for (model, s) in &models {
            for (direction, n) in DIRECTIONS.iter().zip(&s.tokens) {
                out.push_str("switchyard_tokens_total{model=");
                quoted(out, model);
                let _ = writeln!(
                    out,
                    ",direction=\"{direction}\"}} {}",
                    n.load(Ordering::Relaxed)
                );
            }
        }
        header(
            out,
            "switchyard_cost_usd_total",
            "counter",
            "Cost in USD from usage and the serving deployment's price (0 when unpriced).",
        );
        for (model, s) in &models {
            out.push_str("switchyard_cost_usd_total{model=");
            quoted(out, model);
            out.push_str("} ");
            float(out, f64::from_bits(s.cost_bits.load(Ordering::Relaxed)));
            out.push('\n');
        }
        header(
            out,
            "switchyard_retries_total",
            "counter",
            "Upstream attempts beyond the first of each request.",
        );
        for (model, s) in &models {
            out.push_str("switchyard_retries_total{model=");
            quoted(out, model);
            let _ = writeln!(out, "}} {}", s.retries.load(Ordering::Relaxed));
        }
    }

    fn render_errors(&self, out: &mut String) {
        header(
            out,
            "switchyard_upstream_errors_total",
            "counter",
            "Failed upstream attempts (retried ones included) by deployment and error class.",
        );
        for (deployment, s) in self.deployments.sorted() {
            for (class, n) in s.errors.sorted() {
                out.push_str("switchyard_upstream_errors_total{deployment=");
                quoted(out, &deployment);
                out.push_str(",class=");
                quoted(out, class);
                let _ = writeln!(out, "}} {}", n.load(Ordering::Relaxed));
            }
        }
    }

    fn render_fallbacks(&self, out: &mut String) {
        header(
            out,
            "switchyard_fallbacks_total",
            "counter",
            "Requests served by another public model than the one requested (a fallback or a route_if rule).",
        );
        for (k, v) in self.fallbacks.sorted() {
            out.push_str("switchyard_fallbacks_total{from=");
            quoted(out, &k.from);
            out.push_str(",to=");
            quoted(out, &k.to);
            let _ = writeln!(out, "}} {}", v.load(Ordering::Relaxed));
        }
    }

    fn render_rejections(&self, out: &mut String) {
        header(
            out,
            "switchyard_rejections_total",
            "counter",
            "Requests the gateway refused itself, by reason.",
        );
        let names = REASONS.iter().map(|(_, r)| *r).chain([OTHER]);
        for (reason, n) in names.zip(&self.rejections) {
            let _ = writeln!(
                out,
                "switchyard_rejections_total{{reason=\"{reason}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
    }
}

impl RecordSink for Metrics {
    fn record(&self, log: &RequestLog) {
        let rejected = log.outcome == Outcome::Rejected;
        let model = if log.model.is_empty() || (rejected && log.status == 404) {
            UNKNOWN
        } else {
            log.model.as_str()
        };
        let apply = |key: &RequestKey, series: &RequestSeries| {
            series.count.fetch_add(1, Ordering::Relaxed);
            if rejected {
                let i = REASONS
                    .iter()
                    .position(|(s, _)| *s == log.status)
                    .unwrap_or(REASONS.len());
                if let Some(n) = self.rejections.get(i) {
                    n.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            series.model.record(log);
            if let Some(to) = log.served_model.as_deref().filter(|to| *to != log.model) {
                self.fallback(&key.model, to);
            }
        };
        // The common case: a label set seen before, one lookup.
        let raw = RequestKeyRef {
            model,
            deployment: &log.deployment,
            status: log.status,
        };
        if self.requests.lookup(&raw, |k, s| apply(k, s)).is_none() {
            self.first_request(&raw, apply);
        }
        for a in &log.attempt_log {
            // "rejected": the gateway could not express the request for the provider.
            if let Some(class) = a.error_class.filter(|c| *c != "rejected") {
                self.upstream_error(&a.deployment, class);
            }
        }
        // A stream that broke after its first token (its attempt had succeeded).
        if log.outcome == Outcome::StreamError && !log.deployment.is_empty() {
            self.upstream_error(&log.deployment, log.error_class.unwrap_or("stream_error"));
        }
    }
}

impl Metrics {
    /// A request whose label set is not in `requests` as it came: its model and
    /// deployment go through the cardinality limits first (they may become `other`).
    #[cold]
    fn first_request(
        &self,
        raw: &RequestKeyRef<'_>,
        apply: impl FnOnce(&RequestKey, &RequestSeries),
    ) {
        let model = self.models.with(
            raw.model,
            OTHER,
            |_| ModelSeries::default(),
            |k, _| k.clone(),
        );
        let deployment = if raw.deployment.is_empty() {
            String::new()
        } else {
            self.deployments.with(
                raw.deployment,
                OTHER,
                |_| DeploymentSeries::default(),
                |k, _| k.clone(),
            )
        };
        let key = RequestKeyRef {
            model: &model,
            deployment: &deployment,
            status: raw.status,
        };
        let overflow = RequestKeyRef {
            model: OTHER,
            deployment: OTHER,
            status: raw.status,
        };
        let make = |k: &RequestKey| RequestSeries {
            count: AtomicU64::new(0),
            model: self.models.with(
                k.model.as_str(),
                OTHER,
                |_| ModelSeries::default(),
                |_, s| s.clone(),
            ),
        };
        self.requests
            .with(&key, &overflow, make, |k, s| apply(k, s));
    }

    fn fallback(&self, from: &str, to: &str) {
        let key = FallbackKeyRef { from, to };
        let overflow = FallbackKeyRef {
            from: OTHER,
            to: OTHER,
        };
        let make = |_: &FallbackKey| AtomicU64::new(0);
        self.fallbacks.with(&key, &overflow, make, |_, n| {
            n.fetch_add(1, Ordering::Relaxed);
        });
    }

    fn upstream_error(&self, deployment: &str, class: &'static str) {
        let make = |_: &String| DeploymentSeries::default();
        self.deployments.with(deployment, OTHER, make, |_, d| {
            let make = |_: &&'static str| AtomicU64::new(0);
            d.errors.with(&class, &OTHER, make, |_, n| {
                n.fetch_add(1, Ordering::Relaxed);
            });
        });
    }
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    summary = "Prometheus metrics (text format 0.0.4)",
    security(()),
    responses(
        (status = 200, description = "The registry", body = String, content_type = "text/plain",
            headers(("x-request-id" = String, description = "The request's id"))),
    )
)]
pub async fn scrape(State(st): State<AppState>) -> Response {
    let catalog = st.catalog.load();
    if let Some(ledger) = &st.ledger {
        st.metrics
            .set_ledger_queue_depth(ledger.sink.queue_depth() as u64);
    }
    let body = st.metrics.render(&catalog, st.inflight());
    (
        [(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(CONTENT_TYPE),
        )],
        body,
    )
        .into_response()
}

/// Per-deployment gauges, read from the catalog now.
fn render_deployments(out: &mut String, catalog: &Catalog) {
    let now = now_ms();
    let pools: Vec<&PublicModel> = catalog
        .order
        .iter()
        .filter_map(|name| catalog.models.get(name).map(|m| &**m))
        .collect();
    per_deployment(
        out,
        &pools,
        "switchyard_deployment_up",
        "gauge",
        "1 when the router sends the deployment requests (healthy, or its cooldown is over and it awaits a probe), 0 while it cools down.",
        |d| {
            let cooling = matches!(d.health.availability(now), Availability::CoolingDown { .. });
            Some(if cooling { 0.0 } else { 1.0 })
        },
    );
    per_deployment(
        out,
        &pools,
        "switchyard_deployment_cooldowns_total",
        "counter",
        "Times this replica put the deployment in cooldown (not those applied from other replicas).",
        |d| Some(d.health.cooldowns() as f64),
    );
    per_deployment(
        out,
        &pools,
        "switchyard_deployment_inflight",
        "gauge",
        "Requests in flight on the deployment.",
        |d| Some(d.inflight_now().max(0) as f64),
    );
    per_deployment(
        out,
        &pools,
        "switchyard_deployment_latency_ewma_seconds",
        "gauge",
        "Moving average of the deployment's response time, as the router weighs it (absent before its first success).",
        |d| d.health.ewma_total().map(|t| t.as_secs_f64()),
    );
}

/// One gauge or counter per deployment of each pool (`None`: no sample).
fn per_deployment(
    out: &mut String,
    pools: &[&PublicModel],
    name: &str,
    kind: &str,
    help: &str,
    value: impl Fn(&Deployment) -> Option<f64>,
) {
    header(out, name, kind, help);
    for m in pools {
        for d in &m.deployments {
            let Some(v) = value(d) else { continue };
            out.push_str(name);
            out.push_str("{model=");
            quoted(out, &m.name);
            out.push_str(",deployment=");
            quoted(out, &d.label);
            out.push_str("} ");
            float(out, v);
            out.push('\n');
        }
    }
}

/// One `switchyard_requests_total` series, and its model's series.
struct RequestSeries {
    count: AtomicU64,
    model: Arc<ModelSeries>,
}

/// What is recorded per public model.
#[derive(Default)]
struct ModelSeries {
    duration: Histogram,
    ttft: Histogram,
    /// By [`DIRECTIONS`].
    tokens: [AtomicU64; 5],
    /// f64 bits.
    cost_bits: AtomicU64,
    retries: AtomicU64,
}

impl ModelSeries {
    fn record(&self, log: &RequestLog) {
        self.duration.observe(log.started.elapsed());
        if log.stream {
            if let Some(t) = log.ttft {
                self.ttft.observe(t);
            }
        }
        if let Some(u) = &log.usage {
            let values = [
                u.prompt_tokens,
                u.completion_tokens,
                u.cached_tokens,
                u.cache_write_tokens,
                u.reasoning_tokens,
            ];
            for (slot, v) in self.tokens.iter().zip(values) {
                if v > 0 {
                    slot.fetch_add(v, Ordering::Relaxed);
                }
            }
        }
        let cost = log.cost_usd();
        if cost.is_finite() && cost > 0.0 {
            let _ = self
                .cost_bits
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                    Some((f64::from_bits(bits) + cost).to_bits())
                });
        }
        if log.attempts > 1 {
            self.retries
                .fetch_add(u64::from(log.attempts - 1), Ordering::Relaxed);
        }
    }
}

/// What is recorded per deployment label: failed attempts by error class.
struct DeploymentSeries {
    errors: Family<&'static str, AtomicU64>,
}

impl Default for DeploymentSeries {
    fn default() -> Self {
        DeploymentSeries {
            errors: Family::new(64),
        }
    }
}

/// A histogram with the fixed [`BOUNDS_US`] buckets (each slot counts its own bucket;
/// the exposition accumulates them) and its sum in microseconds.
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US.partition_point(|b| *b < us);
        if let Some(slot) = self.buckets.get(i) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    fn render(&self, out: &mut String, name: &str, model: &str) {
        let mut cumulative = 0u64;
        let les = BOUNDS_LE.iter().copied().chain(["+Inf"]);
        for (le, slot) in les.zip(&self.buckets) {
            cumulative += slot.load(Ordering::Relaxed);
            let _ = write!(out, "{name}_bucket{{model=");
            quoted(out, model);
            let _ = writeln!(out, ",le=\"{le}\"}} {cumulative}");
        }
        let _ = write!(out, "{name}_sum{{model=");
        quoted(out, model);
        out.push_str("} ");
        float(out, self.sum_us.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = write!(out, "\n{name}_count{{model=");
        quoted(out, model);
        let _ = writeln!(out, "}} {cumulative}");
    }
}

/// A label set as stored, and as looked up without allocating.
trait Key<K>: Hash + Equivalent<K> {
    fn to_key(&self) -> K;
}

impl Key<String> for str {
    fn to_key(&self) -> String {
        self.to_string()
    }
}

impl Key<&'static str> for &'static str {
    fn to_key(&self) -> &'static str {
        self
    }
}

#[derive(Clone, Hash, PartialEq, Eq, PartialOrd, Ord)]
struct RequestKey {
    model: String,
    deployment: String,
    status: u16,
}

/// Hashes like [`RequestKey`] (same fields, same order, `str` hashing like `String`).
#[derive(Hash)]
struct RequestKeyRef<'a> {
    model: &'a str,
    deployment: &'a str,
    status: u16,
}

impl Equivalent<RequestKey> for RequestKeyRef<'_> {
    fn equivalent(&self, k: &RequestKey) -> bool {
        self.status == k.status && self.model == k.model && self.deployment == k.deployment
    }
}

impl Key<RequestKey> for RequestKeyRef<'_> {
    fn to_key(&self) -> RequestKey {
        RequestKey {
            model: self.model.to_string(),
            deployment: self.deployment.to_string(),
            status: self.status,
        }
    }
}

#[derive(Clone, Hash, PartialEq, Eq, PartialOrd, Ord)]
struct FallbackKey {
    from: String,
    to: String,
}

#[derive(Hash)]
struct FallbackKeyRef<'a> {
    from: &'a str,
    to: &'a str,
}

impl Equivalent<FallbackKey> for FallbackKeyRef<'_> {
    fn equivalent(&self, k: &FallbackKey) -> bool {
        self.from == k.from && self.to == k.to
    }
}

impl Key<FallbackKey> for FallbackKeyRef<'_> {
    fn to_key(&self) -> FallbackKey {
        FallbackKey {
            from: self.from.to_string(),
            to: self.to.to_string(),
        }
    }
}

/// One metric family: label set → series. Read without locks (an `ArcSwap` load, which
/// writes no shared reference count); a new label set copies the map under `grow`.
struct Family<K, V> {
    map: ArcSwap<HashMap<K, Arc<V>>>,
    grow: Mutex<()>,
    /// Series kept; past it, new label sets go to the overflow key.
    cap: usize,
}

impl<K, V> Family<K, V>
where
    K: Hash + Eq + Clone + Ord,
{
    fn new(cap: usize) -> Self {
        Family {
            map: ArcSwap::from_pointee(HashMap::new()),
            grow: Mutex::new(()),
            cap,
        }
    }

    /// Runs `f` on the series of `key` when it exists.
    fn lookup<Q, R>(&self, key: &Q, f: impl FnOnce(&K, &Arc<V>) -> R) -> Option<R>
    where
        Q: Key<K> + ?Sized,
    {
        let map = self.map.load();
        map.get_key_value(key).map(|(k, v)| f(k, v))
    }

    /// Runs `f` on the series of `key` (made by `make` on first sight) and its stored
    /// key; past the cap, on the series of `overflow` instead.
    fn with<Q, R>(
        &self,
        key: &Q,
        overflow: &Q,
        make: impl FnOnce(&K) -> V,
        f: impl FnOnce(&K, &Arc<V>) -> R,
    ) -> R
    where
        Q: Key<K> + ?Sized,
    {
        {
            let map = self.map.load();
            if let Some((k, v)) = map.get_key_value(key) {
                return f(k, v);
            }
            // Full: label sets past the limit find the overflow series without locking.
            if map.len() >= self.cap {
                if let Some((k, v)) = map.get_key_value(overflow) {
                    return f(k, v);
                }
            }
        }
        let (k, v) = self.insert(key, overflow, make);
        f(&k, &v)
    }

    #[cold]
    fn insert<Q>(&self, key: &Q, overflow: &Q, make: impl FnOnce(&K) -> V) -> (K, Arc<V>)
    where
        Q: Key<K> + ?Sized,
    {
        // A poisoned lock only means another thread panicked while copying; the map it
        // guards was never left half-written (it is swapped whole).
        let _grow = self
            .grow
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = self.map.load_full();
        if let Some((k, v)) = current.get_key_value(key) {
            return (k.clone(), v.clone());
        }
        let key = if current.len() >= self.cap {
            if let Some((k, v)) = current.get_key_value(overflow) {
                return (k.clone(), v.clone());
            }
            overflow
        } else {
            key
        };
        let k = key.to_key();
        let v = Arc::new(make(&k));
        let mut next = HashMap::with_capacity(current.len() + 1);
        for (k, v) in current.iter() {
            next.insert(k.clone(), v.clone());
        }
        next.insert(k.clone(), v.clone());
        self.map.store(Arc::new(next));
        (k, v)
    }

    /// Every series, sorted by label set (for a stable exposition).
    fn sorted(&self) -> Vec<(K, Arc<V>)> {
        let map = self.map.load();
        let mut all: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value in quotes, escaped as the exposition format wants.
fn quoted(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A sample value (Go's `ParseFloat` reads Rust's shortest round-trip form).
fn float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::observe::AttemptRecord;
    use std::time::Instant;
    use switchyard_adapters::canonical::Usage;

    fn log(model: &str, deployment: &str, status: u16, outcome: Outcome) -> RequestLog {
        let mut log = RequestLog::detached(Instant::now());
        log.model = model.to_string();
        log.deployment = deployment.to_string();
        log.status = status;
        log.outcome = outcome;
        log.stream = false;
        log
    }

    fn attempt(deployment: &str, class: Option<&'static str>) -> AttemptRecord {
        AttemptRecord {
            offset: Duration::ZERO,
            span_id: [1; 8],
            deployment: deployment.to_string(),
            provider_kind: "openai_compatible",
            status: class.map(|_| 500),
            error_class: class,
            latency: Duration::from_millis(3),
        }
    }

    fn empty_catalog() -> Catalog {
        Catalog::build(&switchyard_config::Config::default()).unwrap()
    }

    fn render(m: &Metrics) -> String {
        m.render(&empty_catalog(), 0)
    }

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn a_request_moves_every_per_model_family() {
        let m = Metrics::default();
        let mut l = log("general", "up/gpt-up", 200, Outcome::Ok);
        l.stream = true;
        l.ttft = Some(Duration::from_millis(30));
        l.attempts = 3;
        l.usage = Some(Usage {
            prompt_tokens: 10,
            completion_tokens: 20,
            total_tokens: 30,
            cached_tokens: 4,
            cache_write_tokens: 2,
            reasoning_tokens: 7,
        });
        l.price = Some(switchyard_pricing::Price {
            input_per_mtok: 1_000_000.0,
            output_per_mtok: 0.0,
            cached_input_per_mtok: None,
            cache_write_per_mtok: None,
            reasoning_per_mtok: None,
            ..Default::default()
        });
        l.attempt_log = vec![
            attempt("up/gpt-up", Some("server_error")),
            attempt("other/x", Some("timeout")),
            attempt("up/gpt-up", None),
        ];
        l.served_model = Some("backup".into());
        m.record(&l);
        let t = render(&m);
        let v = |s: &str| value(&t, s).unwrap_or_else(|| panic!("{s} in\n{t}"));
        assert_eq!(
            v(r#"switchyard_requests_total{model="general",deployment="up/gpt-up",status="200"}"#),
            1.0
        );
        assert_eq!(
            v(r#"switchyard_request_duration_seconds_count{model="general"}"#),
            1.0
        );
        assert_eq!(
            v(r#"switchyard_time_to_first_token_seconds_bucket{model="general",le="0.025"}"#),
            0.0
        );
        assert_eq!(
            v(r#"switchyard_time_to_first_token_seconds_bucket{model="general",le="0.05"}"#),
            1.0
        );
        assert_eq!(
            v(r#"switchyard_time_to_first_token_seconds_bucket{model="general",le="+Inf"}"#),
            1.0
        );
        assert_eq!(
            v(r#"switchyard_time_to_first_token_seconds_sum{model="general"}"#),
            0.03
        );
        for (dir, n) in [
            ("input", 10.0),
            ("output", 20.0),
            ("cached", 4.0),
            ("cache_write", 2.0),
            ("reasoning", 7.0),
        ] {
            let s = format!(r#"switchyard_tokens_total{{model="general",direction="{dir}"}}"#);
            assert_eq!(v(&s), n, "{dir}");
        }
        assert!(v(r#"switchyard_cost_usd_total{model="general"}"#) > 0.0);
        assert_eq!(v(r#"switchyard_retries_total{model="general"}"#), 2.0);
        assert_eq!(
            v(r#"switchyard_fallbacks_total{from="general",to="backup"}"#),
            1.0
        );
        assert_eq!(
            v(r#"switchyard_upstream_errors_total{deployment="up/gpt-up",class="server_error"}"#),
            1.0
        );
        assert_eq!(
            v(r#"switchyard_upstream_errors_total{deployment="other/x",class="timeout"}"#),
            1.0
        );
    }

    #[test]
    fn rejections_count_by_reason_and_unknown_models_share_one_series() {
        let m = Metrics::default();
        for i in 0..50 {
            m.record(&log(&format!("junk-{i}"), "", 404, Outcome::Rejected));
        }
        m.record(&log("", "", 401, Outcome::Rejected));
        m.record(&log("general", "", 403, Outcome::Rejected));
        m.record(&log("general", "", 429, Outcome::Rejected));
        m.record(&log("general", "", 418, Outcome::Rejected));
        let t = render(&m);
        assert!(!t.contains("junk"), "{t}");
        let v = |s: &str| value(&t, s).unwrap_or_else(|| panic!("{s} in\n{t}"));
        assert_eq!(
            v(r#"switchyard_requests_total{model="unknown",deployment="",status="404"}"#),
            50.0
        );
        assert_eq!(
            v(r#"switchyard_requests_total{model="unknown",deployment="",status="401"}"#),
            1.0
        );
        assert_eq!(
            v(r#"switchyard_rejections_total{reason="not_found"}"#),
            50.0
        );
        assert_eq!(v(r#"switchyard_rejections_total{reason="auth"}"#), 1.0);
        assert_eq!(
            v(r#"switchyard_rejections_total{reason="model_not_allowed"}"#),
            1.0
        );
        assert_eq!(
            v(r#"switchyard_rejections_total{reason="rate_limited"}"#),
            1.0
        );
        assert_eq!(v(r#"switchyard_rejections_total{reason="other"}"#), 1.0);
        // Rejected requests are not in the routed families.
        assert!(
            !t.contains("switchyard_request_duration_seconds_count"),
            "{t}"
        );
    }

    #[test]
    fn label_values_past_the_limit_count_as_other() {
        let m = Metrics::default();
        for i in 0..MAX_LABEL_VALUES + 20 {
            let name = format!("up/m{i}");
            m.record(&log(&name, &name, 502, Outcome::UpstreamError));
        }
        let t = render(&m);
        assert_eq!(
            value(
                &t,
                r#"switchyard_requests_total{model="other",deployment="other",status="502"}"#
            ),
            Some(20.0)
        );
        let series = t
            .lines()
            .filter(|l| l.starts_with("switchyard_requests_total{"))
            .count();
        assert_eq!(series, MAX_LABEL_VALUES + 1);
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.record(&log("a\"b\\c\nd", "", 400, Outcome::Rejected));
        let t = render(&m);
        assert!(
            t.contains(
                r#"switchyard_requests_total{model="a\"b\\c\nd",deployment="",status="400"} 1"#
            ),
            "{t}"
        );
    }

    #[test]
    fn ledger_hooks() {
        let m = Metrics::default();
        m.set_ledger_queue_depth(7);
        m.add_ledger_dropped(2);
        m.add_ledger_dropped(3);
        let t = render(&m);
        assert_eq!(value(&t, "switchyard_ledger_queue_depth"), Some(7.0));
        assert_eq!(value(&t, "switchyard_ledger_dropped_total"), Some(5.0));
    }

    #[test]
    fn histogram_buckets_are_upper_inclusive() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_micros(5_001));
        h.observe(Duration::from_secs(1000));
        assert_eq!(h.buckets[0].load(Ordering::Relaxed), 1);
        assert_eq!(h.buckets[1].load(Ordering::Relaxed), 1);
        assert_eq!(h.buckets[BOUNDS_US.len()].load(Ordering::Relaxed), 1);
        assert_eq!(h.count(), 3);
    }
}
