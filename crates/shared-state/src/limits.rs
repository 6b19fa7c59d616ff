//! Per-virtual-key limits and budget reservations shared by every gateway replica
//! through Redis, with one round trip per request.
//!
//! [`RedisLimits::admit`] checks a key's requests per minute, tokens per minute,
//! concurrency and budget and, when all pass, counts the request, its estimated tokens,
//! an in-flight slot and its worst-case cost as a reservation, atomically, in one Lua
//! script (`limits.lua`, run with `EVALSHA`; loaded again on `NOSCRIPT`).
//! [`RedisLimits::settle`] ends an admitted request in one more script: frees the slot
//! and the reservation, books the actual cost and corrects the token count.
//!
//! # Model
//!
//! - **Windows.** RPM and TPM use a sliding minute made of two fixed minutes: the count
//!   of the current minute plus the previous minute's weighted by the share of it the
//!   last 60 s still cover (`cur + ⌊prev · (60 000 − ms_into_minute) / 60 000⌋`), the
//!   same approximation as the gateway's in-process limits. Two integer counters per
//!   key and minute, whatever the limit, with a TTL of three minutes; a sorted set of
//!   timestamps would be exact for RPM but costs memory per request and cannot sum
//!   tokens. The estimate assumes the previous minute's traffic was spread evenly.
//! - **Concurrency and reservations.** Each admitted request holds a lease: a member of
//!   a sorted set scored by its expiry ([`Options::lease`], 10 minutes) plus a record of
//!   what it reserved. `settle` removes it by request id, so a second settle releases
//!   nothing twice. A lease not settled in time (a crashed replica, a lost reply) gives
//!   its slot and reservation back by itself: every call first expires the leases that
//!   ran out. The reserved amount belongs to the key, not to a period: it is what the
//!   requests in flight may still cost, counted against whichever period is current.
//! - **Money** is stored as integer micro-dollars (`round(usd · 10⁶)`), so sums and
//!   the check `spent + reserved + reserve ≤ budget` are exact. The spent counter is
//!   per key and budget period; it expires an hour after the period ends (a period
//!   ending at `u64::MAX` never does). [`RedisLimits::seed_spend`] loads the database's
//!   figure into it.
//! - **Time** is the caller's `now_ms` (replicas are assumed to agree on the clock to
//!   well within a minute).
//!
//! Keys, all of one virtual key under one hash tag (so they share a cluster slot):
//! `{ns}:limits:{<key id>}:` followed by `r:<minute>`, `t:<minute>` (requests and
//! tokens per minute since the epoch), `leases`, `held`, `reserved` and
//! `spent:<period start ms>`.
//!
//! # Threads and failures
//!
//! A `redis` multiplexed connection spawns its I/O driver on the runtime that opens it
//! and only works while that runtime runs: awaited from another current-thread runtime
//! it stalls whenever the opening thread is busy, and dies with it. So the connection
//! lives on a background thread with its own current-thread runtime. Calls build their
//! arguments on the caller's thread, hand the job over a bounded channel and await a
//! oneshot reply, which works from any runtime. Against a local Redis (release build,
//! test `round_trip_cost`) an admission takes about 50 µs at the median, of which the
//! hand-over is 10–20 µs; the same `EVALSHA` on a connection of the caller's own
//! runtime takes about 40 µs.
//!
//! Every call is bounded by [`Options::command_timeout`] (250 ms), queueing and a
//! `NOSCRIPT` reload included, and enforced on the background thread (so the caller's
//! runtime needs no timer). When Redis is unreachable, calls fail at once with
//! [`Error::NotConnected`] while the thread reconnects with backoff; the gateway then
//! falls back to per-process limits. An admission whose reply never reaches its caller
//! (the caller gave up, or the call timed out) is released again right away, on the
//! same connection, instead of holding its slot until the lease runs out.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ErrorKind, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::protocol;
use crate::worker::Backoff;

