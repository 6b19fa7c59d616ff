//! PostgreSQL specifics: day partitions of `ledger` and the bulk insert.
//!
//! `ledger` is partitioned by range on `time_ms`, one partition per UTC day named
//! `ledger_pYYYYMMDD`, plus `ledger_default` for stragglers. Partitions are created
//! before rows for their day are inserted, and remembered per `Store` so a batch
//! only costs a set lookup. Should the default partition already hold rows for a
//! day being created (a row written after another process dropped or before it
//! created the day), those rows are moved into the new partition.

use super::hist::{civil_from_days, day_of, days_from_civil, DAY_MS};
use super::{
    finite, opt_finite, rollup_deltas, rollup_upsert_sql, to_i64, Encoded, LedgerRow, COLUMNS,
    HIST_BUCKETS,
};
use crate::StoreError;
use sqlx::postgres::PgPool;
use sqlx::Row;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

/// The day partitions this process knows exist.
#[derive(Clone, Debug, Default)]
pub struct PartitionCache(Arc<Mutex<HashSet<i64>>>);

impl PartitionCache {
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut HashSet<i64>) -> T) -> T {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    fn missing(&self, days: impl IntoIterator<Item = i64>) -> Vec<i64> {
        self.with(|s| days.into_iter().filter(|d| !s.contains(d)).collect())
    }
}

pub(super) fn partition_name(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("ledger_p{y:04}{m:02}{d:02}")
}

fn day_of_partition(name: &str) -> Option<i64> {
    let digits = name.strip_prefix("ledger_p")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = digits[..4].parse().ok()?;
    let m: u32 = digits[4..6].parse().ok()?;
    let d: u32 = digits[6..].parse().ok()?;
    Some(days_from_civil(y, m, d))
}

fn day_range(day: i64) -> (i64, i64) {
    (
        day.saturating_mul(DAY_MS),
        day.saturating_add(1).saturating_mul(DAY_MS),
    )
}

fn db_code(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Days that get their own partition: years 1970 to 9999, whose names
/// (`ledger_pYYYYMMDD`) prune can read back. Rows outside (a clock or unit bug)
/// go to the default partition.
fn plausible_day(day: i64) -> bool {
    (0..=2_932_896).contains(&day)
}

/// Creates the partitions for `days` that this process has not seen yet.
pub(super) async fn ensure_days(
    pool: &PgPool,
    cache: &PartitionCache,
    days: &[i64],
) -> Result<(), StoreError> {
    let days = days.iter().copied().filter(|d| plausible_day(*d));
    for day in cache.missing(days) {
        let name = partition_name(day);
        let (a, b) = day_range(day);
        let create = format!(
            "CREATE TABLE IF NOT EXISTS \"{name}\" PARTITION OF ledger FOR VALUES FROM ({a}) TO ({b})"
        );
        if let Err(e) = sqlx::query(&create).execute(pool).await {
            let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(&name)
                .fetch_one(pool)
                .await?;
            if exists {
                // Another process created it meanwhile.
            } else if db_code(&e).as_deref() == Some("23514") {
                // The default partition holds rows for this day: move them.
                move_from_default(pool, &name, a, b).await?;
            } else {
                return Err(e.into());
            }
        }
        tracing::debug!(partition = %name, "ledger partition ready");
        cache.with(|s| s.insert(day));
    }
    Ok(())
}

async fn move_from_default(pool: &PgPool, name: &str, a: i64, b: i64) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(&format!(
        "CREATE TABLE \"{name}\" (LIKE ledger INCLUDING DEFAULTS)"
    ))
    .execute(&mut *tx)
    .await?;
    // Columns by name, so the copy does not depend on either table's physical order.
    let cols = COLUMNS.join(", ");
    let moved = sqlx::query(&format!(
        "WITH moved AS (DELETE FROM ledger_default WHERE time_ms >= {a} AND time_ms < {b} \
         RETURNING {cols}) INSERT INTO \"{name}\" ({cols}) SELECT {cols} FROM moved"
    ))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(&format!(
        "ALTER TABLE ledger ATTACH PARTITION \"{name}\" FOR VALUES FROM ({a}) TO ({b})"
    ))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(partition = %name, moved, "ledger partition created from the default partition");
    Ok(())
}

/// Rows per `UNNEST` insert statement.
const INSERT_CHUNK: usize = 5000;

