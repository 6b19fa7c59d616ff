//! The request ledger: one row per finished request, written in batches from a
//! background task, read by admin routes and the CLI.
//!
//! Both backends keep the raw rows in `ledger` and hourly rollups in
//! `ledger_rollup` (per model, key, deployment, provider and endpoint: counts,
//! tokens, media units, cost and a latency histogram), maintained in the insert's transaction. Usage over
//! whole hours reads only rollups; the partial hours at the edges of a range are
//! aggregated from raw rows with the same histogram. PostgreSQL partitions the
//! raw rows by UTC day (see [`pg`]) so retention drops whole days.
//!
//! Reads are built once ([`Sql`] writes `$n` placeholders for PostgreSQL and `?`
//! for SQLite, whose `$n` are named parameters looked up by linear scan) and
//! bound per backend. Writes share the rollup computation and the upsert's
//! `ON CONFLICT … DO UPDATE` text but feed it differently for speed: PostgreSQL
//! with `UNNEST` of one array per column (rows and rollups, one prepared statement
//! each), SQLite with multi-row `VALUES` for rows and a prepared upsert per rollup
//! row. Partition management is PostgreSQL-only.

mod hist;
mod pg;
#[cfg(test)]
mod tests;

use hist::{bucket_of, quantile};
pub use hist::{rfc3339, HIST_BUCKETS, HIST_RATIO};
pub use pg::PartitionCache;

use crate::{Store, StoreError};
use hist::{day_of, hour_floor, DAY_MS, HOUR_MS};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqliteArguments};
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};

/// One finished request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LedgerRow {
    pub request_id: String,
    /// Unix milliseconds of the request's start.
    pub time_ms: i64,
    /// The API the client called: `chat.completions`, `messages`, `responses`,
    /// `embeddings`, `images.generations`, `audio.transcriptions` or `audio.speech`.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    pub key_id: Option<String>,
    /// The public model the client asked for.
    pub model: String,
    /// The model served when a fallback or route changed it.
    pub served_model: Option<String>,
    /// `provider/model` of the last deployment tried; empty when none was reached.
    pub deployment: String,
    pub provider: String,
    pub stream: bool,
    pub status: u16,
    /// ok | rejected | upstream_error | stream_error | client_disconnected
    pub outcome: String,
    pub error_class: Option<String>,
    pub attempts: Vec<LedgerAttempt>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
    /// Images generated (image requests).
    #[serde(default)]
    pub images: u64,
    /// Milliseconds of audio transcribed (transcription requests).
    #[serde(default)]
    pub audio_ms: u64,
    /// Characters of text spoken (speech requests).
    #[serde(default)]
    pub characters: u64,
    pub cost_usd: f64,
    /// False when the model has no known price (cost is then 0).
    pub priced: bool,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub upstream_ms: Option<f64>,
    pub overhead_ms: Option<f64>,
    pub cache_status: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Option<serde_json::Value>,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    pub trace_id: Option<String>,
}

/// The endpoint of rows that do not say (all rows written before it was recorded).
pub const DEFAULT_ENDPOINT: &str = "chat.completions";

fn default_endpoint() -> String {
    DEFAULT_ENDPOINT.to_string()
}

/// One upstream attempt of a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LedgerAttempt {
    pub deployment: String,
    pub status: Option<u16>,
    pub error_class: Option<String>,
    /// Start of the attempt, from the request's start.
    pub offset_ms: f64,
    pub latency_ms: f64,
}

impl LedgerRow {
    /// Whether the request counts as an error in usage: status >= 400 or an
    /// outcome other than `ok`.
    pub fn is_error(&self) -> bool {
        self.status >= 400 || self.outcome != "ok"
    }
}

/// Filters for [`Store::list_requests`]. Every filter is optional and they
/// combine with AND; `from_ms` is inclusive and `to_ms` exclusive.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestFilter {
    pub key_id: Option<String>,
    pub model: Option<String>,
    pub deployment: Option<String>,
    pub endpoint: Option<String>,
    /// Exact status code.
    pub status: Option<u16>,
    pub outcome: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Rows per page: default [`DEFAULT_LIST_LIMIT`], at most [`MAX_LIST_LIMIT`].
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub const DEFAULT_LIST_LIMIT: u32 = 50;
pub const MAX_LIST_LIMIT: u32 = 1000;
/// Largest page [`Store::export_ledger`] returns.
pub const MAX_EXPORT_LIMIT: u32 = 10_000;

/// A page of rows; `next_cursor` is set when more rows may follow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestPage {
    pub rows: Vec<LedgerRow>,
    pub next_cursor: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageGroup {
    Model,
    Key,
    Deployment,
    Provider,
    Endpoint,
}

