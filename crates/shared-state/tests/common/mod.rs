//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchyard_shared_state::{Options, RemoteCallback, SharedCooldowns};

pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

pub fn redis_url() -> Option<String> {
    let url = std::env::var("SWITCHYARD_TEST_REDIS").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let reachable = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_ok();
    if reachable {
        return Some(url);
    }
    if std::env::var_os("CI").is_some() {
        panic!("Redis not reachable at {url} and CI is set: the shared-state tests need it");
    }
    // Straight to the stderr file descriptor, past the test harness's output capture,
    // so the skip shows in a normal `cargo test` run.
    let _ = writeln!(
        io::stderr(),
        "SKIPPED: Redis not reachable at {url} (set SWITCHYARD_TEST_REDIS to point elsewhere)"
    );
    None
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .try_into()
        .unwrap()
}

/// A random namespace whose keys are deleted when it goes out of scope.
pub struct Namespace {
    pub url: String,
    pub name: String,
}

impl Namespace {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            name: format!("sy-test-{:016x}", fastrand::u64(..)),
        }
    }

    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(2))
            .unwrap()
    }

    pub fn key(&self, label: &str) -> String {
        format!("{}:cooldown:{label}", self.name)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
            return;
        };
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.name))
            .query(&mut conn)
            .unwrap_or_default();
        for key in keys {
            let _: Result<(), _> = redis::cmd("DEL").arg(key).query(&mut conn);
        }
    }
}

/// Records every `on_remote` call.
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<(String, u64)>>,
    changed: Condvar,
}

impl Recorder {
    pub fn callback(self: &Arc<Self>) -> RemoteCallback {
        let me = Arc::clone(self);
        Arc::new(move |label: &str, until: u64| {
            me.events.lock().unwrap().push((label.to_owned(), until));
            me.changed.notify_all();
        })
    }

    pub fn events(&self) -> Vec<(String, u64)> {
        self.events.lock().unwrap().clone()
    }

    /// Waits until `(label, until)` has been reported.
    pub fn wait_for(&self, label: &str, until: u64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut events = self.events.lock().unwrap();
        loop {
            if events.iter().any(|(l, u)| l == label && *u == until) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            events = self.changed.wait_timeout(events, left).unwrap().0;
        }
    }
}

pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

pub fn replica_with(
    url: &str,
    ns: &Namespace,
    options: Options,
) -> (SharedCooldowns, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let shared = SharedCooldowns::start_with(url, &ns.name, recorder.callback(), options).unwrap();
    (shared, recorder)
}

/// A replica, connected (so its initial load is done).
pub fn replica(url: &str, ns: &Namespace) -> (SharedCooldowns, Arc<Recorder>) {
    let (shared, recorder) = replica_with(url, ns, Options::default());
    assert!(
        wait_until(Duration::from_secs(5), || shared.connected()),
        "replica did not connect to {url}"
    );
    (shared, recorder)
}

pub fn pttl(ns: &Namespace, label: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(ns.key(label))
        .query(&mut ns.conn())
        .unwrap()
}

/// A TCP proxy to Redis that can be cut and restored, to play an outage.
pub struct Proxy {
    pub port: u16,
    upstream: String,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    pub fn start(upstream: &str) -> Self {
        let mut proxy = Proxy {
            port: 0,
            upstream: upstream.to_owned(),
            stop: Arc::new(AtomicBool::new(false)),
            conns: Arc::default(),
            acceptor: None,
        };
        proxy.listen();
        proxy
    }

    fn listen(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        self.port = listener.local_addr().unwrap().port();
        self.stop = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&self.stop);
        let conns = Arc::clone(&self.conns);
        let upstream = self.upstream.clone();
        self.acceptor = Some(std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut all = conns.lock().unwrap();
                all.push(client.try_clone().unwrap());
                all.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        }));
    }

    /// Closes the listener and every proxied connection.
    pub fn cut(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.join().unwrap();
        }
        for conn in self.conns.lock().unwrap().drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&mut self) {
        self.listen();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
        let _: io::Result<()> = from.shutdown(Shutdown::Read);
    });
}
