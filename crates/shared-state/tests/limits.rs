//! Shared limits against a real Redis: 127.0.0.1:6379, or the URL in
//! `SWITCHYARD_TEST_REDIS`. Without a reachable Redis each test prints `SKIPPED: ...`
//! and passes, unless `CI` is set, where it fails. Every test uses its own random
//! namespace. "Replicas" are separate `RedisLimits` instances, called from threads that
//! each run their own current-thread runtime, like the gateway's cores.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::future::Future;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;
use switchyard_shared_state::limits::{micros_to_usd, usd_to_micros};
use switchyard_shared_state::{
    Admission, Ask, DenyReason, KeyLimits, LimitsError, LimitsOptions, RedisLimits,
};

const MINUTE: u64 = 60_000;

fn block_on<F: Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(fut)
}

fn start(url: &str, ns: &Namespace) -> RedisLimits {
    start_with(url, ns, LimitsOptions::default())
}

fn start_with(url: &str, ns: &Namespace, options: LimitsOptions) -> RedisLimits {
    let limits = RedisLimits::start_with(url, &ns.name, options).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || limits.connected()),
        "did not connect to {url}"
    );
    limits
}

fn no_limits() -> KeyLimits {
    KeyLimits {
        rpm: None,
        tpm: None,
        max_concurrency: None,
        budget_usd: None,
        period_start_ms: 0,
        period_end_ms: u64::MAX,
    }
}

fn ask(tokens: u64, reserve_usd: f64, request_id: &str) -> Ask<'_> {
    Ask {
        tokens,
        reserve_usd,
        request_id,
    }
}

fn rid() -> String {
    format!("req-{:016x}", fastrand::u64(..))
}

fn admit(l: &RedisLimits, key: &str, limits: &KeyLimits, a: &Ask<'_>, now: u64) -> Admission {
    block_on(l.admit(key, limits, a, now)).unwrap()
}

fn settle(
    l: &RedisLimits,
    key: &str,
    limits: &KeyLimits,
    a: &Ask<'_>,
    tokens: u64,
    usd: f64,
    now: u64,
) -> bool {
    block_on(l.settle(key, limits, a, tokens, usd, now))
        .unwrap()
        .released
}

fn spent(l: &RedisLimits, key: &str, period_start: u64) -> Option<f64> {
    block_on(l.spent_usd(key, period_start)).unwrap()
}

/// `n` admissions at once, alternating between the replicas, each from its own thread
/// and current-thread runtime. Returns the request ids that were allowed.
fn admit_concurrently(
    replicas: &[&RedisLimits],
    n: usize,
    key: &str,
    limits: &KeyLimits,
    tokens: u64,
    reserve_usd: f64,
    now: u64,
) -> Vec<String> {
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let replica = replicas[i % replicas.len()];
                let barrier = &barrier;
                s.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    let id = rid();
                    barrier.wait();
                    let a = ask(tokens, reserve_usd, &id);
                    let outcome = rt.block_on(replica.admit(key, limits, &a, now)).unwrap();
                    outcome.is_allowed().then_some(id)
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    })
}

