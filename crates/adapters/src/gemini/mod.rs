//! Google Gemini `generateContent`, on the Gemini API (AI Studio) and on Vertex AI.
//!
//! Both hosts speak the same JSON (`contents`, `systemInstruction`, `generationConfig`,
//! `tools`, `toolConfig` in; `candidates`, `usageMetadata` out) and differ only in the
//! URL and the credentials:
//!
//! | | URL | auth header (`Target::api_key`) |
//! |---|---|---|
//! | AI Studio | `{base}/v1beta/models/{model}:generateContent` | `x-goog-api-key: <key>` |
//! | Vertex AI | `{base}/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent` | `Authorization: Bearer <OAuth access token>` |
//!
//! Streams use `:streamGenerateContent?alt=sse`: each SSE `data:` is a whole
//! `GenerateContentResponse`; there is no `[DONE]`.
//!
//! For Vertex the gateway mints the OAuth access token (service account or ADC) and
//! passes it as `Target::api_key`; the adapter stays pure.
//!
//! Thought signatures: Gemini 3 rejects a conversation whose earlier `functionCall`
//! parts come back without the `thoughtSignature` they were returned with. OpenAI
//! clients have no field for it, so the signature travels inside the tool call id
//! (see [`ids`]) and is put back on the `functionCall` part when the client sends
//! the history again.

pub mod errors;
pub mod ids;
mod partial_args;
pub mod request;
pub mod response;
pub mod stream;
mod wire;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod request_tests;

pub use errors::classify;
pub use request::encode_request;
pub use response::decode_response;
pub use stream::GeminiStreamDecoder;

use crate::adapter::{
    AdapterError, ChatAdapter, StreamDecoder, Target, UpstreamRequest, WireFormat,
};
use crate::canonical::{ChatRequest, ChatResponse};
use crate::error::UpstreamError;
use crate::openai::join_url;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue};

/// The Gemini API's (AI Studio's) base URL.
pub const STUDIO_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// Vertex AI's base URL for `location` (`global` has no regional host).
pub fn vertex_base_url(location: &str) -> String {
    if location == "global" {
        "https://aiplatform.googleapis.com".to_string()
    } else {
        format!("https://{location}-aiplatform.googleapis.com")
    }
}

/// Which Google host serves the model.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Studio,
    Vertex { project: String, location: String },
}

/// The Gemini adapter, for AI Studio or for one Vertex AI project and location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeminiAdapter {
    host: Host,
}

impl GeminiAdapter {
    /// The Gemini API (AI Studio): `Target::api_key` is the API key.
    pub fn studio() -> Self {
        GeminiAdapter { host: Host::Studio }
    }

    /// Vertex AI in `project` and `location`: `Target::api_key` is an OAuth access token.
    pub fn vertex(project: &str, location: &str) -> Self {
        GeminiAdapter {
            host: Host::Vertex {
                project: project.to_string(),
                location: location.to_string(),
            },
        }
    }

    fn is_vertex(&self) -> bool {
        matches!(self.host, Host::Vertex { .. })
    }

    /// The URL of one call. An empty `base_url` means the host's public default.
    pub fn url(&self, base_url: &str, model: &str, stream: bool) -> String {
        let method = if stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        self.method_url(base_url, model, method)
    }

    /// The URL of `model`'s `method` (`generateContent`, `batchEmbedContents`, `predict`, …).
    /// An empty `base_url` means the host's public default; any other replaces the host.
    pub fn method_url(&self, base_url: &str, model: &str, method: &str) -> String {
        match &self.host {
            Host::Studio => {
                let base = if base_url.is_empty() {
                    STUDIO_BASE_URL
                } else {
                    base_url
                };
                // Model ids are also written `models/gemini-…` (as ListModels names them).
                let model = model.strip_prefix("models/").unwrap_or(model);
                join_url(base, &format!("v1beta/models/{model}:{method}"))
            }
            Host::Vertex { project, location } => {
                let default_base;
                let base = if base_url.is_empty() {
                    default_base = vertex_base_url(location);
                    default_base.as_str()
                } else {
                    base_url
                };
                // A full resource name (a tuned model's endpoint) is used as it is.
                let path = if model.starts_with("projects/") {
                    format!("v1/{model}:{method}")
                } else {
                    format!(
                        "v1/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}"
                    )
                };
                join_url(base, &path)
            }
        }
    }
}

impl ChatAdapter for GeminiAdapter {
    fn wire_format(&self) -> WireFormat {
        WireFormat::Gemini
    }

