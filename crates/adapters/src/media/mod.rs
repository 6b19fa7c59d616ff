//! Embeddings, image generation and audio (transcription, speech) in OpenAI's shapes,
//! translated for every provider that can serve them. Pure, like every adapter: building
//! requests and reading answers do no I/O; the gateway sends, signs and streams.
//!
//! The gateway picks a [`MediaWire`] from the provider kind; each operation's module
//! (`embeddings`, `images`, `audio`) builds the upstream request(s) for it and reads
//! the answer back:
//!
//! | wire | embeddings | images | transcriptions | speech |
//! |---|---|---|---|---|
//! | `OpenAi` (openai, openai_compatible, presets) | `{base}/embeddings` | `{base}/images/generations` | `{base}/audio/transcriptions` | `{base}/audio/speech` |
//! | `Azure` | `/openai/deployments/{d}/embeddings?api-version=` | `…/images/generations` | `…/audio/transcriptions` | `…/audio/speech` |
//! | `Gemini` (AI Studio) | `v1beta/models/{m}:batchEmbedContents` | Imagen `:predict` | refused | refused |
//! | `Vertex` | `…/publishers/google/models/{m}:predict` | Imagen `:predict` | refused | refused |
//! | `Bedrock` | `model/{id}/invoke` (Titan: one text per call; Cohere: `texts` batches) | refused | refused | refused |
//!
//! Errors from the upstream are classified by the provider's own classifier
//! ([`classify_error`]); parameters a provider cannot honour are refused with a 400
//! naming them ([`AdapterError::Unsupported`]) unless the request sent `drop_params`.

pub mod audio;
pub mod embeddings;
pub mod images;

pub use crate::openai::fastpath::RequestError;

use crate::adapter::{AdapterError, Target, UpstreamRequest};
use crate::error::UpstreamError;
use crate::gemini::GeminiAdapter;
use crate::openai::join_url;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

/// How the gateway reaches a provider for media operations (chosen from the provider kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaWire<'a> {
    /// OpenAI, `openai_compatible` and the presets: `target.base_url` + `/embeddings` etc.,
    /// `Authorization: Bearer` (and `openai-organization`).
    OpenAi,
    /// Azure OpenAI: `/openai/deployments/{upstream_model}/…?api-version=…`; the credential
    /// is `api-key`, or `Authorization: Bearer` (Entra ID) when `bearer`.
    Azure { api_version: &'a str, bearer: bool },
    /// The Gemini API (AI Studio): `x-goog-api-key`. An empty base URL means the public one.
    Gemini,
    /// Vertex AI; `target.api_key` is the OAuth access token the gateway minted. An empty
    /// base URL means the location's public host; any other replaces the host.
    Vertex { project: &'a str, location: &'a str },
    /// Bedrock Runtime `InvokeModel`; no auth header: the gateway signs (SigV4) afterwards.
    Bedrock,
}

impl MediaWire<'_> {
    /// The provider's name for messages.
    pub fn display(&self) -> &'static str {
        match self {
            MediaWire::OpenAi => "this provider",
            MediaWire::Azure { .. } => "Azure OpenAI",
            MediaWire::Gemini => "Gemini",
            MediaWire::Vertex { .. } => "Vertex AI",
            MediaWire::Bedrock => "Bedrock",
        }
    }

    /// Whether the wire speaks OpenAI's bodies (OpenAI-format hosts and Azure).
    pub fn is_openai_format(&self) -> bool {
        matches!(self, MediaWire::OpenAi | MediaWire::Azure { .. })
    }
}

