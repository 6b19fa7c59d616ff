//! Database access for Switchyard: SQLite embedded by default, PostgreSQL for
//! replicas. The same operations run on both; each backend has its own migration
//! folder (`migrations/sqlite`, `migrations/postgres`), compiled into the binary.
//!
//! Nothing here is called on the request path: the gateway reads what it needs at
//! start-up or from caches, and writes from background tasks.
//!
//! The request ledger (`insert_ledger`, `get_request`, `list_requests`, `usage`,
//! `export_ledger`, `prune_ledger`) keeps one row per finished request plus hourly
//! rollups that answer usage questions without reading raw rows.

mod ledger;

pub use ledger::{
    rfc3339, LedgerAttempt, LedgerRow, PartitionCache, RequestFilter, RequestPage, UsageBucket,
    UsageGroup, UsageQuery, UsageRow, DEFAULT_ENDPOINT, DEFAULT_LIST_LIMIT, HIST_BUCKETS,
    HIST_RATIO, MAX_EXPORT_LIMIT, MAX_LIST_LIMIT,
};

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub mod keys;
pub mod responses;
pub use keys::{KeyPatch, KeyRecord, ModelRecord, NewKey, ProviderRecord};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://USER@HOST/DB")]
    BadUrl(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid page cursor")]
    InvalidCursor,
    #[error("unreadable stored data: {0}")]
    Corrupt(String),
}

#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    /// The pool and the ledger's day partitions known to exist.
    Postgres(PgPool, PartitionCache),
}

impl Store {
    /// Opens a pool. SQLite files are created when missing and run in WAL mode.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                // 1 MiB of page cache per connection instead of SQLite's 2 MiB: the
                // gateway's reads are small and its writes batched, and this keeps
                // an idle gateway's memory low.
                .pragma("cache_size", "-1024");
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await?;
            Ok(Store::Postgres(pool, PartitionCache::default()))
        } else {
            Err(StoreError::BadUrl(redact_url(url)))
        }
    }

    /// Runs one SQL statement (administration and tests: creating a database).
    pub async fn execute_raw(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
            Store::Postgres(p, _) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        }
        .map_err(StoreError::from)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(..) => "postgres",
        }
    }

    /// Applies pending migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let before = self.applied_migrations().await.unwrap_or(0);
        match self {
            Store::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
            Store::Postgres(p, _) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        let after = self.applied_migrations().await?;
        Ok(after.saturating_sub(before))
    }

    async fn applied_migrations(&self) -> Result<usize, StoreError> {
        let q = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success";
        let n: i64 = match self {
            Store::Sqlite(p) => sqlx::query_scalar(q).fetch_one(p).await?,
            Store::Postgres(p, _) => sqlx::query_scalar(q).fetch_one(p).await?,
        };
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// A round trip, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ())?,
            Store::Postgres(p, _) => sqlx::query("SELECT 1").execute(p).await.map(|_| ())?,
        }
        Ok(())
    }

    /// This database's installation id, created on first use.
    pub async fn install_id(&self) -> Result<String, StoreError> {
        let fresh = format!("{:016x}{:016x}", rand_u64(), rand_u64());
        match self {
            Store::Sqlite(p) => {
                sqlx::query("INSERT INTO meta (key, value) VALUES ('install_id', ?) ON CONFLICT (key) DO NOTHING")
                    .bind(&fresh)
                    .execute(p)
                    .await?;
                Ok(
                    sqlx::query_scalar("SELECT value FROM meta WHERE key = 'install_id'")
                        .fetch_one(p)
                        .await?,
                )
            }
            Store::Postgres(p, _) => {
                sqlx::query("INSERT INTO meta (key, value) VALUES ('install_id', $1) ON CONFLICT (key) DO NOTHING")
                    .bind(&fresh)
                    .execute(p)
                    .await?;
                Ok(
                    sqlx::query_scalar("SELECT value FROM meta WHERE key = 'install_id'")
                        .fetch_one(p)
                        .await?,
                )
            }
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(p) => p.close().await,
            Store::Postgres(p, _) => p.close().await,
        }
    }
}

/// A database URL fit for messages: any password is masked.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.split_once('@') {
            if let Some((user, _)) = creds.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn exercise(store: Store) {
        store.migrate().await.unwrap();
        // Idempotent.
        assert_eq!(store.migrate().await.unwrap(), 0);
        store.ping().await.unwrap();
        let id = store.install_id().await.unwrap();
        assert_eq!(id.len(), 32);
        assert_eq!(
            store.install_id().await.unwrap(),
            id,
            "install id is stable"
        );
        responses_round_trip(&store).await;
    }

    async fn responses_round_trip(store: &Store) {
        use responses::StoredResponse;
        let r = StoredResponse {
            id: "resp_test1".into(),
            key_id: Some("key_1".into()),
            model: "general".into(),
            conversation: r#"[{"type":"message","role":"user","content":"hi"}]"#.into(),
            response: r#"{"id":"resp_test1","object":"response"}"#.into(),
            created_at_ms: 1_000,
            expires_at_ms: 10_000,
        };
        store.put_response(&r).await.unwrap();
        assert_eq!(
            store.get_response("resp_test1", 5_000).await.unwrap(),
            Some(r.clone())
        );
        // Expired rows are never returned, and are purged.
        assert_eq!(
            store.get_response("resp_test1", 10_000).await.unwrap(),
            None
        );
        assert_eq!(store.get_response("resp_nope", 0).await.unwrap(), None);
        // A replacement wins.
        let newer = StoredResponse {
            expires_at_ms: 20_000,
            ..r.clone()
        };
        store.put_response(&newer).await.unwrap();
        assert_eq!(
            store.get_response("resp_test1", 15_000).await.unwrap(),
            Some(newer)
        );
        assert_eq!(store.purge_expired_responses(15_000).await.unwrap(), 0);
        assert_eq!(store.purge_expired_responses(20_000).await.unwrap(), 1);
        store.put_response(&r).await.unwrap();
        assert!(store.delete_response("resp_test1").await.unwrap());
        assert!(!store.delete_response("resp_test1").await.unwrap());
    }

    #[tokio::test]
    async fn sqlite_file_is_created_and_migrated() {
        let dir = std::env::temp_dir().join(format!("sy-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/t.db", dir.display());
        let store = Store::connect(&url).await.unwrap();
        assert_eq!(store.backend(), "sqlite");
        exercise(store).await;
        assert!(dir.join("t.db").exists());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn postgres_when_reachable() {
        let url = std::env::var("SWITCHYARD_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin = match Store::connect(&url).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("SKIPPED: PostgreSQL not reachable at {url}: {e}");
                assert!(std::env::var("CI").is_err(), "CI must have PostgreSQL");
                return;
            }
        };
        let Store::Postgres(pool, _) = &admin else {
            unreachable!()
        };
        let db = format!("sy_store_test_{}", std::process::id());
        sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(pool)
            .await
            .unwrap();
        let base = url.rsplit_once('/').map(|(b, _)| b).unwrap();
        let store = Store::connect(&format!("{base}/{db}")).await.unwrap();
        assert_eq!(store.backend(), "postgres");
        exercise(store.clone()).await;
        store.close().await;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(pool)
            .await
            .unwrap();
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
        assert!(matches!(
            futures_lite_block(Store::connect("mysql://u:pw@h/db")),
            Err(StoreError::BadUrl(u)) if !u.contains("pw")
        ));
    }

    fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }
}
