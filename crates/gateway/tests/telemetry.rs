//! OpenTelemetry export: spans made from request records, posted over OTLP/HTTP to an
//! in-test collector.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{json, Value};
use std::time::Duration;

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const STATUS_ERROR: i32 = 2;
const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

const TRACED: &str = r#"
master_key: sk-master-test
providers:
  up:
    kind: openai
    base_url: http://{mock}/a/v1
    api_key: sk-upstream-key-a
  flaky:
    kind: openai_compatible
    base_url: http://{mock}/status=500,fail_times=1/v1
    api_key: sk-flaky
models:
  - name: general
    deployments:
      - provider: up
        model: gpt-up
  - name: shaky
    deployments:
      - {provider: flaky, model: gpt-flaky}
router:
  retries: 1
  allowed_failures: 1000
telemetry:
  otlp_endpoint: {otlp}
  service_name: gw-test
  sample_ratio: {ratio}
  headers: {x-collector-key: collector-secret}
"#;

async fn traced(ratio: &str) -> (Harness, Collector) {
    let collector = Collector::spawn().await;
    let yaml = TRACED
        .replace("{otlp}", &collector.endpoint())
        .replace("{ratio}", ratio);
    (start(&yaml).await, collector)
}

/// The `traceparent` of each upstream request, in order.
async fn upstream_traceparents(h: &Harness) -> Vec<Option<String>> {
    h.mock_requests()
        .await
        .iter()
        .map(|r| r["headers"]["traceparent"].as_str().map(str::to_string))
        .collect()
}

/// `00-trace-span-flags` → (trace, span, flags).
fn split(tp: &str) -> (String, String, String) {
    let p: Vec<&str> = tp.split('-').collect();
    assert_eq!(p.len(), 4, "{tp}");
    (p[1].to_string(), p[2].to_string(), p[3].to_string())
}

async fn flush(h: &Harness) {
    h.state.flush_telemetry(Duration::from_secs(5)).await;
}

fn by_kind(spans: &[(String, Span)], kind: i32) -> Vec<Span> {
    spans
        .iter()
        .filter(|(_, s)| s.kind == kind)
        .map(|(_, s)| s.clone())
        .collect()
}

