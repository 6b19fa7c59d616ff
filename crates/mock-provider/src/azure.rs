//! Azure OpenAI chat: `POST [knobs/]openai/deployments/{deployment}/chat/completions?api-version=…`.
//!
//! Same bodies and stream as OpenAI, plus Azure's differences: the response `model` is
//! the deployment, choices carry `content_filter_results`, responses carry
//! `prompt_filter_results`, streams open with an empty chunk, and errors for a missing
//! `api-version`, missing key, rate limits and content filtering are Azure's own.

use axum::body::Body;
use axum::http::{header, request::Parts, Response, StatusCode};

use crate::behavior::Behavior;
use crate::content::{Finish, Reply};
use crate::handler::{Api, Ctx};
use crate::http::{json_response, json_value, retry_delay_secs, retry_headers, set_header};
use crate::openai::{self, errors::fault_response, Flavor};
use crate::state::{Format, RequestGuard, State};
use crate::stream::Pacing;
use crate::summary::Summary;

/// Content filter verdicts with nothing filtered (on every content chunk and choice).
pub(crate) const SAFE: &str = r#"{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}"#;

/// The verdict of a filtered completion (`content_filter=response`).
const FILTERED: &str = r#"{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":true,"severity":"high"},"violence":{"filtered":false,"severity":"safe"}}"#;

/// The empty verdict Azure puts on role and finish chunks.
pub(crate) const EMPTY: &str = "{}";

/// `prompt_filter_results` of every response.
pub(crate) const PROMPT_FILTER_RESULTS: &str = r#"[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]"#;

/// The chunk every Azure chat stream starts with.
pub(crate) const FIRST_CHUNK: &str = concat!(
    r#"data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]}"#,
    "\n\n"
);

/// A non-streaming choice's verdict.
pub(crate) fn completion_filter(finish: Finish) -> &'static str {
    if finish == Finish::ContentFilter {
        FILTERED
    } else {
        SAFE
    }
}

/// The finish chunk's verdict.
pub(crate) fn completion_filter_on_finish(finish: Finish) -> &'static str {
    if finish == Finish::ContentFilter {
        FILTERED
    } else {
        EMPTY
    }
}

const ACCESS_DENIED: &str = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";

const PROMPT_FILTERED: &str = "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766";

/// `{"error":{"code","message"}}`, Azure's own error shape.
fn azure_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_value(
        status,
        &serde_json::json!({"error": {"code": code, "message": message}}),
    )
}

/// Whether `v` looks like an Azure api-version: `YYYY-MM-DD`, optionally `-preview`.
fn valid_api_version(v: &str) -> bool {
    let date = v.strip_suffix("-preview").unwrap_or(v);
    let b = date.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// The `api-version` query parameter, if any.
fn api_version(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == "api-version").then(|| crate::behavior::percent_decode(v).into_owned())
    })
}

/// One Azure deployment.
pub(crate) struct Azure {
    pub(crate) deployment: String,
}

impl Api for Azure {
    fn format(&self) -> Format {
        Format::Azure
    }