fn retry_after(outcome: Admission) -> u64 {
    match outcome {
        Admission::Denied { retry_after_ms, .. } => retry_after_ms,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[test]
fn rpm_is_exact_across_two_replicas() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let (a, b) = (start(&url, &ns), start(&url, &ns));
    let limits = KeyLimits {
        rpm: Some(20),
        ..no_limits()
    };
    let t = now_ms();
    let allowed = admit_concurrently(&[&a, &b], 40, "key-rpm", &limits, 10, 0.0, t);
    assert_eq!(allowed.len(), 20);

    // The 21st is told when it fits: the minute has to end, and then the first
    // millisecond of the next already lets the previous minute's weight below 20.
    let denied = admit(&a, "key-rpm", &limits, &ask(10, 0.0, &rid()), t);
    let Admission::Denied {
        reason: DenyReason::Rpm,
        retry_after_ms,
        limit: 20,
        remaining: 0,
    } = denied
    else {
        panic!("{denied:?}")
    };
    assert_eq!(retry_after_ms, MINUTE - t % MINUTE + 1);
    let later = t + retry_after_ms;
    assert!(!admit(&b, "key-rpm", &limits, &ask(1, 0.0, &rid()), later - 1).is_allowed());
    match admit(&b, "key-rpm", &limits, &ask(1, 0.0, &rid()), later) {
        Admission::Allowed {
            remaining_requests: Some(0),
            remaining_tokens: None,
            reset_ms,
        } => assert_eq!(reset_ms, 2 * MINUTE - later % MINUTE),
        other => panic!("{other:?}"),
    }
    for id in &allowed {
        assert!(settle(
            &a,
            "key-rpm",
            &limits,
            &ask(10, 0.0, id),
            10,
            0.0,
            t
        ));
    }
}

#[test]
fn retry_after_is_exact_while_the_previous_minute_slides_out() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let l = start(&url, &ns);
    let minute = now_ms() / MINUTE;
    let limits = KeyLimits {
        rpm: Some(10),
        tpm: Some(1_000),
        ..no_limits()
    };
    // Ten requests of 60 tokens, 20 s into one minute.
    let t0 = minute * MINUTE + 20_000;
    for _ in 0..10 {
        let id = rid();
        assert!(admit(&l, "k", &limits, &ask(60, 0.0, &id), t0).is_allowed());
        assert!(settle(&l, "k", &limits, &ask(60, 0.0, &id), 60, 0.0, t0));
    }
    // 15 s into the next, the previous minute still weighs 10 * 45/60 = 7.5 -> 7
    // requests and 600 * 0.75 = 450 tokens.
    let t1 = (minute + 1) * MINUTE + 15_000;
    match admit(&l, "k", &limits, &ask(100, 0.0, &rid()), t1) {
        Admission::Allowed {
            remaining_requests: Some(2),
            remaining_tokens: Some(450),
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    // 500 tokens do not fit (100 + 450 used): they will once the previous minute's
    // 600 weigh no more than 400, i.e. from 19.901 s into the minute.
    let retry = retry_after(admit(&l, "k", &limits, &ask(500, 0.0, &rid()), t1));
    assert_eq!(retry, 4_901);
    assert!(!admit(&l, "k", &limits, &ask(500, 0.0, &rid()), t1 + retry - 1).is_allowed());
    assert!(admit(&l, "k", &limits, &ask(500, 0.0, &rid()), t1 + retry).is_allowed());

    // Fill the request window at that moment: the denial says exactly when the
    // previous minute's weight lets one more in.
    let now = t1 + retry;
    let mut outcome = admit(&l, "k", &limits, &ask(0, 0.0, &rid()), now);
    for _ in 0..10 {
        if !outcome.is_allowed() {
            break;
        }
        outcome = admit(&l, "k", &limits, &ask(0, 0.0, &rid()), now);
    }
    let Admission::Denied {
        reason: DenyReason::Rpm,
        retry_after_ms: retry,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(retry > 0 && retry <= MINUTE, "{outcome:?}");
    assert!(!admit(&l, "k", &limits, &ask(0, 0.0, &rid()), now + retry - 1).is_allowed());
    assert!(admit(&l, "k", &limits, &ask(0, 0.0, &rid()), now + retry).is_allowed());
}

#[test]
fn concurrency_limit_across_replicas_and_settle_frees_slots() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let (a, b) = (start(&url, &ns), start(&url, &ns));
    let limits = KeyLimits {
        max_concurrency: Some(3),
        ..no_limits()
    };
    let t = now_ms();
    let allowed = admit_concurrently(&[&a, &b], 10, "key-c", &limits, 0, 0.0, t);
    assert_eq!(allowed.len(), 3);
    match admit(&a, "key-c", &limits, &ask(0, 0.0, &rid()), t) {
        Admission::Denied {
            reason: DenyReason::Concurrency,
            retry_after_ms: 1_000,
            limit: 3,
            remaining: 0,
        } => {}
        other => panic!("{other:?}"),
    }
    // Settled by the other replica than the one that admitted it, half the time.
    assert!(settle(
        &b,
        "key-c",
        &limits,
        &ask(0, 0.0, &allowed[0]),
        0,
        0.0,
        t
    ));
    // Settling twice releases nothing twice.
    assert!(!settle(
        &a,
        "key-c",
        &limits,
        &ask(0, 0.0, &allowed[0]),
        0,
        0.0,
        t
    ));
    let more = admit_concurrently(&[&a, &b], 10, "key-c", &limits, 0, 0.0, t);
    assert_eq!(more.len(), 1);
    for id in allowed[1..].iter().chain(&more) {
        assert!(settle(&a, "key-c", &limits, &ask(0, 0.0, id), 0, 0.0, t));
    }
    assert_eq!(
        admit_concurrently(&[&a, &b], 10, "key-c", &limits, 0, 0.0, t).len(),
        3
    );
}

#[test]
fn an_unsettled_slot_and_its_reservation_expire_with_the_lease() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let l = start(&url, &ns);
    let limits = KeyLimits {
        max_concurrency: Some(1),
        budget_usd: Some(1.0),
        ..no_limits()
    };
    let t = now_ms();
    let crashed = rid();
    assert!(admit(&l, "k", &limits, &ask(0, 1.0, &crashed), t).is_allowed());
    // Even if no replica ever calls again, the keys holding it go away after the
    // lease and a minute.
    for suffix in ["leases", "held", "reserved"] {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(format!("{}:limits:{{k}}:{suffix}", ns.name))
            .query(&mut ns.conn())
            .unwrap();
        assert!(ttl > 600_000 && ttl <= 660_000, "{suffix}: PTTL {ttl}");
    }
    assert!(!admit(&l, "k", &limits, &ask(0, 0.0, &rid()), t + 599_999).is_allowed());
    // Ten minutes later the lease has run out: slot and reservation are back.
    let id = rid();
    assert!(admit(&l, "k", &limits, &ask(0, 1.0, &id), t + 600_000).is_allowed());
    // A late settle of the expired request books its cost but frees nothing.
    assert!(!settle(
        &l,
        "k",
        &limits,
        &ask(0, 1.0, &crashed),
        0,
        0.25,
        t + 600_001
    ));
    assert_eq!(spent(&l, "k", 0), Some(0.25));
    assert!(settle(
        &l,
        "k",
        &limits,
        &ask(0, 1.0, &id),
        0,
        0.25,
        t + 600_002
    ));
    assert_eq!(spent(&l, "k", 0), Some(0.5));
}

#[test]
fn budget_reservations_hold_under_concurrency() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let (a, b) = (start(&url, &ns), start(&url, &ns));
    let limits = KeyLimits {
        budget_usd: Some(10.0),
        ..no_limits()
    };
    let t = now_ms();
    let first = admit_concurrently(&[&a, &b], 50, "key-b", &limits, 0, 1.0, t);
    assert_eq!(first.len(), 10);
    match admit(&a, "key-b", &limits, &ask(0, 1.0, &rid()), t) {
        Admission::Denied {
            reason: DenyReason::Budget,
            retry_after_ms: 1_000,
            limit: 10_000_000,
            remaining: 0,
        } => {}
        other => panic!("{other:?}"),
    }
    // Each cost half its reservation: 5.0 spent, room for exactly 5 more at 1.0 ...
    for id in &first {
        assert!(settle(&b, "key-b", &limits, &ask(0, 1.0, id), 0, 0.5, t));
    }
    assert_eq!(spent(&a, "key-b", 0), Some(5.0));
    let second = admit_concurrently(&[&a, &b], 20, "key-b", &limits, 0, 1.0, t);
    assert_eq!(second.len(), 5);
    // ... and, once those cost nothing after all, for exactly 10 more at 0.5.
    for id in &second {
        assert!(settle(&a, "key-b", &limits, &ask(0, 1.0, id), 0, 0.0, t));
    }
    let third = admit_concurrently(&[&a, &b], 50, "key-b", &limits, 0, 0.5, t);
    assert_eq!(third.len(), 10);
    for id in &third {
        assert!(settle(&a, "key-b", &limits, &ask(0, 0.5, id), 0, 0.5, t));
    }
    assert_eq!(spent(&b, "key-b", 0), Some(10.0));
    // Spent, not just reserved: come back when the period ends.
    let limits = KeyLimits {
        period_end_ms: t + 3_600_000,
        ..limits
    };
    match admit(&a, "key-b", &limits, &ask(0, 0.000_001, &rid()), t) {
        Admission::Denied {
            reason: DenyReason::Budget,
            retry_after_ms: 3_600_000,
            remaining: 0,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn spend_is_seeded_and_survives_a_restart() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let t = now_ms();
    let day = t / 86_400_000 * 86_400_000;
    let limits = KeyLimits {
        budget_usd: Some(8.0),
        period_start_ms: day,
        period_end_ms: day + 86_400_000,
        ..no_limits()
    };
    {
        let a = start(&url, &ns);
        assert_eq!(spent(&a, "k", day), None);
        assert!(block_on(a.seed_spend("k", day, 7.25)).unwrap());
        // A lower figure (the database lagging behind Redis) does not lower it.
        assert!(!block_on(a.seed_spend("k", day, 3.0)).unwrap());
        assert_eq!(spent(&a, "k", day), Some(7.25));
        let id = rid();
        assert!(admit(&a, "k", &limits, &ask(0, 0.5, &id), t).is_allowed());
        settle(&a, "k", &limits, &ask(0, 0.5, &id), 0, 0.5, t);
    }
    // The whole fleet restarts: the counter is still there, with the period's TTL.
    let b = start(&url, &ns);
    assert!(!block_on(b.seed_spend("k", day, 7.25)).unwrap());
    assert_eq!(spent(&b, "k", day), Some(7.75));
    let spent_key = format!("{}:limits:{{k}}:spent:{day}", ns.name);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&spent_key)
        .query(&mut ns.conn())
        .unwrap();
    let left = i64::try_from(day + 86_400_000 - t).unwrap();
    assert!(ttl > left && ttl <= left + 3_600_000, "PTTL {ttl}");
    match admit(&b, "k", &limits, &ask(0, 0.5, &rid()), t) {
        Admission::Denied {
            reason: DenyReason::Budget,
            retry_after_ms,
            limit: 8_000_000,
            remaining: 250_000,
        } => assert_eq!(retry_after_ms, day + 86_400_000 - t),
        other => panic!("{other:?}"),
    }
    // Redis lost it (flushed, failed over): seeding restores the database's figure,
    // and the next admission gives it back its TTL.
    let _: () = redis::cmd("DEL")
        .arg(&spent_key)
        .query(&mut ns.conn())
        .unwrap();
    assert!(block_on(b.seed_spend("k", day, 7.75)).unwrap());
    assert!(!admit(&b, "k", &limits, &ask(0, 0.5, &rid()), t).is_allowed());
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&spent_key)
        .query(&mut ns.conn())
        .unwrap();
    assert!(ttl > left, "PTTL {ttl}");
    // Another period has its own counter.
    assert_eq!(spent(&b, "k", day + 86_400_000), None);
}