const SCRIPT: &str = include_str!("limits.lua");
const MINUTE_MS: u64 = 60_000;
/// Window counters outlive the minute after theirs.
const WINDOW_TTL_MS: u64 = 3 * MINUTE_MS;
/// The spent counter outlives its period by this much.
const SPENT_GRACE_MS: u64 = 3_600_000;
/// Suggested wait when in-flight requests hold the slots or the budget.
const BUSY_RETRY_MS: u64 = 1_000;
/// Money and token amounts are capped here, far below 2^53 (exact in Lua numbers).
const MAX_AMOUNT: u64 = 1 << 50;
/// Longer TTLs are not set (the key simply lives on).
const MAX_TTL_MS: u64 = 1 << 50;

/// A key's limits, as configured; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyLimits {
    /// Requests per sliding minute.
    pub rpm: Option<u64>,
    /// Tokens (estimated at admission, corrected at settlement) per sliding minute.
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    pub max_concurrency: Option<u64>,
    /// Budget for the period, in US dollars (rounded to micro-dollars; negative or NaN
    /// counts as zero).
    pub budget_usd: Option<f64>,
    /// Start of the budget period containing now, in unix ms (names the spent counter).
    pub period_start_ms: u64,
    /// End of that period (exclusive), in unix ms; `u64::MAX` for a period that never
    /// ends.
    pub period_end_ms: u64,
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ask<'a> {
    /// Estimated tokens: prompt plus maximum output.
    pub tokens: u64,
    /// Worst-case cost in US dollars, reserved until settlement.
    pub reserve_usd: f64,
    /// Unique per request; names its slot and reservation until settlement.
    pub request_id: &'a str,
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    Rpm,
    Tpm,
    Concurrency,
    Budget,
}

/// The outcome of [`RedisLimits::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Admitted and counted; must be settled exactly once.
    Allowed {
        /// Requests left in the window after this one (`None`: no RPM limit).
        remaining_requests: Option<u64>,
        /// Tokens left in the window after this one's estimate (`None`: no TPM limit).
        remaining_tokens: Option<u64>,
        /// Milliseconds until what the windows count now has slid out of them
        /// entirely (0 with neither limit).
        reset_ms: u64,
    },
    /// Refused; nothing was counted.
    Denied {
        reason: DenyReason,
        /// When to try again: for RPM and TPM the exact time at which the request
        /// would fit if nothing else is counted meanwhile; for concurrency, and for a
        /// budget held by reservations of requests in flight, a short fixed hint
        /// (1 s); for a budget spent, the end of the period (`u64::MAX`-ish for a
        /// period that never ends). `u64::MAX` when the request can never fit (a limit
        /// of 0).
        retry_after_ms: u64,
        /// The limit: requests, tokens, requests in flight, or micro-dollars for the
        /// budget.
        limit: u64,
        /// What is left of it now, in the same unit (budget: minus reservations).
        remaining: u64,
    },
}

impl Admission {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Admission::Allowed { .. })
    }
}

/// The outcome of [`RedisLimits::settle`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settlement {
    /// The request still held its slot and reservation, and they were freed (false
    /// when its lease had run out, or it had been settled already).
    pub released: bool,
    /// The key's spend for the period afterwards, in US dollars.
    pub spent_usd: f64,
}

/// Why a call failed. Except for the first three (from [`RedisLimits::start`]) and
/// [`Error::InvalidInput`], the gateway should fall back to per-process limits.
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
    #[error("the shared-limits namespace must not be empty")]
    EmptyNamespace,
    /// The background runtime or thread could not be created.
    #[error("could not start the shared-limits thread: {0}")]
    Thread(#[source] std::io::Error),
    /// An empty key id or request id.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// Not connected to Redis (yet, or any more); reconnecting in the background.
    #[error("Redis is not connected")]
    NotConnected,
    /// No answer within the command timeout.
    #[error("Redis did not answer in time")]
    Timeout,
    /// Too many calls waiting for the background thread.
    #[error("too many Redis calls queued")]
    Overloaded,
    /// The handle is shutting down.
    #[error("shared limits stopped")]
    Stopped,
    /// The request id is already in flight for this key.
    #[error("request id already admitted and not settled")]
    DuplicateRequest,
    /// Redis answered with an error, or the connection failed.
    #[error("Redis error: {0}")]
    Redis(String),
    /// Redis answered something the script does not return.
    #[error("unexpected reply from the limits script: {0}")]
    Protocol(String),
}

