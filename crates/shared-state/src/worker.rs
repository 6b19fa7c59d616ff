//! The background side: one task on a current-thread runtime that owns the Redis
//! connections, the subscription and every write.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use redis::AsyncConnectionConfig;
use tokio::sync::mpsc;
use tokio::time::{timeout, MissedTickBehavior};

use crate::protocol::{self, Names};
use crate::{Options, RemoteCallback, Shared};

/// Labels remembered while Redis is unreachable; past that, new labels are dropped.
const MAX_PENDING: usize = 10_000;
/// Keys asked for per `SCAN` step and per `MGET`.
const SCAN_COUNT: usize = 1_000;
const MGET_CHUNK: usize = 500;

/// One event from the request path.
#[derive(Debug)]
pub(crate) struct Announcement {
    pub(crate) label: String,
    pub(crate) until_ms: u64,
}

/// Why a connection was given up.
#[derive(Debug)]
pub(crate) enum Fault {
    Redis(redis::RedisError),
    Timeout(&'static str),
    Closed,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Redis(e) => write!(f, "{e}"),
            Fault::Timeout(what) => write!(f, "timed out {what}"),
            Fault::Closed => f.write_str("connection closed"),
        }
    }
}

impl From<redis::RedisError> for Fault {
    fn from(e: redis::RedisError) -> Self {
        Fault::Redis(e)
    }
}

async fn within<T, F>(limit: Duration, what: &'static str, fut: F) -> Result<T, Fault>
where
    F: Future<Output = Result<T, redis::RedisError>>,
{
    match timeout(limit, fut).await {
        Ok(result) => result.map_err(Fault::Redis),
        Err(_) => Err(Fault::Timeout(what)),
    }
}

/// The request-path queue plus what was announced while Redis was unreachable.
struct Inbox {
    rx: mpsc::Receiver<Announcement>,
    /// Latest announcement per label not yet written to Redis.
    pending: HashMap<String, u64>,
    shared: Arc<Shared>,
}

impl Inbox {
    fn stash(&mut self, a: Announcement) {
        if self.pending.len() >= MAX_PENDING && !self.pending.contains_key(&a.label) {
            self.shared.count_dropped();
            return;
        }
        self.pending.insert(a.label, a.until_ms);
    }

    /// Drives `fut` while moving queued announcements into `pending`, so the queue
    /// never fills while Redis is away. `None` once the handle has shut down.
    async fn stash_while<F: Future>(&mut self, fut: F) -> Option<F::Output> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                biased;
                out = &mut fut => return Some(out),
                a = self.rx.recv() => match a {
                    Some(a) => self.stash(a),
                    None => return None,
                },
            }
        }
    }
}

struct Session {
    conn: MultiplexedConnection,
    sink: PubSubSink,
    stream: PubSubStream,
}

enum Ended {
    Shutdown,
    Lost(Fault),
}

pub(crate) struct Setup {
    pub(crate) client: redis::Client,
    pub(crate) names: Names,
    pub(crate) instance_id: String,
    pub(crate) on_remote: RemoteCallback,
    pub(crate) shared: Arc<Shared>,
    pub(crate) options: Options,
    pub(crate) url_for_logs: String,
    pub(crate) rx: mpsc::Receiver<Announcement>,
}

pub(crate) struct Worker {
    client: redis::Client,
    names: Names,
    instance_id: String,
    on_remote: RemoteCallback,
    shared: Arc<Shared>,
    options: Options,
    url_for_logs: String,
    inbox: Inbox,
    /// What this instance last wrote per label (key value), to recognise its own keys.
    own: HashMap<String, u64>,
    /// Live cooldowns reported through `on_remote`, to report only changes on resync.
    remote: HashMap<String, u64>,
    /// An outage has been logged and not yet recovered from.
    in_outage: bool,
    ever_connected: bool,
}

