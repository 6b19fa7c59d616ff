//! Canonical model, provider adapters and wire codecs. No I/O happens in this crate.

pub mod adapter;
pub mod anthropic;
pub mod bedrock;
pub mod canonical;
pub mod error;
pub mod gemini;
pub mod media;
pub mod openai;
pub mod responses;
pub mod sse;
pub mod support;

pub use adapter::{
    AdapterError, ChatAdapter, StreamDecoder, StreamEvent, Target, UpstreamRequest, WireFormat,
};
pub use error::{ErrorClass, UpstreamError};

#[cfg(test)]
pub(crate) mod test_support {
    /// Reads a recorded provider payload from `../shared/fixtures` (beside the repository).
    pub fn fixture(rel: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures")
            .join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
    }
}
