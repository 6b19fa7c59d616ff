//! Keeps the in-memory governance state in step with the store, off the request path:
//! the key cache is reloaded when the store's change version moves (polled every
//! 500 ms, so a revocation or limit change reaches every replica within a second), and
//! spend booked in memory is flushed in batches and the fleet-wide totals read back.

use super::keys::{KeyCache, KeySpec};
use super::period::Period;
use std::sync::Arc;
use std::time::Duration;
use switchyard_store::{KeyRecord, Store};

const POLL: Duration = Duration::from_millis(500);
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The cache's view of a stored key.
pub fn spec(r: &KeyRecord) -> Option<KeySpec> {
    let mut hash = [0u8; 32];
    if r.key_hash.len() != 64 {
        return None;
    }
    for (i, b) in hash.iter_mut().enumerate() {
        *b = u8::from_str_radix(r.key_hash.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(KeySpec {
        id: r.id.clone(),
        name: r.name.clone(),
        hash,
        models: r.models.clone(),
        budget_usd: r.budget_usd,
        period: r.budget_period.as_deref().and_then(Period::parse),
        rpm: r.rpm,
        tpm: r.tpm,
        max_concurrency: r.max_concurrency,
        expires_at_ms: r.expires_at_ms.and_then(|v| u64::try_from(v).ok()),
        revoked: r.is_revoked(),
        log_bodies: r.metadata.get("log_bodies") == Some(&serde_json::Value::Bool(true)),
    })
}

pub struct Sync {
    pub store: Store,
    pub keys: Arc<KeyCache>,
    version: i64,
    /// The shared limiter, whose spend counters are raised to the store's totals.
    limits: Option<Arc<switchyard_shared_state::limits::RedisLimits>>,
    /// Where a rebuilt catalog goes (the runtime providers and models), and what it
    /// was last built from.
    catalog: Option<crate::state::AppState>,
    catalog_fingerprint: Option<Vec<(String, i64)>>,
}

impl Sync {
    pub fn new(store: Store, keys: Arc<KeyCache>) -> Self {
        Sync {
            store,
            keys,
            // Below any real version: the first poll loads everything.
            version: -1,
            limits: None,
            catalog: None,
            catalog_fingerprint: None,
        }
    }

    pub fn with_catalog(mut self, state: crate::state::AppState) -> Self {
        self.catalog = Some(state);
        self
    }

    /// Rebuilds the catalog from the config file and the runtime entries when those
    /// changed (`force`: whatever the fingerprint says).
    pub async fn refresh_catalog(&mut self, force: bool) -> Result<(), String> {
        let Some(state) = &self.catalog else {
            return Ok(());
        };
        let providers = self
            .store
            .list_providers()
            .await
            .map_err(|e| e.to_string())?;
        let models = self.store.list_models().await.map_err(|e| e.to_string())?;
        let fp = super::runtime::fingerprint(&providers, &models);
        if !force && self.catalog_fingerprint.as_ref() == Some(&fp) {
            return Ok(());
        }
        let merged = super::runtime::merge(
            &state.base_config,
            &providers,
            &models,
            state.secrets.as_ref(),
        )?;
        let catalog = super::runtime::build(&merged)?;
        state.catalog.store(Arc::new(catalog));
        self.catalog_fingerprint = Some(fp);
        Ok(())
    }

    pub fn with_limits(
        mut self,
        limits: Option<Arc<switchyard_shared_state::limits::RedisLimits>>,
    ) -> Self {
        self.limits = limits;
        self
    }

    /// Reloads the key cache when the store changed.
    pub async fn refresh_keys(&mut self) -> Result<bool, switchyard_store::StoreError> {
        let (version, records) = self.store.keys_changed_since(self.version).await?;
        if version == self.version {
            return Ok(false);
        }
        self.keys.replace(records.iter().filter_map(spec).collect());
        self.version = version;
        Ok(true)
    }

    /// Writes spend booked since the last flush, then reads each budgeted key's
    /// period total (every replica's flushes) back into its counters.
    pub async fn flush_spend(&self) -> Result<(), switchyard_store::StoreError> {
        let now = crate::router::health::now_ms();
        let keys = self.keys.all();
        let mut deltas: Vec<(String, i64, f64)> = Vec::new();
        let mut taken = Vec::new();
        for k in &keys {
            if let Some((start, delta)) = k.counters.take_unflushed() {
                deltas.push((k.id.clone(), i64::try_from(start).unwrap_or(0), delta));
                taken.push((k.clone(), start, delta));
            }
        }
        if !deltas.is_empty() {
            let result = self.store.add_spend(&deltas).await;
            let ok = result.is_ok();
            for (k, start, delta) in taken {
                k.counters.flushed(start, delta, ok);
            }
            result?;
        }
        let budgeted: Vec<_> = keys
            .iter()
            .filter(|k| k.limits.budget_usd.is_some())
            .collect();
        if budgeted.is_empty() {
            return Ok(());
        }
        let which: Vec<(String, i64)> = budgeted
            .iter()
            .map(|k| {
                let (start, _) = k.limits.period.bounds(now);
                (k.id.clone(), i64::try_from(start).unwrap_or(0))
            })
            .collect();
        let totals = self.store.current_spends(&which).await?;
        for ((k, (_, start)), total) in budgeted.iter().zip(&which).zip(totals) {
            let start = u64::try_from(*start).unwrap_or(0);
            k.counters.set_store_spend(start, total);
            // A restarted fleet (or one whose Redis lost data) continues from the
            // store's figure.
            if let Some(limits) = &self.limits {
                if let Err(e) = limits.seed_spend(&k.id, start, total).await {
                    tracing::debug!(error = %e, "could not seed the shared spend counter");
                }
            }
        }
        Ok(())
    }

    /// Runs until `stop` fires, then flushes once more.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut last_flush = tokio::time::Instant::now();
        let mut warned = false;
        loop {
            let stopping = tokio::select! {
                _ = tokio::time::sleep(POLL) => false,
                r = stop.wait_for(|s| *s) => { drop(r); true }
            };
            if stopping {
                if let Err(e) = self.flush_spend().await {
                    tracing::warn!(error = %e, "could not flush key spend at shutdown");
                }
                return;
            }
            let result = async {
                if self.refresh_keys().await? {
                    if let Err(e) = self.refresh_catalog(false).await {
                        tracing::error!(error = %e, "runtime catalog not applied; keeping the current one");
                    }
                }
                if last_flush.elapsed() >= FLUSH_EVERY {
                    last_flush = tokio::time::Instant::now();
                    self.flush_spend().await?;
                }
                Ok::<(), switchyard_store::StoreError>(())
            }
            .await;
            match result {
                Ok(()) => warned = false,
                Err(e) if !warned => {
                    warned = true;
                    tracing::warn!(error = %e, "governance sync with the database failed; keys and spend may be stale until it recovers");
                }
                Err(_) => {}
            }
        }
    }
}