#[test]
fn tpm_is_corrected_by_actual_usage() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let (a, b) = (start(&url, &ns), start(&url, &ns));
    let limits = KeyLimits {
        tpm: Some(1_000),
        ..no_limits()
    };
    let t = now_ms();
    let first = rid();
    match admit(&a, "k", &limits, &ask(800, 0.0, &first), t) {
        Admission::Allowed {
            remaining_tokens: Some(200),
            remaining_requests: None,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    match admit(&b, "k", &limits, &ask(300, 0.0, &rid()), t) {
        Admission::Denied {
            reason: DenyReason::Tpm,
            limit: 1_000,
            remaining: 200,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    // It used only 100: the window gives 700 back.
    assert!(settle(
        &b,
        "k",
        &limits,
        &ask(800, 0.0, &first),
        100,
        0.0,
        t
    ));
    let second = rid();
    match admit(&b, "k", &limits, &ask(300, 0.0, &second), t) {
        Admission::Allowed {
            remaining_tokens: Some(600),
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    // It used 900 rather than 300: 600 more are counted, the window is full.
    assert!(settle(
        &a,
        "k",
        &limits,
        &ask(300, 0.0, &second),
        900,
        0.0,
        t
    ));
    match admit(&a, "k", &limits, &ask(1, 0.0, &rid()), t) {
        Admission::Denied {
            reason: DenyReason::Tpm,
            remaining: 0,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    // A request larger than the whole limit goes through once the window is empty.
    let later = t + 2 * MINUTE;
    assert!(admit(&a, "k", &limits, &ask(5_000, 0.0, &rid()), later).is_allowed());
    assert!(!admit(&a, "k", &limits, &ask(1, 0.0, &rid()), later).is_allowed());
}

#[test]
fn money_is_exact_in_micro_dollars() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let l = start(&url, &ns);
    let t = now_ms();
    // In floats 0.1 + 0.1 + 0.1 > 0.3, so a float check would refuse the third.
    let limits = KeyLimits {
        budget_usd: Some(0.3),
        ..no_limits()
    };
    let ids: Vec<String> = (0..3).map(|_| rid()).collect();
    for id in &ids {
        assert!(admit(&l, "k", &limits, &ask(0, 0.1, id), t).is_allowed());
    }
    assert!(!admit(&l, "k", &limits, &ask(0, 0.1, &rid()), t).is_allowed());
    for id in &ids {
        assert!(settle(&l, "k", &limits, &ask(0, 0.1, id), 0, 0.1, t));
    }
    assert_eq!(spent(&l, "k", 0), Some(0.3));
    // Ten more tenths make exactly 1.3 (floats: 1.2999999999999998).
    let limits = KeyLimits {
        budget_usd: Some(1.3),
        ..no_limits()
    };
    for _ in 0..10 {
        let id = rid();
        assert!(admit(&l, "k", &limits, &ask(0, 0.1, &id), t).is_allowed());
        settle(&l, "k", &limits, &ask(0, 0.1, &id), 0, 0.1, t);
    }
    assert_eq!(spent(&l, "k", 0), Some(1.3));
    // Costs round to the nearest micro-dollar.
    let id = rid();
    admit(&l, "k", &no_limits(), &ask(0, 0.0, &id), t);
    settle(&l, "k", &no_limits(), &ask(0, 0.0, &id), 0, 0.000_000_4, t);
    assert_eq!(spent(&l, "k", 0), Some(1.3));
    settle(&l, "k", &no_limits(), &ask(0, 0.0, &id), 0, 0.000_001_6, t);
    assert_eq!(spent(&l, "k", 0), Some(1.300_002));
    assert_eq!(usd_to_micros(1.300_002), 1_300_002);
    assert_eq!(micros_to_usd(1_300_002), 1.300_002);
}

#[test]
fn duplicate_and_invalid_requests_are_refused() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let l = start(&url, &ns);
    let limits = KeyLimits {
        rpm: Some(100),
        ..no_limits()
    };
    let t = now_ms();
    let id = rid();
    assert!(admit(&l, "k", &limits, &ask(0, 0.0, &id), t).is_allowed());
    assert!(matches!(
        block_on(l.admit("k", &limits, &ask(0, 0.0, &id), t)),
        Err(LimitsError::DuplicateRequest)
    ));
    assert!(matches!(
        block_on(l.admit("", &limits, &ask(0, 0.0, &id), t)),
        Err(LimitsError::InvalidInput(_))
    ));
    assert!(matches!(
        block_on(l.admit("k", &limits, &ask(0, 0.0, ""), t)),
        Err(LimitsError::InvalidInput(_))
    ));
    // An RPM of 0 never lets anything through.
    let zero = KeyLimits {
        rpm: Some(0),
        ..no_limits()
    };
    assert_eq!(
        retry_after(admit(&l, "k", &zero, &ask(0, 0.0, &rid()), t)),
        u64::MAX
    );
}

#[test]
fn unreachable_redis_fails_fast() {
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let l = RedisLimits::start(&format!("redis://127.0.0.1:{port}"), "sy-test").unwrap();
    let limits = KeyLimits {
        rpm: Some(1),
        ..no_limits()
    };
    for _ in 0..3 {
        let started = Instant::now();
        let r = block_on(l.admit("k", &limits, &ask(0, 0.0, "r"), now_ms()));
        assert!(matches!(r, Err(LimitsError::NotConnected)), "{r:?}");
        assert!(started.elapsed() < Duration::from_millis(50));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!l.connected());
    assert!(matches!(
        RedisLimits::start("redis://127.0.0.1:6379", ""),
        Err(LimitsError::EmptyNamespace)
    ));
    assert!(matches!(
        RedisLimits::start("http://nope", "ns"),
        Err(LimitsError::InvalidUrl { .. })
    ));
}

/// A TCP proxy whose replies (server to client) can be held back, to play a Redis that
/// hangs after reading a command.
struct StallProxy {
    port: u16,
    stalled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl StallProxy {
    fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stalled = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_owned();
        let (st, sp) = (Arc::clone(&stalled), Arc::clone(&stop));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    return;
                }
                let (Ok(client), Ok(server)) = (client, TcpStream::connect(&upstream)) else {
                    continue;
                };
                forward(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    None,
                );
                forward(server, client, Some(Arc::clone(&st)));
            }
        });
        StallProxy {
            port,
            stalled,
            stop,
        }
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.stalled.store(false, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn forward(mut from: TcpStream, mut to: TcpStream, stalled: Option<Arc<AtomicBool>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            while stalled.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                std::thread::sleep(Duration::from_millis(5));
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

#[test]
fn a_hung_redis_costs_at_most_the_timeout_and_leaks_no_slot() {
    let Some(url) = redis_url() else { return };
    let info = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection_info()
        .clone();
    let redis::ConnectionAddr::Tcp(host, port) = &info.addr else {
        eprintln!("SKIPPED: the hung-Redis test needs a plain TCP Redis URL, not {url}");
        return;
    };
    let upstream = format!("{host}:{port}");
    if !url.contains(&upstream) {
        eprintln!("SKIPPED: the hung-Redis test needs host:port spelled out in {url}");
        return;
    }
    let ns = Namespace::new(&url);
    let proxy = StallProxy::start(&upstream);
    let proxied = url.replacen(&upstream, &format!("127.0.0.1:{}", proxy.port), 1);
    let options = LimitsOptions {
        command_timeout: Duration::from_millis(100),
        connect_timeout: Duration::from_millis(300),
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..LimitsOptions::default()
    };
    let l = start_with(&proxied, &ns, options);
    let direct = start(&url, &ns);
    let limits = KeyLimits {
        rpm: Some(100),
        max_concurrency: Some(1),
        budget_usd: Some(5.0),
        ..no_limits()
    };
    let t = now_ms();
    let requests_key = format!("{}:limits:{{k}}:r:{}", ns.name, t / MINUTE);

    // Redis reads the admission and runs it, but its reply never comes back in time.
    proxy.stalled.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let r = block_on(l.admit("k", &limits, &ask(0, 5.0, &rid()), t));
    let took = started.elapsed();
    assert!(matches!(r, Err(LimitsError::Timeout)), "{r:?}");
    assert!(took < Duration::from_millis(150), "took {took:?}");
    // It did go through (its request was counted) ...
    let counted: Option<u64> = redis::cmd("GET")
        .arg(&requests_key)
        .query(&mut ns.conn())
        .unwrap();
    assert_eq!(counted, Some(1));
    // Fails fast while the connection is being replaced, rather than waiting again.
    assert!(wait_until(Duration::from_secs(1), || !l.connected()));
    let started = Instant::now();
    let r = block_on(l.admit("k", &limits, &ask(0, 1.0, &rid()), t));
    assert!(matches!(r, Err(LimitsError::NotConnected)), "{r:?}");
    assert!(started.elapsed() < Duration::from_millis(20));

    // ... and was released behind it: another replica finds the slot and the whole
    // budget free.
    let id = rid();
    assert!(
        wait_until(Duration::from_secs(1), || {
            let probe = rid();
            let ok = admit(&direct, "k", &limits, &ask(0, 5.0, &probe), t).is_allowed();
            if ok {
                settle(&direct, "k", &limits, &ask(0, 5.0, &probe), 0, 0.0, t);
            }
            ok
        }),
        "the timed-out admission still holds its slot"
    );

    proxy.stalled.store(false, Ordering::SeqCst);
    assert!(wait_until(Duration::from_secs(3), || l.connected()));
    assert!(admit(&l, "k", &limits, &ask(0, 5.0, &id), t).is_allowed());
    assert!(settle(&l, "k", &limits, &ask(0, 5.0, &id), 0, 1.0, t));
    assert_eq!(spent(&direct, "k", 0), Some(1.0));
}

#[test]
fn the_script_is_reloaded_after_a_script_flush() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let l = start(&url, &ns);
    let limits = KeyLimits {
        rpm: Some(5),
        ..no_limits()
    };
    let t = now_ms();
    assert!(admit(&l, "k", &limits, &ask(0, 0.0, &rid()), t).is_allowed());
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut ns.conn())
        .unwrap();
    match admit(&l, "k", &limits, &ask(0, 0.0, &rid()), t) {
        Admission::Allowed {
            remaining_requests: Some(3),
            ..
        } => {}
        other => panic!("{other:?}"),
    }
}

/// Why the connection lives on a thread of its own: a multiplexed connection's I/O is
/// driven by a task on the runtime that opened it, so from another current-thread
/// runtime it answers only while that one is free to run, and not at all once it is
/// gone.
#[test]
fn a_multiplexed_connection_depends_on_the_runtime_that_opened_it() {
    let Some(url) = redis_url() else { return };
    let (conn_tx, conn_rx) = std::sync::mpsc::channel();
    let owner = std::thread::spawn({
        let url = url.clone();
        move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = redis::Client::open(url.as_str()).unwrap();
                let conn = client.get_multiplexed_async_connection().await.unwrap();
                conn_tx.send(conn).unwrap();
                // Serves the connection while idle, then is busy for a while (a core
                // tokenizing a large prompt, say), then its runtime ends.
                tokio::time::sleep(Duration::from_millis(300)).await;
                std::thread::sleep(Duration::from_millis(600));
            });
        }
    });
    let conn = conn_rx.recv().unwrap();
    let ping = |mut conn: redis::aio::MultiplexedConnection| {
        block_on(async move {
            tokio::time::timeout(
                Duration::from_millis(200),
                redis::cmd("PING").query_async::<String>(&mut conn),
            )
            .await
        })
    };
    assert!(matches!(ping(conn.clone()), Ok(Ok(_))), "works while idle");
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        ping(conn.clone()).is_err(),
        "stalls while its runtime is busy"
    );
    owner.join().unwrap();
    assert!(
        !matches!(ping(conn), Ok(Ok(_))),
        "dead once its runtime is gone"
    );
}

