//! Ledger tests, each run on SQLite (a temp file) and PostgreSQL (a fresh
//! database; skipped loudly when unreachable, unless `CI` is set).

use super::hist::{days_from_civil, DAY_MS, HOUR_MS};
use super::*;
use sqlx::postgres::PgPool;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

static SEQ: AtomicU64 = AtomicU64::new(0);

fn unique() -> String {
    format!(
        "{}_{}_{:x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        fastrand::u32(..)
    )
}

/// A migrated store and what to clean up afterwards.
struct TestDb {
    store: Store,
    dir: Option<PathBuf>,
    pg: Option<(PgPool, String, String)>,
}

/// The backend's migrations up to `upto` (a database as an older release left it).
fn migrator_upto(all: &sqlx::migrate::Migrator, upto: i64) -> sqlx::migrate::Migrator {
    sqlx::migrate::Migrator {
        migrations: all
            .migrations
            .iter()
            .filter(|m| m.version <= upto)
            .cloned()
            .collect::<Vec<_>>()
            .into(),
        ..sqlx::migrate::Migrator::DEFAULT
    }
}

async fn migrate_upto(store: &Store, upto: Option<i64>) {
    match (store, upto) {
        (_, None) => {
            store.migrate().await.unwrap();
        }
        (Store::Sqlite(p), Some(v)) => migrator_upto(&crate::SQLITE_MIGRATIONS, v)
            .run(p)
            .await
            .unwrap(),
        (Store::Postgres(p, _), Some(v)) => migrator_upto(&crate::POSTGRES_MIGRATIONS, v)
            .run(p)
            .await
            .unwrap(),
    }
}

impl TestDb {
    async fn sqlite() -> TestDb {
        Self::sqlite_at(None).await
    }

    /// Migrated up to `upto` (`None`: all migrations).
    async fn sqlite_at(upto: Option<i64>) -> TestDb {
        let dir = std::env::temp_dir().join(format!("sy-ledger-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}/l.db", dir.display()))
            .await
            .unwrap();
        migrate_upto(&store, upto).await;
        TestDb {
            store,
            dir: Some(dir),
            pg: None,
        }
    }

    async fn postgres() -> Option<TestDb> {
        Self::postgres_at(None).await
    }

    async fn postgres_at(upto: Option<i64>) -> Option<TestDb> {
        let url = std::env::var("SWITCHYARD_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin = match Store::connect(&url).await {
            Ok(Store::Postgres(p, _)) => p,
            Ok(_) => unreachable!(),
            Err(e) => {
                eprintln!("SKIPPED: PostgreSQL not reachable at {url}: {e}");
                assert!(std::env::var("CI").is_err(), "CI must have PostgreSQL");
                return None;
            }
        };
        let db = format!("sy_test_{}", unique());
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&admin)
            .await
            .unwrap();
        let base = url.rsplit_once('/').map(|(b, _)| b).unwrap();
        let db_url = format!("{base}/{db}");
        let store = Store::connect(&db_url).await.unwrap();
        migrate_upto(&store, upto).await;
        Some(TestDb {
            store,
            dir: None,
            pg: Some((admin, db, db_url)),
        })
    }

    async fn finish(self) {
        self.store.close().await;
        if let Some(dir) = self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((admin, db, _)) = self.pg {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        match &self.store {
            Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Store::Postgres(p, _) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }
}

/// Runs `check` on both backends, as two tests.
macro_rules! both {
    ($name:ident, $check:path) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let db = TestDb::sqlite().await;
                $check(&db).await;
                db.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(db) = TestDb::postgres().await else {
                    return;
                };
                $check(&db).await;
                db.finish().await;
            }
        }
    };
}

/// 2026-01-10T00:00:00Z.
fn base_ms() -> i64 {
    days_from_civil(2026, 1, 10) * DAY_MS
}

fn full_row() -> LedgerRow {
    LedgerRow {
        request_id: "req-full-ü".into(),
        time_ms: base_ms() + 12_345,
        endpoint: "images.generations".into(),
        key_id: Some("key_1".into()),
        model: "gpt-4o".into(),
        served_model: Some("gpt-4o-mini".into()),
        deployment: "openai/gpt-4o-mini".into(),
        provider: "openai".into(),
        stream: true,
        status: 200,
        outcome: "ok".into(),
        error_class: Some("rate_limited".into()),
        attempts: vec![
            LedgerAttempt {
                deployment: "azure/gpt-4o".into(),
                status: Some(429),
                error_class: Some("rate_limited".into()),
                offset_ms: 0.125,
                latency_ms: 12.3456789,
            },
            LedgerAttempt {
                deployment: "openai/gpt-4o-mini".into(),
                status: None,
                error_class: None,
                offset_ms: 13.0000001,
                latency_ms: 0.1 + 0.2,
            },
        ],
        prompt_tokens: 1 << 40,
        completion_tokens: 77,
        cached_tokens: 5,
        cache_write_tokens: 6,
        reasoning_tokens: 7,
        images: 3,
        audio_ms: (1 << 41) + 17,
        characters: 12_345,
        cost_usd: 0.000_123_456_789,
        priced: true,
        latency_ms: 1234.5678,
        ttft_ms: Some(99.25),
        upstream_ms: Some(1_200.000_000_1),
        overhead_ms: Some(0.333),
        cache_status: Some("miss".into()),
        client_ip: Some("2001:db8::1".into()),
        user_agent: Some("curl/8.5 \"quoted\" 漢字".into()),
        tags: vec!["a".into(), "b c".into(), "".into()],
        metadata: Some(serde_json::json!({
            "team": "search",
            "nested": {"list": [1, -2, 3.5, null, true, "x"], "big": u64::MAX, "neg": i64::MIN},
            "float": 0.1 + 0.2,
            "emoji": "🚀",
            "esc": "line\nbreak\t\"q\" \\ /"
        })),
        request_body: Some("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}".into()),
        response_body: Some("data: {\"x\":1}\n\n".into()),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
    }
}

