//! Routing and resilience: which deployment serves a request, and what happens when
//! it fails. The attempt loop itself is in `routes::chat`; this module holds its
//! parts: deployment health and cooldowns (`health`), the deployments' own provider
//! limits (`limits`), strategies (`pick`), fallback order and conditional routing
//! (`plan`), and retry waits (`backoff`).

pub mod backoff;
pub mod health;
pub mod limits;
pub mod pick;
pub mod plan;

use std::time::Duration;
use switchyard_config::RouterConfig;

/// The attempt loop's settings, resolved from `router:`.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub retries: u32,
    pub cooldown: Duration,
    pub allowed_failures: u32,
    pub max_retry_wait: Duration,
    pub first_token_timeout: Option<Duration>,
}

impl Settings {
    pub fn from_config(c: &RouterConfig) -> Settings {
        Settings {
            retries: c.retries(),
            cooldown: c.cooldown(),
            allowed_failures: c.allowed_failures(),
            max_retry_wait: c.max_retry_wait(),
            first_token_timeout: c.first_token_timeout.map(|d| d.0),
        }
    }
}

/// A price for the `cost` strategy, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl Price {
    pub fn estimate_usd(&self, prompt_tokens: u64, max_output: u64) -> f64 {
        (prompt_tokens as f64 * self.input_per_mtok + max_output as f64 * self.output_per_mtok)
            / 1_000_000.0
    }
}