/// `EVALSHA`, loading the script again if another test flushed the script cache.
async fn eval(
    conn: &mut redis::aio::MultiplexedConnection,
    script: &str,
    cmd: &redis::Cmd,
) -> Vec<i64> {
    match cmd.query_async(conn).await {
        Ok(v) => v,
        Err(e) if e.kind() == redis::ErrorKind::NoScriptError => {
            let _: String = redis::cmd("SCRIPT")
                .arg("LOAD")
                .arg(script)
                .query_async(conn)
                .await
                .unwrap();
            cmd.query_async(conn).await.unwrap()
        }
        Err(e) => panic!("{e}"),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// The round trip of admit and settle through `RedisLimits` from another
/// current-thread runtime, next to the same script called directly on a connection
/// owned by the calling runtime: the difference is what the hand-over to the
/// background thread costs. Prints the figures (`--nocapture` to see them).
#[test]
fn round_trip_cost() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new(&url);
    let l = start(&url, &ns);
    let limits = KeyLimits {
        rpm: Some(1_000_000),
        tpm: Some(1_000_000_000),
        max_concurrency: Some(100),
        budget_usd: Some(1e6),
        ..no_limits()
    };
    const N: usize = 2_000;
    let t = now_ms();
    let (admits, settles) = block_on(async {
        let mut admits = Vec::with_capacity(N);
        let mut settles = Vec::with_capacity(N);
        for i in 0..N {
            let id = format!("rt-{i}");
            let a = ask(500, 0.01, &id);
            let started = Instant::now();
            assert!(l.admit("k", &limits, &a, t).await.unwrap().is_allowed());
            admits.push(started.elapsed());
            let started = Instant::now();
            l.settle("k", &limits, &a, 400, 0.005, t).await.unwrap();
            settles.push(started.elapsed());
        }
        (admits, settles)
    });

    // The same EVALSHA, with the same arguments, on a connection of this runtime.
    let script = include_str!("../src/limits.lua");
    let direct = block_on(async {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(script)
            .query_async(&mut conn)
            .await
            .unwrap();
        let base = format!("{}:limits:{{direct}}:", ns.name);
        let minute = t / MINUTE;
        let keys: Vec<String> = [
            format!("r:{minute}"),
            format!("r:{}", minute - 1),
            format!("t:{minute}"),
            format!("t:{}", minute - 1),
            "leases".into(),
            "held".into(),
            "reserved".into(),
            "spent:0".into(),
        ]
        .iter()
        .map(|k| format!("{base}{k}"))
        .collect();
        let mut times = Vec::with_capacity(N);
        for i in 0..N {
            let id = format!("rt-{i}");
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(&sha).arg(8).arg(&keys).arg(&[
                "admit",
                &t.to_string(),
                &id,
                "1000000",
                "1000000000",
                "100",
                "1000000000000",
                "500",
                "10000",
                "600000",
                "180000",
                "660000",
                "0",
            ]);
            let started = Instant::now();
            let v: Vec<i64> = eval(&mut conn, script, &cmd).await;
            times.push(started.elapsed());
            assert_eq!(v[0], 1);
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(&sha).arg(8).arg(&keys).arg(&[
                "settle",
                &t.to_string(),
                &id,
                "1000000000",
                "500",
                "400",
                "5000",
                "0",
                "180000",
            ]);
            let _: Vec<i64> = eval(&mut conn, script, &cmd).await;
        }
        times
    });

    let summary = |name: &str, mut v: Vec<Duration>| {
        v.sort_unstable();
        eprintln!(
            "{name}: p50 {:?}  p90 {:?}  p99 {:?}  (n = {})",
            percentile(&v, 0.5),
            percentile(&v, 0.9),
            percentile(&v, 0.99),
            v.len()
        );
        percentile(&v, 0.5)
    };
    let direct_p50 = summary("direct EVALSHA admit (same runtime)", direct);
    let admit_p50 = summary("RedisLimits::admit (other runtime)", admits);
    summary("RedisLimits::settle (other runtime)", settles);
    eprintln!(
        "hand-over adds about {:?} at the median",
        admit_p50.saturating_sub(direct_p50)
    );
    assert!(admit_p50 < Duration::from_millis(20));
}
