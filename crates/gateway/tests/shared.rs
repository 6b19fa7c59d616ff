//! Deployment health shared between replicas through Redis: a cooldown one gateway
//! decides is seen by another within a second.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn redis_url() -> String {
    std::env::var("SWITCHYARD_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Whether Redis answers; when it does not, the test is skipped loudly (and fails in CI).
fn redis_reachable(url: &str) -> bool {
    let addr = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .to_string();
    let ok = std::net::TcpStream::connect_timeout(
        &addr
            .parse()
            .unwrap_or_else(|_| "127.0.0.1:6379".parse().unwrap()),
        Duration::from_millis(500),
    )
    .is_ok();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "Redis not reachable at {url}, and CI is set"
        );
        eprintln!("SKIPPED: Redis not reachable at {url}");
    }
    ok
}

async fn state_of(h: &Harness, label: &str) -> Value {
    let v: Value = h
        .http
        .get(h.url("/admin/deployments"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["deployment"] == label)
        .cloned()
        .unwrap_or_else(|| panic!("no {label} in {v}"))
}

#[tokio::test]
async fn a_cooldown_on_one_replica_reaches_the_other() {
    let url = redis_url();
    if !redis_reachable(&url) {
        return;
    }
    // A provider name of its own, so concurrent runs on one Redis do not meet.
    let provider = format!("p{}", uuid::Uuid::new_v4().simple());
    let yaml = format!(
        r#"
master_key: sk-master-test
redis: {url}
providers:
  {provider}: {{kind: openai_compatible, base_url: "http://{{mock}}/status=500/v1", api_key: k}}
models:
  - name: flaky
    deployments: [{{provider: {provider}, model: m}}]
router:
  retries: 0
  allowed_failures: 1
  cooldown: 20s
"#
    );
    let (mock, _) = switchyard_mock_provider::spawn(switchyard_mock_provider::MockConfig {
        record: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let a = start_with_mock(&yaml, mock).await;
    let b = start_with_mock(&yaml, mock).await;
    let label = format!("{provider}/m");
    // Both replicas connected to Redis (readiness says so).
    for h in [&a, &b] {
        h.eventually_async("redis connected", || async {
            let r = h.http.get(h.url("/health/ready")).send().await.unwrap();
            r.status() == 200
        })
        .await;
    }
    assert_eq!(state_of(&b, &label).await["state"], "healthy");

    let r = a
        .chat(json!({"model": "flaky", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(state_of(&a, &label).await["state"], "cooling_down");

    let started = Instant::now();
    loop {
        if state_of(&b, &label).await["state"] == "cooling_down" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "replica B did not learn of the cooldown within a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // B now skips the deployment without calling it: 503, and the mock saw one request.
    let r = b
        .chat(json!({"model": "flaky", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let stats = a.mock_stats().await;
    assert_eq!(stats["total"], 1, "{stats}");
}

/// Two replicas sharing Redis enforce one RPM limit, not one each: limit 20, 40
/// requests spread over both, exactly 20 pass.
#[tokio::test]
async fn two_replicas_enforce_one_rpm_limit_through_redis() {
    use switchyard_gateway::governance::keys::{hash, KeySpec};
    let url = redis_url();
    if !redis_reachable(&url) {
        return;
    }
    let yaml = format!(
        r#"
master_key: sk-master-test
redis: {url}
providers:
  up: {{kind: openai_compatible, base_url: "http://{{mock}}/v1", api_key: k}}
models:
  - name: general
    deployments: [{{provider: up, model: m}}]
"#
    );
    let (mock, _) =
        switchyard_mock_provider::spawn(switchyard_mock_provider::MockConfig::default())
            .await
            .unwrap();
    let a = start_with_mock(&yaml, mock).await;
    let b = start_with_mock(&yaml, mock).await;
    // The same key on both (as the store would give it), with an id of its own so
    // concurrent runs on one Redis do not meet.
    let id = format!("key_{}", uuid::Uuid::new_v4().simple());
    let spec = KeySpec {
        id,
        name: "shared-rpm".into(),
        hash: hash("sk-sy-shared-rpm"),
        models: vec![],
        budget_usd: None,
        period: None,
        rpm: Some(20),
        tpm: None,
        max_concurrency: None,
        expires_at_ms: None,
        revoked: false,
        log_bodies: false,
    };
    a.state.policy.keys.replace(vec![spec.clone()]);
    b.state.policy.keys.replace(vec![spec]);
    let send = |h: &Harness| {
        h.http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth("sk-sy-shared-rpm")
            .json(&json!({"model": "general", "messages": user("x")}))
            .send()
    };
    let mut futures = Vec::new();
    for i in 0..40 {
        futures.push(send(if i % 2 == 0 { &a } else { &b }));
    }
    let statuses: Vec<u16> = futures_util::future::join_all(futures)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, limited), (20, 20), "{statuses:?}");
}