fn minimal_row(id: &str, time_ms: i64) -> LedgerRow {
    LedgerRow {
        request_id: id.into(),
        time_ms,
        endpoint: DEFAULT_ENDPOINT.into(),
        key_id: None,
        model: "m".into(),
        served_model: None,
        deployment: String::new(),
        provider: String::new(),
        stream: false,
        status: 401,
        outcome: "rejected".into(),
        error_class: None,
        attempts: vec![],
        prompt_tokens: 0,
        completion_tokens: 0,
        cached_tokens: 0,
        cache_write_tokens: 0,
        reasoning_tokens: 0,
        images: 0,
        audio_ms: 0,
        characters: 0,
        cost_usd: 0.0,
        priced: false,
        latency_ms: 0.05,
        ttft_ms: None,
        upstream_ms: None,
        overhead_ms: None,
        cache_status: None,
        client_ip: None,
        user_agent: None,
        tags: vec![],
        metadata: None,
        request_body: None,
        response_body: None,
        trace_id: None,
    }
}

const ENDPOINTS: [&str; 7] = [
    "chat.completions",
    "messages",
    "responses",
    "embeddings",
    "images.generations",
    "audio.transcriptions",
    "audio.speech",
];

const MODELS: [&str; 4] = ["gpt-4o", "claude-sonnet", "llama-3", "mistral-large"];
const DEPLOYMENTS: [&str; 5] = [
    "openai/gpt-4o",
    "azure/gpt-4o",
    "anthropic/claude-sonnet",
    "groq/llama-3",
    "mistral/mistral-large",
];

/// `n` random rows with `time_ms` in `[start, start + span)`, rounded down to
/// `tick` ms so that many share a timestamp.
fn gen_rows(seed: u64, n: usize, start: i64, span: i64, tick: i64) -> Vec<LedgerRow> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|i| {
            let t = start + rng.i64(0..span);
            let t = t - t.rem_euclid(tick);
            let model = MODELS[rng.usize(..MODELS.len())];
            let deployment = if rng.u8(..20) == 0 {
                ""
            } else {
                DEPLOYMENTS[rng.usize(..DEPLOYMENTS.len())]
            };
            let provider = deployment.split('/').next().unwrap_or("");
            let (status, outcome) = match rng.u8(..20) {
                0 => (429, "upstream_error"),
                1 => (500, "upstream_error"),
                2 => (401, "rejected"),
                3 => (200, "client_disconnected"),
                4 => (200, "stream_error"),
                _ => (200, "ok"),
            };
            // Log-uniform from 0.2 ms to 200 s.
            let latency = 0.2 * (rng.f64() * (1e6f64).ln()).exp();
            let mut r = minimal_row(&format!("r{seed}-{i:06}-{:04x}", rng.u16(..)), t);
            r.key_id = match rng.u8(..4) {
                0 => None,
                k => Some(format!("key_{k}")),
            };
            r.model = model.into();
            r.deployment = deployment.into();
            r.provider = provider.into();
            r.status = status;
            r.outcome = outcome.into();
            r.stream = rng.bool();
            r.prompt_tokens = rng.u64(0..5000);
            r.completion_tokens = rng.u64(0..2000);
            r.cost_usd = rng.f64() / 100.0;
            r.priced = true;
            r.latency_ms = latency;
            r.tags = vec![format!("t{}", rng.u8(..3))];
            r.endpoint = ENDPOINTS[rng.usize(..ENDPOINTS.len())].into();
            match r.endpoint.as_str() {
                "images.generations" => r.images = rng.u64(1..5),
                "audio.transcriptions" => r.audio_ms = rng.u64(500..900_000),
                "audio.speech" => r.characters = rng.u64(1..4096),
                _ => {}
            }
            r
        })
        .collect()
}