/// Tuning knobs; [`Options::default`] suits production.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bound on one call, from the caller's hand-over to the reply.
    pub command_timeout: Duration,
    /// Time allowed to open the connection and load the script.
    pub connect_timeout: Duration,
    /// How long an unsettled admission holds its slot and reservation.
    pub lease: Duration,
    /// Calls that may wait for the background thread; beyond, [`Error::Overloaded`].
    pub queue_capacity: usize,
    /// The first delay before reconnecting; doubles per failed attempt.
    pub min_backoff: Duration,
    /// The longest delay between reconnection attempts.
    pub max_backoff: Duration,
    /// How long [`RedisLimits::shutdown`] (and drop) waits for the thread.
    pub shutdown_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            command_timeout: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(1),
            lease: Duration::from_secs(600),
            queue_capacity: 4096,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(2),
        }
    }
}

/// Dollars to integer micro-dollars: rounded to the nearest, negative or NaN as 0,
/// capped at 2^50.
pub fn usd_to_micros(usd: f64) -> u64 {
    if usd.is_nan() || usd <= 0.0 {
        return 0;
    }
    // `as` saturates; the cap keeps every sum exact in the script.
    ((usd * 1e6).round() as u64).min(MAX_AMOUNT)
}

/// Integer micro-dollars to dollars.
pub fn micros_to_usd(micros: u64) -> f64 {
    micros as f64 / 1e6
}

/// Limits and budget reservations shared between replicas through Redis. See the
/// module docs.
///
/// `Send + Sync`: share one per process (e.g. in an `Arc`) across worker threads and
/// their runtimes.
pub struct RedisLimits {
    tx: Option<mpsc::Sender<Job>>,
    shared: Arc<Shared>,
    prefix: String,
    lease_ms: u64,
    command_timeout: Duration,
    shutdown_timeout: Duration,
    thread: Option<JoinHandle<()>>,
}

impl RedisLimits {
    /// Starts the background thread with default [`Options`]; it connects at once.
    /// Returns `Ok` even when Redis is unreachable (calls fail with
    /// [`Error::NotConnected`] until it is); fails only on a malformed URL, an empty
    /// namespace or when the thread cannot be created.
    pub fn start(redis_url: &str, namespace: &str) -> Result<RedisLimits, Error> {
        Self::start_with(redis_url, namespace, Options::default())
    }

    /// [`RedisLimits::start`] with explicit [`Options`].
    pub fn start_with(
        redis_url: &str,
        namespace: &str,
        options: Options,
    ) -> Result<RedisLimits, Error> {
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
        epoch();
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let shared = Arc::new(Shared::default());
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let supervisor = Supervisor {
            client,
            jobs: rx,
            events_tx,
            events_rx,
            shared: Arc::clone(&shared),
            backoff: Backoff::new(options.min_backoff, options.max_backoff),
            live: None,
            generation: 0,
            connecting: false,
            retry_at: Instant::now(),
            in_outage: false,
            ever_connected: false,
            url_for_logs,
            connect_timeout: options.connect_timeout,
            command_timeout: options.command_timeout,
        };
        let exit_flag = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("shared-limits".to_owned())
            .spawn(move || {
                let _exit = ExitGuard(exit_flag);
                runtime.block_on(supervisor.run());
            })
            .map_err(Error::Thread)?;
        Ok(RedisLimits {
            tx: Some(tx),
            shared,
            prefix: format!("{namespace}:limits:"),
            lease_ms: duration_ms(options.lease).clamp(1, MAX_TTL_MS),
            command_timeout: options.command_timeout,
            shutdown_timeout: options.shutdown_timeout,
            thread: Some(thread),
        })
    }

