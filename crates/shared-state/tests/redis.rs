//! Against a real Redis: 127.0.0.1:6379, or the URL in `SWITCHYARD_TEST_REDIS`.
//! Without a reachable Redis each test prints `SKIPPED: ...` and passes, unless `CI` is
//! set, where it fails. Every test uses its own random namespace.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use switchyard_shared_state::{Error, Options, RemoteCallback, SharedCooldowns};

#[test]
fn announce_reaches_the_other_replica_and_not_itself() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let (a, a_seen) = replica(&url, &ns);
    let (b, b_seen) = replica(&url, &ns);
    let other_ns = Namespace::new(&url);
    let (_elsewhere, elsewhere_seen) = replica(&url, &other_ns);
    assert_ne!(a.instance_id(), b.instance_id());

    let until = now_ms() + 60_000;
    let started = Instant::now();
    a.announce("provider/model:v1", until);
    assert!(
        b_seen.wait_for("provider/model:v1", until, Duration::from_secs(1)),
        "B did not hear A within a second: {:?}",
        b_seen.events()
    );
    eprintln!("propagated in {:?}", started.elapsed());

    // The key carries the value and a TTL of the time left.
    let value: String = redis::cmd("GET")
        .arg(ns.key("provider/model:v1"))
        .query(&mut ns.conn())
        .unwrap();
    assert_eq!(value, until.to_string());
    let ttl = pttl(&ns, "provider/model:v1");
    assert!(ttl > 50_000 && ttl <= 60_000, "PTTL {ttl}");

    // B's own announcement reaches A; neither hears itself; other namespaces hear nothing.
    let until_b = now_ms() + 30_000;
    b.announce("other", until_b);
    assert!(a_seen.wait_for("other", until_b, Duration::from_secs(1)));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(a_seen.events(), vec![("other".to_owned(), until_b)]);
    assert_eq!(
        b_seen.events(),
        vec![("provider/model:v1".to_owned(), until)]
    );
    assert!(elsewhere_seen.events().is_empty());
    assert_eq!(a.dropped() + b.dropped(), 0);
}

#[test]
fn a_cooldown_announced_before_start_is_loaded_at_start() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let (a, _) = replica(&url, &ns);
    let until = now_ms() + 60_000;
    a.announce("openai/gpt-4o", until);
    assert!(wait_until(Duration::from_secs(2), || pttl(
        &ns,
        "openai/gpt-4o"
    ) > 0));

    let (_c, c_seen) = replica(&url, &ns);
    // connected() turns true only once the initial load has been reported.
    assert_eq!(c_seen.events(), vec![("openai/gpt-4o".to_owned(), until)]);
}

#[test]
fn queued_announcements_go_out_on_shutdown() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let (mut a, _) = replica(&url, &ns);
    let until = now_ms() + 60_000;
    for i in 0..100 {
        a.announce(&format!("m{i}"), until);
    }
    a.shutdown();
    assert!(!a.connected());
    for i in 0..100 {
        assert!(pttl(&ns, &format!("m{i}")) > 0, "m{i} was not written");
    }
}

#[test]
fn clearing_propagates() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let (a, _) = replica(&url, &ns);
    let (_b, b_seen) = replica(&url, &ns);
    let until = now_ms() + 60_000;
    a.announce("azure/gpt-4o", until);
    assert!(b_seen.wait_for("azure/gpt-4o", until, Duration::from_secs(1)));

    a.announce("azure/gpt-4o", 0);
    assert!(
        b_seen.wait_for("azure/gpt-4o", 0, Duration::from_secs(1)),
        "{:?}",
        b_seen.events()
    );
    assert_eq!(pttl(&ns, "azure/gpt-4o"), -2, "the key is deleted");

    let (_c, c_seen) = replica(&url, &ns);
    assert!(c_seen.events().is_empty(), "{:?}", c_seen.events());
}