impl UsageGroup {
    /// The rollup dimension's name.
    pub fn as_str(self) -> &'static str {
        match self {
            UsageGroup::Model => "model",
            UsageGroup::Key => "key",
            UsageGroup::Deployment => "deployment",
            UsageGroup::Provider => "provider",
            UsageGroup::Endpoint => "endpoint",
        }
    }

    const ALL: [UsageGroup; 5] = [
        UsageGroup::Model,
        UsageGroup::Key,
        UsageGroup::Deployment,
        UsageGroup::Provider,
        UsageGroup::Endpoint,
    ];

    /// The group a row falls in: key ids are `""` when the request had none.
    pub fn group_of(self, row: &LedgerRow) -> &str {
        match self {
            UsageGroup::Model => &row.model,
            UsageGroup::Key => row.key_id.as_deref().unwrap_or(""),
            UsageGroup::Deployment => &row.deployment,
            UsageGroup::Provider => &row.provider,
            UsageGroup::Endpoint => &row.endpoint,
        }
    }

    fn column_sql(self) -> &'static str {
        match self {
            UsageGroup::Model => "model",
            UsageGroup::Key => "COALESCE(key_id, '')",
            UsageGroup::Deployment => "deployment",
            UsageGroup::Provider => "provider",
            UsageGroup::Endpoint => "endpoint",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageBucket {
    Hour,
    Day,
}

impl UsageBucket {
    /// The bucket's length in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            UsageBucket::Hour => HOUR_MS,
            UsageBucket::Day => DAY_MS,
        }
    }
}

/// A usage question: requests with `from_ms <= time_ms < to_ms` (the request's
/// start), grouped and bucketed (UTC).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageQuery {
    pub group_by: UsageGroup,
    pub bucket: UsageBucket,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// Usage of one group in one bucket. Latency percentiles come from the rollups'
/// histogram: within a factor [`HIST_RATIO`] of the exact value (absolute 1 ms
/// under 1 ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageRow {
    pub group: String,
    /// RFC 3339 UTC start of the bucket.
    pub bucket: String,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    /// Media units summed: images generated, ms of audio transcribed, characters spoken.
    pub images: u64,
    pub audio_ms: u64,
    pub characters: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// Columns of `ledger`, in the order rows are read and written.
const COLUMNS: [&str; 35] = [
    "request_id",
    "time_ms",
    "key_id",
    "model",
    "served_model",
    "deployment",
    "provider",
    "stream",
    "status",
    "outcome",
    "error_class",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "priced",
    "latency_ms",
    "ttft_ms",
    "upstream_ms",
    "overhead_ms",
    "cache_status",
    "client_ip",
    "user_agent",
    "tags",
    "metadata",
    "request_body",
    "response_body",
    "trace_id",
    "endpoint",
    "images",
    "audio_ms",
    "characters",
];