async fn round_trip(db: &TestDb) {
    let s = &db.store;
    let full = full_row();
    let min = minimal_row("req-min", base_ms() - 1);
    s.insert_ledger(&[full.clone(), min.clone()]).await.unwrap();
    assert_eq!(
        s.get_request(&full.request_id).await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(s.get_request("req-min").await.unwrap(), Some(min.clone()));
    assert_eq!(s.get_request("nope").await.unwrap(), None);
    // Through the list and export paths too.
    let page = s.list_requests(&RequestFilter::default()).await.unwrap();
    assert_eq!(page.rows, vec![full.clone(), min.clone()]);
    assert_eq!(page.next_cursor, None);
    let page = s.export_ledger(i64::MIN, i64::MAX, None, 10).await.unwrap();
    assert_eq!(page.rows, vec![min, full]);
    // Empty batches are fine.
    s.insert_ledger(&[]).await.unwrap();
}
both!(ledger_round_trip, round_trip);

async fn rollup_requests(db: &TestDb) -> i64 {
    db.count("SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) FROM ledger_rollup WHERE dimension = 'provider'")
        .await
}

async fn duplicates(db: &TestDb) {
    let s = &db.store;
    let rows = gen_rows(1, 200, base_ms(), 3 * HOUR_MS, 1);
    s.insert_ledger(&rows).await.unwrap();
    s.insert_ledger(&rows).await.unwrap();
    let fresh = gen_rows(2, 10, base_ms(), 3 * HOUR_MS, 1);
    let mut changed = fresh[0].clone();
    changed.model = "changed".into();
    let mut batch: Vec<LedgerRow> = rows[..50].to_vec();
    batch.extend(fresh.iter().cloned());
    batch.push(changed);
    s.insert_ledger(&batch).await.unwrap();
    assert_eq!(db.count("SELECT COUNT(*) FROM ledger").await, 210);
    assert_eq!(rollup_requests(db).await, 210);
    assert_eq!(
        s.get_request(&fresh[0].request_id).await.unwrap(),
        Some(fresh[0].clone()),
        "the first of a repeated id in a batch wins"
    );
    let mut all = rows.clone();
    all.extend(fresh);
    let usage = s
        .usage(&UsageQuery {
            group_by: UsageGroup::Model,
            bucket: UsageBucket::Hour,
            from_ms: base_ms(),
            to_ms: base_ms() + 3 * HOUR_MS,
        })
        .await
        .unwrap();
    assert_eq!(usage.iter().map(|u| u.requests).sum::<u64>(), 210);
    assert_eq!(
        usage.iter().map(|u| u.input_tokens).sum::<u64>(),
        all.iter().map(|r| r.prompt_tokens).sum::<u64>()
    );
}
both!(ledger_duplicates_ignored, duplicates);

fn newest_first(rows: &[LedgerRow], keep: impl Fn(&LedgerRow) -> bool) -> Vec<LedgerRow> {
    let mut v: Vec<LedgerRow> = rows.iter().filter(|r| keep(r)).cloned().collect();
    v.sort_by(|a, b| (b.time_ms, &b.request_id).cmp(&(a.time_ms, &a.request_id)));
    v
}

async fn list_all(s: &Store, f: &RequestFilter) -> Vec<LedgerRow> {
    let mut f = f.clone();
    let limit = f.limit.unwrap_or(DEFAULT_LIST_LIMIT) as usize;
    let mut out = Vec::new();
    loop {
        let page = s.list_requests(&f).await.unwrap();
        assert!(page.rows.len() <= limit);
        out.extend(page.rows.iter().cloned());
        match page.next_cursor {
            Some(c) => {
                assert_eq!(page.rows.len(), limit, "only full pages have a next page");
                f.cursor = Some(c);
            }
            None => break,
        }
        assert!(out.len() <= 5000, "pagination does not end");
    }
    out
}

async fn list_and_paginate(db: &TestDb) {
    let s = &db.store;
    // Times rounded to the minute: many rows share a timestamp.
    let rows = gen_rows(3, 1100, base_ms(), 6 * HOUR_MS, 60_000);
    for chunk in rows.chunks(300) {
        s.insert_ledger(chunk).await.unwrap();
    }
    let ids: HashSet<&str> = rows.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(ids.len(), rows.len());

    let from = base_ms() + HOUR_MS + 60_000 * 7;
    let to = base_ms() + 4 * HOUR_MS;
    type Keep = Box<dyn Fn(&LedgerRow) -> bool>;
    let cases: Vec<(RequestFilter, Keep)> = vec![
        (RequestFilter::default(), Box::new(|_| true)),
        (
            RequestFilter {
                key_id: Some("key_2".into()),
                ..Default::default()
            },
            Box::new(|r| r.key_id.as_deref() == Some("key_2")),
        ),
        (
            RequestFilter {
                model: Some("llama-3".into()),
                ..Default::default()
            },
            Box::new(|r| r.model == "llama-3"),
        ),
        (
            RequestFilter {
                deployment: Some("azure/gpt-4o".into()),
                ..Default::default()
            },
            Box::new(|r| r.deployment == "azure/gpt-4o"),
        ),
        (
            RequestFilter {
                endpoint: Some("audio.speech".into()),
                ..Default::default()
            },
            Box::new(|r| r.endpoint == "audio.speech"),
        ),
        (
            RequestFilter {
                status: Some(429),
                ..Default::default()
            },
            Box::new(|r| r.status == 429),
        ),
        (
            RequestFilter {
                outcome: Some("client_disconnected".into()),
                ..Default::default()
            },
            Box::new(|r| r.outcome == "client_disconnected"),
        ),
        (
            RequestFilter {
                from_ms: Some(from),
                to_ms: Some(to),
                ..Default::default()
            },
            Box::new(move |r| r.time_ms >= from && r.time_ms < to),
        ),
        (
            RequestFilter {
                model: Some("gpt-4o".into()),
                outcome: Some("ok".into()),
                from_ms: Some(from),
                ..Default::default()
            },
            Box::new(move |r| r.model == "gpt-4o" && r.outcome == "ok" && r.time_ms >= from),
        ),
    ];
    for (mut f, keep) in cases {
        let want = newest_first(&rows, keep);
        assert!(!want.is_empty(), "{f:?} selects something");
        for limit in [7, 50] {
            f.limit = Some(limit);
            let got = list_all(s, &f).await;
            assert_eq!(got.len(), want.len(), "{f:?}");
            assert!(got == want, "{f:?}: rows or order differ");
        }
    }
    // Default and maximum page sizes.
    let page = s.list_requests(&RequestFilter::default()).await.unwrap();
    assert_eq!(page.rows.len(), DEFAULT_LIST_LIMIT as usize);
    let page = s
        .list_requests(&RequestFilter {
            limit: Some(5000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.rows.len(), MAX_LIST_LIMIT as usize);
    assert!(page.next_cursor.is_some());
    let page = s
        .list_requests(&RequestFilter {
            limit: Some(0),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 1);
    // A bad cursor is an error, not a panic.
    for bad in ["zz", "abc", "3a", "", "0a0b"] {
        let r = s
            .list_requests(&RequestFilter {
                cursor: Some(bad.into()),
                ..Default::default()
            })
            .await;
        assert!(matches!(r, Err(StoreError::InvalidCursor)), "{bad}: {r:?}");
    }

    // Export: oldest first, in pages, within the range.
    let mut want = newest_first(&rows, |r| r.time_ms >= from && r.time_ms < to);
    want.reverse();
    let mut got = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s
            .export_ledger(from, to, after.as_deref(), 13)
            .await
            .unwrap();
        assert!(page.rows.len() <= 13);
        got.extend(page.rows);
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(got.len(), want.len());
    assert!(got == want, "export rows or order differ");
}
both!(ledger_list_and_paginate, list_and_paginate);

#[derive(Default, Debug, Clone)]
struct Expect {
    requests: u64,
    errors: u64,
    input: u64,
    output: u64,
    cost: f64,
    units: [u64; 3],
    latencies: Vec<f64>,
}

fn exact_quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn assert_close_quantile(est: f64, exact: f64, what: &str) {
    if exact < 1.0 {
        assert!((est - exact).abs() <= 1.0, "{what}: {est} vs {exact}");
    } else {
        let r = est / exact;
        assert!(
            (1.0 / (HIST_RATIO + 1e-3)..=HIST_RATIO + 1e-3).contains(&r),
            "{what}: estimate {est} vs exact {exact}"
        );
    }
}

fn expected_usage(rows: &[LedgerRow], q: &UsageQuery) -> BTreeMap<(String, String), Expect> {
    let mut m: BTreeMap<(String, String), Expect> = BTreeMap::new();
    let b = q.bucket.millis();
    for r in rows
        .iter()
        .filter(|r| r.time_ms >= q.from_ms && r.time_ms < q.to_ms)
    {
        let bucket = rfc3339(r.time_ms.div_euclid(b) * b);
        let e = m
            .entry((bucket, q.group_by.group_of(r).to_string()))
            .or_default();
        e.requests += 1;
        e.errors += u64::from(r.is_error());
        e.input += r.prompt_tokens;
        e.output += r.completion_tokens;
        e.cost += r.cost_usd;
        for (u, v) in e.units.iter_mut().zip([r.images, r.audio_ms, r.characters]) {
            *u += v;
        }
        e.latencies.push(r.latency_ms);
    }
    m
}

fn check_usage(got: &[UsageRow], rows: &[LedgerRow], q: &UsageQuery) {
    let want = expected_usage(rows, q);
    let keys: Vec<(String, String)> = got
        .iter()
        .map(|u| (u.bucket.clone(), u.group.clone()))
        .collect();
    let want_keys: Vec<(String, String)> = want.keys().cloned().collect();
    assert_eq!(
        keys, want_keys,
        "{q:?}: groups, buckets or their order differ"
    );
    for u in got {
        let mut e = want
            .get(&(u.bucket.clone(), u.group.clone()))
            .cloned()
            .unwrap();
        let what = format!("{q:?} {} {}", u.bucket, u.group);
        assert_eq!(u.requests, e.requests, "{what}");
        assert_eq!(u.errors, e.errors, "{what}");
        assert_eq!(u.input_tokens, e.input, "{what}");
        assert_eq!(u.output_tokens, e.output, "{what}");
        assert_eq!([u.images, u.audio_ms, u.characters], e.units, "{what}");
        assert!(
            (u.cost_usd - e.cost).abs() <= 1e-9 * e.cost.max(1.0),
            "{what}: cost {} vs {}",
            u.cost_usd,
            e.cost
        );
        assert_close_quantile(u.p50_ms, exact_quantile(&mut e.latencies, 0.5), &what);
        assert_close_quantile(u.p95_ms, exact_quantile(&mut e.latencies, 0.95), &what);
    }
}

async fn usage_matches_raw_rows(db: &TestDb) {
    let s = &db.store;
    let base = base_ms();
    let rows = gen_rows(4, 4000, base, 3 * DAY_MS, 1);
    for chunk in rows.chunks(700) {
        s.insert_ledger(chunk).await.unwrap();
    }
    let minute = 60_000;
    let ranges = [
        // Whole days: rollups only.
        (base, base + 3 * DAY_MS),
        // Partial hours at both ends.
        (
            base + 5 * HOUR_MS + 17 * minute + 23_456,
            base + 2 * DAY_MS + 13 * HOUR_MS + 4 * minute,
        ),
        // Inside one hour.
        (base + HOUR_MS + 10 * minute, base + HOUR_MS + 50 * minute),
        // Two partial hours, no whole one.
        (
            base + HOUR_MS + 30 * minute,
            base + 2 * HOUR_MS + 20 * minute,
        ),
        // Reaching past the data.
        (base - DAY_MS + 1, base + 10 * DAY_MS),
    ];
    for (from_ms, to_ms) in ranges {
        for group_by in UsageGroup::ALL {
            for bucket in [UsageBucket::Hour, UsageBucket::Day] {
                let q = UsageQuery {
                    group_by,
                    bucket,
                    from_ms,
                    to_ms,
                };
                let got = s.usage(&q).await.unwrap();
                assert!(!got.is_empty());
                check_usage(&got, &rows, &q);
            }
        }
    }
    let q = UsageQuery {
        group_by: UsageGroup::Key,
        bucket: UsageBucket::Day,
        from_ms: base,
        to_ms: base,
    };
    assert!(s.usage(&q).await.unwrap().is_empty());
    let got = s
        .usage(&UsageQuery {
            to_ms: base + DAY_MS,
            ..q
        })
        .await
        .unwrap();
    assert!(got.iter().all(|u| u.bucket == "2026-01-10T00:00:00Z"));
    assert!(
        got.iter().any(|u| u.group.is_empty()),
        "requests without a key group under \"\""
    );
}
both!(ledger_usage_matches_raw_rows, usage_matches_raw_rows);

/// Usage by endpoint: the routes and the media units each was billed by.
async fn usage_by_endpoint(db: &TestDb) {
    let s = &db.store;
    let base = base_ms();
    let mut rows = Vec::new();
    for (i, (endpoint, images, audio_ms, characters)) in [
        ("chat.completions", 0, 0, 0),
        ("chat.completions", 0, 0, 0),
        ("embeddings", 0, 0, 0),
        ("images.generations", 2, 0, 0),
        ("images.generations", 4, 0, 0),
        ("audio.transcriptions", 0, 61_500, 0),
        ("audio.speech", 0, 0, 300),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = minimal_row(&format!("ep-{i}"), base + 1000 * i as i64);
        r.endpoint = endpoint.into();
        r.images = images;
        r.audio_ms = audio_ms;
        r.characters = characters;
        r.prompt_tokens = 10;
        rows.push(r);
    }
    s.insert_ledger(&rows).await.unwrap();
    // Rollups (a whole hour) and raw rows (part of it) answer the same.
    for to_ms in [base + HOUR_MS, base + HOUR_MS / 2] {
        let q = UsageQuery {
            group_by: UsageGroup::Endpoint,
            bucket: UsageBucket::Hour,
            from_ms: base,
            to_ms,
        };
        let got = s.usage(&q).await.unwrap();
        check_usage(&got, &rows, &q);
        let by: BTreeMap<&str, &UsageRow> = got.iter().map(|u| (u.group.as_str(), u)).collect();
        assert_eq!(by.len(), 5);
        assert_eq!(by["chat.completions"].requests, 2);
        assert_eq!(by["images.generations"].images, 6);
        assert_eq!(by["audio.transcriptions"].audio_ms, 61_500);
        assert_eq!(by["audio.speech"].characters, 300);
        assert_eq!(by["embeddings"].input_tokens, 10);
    }
    // Other groupings carry the unit sums too.
    let q = UsageQuery {
        group_by: UsageGroup::Model,
        bucket: UsageBucket::Day,
        from_ms: base,
        to_ms: base + DAY_MS,
    };
    let got = s.usage(&q).await.unwrap();
    assert_eq!(
        (got.len(), got[0].images, got[0].audio_ms, got[0].characters),
        (1, 6, 61_500, 300)
    );
}
both!(ledger_usage_by_endpoint, usage_by_endpoint);

/// A row as migration 0004's schema stored it (no endpoint, no units), with the
/// rollup rows `insert_ledger` wrote then.
async fn insert_as_0004(db: &TestDb, r: &LedgerRow) {
    db.store
        .execute_raw(&format!(
            "INSERT INTO ledger (request_id, time_ms, model, deployment, provider, stream, \
             status, outcome, attempts, prompt_tokens, completion_tokens, cached_tokens, \
             cache_write_tokens, reasoning_tokens, cost_usd, priced, latency_ms, tags) \
             VALUES ('{}', {}, '{}', '{}', '{}', FALSE, {}, '{}', '[]', {}, {}, 0, 0, 0, {:?}, \
             TRUE, {:?}, '[]')",
            r.request_id,
            r.time_ms,
            r.model,
            r.deployment,
            r.provider,
            r.status,
            r.outcome,
            r.prompt_tokens,
            r.completion_tokens,
            r.cost_usd,
            r.latency_ms,
        ))
        .await
        .unwrap();
    let h = hist::bucket_of(r.latency_ms);
    for (dim, grp) in [
        ("model", r.model.as_str()),
        ("key", ""),
        ("deployment", r.deployment.as_str()),
        ("provider", r.provider.as_str()),
    ] {
        db.store
            .execute_raw(&format!(
                "INSERT INTO ledger_rollup (dimension, bucket_hour, grp, requests, errors, \
                 input_tokens, output_tokens, cost_usd, h{h:02}) VALUES ('{dim}', {}, '{grp}', \
                 1, 0, {}, {}, {:?}, 1) ON CONFLICT (dimension, bucket_hour, grp) DO UPDATE SET \
                 requests = ledger_rollup.requests + 1, \
                 input_tokens = ledger_rollup.input_tokens + excluded.input_tokens, \
                 output_tokens = ledger_rollup.output_tokens + excluded.output_tokens, \
                 cost_usd = ledger_rollup.cost_usd + excluded.cost_usd, \
                 h{h:02} = ledger_rollup.h{h:02} + 1",
                hist::hour_floor(r.time_ms),
                r.prompt_tokens,
                r.completion_tokens,
                r.cost_usd,
            ))
            .await
            .unwrap();
    }
}

fn row_0004(id: &str, time_ms: i64) -> LedgerRow {
    let mut r = minimal_row(id, time_ms);
    r.model = "gpt-4o".into();
    r.deployment = "openai/gpt-4o".into();
    r.provider = "openai".into();
    r.status = 200;
    r.outcome = "ok".into();
    r.prompt_tokens = 10;
    r.completion_tokens = 20;
    r.cost_usd = 0.5;
    r.priced = true;
    r.latency_ms = 12.5;
    r
}

/// Migration 0005 over a database that 0004 left with rows: old rows read as
/// `chat.completions` without units, the rollups gain their endpoint rows, and on
/// PostgreSQL the existing partitions (a day's and the default) get the columns.
async fn migrate_over_0004(db: TestDb) {
    let base = base_ms();
    let straggler_day = base + 2 * DAY_MS;
    if matches!(db.store, Store::Postgres(..)) {
        // The first day has its partition; the third day's row lands in the default.
        db.store.ensure_ledger_partitions(base, 0).await.unwrap();
    }
    let old = [
        row_0004("old-1", base + 1000),
        row_0004("old-2", base + 2000),
        row_0004("old-3", straggler_day + 5),
    ];
    for r in &old {
        insert_as_0004(&db, r).await;
    }
    assert_eq!(db.store.migrate().await.unwrap(), 1);
    if matches!(db.store, Store::Postgres(..)) {
        for table in ["ledger_p20260110", "ledger_default"] {
            assert_eq!(
                db.count(&format!(
                    "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = '{table}' \
                     AND column_name IN ('endpoint', 'images', 'audio_ms', 'characters')"
                ))
                .await,
                4,
                "{table}"
            );
        }
        assert_eq!(
            db.count("SELECT COUNT(*) FROM ledger_default").await,
            1,
            "the straggler is in the default partition"
        );
    }
    for r in &old {
        assert_eq!(
            db.store.get_request(&r.request_id).await.unwrap().as_ref(),
            Some(r)
        );
    }
    // A whole hour of old rows reads the backfilled rollup.
    let q = UsageQuery {
        group_by: UsageGroup::Endpoint,
        bucket: UsageBucket::Hour,
        from_ms: base,
        to_ms: base + HOUR_MS,
    };
    let got = db.store.usage(&q).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].group.as_str(), got[0].requests, got[0].input_tokens),
        ("chat.completions", 2, 20)
    );
    check_usage(&got, &old, &q);

    // New rows: in the existing day partition, and in the straggler's day, whose
    // partition is created now (moving the old row out of the default partition).
    let full = full_row();
    let mut speech = minimal_row("new-speech", straggler_day + 60_000);
    speech.endpoint = "audio.speech".into();
    speech.characters = 512;
    let mut all = old.to_vec();
    all.extend([full.clone(), speech.clone()]);
    db.store
        .insert_ledger(&[full.clone(), speech.clone()])
        .await
        .unwrap();
    for r in &all {
        assert_eq!(
            db.store.get_request(&r.request_id).await.unwrap().as_ref(),
            Some(r)
        );
    }
    if matches!(db.store, Store::Postgres(..)) {
        assert_eq!(db.count("SELECT COUNT(*) FROM ledger_default").await, 0);
        assert_eq!(db.count("SELECT COUNT(*) FROM ledger_p20260112").await, 2);
    }
    for group_by in UsageGroup::ALL {
        for bucket in [UsageBucket::Hour, UsageBucket::Day] {
            let q = UsageQuery {
                group_by,
                bucket,
                from_ms: base,
                to_ms: base + 3 * DAY_MS,
            };
            check_usage(&db.store.usage(&q).await.unwrap(), &all, &q);
        }
    }
    db.finish().await;
}

#[tokio::test]
async fn sqlite_migration_0005_over_0004() {
    migrate_over_0004(TestDb::sqlite_at(Some(4)).await).await;
}

#[tokio::test]
async fn postgres_migration_0005_over_0004() {
    if let Some(db) = TestDb::postgres_at(Some(4)).await {
        migrate_over_0004(db).await;
    }
}

async fn prune(db: &TestDb) {
    let s = &db.store;
    let base = base_ms();
    let now = base + 9 * DAY_MS + 12 * HOUR_MS;
    let rows = gen_rows(5, 1000, base, 10 * DAY_MS, 1);
    s.insert_ledger(&rows).await.unwrap();
    let cutoff = base + 6 * DAY_MS; // retention 3 days before the 10th day
    let old = rows.iter().filter(|r| r.time_ms < cutoff).count() as u64;
    assert!(old > 0);
    assert_eq!(s.prune_ledger(3, now).await.unwrap(), old);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM ledger").await as u64,
        rows.len() as u64 - old
    );
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) FROM ledger_rollup WHERE bucket_hour < {cutoff}"
        ))
        .await,
        0
    );
    let q = UsageQuery {
        group_by: UsageGroup::Provider,
        bucket: UsageBucket::Day,
        from_ms: base,
        to_ms: base + 10 * DAY_MS,
    };
    let kept: Vec<LedgerRow> = rows
        .iter()
        .filter(|r| r.time_ms >= cutoff)
        .cloned()
        .collect();
    check_usage(&s.usage(&q).await.unwrap(), &kept, &q);
    assert_eq!(s.prune_ledger(3, now).await.unwrap(), 0);
    if matches!(s, Store::Postgres(..)) {
        for (day, exists) in [(5, false), (0, false), (6, true), (9, true)] {
            let name = pg::partition_name(days_from_civil(2026, 1, 10) + day);
            let n = db
                .count(&format!(
                    "SELECT COUNT(*) FROM pg_class WHERE relname = '{name}'"
                ))
                .await;
            assert_eq!(n == 1, exists, "{name}");
        }
    }
    // A late row for a pruned day is stored again (its partition is recreated).
    let late = minimal_row("late", base + 30_000);
    s.insert_ledger(std::slice::from_ref(&late)).await.unwrap();
    assert_eq!(s.get_request("late").await.unwrap(), Some(late));
}
both!(ledger_prune_drops_old_days, prune);

