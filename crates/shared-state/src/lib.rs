//! State shared between gateway replicas through Redis, kept off the request path.
//!
//! [`SharedCooldowns`] lets several gateway processes agree on deployment cooldowns.
//! The request path only ever calls [`SharedCooldowns::announce`], which puts the event
//! on a bounded queue with `try_send` and returns at once. One background thread with its
//! own current-thread tokio runtime does all the Redis work:
//!
//! - keeps one command connection and one pub/sub connection, reconnecting with capped,
//!   jittered exponential backoff;
//! - on every (re)connect subscribes to `{namespace}:cooldowns`, then loads the live
//!   cooldown keys `{namespace}:cooldown:{label}` (value = until, unix ms; `PX` TTL =
//!   time left) and reports each through `on_remote`;
//! - reports every message published by *other* instances through `on_remote`;
//! - writes and publishes this process's announcements.
//!
//! Message format on the channel: `{instance_id} {until_ms} {label}` (UTF-8, single
//! spaces; the label is everything after the second space, so it may contain spaces,
//! `/` and `:`). `until_ms == 0` means the cooldown was cleared.
//!
//! While Redis is unreachable everything degrades to per-process behaviour: announcements
//! are kept (latest per label) and replayed when Redis is back, remote state is re-read on
//! reconnect, and one warning is logged per outage.
//!
//! [`RedisLimits`] (module [`limits`]) enforces per-virtual-key rate, concurrency and
//! budget limits across replicas, one Redis round trip per request.

pub mod limits;
mod protocol;
mod worker;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

pub use limits::{
    Admission, Ask, DenyReason, Error as LimitsError, KeyLimits, Options as LimitsOptions,
    RedisLimits, Settlement,
};

/// Called on the background thread with `(deployment label, cooldown until in unix ms)`
/// for each cooldown learnt from another replica; `0` means the cooldown was cleared.
/// It runs on the shared-state thread, so it must be quick and must not block.
pub type RemoteCallback = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// Why [`SharedCooldowns::start`] failed. Redis being unreachable is not an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL could not be parsed as a Redis connection URL.
    #[error("invalid Redis URL {url}: {reason}")]
    InvalidUrl {
        /// The URL with any password hidden.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// The namespace was empty.
    #[error("the shared-state namespace must not be empty")]
    EmptyNamespace,
    /// The background runtime or thread could not be created.
    #[error("could not start the shared-state thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Tuning knobs; [`Options::default`] suits production.
#[derive(Debug, Clone)]
pub struct Options {
    /// Announcements that may wait for the background thread; beyond that they are
    /// dropped and counted in [`SharedCooldowns::dropped`]. At least 1.
    pub queue_capacity: usize,
    /// Time allowed to open a connection (each of the two).
    pub connect_timeout: Duration,
    /// Time allowed for one Redis command or pipeline.
    pub command_timeout: Duration,
    /// How often an idle connection is checked with `PING`.
    pub health_check_interval: Duration,
    /// The first delay before reconnecting; doubles per failed attempt.
    pub min_backoff: Duration,
    /// The longest delay between reconnection attempts.
    pub max_backoff: Duration,
    /// How long [`SharedCooldowns::shutdown`] (and drop) waits for the thread to finish
    /// before detaching it.
    pub shutdown_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            queue_capacity: 1024,
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(2),
            health_check_interval: Duration::from_secs(5),
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(2),
        }
    }
}

/// Counters and flags shared by the handle and the background thread.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) connected: AtomicBool,
    pub(crate) dropped: AtomicU64,
}

impl Shared {
    pub(crate) fn count_dropped(&self) {
        if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::warn!(
                "shared cooldowns: announcement queue full, dropping announcements (counted in dropped())"
            );
        }
    }
}

/// Cooldowns shared between replicas through Redis. See the crate docs.
///
/// `Send + Sync`: share one per process (e.g. in an `Arc`) across worker threads.
pub struct SharedCooldowns {
    tx: Option<mpsc::Sender<worker::Announcement>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    instance_id: String,
    shutdown_timeout: Duration,
}