/// The select list for reading rows (JSON as text on PostgreSQL).
fn select_list(pg: bool) -> String {
    COLUMNS
        .iter()
        .map(|c| match (*c, pg) {
            ("attempts" | "tags" | "metadata", true) => format!("{c}::text"),
            _ => (*c).to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A bind value; queries are built once and bound per backend.
#[derive(Clone, Copy, Debug)]
enum Arg<'a> {
    I64(i64),
    I32(i32),
    F64(f64),
    OptF64(Option<f64>),
    Bool(bool),
    Text(&'a str),
    OptText(Option<&'a str>),
}

fn bind_sqlite<'q>(
    mut q: Query<'q, Sqlite, SqliteArguments<'q>>,
    args: &[Arg<'q>],
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    for a in args {
        q = match *a {
            Arg::I64(v) => q.bind(v),
            Arg::I32(v) => q.bind(v),
            Arg::F64(v) => q.bind(v),
            Arg::OptF64(v) => q.bind(v),
            Arg::Bool(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::OptText(v) => q.bind(v),
        };
    }
    q
}

fn bind_pg<'q>(
    mut q: Query<'q, Postgres, PgArguments>,
    args: &[Arg<'q>],
) -> Query<'q, Postgres, PgArguments> {
    for a in args {
        q = match *a {
            Arg::I64(v) => q.bind(v),
            Arg::I32(v) => q.bind(v),
            Arg::F64(v) => q.bind(v),
            Arg::OptF64(v) => q.bind(v),
            Arg::Bool(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::OptText(v) => q.bind(v),
        };
    }
    q
}

/// Runs a shared query on either backend and maps each row with `$map`, a
/// function generic over the row type.
macro_rules! fetch_map {
    ($store:expr, $sql:expr, $args:expr, $map:expr) => {
        match $store {
            Store::Sqlite(p) => bind_sqlite(sqlx::query($sql), $args)
                .fetch_all(p)
                .await?
                .iter()
                .map($map)
                .collect::<Result<Vec<_>, StoreError>>(),
            Store::Postgres(p, _) => bind_pg(sqlx::query($sql), $args)
                .fetch_all(p)
                .await?
                .iter()
                .map($map)
                .collect::<Result<Vec<_>, StoreError>>(),
        }
    };
}

/// SQL text with its bind values. Placeholders are `$1, $2, …` on PostgreSQL
/// and positional `?` on SQLite (bound in order of appearance; never reused).
struct Sql<'a> {
    text: String,
    args: Vec<Arg<'a>>,
    pg: bool,
}

impl<'a> Sql<'a> {
    fn new(pg: bool, text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: Vec::new(),
            pg,
        }
    }

    /// Appends a placeholder for `a`.
    fn bind(&mut self, a: Arg<'a>) -> &mut Self {
        self.args.push(a);
        if self.pg {
            self.text.push_str(&format!("${}", self.args.len()));
        } else {
            self.text.push('?');
        }
        self
    }

    fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Non-finite numbers (which SQLite would turn into NULL) are stored as 0.
fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

fn opt_finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// A row's JSON columns, serialized once for the insert.
struct Encoded<'a> {
    row: &'a LedgerRow,
    attempts: String,
    tags: String,
    metadata: Option<String>,
}

impl<'a> Encoded<'a> {
    fn new(row: &'a LedgerRow) -> Result<Self, StoreError> {
        Ok(Encoded {
            row,
            attempts: to_json(&row.attempts)?,
            tags: to_json(&row.tags)?,
            metadata: row.metadata.as_ref().map(to_json).transpose()?,
        })
    }
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Builds a `LedgerRow` from a row read with [`select_list`].
fn ledger_from_row<'r, R>(r: &'r R) -> Result<LedgerRow, StoreError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn parse<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
        serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("ledger {what}: {e}")))
    }
    let attempts: String = r.try_get(11)?;
    let tags: String = r.try_get(26)?;
    let metadata: Option<String> = r.try_get(27)?;
    let status: i32 = r.try_get(8)?;
    Ok(LedgerRow {
        request_id: r.try_get(0)?,
        time_ms: r.try_get(1)?,
        key_id: r.try_get(2)?,
        model: r.try_get(3)?,
        served_model: r.try_get(4)?,
        deployment: r.try_get(5)?,
        provider: r.try_get(6)?,
        stream: r.try_get(7)?,
        status: u16::try_from(status).unwrap_or(0),
        outcome: r.try_get(9)?,
        error_class: r.try_get(10)?,
        attempts: parse(&attempts, "attempts")?,
        prompt_tokens: to_u64(r.try_get(12)?),
        completion_tokens: to_u64(r.try_get(13)?),
        cached_tokens: to_u64(r.try_get(14)?),
        cache_write_tokens: to_u64(r.try_get(15)?),
        reasoning_tokens: to_u64(r.try_get(16)?),
        cost_usd: r.try_get(17)?,
        priced: r.try_get(18)?,
        latency_ms: r.try_get(19)?,
        ttft_ms: r.try_get(20)?,
        upstream_ms: r.try_get(21)?,
        overhead_ms: r.try_get(22)?,
        cache_status: r.try_get(23)?,
        client_ip: r.try_get(24)?,
        user_agent: r.try_get(25)?,
        tags: parse(&tags, "tags")?,
        metadata: metadata.map(|m| parse(&m, "metadata")).transpose()?,
        request_body: r.try_get(28)?,
        response_body: r.try_get(29)?,
        trace_id: r.try_get(30)?,
        endpoint: r.try_get(31)?,
        images: to_u64(r.try_get(32)?),
        audio_ms: to_u64(r.try_get(33)?),
        characters: to_u64(r.try_get(34)?),
    })
}

/// Counts for one (dimension, hour, group).
#[derive(Clone, Debug, PartialEq)]
struct Agg {
    requests: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost_usd: f64,
    images: i64,
    audio_ms: i64,
    characters: i64,
    hist: [i64; HIST_BUCKETS],
}

impl Default for Agg {
    fn default() -> Self {
        Agg {
            requests: 0,
            errors: 0,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            images: 0,
            audio_ms: 0,
            characters: 0,
            hist: [0; HIST_BUCKETS],
        }
    }
}