#[tokio::test]
async fn postgres_default_partition_rows_move_to_their_day() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let Store::Postgres(_, cache) = &db.store else {
        unreachable!()
    };
    let day = days_from_civil(2026, 2, 1);
    // This store believes the day exists: the row lands in the default partition.
    cache.with(|s| s.insert(day));
    let mut row = minimal_row("straggler", day * DAY_MS + 5);
    row.endpoint = "audio.speech".into();
    row.characters = 42;
    db.store
        .insert_ledger(std::slice::from_ref(&row))
        .await
        .unwrap();
    let part = "SELECT COUNT(*) FROM ledger_default WHERE request_id = 'straggler'";
    assert_eq!(db.count(part).await, 1);
    // Another process creating that day takes the row over.
    let other = Store::connect(&db.pg.as_ref().unwrap().2).await.unwrap();
    other
        .ensure_ledger_partitions(day * DAY_MS + 1000, 2)
        .await
        .unwrap();
    assert_eq!(db.count(part).await, 0);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM ledger_p20260201 WHERE request_id = 'straggler'")
            .await,
        1
    );
    for name in ["ledger_p20260202", "ledger_p20260203"] {
        assert_eq!(
            db.count(&format!(
                "SELECT COUNT(*) FROM pg_class WHERE relname = '{name}'"
            ))
            .await,
            1
        );
    }
    assert_eq!(
        other.get_request("straggler").await.unwrap(),
        Some(row.clone())
    );
    // Idempotency still holds for the moved row.
    other
        .insert_ledger(std::slice::from_ref(&row))
        .await
        .unwrap();
    assert_eq!(db.count("SELECT COUNT(*) FROM ledger").await, 1);
    assert_eq!(rollup_requests(&db).await, 1);
    // A row from a unit bug (microseconds) gets no partition of its own.
    let absurd = minimal_row("absurd", 1_768_000_000_000_000);
    other
        .insert_ledger(std::slice::from_ref(&absurd))
        .await
        .unwrap();
    assert_eq!(
        db.count("SELECT COUNT(*) FROM ledger_default WHERE request_id = 'absurd'")
            .await,
        1
    );
    assert_eq!(other.get_request("absurd").await.unwrap(), Some(absurd));
    other.close().await;
    db.finish().await;
}