/// Classifies an upstream error answer with the provider's own classifier.
pub fn classify_error(
    wire: MediaWire<'_>,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> UpstreamError {
    match wire {
        MediaWire::OpenAi | MediaWire::Azure { .. } => {
            crate::openai::errors::classify(status, headers, body)
        }
        MediaWire::Gemini | MediaWire::Vertex { .. } => {
            crate::gemini::classify(status, headers, body)
        }
        MediaWire::Bedrock => crate::bedrock::errors::classify(status, headers, body),
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// An OpenAI-format request (OpenAI host or Azure deployment) for operation `path`
/// (`embeddings`, `images/generations`, `audio/speech`, …).
pub(crate) fn openai_format_request(
    wire: MediaWire<'_>,
    target: &Target<'_>,
    path: &str,
    content_type: &str,
    body: Bytes,
) -> Result<UpstreamRequest, AdapterError> {
    let mut headers = HeaderMap::with_capacity(3);
    let ct = HeaderValue::from_str(content_type)
        .map_err(|_| AdapterError::BadResponse("invalid content type".to_string()))?;
    headers.insert(header::CONTENT_TYPE, ct);
    let url = match wire {
        MediaWire::OpenAi => {
            if let Some(key) = target.api_key {
                insert_secret(
                    &mut headers,
                    header::AUTHORIZATION,
                    &format!("Bearer {key}"),
                );
            }
            if let Some(org) = target.organization {
                if let Ok(v) = HeaderValue::from_str(org) {
                    headers.insert("openai-organization", v);
                }
            }
            join_url(target.base_url, path)
        }
        MediaWire::Azure {
            api_version,
            bearer,
        } => {
            if let Some(key) = target.api_key {
                if bearer {
                    insert_secret(
                        &mut headers,
                        header::AUTHORIZATION,
                        &format!("Bearer {key}"),
                    );
                } else {
                    insert_secret(&mut headers, HeaderName::from_static("api-key"), key);
                }
            }
            let api_version = if api_version.is_empty() {
                crate::openai::azure::DEFAULT_API_VERSION
            } else {
                api_version
            };
            join_url(
                target.base_url,
                &format!(
                    "openai/deployments/{}/{path}?api-version={}",
                    segment(target.upstream_model),
                    segment(api_version)
                ),
            )
        }
        other => {
            return Err(AdapterError::Unsupported {
                param: "model".into(),
                message: format!("this operation is not supported by {}", other.display()),
            })
        }
    };
    Ok(UpstreamRequest { url, headers, body })
}

/// A Google request (AI Studio or Vertex) for `model`'s `method`, with a JSON body.
pub(crate) fn google_request(
    wire: MediaWire<'_>,
    target: &Target<'_>,
    method: &str,
    body: Vec<u8>,
) -> UpstreamRequest {
    let mut headers = json_headers();
    let (adapter, vertex) = match wire {
        MediaWire::Vertex { project, location } => (GeminiAdapter::vertex(project, location), true),
        _ => (GeminiAdapter::studio(), false),
    };
    if let Some(key) = target.api_key {
        if vertex {
            insert_secret(
                &mut headers,
                header::AUTHORIZATION,
                &format!("Bearer {key}"),
            );
        } else {
            insert_secret(&mut headers, HeaderName::from_static("x-goog-api-key"), key);
        }
    }
    UpstreamRequest {
        url: adapter.method_url(target.base_url, target.upstream_model, method),
        headers,
        body: Bytes::from(body),
    }
}

/// A Bedrock `InvokeModel` request (unsigned: the gateway signs it).
pub(crate) fn bedrock_invoke(target: &Target<'_>, body: Vec<u8>) -> UpstreamRequest {
    let mut headers = json_headers();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    UpstreamRequest {
        url: format!(
            "{}/model/{}/invoke",
            target.base_url.trim_end_matches('/'),
            segment(target.upstream_model)
        ),
        headers,
        body: Bytes::from(body),
    }
}

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers
}

fn insert_secret(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(mut v) = HeaderValue::from_str(value) {
        v.set_sensitive(true);
        headers.insert(name, v);
    }
}

/// One percent-encoded path segment or query value.
fn segment(s: &str) -> String {
    crate::bedrock::encode_path_segment(s)
}

// ---------------------------------------------------------------------------------------------
// Request decoding helpers (OpenAI's error wording, as in `openai::request`)

pub(crate) fn err(param: &str, message: impl Into<String>) -> RequestError {
    RequestError {
        message: message.into(),
        param: Some(param.to_string()),
    }
}

/// The body as a JSON object.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, RequestError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(RequestError {
            message: "the request body must be a JSON object".to_string(),
            param: None,
        }),
        Err(e) => Err(RequestError {
            message: format!("the request body is not valid JSON: {e}"),
            param: None,
        }),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn invalid_type(param: &str, expected: &str, got: &Value) -> RequestError {
    err(
        param,
        format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            kind(got)
        ),
    )
}

pub(crate) fn invalid_value(param: &str, got: &str, supported: &[&str]) -> RequestError {
    let list: Vec<String> = supported.iter().map(|s| format!("'{s}'")).collect();
    err(
        param,
        format!(
            "Invalid value: '{got}'. Supported values are: {}.",
            list.join(", ")
        ),
    )
}

/// Removes `key`, treating an explicit `null` as absent (as OpenAI does).
pub(crate) fn take(obj: &mut Map<String, Value>, key: &str) -> Option<Value> {
    obj.remove(key).filter(|v| !v.is_null())
}

pub(crate) fn model(obj: &mut Map<String, Value>) -> Result<String, RequestError> {
    match take(obj, "model") {
        None => Err(err("model", "you must provide a model parameter")),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(err("model", "`model` must not be empty")),
        Some(other) => Err(invalid_type("model", "a string", &other)),
    }
}

pub(crate) fn opt_string(
    obj: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<String>, RequestError> {
    match take(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid_type(key, "a string", &other)),
    }
}

