//! The request ledger's writer: every finished request's record becomes a row, queued
//! on the request path (a bounded channel, never a database wait) and written in
//! batches by one background task.
//!
//! A full queue drops the row and counts it (`switchyard_ledger_dropped_total`, and a
//! warning at most once a minute): the request path never blocks on the database. On
//! shutdown the queue is drained and written before the process exits.

use crate::observe::{hex, RecordSink, RequestLog};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};
use switchyard_store::{LedgerAttempt, LedgerRow, Store};
use tokio::sync::mpsc;

/// Rows written per transaction at most.
const BATCH: usize = 512;
/// How long the writer waits to fill a batch.
const LINGER: Duration = Duration::from_millis(200);
/// Retention is enforced this often.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The request-path side: converts records and queues them.
pub struct LedgerSink {
    tx: mpsc::Sender<LedgerRow>,
    dropped: Arc<AtomicU64>,
    last_warning_ms: AtomicU64,
    metrics: Arc<crate::metrics::Metrics>,
}

/// The writer's side, started by `Gateway::serve` on its runtime.
pub struct LedgerWriter {
    rx: mpsc::Receiver<LedgerRow>,
    store: Store,
    retention_days: u32,
}

/// Created together; the writer is taken out once by `serve`.
pub struct Ledger {
    pub sink: Arc<LedgerSink>,
    pub writer: Mutex<Option<LedgerWriter>>,
}

impl Ledger {
    pub fn new(
        store: Store,
        queue_size: usize,
        retention_days: u32,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Ledger {
        let (tx, rx) = mpsc::channel(queue_size);
        Ledger {
            sink: Arc::new(LedgerSink {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
                last_warning_ms: AtomicU64::new(0),
                metrics,
            }),
            writer: Mutex::new(Some(LedgerWriter {
                rx,
                store,
                retention_days,
            })),
        }
    }
}

impl LedgerSink {
    /// Rows waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Rows dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl RecordSink for LedgerSink {
    fn record(&self, log: &RequestLog) {
        if let Err(mpsc::error::TrySendError::Full(_) | mpsc::error::TrySendError::Closed(_)) =
            self.tx.try_send(row(log))
        {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            self.metrics.add_ledger_dropped(1);
            let now = crate::router::health::now_ms();
            let last = self.last_warning_ms.load(Ordering::Relaxed);
            if now.saturating_sub(last) >= 60_000
                && self
                    .last_warning_ms
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                tracing::warn!(
                    dropped,
                    "ledger queue full: request rows are being dropped (the database is \
                     not keeping up; see switchyard_ledger_dropped_total)"
                );
            }
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A request's record as a ledger row.
pub fn row(log: &RequestLog) -> LedgerRow {
    let usage = log.usage.unwrap_or_default();
    let latency = log.started.elapsed();
    let time_ms = log
        .time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    LedgerRow {
        request_id: log.request_id.clone(),
        time_ms,
        endpoint: log.endpoint.to_string(),
        key_id: log.key_id.clone(),
        model: log.model.clone(),
        served_model: log.served_model.clone(),
        provider: log
            .deployment
            .split_once('/')
            .map(|(p, _)| p.to_string())
            .unwrap_or_default(),
        deployment: log.deployment.clone(),
        stream: log.stream,
        status: log.status,
        outcome: log.outcome.as_str().to_string(),
        error_class: log.error_class.map(str::to_string),
        attempts: log
            .attempt_log
            .iter()
            .map(|a| LedgerAttempt {
                deployment: a.deployment.clone(),
                status: a.status,
                error_class: a.error_class.map(str::to_string),
                offset_ms: ms(a.offset),
                latency_ms: ms(a.latency),
            })
            .collect(),
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        cached_tokens: usage.cached_tokens,
        cache_write_tokens: usage.cache_write_tokens,
        reasoning_tokens: usage.reasoning_tokens,
        images: log.units.images,
        audio_ms: log.units.audio_ms,
        characters: log.units.characters,
        cost_usd: log.cost_usd(),
        priced: log.price.is_some(),
        latency_ms: ms(latency),
        ttft_ms: log.ttft.map(ms),
        upstream_ms: log.upstream_latency.map(ms),
        overhead_ms: log
            .upstream_latency
            .filter(|_| !log.stream)
            .map(|u| ms(latency.saturating_sub(u))),
        cache_status: None,
        client_ip: log.client_ip.map(|ip| ip.to_string()),
        user_agent: log.user_agent.clone(),
        tags: log.tags.clone(),
        metadata: log.metadata.clone(),
        request_body: log.request_body.clone(),
        response_body: log.response_body.clone(),
        trace_id: log.trace.map(|t| hex(&t.trace_id)),
    }
}

impl LedgerWriter {
    /// Writes batches until `stop` fires, then drains the queue and returns.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut batch: Vec<LedgerRow> = Vec::with_capacity(BATCH);
        let mut last_prune: Option<tokio::time::Instant> = None;
        loop {
            if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(tokio::time::Instant::now());
                let now = crate::router::health::now_ms();
                match self
                    .store
                    .prune_ledger(self.retention_days, i64::try_from(now).unwrap_or(i64::MAX))
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "ledger: pruned rows past retention"),
                    Err(e) => tracing::warn!(error = %e, "ledger: pruning failed"),
                }
            }
            let stopping = tokio::select! {
                n = self.rx.recv_many(&mut batch, BATCH) => n == 0,
                _ = stop.wait_for(|s| *s) => true,
            };
            if !stopping && batch.len() < BATCH {
                // Linger briefly so a busy gateway writes full batches.
                let deadline = tokio::time::sleep(LINGER);
                tokio::pin!(deadline);
                while batch.len() < BATCH {
                    let room = BATCH - batch.len();
                    tokio::select! {
                        n = self.rx.recv_many(&mut batch, room) => if n == 0 { break },
                        _ = &mut deadline => break,
                    }
                }
            }
            if stopping {
                // Drain what is queued (records emitted by requests still finishing).
                while let Ok(row) = self.rx.try_recv() {
                    batch.push(row);
                }
            }
            self.write(&mut batch).await;
            if stopping {
                return;
            }
        }
    }

    async fn write(&self, batch: &mut Vec<LedgerRow>) {
        if batch.is_empty() {
            return;
        }
        for chunk in batch.chunks(BATCH) {
            let mut tries = 0;
            loop {
                match self.store.insert_ledger(chunk).await {
                    Ok(()) => break,
                    Err(e) if tries < 3 => {
                        tries += 1;
                        tracing::warn!(error = %e, rows = chunk.len(), "ledger write failed; retrying");
                        tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, rows = chunk.len(), "ledger write failed; rows lost");
                        break;
                    }
                }
            }
        }
        batch.clear();
    }
}