    /// `api-version` is required (404 without, as Azure; 400 when malformed), then a key:
    /// an `api-key` header or `Authorization: Bearer` (401 otherwise).
    fn precheck(&self, _state: &State, parts: &Parts) -> Result<(), Response<Body>> {
        match api_version(parts) {
            None => {
                return Err(azure_error(
                    StatusCode::NOT_FOUND,
                    "404",
                    "Resource not found",
                ))
            }
            Some(v) if !valid_api_version(&v) => {
                return Err(azure_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "API version not supported",
                ))
            }
            Some(_) => {}
        }
        let has_key = parts
            .headers
            .get("api-key")
            .is_some_and(|v| !v.as_bytes().is_empty());
        let has_bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| !t.trim().is_empty());
        if has_key || has_bearer {
            Ok(())
        } else {
            Err(azure_error(StatusCode::UNAUTHORIZED, "401", ACCESS_DENIED))
        }
    }

    fn parse(&self, _parts: &Parts, body: &[u8]) -> Result<Summary, Response<Body>> {
        openai::parse_chat(body)
    }

    fn invalid(&self, message: &str) -> Response<Body> {
        openai::errors::bad_request(message, None, None)
    }

    fn model(&self, _s: &Summary) -> Option<String> {
        Some(self.deployment.clone())
    }

    /// 429, 401 and 404 in Azure's shape; other statuses as OpenAI's (Azure relays them).
    fn fault(&self, status: u16, b: &Behavior, model: &str) -> Response<Body> {
        let code = crate::http::status_code(status);
        let mut resp = match status {
            429 => {
                let secs = retry_delay_secs(b).map_or(1, |s| s.ceil().max(0.0) as u64);
                let default = format!("Rate limit is exceeded. Try again in {secs} seconds.");
                let msg = b.error_message.as_deref().unwrap_or(&default);
                azure_error(code, "429", msg)
            }
            401 => azure_error(
                code,
                "401",
                b.error_message.as_deref().unwrap_or(ACCESS_DENIED),
            ),
            404 => {
                let default = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.";
                azure_error(
                    code,
                    "DeploymentNotFound",
                    b.error_message.as_deref().unwrap_or(default),
                )
            }
            _ => return fault_response(status, b, model),
        };
        retry_headers(&mut resp, b);
        resp
    }

    fn validate(&self, s: &Summary) -> Result<(), Response<Body>> {
        openai::validate_messages(s)
    }

    /// Azure's 400 `content_filter` error, with the `innererror` verdict.
    fn prompt_filtered(&self, _s: &Summary, b: &Behavior) -> Response<Body> {
        let message = b.error_message.as_deref().unwrap_or(PROMPT_FILTERED);
        let body = serde_json::json!({"error": {
            "message": message,
            "type": null,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {
                    "hate": {"filtered": false, "severity": "safe"},
                    "self_harm": {"filtered": false, "severity": "safe"},
                    "sexual": {"filtered": true, "severity": "high"},
                    "violence": {"filtered": false, "severity": "safe"}
                }
            }
        }});
        json_value(StatusCode::BAD_REQUEST, &body)
    }

    fn full(&self, ctx: &Ctx, reply: &Reply) -> Response<Body> {
        let mut resp = json_response(
            StatusCode::OK,
            openai::completion_body(ctx, reply, Flavor::Azure),
        );
        set_header(&mut resp, "apim-request-id", &request_id(ctx.id));
        resp
    }

    fn stream(
        &self,
        ctx: Ctx,
        reply: Reply,
        pacing: Pacing,
        guard: RequestGuard,
    ) -> Response<Body> {
        let id = request_id(ctx.id);
        let mut resp = openai::stream_response(ctx, reply, pacing, guard, Flavor::Azure);
        set_header(&mut resp, "apim-request-id", &id);
        resp
    }
}

/// A GUID-shaped request id derived from the response id.
fn request_id(id: u64) -> String {
    format!("00000000-0000-4000-8000-{id:012x}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        assert!(valid_api_version("2024-12-01-preview"));
        assert!(valid_api_version("2024-10-21"));
        assert!(!valid_api_version("latest"));
        assert!(!valid_api_version("2024-1-01"));
        assert!(!valid_api_version(""));
    }

    #[test]
    fn constants_are_json() {
        for s in [SAFE, FILTERED, PROMPT_FILTER_RESULTS] {
            serde_json::from_str::<serde_json::Value>(s).unwrap();
        }
        let first = FIRST_CHUNK
            .strip_prefix("data: ")
            .unwrap()
            .strip_suffix("\n\n")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(first).unwrap();
        assert_eq!(v["choices"], serde_json::json!([]));
        assert_eq!(v["created"], 0);
    }
}
