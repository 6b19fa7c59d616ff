//! Virtual keys: generated as `sk-sy-…`, shown once, stored only as their SHA-256, and
//! looked up on the request path in an in-memory cache (swapped whole when the store
//! says keys changed; readers never lock).

use super::limits::{KeyCounters, KeyLimits};
use super::period::Period;
use super::scope::Scope;
use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

pub const KEY_PREFIX: &str = "sk-sy-";

/// A fresh virtual key: `sk-sy-` and 40 random base62 characters (~238 bits).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut key = String::with_capacity(KEY_PREFIX.len() + 40);
    key.push_str(KEY_PREFIX);
    for _ in 0..40 {
        let i = fastrand::usize(0..ALPHABET.len());
        key.push(char::from(ALPHABET[i]));
    }
    key
}

pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A key as the request path sees it.
#[derive(Debug)]
pub struct KeyEntry {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub limits: KeyLimits,
    pub expires_at_ms: Option<u64>,
    pub revoked: bool,
    /// Keep this key's request and response bodies in the ledger (metadata
    /// `"log_bodies": true`).
    pub log_bodies: bool,
    /// In-process counters; kept across cache refreshes (by key id).
    pub counters: Arc<KeyCounters>,
}

impl KeyEntry {
    pub fn has_limits(&self) -> bool {
        let l = &self.limits;
        l.rpm.is_some() || l.tpm.is_some() || l.max_concurrency.is_some() || l.budget_usd.is_some()
    }
}

/// What the store says about a key (the cache's input).
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub id: String,
    pub name: String,
    pub hash: [u8; 32],
    pub models: Vec<String>,
    pub budget_usd: Option<f64>,
    pub period: Option<Period>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_concurrency: Option<u64>,
    pub expires_at_ms: Option<u64>,
    pub revoked: bool,
    pub log_bodies: bool,
}

#[derive(Default)]
pub struct KeyCache {
    by_hash: ArcSwap<HashMap<[u8; 32], Arc<KeyEntry>>>,
}

impl KeyCache {
    pub fn lookup(&self, presented: &str) -> Option<Arc<KeyEntry>> {
        self.by_hash.load().get(&hash(presented)).cloned()
    }

    pub fn by_id(&self, id: &str) -> Option<Arc<KeyEntry>> {
        self.by_hash.load().values().find(|k| k.id == id).cloned()
    }

    pub fn len(&self) -> usize {
        self.by_hash.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces the cache with `specs`, keeping each key's live counters.
    pub fn replace(&self, specs: Vec<KeySpec>) {
        let old = self.by_hash.load();
        let counters: HashMap<&str, Arc<KeyCounters>> = old
            .values()
            .map(|k| (k.id.as_str(), k.counters.clone()))
            .collect();
        let mut next = HashMap::with_capacity(specs.len());
        for s in specs {
            let entry = KeyEntry {
                counters: counters.get(s.id.as_str()).cloned().unwrap_or_default(),
                scopes: s.models.iter().map(|m| Scope::parse(m)).collect(),
                limits: KeyLimits {
                    rpm: s.rpm,
                    tpm: s.tpm,
                    max_concurrency: s.max_concurrency,
                    budget_usd: s.budget_usd,
                    period: s.period.unwrap_or(Period::Total),
                },
                expires_at_ms: s.expires_at_ms,
                revoked: s.revoked,
                log_bodies: s.log_bodies,
                id: s.id,
                name: s.name,
            };
            next.insert(s.hash, Arc::new(entry));
        }
        drop(counters);
        self.by_hash.store(Arc::new(next));
    }

    /// Every key with counters, for the spend flusher.
    pub fn all(&self) -> Vec<Arc<KeyEntry>> {
        self.by_hash.load().values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: &str, key: &str) -> KeySpec {
        KeySpec {
            id: id.into(),
            name: id.into(),
            hash: hash(key),
            models: vec!["general".into()],
            budget_usd: Some(1.0),
            period: Some(Period::Month),
            rpm: Some(10),
            tpm: None,
            max_concurrency: None,
            expires_at_ms: None,
            revoked: false,
            log_bodies: false,
        }
    }

    #[test]
    fn generated_keys_look_right_and_differ() {
        let a = generate();
        let b = generate();
        assert!(a.starts_with("sk-sy-") && a.len() == 46);
        assert_ne!(a, b);
        assert_ne!(hash(&a), hash(&b));
    }

    #[test]
    fn lookup_by_hash_and_counters_survive_a_refresh() {
        let c = KeyCache::default();
        c.replace(vec![spec("k1", "sk-sy-one")]);
        let e = c.lookup("sk-sy-one").unwrap();
        assert!(c.lookup("sk-sy-two").is_none());
        e.counters.admit(&e.limits, 0, 0.3, 0).unwrap();
        c.replace(vec![spec("k1", "sk-sy-one"), spec("k2", "sk-sy-two")]);
        let again = c.lookup("sk-sy-one").unwrap();
        assert!(Arc::ptr_eq(&e.counters, &again.counters));
        assert_eq!(again.counters.snapshot(Period::Month, 0).3, 1);
        assert_eq!(c.by_id("k2").unwrap().name, "k2");
    }
}