#[test]
fn cursors_round_trip() {
    for (t, id) in [(0, "a"), (-5, "x:y:z"), (i64::MAX, "ü漢"), (1, "")] {
        let c = encode_cursor(t, id);
        assert!(c.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(decode_cursor(&c).unwrap(), (t, id.to_string()));
    }
    assert!(decode_cursor("ü").is_err());
}

#[test]
fn usage_names_serialize_lowercase() {
    assert_eq!(
        serde_json::to_string(&UsageGroup::Deployment).unwrap(),
        "\"deployment\""
    );
    assert_eq!(serde_json::to_string(&UsageBucket::Day).unwrap(), "\"day\"");
    let f: RequestFilter = serde_json::from_str(r#"{"status":429,"limit":5}"#).unwrap();
    assert_eq!(f.status, Some(429));
}

/// Rows like the gateway's over `days` days, time-ordered.
fn bulk_rows(
    seed: u64,
    first: usize,
    n: usize,
    total: usize,
    start: i64,
    span: i64,
) -> Vec<LedgerRow> {
    let mut rng = fastrand::Rng::with_seed(seed ^ first as u64);
    (first..first + n)
        .map(|i| {
            let t = start + (i as i128 * span as i128 / total as i128) as i64;
            let d = DEPLOYMENTS[rng.usize(..DEPLOYMENTS.len())];
            let mut r = minimal_row(&format!("bulk-{i:08}"), t);
            r.model = format!("model-{}", rng.u8(..8));
            r.key_id = Some(format!("key-{}", rng.u8(..50)));
            r.deployment = d.into();
            r.provider = d.split('/').next().unwrap_or("").into();
            r.status = if rng.u8(..50) == 0 { 500 } else { 200 };
            r.outcome = if r.status == 200 {
                "ok"
            } else {
                "upstream_error"
            }
            .into();
            r.prompt_tokens = rng.u64(10..3000);
            r.completion_tokens = rng.u64(1..1000);
            r.cost_usd = r.prompt_tokens as f64 * 2.5e-6 + r.completion_tokens as f64 * 1e-5;
            r.priced = true;
            r.latency_ms = 20.0 * (rng.f64() * 8.0).exp();
            r.ttft_ms = Some(r.latency_ms / 4.0);
            r.attempts = vec![LedgerAttempt {
                deployment: d.into(),
                status: Some(r.status),
                error_class: None,
                offset_ms: 0.0,
                latency_ms: r.latency_ms,
            }];
            r.client_ip = Some("10.0.0.1".into());
            r.user_agent = Some("openai-python/1.40".into());
            r
        })
        .collect()
}

/// Inserts `total` rows over 30 days through `insert_ledger`, then times a
/// 30-day usage query. Returns (setup seconds, query seconds).
async fn bulk(db: &TestDb, total: usize, writers: usize) -> (f64, f64) {
    let start = base_ms();
    let span = 30 * DAY_MS;
    let batch = 10_000;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let s = db.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut first = w * batch;
            while first < total {
                let n = batch.min(total - first);
                let rows = bulk_rows(7, first, n, total, start, span);
                s.insert_ledger(&rows).await.unwrap();
                first += writers * batch;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let setup = t0.elapsed().as_secs_f64();
    eprintln!(
        "ledger bulk ({}): {total} rows in {setup:.1} s ({:.0} rows/s, {writers} writers)",
        db.store.backend(),
        total as f64 / setup
    );
    let q = UsageQuery {
        group_by: UsageGroup::Model,
        bucket: UsageBucket::Day,
        from_ms: start,
        to_ms: start + span,
    };
    let t1 = Instant::now();
    let usage = db.store.usage(&q).await.unwrap();
    let query = t1.elapsed().as_secs_f64();
    eprintln!(
        "ledger usage ({}): 30 days by model per day: {} rows in {:.1} ms",
        db.store.backend(),
        usage.len(),
        query * 1000.0
    );
    assert_eq!(usage.len(), 30 * 8);
    assert_eq!(usage.iter().map(|u| u.requests).sum::<u64>(), total as u64);
    // Unaligned edges read raw rows for two partial hours.
    let t2 = Instant::now();
    let q2 = UsageQuery {
        group_by: UsageGroup::Key,
        bucket: UsageBucket::Hour,
        from_ms: start + 90 * 60_000,
        to_ms: start + span - 30 * 60_000,
    };
    let usage = db.store.usage(&q2).await.unwrap();
    eprintln!(
        "ledger usage ({}): 30 days by key per hour, unaligned: {} rows in {:.1} ms",
        db.store.backend(),
        usage.len(),
        t2.elapsed().as_secs_f64() * 1000.0
    );
    let t3 = Instant::now();
    let page = db
        .store
        .list_requests(&RequestFilter {
            key_id: Some("key-7".into()),
            limit: Some(100),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 100);
    eprintln!(
        "ledger list ({}): newest 100 of one key in {:.1} ms",
        db.store.backend(),
        t3.elapsed().as_secs_f64() * 1000.0
    );
    (setup, query)
}

/// One million rows over 30 days on PostgreSQL: a 30-day usage query answers in
/// under a second (from rollups).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_usage_over_a_million_rows_is_fast() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (_, query) = bulk(&db, 1_000_000, 2).await;
    assert!(query < 1.0, "30-day usage took {query:.3} s");
    db.finish().await;
}

/// The same on SQLite; not part of the normal run (it takes a while in debug).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn sqlite_usage_over_a_million_rows() {
    let db = TestDb::sqlite().await;
    let (_, query) = bulk(&db, 1_000_000, 1).await;
    assert!(query < 1.0, "30-day usage took {query:.3} s");
    db.finish().await;
}
