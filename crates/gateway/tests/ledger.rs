//! The request ledger end to end: every request becomes a row (success, upstream
//! failure, fallback, client disconnect mid-stream) with the tokens the upstream
//! reported, readable through /admin/requests and summed by /admin/usage — on SQLite
//! and, when reachable, on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const CONFIG: &str = r#"
master_key: sk-master-test
providers:
  up: {kind: openai_compatible, base_url: "http://{mock}/v1", api_key: k}
  slow: {kind: openai_compatible, base_url: "http://{mock}/delay_ms=200/v1", api_key: k}
  broken: {kind: openai_compatible, base_url: "http://{mock}/status=500/v1", api_key: k}
models:
  - name: general
    deployments: [{provider: up, model: m, pricing: {input_per_mtok: 1.0, output_per_mtok: 2.0}}]
  - name: flaky
    deployments: [{provider: broken, model: m}]
    fallbacks: [{model: general}]
  - name: failing
    deployments: [{provider: broken, model: m}]
  - name: slowly
    deployments: [{provider: slow, model: m}]
router: {retries: 0, allowed_failures: 1000}
"#;

async fn sqlite() -> switchyard_store::Store {
    let dir = std::env::temp_dir().join(format!("sy-ledger-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let store =
        switchyard_store::Store::connect(&format!("sqlite://{}", dir.join("l.db").display()))
            .await
            .unwrap();
    store.migrate().await.unwrap();
    store
}

/// A fresh PostgreSQL database, or `None` (loudly) when PostgreSQL is not reachable.
async fn postgres() -> Option<(switchyard_store::Store, switchyard_store::Store, String)> {
    let url = std::env::var("SWITCHYARD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = match switchyard_store::Store::connect(&url).await {
        Ok(s) => s,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL not reachable in CI: {e}"
            );
            eprintln!("SKIPPED: PostgreSQL not reachable at {url}: {e}");
            return None;
        }
    };
    let db = format!("sy_gw_ledger_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_raw(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap();
    let store = switchyard_store::Store::connect(&format!("{base}/{db}"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Some((store, admin, db))
}

async fn admin_get(h: &Harness, path: &str) -> Value {
    h.http
        .get(h.url(path))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn rows_for(h: &Harness, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let v = admin_get(h, "/admin/requests?limit=100").await;
        let rows = v["data"].as_array().cloned().unwrap_or_default();
        if rows.len() >= n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("ledger rows did not arrive");
}

async fn scenario(store: switchyard_store::Store) {
    let h = start_with_store(CONFIG, Some(store.clone())).await;

    // 1. Success.
    let ok: Value = h
        .chat(json!({"model": "general", "messages": user("hello"), "metadata": {"team": "a", "tags": ["nightly"]}}))
        .header("x-switchyard-tags", "batch,eu")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // 2. Upstream failure.
    let r = h
        .chat(json!({"model": "failing", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    // 3. Fallback.
    let r = h
        .chat(json!({"model": "flaky", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // 4. Client disconnect mid-stream.
    let mut resp = h
        .chat(json!({"model": "slowly", "messages": user("x"), "stream": true}))
        .send()
        .await
        .unwrap();
    let _ = resp.chunk().await.unwrap();
    let _ = resp.chunk().await.unwrap();
    drop(resp);

    let rows = rows_for(&h, 4).await;
    let by_model = |m: &str| rows.iter().find(|r| r["model"] == m).cloned().unwrap();
    let success = by_model("general");
    assert_eq!(success["status"], 200);
    assert_eq!(success["outcome"], "ok");
    assert_eq!(success["deployment"], "up/m");
    assert_eq!(success["provider"], "up");
    assert_eq!(success["prompt_tokens"], ok["usage"]["prompt_tokens"]);
    assert_eq!(
        success["completion_tokens"],
        ok["usage"]["completion_tokens"]
    );
    assert_eq!(success["tags"], json!(["nightly", "batch", "eu"]));
    assert_eq!(success["metadata"]["team"], "a");
    assert_eq!(success["priced"], true);
    let cost = success["cost_usd"].as_f64().unwrap();
    let want = (ok["usage"]["prompt_tokens"].as_f64().unwrap() * 1.0
        + ok["usage"]["completion_tokens"].as_f64().unwrap() * 2.0)
        / 1e6;
    assert!((cost - want).abs() < 1e-12, "{cost} vs {want}");
    assert_eq!(success["attempts"].as_array().unwrap().len(), 1);
    assert!(success["client_ip"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1"));

    let failed = by_model("failing");
    assert_eq!(
        (failed["status"].as_u64(), failed["outcome"].as_str()),
        (Some(502), Some("upstream_error"))
    );
    assert_eq!(failed["error_class"], "server_error");
    assert_eq!(failed["priced"], false);

    let fell = by_model("flaky");
    assert_eq!(fell["served_model"], "general");
    let attempts = fell["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["error_class"], "server_error");
    assert!(attempts[1]["error_class"].is_null());

    let gone = by_model("slowly");
    assert_eq!(gone["outcome"], "client_disconnected");
    assert_eq!(gone["stream"], true);

    // One row by id.
    let id = success["request_id"].as_str().unwrap();
    let one = admin_get(&h, &format!("/admin/requests/{id}")).await;
    assert_eq!(one["request_id"], id);
    // Filters and the cursor.
    let page = admin_get(&h, "/admin/requests?model=general").await;
    assert!(page["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["model"] == "general"));
    let first = admin_get(&h, "/admin/requests?limit=2").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = admin_get(&h, &format!("/admin/requests?limit=2&cursor={cursor}")).await;
    let ids: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "no row twice across pages");
    let by_status = admin_get(&h, "/admin/requests?status=502").await;
    assert_eq!(by_status["data"].as_array().unwrap().len(), 1);

    // Usage sums equal the ledger's rows.
    let usage = admin_get(&h, "/admin/usage?group_by=model&bucket=hour").await;
    let usage_rows = usage["data"].as_array().unwrap();
    let requests: u64 = usage_rows
        .iter()
        .map(|r| r["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(requests, rows.len() as u64, "{usage}");
    let input: u64 = usage_rows
        .iter()
        .map(|r| r["input_tokens"].as_u64().unwrap())
        .sum();
    let input_rows: u64 = rows
        .iter()
        .map(|r| r["prompt_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(input, input_rows);
    let cost_usage: f64 = usage_rows
        .iter()
        .map(|r| r["cost_usd"].as_f64().unwrap())
        .sum();
    let cost_rows: f64 = rows.iter().map(|r| r["cost_usd"].as_f64().unwrap()).sum();
    assert!((cost_usage - cost_rows).abs() < 1e-9);
    let general = usage_rows.iter().find(|r| r["group"] == "general").unwrap();
    assert!(general["p50_ms"].as_f64().unwrap() > 0.0);
    let bad = h
        .http
        .get(h.url("/admin/usage?group_by=colour"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn ledger_rows_and_usage_on_sqlite() {
    scenario(sqlite().await).await;
}

#[tokio::test]
async fn ledger_rows_and_usage_on_postgres() {
    let Some((store, admin, db)) = postgres().await else {
        return;
    };
    scenario(store.clone()).await;
    store.close().await;
    admin
        .execute_raw(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .unwrap();
}

#[tokio::test]
async fn shutdown_flushes_the_queue() {
    let store = sqlite().await;
    let mut h = start_with_store(CONFIG, Some(store.clone())).await;
    for _ in 0..5 {
        h.chat(json!({"model": "general", "messages": user("x")}))
            .send()
            .await
            .unwrap();
    }
    h.shutdown();
    h.server.take().unwrap().await.unwrap().unwrap();
    let page = store
        .list_requests(&switchyard_store::RequestFilter::default())
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 5);
}

#[tokio::test]
async fn bodies_are_kept_only_where_enabled_capped_and_redacted() {
    let config = r#"
master_key: sk-master-test
ledger: {body_max_bytes: 300, redact: [content]}
providers:
  up: {kind: openai_compatible, base_url: "http://{mock}/v1", api_key: k}
models:
  - {name: audited, log_bodies: true, deployments: [{provider: up, model: m}]}
  - {name: private, deployments: [{provider: up, model: m}]}
"#;
    let h = start_with_store(config, Some(sqlite().await)).await;
    for model in ["audited", "private"] {
        let r = h
            .chat(json!({"model": model, "messages": user("my secret question")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let mut resp = h
        .chat(json!({"model": "audited", "messages": user("streamed secret"), "stream": true}))
        .send()
        .await
        .unwrap();
    while resp.chunk().await.unwrap().is_some() {}
    let rows = rows_for(&h, 3).await;
    let audited: Vec<&Value> = rows.iter().filter(|r| r["model"] == "audited").collect();
    assert_eq!(audited.len(), 2);
    for r in &audited {
        let req = r["request_body"].as_str().unwrap();
        assert!(
            !req.contains("secret") && req.contains("[redacted]"),
            "{req}"
        );
        let resp = r["response_body"].as_str().unwrap();
        assert!(resp.len() <= 300 + "…[truncated]".len(), "{}", resp.len());
        assert!(
            resp.contains("Hello") || resp.contains("[redacted]") || resp.contains("data:"),
            "{resp}"
        );
    }
    let private = rows.iter().find(|r| r["model"] == "private").unwrap();
    assert!(private["request_body"].is_null() && private["response_body"].is_null());
}

/// Every route records which API it served and the media units it billed: images
/// generated, characters spoken; usage groups them by endpoint.
async fn media_scenario(store: switchyard_store::Store) {
    let config = r#"
master_key: sk-master-test
providers:
  up: {kind: openai_compatible, base_url: "http://{mock}/v1", api_key: k}
models:
  - name: general
    deployments: [{provider: up, model: m}]
  - name: pics
    deployments: [{provider: up, model: dall-e-2, pricing: {input_per_mtok: 0, output_per_mtok: 0, per_image: 0.5}}]
  - name: vectors
    deployments: [{provider: up, model: text-embedding-3-small, pricing: {input_per_mtok: 1000.0, output_per_mtok: 0}}]
  - name: voice
    deployments: [{provider: up, model: tts-1, pricing: {input_per_mtok: 0, output_per_mtok: 0, per_mchar: 15.0}}]
"#;
    let h = start_with_store(config, Some(store)).await;
    let post = |path: &str, body: Value| {
        h.http
            .post(h.url(path))
            .bearer_auth(MASTER)
            .json(&body)
            .send()
    };
    let r = post(
        "/v1/images/generations",
        json!({"model": "pics", "prompt": "a lighthouse", "n": 2, "response_format": "b64_json"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let images: Value = r.json().await.unwrap();
    assert_eq!(images["data"].as_array().unwrap().len(), 2);
    let r = post(
        "/v1/embeddings",
        json!({"model": "vectors", "input": ["first text", "second text"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let embeddings: Value = r.json().await.unwrap();
    let r = post(
        "/v1/audio/speech",
        json!({"model": "voice", "input": "hello world", "voice": "alloy"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap();
    let r = post(
        "/v1/messages",
        json!({"model": "general", "max_tokens": 16, "messages": user("hi")}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = h
        .chat(json!({"model": "general", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let rows = rows_for(&h, 5).await;
    let by_endpoint = |e: &str| {
        let found: Vec<&Value> = rows.iter().filter(|r| r["endpoint"] == e).collect();
        assert_eq!(found.len(), 1, "one {e} row in {rows:?}");
        found[0].clone()
    };
    let img = by_endpoint("images.generations");
    assert_eq!(img["model"], "pics");
    assert_eq!(
        (
            img["images"].as_u64(),
            img["audio_ms"].as_u64(),
            img["characters"].as_u64()
        ),
        (Some(2), Some(0), Some(0))
    );
    assert!(
        (img["cost_usd"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{img}"
    );
    let emb = by_endpoint("embeddings");
    assert_eq!(emb["model"], "vectors");
    assert_eq!(emb["prompt_tokens"], embeddings["usage"]["prompt_tokens"]);
    assert_eq!(emb["images"], 0);
    let speech = by_endpoint("audio.speech");
    assert_eq!(speech["characters"], 11);
    assert!((speech["cost_usd"].as_f64().unwrap() - 11.0 * 15.0 / 1e6).abs() < 1e-12);
    assert_eq!(by_endpoint("messages")["model"], "general");
    let chat = by_endpoint("chat.completions");
    assert_eq!(
        (chat["images"].as_u64(), chat["characters"].as_u64()),
        (Some(0), Some(0))
    );

    // One row by id, and the endpoint filter.
    let id = img["request_id"].as_str().unwrap();
    let one = admin_get(&h, &format!("/admin/requests/{id}")).await;
    assert_eq!(
        (one["endpoint"].as_str(), one["images"].as_u64()),
        (Some("images.generations"), Some(2))
    );
    let page = admin_get(&h, "/admin/requests?endpoint=embeddings").await;
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["request_id"], emb["request_id"]);

    // Usage grouped by endpoint, with the units summed.
    let usage = admin_get(&h, "/admin/usage?group_by=endpoint&bucket=day").await;
    let usage_rows = usage["data"].as_array().unwrap();
    let group = |g: &str| {
        usage_rows
            .iter()
            .find(|r| r["group"] == g)
            .cloned()
            .unwrap()
    };
    assert_eq!(usage_rows.len(), 5, "{usage}");
    assert_eq!(
        (
            group("images.generations")["requests"].as_u64(),
            group("images.generations")["images"].as_u64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(group("audio.speech")["characters"], 11);
    assert_eq!(group("embeddings")["input_tokens"], emb["prompt_tokens"]);
    // Every grouping carries the unit sums.
    let usage = admin_get(&h, "/admin/usage?group_by=model&bucket=day").await;
    let images: u64 = usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["images"].as_u64().unwrap())
        .sum();
    assert_eq!(images, 2);
}

#[tokio::test]
async fn media_rows_record_endpoint_and_units_on_sqlite() {
    media_scenario(sqlite().await).await;
}

#[tokio::test]
async fn media_rows_record_endpoint_and_units_on_postgres() {
    let Some((store, admin, db)) = postgres().await else {
        return;
    };
    media_scenario(store.clone()).await;
    store.close().await;
    admin
        .execute_raw(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .unwrap();
}