    /// Checks every limit of `key_id` and, if all pass, counts the request, its
    /// tokens, a slot and its reservation, atomically. An `Allowed` request must be
    /// settled exactly once with [`RedisLimits::settle`]. With no limit configured at
    /// all it is allowed without a round trip (settling it still books its cost).
    pub async fn admit(
        &self,
        key_id: &str,
        limits: &KeyLimits,
        ask: &Ask<'_>,
        now_ms: u64,
    ) -> Result<Admission, Error> {
        check_ids(key_id, ask.request_id)?;
        if limits.rpm.is_none()
            && limits.tpm.is_none()
            && limits.max_concurrency.is_none()
            && limits.budget_usd.is_none()
        {
            return Ok(Admission::Allowed {
                remaining_requests: None,
                remaining_tokens: None,
                reset_ms: 0,
            });
        }
        let keys = self.keys(key_id, limits.period_start_ms, now_ms);
        let args = vec![
            "admit".to_owned(),
            now_ms.to_string(),
            ask.request_id.to_owned(),
            opt_arg(limits.rpm),
            opt_arg(limits.tpm),
            opt_arg(limits.max_concurrency),
            opt_arg(limits.budget_usd.map(usd_to_micros)),
            ask.tokens.min(MAX_AMOUNT).to_string(),
            usd_to_micros(ask.reserve_usd).to_string(),
            self.lease_ms.to_string(),
            WINDOW_TTL_MS.to_string(),
            (self.lease_ms.saturating_add(MINUTE_MS)).to_string(),
            spent_ttl_ms(limits.period_end_ms, now_ms).to_string(),
        ];
        // Releases the admission if its reply never reaches this caller.
        let undo = Call {
            keys: keys.clone(),
            args: settle_args(ask.request_id, limits, ask.tokens, 0, 0, now_ms),
        };
        let reply = self.call(Call { keys, args }, Some(undo)).await?;
        parse_admission(&reply, limits.period_end_ms, now_ms)
    }

    /// Ends an admitted request: frees its slot and reservation (if its lease has not
    /// run out), adds `actual_usd` to the period's spend and corrects the TPM window by
    /// `actual_tokens − ask.tokens`. `ask` is the one the request was admitted with;
    /// `limits` and `now_ms` are current.
    pub async fn settle(
        &self,
        key_id: &str,
        limits: &KeyLimits,
        ask: &Ask<'_>,
        actual_tokens: u64,
        actual_usd: f64,
        now_ms: u64,
    ) -> Result<Settlement, Error> {
        check_ids(key_id, ask.request_id)?;
        let keys = self.keys(key_id, limits.period_start_ms, now_ms);
        let args = settle_args(
            ask.request_id,
            limits,
            ask.tokens,
            actual_tokens,
            usd_to_micros(actual_usd),
            now_ms,
        );
        let reply = self.call(Call { keys, args }, None).await?;
        match ints(&reply)?.as_slice() {
            [released, spent] => Ok(Settlement {
                released: *released == 1,
                spent_usd: micros_to_usd(non_negative(*spent)),
            }),
            other => Err(Error::Protocol(format!("settle returned {other:?}"))),
        }
    }

    /// Loads the database's spend for the period: sets the counter when it is absent,
    /// or raises it when it is lower (Redis lost increments, e.g. in an outage); never
    /// lowers it, since Redis is ahead of the database's batched flushes. Returns
    /// whether it changed. The counter's TTL is set by the next admission or
    /// settlement, which know the period's end.
    pub async fn seed_spend(
        &self,
        key_id: &str,
        period_start_ms: u64,
        spent_usd: f64,
    ) -> Result<bool, Error> {
        check_ids(key_id, "-")?;
        let call = Call {
            keys: vec![self.spent_key(key_id, period_start_ms)],
            args: vec!["seed".to_owned(), usd_to_micros(spent_usd).to_string()],
        };
        let reply = self.call(call, None).await?;
        match ints(&reply)?.as_slice() {
            [changed, _] => Ok(*changed == 1),
            other => Err(Error::Protocol(format!("seed returned {other:?}"))),
        }
    }

    /// The spend counter of `key_id` for the period, in US dollars; `None` when absent
    /// (never seeded nor settled, or expired).
    pub async fn spent_usd(
        &self,
        key_id: &str,
        period_start_ms: u64,
    ) -> Result<Option<f64>, Error> {
        check_ids(key_id, "-")?;
        let call = Call {
            keys: vec![self.spent_key(key_id, period_start_ms)],
            args: vec!["spent".to_owned()],
        };
        let reply = self.call(call, None).await?;
        match ints(&reply)?.as_slice() {
            [0, _] => Ok(None),
            [_, micros] => Ok(Some(micros_to_usd(non_negative(*micros)))),
            other => Err(Error::Protocol(format!("spent returned {other:?}"))),
        }
    }

