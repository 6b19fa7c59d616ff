//! Ingress: the OpenAI Responses API (`POST /v1/responses`) served by any provider.
//!
//! The Responses API is a conversation of typed *items* (messages, function calls,
//! their outputs, reasoning) instead of chat messages. This module translates it to
//! and from the canonical model; the gateway owns the state (`store`,
//! `previous_response_id`) and keeps, per response, the items this module hands it.
//!
//! - [`request`]: [`decode_request`] parses and validates a client body into a
//!   [`ResponsesRequest`] (the canonical request of this turn, the request's input as
//!   normalised items for storage, the fields echoed in the Response object);
//!   [`to_canonical`] puts a stored conversation (earlier items) in front of it.
//! - [`response`]: [`output_items`] (what a finished response produced, as items, for
//!   storage and the next turn) and [`encode_response`] (the `response` object).
//! - [`stream`]: [`ResponsesStreamEncoder`], canonical chunks → the typed SSE events
//!   (`response.created` … `response.completed`).
//!
//! Ids are derived from the response id the gateway chose (`resp_<x>`): output item
//! `n` is `msg_<x>_<n>`, `fc_<x>_<n>` or `rs_<x>_<n>`, so a streamed and a
//! non-streamed answer to the same content have the same items.
//!
//! Thinking round-trips through reasoning items: the text is the item's `summary`
//! (one `summary_text`), the provider's signature its `encrypted_content`, which
//! clients pass back verbatim. Redacted thinking is `encrypted_content` with the
//! [`REDACTED_PREFIX`] and no summary.

pub mod request;
pub mod response;
pub mod stream;

#[cfg(test)]
mod request_tests;
#[cfg(test)]
mod response_tests;
#[cfg(test)]
mod stream_props;

pub use request::{decode_request, to_canonical, ResponsesRequest};
pub use response::{encode_response, output_items, ResponseMeta};
pub use stream::ResponsesStreamEncoder;

/// Marks a reasoning item's `encrypted_content` that carries a provider's redacted
/// thinking (Anthropic `redacted_thinking.data`) rather than a signature. Signatures
/// are base64 and never hold a `:`, so the two cannot be confused.
pub const REDACTED_PREFIX: &str = "redacted_thinking:";

/// The part of a response id that output item ids are derived from.
fn id_suffix(response_id: &str) -> &str {
    response_id.strip_prefix("resp_").unwrap_or(response_id)
}

/// The id of output item `index` of response `response_id`: `<prefix>_<x>_<index>`
/// (`prefix` is `msg`, `fc`, `rs`, or `call` for a call id the provider did not give).
pub fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    format!("{prefix}_{}_{index}", id_suffix(response_id))
}

/// Seconds since the epoch (`completed_at`).
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