impl Agg {
    fn add_row(&mut self, r: &LedgerRow) {
        self.requests += 1;
        self.errors += i64::from(r.is_error());
        self.input_tokens = self.input_tokens.saturating_add(to_i64(r.prompt_tokens));
        self.output_tokens = self
            .output_tokens
            .saturating_add(to_i64(r.completion_tokens));
        self.cost_usd += finite(r.cost_usd);
        self.images = self.images.saturating_add(to_i64(r.images));
        self.audio_ms = self.audio_ms.saturating_add(to_i64(r.audio_ms));
        self.characters = self.characters.saturating_add(to_i64(r.characters));
        self.hist[bucket_of(finite(r.latency_ms))] += 1;
    }

    fn merge(&mut self, o: &Agg) {
        self.requests = self.requests.saturating_add(o.requests);
        self.errors = self.errors.saturating_add(o.errors);
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.cost_usd += o.cost_usd;
        self.images = self.images.saturating_add(o.images);
        self.audio_ms = self.audio_ms.saturating_add(o.audio_ms);
        self.characters = self.characters.saturating_add(o.characters);
        for (a, b) in self.hist.iter_mut().zip(o.hist.iter()) {
            *a = a.saturating_add(*b);
        }
    }
}

/// Rollup key: (dimension, hour start, group). The map's order is the primary
/// key's, so concurrent writers lock rollup rows in the same order.
type RollupDelta<'a> = BTreeMap<(&'static str, i64, &'a str), Agg>;

fn rollup_deltas<'a>(rows: impl Iterator<Item = &'a LedgerRow>) -> RollupDelta<'a> {
    let mut m = RollupDelta::new();
    for r in rows {
        let hour = hour_floor(r.time_ms);
        for g in UsageGroup::ALL {
            m.entry((g.as_str(), hour, g.group_of(r)))
                .or_default()
                .add_row(r);
        }
    }
    m
}

