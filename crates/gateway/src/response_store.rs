//! Responses API state (`store: true`, `previous_response_id`).
//!
//! A stored response is written to the database before its request is answered, so a
//! follow-up sent to any replica finds it. This replica also keeps its recent ones in
//! memory (bounded, oldest out first), so a conversation that stays on one replica
//! reads no row. Without a database the memory is all there is, and says so at start.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_store::responses::StoredResponse;
use switchyard_store::{Store, StoreError};

/// How long a stored response can be continued or read back (OpenAI keeps 30 days).
pub const DEFAULT_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Responses kept in this process's memory.
const RECENT: usize = 2048;
/// How often expired rows are deleted.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

pub struct ResponseStore {
    store: Option<Store>,
    ttl: Duration,
    recent: Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    map: HashMap<String, Arc<StoredResponse>>,
    order: VecDeque<String>,
}

impl Recent {
    fn insert(&mut self, r: Arc<StoredResponse>) {
        if self.map.insert(r.id.clone(), r.clone()).is_none() {
            self.order.push_back(r.id.clone());
        }
        while self.order.len() > RECENT {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

impl ResponseStore {
    pub fn new(store: Option<Store>, ttl: Duration) -> Self {
        ResponseStore {
            store,
            ttl,
            recent: Mutex::new(Recent::default()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Keeps a response (in memory at once, then in the database).
    pub async fn save(&self, r: StoredResponse) -> Result<(), StoreError> {
        let r = self.remember(r);
        self.persist(&r).await
    }

    /// Keeps a response in this process's memory, at once (a streamed answer's state is
    /// visible here before its last event reaches the client).
    pub fn remember(&self, r: StoredResponse) -> Arc<StoredResponse> {
        let r = Arc::new(r);
        if let Ok(mut recent) = self.recent.lock() {
            recent.insert(r.clone());
        }
        r
    }

    /// Writes a remembered response to the database.
    pub async fn persist(&self, r: &StoredResponse) -> Result<(), StoreError> {
        match &self.store {
            Some(store) => store.put_response(r).await,
            None => Ok(()),
        }
    }

    /// A stored response that has not expired.
    pub async fn load(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<Arc<StoredResponse>>, StoreError> {
        let cached = self.recent.lock().ok().and_then(|r| r.map.get(id).cloned());
        if let Some(r) = cached {
            return Ok((r.expires_at_ms > now_ms).then_some(r));
        }
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let found = store.get_response(id, now_ms).await?.map(Arc::new);
        if let (Some(r), Ok(mut recent)) = (&found, self.recent.lock()) {
            recent.insert(r.clone());
        }
        Ok(found)
    }

    /// Deletes a stored response; whether it existed.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let cached = self
            .recent
            .lock()
            .ok()
            .and_then(|mut r| r.map.remove(id))
            .is_some();
        match &self.store {
            Some(store) => Ok(store.delete_response(id).await? || cached),
            None => Ok(cached),
        }
    }

    /// Deletes expired rows now and then, until `stop`.
    pub async fn purge(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let Some(store) = self.store.clone() else {
            return;
        };
        loop {
            match store.purge_expired_responses(now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(purged = n, "expired stored responses deleted"),
                Err(e) => tracing::warn!(error = %e, "could not purge expired stored responses"),
            }
            tokio::select! {
                _ = tokio::time::sleep(PURGE_EVERY) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(id: &str, expires_at_ms: i64) -> StoredResponse {
        StoredResponse {
            id: id.into(),
            key_id: None,
            model: "m".into(),
            conversation: "[]".into(),
            response: "{}".into(),
            created_at_ms: 0,
            expires_at_ms,
        }
    }

    #[tokio::test]
    async fn memory_only_keeps_recent_and_honours_expiry() {
        let s = ResponseStore::new(None, DEFAULT_TTL);
        s.save(response("resp_a", 100)).await.unwrap();
        assert!(s.load("resp_a", 50).await.unwrap().is_some());
        assert!(s.load("resp_a", 100).await.unwrap().is_none());
        for i in 0..=RECENT {
            s.save(response(&format!("resp_{i}"), 100)).await.unwrap();
        }
        // The oldest fell out.
        assert!(s.load("resp_a", 50).await.unwrap().is_none());
        assert!(s
            .load(&format!("resp_{RECENT}"), 50)
            .await
            .unwrap()
            .is_some());
        assert!(s.delete(&format!("resp_{RECENT}")).await.unwrap());
        assert!(!s.delete(&format!("resp_{RECENT}")).await.unwrap());
    }

    #[tokio::test]
    async fn another_replica_reads_it_from_the_database() {
        let dir = std::env::temp_dir().join(format!("sy-resp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}/r.db", dir.display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let a = ResponseStore::new(Some(store.clone()), DEFAULT_TTL);
        let b = ResponseStore::new(Some(store), DEFAULT_TTL);
        a.save(response("resp_x", i64::MAX)).await.unwrap();
        let got = b.load("resp_x", now_ms()).await.unwrap().unwrap();
        assert_eq!(got.id, "resp_x");
        assert!(b.delete("resp_x").await.unwrap());
        assert!(a
            .store
            .as_ref()
            .unwrap()
            .get_response("resp_x", 0)
            .await
            .unwrap()
            .is_none());
        let _ = std::fs::remove_dir_all(dir);
    }
}