#[tokio::test]
async fn a_request_becomes_a_server_span_continuing_the_client_trace_and_an_attempt_span() {
    let (h, collector) = traced("1.0").await;
    assert!(h.state.tracing_enabled());
    let resp = h
        .chat(json!({"model": "general", "messages": user("hi")}))
        .header("traceparent", format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    flush(&h).await;

    let sent = upstream_traceparents(&h).await;
    assert_eq!(sent.len(), 1);
    let (up_trace, up_parent, up_flags) = split(sent[0].as_deref().unwrap());
    assert_eq!(up_trace, CLIENT_TRACE);
    assert_eq!(up_flags, "01");

    let spans = collector.spans();
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert!(spans.iter().all(|(service, _)| service == "gw-test"));
    let server = &by_kind(&spans, SERVER)[0];
    let attempt = &by_kind(&spans, CLIENT)[0];

    // The server span continues the client's trace, under the client's span.
    assert_eq!(hex(&server.trace_id), CLIENT_TRACE);
    assert_eq!(hex(&server.parent_span_id), CLIENT_SPAN);
    assert_eq!(server.name, "chat general");
    assert_eq!(server.flags & 0x1, 1, "sampled");
    assert_eq!(server.flags & 0x300, 0x300, "its parent is remote");
    // The attempt span is its child, and the parent the provider was told about.
    assert_eq!(hex(&attempt.trace_id), CLIENT_TRACE);
    assert_eq!(attempt.parent_span_id, server.span_id);
    assert_eq!(hex(&attempt.span_id), up_parent);
    assert_eq!(attempt.name, "chat gpt-up");

    // Explicit timestamps: the attempt lies within the request.
    assert!(server.start_time_unix_nano > 0);
    assert!(server.end_time_unix_nano >= server.start_time_unix_nano);
    assert!(attempt.start_time_unix_nano >= server.start_time_unix_nano);
    assert!(attempt.end_time_unix_nano <= server.end_time_unix_nano);
    assert!(attempt.end_time_unix_nano >= attempt.start_time_unix_nano);

    // GenAI attributes and the gateway's own.
    let input = body["usage"]["prompt_tokens"].as_i64().unwrap();
    let output = body["usage"]["completion_tokens"].as_i64().unwrap();
    for span in [server, attempt] {
        assert_eq!(
            span_attr(span, "gen_ai.operation.name").as_deref(),
            Some("chat")
        );
        assert_eq!(span_attr(span, "gen_ai.system").as_deref(), Some("openai"));
        assert_eq!(
            span_attr(span, "gen_ai.response.model").as_deref(),
            Some("gpt-up")
        );
        assert_eq!(span_int(span, "gen_ai.usage.input_tokens"), Some(input));
        assert_eq!(span_int(span, "gen_ai.usage.output_tokens"), Some(output));
        assert_eq!(span_int(span, "http.response.status_code"), Some(200));
        assert_eq!(
            span_attr(span, "switchyard.request_id").as_deref(),
            Some(request_id.as_str())
        );
        assert_eq!(
            span_attr(span, "switchyard.deployment").as_deref(),
            Some("up/gpt-up")
        );
        assert!(span_attr(span, "error.type").is_none());
        assert_ne!(span.status.as_ref().map_or(0, |s| s.code), STATUS_ERROR);
    }
    assert_eq!(
        span_attr(server, "gen_ai.request.model").as_deref(),
        Some("general")
    );
    assert_eq!(
        span_attr(attempt, "gen_ai.request.model").as_deref(),
        Some("gpt-up")
    );
    assert_eq!(span_int(server, "switchyard.attempts"), Some(1));
    assert!(span_attr(server, "switchyard.cost_usd").is_some());
    let ttft: f64 = span_attr(server, "switchyard.ttft_ms")
        .unwrap()
        .parse()
        .unwrap();
    assert!(ttft >= 0.0);

    // The collector got the configured headers and protobuf.
    let exports = collector.received.lock().unwrap().clone();
    let headers = &exports[0].headers;
    assert_eq!(headers["x-collector-key"], "collector-secret");
    assert_eq!(headers["content-type"], "application/x-protobuf");
}

#[tokio::test]
async fn a_failed_attempt_and_its_retry_are_two_attempt_spans() {
    let (h, collector) = traced("1.0").await;
    // No client traceparent: export is on, so the gateway starts the trace and every
    // attempt still sends one upstream.
    let resp = h
        .chat(json!({"model": "shaky", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-attempts"], "2");
    flush(&h).await;

    let sent: Vec<String> = upstream_traceparents(&h)
        .await
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(sent.len(), 2);
    let (t0, p0, f0) = split(&sent[0]);
    let (t1, p1, _) = split(&sent[1]);
    assert_eq!(t0, t1, "one trace");
    assert_eq!(f0, "01");
    assert_ne!(p0, p1, "one span per attempt");

    let spans = collector.spans();
    let servers = by_kind(&spans, SERVER);
    let mut attempts = by_kind(&spans, CLIENT);
    attempts.sort_by_key(|s| s.start_time_unix_nano);
    assert_eq!(servers.len(), 1);
    assert_eq!(attempts.len(), 2);
    let server = &servers[0];
    assert_eq!(hex(&server.trace_id), t0);
    assert!(
        server.parent_span_id.is_empty(),
        "a new trace has a root span"
    );
    assert_eq!(server.flags & 0x300, 0x100, "no remote parent");
    assert_eq!(span_int(server, "switchyard.attempts"), Some(2));
    assert_eq!(
        span_attr(server, "gen_ai.system").as_deref(),
        Some("openai_compatible")
    );

    let (failed, retried) = (&attempts[0], &attempts[1]);
    assert_eq!(hex(&failed.span_id), p0);
    assert_eq!(hex(&retried.span_id), p1);
    for a in [failed, retried] {
        assert_eq!(a.parent_span_id, server.span_id);
        assert_eq!(a.name, "chat gpt-flaky");
    }
    let status = failed.status.as_ref().unwrap();
    assert_eq!(status.code, STATUS_ERROR);
    assert_eq!(
        span_attr(failed, "error.type").as_deref(),
        Some("server_error")
    );
    assert_eq!(span_int(failed, "http.response.status_code"), Some(500));
    assert!(span_int(failed, "gen_ai.usage.output_tokens").is_none());
    assert_ne!(retried.status.as_ref().map_or(0, |s| s.code), STATUS_ERROR);
    assert_eq!(span_int(retried, "http.response.status_code"), Some(200));
    assert!(span_int(retried, "gen_ai.usage.output_tokens").is_some());
    assert!(retried.start_time_unix_nano >= failed.end_time_unix_nano);
    // The request itself succeeded.
    assert_ne!(server.status.as_ref().map_or(0, |s| s.code), STATUS_ERROR);
}

#[tokio::test]
async fn sample_ratio_zero_exports_no_new_trace_but_honours_a_sampled_client() {
    let (h, collector) = traced("0").await;
    assert!(h.state.tracing_enabled());
    h.chat(json!({"model": "general", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    // The client decided not to sample: nothing either.
    h.chat(json!({"model": "general", "messages": user("hi")}))
        .header("traceparent", format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-00"))
        .send()
        .await
        .unwrap();
    flush(&h).await;
    assert!(collector.spans().is_empty(), "{:?}", collector.spans());
    // Upstream is told the trace is not sampled.
    let sent = upstream_traceparents(&h).await;
    assert_eq!(sent.len(), 2);
    for tp in &sent {
        assert_eq!(split(tp.as_deref().unwrap()).2, "00");
    }

    // A client that sampled its trace is followed whatever the ratio.
    h.chat(json!({"model": "general", "messages": user("hi")}))
        .header("traceparent", format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"))
        .send()
        .await
        .unwrap();
    flush(&h).await;
    let spans = collector.spans();
    assert_eq!(spans.len(), 2);
    assert!(spans.iter().all(|(_, s)| hex(&s.trace_id) == CLIENT_TRACE));
}

#[tokio::test]
async fn without_export_no_traceparent_is_invented() {
    let h = start(BASIC).await;
    assert!(!h.state.tracing_enabled());
    h.chat(json!({"model": "general", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    let sent = upstream_traceparents(&h).await;
    assert_eq!(sent, vec![None]);
    // Flushing without an exporter is a no-op.
    flush(&h).await;
}

#[tokio::test]
async fn an_unreachable_collector_never_holds_up_requests() {
    // A port nothing listens on: exports fail (and are retried once, then dropped) on
    // the exporter's thread while requests go on.
    let yaml = TRACED
        .replace("{otlp}", "http://127.0.0.1:9")
        .replace("{ratio}", "1");
    let h = start(&yaml).await;
    for _ in 0..3 {
        let r = h
            .chat(json!({"model": "general", "messages": user("hi")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    flush(&h).await;
    let t = h.state.telemetry.as_ref().unwrap();
    assert_eq!(t.exported_spans(), 0);
    assert_eq!(t.failed_spans(), 6);
    assert_eq!(t.dropped_records(), 0);
}
