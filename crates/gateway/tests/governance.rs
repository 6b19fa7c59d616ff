//! Virtual keys through the policy step: scopes, limits, budgets with reservations.
//! Keys are put straight into the gateway's key cache here; the store-backed admin
//! API has its own tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use switchyard_gateway::governance::keys::{hash, KeySpec};
use switchyard_gateway::governance::period::Period;

const CONFIG: &str = r#"
master_key: sk-master-test
providers:
  up: {kind: openai_compatible, base_url: "http://{mock}/delay_ms=20/v1", api_key: k}
models:
  - name: general
    deployments:
      - {provider: up, model: m, pricing: {input_per_mtok: 1000.0, output_per_mtok: 1000.0}}
  - name: other
    deployments: [{provider: up, model: m}]
"#;

fn key(id: &str, secret: &str) -> KeySpec {
    KeySpec {
        id: id.into(),
        name: format!("{id}-name"),
        hash: hash(secret),
        models: vec![],
        budget_usd: None,
        period: None,
        rpm: None,
        tpm: None,
        max_concurrency: None,
        expires_at_ms: None,
        revoked: false,
        log_bodies: false,
    }
}

fn chat(h: &Harness, secret: &str, model: &str) -> reqwest::RequestBuilder {
    h.http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(secret)
        .json(&json!({"model": model, "messages": user("Say hello"), "max_tokens": 20}))
}

#[tokio::test]
async fn scope_limits_the_models_a_key_may_use() {
    let h = start(CONFIG).await;
    let mut k = key("scoped", "sk-sy-scoped");
    k.models = vec!["general".into(), "up/*".into()];
    h.state.policy.keys.replace(vec![k]);
    assert_eq!(
        chat(&h, "sk-sy-scoped", "general")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        chat(&h, "sk-sy-scoped", "up/anything")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = chat(&h, "sk-sy-scoped", "other").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "model_not_allowed");
    // /v1/models lists only what the key may use.
    let v: Value = h
        .http
        .get(h.url("/v1/models"))
        .bearer_auth("sk-sy-scoped")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["general", "up/m"]);
    // A virtual key cannot use the admin API.
    let r = h
        .http
        .get(h.url("/admin/deployments"))
        .bearer_auth("sk-sy-scoped")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Records carry the key id.
    h.eventually("records", || h.records().len() >= 3).await;
}

#[tokio::test]
async fn rpm_refuses_with_retry_after_and_ratelimit_headers() {
    let h = start(CONFIG).await;
    let mut k = key("rpm", "sk-sy-rpm");
    k.rpm = Some(3);
    h.state.policy.keys.replace(vec![k]);
    for i in 0..3u64 {
        let r = chat(&h, "sk-sy-rpm", "general").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-ratelimit-limit-requests"], "3");
        assert_eq!(
            r.headers()["x-ratelimit-remaining-requests"]
                .to_str()
                .unwrap(),
            (2 - i).to_string()
        );
    }
    let r = chat(&h, "sk-sy-rpm", "general").send().await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(r.headers()["x-ratelimit-remaining-requests"], "0");
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "rate_limit_error");
    // The master key is not limited.
    let r = h
        .chat(json!({"model": "general", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn max_concurrency_counts_requests_in_flight() {
    let h = start(CONFIG).await;
    let mut k = key("conc", "sk-sy-conc");
    k.max_concurrency = Some(2);
    h.state.policy.keys.replace(vec![k]);
    let sends = (0..6).map(|_| chat(&h, "sk-sy-conc", "general").send());
    let statuses: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, limited), (2, 4), "{statuses:?}");
    // Slots come back once the requests end.
    assert_eq!(
        chat(&h, "sk-sy-conc", "general")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// A budget for about ten requests, fifty sent at once: only the reservations that
/// fit pass, and the spend never exceeds the budget.
#[tokio::test]
async fn budget_holds_under_fifty_concurrent_requests() {
    let h = start(CONFIG).await;
    // Each request reserves (prompt estimate + 20 output tokens) at $1000/Mtok ≈ $0.03;
    // its actual cost is (prompt + 12) tokens, a bit less.
    let mut k = key("budget", "sk-sy-budget");
    k.budget_usd = Some(0.3);
    k.period = Some(Period::Month);
    h.state.policy.keys.replace(vec![k]);
    let sends = (0..50).map(|_| chat(&h, "sk-sy-budget", "general").send());
    let responses = futures_util::future::join_all(sends).await;
    let mut spent = 0.0;
    let mut ok = 0;
    let mut refused = 0;
    for r in responses {
        let r = r.unwrap();
        match r.status().as_u16() {
            200 => {
                ok += 1;
                spent += r.headers()["x-switchyard-cost-usd"]
                    .to_str()
                    .unwrap()
                    .parse::<f64>()
                    .unwrap();
            }
            402 => {
                refused += 1;
                let e: Value = r.json().await.unwrap();
                assert_eq!(e["error"]["code"], "budget_exceeded");
            }
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!(ok + refused, 50);
    assert!((5..=10).contains(&ok), "{ok} admitted");
    assert!(spent <= 0.3 + 1e-9, "spent {spent}");
    // Keep going one at a time until refused: the total stays within the budget plus
    // at most one request's cost.
    let mut last_cost = 0.0;
    for _ in 0..20 {
        let r = chat(&h, "sk-sy-budget", "general").send().await.unwrap();
        if r.status() == 402 {
            break;
        }
        last_cost = r.headers()["x-switchyard-cost-usd"]
            .to_str()
            .unwrap()
            .parse::<f64>()
            .unwrap();
        spent += last_cost;
    }
    assert!(spent <= 0.3 + last_cost + 1e-9, "spent {spent}");
    assert_eq!(
        chat(&h, "sk-sy-budget", "general")
            .send()
            .await
            .unwrap()
            .status(),
        402
    );
}

#[tokio::test]
async fn revoked_and_expired_keys_are_refused() {
    let h = start(CONFIG).await;
    let mut gone = key("gone", "sk-sy-gone");
    gone.revoked = true;
    let mut old = key("old", "sk-sy-old");
    old.expires_at_ms = Some(1);
    h.state
        .policy
        .keys
        .replace(vec![gone, old, key("live", "sk-sy-live")]);
    for (secret, status) in [("sk-sy-gone", 401), ("sk-sy-old", 401), ("sk-sy-live", 200)] {
        assert_eq!(
            chat(&h, secret, "general").send().await.unwrap().status(),
            status,
            "{secret}"
        );
    }
}
