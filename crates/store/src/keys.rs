//! Governance storage: virtual keys, their spend per budget period, and the runtime
//! catalog (providers and models added at run time).
//!
//! Every change to a key, a provider or a model bumps one change version in the same
//! transaction. Replicas poll [`Store::governance_version`] (one row) and reload what
//! they cache when it moves. The version is a row, not a sequence, so a new number is
//! never visible before the change it stands for. Writers bump it first, which also
//! serialises governance writes (they are rare) and keeps their lock order fixed.
//!
//! Spend is separate and does not bump the version. [`Store::add_spend`] only ever
//! adds, so several replicas can flush at the same time.
//!
//! Invalid input (a malformed hash, a negative or non-finite amount, an unknown budget
//! period) is refused with `StoreError::Db(sqlx::Error::InvalidArgument(..))`; see
//! [`StoreError::is_invalid_argument`]. A second key with the same hash fails with a
//! unique violation; see [`StoreError::is_unique_violation`].

use crate::{Store, StoreError};
use std::collections::{BTreeMap, HashMap};

/// The budget periods a key may have (`budget_period`).
pub const BUDGET_PERIODS: [&str; 4] = ["day", "week", "month", "total"];

/// A key to create. The caller makes the key, hashes it and keeps the plaintext. The
/// store never sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewKey {
    pub name: String,
    /// SHA-256 of the full key, as 64 hex digits (stored in lowercase).
    pub key_hash: String,
    /// The key's first characters, for display (e.g. `sk-sy-ab12`).
    pub key_prefix: String,
    /// Model scopes. Empty means every model.
    pub models: Vec<String>,
    pub budget_usd: Option<f64>,
    /// One of [`BUDGET_PERIODS`].
    pub budget_period: Option<String>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_concurrency: Option<u64>,
    pub expires_at_ms: Option<i64>,
    /// Any JSON value. `Null` is stored as `{}`.
    pub metadata: serde_json::Value,
}

/// A stored key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// `key_` followed by 16 hex digits.
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub key_prefix: String,
    /// Empty means every model.
    pub models: Vec<String>,
    pub budget_usd: Option<f64>,
    pub budget_period: Option<String>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_concurrency: Option<u64>,
    pub expires_at_ms: Option<i64>,
    pub metadata: serde_json::Value,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

impl KeyRecord {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at_ms.is_some()
    }

    /// Neither revoked nor expired at `now_ms`.
    pub fn is_active(&self, now_ms: i64) -> bool {
        !self.is_revoked() && self.expires_at_ms.is_none_or(|e| now_ms < e)
    }
}

/// Changes to a key. `None` leaves a field alone. For nullable fields, `Some(None)`
/// clears. `models: Some(vec![])` allows every model again. Hash and prefix are fixed:
/// to rotate a key, create a new one and revoke the old.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub models: Option<Vec<String>>,
    pub budget_usd: Option<Option<f64>>,
    pub budget_period: Option<Option<String>>,
    pub rpm: Option<Option<u64>>,
    pub tpm: Option<Option<u64>>,
    pub max_concurrency: Option<Option<u64>>,
    pub expires_at_ms: Option<Option<i64>>,
    pub metadata: Option<serde_json::Value>,
}

impl KeyPatch {
    pub fn is_empty(&self) -> bool {
        self == &KeyPatch::default()
    }

    fn apply(&self, rec: &mut KeyRecord) {
        if let Some(v) = &self.name {
            rec.name.clone_from(v);
        }
        if let Some(v) = &self.models {
            rec.models.clone_from(v);
        }
        if let Some(v) = self.budget_usd {
            rec.budget_usd = v;
        }
        if let Some(v) = &self.budget_period {
            rec.budget_period.clone_from(v);
        }
        if let Some(v) = self.rpm {
            rec.rpm = v;
        }
        if let Some(v) = self.tpm {
            rec.tpm = v;
        }
        if let Some(v) = self.max_concurrency {
            rec.max_concurrency = v;
        }
        if let Some(v) = self.expires_at_ms {
            rec.expires_at_ms = v;
        }
        if let Some(v) = &self.metadata {
            rec.metadata.clone_from(v);
        }
    }
}

/// A provider added at run time.
#[derive(Clone, PartialEq)]
pub struct ProviderRecord {
    pub name: String,
    /// The provider's configuration, without secrets.
    pub config: serde_json::Value,
    /// The caller's ciphertext of the API keys (AES-256-GCM, nonce first), as given.
    pub secret: Option<Vec<u8>>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl std::fmt::Debug for ProviderRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderRecord")
            .field("name", &self.name)
            .field("config", &self.config)
            .field(
                "secret",
                &self.secret.as_ref().map(|s| format!("<{} bytes>", s.len())),
            )
            .field("created_at_ms", &self.created_at_ms)
            .field("updated_at_ms", &self.updated_at_ms)
            .finish()
    }
}

/// A model added at run time.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRecord {
    pub name: String,
    /// A model entry, shaped as in the configuration file.
    pub config: serde_json::Value,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl StoreError {
    /// A unique constraint refused the write (a key hash already in use).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// The input was refused before reaching the database.
    pub fn is_invalid_argument(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::InvalidArgument(_)))
    }
}

/// Runs `$body` with `$pool` bound to the store's pool, whatever its backend.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool, _) => $body,
        }
    };
}

const BUMP: &str =
    "UPDATE governance_version SET version = version + 1 WHERE id = 1 RETURNING version";
const VERSION: &str = "SELECT version FROM governance_version WHERE id = 1";

const KEY_COLUMNS: &str = "id, name, key_hash, key_prefix, models::text AS models, budget_usd, \
     budget_period, rpm, tpm, max_concurrency, expires_at_ms, metadata::text AS metadata, \
     created_at_ms, updated_at_ms, revoked_at_ms";
