//! Choosing a deployment from a public model's pool, by its strategy.
//!
//! Candidates are the pool's deployments that are healthy (or whose cooldown is over,
//! for a single probe), under their own `rpm`/`tpm`, and not already tried by this
//! request (unless nothing else is left). Then:
//! - `weighted`: weighted random;
//! - `least_busy`: fewest requests in flight (ties broken at random);
//! - `latency`: power of two choices on the latency EWMA (time to first token for
//!   streams, total latency otherwise); a deployment with no sample yet wins, so new
//!   deployments get measured;
//! - `cost`: cheapest for the request's token estimate by its price (configured or from
//!   the pricing catalog); unpriced deployments come last;
//! - `ordered`: the first candidate in the listed order.

use super::health::Availability;
use crate::catalog::{Deployment, PublicModel};
use std::sync::Arc;
use switchyard_config::Strategy;

/// What the pick needs to know about the request.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub stream: bool,
    /// Estimated prompt tokens.
    pub prompt_tokens: u64,
    /// Output cap (the request's `max_tokens`, else a default guess).
    pub max_output: u64,
    pub now_ms: u64,
}

/// A chosen deployment; `probe` when it is the half-open probe of a cooled-down one.
pub struct Pick {
    pub deployment: Arc<Deployment>,
    pub probe: bool,
}

/// Picks a deployment, avoiding those in `tried` when any other is available.
pub fn pick(model: &PublicModel, ask: &Ask, tried: &[usize]) -> Option<Pick> {
    choose(model, ask, tried).or_else(|| choose(model, ask, &[]))
}

fn choose(model: &PublicModel, ask: &Ask, tried: &[usize]) -> Option<Pick> {
    let tokens = ask.prompt_tokens.saturating_add(ask.max_output);
    let mut healthy: Vec<&Arc<Deployment>> = Vec::with_capacity(model.deployments.len());
    let mut probe: Option<&Arc<Deployment>> = None;
    for d in &model.deployments {
        if tried.contains(&d.index) || d.weight == 0 && model.strategy == Strategy::Weighted {
            continue;
        }
        if !d.limits.has_room(ask.now_ms, tokens) {
            continue;
        }
        match d.health.availability(ask.now_ms) {
            Availability::Healthy => healthy.push(d),
            Availability::Probe if probe.is_none() => probe = Some(d),
            _ => {}
        }
    }
    // A deployment whose cooldown has ended gets one probe request before the pool
    // trusts it again; only one request at a time probes it.
    if let Some(d) = probe {
        if d.health.try_probe() {
            return Some(Pick {
                deployment: d.clone(),
                probe: true,
            });
        }
    }
    let chosen = match model.strategy {
        Strategy::Weighted => weighted(&healthy),
        Strategy::LeastBusy => least_busy(&healthy),
        Strategy::Latency => latency(&healthy, ask.stream),
        Strategy::Cost => cheapest(&healthy, ask),
        Strategy::Ordered => healthy.first().copied(),
    }?;
    Some(Pick {
        deployment: chosen.clone(),
        probe: false,
    })
}

fn weighted<'a>(c: &[&'a Arc<Deployment>]) -> Option<&'a Arc<Deployment>> {
    let total: u64 = c.iter().map(|d| u64::from(d.weight)).sum();
    if total == 0 {
        return c.first().copied();
    }
    let mut ticket = fastrand::u64(0..total);
    for d in c {
        let w = u64::from(d.weight);
        if ticket < w {
            return Some(d);
        }
        ticket -= w;
    }
    c.last().copied()
}

fn least_busy<'a>(c: &[&'a Arc<Deployment>]) -> Option<&'a Arc<Deployment>> {
    let min = c.iter().map(|d| d.inflight_now()).min()?;
    let best: Vec<&&Arc<Deployment>> = c.iter().filter(|d| d.inflight_now() == min).collect();
    best.get(fastrand::usize(0..best.len())).map(|d| **d)
}

fn latency<'a>(c: &[&'a Arc<Deployment>], stream: bool) -> Option<&'a Arc<Deployment>> {
    let score = |d: &Deployment| {
        let ewma = if stream {
            d.health.ewma_ttft().or_else(|| d.health.ewma_total())
        } else {
            d.health.ewma_total()
        };
        // No sample yet scores best, so that every deployment gets measured.
        ewma.map_or(0, |e| e.as_micros())
    };
    match c.len() {
        0 => None,
        1 => c.first().copied(),
        n => {
            let a = fastrand::usize(0..n);
            let mut b = fastrand::usize(0..n - 1);
            if b >= a {
                b += 1;
            }
            let (da, db) = (c[a], c[b]);
            Some(if score(db) < score(da) { db } else { da })
        }
    }
}

fn cheapest<'a>(c: &[&'a Arc<Deployment>], ask: &Ask) -> Option<&'a Arc<Deployment>> {
    let cost = |d: &Deployment| {
        d.price.map_or(f64::INFINITY, |p| {
            p.estimate_usd(ask.prompt_tokens, ask.max_output)
        })
    };
    let min = c.iter().map(|d| cost(d)).fold(f64::INFINITY, f64::min);
    let best: Vec<&&Arc<Deployment>> = c
        .iter()
        .filter(|d| cost(d) <= min || (min.is_infinite() && cost(d).is_infinite()))
        .collect();
    best.get(fastrand::usize(0..best.len().max(1)))
        .map(|d| **d)
        .or_else(|| c.first().copied())
}