/// PostgreSQL array types of [`COLUMNS`], in order.
const COLUMN_TYPES: [&str; 35] = [
    "text", "int8", "text", "text", "text", "text", "text", "bool", "int4", "text", "text", "text",
    "int8", "int8", "int8", "int8", "int8", "float8", "bool", "float8", "float8", "float8",
    "float8", "text", "text", "text", "text", "text", "text", "text", "text", "text", "int8",
    "int8", "int8",
];

fn insert_sql() -> String {
    let select = COLUMNS
        .iter()
        .map(|c| match *c {
            "attempts" | "tags" | "metadata" => format!("{c}::jsonb"),
            _ => (*c).to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let arrays = COLUMN_TYPES
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}[]", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO ledger ({cols}) SELECT {select} FROM UNNEST({arrays}) AS u({cols}) \
         ON CONFLICT DO NOTHING RETURNING request_id",
        cols = COLUMNS.join(", ")
    )
}

/// The rollup upsert from one array per column (one prepared statement whatever
/// the batch).
fn rollup_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let mut arrays = vec![
            "$1::text[]".to_string(),
            "$2::int8[]".into(),
            "$3::text[]".into(),
        ];
        arrays.extend((4..=7).map(|i| format!("${i}::int8[]")));
        arrays.push("$8::float8[]".into());
        arrays.extend((9..=11).map(|i| format!("${i}::int8[]")));
        arrays.extend((12..12 + HIST_BUCKETS).map(|i| format!("${i}::int4[]")));
        rollup_upsert_sql(&format!("SELECT * FROM UNNEST({})", arrays.join(", ")))
    })
}

/// PostgreSQL text cannot hold NUL: it becomes U+FFFD.
fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(s)
    }
}

fn opt_text(s: &Option<String>) -> Option<Cow<'_, str>> {
    s.as_deref().map(text)
}