impl Worker {
    pub(crate) fn new(setup: Setup) -> Self {
        let Setup {
            client,
            names,
            instance_id,
            on_remote,
            shared,
            options,
            url_for_logs,
            rx,
        } = setup;
        Self {
            client,
            names,
            instance_id,
            on_remote,
            inbox: Inbox {
                rx,
                pending: HashMap::new(),
                shared: Arc::clone(&shared),
            },
            shared,
            options,
            url_for_logs,
            own: HashMap::new(),
            remote: HashMap::new(),
            in_outage: false,
            ever_connected: false,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut backoff = Backoff::new(self.options.min_backoff, self.options.max_backoff);
        loop {
            let attempt = self
                .inbox
                .stash_while(connect(&self.client, &self.names, &self.options))
                .await;
            let fault = match attempt {
                None => return,
                Some(Ok(mut session)) => match self.resync(&mut session).await {
                    Ok(()) => {
                        backoff.reset();
                        self.mark_up();
                        match self.serve(&mut session).await {
                            Ended::Shutdown => return,
                            Ended::Lost(fault) => fault,
                        }
                    }
                    Err(fault) => fault,
                },
                Some(Err(fault)) => fault,
            };
            self.mark_down(&fault);
            let delay = backoff.next_delay();
            if self
                .inbox
                .stash_while(tokio::time::sleep(delay))
                .await
                .is_none()
            {
                return;
            }
        }
    }

    fn mark_up(&mut self) {
        self.shared.connected.store(true, Ordering::Release);
        if self.in_outage {
            tracing::info!(
                redis = %self.url_for_logs,
                "shared cooldowns: Redis reachable again; cooldowns are shared across replicas again"
            );
        } else if !self.ever_connected {
            tracing::debug!(redis = %self.url_for_logs, "shared cooldowns: connected to Redis");
        }
        self.in_outage = false;
        self.ever_connected = true;
    }

    fn mark_down(&mut self, fault: &Fault) {
        self.shared.connected.store(false, Ordering::Release);
        if self.in_outage {
            tracing::debug!(redis = %self.url_for_logs, error = %fault, "shared cooldowns: Redis still unavailable");
        } else {
            self.in_outage = true;
            tracing::warn!(
                redis = %self.url_for_logs,
                error = %fault,
                "shared cooldowns: Redis unavailable; cooldowns are per-process until it is back"
            );
        }
    }

    /// Connected and subscribed: handles messages, announcements and health checks until
    /// the connection fails or the handle shuts down.
    async fn serve(&mut self, session: &mut Session) -> Ended {
        let mut health = tokio::time::interval(self.options.health_check_interval);
        health.set_missed_tick_behavior(MissedTickBehavior::Delay);
        health.tick().await;
        loop {
            tokio::select! {
                msg = session.stream.next() => match msg {
                    Some(msg) => self.on_message(msg.get_payload_bytes()),
                    None => return Ended::Lost(Fault::Closed),
                },
                a = self.inbox.rx.recv() => match a {
                    Some(a) => {
                        if let Err(fault) = self.publish(&mut session.conn, &a.label, a.until_ms).await {
                            self.inbox.stash(a);
                            return Ended::Lost(fault);
                        }
                    }
                    None => return Ended::Shutdown,
                },
                _ = health.tick() => {
                    self.forget_expired(protocol::now_ms());
                    if let Err(fault) = self.health_check(session).await {
                        return Ended::Lost(fault);
                    }
                }
            }
        }
    }

    /// Drops bookkeeping of cooldowns that have run out by themselves.
    fn forget_expired(&mut self, now: u64) {
        self.own.retain(|_, until| *until > now);
        self.remote.retain(|_, until| *until > now);
    }

    async fn health_check(&self, session: &mut Session) -> Result<(), Fault> {
        let limit = self.options.command_timeout;
        within(
            limit,
            "pinging Redis",
            redis::cmd("PING").query_async::<()>(&mut session.conn),
        )
        .await?;
        within(
            limit,
            "pinging the subscription",
            session.sink.ping::<redis::Value>(),
        )
        .await?;
        Ok(())
    }

    fn on_message(&mut self, payload: &[u8]) {
        let Some(msg) = protocol::decode(payload) else {
            tracing::debug!(
                payload = %String::from_utf8_lossy(payload),
                "shared cooldowns: ignoring a malformed message"
            );
            return;
        };
        if msg.instance == self.instance_id {
            return;
        }
        // Another instance wrote (or deleted) the key after us.
        self.own.remove(msg.label);
        if msg.until_ms == 0 {
            self.remote.remove(msg.label);
        } else {
            self.remote.insert(msg.label.to_owned(), msg.until_ms);
        }
        (self.on_remote)(msg.label, msg.until_ms);
    }

    /// Writes one announcement: `SET key until PX left` (or `DEL key` for a clear) and
    /// `PUBLISH`, in one pipeline.
    async fn publish(
        &mut self,
        conn: &mut MultiplexedConnection,
        label: &str,
        until_ms: u64,
    ) -> Result<(), Fault> {
        let now = protocol::now_ms();
        let key = self.names.key(label);
        let mut pipe = redis::pipe();
        if until_ms == 0 {
            pipe.cmd("DEL").arg(&key).ignore();
        } else if until_ms <= now {
            tracing::debug!(
                label,
                until_ms,
                "shared cooldowns: not sharing an expired cooldown"
            );
            return Ok(());
        } else {
            pipe.cmd("SET")
                .arg(&key)
                .arg(until_ms)
                .arg("PX")
                .arg(until_ms - now)
                .ignore();
        }
        pipe.cmd("PUBLISH")
            .arg(self.names.channel())
            .arg(protocol::encode(&self.instance_id, until_ms, label))
            .ignore();
        // A failed write may still have reached Redis (only the reply was lost), so a
        // value is taken as ours before the outcome is known; resync compares it with
        // what Redis actually holds. A clear is forgotten only once it has succeeded,
        // so that a retried clear still finds the value it has to remove.
        if until_ms != 0 {
            self.own.insert(label.to_owned(), until_ms);
        }
        within(
            self.options.command_timeout,
            "writing a cooldown",
            pipe.query_async::<()>(conn),
        )
        .await?;
        self.remote.remove(label);
        if until_ms == 0 {
            self.own.remove(label);
        }
        Ok(())
    }

    /// After (re)connecting: reads the live cooldowns, reports what changed, then writes
    /// what was announced while Redis was away.
    async fn resync(&mut self, session: &mut Session) -> Result<(), Fault> {
        let snapshot = load(&mut session.conn, &self.names, self.options.command_timeout).await?;
        let now = protocol::now_ms();
        self.forget_expired(now);

        for (label, &until) in &snapshot {
            if self.own.get(label) == Some(&until) {
                continue;
            }
            self.own.remove(label);
            if self.remote.get(label) != Some(&until) {
                self.remote.insert(label.clone(), until);
                (self.on_remote)(label, until);
            }
        }
        // Reported earlier, still in the future, but gone from Redis: cleared meanwhile.
        let cleared: Vec<String> = self
            .remote
            .keys()
            .filter(|label| !snapshot.contains_key(*label))
            .cloned()
            .collect();
        for label in cleared {
            self.remote.remove(&label);
            (self.on_remote)(&label, 0);
        }

        let pending: Vec<(String, u64)> = self.inbox.pending.drain().collect();
        let mut rest = pending.into_iter();
        while let Some((label, until)) = rest.next() {
            let theirs = snapshot.get(&label).copied();
            let ours = self.own.get(&label).copied();
            let write = if until == 0 {
                // Clear only a key that still holds what we wrote ourselves; a newer
                // cooldown from another replica stands.
                ours.is_some() && theirs == ours
            } else if until <= now {
                false
            } else {
                !matches!(theirs, Some(t) if t > until && Some(t) != ours)
            };
            if !write {
                if until == 0 {
                    self.own.remove(&label);
                }
                continue;
            }
            if let Err(fault) = self.publish(&mut session.conn, &label, until).await {
                self.inbox.pending.insert(label, until);
                self.inbox.pending.extend(rest);
                return Err(fault);
            }
        }
        Ok(())
    }
}

async fn connect(
    client: &redis::Client,
    names: &Names,
    options: &Options,
) -> Result<Session, Fault> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(options.connect_timeout)
        .set_response_timeout(options.command_timeout);
    let conn = within(
        options.connect_timeout + options.command_timeout,
        "connecting",
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await?;
    let pubsub = within(
        options.connect_timeout,
        "opening the subscription connection",
        client.get_async_pubsub(),
    )
    .await?;
    let (mut sink, stream) = pubsub.split();
    within(
        options.command_timeout,
        "subscribing",
        sink.subscribe(names.channel()),
    )
    .await?;
    Ok(Session { conn, sink, stream })
}

/// The live cooldowns in Redis: label → until (unix ms), expired ones left out.
async fn load(
    conn: &mut MultiplexedConnection,
    names: &Names,
    limit: Duration,
) -> Result<HashMap<String, u64>, Fault> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = within(
            limit,
            "scanning cooldown keys",
            redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(names.scan_pattern())
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(conn),
        )
        .await?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort_unstable();
    keys.dedup();