const PROVIDER_COLUMNS: &str = "name, config::text AS config, secret, created_at_ms, updated_at_ms";
const MODEL_COLUMNS: &str = "name, config::text AS config, created_at_ms, updated_at_ms";

impl Store {
    /// SQL written for PostgreSQL, with its JSON casts dropped for SQLite (which keeps
    /// JSON as TEXT). `$n` placeholders work on both.
    fn sql(&self, pg: &str) -> String {
        match self {
            Store::Postgres(..) => pg.to_string(),
            Store::Sqlite(_) => pg.replace("::jsonb", "").replace("::text", ""),
        }
    }

    /// Creates a key with a fresh id and returns it as stored. A hash already in use
    /// fails with a unique violation, and the version does not move.
    pub async fn create_key(&self, key: &NewKey) -> Result<KeyRecord, StoreError> {
        let now = now_ms();
        let rec = KeyRecord {
            id: format!("key_{:016x}", crate::rand_u64()),
            name: key.name.clone(),
            key_hash: key.key_hash.to_ascii_lowercase(),
            key_prefix: key.key_prefix.clone(),
            models: key.models.clone(),
            budget_usd: key.budget_usd,
            budget_period: key.budget_period.clone(),
            rpm: key.rpm,
            tpm: key.tpm,
            max_concurrency: key.max_concurrency,
            expires_at_ms: key.expires_at_ms,
            metadata: key.metadata.clone(),
            created_at_ms: now,
            updated_at_ms: now,
            revoked_at_ms: None,
        };
        let w = KeyWrite::new(&rec)?;
        let sql = self.sql(&format!(
            "INSERT INTO virtual_keys (id, name, key_hash, key_prefix, models, budget_usd, \
             budget_period, rpm, tpm, max_concurrency, expires_at_ms, metadata, created_at_ms, \
             updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $13) \
             RETURNING {KEY_COLUMNS}"
        ));
        let row: KeyRow = on_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query_scalar::<_, i64>(BUMP).fetch_one(&mut *tx).await?;
            let row = sqlx::query_as(&sql)
                .bind(&rec.id)
                .bind(&rec.name)
                .bind(&rec.key_hash)
                .bind(&rec.key_prefix)
                .bind(&w.models)
                .bind(rec.budget_usd)
                .bind(&rec.budget_period)
                .bind(w.rpm)
                .bind(w.tpm)
                .bind(w.max_concurrency)
                .bind(rec.expires_at_ms)
                .bind(&w.metadata)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            row
        });
        row.into_record()
    }

    /// Every key, oldest first, revoked ones only when asked.
    pub async fn list_keys(&self, include_revoked: bool) -> Result<Vec<KeyRecord>, StoreError> {
        let filter = if include_revoked {
            ""
        } else {
            "WHERE revoked_at_ms IS NULL "
        };
        let sql = self.sql(&format!(
            "SELECT {KEY_COLUMNS} FROM virtual_keys {filter}ORDER BY created_at_ms, id"
        ));
        let rows: Vec<KeyRow> = on_pool!(self, p => sqlx::query_as(&sql).fetch_all(p).await?);
        rows.into_iter().map(KeyRow::into_record).collect()
    }

    /// A key by id, revoked or not.
    pub async fn get_key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let sql = self.sql(&format!(
            "SELECT {KEY_COLUMNS} FROM virtual_keys WHERE id = $1"
        ));
        let row: Option<KeyRow> =
            on_pool!(self, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?);
        row.map(KeyRow::into_record).transpose()
    }

    /// Applies `patch` and returns the key as stored, or `None` when there is no such
    /// key. An empty patch writes nothing and does not move the version. Revoked keys
    /// can still be patched. They stay revoked.
    pub async fn update_key(
        &self,
        id: &str,
        patch: &KeyPatch,
    ) -> Result<Option<KeyRecord>, StoreError> {
        if patch.is_empty() {
            return self.get_key(id).await;
        }
        let select = self.sql(&format!(
            "SELECT {KEY_COLUMNS} FROM virtual_keys WHERE id = $1"
        ));
        let update = self.sql(&format!(
            "UPDATE virtual_keys SET name = $2, models = $3::jsonb, budget_usd = $4, \
             budget_period = $5, rpm = $6, tpm = $7, max_concurrency = $8, expires_at_ms = $9, \
             metadata = $10::jsonb, updated_at_ms = $11 \
             WHERE id = $1 RETURNING {KEY_COLUMNS}"
        ));
        let row: Option<KeyRow> = on_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query_scalar::<_, i64>(BUMP).fetch_one(&mut *tx).await?;
            let current: Option<KeyRow> =
                sqlx::query_as(&select).bind(id).fetch_optional(&mut *tx).await?;
            match current {
                None => {
                    tx.rollback().await?;
                    None
                }
                Some(current) => {
                    let mut rec = current.into_record()?;
                    patch.apply(&mut rec);
                    let w = KeyWrite::new(&rec)?;
                    let row = sqlx::query_as(&update)
                        .bind(id)
                        .bind(&rec.name)
                        .bind(&w.models)
                        .bind(rec.budget_usd)
                        .bind(&rec.budget_period)
                        .bind(w.rpm)
                        .bind(w.tpm)
                        .bind(w.max_concurrency)
                        .bind(rec.expires_at_ms)
                        .bind(&w.metadata)
                        .bind(now_ms())
                        .fetch_one(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Some(row)
                }
            }
        });
        row.map(KeyRow::into_record).transpose()
    }

    /// Revokes a key. Returns false when there is no such key or it is already revoked.
    /// In either case nothing is written and the version does not move.
    pub async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE virtual_keys SET revoked_at_ms = $2, updated_at_ms = $2 \
                   WHERE id = $1 AND revoked_at_ms IS NULL";
        let now = now_ms();
        Ok(on_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query_scalar::<_, i64>(BUMP).fetch_one(&mut *tx).await?;
            let n = sqlx::query(sql).bind(id).bind(now).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                tx.rollback().await?;
                false
            } else {
                tx.commit().await?;
                true
            }
        }))
    }

    /// The change version of keys, providers and models. It moves with every change and
    /// at no other time. Cheap enough to poll.
    pub async fn governance_version(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_scalar::<_, i64>(VERSION).fetch_one(p).await?))
    }

    /// The current version and, when it differs from `version`, every key (revoked ones
    /// included). Otherwise the list is empty. The version is read before the keys, so
    /// the keys are never older than the version returned. A change made between the two
    /// reads is simply loaded again on the next poll.
    pub async fn keys_changed_since(
        &self,
        version: i64,
    ) -> Result<(i64, Vec<KeyRecord>), StoreError> {
        let current = self.governance_version().await?;
        if current == version {
            return Ok((current, Vec::new()));
        }
        Ok((current, self.list_keys(true).await?))
    }

    /// Adds spend, as `(key_id, period_start_ms, delta_usd)`, in one transaction.
    /// Entries for the same key and period are summed first. Zero sums are skipped.
    /// Rows are written in a fixed order, so concurrent flushes from several replicas
    /// neither lose updates nor deadlock. Every delta must be finite (negative ones
    /// correct earlier spend). A non-finite delta refuses the whole batch.
    pub async fn add_spend<K: AsRef<str>>(
        &self,
        deltas: &[(K, i64, f64)],
    ) -> Result<(), StoreError> {
        let mut merged: BTreeMap<(&str, i64), f64> = BTreeMap::new();
        for (key, period, delta) in deltas {
            if !delta.is_finite() {
                return Err(invalid(format!(
                    "spend delta for {} must be finite, got {delta}",
                    key.as_ref()
                )));
            }
            *merged.entry((key.as_ref(), *period)).or_insert(0.0) += delta;
        }
        merged.retain(|_, d| *d != 0.0);
        if merged.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        match self {
            Store::Sqlite(p) => {
                let mut tx = p.begin().await?;
                for ((key, period), delta) in &merged {
                    sqlx::query(
                        "INSERT INTO key_spend (key_id, period_start_ms, spend_usd, updated_at_ms) \
                         VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (key_id, period_start_ms) DO UPDATE SET \
                         spend_usd = key_spend.spend_usd + excluded.spend_usd, \
                         updated_at_ms = excluded.updated_at_ms",
                    )
                    .bind(*key)
                    .bind(*period)
                    .bind(*delta)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            }
            Store::Postgres(p, _) => {
                // One statement, rows in the map's order.
                let mut keys = Vec::with_capacity(merged.len());
                let mut periods = Vec::with_capacity(merged.len());
                let mut amounts = Vec::with_capacity(merged.len());
                for ((key, period), delta) in &merged {
                    keys.push(key.to_string());
                    periods.push(*period);
                    amounts.push(*delta);
                }
                sqlx::query(
                    "INSERT INTO key_spend (key_id, period_start_ms, spend_usd, updated_at_ms) \
                     SELECT k, p, d, $4 \
                     FROM UNNEST($1::text[], $2::bigint[], $3::float8[]) \
                     WITH ORDINALITY AS t(k, p, d, i) \
                     ORDER BY i \
                     ON CONFLICT (key_id, period_start_ms) DO UPDATE SET \
                     spend_usd = key_spend.spend_usd + EXCLUDED.spend_usd, \
                     updated_at_ms = EXCLUDED.updated_at_ms",
                )
                .bind(keys)
                .bind(periods)
                .bind(amounts)
                .bind(now)
                .execute(p)
                .await?;
            }
        }
        Ok(())
    }

    /// A key's spend in the period starting at `period_start_ms` (0 when none).
    pub async fn spend(&self, key_id: &str, period_start_ms: i64) -> Result<f64, StoreError> {
        let sql = "SELECT spend_usd FROM key_spend WHERE key_id = $1 AND period_start_ms = $2";
        let v: Option<f64> = on_pool!(self, p => sqlx::query_scalar(sql)
            .bind(key_id)
            .bind(period_start_ms)
            .fetch_optional(p)
            .await?);
        Ok(v.unwrap_or(0.0))
    }

    /// The spend for each `(key_id, period_start_ms)`, in the order asked, in one query
    /// (0 where none).
    pub async fn current_spends<K: AsRef<str>>(
        &self,
        which: &[(K, i64)],
    ) -> Result<Vec<f64>, StoreError> {
        if which.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, i64, f64)> = match self {
            Store::Sqlite(p) => {
                let wanted: Vec<(&str, i64)> =
                    which.iter().map(|(k, p)| (k.as_ref(), *p)).collect();
                let json = serde_json::to_string(&wanted)
                    .map_err(|e| invalid(format!("spend query: {e}")))?;
                sqlx::query_as(
                    "SELECT s.key_id, s.period_start_ms, s.spend_usd FROM key_spend s \
                     JOIN (SELECT DISTINCT json_extract(value, '$[0]') AS k, \
                           json_extract(value, '$[1]') AS p FROM json_each($1)) w \
                     ON s.key_id = w.k AND s.period_start_ms = w.p",
                )
                .bind(json)
                .fetch_all(p)
                .await?
            }
            Store::Postgres(p, _) => {
                let keys: Vec<String> = which.iter().map(|(k, _)| k.as_ref().to_string()).collect();
                let periods: Vec<i64> = which.iter().map(|(_, p)| *p).collect();
                sqlx::query_as(
                    "SELECT s.key_id, s.period_start_ms, s.spend_usd FROM key_spend s \
                     JOIN (SELECT DISTINCT k, p \
                           FROM UNNEST($1::text[], $2::bigint[]) AS t(k, p)) w \
                     ON s.key_id = w.k AND s.period_start_ms = w.p",
                )
                .bind(keys)
                .bind(periods)
                .fetch_all(p)
                .await?
            }
        };
        let found: HashMap<(String, i64), f64> =
            rows.into_iter().map(|(k, p, s)| ((k, p), s)).collect();
        Ok(which
            .iter()
            .map(|(k, p)| {
                found
                    .get(&(k.as_ref().to_string(), *p))
                    .copied()
                    .unwrap_or(0.0)
            })
            .collect())
    }

    /// Creates or replaces a provider: `config` and `secret` replace what was stored
    /// (`secret: None` stores none). `created_at_ms` is kept. Moves the version.
    pub async fn upsert_provider(
        &self,
        name: &str,
        config: &serde_json::Value,
        secret: Option<Vec<u8>>,
    ) -> Result<ProviderRecord, StoreError> {
        let config = json_text(config)?;
        let sql = self.sql(&format!(
            "INSERT INTO runtime_providers (name, config, secret, created_at_ms, updated_at_ms) \
             VALUES ($1, $2::jsonb, $3, $4, $4) \
             ON CONFLICT (name) DO UPDATE SET config = excluded.config, \
             secret = excluded.secret, updated_at_ms = excluded.updated_at_ms \
             RETURNING {PROVIDER_COLUMNS}"
        ));
        let now = now_ms();
        let row: ProviderRow = on_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query_scalar::<_, i64>(BUMP).fetch_one(&mut *tx).await?;
            let row = sqlx::query_as(&sql)
                .bind(name)
                .bind(&config)
                .bind(&secret)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            row
        });
        row.into_record()
    }

    /// Deletes a provider. Returns false (and leaves the version alone) when there is
    /// none.
    pub async fn delete_provider(&self, name: &str) -> Result<bool, StoreError> {
        self.delete_named("DELETE FROM runtime_providers WHERE name = $1", name)
            .await
    }

    pub async fn get_provider(&self, name: &str) -> Result<Option<ProviderRecord>, StoreError> {
        let sql = self.sql(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM runtime_providers WHERE name = $1"
        ));
        let row: Option<ProviderRow> =
            on_pool!(self, p => sqlx::query_as(&sql).bind(name).fetch_optional(p).await?);
        row.map(ProviderRow::into_record).transpose()
    }

    /// Every runtime provider, by name.
    pub async fn list_providers(&self) -> Result<Vec<ProviderRecord>, StoreError> {
        let sql = self.sql(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM runtime_providers ORDER BY name"
        ));
        let rows: Vec<ProviderRow> = on_pool!(self, p => sqlx::query_as(&sql).fetch_all(p).await?);
        rows.into_iter().map(ProviderRow::into_record).collect()
    }

    /// Creates or replaces a model. `created_at_ms` is kept. Moves the version.
    pub async fn upsert_model(
        &self,
        name: &str,
        config: &serde_json::Value,
    ) -> Result<ModelRecord, StoreError> {
        let config = json_text(config)?;
        let sql = self.sql(&format!(
            "INSERT INTO runtime_models (name, config, created_at_ms, updated_at_ms) \
             VALUES ($1, $2::jsonb, $3, $3) \
             ON CONFLICT (name) DO UPDATE SET config = excluded.config, \
             updated_at_ms = excluded.updated_at_ms \
             RETURNING {MODEL_COLUMNS}"
        ));
        let now = now_ms();
        let row: ModelRow = on_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query_scalar::<_, i64>(BUMP).fetch_one(&mut *tx).await?;
            let row = sqlx::query_as(&sql)
                .bind(name)
                .bind(&config)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            row
        });
        row.into_record()
    }

    /// Deletes a model. Returns false (and leaves the version alone) when there is none.
    pub async fn delete_model(&self, name: &str) -> Result<bool, StoreError> {
        self.delete_named("DELETE FROM runtime_models WHERE name = $1", name)
            .await
    }

    pub async fn get_model(&self, name: &str) -> Result<Option<ModelRecord>, StoreError> {
        let sql = self.sql(&format!(
            "SELECT {MODEL_COLUMNS} FROM runtime_models WHERE name = $1"
        ));
        let row: Option<ModelRow> =
            on_pool!(self, p => sqlx::query_as(&sql).bind(name).fetch_optional(p).await?);
        row.map(ModelRow::into_record).transpose()
    }

    /// Every runtime model, by name.
    pub async fn list_models(&self) -> Result<Vec<ModelRecord>, StoreError> {
        let sql = self.sql(&format!(
            "SELECT {MODEL_COLUMNS} FROM runtime_models ORDER BY name"
        ));
        let rows: Vec<ModelRow> = on_pool!(self, p => sqlx::query_as(&sql).fetch_all(p).await?);
        rows.into_iter().map(ModelRow::into_record).collect()
    }

    /// Runs a one-row DELETE. Moves the version only when it deleted something.
    async fn delete_named(&self, sql: &str, name: &str) -> Result<bool, StoreError> {
        Ok(on_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query_scalar::<_, i64>(BUMP).fetch_one(&mut *tx).await?;
            let n = sqlx::query(sql).bind(name).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                tx.rollback().await?;
                false
            } else {
                tx.commit().await?;
                true
            }
        }))
    }
}

