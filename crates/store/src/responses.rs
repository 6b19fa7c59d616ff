//! Responses API state: stored responses that a later request continues with
//! `previous_response_id`, and reads back with `GET /v1/responses/{id}`.
//!
//! Rows carry their expiry; a read never returns an expired row, and
//! [`Store::purge_expired_responses`] deletes them in the background.

use crate::{Store, StoreError};

/// One stored response.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    /// `resp_…`
    pub id: String,
    /// The virtual key that created it (`None`: the master key or an open gateway).
    pub key_id: Option<String>,
    pub model: String,
    /// The conversation so far as Responses API items (JSON array text): earlier turns,
    /// this request's input, then this response's output.
    pub conversation: String,
    /// The response object as returned to the client (JSON text).
    pub response: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

type Row = (String, Option<String>, String, String, String, i64, i64);

impl From<Row> for StoredResponse {
    fn from(r: Row) -> Self {
        StoredResponse {
            id: r.0,
            key_id: r.1,
            model: r.2,
            conversation: r.3,
            response: r.4,
            created_at_ms: r.5,
            expires_at_ms: r.6,
        }
    }
}

const COLUMNS: &str = "id, key_id, model, conversation, response, created_at_ms, expires_at_ms";

impl Store {
    /// Stores (or replaces) a response.
    pub async fn put_response(&self, r: &StoredResponse) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO response_state ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, model = excluded.model, \
             conversation = excluded.conversation, response = excluded.response, \
             created_at_ms = excluded.created_at_ms, expires_at_ms = excluded.expires_at_ms"
        );
        macro_rules! put {
            ($pool:expr) => {
                sqlx::query(&sql)
                    .bind(&r.id)
                    .bind(&r.key_id)
                    .bind(&r.model)
                    .bind(&r.conversation)
                    .bind(&r.response)
                    .bind(r.created_at_ms)
                    .bind(r.expires_at_ms)
                    .execute($pool)
                    .await
                    .map(|_| ())
            };
        }
        match self {
            Store::Sqlite(p) => put!(p)?,
            Store::Postgres(p, _) => put!(p)?,
        }
        Ok(())
    }

    /// A stored response that has not expired by `now_ms`.
    pub async fn get_response(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<StoredResponse>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM response_state WHERE id = $1 AND expires_at_ms > $2");
        let row: Option<Row> = match self {
            Store::Sqlite(p) => {
                sqlx::query_as(&sql)
                    .bind(id)
                    .bind(now_ms)
                    .fetch_optional(p)
                    .await?
            }
            Store::Postgres(p, _) => {
                sqlx::query_as(&sql)
                    .bind(id)
                    .bind(now_ms)
                    .fetch_optional(p)
                    .await?
            }
        };
        Ok(row.map(StoredResponse::from))
    }

    /// Deletes a stored response; whether it existed.
    pub async fn delete_response(&self, id: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM response_state WHERE id = $1";
        let n = match self {
            Store::Sqlite(p) => sqlx::query(sql).bind(id).execute(p).await?.rows_affected(),
            Store::Postgres(p, _) => sqlx::query(sql).bind(id).execute(p).await?.rows_affected(),
        };
        Ok(n > 0)
    }

    /// Deletes every response expired by `now_ms`; how many.
    pub async fn purge_expired_responses(&self, now_ms: i64) -> Result<u64, StoreError> {
        let sql = "DELETE FROM response_state WHERE expires_at_ms <= $1";
        let n = match self {
            Store::Sqlite(p) => sqlx::query(sql)
                .bind(now_ms)
                .execute(p)
                .await?
                .rows_affected(),
            Store::Postgres(p, _) => sqlx::query(sql)
                .bind(now_ms)
                .execute(p)
                .await?
                .rows_affected(),
        };
        Ok(n)
    }
}
