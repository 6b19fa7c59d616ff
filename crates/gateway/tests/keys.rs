//! The `/admin/keys` API on a real store (SQLite here; the same code runs on
//! PostgreSQL, whose store tests cover the queries): lifecycle, limits changed at
//! runtime, revocation reaching a second replica within a second, spend persisted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
master_key: sk-master-test
providers:
  up: {kind: openai_compatible, base_url: "http://{mock}/v1", api_key: k}
models:
  - name: general
    deployments:
      - {provider: up, model: m, pricing: {input_per_mtok: 1000.0, output_per_mtok: 1000.0}}
  - name: other
    deployments: [{provider: up, model: m}]
"#;

async fn sqlite_store(dir: &std::path::Path) -> switchyard_store::Store {
    let url = format!("sqlite://{}", dir.join("keys.db").display());
    let store = switchyard_store::Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sy-keys-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn admin(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = h.http.request(method, h.url(path)).bearer_auth(MASTER);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn chat_with(h: &Harness, key: &str, model: &str) -> reqwest::Response {
    h.http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": user("hello"), "max_tokens": 20}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn key_lifecycle_through_the_admin_api() {
    let dir = tmpdir("life");
    let store = sqlite_store(&dir).await;
    let h = start_with_store(CONFIG, Some(store.clone())).await;

    let (status, created) = admin(
        &h,
        reqwest::Method::POST,
        "/admin/keys",
        Some(json!({"name": "team-a", "models": ["general"], "budget_usd": 5, "budget_period": "month", "rpm": 100, "metadata": {"team": "a"}})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk-sy-"));
    assert_eq!(created["budget_period"], "month");
    assert_eq!(created["metadata"]["team"], "a");

    // Shown once: never again, and not stored in clear.
    let (_, list) = admin(&h, reqwest::Method::GET, "/admin/keys", None).await;
    let text = list.to_string();
    assert!(!text.contains(&key), "{text}");
    assert_eq!(list["data"][0]["id"], id);
    let (_, one) = admin(&h, reqwest::Method::GET, &format!("/admin/keys/{id}"), None).await;
    assert!(one.get("key").is_none());

    // It works at once on this replica, within its scope.
    let r = chat_with(&h, &key, "general").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-limit-requests"], "100");
    assert_eq!(chat_with(&h, &key, "other").await.status(), 403);

    // Limits change at runtime.
    let (status, patched) = admin(
        &h,
        reqwest::Method::PATCH,
        &format!("/admin/keys/{id}"),
        Some(json!({"rpm": 1, "models": null})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["rpm"], 1);
    // The scope is cleared (no 403), and the request made earlier this minute already
    // uses the new limit of 1.
    let r = chat_with(&h, &key, "other").await;
    assert_eq!(r.status(), 429, "rpm 1");
    assert_eq!(r.headers()["x-ratelimit-limit-requests"], "1");

    // Spend is recorded for the period.
    h.eventually_async("spend flushed", || async {
        let (_, one) = admin(&h, reqwest::Method::GET, &format!("/admin/keys/{id}"), None).await;
        one["spend_usd"].as_f64().unwrap_or(0.0) > 0.0
    })
    .await;

    // Bad input is named.
    let (status, e) = admin(
        &h,
        reqwest::Method::POST,
        "/admin/keys",
        Some(json!({"name": "x", "budget_period": "fortnight", "budget_usd": 1})),
    )
    .await;
    assert_eq!(
        (status, e["error"]["param"].as_str()),
        (400, Some("budget_period"))
    );
    let (status, e) = admin(
        &h,
        reqwest::Method::POST,
        "/admin/keys",
        Some(json!({"name": "x", "colour": "red"})),
    )
    .await;
    assert_eq!(
        (status, e["error"]["param"].as_str()),
        (400, Some("colour"))
    );

    // Revoked: refused.
    let (status, _) = admin(
        &h,
        reqwest::Method::DELETE,
        &format!("/admin/keys/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(chat_with(&h, &key, "general").await.status(), 401);
    let (status, _) = admin(&h, reqwest::Method::DELETE, "/admin/keys/key_nope", None).await;
    assert_eq!(status, 404);
    // Virtual keys cannot manage keys.
    let r = h
        .http
        .get(h.url("/admin/keys"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn revocation_reaches_a_second_replica_within_a_second_and_spend_survives() {
    let dir = tmpdir("replicas");
    let store = sqlite_store(&dir).await;
    let (mock, _) =
        switchyard_mock_provider::spawn(switchyard_mock_provider::MockConfig::default())
            .await
            .unwrap();
    let a = start_full_with(CONFIG, mock, Some(store.clone())).await;
    let b = start_full_with(CONFIG, mock, Some(sqlite_store(&dir).await)).await;

    let (_, created) = admin(
        &a,
        reqwest::Method::POST,
        "/admin/keys",
        Some(json!({"name": "shared", "budget_usd": 10})),
    )
    .await;
    let key = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    // B learns of the new key by polling.
    b.eventually_async("key known on B", || async {
        chat_with(&b, &key, "general").await.status() == 200
    })
    .await;

    let (status, _) = admin(
        &a,
        reqwest::Method::DELETE,
        &format!("/admin/keys/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let revoked = Instant::now();
    loop {
        if chat_with(&b, &key, "general").await.status() == 401 {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "B still accepts the revoked key"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Both replicas' spend reached the store; a restarted gateway sees it.
    a.eventually_async("spend flushed", || async {
        let (_, one) = admin(&a, reqwest::Method::GET, &format!("/admin/keys/{id}"), None).await;
        one["spend_usd"].as_f64().unwrap_or(0.0) > 0.0
    })
    .await;
    let spent_before: f64 = {
        let mut total = 0.0;
        for _ in 0..100 {
            total = store.spend(&id, 0).await.unwrap();
            if total > 0.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        total
    };
    assert!(spent_before > 0.0);
    let c = start_full_with(CONFIG, mock, Some(sqlite_store(&dir).await)).await;
    let (_, one) = admin(&c, reqwest::Method::GET, &format!("/admin/keys/{id}"), None).await;
    assert!(
        (one["spend_usd"].as_f64().unwrap() - spent_before).abs() < 1e-9,
        "{one}"
    );
}