impl SharedCooldowns {
    /// Starts the background thread with default [`Options`]. Returns `Ok` even when Redis
    /// is unreachable (the thread keeps trying); fails only on a malformed URL, an empty
    /// namespace or when the thread cannot be created.
    pub fn start(
        redis_url: &str,
        namespace: &str,
        on_remote: RemoteCallback,
    ) -> Result<SharedCooldowns, Error> {
        Self::start_with(redis_url, namespace, on_remote, Options::default())
    }

    /// [`SharedCooldowns::start`] with explicit [`Options`].
    pub fn start_with(
        redis_url: &str,
        namespace: &str,
        on_remote: RemoteCallback,
        options: Options,
    ) -> Result<SharedCooldowns, Error> {
        if namespace.is_empty() {
            return Err(Error::EmptyNamespace);
        }
        let url_for_logs = protocol::redact_url(redis_url);
        let client = redis::Client::open(redis_url).map_err(|e| Error::InvalidUrl {
            url: url_for_logs.clone(),
            reason: e.to_string(),
        })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Thread)?;

        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let shared = Arc::new(Shared::default());
        let instance_id = protocol::new_instance_id();
        let shutdown_timeout = options.shutdown_timeout;
        let worker = worker::Worker::new(worker::Setup {
            client,
            names: protocol::Names::new(namespace),
            instance_id: instance_id.clone(),
            on_remote,
            shared: Arc::clone(&shared),
            options,
            url_for_logs,
            rx,
        });

        let exit_flag = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("shared-state".to_owned())
            .spawn(move || {
                let _exit = ExitGuard(exit_flag);
                runtime.block_on(worker.run());
            })
            .map_err(Error::Thread)?;

        Ok(SharedCooldowns {
            tx: Some(tx),
            shared,
            thread: Some(thread),
            instance_id,
            shutdown_timeout,
        })
    }

    /// Shares a cooldown of `label` until `until_ms` (unix ms), or its end when
    /// `until_ms == 0` (the deployment recovered). Never blocks or awaits: when the queue
    /// is full the announcement is dropped and counted. A non-zero `until_ms` that has
    /// already passed is not shared.
    pub fn announce(&self, label: &str, until_ms: u64) {
        let Some(tx) = &self.tx else {
            self.shared.count_dropped();
            return;
        };
        let announcement = worker::Announcement {
            label: label.to_owned(),
            until_ms,
        };
        if tx.try_send(announcement).is_err() {
            self.shared.count_dropped();
        }
    }

    /// Announcements dropped because the queue was full (or the thread had stopped).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Whether Redis is connected, subscribed and the initial load is done.
    pub fn connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }

    /// This process's random instance id, as carried in its messages.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Stops the background thread: announcements already queued are still sent when
    /// Redis is connected, then the connections close. Waits at most
    /// [`Options::shutdown_timeout`], then detaches the thread. Idempotent; drop calls it.
    pub fn shutdown(&mut self) {
        self.tx = None;
        let Some(handle) = self.thread.take() else {
            return;
        };
        if handle.thread().id() == std::thread::current().id() {
            // Dropped from inside the callback: the thread ends by itself once this returns.
            return;
        }
        let deadline = Instant::now() + self.shutdown_timeout;
        while !handle.is_finished() {
            if Instant::now() >= deadline {
                tracing::warn!(
                    "shared cooldowns: background thread did not stop in time; detaching it"
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if handle.join().is_err() {
            tracing::error!("shared cooldowns: background thread panicked");
        }
    }
}

impl Drop for SharedCooldowns {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for SharedCooldowns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCooldowns")
            .field("instance_id", &self.instance_id)
            .field("connected", &self.connected())
            .field("dropped", &self.dropped())
            .field("running", &self.thread.is_some())
            .finish()
    }
}

/// Marks the state disconnected however the background thread ends.
struct ExitGuard(Arc<Shared>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.0.connected.store(false, Ordering::Release);
    }
}
