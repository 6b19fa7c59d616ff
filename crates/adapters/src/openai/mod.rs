//! OpenAI Chat Completions: the `openai` and `openai_compatible` provider kinds, and the
//! format of the gateway's main ingress.

pub mod adapter;
pub mod azure;
pub mod errors;
pub mod fastpath;
pub mod presets;
pub mod request;
pub mod request_encode;
pub mod response;
pub mod stream;
pub mod stream_encode;
#[cfg(test)]
mod stream_props;
pub mod usage;

pub use adapter::OpenAiAdapter;
pub use request::decode_request;
pub use request_encode::encode_request;
pub use response::{decode_response, encode_response};
pub use stream::OpenAiStreamDecoder;
pub use stream_encode::OpenAiStreamEncoder;

use crate::adapter::{Target, UpstreamRequest};
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue};

/// Builds the upstream request for a body already in OpenAI format (the fast path).
pub fn chat_request(target: &Target<'_>, body: Bytes) -> UpstreamRequest {
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(key) = target.api_key {
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {key}")) {
            headers.insert(header::AUTHORIZATION, v);
        }
    }
    if let Some(org) = target.organization {
        if let Ok(v) = HeaderValue::from_str(org) {
            headers.insert("openai-organization", v);
        }
    }
    UpstreamRequest {
        url: join_url(target.base_url, "chat/completions"),
        headers,
        body,
    }
}

/// `base` + `/` + `path`, with exactly one slash between them.
pub fn join_url(base: &str, path: &str) -> String {
    let mut url = String::with_capacity(base.len() + path.len() + 1);
    url.push_str(base.trim_end_matches('/'));
    url.push('/');
    url.push_str(path.trim_start_matches('/'));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_authenticated_request() {
        let t = Target {
            base_url: "http://h:1/v1/",
            api_key: Some("sk-up"),
            organization: Some("org-1"),
            upstream_model: "gpt",
        };
        let r = chat_request(&t, Bytes::from_static(b"{}"));
        assert_eq!(r.url, "http://h:1/v1/chat/completions");
        assert_eq!(r.headers["authorization"], "Bearer sk-up");
        assert_eq!(r.headers["openai-organization"], "org-1");
        let t = Target {
            api_key: None,
            organization: None,
            ..t
        };
        assert!(chat_request(&t, Bytes::new())
            .headers
            .get("authorization")
            .is_none());
    }
}