fn hist_columns() -> String {
    (0..HIST_BUCKETS)
        .map(|i| format!("h{i:02}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT … ON CONFLICT DO UPDATE` adding deltas to the rollups; `source` yields
/// rows of (dimension, bucket_hour, grp, requests, errors, input_tokens,
/// output_tokens, cost_usd, images, audio_ms, characters, h00..h63).
fn rollup_upsert_sql(source: &str) -> String {
    let mut sql = format!(
        "INSERT INTO ledger_rollup (dimension, bucket_hour, grp, requests, errors, \
         input_tokens, output_tokens, cost_usd, images, audio_ms, characters, {}) {source} \
         ON CONFLICT (dimension, bucket_hour, grp) DO UPDATE SET \
         requests = ledger_rollup.requests + excluded.requests, \
         errors = ledger_rollup.errors + excluded.errors, \
         input_tokens = ledger_rollup.input_tokens + excluded.input_tokens, \
         output_tokens = ledger_rollup.output_tokens + excluded.output_tokens, \
         cost_usd = ledger_rollup.cost_usd + excluded.cost_usd, \
         images = ledger_rollup.images + excluded.images, \
         audio_ms = ledger_rollup.audio_ms + excluded.audio_ms, \
         characters = ledger_rollup.characters + excluded.characters",
        hist_columns()
    );
    for i in 0..HIST_BUCKETS {
        sql.push_str(&format!(
            ", h{i:02} = ledger_rollup.h{i:02} + excluded.h{i:02}"
        ));
    }
    sql
}

/// Values of one rollup row, in `rollup_upsert_sql` order.
fn rollup_args<'a>(key: &(&'static str, i64, &'a str), a: &Agg) -> Vec<Arg<'a>> {
    let (dim, hour, grp) = *key;
    let mut v = vec![
        Arg::Text(dim),
        Arg::I64(hour),
        Arg::Text(grp),
        Arg::I64(a.requests),
        Arg::I64(a.errors),
        Arg::I64(a.input_tokens),
        Arg::I64(a.output_tokens),
        Arg::F64(a.cost_usd),
        Arg::I64(a.images),
        Arg::I64(a.audio_ms),
        Arg::I64(a.characters),
    ];
    v.extend(a.hist.iter().map(|h| Arg::I64(*h)));
    v
}

/// Rows per SQLite prune statement.
const PRUNE_CHUNK: i64 = 10_000;

/// Rows per SQLite insert statement (35 values each, under SQLite's 32,766).
const SQLITE_INSERT_CHUNK: usize = 500;

fn sqlite_insert<'a>(chunk: &'a [Encoded<'a>]) -> Sql<'a> {
    let mut sql = Sql::new(
        false,
        format!("INSERT INTO ledger ({}) VALUES ", COLUMNS.join(", ")),
    );
    for (n, e) in chunk.iter().enumerate() {
        let r = e.row;
        let vals = [
            Arg::Text(&r.request_id),
            Arg::I64(r.time_ms),
            Arg::OptText(r.key_id.as_deref()),
            Arg::Text(&r.model),
            Arg::OptText(r.served_model.as_deref()),
            Arg::Text(&r.deployment),
            Arg::Text(&r.provider),
            Arg::Bool(r.stream),
            Arg::I32(i32::from(r.status)),
            Arg::Text(&r.outcome),
            Arg::OptText(r.error_class.as_deref()),
            Arg::Text(&e.attempts),
            Arg::I64(to_i64(r.prompt_tokens)),
            Arg::I64(to_i64(r.completion_tokens)),
            Arg::I64(to_i64(r.cached_tokens)),
            Arg::I64(to_i64(r.cache_write_tokens)),
            Arg::I64(to_i64(r.reasoning_tokens)),
            Arg::F64(finite(r.cost_usd)),
            Arg::Bool(r.priced),
            Arg::F64(finite(r.latency_ms)),
            Arg::OptF64(opt_finite(r.ttft_ms)),
            Arg::OptF64(opt_finite(r.upstream_ms)),
            Arg::OptF64(opt_finite(r.overhead_ms)),
            Arg::OptText(r.cache_status.as_deref()),
            Arg::OptText(r.client_ip.as_deref()),
            Arg::OptText(r.user_agent.as_deref()),
            Arg::Text(&e.tags),
            Arg::OptText(e.metadata.as_deref()),
            Arg::OptText(r.request_body.as_deref()),
            Arg::OptText(r.response_body.as_deref()),
            Arg::OptText(r.trace_id.as_deref()),
            Arg::Text(&r.endpoint),
            Arg::I64(to_i64(r.images)),
            Arg::I64(to_i64(r.audio_ms)),
            Arg::I64(to_i64(r.characters)),
        ];
        sql.push(if n == 0 { "(" } else { ", (" });
        for (i, v) in vals.into_iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(v);
        }
        sql.push(")");
    }
    sql.push(" ON CONFLICT (request_id) DO NOTHING RETURNING request_id");
    sql
}

/// The opaque page cursor: hex of `time_ms:request_id`.
pub(crate) fn encode_cursor(time_ms: i64, request_id: &str) -> String {
    format!("{time_ms}:{request_id}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn decode_cursor(c: &str) -> Result<(i64, String), StoreError> {
    let bad = || StoreError::InvalidCursor;
    let pairs = c.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return Err(bad());
    }
    let bytes = pairs
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(bad)
        })
        .collect::<Result<Vec<u8>, _>>()?;
    let s = String::from_utf8(bytes).map_err(|_| bad())?;
    let (t, id) = s.split_once(':').ok_or_else(bad)?;
    Ok((t.parse().map_err(|_| bad())?, id.to_string()))
}

/// Decodes a usage result row: grp, bucket start, counts, cost, histogram, units.
fn usage_from_row<'r, R>(r: &'r R) -> Result<(String, i64, Agg), StoreError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut a = Agg {
        requests: r.try_get(2)?,
        errors: r.try_get(3)?,
        input_tokens: r.try_get(4)?,
        output_tokens: r.try_get(5)?,
        cost_usd: r.try_get(6)?,
        images: r.try_get(8)?,
        audio_ms: r.try_get(9)?,
        characters: r.try_get(10)?,
        hist: [0; HIST_BUCKETS],
    };
    let hist: String = r.try_get(7)?;
    let mut n = 0;
    for (h, v) in a.hist.iter_mut().zip(hist.split(',')) {
        *h = v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("rollup histogram `{hist}`")))?;
        n += 1;
    }
    if n != HIST_BUCKETS {
        return Err(StoreError::Corrupt(format!("rollup histogram `{hist}`")));
    }
    Ok((r.try_get(0)?, r.try_get(1)?, a))
}

/// Decodes a raw aggregate row: grp, histogram bucket, counts, cost, hour, units.
fn raw_usage_from_row<'r, R>(r: &'r R) -> Result<(String, Agg), StoreError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let idx: i64 = r.try_get(1)?;
    let idx = usize::try_from(idx).unwrap_or(0).min(HIST_BUCKETS - 1);
    let requests: i64 = r.try_get(2)?;
    let mut hist = [0; HIST_BUCKETS];
    hist[idx] = requests;
    Ok((
        r.try_get(0)?,
        Agg {
            requests,
            errors: r.try_get(3)?,
            input_tokens: r.try_get(4)?,
            output_tokens: r.try_get(5)?,
            cost_usd: r.try_get(6)?,
            images: r.try_get(8)?,
            audio_ms: r.try_get(9)?,
            characters: r.try_get(10)?,
            hist,
        },
    ))
}

