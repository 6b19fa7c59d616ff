//! Governance: virtual keys with model scopes, budgets, rate and concurrency limits.
//!
//! The request path never waits on the database: keys live in an in-memory cache
//! refreshed from the store when its change version moves (polled twice a second, so
//! a revocation reaches every replica within a second), and spend is accumulated in
//! memory and flushed in batches. Limits and budget reservations are enforced in
//! process, or, with `redis:`, in Redis with one round trip per request.

pub mod admission;
pub mod keys;
pub mod limits;
pub mod period;
pub mod runtime;
pub mod scope;
pub mod secrets;
pub mod sync;
pub mod tokens;