    /// Whether the connection is up (calls may still fail).
    pub fn connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }

    /// Stops the background thread; calls in flight fail with [`Error::Stopped`].
    /// Waits at most [`Options::shutdown_timeout`], then detaches the thread.
    /// Idempotent; drop calls it.
    pub fn shutdown(&mut self) {
        self.tx = None;
        let Some(handle) = self.thread.take() else {
            return;
        };
        let deadline = std::time::Instant::now() + self.shutdown_timeout;
        while !handle.is_finished() {
            if std::time::Instant::now() >= deadline {
                tracing::warn!(
                    "shared limits: background thread did not stop in time; detaching it"
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if handle.join().is_err() {
            tracing::error!("shared limits: background thread panicked");
        }
    }

    async fn call(&self, call: Call, undo: Option<Call>) -> Result<Value, Error> {
        let Some(tx) = &self.tx else {
            return Err(Error::Stopped);
        };
        let (reply, answer) = oneshot::channel();
        let job = Job {
            call,
            undo,
            deadline: Instant::now() + self.command_timeout,
            reply,
        };
        tx.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Error::Overloaded,
            mpsc::error::TrySendError::Closed(_) => Error::Stopped,
        })?;
        answer.await.map_err(|_| Error::Stopped)?
    }

    fn base(&self, key_id: &str) -> String {
        format!("{}{{{key_id}}}:", self.prefix)
    }

    fn spent_key(&self, key_id: &str, period_start_ms: u64) -> String {
        format!("{}spent:{period_start_ms}", self.base(key_id))
    }

    fn keys(&self, key_id: &str, period_start_ms: u64, now_ms: u64) -> Vec<String> {
        let base = self.base(key_id);
        let minute = now_ms / MINUTE_MS;
        let previous = minute.saturating_sub(1);
        vec![
            format!("{base}r:{minute}"),
            format!("{base}r:{previous}"),
            format!("{base}t:{minute}"),
            format!("{base}t:{previous}"),
            format!("{base}leases"),
            format!("{base}held"),
            format!("{base}reserved"),
            format!("{base}spent:{period_start_ms}"),
        ]
    }
}

impl Drop for RedisLimits {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for RedisLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimits")
            .field("prefix", &self.prefix)
            .field("connected", &self.connected())
            .field("running", &self.thread.is_some())
            .finish()
    }
}

fn check_ids(key_id: &str, request_id: &str) -> Result<(), Error> {
    if key_id.is_empty() {
        return Err(Error::InvalidInput("empty key id"));
    }
    if request_id.is_empty() {
        return Err(Error::InvalidInput("empty request id"));
    }
    Ok(())
}