#[test]
fn expired_and_malformed_keys_are_not_loaded() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let (a, _) = replica(&url, &ns);
    let long = now_ms() + 60_000;
    a.announce("short", now_ms() + 300);
    a.announce("long", long);
    // Already over, not shared at all.
    a.announce("past", now_ms().saturating_sub(1_000));
    // Written by a replica whose clock is far ahead of its TTL, or by hand: the value is
    // what counts.
    let mut conn = ns.conn();
    let _: () = redis::cmd("SET")
        .arg(ns.key("stale-value"))
        .arg(now_ms() - 5_000)
        .arg("PX")
        .arg(60_000)
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(ns.key("garbage"))
        .arg("not a number")
        .arg("PX")
        .arg(60_000)
        .query(&mut conn)
        .unwrap();
    assert!(wait_until(Duration::from_secs(2), || pttl(&ns, "long") > 0));
    assert_eq!(pttl(&ns, "past"), -2);
    std::thread::sleep(Duration::from_millis(600));

    let (_c, c_seen) = replica(&url, &ns);
    assert_eq!(c_seen.events(), vec![("long".to_owned(), long)]);
}

#[test]
fn labels_with_slashes_colons_and_spaces_survive() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let (a, _) = replica(&url, &ns);
    let (_b, b_seen) = replica(&url, &ns);
    let labels = [
        "provider/model:v1",
        "azure/gpt-4o:2024-08-06 eu west",
        " leading and trailing ",
        "*glob?[chars]",
        "ünï/cødé:1",
    ];
    let until = now_ms() + 60_000;
    for label in labels {
        a.announce(label, until);
    }
    for label in labels {
        assert!(
            b_seen.wait_for(label, until, Duration::from_secs(1)),
            "{label:?} not received: {:?}",
            b_seen.events()
        );
    }

    let (_c, c_seen) = replica(&url, &ns);
    let mut loaded = c_seen.events();
    loaded.sort();
    let mut expected: Vec<(String, u64)> = labels.iter().map(|l| (l.to_string(), until)).collect();
    expected.sort();
    assert_eq!(loaded, expected);
}

#[test]
fn announce_never_blocks_when_redis_is_unreachable() {
    let seen = Arc::new(Recorder::default());
    let options = Options {
        queue_capacity: 16,
        ..Options::default()
    };
    // Nothing listens on port 1.
    let mut shared = SharedCooldowns::start_with(
        "redis://127.0.0.1:1",
        "sy-test-down",
        seen.callback(),
        options,
    )
    .unwrap();
    let started = Instant::now();
    for i in 0..20_000u64 {
        shared.announce(&format!("provider/model-{}", i % 50), now_ms() + 60_000);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "20k announces took {took:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!shared.connected());
    assert!(seen.events().is_empty());

    let started = Instant::now();
    shared.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "shutdown took {:?}",
        started.elapsed()
    );
    // After shutdown announcements are counted as dropped, still without blocking.
    let before = shared.dropped();
    shared.announce("late", 0);
    assert_eq!(shared.dropped(), before + 1);
}

#[test]
fn bad_arguments_are_errors() {
    let noop: RemoteCallback = Arc::new(|_: &str, _: u64| {});
    assert!(matches!(
        SharedCooldowns::start("not a url", "ns", Arc::clone(&noop)),
        Err(Error::InvalidUrl { .. })
    ));
    let err = SharedCooldowns::start("redis://:hunter2@127.0.0.1:1/0 x", "ns", Arc::clone(&noop));
    if let Err(e) = err {
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
    assert!(matches!(
        SharedCooldowns::start(DEFAULT_URL, "", noop),
        Err(Error::EmptyNamespace)
    ));
}

#[test]
fn a_full_queue_drops_and_counts() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    // A's callback blocks until released, which stalls A's background thread.
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let entered = Arc::new(AtomicBool::new(false));
    let entered_cb = Arc::clone(&entered);
    let blocking: RemoteCallback = Arc::new(move |_: &str, _: u64| {
        entered_cb.store(true, Ordering::SeqCst);
        let _ = release_rx
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(10));
    });
    let options = Options {
        queue_capacity: 2,
        ..Options::default()
    };
    let a = SharedCooldowns::start_with(&url, &ns.name, blocking, options).unwrap();
    assert!(wait_until(Duration::from_secs(5), || a.connected()));
    let (b, _) = replica(&url, &ns);

    b.announce("x", now_ms() + 60_000);
    assert!(wait_until(Duration::from_secs(2), || entered.load(Ordering::SeqCst)));
    let started = Instant::now();
    for i in 0..50 {
        a.announce(&format!("label-{i}"), now_ms() + 60_000);
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(a.dropped(), 48);
    release_tx.send(()).unwrap();
    // The two that were queued still go out.
    assert!(wait_until(Duration::from_secs(2), || pttl(&ns, "label-1") > 0));
    assert_eq!(pttl(&ns, "label-2"), -2);
}
