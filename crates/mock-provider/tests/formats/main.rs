//! End-to-end tests of every wire format the mock speaks (one binary to keep builds short).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod anthropic;
mod azure;
mod bedrock;
mod common;
mod gemini;
mod knobs;
mod media;
mod openai;