fn opt_arg(limit: Option<u64>) -> String {
    match limit {
        Some(v) => v.min(MAX_AMOUNT).to_string(),
        None => "-1".to_owned(),
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// TTL for the spent counter: until an hour past the period's end; 0 (none) for a
/// period that never ends.
fn spent_ttl_ms(period_end_ms: u64, now_ms: u64) -> u64 {
    let ttl = period_end_ms
        .saturating_sub(now_ms)
        .saturating_add(SPENT_GRACE_MS);
    if ttl > MAX_TTL_MS {
        0
    } else {
        ttl
    }
}

fn settle_args(
    request_id: &str,
    limits: &KeyLimits,
    est_tokens: u64,
    actual_tokens: u64,
    actual_micros: u64,
    now_ms: u64,
) -> Vec<String> {
    vec![
        "settle".to_owned(),
        now_ms.to_string(),
        request_id.to_owned(),
        opt_arg(limits.tpm),
        est_tokens.min(MAX_AMOUNT).to_string(),
        actual_tokens.min(MAX_AMOUNT).to_string(),
        actual_micros.to_string(),
        spent_ttl_ms(limits.period_end_ms, now_ms).to_string(),
        WINDOW_TTL_MS.to_string(),
    ]
}

fn non_negative(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn ints(reply: &Value) -> Result<Vec<i64>, Error> {
    redis::from_redis_value::<Vec<i64>>(reply).map_err(|e| Error::Protocol(e.to_string()))
}

fn parse_admission(reply: &Value, period_end_ms: u64, now_ms: u64) -> Result<Admission, Error> {
    let v = ints(reply)?;
    let opt = |x: i64| u64::try_from(x).ok();
    let never = |x: i64| u64::try_from(x).unwrap_or(u64::MAX);
    match v.as_slice() {
        [1, requests, tokens, reset] => Ok(Admission::Allowed {
            remaining_requests: opt(*requests),
            remaining_tokens: opt(*tokens),
            reset_ms: non_negative(*reset),
        }),
        [0, reason, retry, limit, remaining] => {
            let (reason, retry_after_ms) = match reason {
                1 => (DenyReason::Rpm, never(*retry)),
                2 => (DenyReason::Tpm, never(*retry)),
                3 => (DenyReason::Concurrency, BUSY_RETRY_MS),
                4 if *retry == 1 => (DenyReason::Budget, period_end_ms.saturating_sub(now_ms)),
                4 => (DenyReason::Budget, BUSY_RETRY_MS),
                _ => return Err(Error::Protocol(format!("admit returned {v:?}"))),
            };
            Ok(Admission::Denied {
                reason,
                retry_after_ms,
                limit: non_negative(*limit),
                remaining: non_negative(*remaining),
            })
        }
        [-1] => Err(Error::DuplicateRequest),
        _ => Err(Error::Protocol(format!("admit returned {v:?}"))),
    }
}

/// Whether a script reply is an admission that was allowed.
fn is_allowed(reply: &Value) -> bool {
    matches!(reply, Value::Array(items) if items.len() == 4 && matches!(items[0], Value::Int(1)))
}

// ---------------------------------------------------------------------------------
// The background side.

#[derive(Debug, Default)]
struct Shared {
    connected: AtomicBool,
    /// 1 + nanoseconds since `epoch()` of the last successful reply; 0 = none yet.
    last_ok: AtomicU64,
}

impl Shared {
    fn mark_ok(&self) {
        let now = since_epoch(Instant::now()).saturating_add(1);
        self.last_ok.fetch_max(now, Ordering::Relaxed);
    }

    /// Whether a reply succeeded at or after `t`.
    fn ok_since(&self, t: Instant) -> bool {
        self.last_ok.load(Ordering::Relaxed) > since_epoch(t)
    }
}

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn since_epoch(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

/// Marks the state disconnected however the background thread ends.
struct ExitGuard(Arc<Shared>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.0.connected.store(false, Ordering::Release);
    }
}

#[derive(Debug, Clone)]
struct Call {
    keys: Vec<String>,
    args: Vec<String>,
}

struct Job {
    call: Call,
    /// Run when an allowed admission cannot be delivered.
    undo: Option<Call>,
    deadline: Instant,
    reply: oneshot::Sender<Result<Value, Error>>,
}

#[derive(Clone)]
struct Live {
    conn: MultiplexedConnection,
    sha: Arc<str>,
    generation: u64,
}

enum Event {
    Connected(u64, Result<(MultiplexedConnection, String), String>),
    Lost(u64, String),
}

struct Supervisor {
    client: redis::Client,
    jobs: mpsc::Receiver<Job>,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: mpsc::UnboundedReceiver<Event>,
    shared: Arc<Shared>,
    backoff: Backoff,
    live: Option<Live>,
    generation: u64,
    connecting: bool,
    retry_at: Instant,
    in_outage: bool,
    ever_connected: bool,
    url_for_logs: String,
    connect_timeout: Duration,
    command_timeout: Duration,
}

impl Supervisor {
    async fn run(mut self) {
        loop {
            let idle = self.live.is_none() && !self.connecting;
            tokio::select! {
                biased;
                Some(event) = self.events_rx.recv() => self.on_event(event),
                job = self.jobs.recv() => match job {
                    Some(job) => self.dispatch(job),
                    None => return,
                },
                () = tokio::time::sleep_until(self.retry_at), if idle => self.start_connecting(),
            }
        }
    }

    fn dispatch(&self, job: Job) {
        let Some(live) = &self.live else {
            let _ = job.reply.send(Err(Error::NotConnected));
            return;
        };
        tokio::spawn(run_job(
            live.clone(),
            job,
            Arc::clone(&self.shared),
            self.events_tx.clone(),
            self.command_timeout,
        ));
    }

    fn start_connecting(&mut self) {
        self.connecting = true;
        self.generation += 1;
        let generation = self.generation;
        let client = self.client.clone();
        let events = self.events_tx.clone();
        let connect_timeout = self.connect_timeout;
        let command_timeout = self.command_timeout;
        tokio::spawn(async move {
            let result = connect(&client, connect_timeout, command_timeout).await;
            let _ = events.send(Event::Connected(generation, result));
        });
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected(generation, result) => {
                if generation != self.generation {
                    return;
                }
                self.connecting = false;
                match result {
                    Ok((conn, sha)) => {
                        self.live = Some(Live {
                            conn,
                            sha: sha.into(),
                            generation,
                        });
                        self.backoff.reset();
                        self.mark_up();
                    }
                    Err(e) => self.mark_down(&e),
                }
            }
            Event::Lost(generation, e) => {
                if self.live.as_ref().map(|l| l.generation) == Some(generation) {
                    self.live = None;
                    self.mark_down(&e);
                }
            }
        }
    }

    fn mark_up(&mut self) {
        self.shared.connected.store(true, Ordering::Release);
        if self.in_outage {
            tracing::info!(
                redis = %self.url_for_logs,
                "shared limits: Redis reachable again; limits are shared across replicas again"
            );
        } else if !self.ever_connected {
            tracing::debug!(redis = %self.url_for_logs, "shared limits: connected to Redis");
        }
        self.in_outage = false;
        self.ever_connected = true;
    }

    fn mark_down(&mut self, error: &str) {
        self.shared.connected.store(false, Ordering::Release);
        self.retry_at = Instant::now() + self.backoff.next_delay();
        if self.in_outage {
            tracing::debug!(redis = %self.url_for_logs, error, "shared limits: Redis still unavailable");
        } else {
            self.in_outage = true;
            tracing::warn!(
                redis = %self.url_for_logs,
                error,
                "shared limits: Redis unavailable; limits are per-process until it is back"
            );
        }
    }
}

async fn connect(
    client: &redis::Client,
    connect_timeout: Duration,
    command_timeout: Duration,
) -> Result<(MultiplexedConnection, String), String> {
    // No response timeout of the connection's own: each call's deadline governs.
    let config = AsyncConnectionConfig::new().set_connection_timeout(connect_timeout);
    let work = async {
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let sha = load_script(&mut conn).await?;
        Ok::<_, redis::RedisError>((conn, sha))
    };
    match tokio::time::timeout(connect_timeout + command_timeout, work).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out connecting".to_owned()),
    }
}

async fn load_script(conn: &mut MultiplexedConnection) -> redis::RedisResult<String> {
    redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(SCRIPT)
        .query_async(conn)
        .await
}

async fn evalsha(
    conn: &mut MultiplexedConnection,
    sha: &str,
    call: &Call,
) -> redis::RedisResult<Value> {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(sha)
        .arg(call.keys.len())
        .arg(&call.keys)
        .arg(&call.args);
    match cmd.query_async(conn).await {
        Err(e) if e.kind() == ErrorKind::NoScriptError => {
            // The script cache was flushed (restart, failover, SCRIPT FLUSH).
            load_script(conn).await?;
            cmd.query_async(conn).await
        }
        other => other,
    }
}

fn is_connection_fault(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

async fn run_job(
    mut live: Live,
    job: Job,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<Event>,
    command_timeout: Duration,
) {
    let Job {
        call,
        undo,
        deadline,
        reply,
    } = job;
    let started = Instant::now();
    if started >= deadline {
        let _ = reply.send(Err(Error::Timeout));
        return;
    }
    let outcome =
        match tokio::time::timeout_at(deadline, evalsha(&mut live.conn, &live.sha, &call)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) if !e.is_timeout() => Err(Some(e)),
            Ok(Err(_)) | Err(_) => Err(None),
        };
    match outcome {
        Ok(value) => {
            shared.mark_ok();
            let allowed = is_allowed(&value);
            if reply.send(Ok(value)).is_err() && allowed {
                if let Some(undo) = undo {
                    release(&mut live, &undo, command_timeout).await;
                }
            }
        }
        Err(Some(e)) => {
            if is_connection_fault(&e) {
                let _ = events.send(Event::Lost(live.generation, e.to_string()));
            }
            let _ = reply.send(Err(Error::Redis(e.to_string())));
        }
        Err(None) => {
            // One slow script while others get answers is no reason to reconnect.
            if !shared.ok_since(started) {
                let _ = events.send(Event::Lost(live.generation, "timed out".to_owned()));
            }
            let _ = reply.send(Err(Error::Timeout));
            if let Some(undo) = undo {
                // Behind the admission on the same connection: it releases the
                // admission if that went through after all, and does nothing otherwise.
                release(&mut live, &undo, command_timeout).await;
            }
        }
    }
}

/// Settles an admission nobody will hear of, with nothing used.
async fn release(live: &mut Live, undo: &Call, limit: Duration) {
    match tokio::time::timeout(limit, evalsha(&mut live.conn, &live.sha, undo)).await {
        Ok(Ok(_)) => tracing::debug!("shared limits: released an undelivered admission"),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "shared limits: could not release an undelivered admission; its lease will run out")
        }
        Err(_) => tracing::debug!(
            "shared limits: releasing an undelivered admission timed out; its lease will run out"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_dollars_round_to_the_nearest() {
        assert_eq!(usd_to_micros(0.1), 100_000);
        assert_eq!(usd_to_micros(0.3), 300_000);
        assert_eq!(usd_to_micros(1e-7), 0);
        assert_eq!(usd_to_micros(6e-7), 1);
        assert_eq!(usd_to_micros(12.345_678_9), 12_345_679);
        assert_eq!(usd_to_micros(-1.0), 0);
        assert_eq!(usd_to_micros(f64::NAN), 0);
        assert_eq!(usd_to_micros(f64::INFINITY), MAX_AMOUNT);
        assert_eq!(micros_to_usd(300_000), 0.3);
        // 0.1 + 0.2 != 0.3 in floats, but not in micro-dollars.
        assert_eq!(micros_to_usd(usd_to_micros(0.1) + usd_to_micros(0.2)), 0.3);
    }

    #[test]
    fn spent_ttl_covers_the_period_and_an_hour() {
        assert_eq!(spent_ttl_ms(10_000, 4_000), 6_000 + SPENT_GRACE_MS);
        assert_eq!(spent_ttl_ms(u64::MAX, 4_000), 0);
        assert_eq!(spent_ttl_ms(1_000, 4_000), SPENT_GRACE_MS);
    }

    #[test]
    fn replies_parse() {
        let arr = |v: &[i64]| Value::Array(v.iter().map(|x| Value::Int(*x)).collect());
        assert_eq!(
            parse_admission(&arr(&[1, 4, -1, 60_000]), 0, 0).ok(),
            Some(Admission::Allowed {
                remaining_requests: Some(4),
                remaining_tokens: None,
                reset_ms: 60_000
            })
        );
        assert_eq!(
            parse_admission(&arr(&[0, 4, 1, 10_000_000, 0]), 90_000, 30_000).ok(),
            Some(Admission::Denied {
                reason: DenyReason::Budget,
                retry_after_ms: 60_000,
                limit: 10_000_000,
                remaining: 0
            })
        );
        assert_eq!(
            parse_admission(&arr(&[0, 1, -1, 0, 0]), 0, 0).ok(),
            Some(Admission::Denied {
                reason: DenyReason::Rpm,
                retry_after_ms: u64::MAX,
                limit: 0,
                remaining: 0
            })
        );
        assert!(matches!(
            parse_admission(&arr(&[-1]), 0, 0),
            Err(Error::DuplicateRequest)
        ));
        assert!(matches!(
            parse_admission(&arr(&[7]), 0, 0),
            Err(Error::Protocol(_))
        ));
        assert!(is_allowed(&arr(&[1, 0, 0, 0])));
        assert!(!is_allowed(&arr(&[1, 0])));
        assert!(!is_allowed(&arr(&[0, 1, 0, 0, 0])));
    }
}
