//! The admin API (master key only). `GET /admin/deployments`: each deployment's
//! health as the router sees it.

use crate::catalog::Deployment;
use crate::error::ApiError;
use crate::router::health::{now_ms, Availability};
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::HeaderMap;
use serde_json::{json, Value};

#[utoipa::path(
    get,
    path = "/admin/deployments",
    tag = "admin",
    operation_id = "listDeployments",
    summary = "Each deployment's health as the router sees it",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Deployments, by public model", body = crate::openapi::schemas::DeploymentList,
            headers(("x-request-id" = String, description = "The request's id"))),
        crate::openapi::AdminAuthErrors,
    )
)]
pub async fn deployments(State(st): State<AppState>, headers: HeaderMap) -> Response {
    match st.policy.authenticate(&headers) {
        Ok(p) if p.is_admin() => {}
        Ok(_) => {
            return ApiError::forbidden(
                "The admin API needs the master key; virtual keys cannot use it.",
            )
            .into_response()
        }
        Err(e) => return e.into_response(),
    }
    let catalog = st.catalog.load();
    let now = now_ms();
    let mut out = Vec::new();
    for name in &catalog.order {
        let Some(model) = catalog.models.get(name) else {
            continue;
        };
        for d in &model.deployments {
            out.push(describe(&model.name, model.strategy.as_str(), d, now));
        }
    }
    Json(json!({"object": "list", "data": out})).into_response()
}

fn describe(model: &str, strategy: &str, d: &Deployment, now: u64) -> Value {
    let (state, until) = match d.health.availability(now) {
        Availability::Healthy => ("healthy", None),
        Availability::Probe => ("probing", None),
        Availability::CoolingDown { until_ms } => ("cooling_down", Some(until_ms)),
    };
    let ms = |d: Option<std::time::Duration>| {
        d.map(|d| (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0)
    };
    json!({
        "model": model,
        "strategy": strategy,
        "deployment": d.label,
        "provider": d.provider.name,
        "upstream_model": d.model,
        "state": state,
        "cooling_down_until": until.map(rfc3339_ms),
        "inflight": d.inflight_now(),
        "latency_ewma_ms": {"ttft": ms(d.health.ewma_ttft()), "total": ms(d.health.ewma_total())},
        "error_rate": (d.health.error_rate() * 1000.0).round() / 1000.0,
        "consecutive_failures": d.health.consecutive_failures(),
        "rpm": d.limits.rpm,
        "tpm": d.limits.tpm,
        "requests_last_minute": d.limits.requests_last_minute(now),
        "keys_available": d.provider.keys_available(now),
        "price_per_mtok": d.price.map(|p| json!({"input": p.input_per_mtok, "output": p.output_per_mtok})),
    })
}

/// Unix milliseconds as an RFC 3339 UTC timestamp.
fn rfc3339_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 to a (year, month, day) date (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
