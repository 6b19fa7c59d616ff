//! OpenAI Chat Completions: `POST …/chat/completions`, `GET …/models`, and the OpenAI
//! 404 for unknown routes. Azure OpenAI (`azure.rs`) reuses the bodies and the stream.

mod body;
pub(crate) mod errors;
mod request;
mod stream;

use axum::body::Body;
use axum::http::{header, request::Parts, HeaderValue, Response, StatusCode};

use crate::behavior::Behavior;
use crate::content::Reply;
use crate::handler::{Api, Ctx};
use crate::state::{Format, RequestGuard};
use crate::stream::Pacing;
use crate::summary::Summary;
use errors::{bad_request, error_response, fault_response};
use request::ChatRequest;

pub(crate) use body::completion_body;
pub(crate) use stream::{response as stream_response, Flavor};

const INVALID_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please visit https://platform.openai.com/docs.)";

/// Read an OpenAI chat body (shared with Azure).
#[allow(clippy::result_large_err)] // a finished response, see `handler::Api`
pub(crate) fn parse_chat(body: &[u8]) -> Result<Summary, Response<Body>> {
    match serde_json::from_slice::<ChatRequest<'_>>(body) {
        Ok(r) => Ok(r.into_summary()),
        Err(e) if e.is_data() => Err(bad_request(
            &format!("Invalid request body: {e}"),
            None,
            None,
        )),
        Err(_) => Err(bad_request(INVALID_JSON, None, None)),
    }
}

/// `messages` present and non-empty (shared with Azure).
#[allow(clippy::result_large_err)] // a finished response, see `handler::Api`
pub(crate) fn validate_messages(s: &Summary) -> Result<(), Response<Body>> {
    match s.messages {
        None => Err(bad_request(
            "Missing required parameter: 'messages'.",
            Some("messages"),
            Some("missing_required_parameter"),
        )),
        Some(0) => Err(bad_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            Some("messages"),
            Some("empty_array"),
        )),
        Some(_) => Ok(()),
    }
}

/// The OpenAI API itself.
pub(crate) struct OpenAi;

impl Api for OpenAi {
    fn format(&self) -> Format {
        Format::OpenAi
    }

    fn parse(&self, _parts: &Parts, body: &[u8]) -> Result<Summary, Response<Body>> {
        parse_chat(body)
    }

    fn invalid(&self, message: &str) -> Response<Body> {
        bad_request(message, None, None)
    }

    fn model(&self, s: &Summary) -> Option<String> {
        s.model.clone()
    }

    fn fault(&self, status: u16, b: &Behavior, model: &str) -> Response<Body> {
        fault_response(status, b, model)
    }

    fn validate(&self, s: &Summary) -> Result<(), Response<Body>> {
        if s.model.is_none() {
            return Err(bad_request(
                "you must provide a model parameter",
                Some("model"),
                None,
            ));
        }
        validate_messages(s)
    }

    fn prompt_filtered(&self, _s: &Summary, _b: &Behavior) -> Response<Body> {
        bad_request(
            "Your request was rejected as a result of our safety system.",
            Some("messages"),
            Some("content_policy_violation"),
        )
    }

    fn full(&self, ctx: &Ctx, reply: &Reply) -> Response<Body> {
        crate::http::json_response(StatusCode::OK, completion_body(ctx, reply, Flavor::OpenAi))
    }

    fn stream(
        &self,
        ctx: Ctx,
        reply: Reply,
        pacing: Pacing,
        guard: RequestGuard,
    ) -> Response<Body> {
        stream_response(ctx, reply, pacing, guard, Flavor::OpenAi)
    }
}

/// `GET …/models`.
pub(crate) fn models() -> Response<Body> {
    const MODELS: &str = concat!(
        r#"{"object":"list","data":["#,
        r#"{"id":"mock-gpt-4o","object":"model","created":1700000000,"owned_by":"switchyard-mock"},"#,
        r#"{"id":"mock-gpt-4o-mini","object":"model","created":1700000000,"owned_by":"switchyard-mock"},"#,
        r#"{"id":"mock-small","object":"model","created":1700000000,"owned_by":"switchyard-mock"}"#,
        "]}"
    );
    let mut resp = Response::new(Body::from(MODELS));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// 404 for anything unknown, in OpenAI's words.
pub(crate) fn not_found(method: &str, path: &str) -> Response<Body> {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("Invalid URL ({method} {path})"),
        "invalid_request_error",
        None,
        None,
    )
}