    fn build_request(
        &self,
        request: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, AdapterError> {
        let options = request::Options {
            model: target.upstream_model,
            // Vertex v1 has no `id` on function calls and responses; AI Studio does.
            send_call_ids: !self.is_vertex(),
        };
        let body = encode_request(request, &options)?;
        let mut headers = HeaderMap::with_capacity(2);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(key) = target.api_key {
            let (name, value) = if self.is_vertex() {
                (header::AUTHORIZATION, format!("Bearer {key}"))
            } else {
                (
                    header::HeaderName::from_static("x-goog-api-key"),
                    key.to_string(),
                )
            };
            if let Ok(mut v) = HeaderValue::from_str(&value) {
                v.set_sensitive(true);
                headers.insert(name, v);
            }
        }
        Ok(UpstreamRequest {
            url: self.url(target.base_url, target.upstream_model, request.stream),
            headers,
            body: Bytes::from(body),
        })
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, AdapterError> {
        decode_response(body)
    }

    fn stream_decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(GeminiStreamDecoder::new())
    }

    fn classify_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> UpstreamError {
        classify(status, headers, body)
    }
}

/// The Gemini generation a model id names (`gemini-2.5-pro` → 2, `gemini-3.1-pro` → 3),
/// when it names one. Aliases such as `gemini-flash-latest` name none.
pub(crate) fn generation(model: &str) -> Option<u32> {
    let at = model.find("gemini-")?;
    let rest = model.get(at + "gemini-".len()..)?;
    let digits: &str = rest
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .filter(|d| !d.is_empty())?;
    digits.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::canonical::Message;
    use crate::canonical::Role;

    fn target<'a>(base: &'a str, key: Option<&'a str>, model: &'a str) -> Target<'a> {
        Target {
            base_url: base,
            api_key: key,
            organization: None,
            upstream_model: model,
        }
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            vertex_base_url("us-central1"),
            "https://us-central1-aiplatform.googleapis.com"
        );
        assert_eq!(
            vertex_base_url("global"),
            "https://aiplatform.googleapis.com"
        );
    }

    #[test]
    fn studio_urls_and_key_header() {
        let a = GeminiAdapter::studio();
        assert_eq!(a.wire_format(), WireFormat::Gemini);
        let mut req = ChatRequest {
            messages: vec![Message::text(Role::User, "hi")],
            ..ChatRequest::default()
        };
        let up = a
            .build_request(
                &req,
                &target(STUDIO_BASE_URL, Some("AIza-k"), "gemini-2.5-flash"),
            )
            .unwrap();
        assert_eq!(
            up.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(up.headers["x-goog-api-key"], "AIza-k");
        assert_eq!(up.headers["content-type"], "application/json");
        assert!(up.headers.get("authorization").is_none());
        req.stream = true;
        let up = a
            .build_request(&req, &target("", None, "models/gemini-2.0-flash"))
            .unwrap();
        assert_eq!(
            up.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
        );
        assert!(up.headers.get("x-goog-api-key").is_none());
    }

    #[test]
    fn vertex_urls_and_bearer_token() {
        let a = GeminiAdapter::vertex("my-proj", "europe-west4");
        let mut req = ChatRequest {
            messages: vec![Message::text(Role::User, "hi")],
            ..ChatRequest::default()
        };
        let base = vertex_base_url("europe-west4");
        let up = a
            .build_request(&req, &target(&base, Some("ya29.tok"), "gemini-2.5-pro"))
            .unwrap();
        assert_eq!(
            up.url,
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent"
        );
        assert_eq!(up.headers["authorization"], "Bearer ya29.tok");
        assert!(up.headers.get("x-goog-api-key").is_none());
        req.stream = true;
        let g = GeminiAdapter::vertex("p", "global");
        assert_eq!(
            g.build_request(&req, &target("", None, "gemini-3-pro-preview"))
                .unwrap()
                .url,
            "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            g.url(
                "https://aiplatform.googleapis.com/",
                "projects/p/locations/global/endpoints/42",
                false
            ),
            "https://aiplatform.googleapis.com/v1/projects/p/locations/global/endpoints/42:generateContent"
        );
    }

    #[test]
    fn generations() {
        assert_eq!(generation("gemini-2.5-pro"), Some(2));
        assert_eq!(generation("gemini-3-pro-preview"), Some(3));
        assert_eq!(generation("models/gemini-3.1-flash"), Some(3));
        assert_eq!(generation("gemini-10-ultra"), Some(10));
        assert_eq!(generation("gemini-flash-latest"), None);
        assert_eq!(generation("gemini-"), None);
        assert_eq!(generation("gpt-4o"), None);
    }
}