    let now = protocol::now_ms();
    let mut live = HashMap::new();
    for chunk in keys.chunks(MGET_CHUNK) {
        let mut mget = redis::cmd("MGET");
        for key in chunk {
            mget.arg(key.as_slice());
        }
        let values: Vec<Option<Vec<u8>>> =
            within(limit, "reading cooldown keys", mget.query_async(conn)).await?;
        for (key, value) in chunk.iter().zip(values) {
            let (Some(label), Some(value)) = (names.label_of(key), value) else {
                continue;
            };
            match protocol::parse_until(&value) {
                Some(until) if until > now => {
                    live.insert(label.to_owned(), until);
                }
                Some(_) => {}
                None => tracing::debug!(label, "shared cooldowns: ignoring a malformed key value"),
            }
        }
    }
    Ok(live)
}

/// Exponential backoff with jitter between `min` and `max`.
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        let max = max.max(min);
        Self {
            min,
            max,
            current: min,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.current = self.min;
    }

    /// The next delay: the current step ±25 %, after which the step doubles.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.current;
        self.current = self.current.saturating_mul(2).min(self.max);
        base.mul_f64(0.75 + fastrand::f64() * 0.5).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(75) && first <= Duration::from_millis(125));
        let mut last = first;
        for _ in 0..10 {
            last = b.next_delay();
            assert!(last <= Duration::from_secs(1));
        }
        assert!(last >= Duration::from_millis(750));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(125));
    }

    #[test]
    fn backoff_tolerates_odd_settings() {
        let mut b = Backoff::new(Duration::ZERO, Duration::ZERO);
        assert!(b.next_delay() <= Duration::from_millis(2));
    }
}
