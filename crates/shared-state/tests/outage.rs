//! Redis going away and coming back, through a TCP proxy the test cuts. In a binary of
//! its own so that the log capture sees only this test's warnings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use switchyard_shared_state::Options;

/// Everything logged, from every thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn install() -> Self {
        let logs = Logs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .init();
        logs
    }

    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }
}

#[test]
fn an_outage_degrades_and_recovers() {
    let Some(url) = redis_url() else { return };
    let info = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection_info()
        .clone();
    let redis::ConnectionAddr::Tcp(host, port) = &info.addr else {
        eprintln!("SKIPPED: the outage test needs a plain TCP Redis URL, not {url}");
        return;
    };
    let upstream = format!("{host}:{port}");
    if !url.contains(&upstream) {
        eprintln!("SKIPPED: the outage test needs host:port spelled out in {url}");
        return;
    }
    let logs = Logs::install();
    let ns = Namespace::new(&url);
    let mut proxy = Proxy::start(&upstream);
    let proxied_url = url.replacen(&upstream, &format!("127.0.0.1:{}", proxy.port), 1);

    let options = Options {
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(300),
        health_check_interval: Duration::from_millis(500),
        ..Options::default()
    };
    let (a, a_seen) = replica_with(&proxied_url, &ns, options);
    assert!(wait_until(Duration::from_secs(5), || a.connected()));
    let (b, b_seen) = replica(&url, &ns);

    let until_z = now_ms() + 60_000;
    b.announce("z", until_z);
    assert!(a_seen.wait_for("z", until_z, Duration::from_secs(1)));
    let until_mine = now_ms() + 60_000;
    a.announce("mine", until_mine);
    assert!(b_seen.wait_for("mine", until_mine, Duration::from_secs(1)));

    proxy.cut();
    assert!(
        wait_until(Duration::from_secs(3), || !a.connected()),
        "A did not notice the outage"
    );

    // During the outage: each side goes on alone.
    let until_x = now_ms() + 60_000;
    a.announce("x", until_x);
    a.announce("mine", 0);
    let until_y = now_ms() + 60_000;
    b.announce("y", until_y);
    b.announce("z", 0);
    // Long enough for several failed reconnection attempts.
    std::thread::sleep(Duration::from_millis(1_200));
    assert!(!b_seen.events().iter().any(|(l, _)| l == "x"));
    assert!(!a_seen.events().iter().any(|(l, _)| l == "y"));

    proxy.restore();
    assert!(
        wait_until(Duration::from_secs(5), || a.connected()),
        "A did not reconnect"
    );
    // A replays what it announced meanwhile, and learns what changed meanwhile.
    assert!(
        b_seen.wait_for("x", until_x, Duration::from_secs(1)),
        "{:?}",
        b_seen.events()
    );
    assert!(
        b_seen.wait_for("mine", 0, Duration::from_secs(1)),
        "{:?}",
        b_seen.events()
    );
    assert!(
        a_seen.wait_for("y", until_y, Duration::from_secs(1)),
        "{:?}",
        a_seen.events()
    );
    assert!(
        a_seen.wait_for("z", 0, Duration::from_secs(1)),
        "{:?}",
        a_seen.events()
    );
    assert_eq!(pttl(&ns, "mine"), -2);

    // And the subscription works again.
    let until_w = now_ms() + 60_000;
    b.announce("w", until_w);
    assert!(a_seen.wait_for("w", until_w, Duration::from_secs(1)));
    assert_eq!(a.dropped(), 0);

    // One warning for the whole outage, however many attempts failed, and one notice
    // when it ended.
    assert_eq!(logs.count("Redis unavailable"), 1, "{}", logs.count("WARN"));
    assert!(logs.count("Redis still unavailable") >= 2);
    assert_eq!(logs.count("Redis reachable again"), 1);
}