/// A key's columns as bound: checked, JSON encoded, limits as BIGINT.
struct KeyWrite {
    models: String,
    metadata: String,
    rpm: Option<i64>,
    tpm: Option<i64>,
    max_concurrency: Option<i64>,
}

impl KeyWrite {
    fn new(rec: &KeyRecord) -> Result<KeyWrite, StoreError> {
        if rec.key_hash.len() != 64 || !rec.key_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                "key_hash must be a SHA-256 digest as 64 hex digits",
            ));
        }
        if let Some(b) = rec.budget_usd {
            if !b.is_finite() || b < 0.0 {
                return Err(invalid(format!(
                    "budget_usd must be finite and not negative, got {b}"
                )));
            }
        }
        if let Some(p) = &rec.budget_period {
            if !BUDGET_PERIODS.contains(&p.as_str()) {
                return Err(invalid(format!(
                    "budget_period must be one of day, week, month, total; got `{p}`"
                )));
            }
        }
        let metadata = if rec.metadata.is_null() {
            "{}".to_string()
        } else {
            json_text(&rec.metadata)?
        };
        Ok(KeyWrite {
            models: serde_json::to_string(&rec.models)
                .map_err(|e| invalid(format!("models: {e}")))?,
            metadata,
            rpm: rec.rpm.map(to_bigint),
            tpm: rec.tpm.map(to_bigint),
            max_concurrency: rec.max_concurrency.map(to_bigint),
        })
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    name: String,
    key_hash: String,
    key_prefix: String,
    models: Option<String>,
    budget_usd: Option<f64>,
    budget_period: Option<String>,
    rpm: Option<i64>,
    tpm: Option<i64>,
    max_concurrency: Option<i64>,
    expires_at_ms: Option<i64>,
    metadata: Option<String>,
    created_at_ms: i64,
    updated_at_ms: i64,
    revoked_at_ms: Option<i64>,
}

