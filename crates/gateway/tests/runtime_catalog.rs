//! `/admin/providers` and `/admin/models`: the catalog managed at runtime, with
//! provider keys sealed at rest, live on every replica within a second.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
master_key: sk-master-test
providers:
  fixed: {kind: openai_compatible, base_url: "http://{mock}/v1", api_key: sk-config-secret}
models:
  - name: general
    deployments: [{provider: fixed, model: m}]
"#;

async fn sqlite() -> switchyard_store::Store {
    let dir = std::env::temp_dir().join(format!("sy-rt-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let store =
        switchyard_store::Store::connect(&format!("sqlite://{}", dir.join("rt.db").display()))
            .await
            .unwrap();
    store.migrate().await.unwrap();
    store
}

async fn call(
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

#[tokio::test]
async fn providers_and_models_at_runtime() {
    std::env::set_var(
        "SWITCHYARD_ENCRYPTION_KEY",
        "test-encryption-passphrase-0123456789",
    );
    let store = sqlite().await;
    let (mock, _) = switchyard_mock_provider::spawn(switchyard_mock_provider::MockConfig {
        record: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let a = start_full_with(CONFIG, mock, Some(store.clone())).await;
    let b = start_full_with(CONFIG, mock, Some(store.clone())).await;
    use reqwest::Method;

    let (status, p) = call(
        &a,
        Method::POST,
        "/admin/providers",
        Some(json!({"name": "rt", "kind": "openai_compatible", "base_url": format!("http://{mock}/v1"), "api_key": "sk-runtime-secret"})),
    )
    .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["secrets"], json!(["api_key"]));
    assert!(!p.to_string().contains("sk-runtime-secret"));
    // Sealed at rest.
    let stored = store.get_provider("rt").await.unwrap().unwrap();
    let sealed = stored.secret.unwrap();
    assert!(!sealed.windows(9).any(|w| w == b"sk-runtim"));
    assert!(!stored.config.to_string().contains("sk-runtime-secret"));

    let (status, m) = call(
        &a,
        Method::POST,
        "/admin/models",
        Some(json!({"name": "rt-model", "strategy": "ordered", "deployments": [{"provider": "rt", "model": "up-m"}]})),
    )
    .await;
    assert_eq!(status, 201, "{m}");
    let r = a
        .chat(json!({"model": "rt-model", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-deployment"], "rt/up-m");
    let seen = a.mock_requests().await;
    assert_eq!(
        seen.last().unwrap()["headers"]["authorization"],
        "Bearer sk-runtime-secret"
    );

    // The other replica serves it within a second.
    let t = Instant::now();
    loop {
        let r = b
            .chat(json!({"model": "rt-model", "messages": user("x")}))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "replica B did not pick up the model in time"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Listings show both sources, never secrets.
    let (_, list) = call(&a, Method::GET, "/admin/providers", None).await;
    let text = list.to_string();
    assert!(
        !text.contains("sk-config-secret") && !text.contains("sk-runtime-secret"),
        "{text}"
    );
    let sources: Vec<(&str, &str)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["source"].as_str().unwrap()))
        .collect();
    assert!(sources.contains(&("fixed", "config")) && sources.contains(&("rt", "runtime")));

    // Conflicts and invalid entries are refused with the reason.
    let (status, e) = call(
        &a,
        Method::POST,
        "/admin/providers",
        Some(json!({"name": "fixed", "kind": "openai"})),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (409, Some("defined_in_config"))
    );
    let (status, e) = call(
        &a,
        Method::POST,
        "/admin/models",
        Some(json!({"name": "bad", "deployments": [{"provider": "nope", "model": "x"}]})),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("invalid_catalog")),
        "{e}"
    );
    assert!(e["error"]["message"].as_str().unwrap().contains("nope"));
    let (status, _) = call(&a, Method::DELETE, "/admin/providers/rt", None).await;
    assert_eq!(status, 409, "in use by rt-model");

    // Patch keeps the secret; a key change applies.
    let (status, p) = call(
        &a,
        Method::PATCH,
        "/admin/providers/rt",
        Some(json!({"base_url": format!("http://{mock}/patched/v1")})),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["secrets"], json!(["api_key"]));
    a.chat(json!({"model": "rt-model", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    let seen = a.mock_requests().await;
    let last = seen.last().unwrap();
    assert!(last["path"].as_str().unwrap().starts_with("/patched/"));
    assert_eq!(last["headers"]["authorization"], "Bearer sk-runtime-secret");

    // Deleting the model, then the provider.
    assert_eq!(
        call(&a, Method::DELETE, "/admin/models/rt-model", None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&a, Method::DELETE, "/admin/providers/rt", None)
            .await
            .0,
        200
    );
    let r = a
        .chat(json!({"model": "rt-model", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // A config that now defines a runtime name refuses to start with it.
    call(
        &a,
        Method::POST,
        "/admin/models",
        Some(json!({"name": "clash", "deployments": [{"provider": "fixed", "model": "m"}]})),
    )
    .await;
    let clashing = CONFIG.replace(
        "models:\n",
        "models:\n  - {name: clash, deployments: [{provider: fixed, model: m}]}\n",
    );
    let text = clashing.replace("{mock}", &mock.to_string());
    let config = switchyard_config::parse_str("c.yaml", &text, &|_: &str| None).unwrap();
    let g = switchyard_gateway::Gateway::build(&config, Some(store.clone())).unwrap();
    let err = g.load_runtime_catalog().await.unwrap_err();
    assert!(err.contains("clash") && err.contains("both"), "{err}");
}
