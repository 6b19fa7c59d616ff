//! Shared state: counters, per-path counts, `fail_times` counters and recordings.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

use crate::MockConfig;

/// How many recorded requests are kept.
pub(crate) const RECORD_LIMIT: usize = 100;

/// The wire formats the mock speaks, for per-format stats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    OpenAi,
    Azure,
    Anthropic,
    Gemini,
    Vertex,
    Bedrock,
}

impl Format {
    const ALL: [Format; 6] = [
        Format::OpenAi,
        Format::Azure,
        Format::Anthropic,
        Format::Gemini,
        Format::Vertex,
        Format::Bedrock,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::OpenAi => "openai",
            Format::Azure => "azure",
            Format::Anthropic => "anthropic",
            Format::Gemini => "gemini",
            Format::Vertex => "vertex",
            Format::Bedrock => "bedrock",
        }
    }
}

pub(crate) struct State {
    pub(crate) cfg: MockConfig,
    pub(crate) total: AtomicU64,
    pub(crate) inflight: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) aborted: AtomicU64,
    /// Source of `chatcmpl-mock-<n>` (and other formats') ids (never reset).
    next_id: AtomicU64,
    /// Requests per [`Format`], indexed like [`Format::ALL`].
    formats: [AtomicU64; 6],
    /// Requests to the fake OAuth2 token endpoint.
    token_requests: AtomicU64,
    /// The next `ya29.mock-<n>` access token; tokens below it were issued (never reset,
    /// so a gateway's cached token stays valid across `/_mock/reset`).
    next_token: AtomicU64,
    paths: PathCounters,
    fail_counters: PathCounters,
    recorded: Mutex<VecDeque<serde_json::Value>>,
}

impl State {
    pub(crate) fn new(cfg: MockConfig) -> Self {
        Self {
            cfg,
            total: AtomicU64::new(0),
            inflight: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            aborted: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
            formats: Default::default(),
            token_requests: AtomicU64::new(0),
            next_token: AtomicU64::new(1),
            paths: PathCounters::default(),
            fail_counters: PathCounters::default(),
            recorded: Mutex::new(VecDeque::new()),
        }
    }

    /// Count a new generation request on `path`; the returned guard tracks it until done.
    pub(crate) fn begin(self: &Arc<Self>, path: &str, format: Format) -> RequestGuard {
        self.total.fetch_add(1, Relaxed);
        if let Some(i) = Format::ALL.iter().position(|f| *f == format) {
            self.formats[i].fetch_add(1, Relaxed);
        }
        self.inflight.fetch_add(1, Relaxed);
        self.paths.incr(path);
        RequestGuard {
            state: Arc::clone(self),
            done: false,
        }
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed)
    }

    /// Count a token request and mint a new access token.
    pub(crate) fn issue_token(&self) -> String {
        let n = self.next_token.fetch_add(1, Relaxed);
        format!("ya29.mock-{n}")
    }

    pub(crate) fn count_token_request(&self) {
        self.token_requests.fetch_add(1, Relaxed);
    }

    /// Whether `token` is one [`State::issue_token`] returned.
    pub(crate) fn token_issued(&self, token: &str) -> bool {
        let Some(digits) = token.strip_prefix("ya29.mock-") else {
            return false;
        };
        // Only the spelling the mock produces: no sign, no leading zero.
        if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        digits
            .parse::<u64>()
            .is_ok_and(|n| n >= 1 && n < self.next_token.load(Relaxed))
    }

    /// Returns the number of earlier `fail_times` requests on `path` (then counts this one).
    pub(crate) fn fail_count(&self, path: &str) -> u64 {
        self.fail_counters.incr(path)
    }

    pub(crate) fn record(&self, entry: serde_json::Value) {
        let mut rec = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        if rec.len() >= RECORD_LIMIT {
            rec.pop_front();
        }
        rec.push_back(entry);
    }

    pub(crate) fn recorded(&self) -> Vec<serde_json::Value> {
        let rec = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        rec.iter().cloned().collect()
    }

    pub(crate) fn stats_json(&self) -> serde_json::Value {
        let paths: serde_json::Map<String, serde_json::Value> = self
            .paths
            .snapshot()
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect();
        let formats: serde_json::Map<String, serde_json::Value> = Format::ALL
            .iter()
            .zip(&self.formats)
            .map(|(f, c)| (f.name().to_owned(), c.load(Relaxed).into()))
            .collect();
        serde_json::json!({
            "total": self.total.load(Relaxed),
            "inflight": self.inflight.load(Relaxed),
            "completed": self.completed.load(Relaxed),
            "cancelled": self.cancelled.load(Relaxed),
            "aborted": self.aborted.load(Relaxed),
            "paths": paths,
            "formats": formats,
            "token_requests": self.token_requests.load(Relaxed),
        })
    }

    pub(crate) fn reset(&self) {
        self.total.store(0, Relaxed);
        self.completed.store(0, Relaxed);
        self.cancelled.store(0, Relaxed);
        self.aborted.store(0, Relaxed);
        self.token_requests.store(0, Relaxed);
        for c in &self.formats {
            c.store(0, Relaxed);
        }
        self.paths.clear();
        self.fail_counters.clear();
        self.recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// Per-path counters: lookups of known paths only take the read lock.
#[derive(Default)]
struct PathCounters {
    map: RwLock<HashMap<Box<str>, AtomicU64>>,
}

impl PathCounters {
    /// Increment the counter of `path`, returning its previous value.
    fn incr(&self, path: &str) -> u64 {
        {
            let map = self.map.read().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = map.get(path) {
                return c.fetch_add(1, Relaxed);
            }
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        map.entry(Box::from(path))
            .or_insert_with(|| AtomicU64::new(0))
            .fetch_add(1, Relaxed)
    }

    fn snapshot(&self) -> Vec<(String, u64)> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<(String, u64)> = map
            .iter()
            .map(|(k, c)| (k.to_string(), c.load(Relaxed)))
            .collect();
        v.sort_unstable();
        v
    }

    fn clear(&self) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// How a tracked request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The response was fully produced.
    Completed,
    /// The mock ended the stream on purpose (`drop_after`, `stream_error`).
    Aborted,
}

/// Tracks one in-flight generation request; dropping it unfinished counts as cancelled.
pub(crate) struct RequestGuard {
    state: Arc<State>,
    done: bool,
}

impl RequestGuard {
    pub(crate) fn finish(&mut self, outcome: Outcome) {
        if self.done {
            return;
        }
        self.done = true;
        let counter = match outcome {
            Outcome::Completed => &self.state.completed,
            Outcome::Aborted => &self.state.aborted,
        };
        counter.fetch_add(1, Relaxed);
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if !self.done {
            self.state.cancelled.fetch_add(1, Relaxed);
        }
        self.state.inflight.fetch_sub(1, Relaxed);
    }
}