impl KeyRow {
    fn into_record(self) -> Result<KeyRecord, StoreError> {
        let models: Option<Vec<String>> = match self.models.as_deref() {
            None => None,
            Some(s) => serde_json::from_str(s).map_err(decode)?,
        };
        let metadata = match self.metadata.as_deref() {
            None => serde_json::Value::Object(Default::default()),
            Some(s) => serde_json::from_str(s).map_err(decode)?,
        };
        Ok(KeyRecord {
            id: self.id,
            name: self.name,
            key_hash: self.key_hash,
            key_prefix: self.key_prefix,
            models: models.unwrap_or_default(),
            budget_usd: self.budget_usd,
            budget_period: self.budget_period,
            rpm: self.rpm.map(from_bigint),
            tpm: self.tpm.map(from_bigint),
            max_concurrency: self.max_concurrency.map(from_bigint),
            expires_at_ms: self.expires_at_ms,
            metadata,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            revoked_at_ms: self.revoked_at_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ProviderRow {
    name: String,
    config: String,
    secret: Option<Vec<u8>>,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl ProviderRow {
    fn into_record(self) -> Result<ProviderRecord, StoreError> {
        Ok(ProviderRecord {
            name: self.name,
            config: serde_json::from_str(&self.config).map_err(decode)?,
            secret: self.secret,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ModelRow {
    name: String,
    config: String,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl ModelRow {
    fn into_record(self) -> Result<ModelRecord, StoreError> {
        Ok(ModelRecord {
            name: self.name,
            config: serde_json::from_str(&self.config).map_err(decode)?,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
        })
    }
}

fn json_text(v: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| invalid(format!("JSON: {e}")))
}

fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::Db(sqlx::Error::InvalidArgument(msg.into()))
}

fn decode(e: serde_json::Error) -> StoreError {
    StoreError::Db(sqlx::Error::Decode(Box::new(e)))
}

/// Limits beyond `i64::MAX` are stored as `i64::MAX` (unlimited in practice).
fn to_bigint(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_bigint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DAY: i64 = 86_400_000;

    fn hash(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    async fn version(store: &Store) -> i64 {
        store.governance_version().await.unwrap()
    }

    // ---- scenarios, each run on SQLite and on PostgreSQL ----

    async fn key_lifecycle(store: Store) {
        let v0 = version(&store).await;
        assert_eq!(v0, 0, "a fresh database starts at version 0");

        let full = NewKey {
            name: "team a".into(),
            key_hash: hash(0xab).to_uppercase(),
            key_prefix: "sk-sy-ab12".into(),
            models: vec!["general".into(), "openai/*".into()],
            budget_usd: Some(10.5),
            budget_period: Some("month".into()),
            rpm: Some(60),
            tpm: Some(1000),
            max_concurrency: Some(2),
            expires_at_ms: Some(4_102_444_800_000),
            metadata: json!({"team": "a", "tags": [1, 2]}),
        };
        let a = store.create_key(&full).await.unwrap();
        assert!(a.id.starts_with("key_") && a.id.len() == 20, "{}", a.id);
        assert!(a.id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a.key_hash, hash(0xab), "hash stored in lowercase");
        assert_eq!(a.key_prefix, "sk-sy-ab12");
        assert_eq!(a.models, full.models);
        assert_eq!(a.budget_usd, Some(10.5));
        assert_eq!(a.budget_period.as_deref(), Some("month"));
        assert_eq!(
            (a.rpm, a.tpm, a.max_concurrency),
            (Some(60), Some(1000), Some(2))
        );
        assert_eq!(a.expires_at_ms, Some(4_102_444_800_000));
        assert_eq!(a.metadata, full.metadata);
        assert_eq!(a.created_at_ms, a.updated_at_ms);
        assert!(a.created_at_ms > 1_700_000_000_000);
        assert_eq!(a.revoked_at_ms, None);
        assert!(a.is_active(a.created_at_ms));
        assert!(!a.is_active(4_102_444_800_000), "expired");

        let b = store
            .create_key(&NewKey {
                name: "minimal".into(),
                key_hash: hash(0x01),
                key_prefix: "sk-sy-0101".into(),
                rpm: Some(u64::MAX),
                ..NewKey::default()
            })
            .await
            .unwrap();
        assert!(b.models.is_empty());
        assert_eq!(b.metadata, json!({}), "null metadata is stored as {{}}");
        assert_eq!((b.budget_usd, b.budget_period.clone()), (None, None));
        assert_eq!(b.rpm, Some(i64::MAX as u64), "limits saturate at i64::MAX");
        assert_ne!(a.id, b.id);
        assert_eq!(version(&store).await, v0 + 2);

        // The same hash again, in any case, is refused and moves nothing.
        let dup = store
            .create_key(&NewKey {
                name: "dup".into(),
                key_hash: hash(0xab),
                key_prefix: "x".into(),
                ..NewKey::default()
            })
            .await
            .unwrap_err();
        assert!(dup.is_unique_violation(), "{dup}");
        for bad in [
            NewKey {
                key_hash: "abc".into(),
                ..NewKey::default()
            },
            NewKey {
                key_hash: "zz".repeat(32),
                ..NewKey::default()
            },
            NewKey {
                key_hash: hash(2),
                budget_usd: Some(-1.0),
                ..NewKey::default()
            },
            NewKey {
                key_hash: hash(3),
                budget_usd: Some(f64::NAN),
                ..NewKey::default()
            },
            NewKey {
                key_hash: hash(4),
                budget_period: Some("year".into()),
                ..NewKey::default()
            },
        ] {
            let e = store.create_key(&bad).await.unwrap_err();
            assert!(e.is_invalid_argument(), "{e}");
        }
        assert_eq!(version(&store).await, v0 + 2, "failed writes move nothing");
        assert_eq!(store.list_keys(true).await.unwrap().len(), 2);

        assert_eq!(store.get_key(&a.id).await.unwrap().as_ref(), Some(&a));
        assert_eq!(store.get_key("key_missing").await.unwrap(), None);
        let mut ids: Vec<String> = store
            .list_keys(false)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.id)
            .collect();
        ids.sort();
        let mut want = vec![a.id.clone(), b.id.clone()];
        want.sort();
        assert_eq!(ids, want);

        // Patch: set some fields, clear others, leave the rest.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let patch = KeyPatch {
            name: Some("team a (renamed)".into()),
            models: Some(vec![]),
            budget_usd: Some(None),
            budget_period: Some(None),
            rpm: Some(Some(120)),
            max_concurrency: Some(None),
            expires_at_ms: Some(None),
            metadata: Some(json!({"team": "a2"})),
            ..KeyPatch::default()
        };
        let a2 = store.update_key(&a.id, &patch).await.unwrap().unwrap();
        assert_eq!(a2.name, "team a (renamed)");
        assert!(a2.models.is_empty());
        assert_eq!((a2.budget_usd, a2.budget_period.clone()), (None, None));
        assert_eq!(
            (a2.rpm, a2.tpm, a2.max_concurrency),
            (Some(120), Some(1000), None)
        );
        assert_eq!(a2.expires_at_ms, None);
        assert_eq!(a2.metadata, json!({"team": "a2"}));
        assert_eq!(
            (a2.key_hash.as_str(), a2.created_at_ms),
            (a.key_hash.as_str(), a.created_at_ms)
        );
        assert!(a2.updated_at_ms > a.updated_at_ms);
        assert_eq!(store.get_key(&a.id).await.unwrap().as_ref(), Some(&a2));
        assert_eq!(version(&store).await, v0 + 3);

        // Setting values back.
        let a3 = store
            .update_key(
                &a.id,
                &KeyPatch {
                    budget_usd: Some(Some(5.0)),
                    budget_period: Some(Some("day".into())),
                    models: Some(vec!["general".into()]),
                    ..KeyPatch::default()
                },
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a3.budget_usd, Some(5.0));
        assert_eq!(a3.budget_period.as_deref(), Some("day"));
        assert_eq!(a3.models, vec!["general".to_string()]);
        assert_eq!(a3.rpm, Some(120));
        assert_eq!(version(&store).await, v0 + 4);

        // No key, an empty patch, an invalid patch: nothing moves.
        let name_patch = KeyPatch {
            name: Some("x".into()),
            ..KeyPatch::default()
        };
        assert_eq!(
            store.update_key("key_missing", &name_patch).await.unwrap(),
            None
        );
        assert_eq!(
            store.update_key(&a.id, &KeyPatch::default()).await.unwrap(),
            Some(a3.clone())
        );
        let e = store
            .update_key(
                &a.id,
                &KeyPatch {
                    budget_usd: Some(Some(f64::INFINITY)),
                    ..KeyPatch::default()
                },
            )
            .await
            .unwrap_err();
        assert!(e.is_invalid_argument(), "{e}");
        assert_eq!(store.get_key(&a.id).await.unwrap(), Some(a3.clone()));
        assert_eq!(version(&store).await, v0 + 4);

        // Revoke.
        assert!(store.revoke_key(&b.id).await.unwrap());
        assert_eq!(version(&store).await, v0 + 5);
        assert!(!store.revoke_key(&b.id).await.unwrap(), "already revoked");
        assert!(!store.revoke_key("key_missing").await.unwrap());
        assert_eq!(version(&store).await, v0 + 5);
        let rb = store.get_key(&b.id).await.unwrap().unwrap();
        assert!(rb.is_revoked() && !rb.is_active(rb.created_at_ms));
        assert_eq!(rb.revoked_at_ms, Some(rb.updated_at_ms));
        let active = store.list_keys(false).await.unwrap();
        assert_eq!(active, vec![a3.clone()]);
        assert_eq!(store.list_keys(true).await.unwrap().len(), 2);
        // A revoked key can be patched and stays revoked.
        let rb2 = store.update_key(&b.id, &name_patch).await.unwrap().unwrap();
        assert!(rb2.is_revoked());
        assert_eq!(version(&store).await, v0 + 6);
    }

    async fn versions(store: Store) {
        let v = version(&store).await;
        let (same, keys) = store.keys_changed_since(v).await.unwrap();
        assert_eq!((same, keys.len()), (v, 0));

        let k = store
            .create_key(&NewKey {
                name: "k".into(),
                key_hash: hash(7),
                key_prefix: "sk-sy-0707".into(),
                ..NewKey::default()
            })
            .await
            .unwrap();
        let (v1, keys) = store.keys_changed_since(v).await.unwrap();
        assert_eq!(v1, v + 1);
        assert_eq!(keys, vec![k.clone()]);
        assert_eq!(store.keys_changed_since(v1).await.unwrap(), (v1, vec![]));

        // Reads and spend never move the version.
        store.list_keys(true).await.unwrap();
        store.get_key(&k.id).await.unwrap();
        store.list_providers().await.unwrap();
        store.list_models().await.unwrap();
        store.add_spend(&[(k.id.as_str(), 0, 1.0)]).await.unwrap();
        store.spend(&k.id, 0).await.unwrap();
        store.current_spends(&[(k.id.as_str(), 0)]).await.unwrap();
        assert_eq!(version(&store).await, v1);

        // Every catalog change moves it by one; misses do not.
        store.upsert_provider("p", &json!({}), None).await.unwrap();
        assert_eq!(version(&store).await, v1 + 1);
        store
            .upsert_provider("p", &json!({"a": 1}), None)
            .await
            .unwrap();
        assert_eq!(version(&store).await, v1 + 2);
        store.upsert_model("m", &json!({})).await.unwrap();
        assert_eq!(version(&store).await, v1 + 3);
        assert!(store.delete_model("m").await.unwrap());
        assert_eq!(version(&store).await, v1 + 4);
        assert!(!store.delete_model("m").await.unwrap());
        assert!(store.delete_provider("p").await.unwrap());
        assert_eq!(version(&store).await, v1 + 5);
        assert!(!store.delete_provider("p").await.unwrap());
        assert_eq!(version(&store).await, v1 + 5);

        // Revocations reach pollers, revoked keys included in the reload.
        assert!(store.revoke_key(&k.id).await.unwrap());
        let (v2, keys) = store.keys_changed_since(v1 + 5).await.unwrap();
        assert_eq!(v2, v1 + 6);
        assert_eq!(keys.len(), 1);
        assert!(keys[0].is_revoked());
        // Any other version (say, from before a restore) also reloads.
        assert_eq!(store.keys_changed_since(v2 + 10).await.unwrap().1.len(), 1);
    }

    async fn concurrent_spend(store: Store) {
        const TASKS: usize = 8;
        const ROUNDS: usize = 40;
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut batch = vec![
                    ("key_a", DAY, 0.125),
                    ("key_b", DAY, 0.5),
                    ("key_a", 2 * DAY, 0.25),
                    ("key_a", DAY, 0.125),
                ];
                if t % 2 == 1 {
                    batch.reverse();
                }
                for _ in 0..ROUNDS {
                    store.add_spend(&batch).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let n = (TASKS * ROUNDS) as f64;
        assert_eq!(store.spend("key_a", DAY).await.unwrap(), n * 0.25);
        assert_eq!(store.spend("key_b", DAY).await.unwrap(), n * 0.5);
        assert_eq!(store.spend("key_a", 2 * DAY).await.unwrap(), n * 0.25);
        assert_eq!(
            store
                .current_spends(&[("key_b", DAY), ("key_a", DAY), ("key_a", 2 * DAY)])
                .await
                .unwrap(),
            vec![n * 0.5, n * 0.25, n * 0.25]
        );
    }

    async fn spend_periods(store: Store) {
        let v = version(&store).await;
        let empty: [(&str, i64, f64); 0] = [];
        store.add_spend(&empty).await.unwrap();
        store
            .add_spend(&[
                ("k".to_string(), DAY, 1.5),
                ("k".to_string(), 2 * DAY, 2.0),
                ("j".to_string(), DAY, 0.75),
                ("z".to_string(), DAY, 0.0),
            ])
            .await
            .unwrap();
        assert_eq!(store.spend("k", DAY).await.unwrap(), 1.5);
        assert_eq!(store.spend("k", 2 * DAY).await.unwrap(), 2.0);
        assert_eq!(store.spend("j", DAY).await.unwrap(), 0.75);
        assert_eq!(store.spend("j", 2 * DAY).await.unwrap(), 0.0);
        assert_eq!(store.spend("k", 0).await.unwrap(), 0.0);
        assert_eq!(store.spend("z", DAY).await.unwrap(), 0.0);

        // Corrections subtract. A non-finite delta refuses the whole batch.
        store.add_spend(&[("k", DAY, -0.5)]).await.unwrap();
        assert_eq!(store.spend("k", DAY).await.unwrap(), 1.0);
        for bad in [f64::NAN, f64::INFINITY] {
            let e = store
                .add_spend(&[("k", DAY, 1.0), ("j", DAY, bad)])
                .await
                .unwrap_err();
            assert!(e.is_invalid_argument(), "{e}");
        }
        assert_eq!(store.spend("k", DAY).await.unwrap(), 1.0);
        assert_eq!(store.spend("j", DAY).await.unwrap(), 0.75);

        // Bulk reads keep the order asked, duplicates and misses included.
        let none: [(&str, i64); 0] = [];
        assert!(store.current_spends(&none).await.unwrap().is_empty());
        assert_eq!(
            store
                .current_spends(&[
                    ("k", 2 * DAY),
                    ("j", DAY),
                    ("nobody", 5),
                    ("k", DAY),
                    ("k", DAY),
                    ("k", i64::MAX),
                ])
                .await
                .unwrap(),
            vec![2.0, 0.75, 0.0, 1.0, 1.0, 0.0]
        );
        // Large period starts survive the trip.
        store.add_spend(&[("k", i64::MAX, 3.0)]).await.unwrap();
        assert_eq!(
            store.current_spends(&[("k", i64::MAX)]).await.unwrap(),
            vec![3.0]
        );
        assert_eq!(version(&store).await, v, "spend does not move the version");
    }

    async fn catalog(store: Store) {
        // Secret bytes of every value, as a nonce-prefixed ciphertext would be.
        let secret: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
        let cfg = json!({
            "type": "openai",
            "base_url": "https://api.openai.com/v1",
            "timeout_ms": 30000,
            "weight": 0.5,
            "headers": {"x-a": "b"},
            "models": ["gpt-4o", "gpt-4o-mini"]
        });
        let p = store
            .upsert_provider("openai", &cfg, Some(secret.clone()))
            .await
            .unwrap();
        assert_eq!(p.name, "openai");
        assert_eq!(p.config, cfg);
        assert_eq!(p.secret.as_deref(), Some(secret.as_slice()));
        assert_eq!(p.created_at_ms, p.updated_at_ms);
        assert_eq!(
            store.get_provider("openai").await.unwrap().as_ref(),
            Some(&p)
        );
        assert!(format!("{p:?}").contains("<259 bytes>"));
        assert!(!format!("{p:?}").contains("255, 0, 0, 255"));

        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let cfg2 = json!({"type": "openai", "base_url": "http://localhost:9"});
        let p2 = store.upsert_provider("openai", &cfg2, None).await.unwrap();
        assert_eq!((p2.config.clone(), p2.secret.clone()), (cfg2, None));
        assert_eq!(p2.created_at_ms, p.created_at_ms);
        assert!(p2.updated_at_ms > p.updated_at_ms);
        let a = store
            .upsert_provider(
                "anthropic",
                &json!({"type": "anthropic"}),
                Some(vec![9; 40]),
            )
            .await
            .unwrap();
        assert_eq!(store.list_providers().await.unwrap(), vec![a.clone(), p2]);
        assert!(store.delete_provider("openai").await.unwrap());
        assert!(!store.delete_provider("openai").await.unwrap());
        assert_eq!(store.get_provider("openai").await.unwrap(), None);
        assert_eq!(store.list_providers().await.unwrap(), vec![a]);
        assert!(store.upsert_provider("", &json!({}), None).await.is_err());

        let m = store
            .upsert_model(
                "general",
                &json!({"deployments": [{"provider": "anthropic", "model": "claude"}]}),
            )
            .await
            .unwrap();
        let m2 = store
            .upsert_model("fast", &json!({"deployments": [], "max_tokens": null}))
            .await
            .unwrap();
        assert_eq!(m2.config, json!({"deployments": [], "max_tokens": null}));
        assert_eq!(
            store.list_models().await.unwrap(),
            vec![m2.clone(), m.clone()]
        );
        let m3 = store
            .upsert_model("general", &json!({"deployments": []}))
            .await
            .unwrap();
        assert_eq!(m3.created_at_ms, m.created_at_ms);
        assert_eq!(store.get_model("general").await.unwrap(), Some(m3));
        assert!(store.delete_model("fast").await.unwrap());
        assert!(!store.delete_model("fast").await.unwrap());
        assert_eq!(store.list_models().await.unwrap().len(), 1);
        assert_eq!(store.get_model("fast").await.unwrap(), None);
    }

    // ---- backends ----

    async fn sqlite(test: &str) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("sy-keys-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}/t.db", dir.display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        (store, dir)
    }

    struct PgDb {
        admin: Store,
        name: String,
        store: Store,
    }

    impl PgDb {
        async fn drop_db(self) {
            self.store.close().await;
            let Store::Postgres(pool, _) = &self.admin else {
                unreachable!()
            };
            sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(pool)
            .await
            .unwrap();
            self.admin.close().await;
        }
    }

    /// A fresh database for one test, or `None` (skipped loudly) when PostgreSQL is
    /// unreachable outside CI.
    async fn postgres(test: &str) -> Option<PgDb> {
        let url = std::env::var("SWITCHYARD_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin = match Store::connect(&url).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("SKIPPED: PostgreSQL not reachable at {url}: {e}");
                assert!(std::env::var("CI").is_err(), "CI must have PostgreSQL");
                return None;
            }
        };
        let Store::Postgres(pool, _) = &admin else {
            panic!("SWITCHYARD_TEST_POSTGRES must be a postgres:// URL")
        };
        let name = format!("sy_keys_{test}_{}", std::process::id());
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(pool)
            .await
            .unwrap();
        let base = url.rsplit_once('/').map(|(b, _)| b).unwrap();
        let store = Store::connect(&format!("{base}/{name}")).await.unwrap();
        store.migrate().await.unwrap();
        Some(PgDb { admin, name, store })
    }

    /// One test per backend for a scenario.
    macro_rules! on_both {
        ($scenario:ident) => {
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    let (store, dir) = super::sqlite(stringify!($scenario)).await;
                    super::$scenario(store.clone()).await;
                    store.close().await;
                    let _ = std::fs::remove_dir_all(dir);
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    let Some(db) = super::postgres(stringify!($scenario)).await else {
                        return;
                    };
                    super::$scenario(db.store.clone()).await;
                    db.drop_db().await;
                }
            }
        };
    }

    on_both!(key_lifecycle);
    on_both!(versions);
    on_both!(concurrent_spend);
    on_both!(spend_periods);
    on_both!(catalog);
}