pub(crate) fn opt_u32(
    obj: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<u32>, RequestError> {
    match take(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Ok(Some(n)),
            None => Err(err(
                key,
                format!("Invalid '{key}': expected a non-negative integer, but got {n} instead."),
            )),
        },
        Some(other) => Err(invalid_type(key, "an integer", &other)),
    }
}

pub(crate) fn opt_f64(
    obj: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<f64>, RequestError> {
    match take(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(invalid_type(key, "a number", &other)),
    }
}

/// The gateway's own fields: `drop_params` (read) and `models` (the fallback order, which
/// the gateway reads from the body before the adapter sees it) are never forwarded.
pub(crate) fn gateway_fields(obj: &mut Map<String, Value>) -> Result<bool, RequestError> {
    obj.remove("models");
    match take(obj, "drop_params") {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(other) => Err(invalid_type("drop_params", "a boolean", &other)),
    }
}

/// Refuses the first of `extra`'s fields not in `known` unless `drop_params`.
pub(crate) fn check_extra(
    extra: &Map<String, Value>,
    known: &[&str],
    drop_params: bool,
    provider: &str,
) -> Result<(), AdapterError> {
    if drop_params {
        return Ok(());
    }
    match extra.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(crate::support::unsupported(key, provider, "")),
        None => Ok(()),
    }
}

/// Refuses `param` unless `drop_params` (then `Ok`: drop it and go on).
pub(crate) fn refuse(
    drop_params: bool,
    param: &str,
    provider: &str,
    why: &str,
) -> Result<(), AdapterError> {
    if drop_params {
        Ok(())
    } else {
        Err(crate::support::unsupported(param, provider, why))
    }
}

/// An operation the wire cannot serve at all: a 400 naming `model`.
pub(crate) fn not_served(wire: MediaWire<'_>, what: &str) -> AdapterError {
    AdapterError::Unsupported {
        param: "model".into(),
        message: format!(
            "{what} is not supported by {}; route this model to a provider that serves it",
            wire.display()
        ),
    }
}

pub(crate) fn bad_response(what: impl std::fmt::Display) -> AdapterError {
    AdapterError::BadResponse(what.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    pub(crate) fn target<'a>(base: &'a str, key: Option<&'a str>, model: &'a str) -> Target<'a> {
        Target {
            base_url: base,
            api_key: key,
            organization: None,
            upstream_model: model,
        }
    }

    #[test]
    fn openai_and_azure_urls_and_credentials() {
        let t = target("https://api.openai.com/v1/", Some("sk"), "m");
        let r = openai_format_request(
            MediaWire::OpenAi,
            &t,
            "embeddings",
            "application/json",
            Bytes::new(),
        )
        .unwrap();
        assert_eq!(r.url, "https://api.openai.com/v1/embeddings");
        assert_eq!(r.headers["authorization"], "Bearer sk");
        let t = target("https://res.openai.azure.com", Some("k"), "emb prod");
        let wire = MediaWire::Azure {
            api_version: "2024-10-21",
            bearer: false,
        };
        let r = openai_format_request(wire, &t, "audio/speech", "application/json", Bytes::new())
            .unwrap();
        assert_eq!(
            r.url,
            "https://res.openai.azure.com/openai/deployments/emb%20prod/audio/speech?api-version=2024-10-21"
        );
        assert_eq!(r.headers["api-key"], "k");
        assert!(r.headers.get("authorization").is_none());
        let wire = MediaWire::Azure {
            api_version: "",
            bearer: true,
        };
        let r = openai_format_request(wire, &t, "embeddings", "application/json", Bytes::new())
            .unwrap();
        assert!(r.url.ends_with("?api-version=2024-10-21"), "{}", r.url);
        assert_eq!(r.headers["authorization"], "Bearer k");
        assert!(openai_format_request(
            MediaWire::Gemini,
            &t,
            "embeddings",
            "application/json",
            Bytes::new()
        )
        .is_err());
    }

    #[test]
    fn errors_use_the_provider_classifier() {
        use crate::error::ErrorClass;
        let h = HeaderMap::new();
        let g = br#"{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}"#;
        assert_eq!(
            classify_error(MediaWire::Gemini, 404, &h, g).class,
            ErrorClass::NotFound
        );
        let b = br#"{"message":"Too many requests"}"#;
        let mut hb = HeaderMap::new();
        hb.insert(
            "x-amzn-errortype",
            HeaderValue::from_static("ThrottlingException"),
        );
        assert_eq!(
            classify_error(MediaWire::Bedrock, 429, &hb, b).class,
            ErrorClass::RateLimit
        );
        let o = br#"{"error":{"message":"The model `x` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#;
        let e = classify_error(MediaWire::OpenAi, 404, &h, o);
        assert_eq!(e.class, ErrorClass::NotFound);
        assert_eq!(e.code.as_deref(), Some("model_not_found"));
    }
}
