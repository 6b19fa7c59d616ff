//! The policy step's second half: admitting a virtual key's request against its
//! limits and budget before anything is sent, and settling it when its record is
//! emitted (once, whether it succeeded, failed or the client went away).

use super::keys::KeyEntry;
use super::limits::{Allowed, Denied};
use super::tokens;
use crate::catalog::Resolved;
use crate::error::ApiError;
use crate::observe::{RecordSink, RequestLog};
use http::{HeaderMap, HeaderValue};
use std::sync::Arc;
use switchyard_shared_state::limits::{
    Admission, Ask as SharedAsk, DenyReason, KeyLimits as SharedLimits, RedisLimits,
};

/// Output tokens assumed for the worst case when neither the request nor the
/// pricing catalog gives a limit.
const DEFAULT_MAX_OUTPUT: u64 = 4096;

/// An admitted request's reservation, settled when its record is emitted.
#[derive(Clone)]
pub struct Admitted {
    pub key: Arc<KeyEntry>,
    /// Tokens counted against TPM at admission (prompt estimate + output cap).
    pub tokens: u64,
    /// Worst-case cost reserved against the budget.
    pub reserve_usd: f64,
    pub allowed: Allowed,
    /// Admitted by the shared Redis limiter (settled there), with the request id that
    /// names its slot; `None`: in process.
    pub shared: Option<(Arc<RedisLimits>, String)>,
}

impl std::fmt::Debug for Admitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admitted")
            .field("key", &self.key.id)
            .field("tokens", &self.tokens)
            .field("reserve_usd", &self.reserve_usd)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

/// The request's size for admission: prompt tokens (a real tokenizer when a budget or
/// TPM limit needs it) and its output cap.
pub struct Size {
    pub prompt_tokens: u64,
    pub max_output: Option<u64>,
}

impl Size {
    pub fn measure(
        key: &KeyEntry,
        messages_raw: &str,
        system_raw: Option<&str>,
        tools_raw: Option<&str>,
        max_output: Option<u64>,
        cheap_estimate: u64,
    ) -> Size {
        let needs_tokens = key.limits.budget_usd.is_some() || key.limits.tpm.is_some();
        Size {
            prompt_tokens: if needs_tokens {
                tokens::estimate_prompt(messages_raw, tools_raw)
                    + system_raw.map_or(0, tokens::estimate_system)
            } else {
                cheap_estimate
            },
            max_output,
        }
    }
}

/// Admits a request for `key` to `resolved`, or refuses it (429 with Retry-After, or
/// 402 budget_exceeded).
pub fn admit(
    key: &Arc<KeyEntry>,
    resolved: &Resolved,
    size: &Size,
    now_ms: u64,
) -> Result<Admitted, ApiError> {
    let (tokens, reserve_usd) = worst_case(resolved, size);
    match key.counters.admit(&key.limits, tokens, reserve_usd, now_ms) {
        Ok(allowed) => Ok(Admitted {
            key: key.clone(),
            tokens,
            reserve_usd,
            allowed,
            shared: None,
        }),
        Err(denied) => Err(refusal(&key.name, denied)),
    }
}

/// A request's tokens for TPM (prompt + output cap) and its worst-case cost, over the
/// deployments it may land on (a fallback's cost is covered by settling to the
/// actual cost).
fn worst_case(resolved: &Resolved, size: &Size) -> (u64, f64) {
    let deployments: Vec<_> = match resolved {
        Resolved::Public(m) => m.deployments.iter().collect(),
        Resolved::Direct(d) => vec![d],
    };
    let mut reserve_usd: f64 = 0.0;
    let mut max_output_seen = 0;
    for d in &deployments {
        let out = size
            .max_output
            .or(d.max_output)
            .unwrap_or(DEFAULT_MAX_OUTPUT);
        max_output_seen = max_output_seen.max(out);
        if let Some(p) = &d.pricing {
            reserve_usd =
                reserve_usd.max(switchyard_pricing::estimate_usd(p, size.prompt_tokens, out));
        }
    }
    (size.prompt_tokens + max_output_seen, reserve_usd)
}

/// A key's limits as the shared limiter takes them, for the budget period of `now_ms`.
fn shared_limits(key: &KeyEntry, now_ms: u64) -> SharedLimits {
    let (start, end) = key.limits.period.bounds(now_ms);
    SharedLimits {
        rpm: key.limits.rpm,
        tpm: key.limits.tpm,
        max_concurrency: key.limits.max_concurrency,
        budget_usd: key.limits.budget_usd,
        period_start_ms: start,
        period_end_ms: end,
    }
}

