//! The document against the contract's route table (INTERFACE.md) and the router.

use super::*;
use http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

/// INTERFACE.md's HTTP and admin API tables, route by route (plus the `/chat/completions`
/// alias the router also serves).
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/v1/chat/completions"),
    ("post", "/chat/completions"),
    ("post", "/v1/responses"),
    ("get", "/v1/responses/{id}"),
    ("delete", "/v1/responses/{id}"),
    ("post", "/v1/messages"),
    ("post", "/v1/messages/count_tokens"),
    ("post", "/v1/embeddings"),
    ("post", "/v1/images/generations"),
    ("post", "/v1/audio/transcriptions"),
    ("post", "/v1/audio/speech"),
    ("get", "/v1/models"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("post", "/admin/keys"),
    ("get", "/admin/keys"),
    ("get", "/admin/keys/{id}"),
    ("patch", "/admin/keys/{id}"),
    ("delete", "/admin/keys/{id}"),
    ("get", "/admin/usage"),
    ("get", "/admin/requests"),
    ("get", "/admin/requests/{request_id}"),
    ("get", "/admin/deployments"),
    ("post", "/admin/providers"),
    ("get", "/admin/providers"),
    ("get", "/admin/providers/{name}"),
    ("patch", "/admin/providers/{name}"),
    ("delete", "/admin/providers/{name}"),
    ("post", "/admin/models"),
    ("get", "/admin/models"),
    ("get", "/admin/models/{name}"),
    ("patch", "/admin/models/{name}"),
    ("delete", "/admin/models/{name}"),
];

/// Unauthenticated routes.
const PUBLIC: &[&str] = &["/health/live", "/health/ready", "/metrics", "/openapi.json"];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn doc_json() -> Value {
    serde_json::to_value(document()).expect("the document serializes")
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(*m) {
                out.push((m.to_string(), path.clone(), op.clone()));
            }
        }
    }
    out
}

#[test]
fn is_openapi_3_1_with_every_route_of_the_contract() {
    let doc = doc_json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string());
    let mut documented: Vec<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let mut contract: Vec<(String, String)> = CONTRACT
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    contract.sort();
    assert_eq!(documented, contract, "documented routes vs. INTERFACE.md");
    // Operation ids are unique (clients generate method names from them).
    let mut ids: Vec<String> = operations(&doc)
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "operation ids must be unique");
}

#[test]
fn every_operation_declares_security_and_errors() {
    let doc = doc_json();
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    for s in ["bearer", "x_api_key", "api_key"] {
        assert!(schemes.contains_key(s), "security scheme {s}");
    }
    for (method, path, op) in operations(&doc) {
        let what = format!("{method} {path}");
        let security = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no security"));
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{what}: no success response"
        );
        if PUBLIC.contains(&path.as_str()) {
            assert_eq!(security, &vec![serde_json::json!({})], "{what} is public");
            continue;
        }
        let names: Vec<&str> = security
            .iter()
            .filter_map(|r| r.as_object())
            .flat_map(|o| o.keys().map(String::as_str))
            .collect();
        assert_eq!(
            names,
            ["bearer", "x_api_key", "api_key"],
            "{what}: key headers"
        );
        let error_schema = if path.starts_with("/v1/messages") {
            "#/components/schemas/AnthropicError"
        } else {
            "#/components/schemas/OpenAiError"
        };
        let mut expected = vec!["401"];
        if path.starts_with("/admin/") {
            expected.push("403");
        }
        let inference = method == "post" && !path.starts_with("/admin/");
        if inference {
            expected.extend(["400", "403", "404", "413", "429", "502", "504"]);
            if !path.ends_with("count_tokens") {
                expected.extend(["402", "503"]);
            }
        }
        if path.contains('{') {
            expected.push("404");
        }
        for status in expected {
            let r = responses
                .get(status)
                .unwrap_or_else(|| panic!("{what}: no {status} response"));
            assert_eq!(
                r["content"]["application/json"]["schema"]["$ref"], error_schema,
                "{what} {status}: error shape"
            );
            assert!(
                r["headers"].get("x-request-id").is_some(),
                "{what} {status}"
            );
        }
        for status in ["429", "503"] {
            if let Some(r) = responses.get(status) {
                assert!(r["headers"].get("retry-after").is_some(), "{what} {status}");
            }
        }
    }
}

/// Every documented route is served by the router (its answer is not the unknown-URL
/// fallback).
#[tokio::test]
async fn the_router_serves_what_is_documented() {
    let yaml = "master_key: sk-test\nproviders:\n  sim: {kind: openai_compatible, base_url: \"http://127.0.0.1:9/v1\", api_key: k}\nmodels:\n  - name: general\n    deployments: [{provider: sim, model: sim-model}]\n";
    let config = switchyard_config::parse_str("test.yaml", yaml, &|_: &str| None).expect("config");
    let gateway = crate::Gateway::build(&config, None).expect("gateway");
    let router = gateway.router();
    for (method, path) in CONTRACT {
        let uri = path
            .replace("{id}", "k1")
            .replace("{name}", "n1")
            .replace("{request_id}", "r1");
        let req = Request::builder()
            .method(Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"))
            .uri(&uri)
            .body(axum::body::Body::from("{}"))
            .expect("request");
        let resp = router.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        let unknown = status == StatusCode::NOT_FOUND
            && String::from_utf8_lossy(&body).contains("unknown_url");
        assert!(
            !unknown,
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    // The served document is the one generated here.
    let req = Request::builder()
        .uri("/openapi.json")
        .body(axum::body::Body::empty())
        .expect("request");
    let resp = router.oneshot(req).await.expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().contains_key("x-request-id"));
    let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .expect("body");
    let served: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(served, doc_json());
}