/// jsonb cannot hold `\u0000` either; JSON is re-encoded without it when present.
fn json_text(s: String) -> Result<String, StoreError> {
    if !s.contains("\\u0000") {
        return Ok(s);
    }
    fn clean(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if s.contains('\0') => {
                *s = s.replace('\0', "\u{fffd}");
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(clean),
            serde_json::Value::Object(o) => {
                let entries = std::mem::take(o);
                for (k, mut v) in entries {
                    clean(&mut v);
                    o.insert(k.replace('\0', "\u{fffd}"), v);
                }
            }
            _ => {}
        }
    }
    let mut v: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    clean(&mut v);
    serde_json::to_string(&v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Inserts rows (already unique by request id), then their rollups, in one
/// transaction; retried on deadlock or serialization failure.
pub(super) async fn insert(
    pool: &PgPool,
    cache: &PartitionCache,
    rows: &[&LedgerRow],
) -> Result<(), StoreError> {
    let days: BTreeSet<i64> = rows.iter().map(|r| day_of(r.time_ms)).collect();
    let missing = cache.missing(days);
    if !missing.is_empty() {
        // The following day too, so midnight finds its partition ready.
        let want: BTreeSet<i64> = missing
            .iter()
            .flat_map(|d| [*d, d.saturating_add(1)])
            .collect();
        ensure_days(pool, cache, &want.into_iter().collect::<Vec<_>>()).await?;
    }
    let mut encoded = Vec::with_capacity(rows.len());
    for r in rows {
        let mut e = Encoded::new(r)?;
        e.attempts = json_text(e.attempts)?;
        e.tags = json_text(e.tags)?;
        e.metadata = e.metadata.map(json_text).transpose()?;
        encoded.push(e);
    }
    let sql = insert_sql();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match insert_once(pool, &sql, &encoded).await {
            Err(StoreError::Db(e))
                if attempt < 3 && matches!(db_code(&e).as_deref(), Some("40P01" | "40001")) =>
            {
                tracing::warn!(error = %e, attempt, "ledger insert retried");
            }
            r => return r,
        }
    }
}

async fn insert_once(pool: &PgPool, sql: &str, rows: &[Encoded<'_>]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let mut inserted: HashSet<String> = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(INSERT_CHUNK) {
        let n = chunk.len();
        let mut c = Cols::with_capacity(n);
        for e in chunk {
            c.push(e);
        }
        let q = sqlx::query(sql)
            .bind(c.request_id)
            .bind(c.time_ms)
            .bind(c.key_id)
            .bind(c.model)
            .bind(c.served_model)
            .bind(c.deployment)
            .bind(c.provider)
            .bind(c.stream)
            .bind(c.status)
            .bind(c.outcome)
            .bind(c.error_class)
            .bind(c.attempts)
            .bind(c.prompt_tokens)
            .bind(c.completion_tokens)
            .bind(c.cached_tokens)
            .bind(c.cache_write_tokens)
            .bind(c.reasoning_tokens)
            .bind(c.cost_usd)
            .bind(c.priced)
            .bind(c.latency_ms)
            .bind(c.ttft_ms)
            .bind(c.upstream_ms)
            .bind(c.overhead_ms)
            .bind(c.cache_status)
            .bind(c.client_ip)
            .bind(c.user_agent)
            .bind(c.tags)
            .bind(c.metadata)
            .bind(c.request_body)
            .bind(c.response_body)
            .bind(c.trace_id)
            .bind(c.endpoint)
            .bind(c.images)
            .bind(c.audio_ms)
            .bind(c.characters);
        for r in q.fetch_all(&mut *tx).await? {
            inserted.insert(r.try_get::<String, _>(0)?);
        }
    }
    // Ids come back as stored (NUL replaced), so compare the same way.
    let deltas = rollup_deltas(
        rows.iter()
            .map(|e| e.row)
            .filter(|r| inserted.contains(text(&r.request_id).as_ref())),
    );
    if !deltas.is_empty() {
        let n = deltas.len();
        let (mut dim, mut hour, mut grp) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut counts: [Vec<i64>; 7] = Default::default();
        let mut cost = Vec::with_capacity(n);
        let mut hist: Vec<Vec<i32>> = (0..HIST_BUCKETS).map(|_| Vec::with_capacity(n)).collect();
        for ((d, h, g), a) in &deltas {
            dim.push(*d);
            hour.push(*h);
            grp.push(text(g));
            for (c, v) in counts.iter_mut().zip([
                a.requests,
                a.errors,
                a.input_tokens,
                a.output_tokens,
                a.images,
                a.audio_ms,
                a.characters,
            ]) {
                c.push(v);
            }
            cost.push(a.cost_usd);
            for (col, v) in hist.iter_mut().zip(a.hist.iter()) {
                col.push(i32::try_from(*v).unwrap_or(i32::MAX));
            }
        }
        let [requests, errors, input, output, images, audio_ms, characters] = counts;
        let mut q = sqlx::query(rollup_sql())
            .bind(dim)
            .bind(hour)
            .bind(grp)
            .bind(requests)
            .bind(errors)
            .bind(input)
            .bind(output)
            .bind(cost)
            .bind(images)
            .bind(audio_ms)
            .bind(characters);
        for col in hist {
            q = q.bind(col);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// One chunk of rows as column arrays for `UNNEST`.
#[derive(Default)]
struct Cols<'a> {
    request_id: Vec<Cow<'a, str>>,
    time_ms: Vec<i64>,
    key_id: Vec<Option<Cow<'a, str>>>,
    model: Vec<Cow<'a, str>>,
    served_model: Vec<Option<Cow<'a, str>>>,
    deployment: Vec<Cow<'a, str>>,
    provider: Vec<Cow<'a, str>>,
    stream: Vec<bool>,
    status: Vec<i32>,
    outcome: Vec<Cow<'a, str>>,
    error_class: Vec<Option<Cow<'a, str>>>,
    attempts: Vec<&'a str>,
    prompt_tokens: Vec<i64>,
    completion_tokens: Vec<i64>,
    cached_tokens: Vec<i64>,
    cache_write_tokens: Vec<i64>,
    reasoning_tokens: Vec<i64>,
    cost_usd: Vec<f64>,
    priced: Vec<bool>,
    latency_ms: Vec<f64>,
    ttft_ms: Vec<Option<f64>>,
    upstream_ms: Vec<Option<f64>>,
    overhead_ms: Vec<Option<f64>>,
    cache_status: Vec<Option<Cow<'a, str>>>,
    client_ip: Vec<Option<Cow<'a, str>>>,
    user_agent: Vec<Option<Cow<'a, str>>>,
    tags: Vec<&'a str>,
    metadata: Vec<Option<&'a str>>,
    request_body: Vec<Option<Cow<'a, str>>>,
    response_body: Vec<Option<Cow<'a, str>>>,
    trace_id: Vec<Option<Cow<'a, str>>>,
    endpoint: Vec<Cow<'a, str>>,
    images: Vec<i64>,
    audio_ms: Vec<i64>,
    characters: Vec<i64>,
}

impl<'a> Cols<'a> {
    fn with_capacity(n: usize) -> Self {
        let mut c = Cols::default();
        c.request_id.reserve(n);
        c.time_ms.reserve(n);
        c
    }

    fn push(&mut self, e: &'a Encoded<'a>) {
        let r = e.row;
        self.request_id.push(text(&r.request_id));
        self.time_ms.push(r.time_ms);
        self.key_id.push(opt_text(&r.key_id));
        self.model.push(text(&r.model));
        self.served_model.push(opt_text(&r.served_model));
        self.deployment.push(text(&r.deployment));
        self.provider.push(text(&r.provider));
        self.stream.push(r.stream);
        self.status.push(i32::from(r.status));
        self.outcome.push(text(&r.outcome));
        self.error_class.push(opt_text(&r.error_class));
        self.attempts.push(&e.attempts);
        self.prompt_tokens.push(to_i64(r.prompt_tokens));
        self.completion_tokens.push(to_i64(r.completion_tokens));
        self.cached_tokens.push(to_i64(r.cached_tokens));
        self.cache_write_tokens.push(to_i64(r.cache_write_tokens));
        self.reasoning_tokens.push(to_i64(r.reasoning_tokens));
        self.cost_usd.push(finite(r.cost_usd));
        self.priced.push(r.priced);
        self.latency_ms.push(finite(r.latency_ms));
        self.ttft_ms.push(opt_finite(r.ttft_ms));
        self.upstream_ms.push(opt_finite(r.upstream_ms));
        self.overhead_ms.push(opt_finite(r.overhead_ms));
        self.cache_status.push(opt_text(&r.cache_status));
        self.client_ip.push(opt_text(&r.client_ip));
        self.user_agent.push(opt_text(&r.user_agent));
        self.tags.push(&e.tags);
        self.metadata.push(e.metadata.as_deref());
        self.request_body.push(opt_text(&r.request_body));
        self.response_body.push(opt_text(&r.response_body));
        self.trace_id.push(opt_text(&r.trace_id));
        self.endpoint.push(text(&r.endpoint));
        self.images.push(to_i64(r.images));
        self.audio_ms.push(to_i64(r.audio_ms));
        self.characters.push(to_i64(r.characters));
    }
}

/// Drops the day partitions before `cutoff_day` and older stragglers and rollups.
pub(super) async fn prune(
    pool: &PgPool,
    cache: &PartitionCache,
    cutoff_day: i64,
) -> Result<u64, StoreError> {
    let cutoff_ms = cutoff_day.saturating_mul(DAY_MS);
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'ledger'::regclass ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    let mut removed = 0u64;
    for name in names {
        let Some(day) = day_of_partition(&name) else {
            continue;
        };
        if day >= cutoff_day {
            continue;
        }
        let mut tx = pool.begin().await?;
        // Dropping a partition locks the parent: give up rather than stall writers.
        sqlx::query("SET LOCAL lock_timeout = '5s'")
            .execute(&mut *tx)
            .await?;
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{name}\""))
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(&format!("DROP TABLE \"{name}\""))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        cache.with(|s| s.remove(&day));
        removed += u64::try_from(n).unwrap_or(0);
        tracing::info!(partition = %name, rows = n, "ledger partition dropped");
    }
    let mut tx = pool.begin().await?;
    removed += sqlx::query("DELETE FROM ledger_default WHERE time_ms < $1")
        .bind(cutoff_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM ledger_rollup WHERE bucket_hour < $1")
        .bind(cutoff_ms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names() {
        let day = days_from_civil(2026, 3, 9);
        assert_eq!(partition_name(day), "ledger_p20260309");
        assert_eq!(day_of_partition("ledger_p20260309"), Some(day));
        assert_eq!(day_of_partition("ledger_default"), None);
        assert_eq!(day_of_partition("ledger_p2026030"), None);
        assert_eq!(day_range(1), (DAY_MS, 2 * DAY_MS));
        assert!(plausible_day(0));
        assert!(plausible_day(days_from_civil(9999, 12, 31)));
        assert!(!plausible_day(days_from_civil(10000, 1, 1)));
        assert!(!plausible_day(-1));
    }

    #[test]
    fn nul_is_replaced_for_postgres() {
        assert_eq!(text("a\0b"), "a\u{fffd}b");
        let j = serde_json::json!({"k\u{0}": ["x\u{0}y", 1, {"z": "\u{0}"}]}).to_string();
        let out = json_text(j).unwrap();
        assert!(!out.contains("\\u0000"), "{out}");
        // An escaped backslash before `u0000` is not a NUL and is kept.
        let literal = r#"["\\u0000"]"#.to_string();
        assert_eq!(json_text(literal.clone()).unwrap(), literal);
    }
}