/// Like [`admit`], through the Redis limiter shared by every replica (one round trip).
/// When Redis does not answer, the process enforces the limits itself.
pub async fn admit_shared(
    redis: &Arc<RedisLimits>,
    key: &Arc<KeyEntry>,
    resolved: &Resolved,
    size: &Size,
    request_id: &str,
    now_ms: u64,
) -> Result<Admitted, ApiError> {
    // Redis is the authority while it answers: the process's counters are not
    // touched (they would count against this replica's view only).
    let (tokens, reserve_usd) = worst_case(resolved, size);
    let limits = shared_limits(key, now_ms);
    let ask = SharedAsk {
        tokens,
        reserve_usd,
        request_id,
    };
    match redis.admit(&key.id, &limits, &ask, now_ms).await {
        Ok(Admission::Allowed {
            remaining_requests,
            remaining_tokens,
            ..
        }) => Ok(Admitted {
            allowed: Allowed {
                limit_requests: key.limits.rpm,
                remaining_requests,
                limit_tokens: key.limits.tpm,
                remaining_tokens,
            },
            key: key.clone(),
            tokens,
            reserve_usd,
            shared: Some((redis.clone(), request_id.to_string())),
        }),
        Ok(Admission::Denied {
            reason,
            retry_after_ms,
            limit,
            remaining,
        }) => Err(refusal(
            &key.name,
            match reason {
                DenyReason::Rpm => Denied::Rpm {
                    limit,
                    retry_after_ms,
                },
                DenyReason::Tpm => Denied::Tpm {
                    limit,
                    retry_after_ms,
                },
                DenyReason::Concurrency => Denied::Concurrency { limit },
                DenyReason::Budget => Denied::Budget {
                    budget_usd: key.limits.budget_usd.unwrap_or(0.0),
                    // Spent and reserved by requests in flight.
                    spent_usd: switchyard_shared_state::limits::micros_to_usd(
                        limit.saturating_sub(remaining),
                    ),
                },
            },
        )),
        Err(e) => {
            tracing::warn!(error = %e, key = %key.id, "shared limiter unavailable; enforcing limits in this process");
            admit(key, resolved, size, now_ms)
        }
    }
}

fn refusal(name: &str, denied: Denied) -> ApiError {
    match denied {
        Denied::Rpm {
            limit,
            retry_after_ms,
        } => {
            let mut e = ApiError::rate_limited(
                format!("Rate limit reached for key `{name}`: {limit} requests per minute."),
                retry_after_ms.div_ceil(1000),
            );
            e.extra_headers = Some(Box::new(vec![
                ("x-ratelimit-limit-requests", limit),
                ("x-ratelimit-remaining-requests", 0),
            ]));
            e
        }
        Denied::Tpm {
            limit,
            retry_after_ms,
        } => {
            let mut e = ApiError::rate_limited(
                format!("Rate limit reached for key `{name}`: {limit} tokens per minute."),
                retry_after_ms.div_ceil(1000),
            );
            e.extra_headers = Some(Box::new(vec![
                ("x-ratelimit-limit-tokens", limit),
                ("x-ratelimit-remaining-tokens", 0),
            ]));
            e
        }
        Denied::Concurrency { limit } => ApiError::rate_limited(
            format!("Key `{name}` already has {limit} requests in flight (max_concurrency)."),
            1,
        ),
        Denied::Budget {
            budget_usd,
            spent_usd,
        } => ApiError::budget_exceeded(format!(
            "Budget exceeded for key `{name}`: ${spent_usd:.4} of ${budget_usd:.4} spent this \
             period (counting requests in flight at their worst-case cost)."
        )),
    }
}

/// The `x-ratelimit-*` headers of an admitted request.
pub fn ratelimit_headers(h: &mut HeaderMap, allowed: &Allowed) {
    let mut put = |name: &'static str, v: Option<u64>| {
        if let Some(v) = v {
            h.insert(name, HeaderValue::from(v));
        }
    };
    put("x-ratelimit-limit-requests", allowed.limit_requests);
    put("x-ratelimit-remaining-requests", allowed.remaining_requests);
    put("x-ratelimit-limit-tokens", allowed.limit_tokens);
    put("x-ratelimit-remaining-tokens", allowed.remaining_tokens);
}

/// Settles each admitted request when its record is emitted.
pub struct GovernanceSink;

impl RecordSink for GovernanceSink {
    fn record(&self, log: &RequestLog) {
        let Some(adm) = &log.admitted else {
            return;
        };
        let actual_tokens = log.usage.map_or(0, |u| u.total_tokens);
        let now = crate::router::health::now_ms();
        let cost = log.cost_usd();
        let Some((redis, request_id)) = &adm.shared else {
            adm.key.counters.settle(
                &adm.key.limits,
                adm.tokens,
                adm.reserve_usd,
                actual_tokens,
                cost,
                now,
            );
            return;
        };
        // Redis holds the slot and the reservation; the store still gets the spend.
        adm.key
            .counters
            .book_spend(adm.key.limits.period, cost, now);
        let (redis, request_id, key) = (redis.clone(), request_id.clone(), adm.key.clone());
        let (tokens, reserve) = (adm.tokens, adm.reserve_usd);
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        handle.spawn(async move {
            let limits = shared_limits(&key, now);
            let ask = SharedAsk {
                tokens,
                reserve_usd: reserve,
                request_id: &request_id,
            };
            if let Err(e) = redis.settle(&key.id, &limits, &ask, actual_tokens, cost, now).await {
                // The slot's lease expires on its own; the spend is still in the store.
                tracing::warn!(error = %e, key = %key.id, "could not settle a request in the shared limiter");
            }
        });
    }
}