impl Store {
    /// Stores a batch of finished requests in one transaction, with their rollups.
    /// Idempotent on `request_id`: a row already stored (or repeated in the batch)
    /// is ignored and adds nothing to the rollups. On PostgreSQL the day
    /// partitions the rows need are created first (once per day per process) and
    /// the primary key is (request_id, time_ms), so a retried row must carry the
    /// same start time — which a retried `LedgerRow` does.
    pub async fn insert_ledger(&self, rows: &[LedgerRow]) -> Result<(), StoreError> {
        let mut seen = HashSet::new();
        let rows: Vec<&LedgerRow> = rows
            .iter()
            .filter(|r| seen.insert(r.request_id.as_str()))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        match self {
            Store::Sqlite(p) => {
                let encoded = rows
                    .iter()
                    .map(|r| Encoded::new(r))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut tx = p.begin().await?;
                let mut inserted = HashSet::new();
                for chunk in encoded.chunks(SQLITE_INSERT_CHUNK) {
                    let sql = sqlite_insert(chunk);
                    let ids = bind_sqlite(sqlx::query(&sql.text), &sql.args)
                        .persistent(false)
                        .fetch_all(&mut *tx)
                        .await?;
                    for r in ids {
                        inserted.insert(r.try_get::<String, _>(0)?);
                    }
                }
                let deltas = rollup_deltas(
                    rows.iter()
                        .copied()
                        .filter(|r| inserted.contains(&r.request_id)),
                );
                // One prepared statement, run per rollup row: cheap in-process.
                let placeholders = vec!["?"; 11 + HIST_BUCKETS].join(", ");
                let sql = rollup_upsert_sql(&format!("VALUES ({placeholders})"));
                for (key, agg) in &deltas {
                    let args = rollup_args(key, agg);
                    bind_sqlite(sqlx::query(&sql), &args)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
            Store::Postgres(p, cache) => pg::insert(p, cache, &rows).await,
        }
    }

    /// Creates the PostgreSQL day partitions from `now_ms`'s UTC day through
    /// `days_ahead` days later (a no-op on SQLite). `insert_ledger` does this
    /// itself for the days its rows need; calling it ahead of midnight keeps the
    /// partition creation off the writer's path.
    pub async fn ensure_ledger_partitions(
        &self,
        now_ms: i64,
        days_ahead: u32,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres(p, cache) => {
                let first = day_of(now_ms);
                let days: Vec<i64> = (0..=i64::from(days_ahead)).map(|d| first + d).collect();
                pg::ensure_days(p, cache, &days).await
            }
        }
    }

    /// One request by id.
    pub async fn get_request(&self, request_id: &str) -> Result<Option<LedgerRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM ledger WHERE request_id = $1 LIMIT 1",
            select_list(self.is_pg())
        );
        let mut rows = fetch_map!(self, &sql, &[Arg::Text(request_id)], |r| {
            ledger_from_row(r)
        })?;
        Ok(rows.pop())
    }

    /// Requests matching `f`, newest first (time_ms desc, request_id desc), one
    /// page at a time: pass the page's `next_cursor` back as `f.cursor`.
    pub async fn list_requests(&self, f: &RequestFilter) -> Result<RequestPage, StoreError> {
        let limit = f
            .limit
            .unwrap_or(DEFAULT_LIST_LIMIT)
            .clamp(1, MAX_LIST_LIMIT);
        let cursor = f.cursor.as_deref().map(decode_cursor).transpose()?;
        let status = f.status.map(i32::from);
        let mut sql = Sql::new(
            self.is_pg(),
            format!(
                "SELECT {} FROM ledger WHERE TRUE",
                select_list(self.is_pg())
            ),
        );
        let eq: [(&str, Option<Arg>); 6] = [
            ("key_id", f.key_id.as_deref().map(Arg::Text)),
            ("model", f.model.as_deref().map(Arg::Text)),
            ("deployment", f.deployment.as_deref().map(Arg::Text)),
            ("endpoint", f.endpoint.as_deref().map(Arg::Text)),
            ("status", status.map(Arg::I32)),
            ("outcome", f.outcome.as_deref().map(Arg::Text)),
        ];
        for (col, v) in eq {
            if let Some(v) = v {
                sql.push(&format!(" AND {col} = ")).bind(v);
            }
        }
        if let Some(from) = f.from_ms {
            sql.push(" AND time_ms >= ").bind(Arg::I64(from));
        }
        if let Some(to) = f.to_ms {
            sql.push(" AND time_ms < ").bind(Arg::I64(to));
        }
        if let Some((t, id)) = &cursor {
            sql.push(" AND (time_ms, request_id) < (")
                .bind(Arg::I64(*t))
                .push(", ")
                .bind(Arg::Text(id))
                .push(")");
        }
        sql.push(" ORDER BY time_ms DESC, request_id DESC LIMIT ")
            .bind(Arg::I64(i64::from(limit) + 1));
        self.page(&sql, limit).await
    }

    /// Requests with `from_ms <= time_ms < to_ms`, oldest first, for streaming
    /// exports: pass the page's `next_cursor` back as `after`. `limit` is capped at
    /// [`MAX_EXPORT_LIMIT`].
    pub async fn export_ledger(
        &self,
        from_ms: i64,
        to_ms: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<RequestPage, StoreError> {
        let limit = limit.clamp(1, MAX_EXPORT_LIMIT);
        let cursor = after.map(decode_cursor).transpose()?;
        let mut sql = Sql::new(
            self.is_pg(),
            format!(
                "SELECT {} FROM ledger WHERE time_ms >= ",
                select_list(self.is_pg())
            ),
        );
        sql.bind(Arg::I64(from_ms))
            .push(" AND time_ms < ")
            .bind(Arg::I64(to_ms));
        if let Some((t, id)) = &cursor {
            sql.push(" AND (time_ms, request_id) > (")
                .bind(Arg::I64(*t))
                .push(", ")
                .bind(Arg::Text(id))
                .push(")");
        }
        sql.push(" ORDER BY time_ms, request_id LIMIT ")
            .bind(Arg::I64(i64::from(limit) + 1));
        self.page(&sql, limit).await
    }

    /// Runs a page query that asked for `limit + 1` rows.
    async fn page(&self, sql: &Sql<'_>, limit: u32) -> Result<RequestPage, StoreError> {
        let mut rows = fetch_map!(self, &sql.text, &sql.args, ledger_from_row)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = match rows.last() {
            Some(last) if more => Some(encode_cursor(last.time_ms, &last.request_id)),
            _ => None,
        };
        Ok(RequestPage { rows, next_cursor })
    }

    /// Usage per group and bucket, sorted by bucket then group. Whole hours are
    /// read from the rollups; partial hours at either end of the range from raw
    /// rows. Buckets with no requests are absent.
    pub async fn usage(&self, q: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let (from, to) = (q.from_ms, q.to_ms);
        if from >= to {
            return Ok(Vec::new());
        }
        // Whole hours [h1, h2) come from rollups.
        let h1 = hour_floor(from.saturating_add(HOUR_MS - 1));
        let h2 = hour_floor(to);
        let mut acc: BTreeMap<(i64, String), Agg> = BTreeMap::new();
        let bucket_ms = q.bucket.millis();
        let mut raw_ranges = Vec::new();
        if h1 < h2 {
            // Hour buckets are rollup rows as stored; days sum 24 of them.
            let hourly = q.bucket == UsageBucket::Hour;
            let sum = |col: &str, ty: &str| {
                if hourly {
                    format!("CAST({col} AS {ty})")
                } else {
                    format!("CAST(SUM({col}) AS {ty})")
                }
            };
            let mut cols = vec![
                "grp".to_string(),
                format!("(bucket_hour / {bucket_ms}) * {bucket_ms} AS bucket"),
                sum("requests", "BIGINT"),
                sum("errors", "BIGINT"),
                sum("input_tokens", "BIGINT"),
                sum("output_tokens", "BIGINT"),
                sum("cost_usd", "DOUBLE PRECISION"),
            ];
            // The histogram as one text column, `n0,n1,…`: far cheaper to move and
            // decode than 64 columns.
            cols.push(
                (0..HIST_BUCKETS)
                    .map(|i| sum(&format!("h{i:02}"), "BIGINT"))
                    .collect::<Vec<_>>()
                    .join(" || ',' || "),
            );
            cols.extend([
                sum("images", "BIGINT"),
                sum("audio_ms", "BIGINT"),
                sum("characters", "BIGINT"),
            ]);
            let mut sql = Sql::new(
                self.is_pg(),
                format!(
                    "SELECT {} FROM ledger_rollup WHERE dimension = ",
                    cols.join(", ")
                ),
            );
            sql.bind(Arg::Text(q.group_by.as_str()))
                .push(" AND bucket_hour >= ")
                .bind(Arg::I64(h1))
                .push(" AND bucket_hour < ")
                .bind(Arg::I64(h2));
            if !hourly {
                sql.push(" GROUP BY grp, bucket");
            }
            let rows = fetch_map!(self, &sql.text, &sql.args, usage_from_row)?;
            for (grp, bucket, a) in rows {
                acc.entry((bucket, grp)).or_default().merge(&a);
            }
            if from < h1 {
                raw_ranges.push((from, h1));
            }
            if h2 < to {
                raw_ranges.push((h2, to));
            }
        } else {
            raw_ranges.push((from, to));
        }
        for (a, b) in raw_ranges {
            // Within one or two hours: aggregate per hour and histogram bucket.
            let hour_sql = format!("(time_ms / {HOUR_MS}) * {HOUR_MS}");
            let mut sql = Sql::new(
            self.is_pg(),
            format!(
                "SELECT {grp} AS grp, CAST({case} AS BIGINT) AS hidx, \
                 CAST(COUNT(*) AS BIGINT), \
                 CAST(SUM(CASE WHEN status >= 400 OR outcome <> 'ok' THEN 1 ELSE 0 END) AS BIGINT), \
                 CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(completion_tokens) AS BIGINT), \
                 CAST(SUM(cost_usd) AS DOUBLE PRECISION), {hour_sql} AS hour, \
                 CAST(SUM(images) AS BIGINT), CAST(SUM(audio_ms) AS BIGINT), \
                 CAST(SUM(characters) AS BIGINT) \
                 FROM ledger WHERE time_ms >= ",
                grp = q.group_by.column_sql(),
                case = hist::bucket_case_sql("latency_ms"),
            ));
            sql.bind(Arg::I64(a))
                .push(" AND time_ms < ")
                .bind(Arg::I64(b))
                .push(" GROUP BY grp, hidx, hour");
            let rows = fetch_map!(self, &sql.text, &sql.args, |r| {
                let (grp, agg) = raw_usage_from_row(r)?;
                let hour: i64 = r.try_get(7)?;
                Ok((grp, hour, agg))
            })?;
            for (grp, hour, agg) in rows {
                let bucket = hour.div_euclid(bucket_ms).saturating_mul(bucket_ms);
                acc.entry((bucket, grp)).or_default().merge(&agg);
            }
        }
        Ok(acc
            .into_iter()
            .filter(|(_, a)| a.requests > 0)
            .map(|((bucket, group), a)| UsageRow {
                group,
                bucket: rfc3339(bucket),
                requests: to_u64(a.requests),
                errors: to_u64(a.errors),
                input_tokens: to_u64(a.input_tokens),
                output_tokens: to_u64(a.output_tokens),
                cost_usd: a.cost_usd,
                images: to_u64(a.images),
                audio_ms: to_u64(a.audio_ms),
                characters: to_u64(a.characters),
                p50_ms: quantile(&a.hist, 0.5),
                p95_ms: quantile(&a.hist, 0.95),
            })
            .collect())
    }

    /// Removes requests (and rollups) from UTC days before `today − retention_days`
    /// (today being `now_ms`'s day), so today and the `retention_days` days before it
    /// are kept. PostgreSQL drops whole day partitions; SQLite deletes rows. Returns
    /// the number of requests removed.
    pub async fn prune_ledger(&self, retention_days: u32, now_ms: i64) -> Result<u64, StoreError> {
        let cutoff_day = day_of(now_ms) - i64::from(retention_days);
        let cutoff_ms = cutoff_day.saturating_mul(DAY_MS);
        match self {
            Store::Sqlite(p) => {
                // In chunks, so other writers are not held up by one long delete.
                let mut n = 0;
                loop {
                    let done = sqlx::query(
                        "DELETE FROM ledger WHERE rowid IN \
                         (SELECT rowid FROM ledger WHERE time_ms < $1 LIMIT $2)",
                    )
                    .bind(cutoff_ms)
                    .bind(PRUNE_CHUNK)
                    .execute(p)
                    .await?
                    .rows_affected();
                    n += done;
                    if done < PRUNE_CHUNK as u64 {
                        break;
                    }
                }
                sqlx::query("DELETE FROM ledger_rollup WHERE bucket_hour < $1")
                    .bind(cutoff_ms)
                    .execute(p)
                    .await?;
                Ok(n)
            }
            Store::Postgres(p, cache) => pg::prune(p, cache, cutoff_day).await,
        }
    }

    fn is_pg(&self) -> bool {
        matches!(self, Store::Postgres(..))
    }
}
