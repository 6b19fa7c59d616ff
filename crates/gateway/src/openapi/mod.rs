//! `GET /openapi.json`: the OpenAPI 3.1 document of every route, generated from the code.
//!
//! Routes are registered with `utoipa_axum`'s `OpenApiRouter` and `routes!(handler)`
//! (`routes::api_router`): a handler is added to the router together with its
//! `#[utoipa::path(...)]` documentation, so a route cannot be served undocumented.
//! [`document`] splits that router's documentation off; the start-up serializes it
//! once into [`SPEC`], served as it is.
//!
//! Error responses are shared per kind of route ([`OpenAiInferenceErrors`],
//! [`AnthropicInferenceErrors`], [`AdminErrors`], …): each names the statuses the
//! handlers give, in the route's error shape, with `x-request-id` and, where it
//! applies, `Retry-After`.

pub mod schemas;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, OpenApi as Doc, Ref, RefOr, Response as DocResponse,
    ResponseBuilder, Type,
};
use utoipa::{IntoResponses, Modify, OpenApi};

/// The serialized document, made once when the router is first built.
static SPEC: OnceLock<Bytes> = OnceLock::new();

/// The base document: info, tags, security schemes, the shared schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchyard",
        description = "An LLM gateway: OpenAI Chat Completions, Responses, Anthropic Messages, embeddings, images and audio in front of many providers, with virtual keys, budgets, routing and a request ledger. Inference routes accept the master key or a virtual key as `Authorization: Bearer`, `x-api-key` or `api-key`; the admin API needs the master key.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(
        schemas::OpenAiError,
        schemas::AnthropicError,
        schemas::ChatCompletionChunk
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "inference", description = "Model calls, any provider"),
        (name = "models", description = "The catalog a key may use"),
        (name = "admin", description = "The admin API (master key only)"),
        (name = "operations", description = "Health, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// The security schemes: the three headers a key may come in. Which key a route
/// needs (any, or the master key) is said per operation.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Doc) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer KEY`: the master key or a virtual key",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "x_api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "`x-api-key: KEY` (Anthropic SDKs)",
            ))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "api-key",
                "`api-key: KEY` (Azure SDKs)",
            ))),
        );
    }
}

/// The whole document: every route the router serves.
pub fn document() -> Doc {
    let (_, served) = crate::routes::api_router().split_for_parts();
    served
}

/// Serializes the router's documentation once (the first router built wins; every
/// worker builds the same routes).
pub(crate) fn publish(served: Doc) {
    SPEC.get_or_init(|| Bytes::from(serde_json::to_vec(&served).unwrap_or_default()));
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    summary = "This OpenAPI 3.1 document",
    description = "Generated from the code at start-up; unauthenticated (it holds no secrets).",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json",
            body = Object, headers(("x-request-id" = String, description = "The request's id"))),
    )
)]
pub async fn serve() -> Response {
    let body = SPEC.get().cloned().unwrap_or_default();
    (
        [(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------
// Shared error responses

/// The error body of a route.
#[derive(Clone, Copy)]
enum Shape {
    OpenAi,
    Anthropic,
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .build()
}

fn integer_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        )
        .description(Some(description))
        .build()
}

/// What each status means, as the contract words it.
fn describe(status: &str) -> &'static str {
    match status {
        "400" => "Bad request: invalid body or parameter (also context window `context_length_exceeded`, content policy)",
        "401" => "Missing or unknown key",
        "402" => "The key's budget for the period is spent (`budget_exceeded`)",
        "403" => "The key may not use this model (`model_not_allowed`), or a virtual key on the admin API",
        "404" => "Unknown model (`model_not_found`) or entry",
        "409" => "Conflict: defined in the config file, exists already, or still in use",
        "413" => "The body is larger than `server.max_body_size`",
        "429" => "Rate limited (the key's limits, or the provider's), with `Retry-After`",
        "4XX" => "Another client error, passed through from the upstream provider",
        "502" => "The upstream provider failed or could not be reached",
        "503" => "No healthy deployment, or no database (`Retry-After`)",
        "504" => "The upstream provider did not answer in time",
        _ => "Error",
    }
}

fn errors(shape: Shape, statuses: &[&str]) -> BTreeMap<String, RefOr<DocResponse>> {
    let schema = match shape {
        Shape::OpenAi => "OpenAiError",
        Shape::Anthropic => "AnthropicError",
    };
    statuses
        .iter()
        .map(|status| {
            let mut r = ResponseBuilder::new()
                .description(describe(status))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(schema)))
                        .build(),
                )
                .header("x-request-id", string_header("The request's id"));
            if matches!(*status, "429" | "503" | "4XX") {
                r = r.header(
                    "retry-after",
                    integer_header("Seconds to wait before trying again"),
                );
            }
            if *status == "429" {
                for (name, what) in [
                    (
                        "x-ratelimit-limit-requests",
                        "The key's requests per minute",
                    ),
                    (
                        "x-ratelimit-remaining-requests",
                        "Requests left this minute",
                    ),
                    ("x-ratelimit-limit-tokens", "The key's tokens per minute"),
                    ("x-ratelimit-remaining-tokens", "Tokens left this minute"),
                ] {
                    r = r.header(name, integer_header(what));
                }
            }
            (status.to_string(), RefOr::T(r.build()))
        })
        .collect()
}

const INFERENCE: &[&str] = &[
    "400", "401", "402", "403", "404", "413", "429", "4XX", "502", "503", "504",
];

/// The errors of an OpenAI inference route (`/v1/chat/completions`, `/v1/responses`,
/// embeddings, images, audio): the attempt loop's, in OpenAI's shape.
pub struct OpenAiInferenceErrors;

impl IntoResponses for OpenAiInferenceErrors {
    fn responses() -> BTreeMap<String, RefOr<DocResponse>> {
        errors(Shape::OpenAi, INFERENCE)
    }
}

/// The errors of `/v1/messages`, in Anthropic's shape.
pub struct AnthropicInferenceErrors;

impl IntoResponses for AnthropicInferenceErrors {
    fn responses() -> BTreeMap<String, RefOr<DocResponse>> {
        errors(Shape::Anthropic, INFERENCE)
    }
}

/// `/v1/messages/count_tokens`: no budget or limits are charged, but an Anthropic
/// deployment is asked, so its failures can come back.
pub struct CountTokensErrors;

impl IntoResponses for CountTokensErrors {
    fn responses() -> BTreeMap<String, RefOr<DocResponse>> {
        errors(
            Shape::Anthropic,
            &[
                "400", "401", "403", "404", "413", "429", "4XX", "502", "504",
            ],
        )
    }
}

/// `GET` / `DELETE /v1/responses/{id}`: the key, the stored response (404, also when
/// another key stored it), the database (503).
pub struct StoredResponseErrors;

impl IntoResponses for StoredResponseErrors {
    fn responses() -> BTreeMap<String, RefOr<DocResponse>> {
        errors(Shape::OpenAi, &["401", "404", "503"])
    }
}

/// `GET /v1/models`: only the key is checked.
pub struct KeyErrors;

impl IntoResponses for KeyErrors {
    fn responses() -> BTreeMap<String, RefOr<DocResponse>> {
        errors(Shape::OpenAi, &["401"])
    }
}

/// An admin route that needs no database: no key (401), a virtual key (403).
pub struct AdminAuthErrors;

impl IntoResponses for AdminAuthErrors {
    fn responses() -> BTreeMap<String, RefOr<DocResponse>> {
        errors(Shape::OpenAi, &["401", "403"])
    }
}

/// Every admin route: no key (401), a virtual key (403), no database (503).
pub struct AdminErrors;

impl IntoResponses for AdminErrors {
    fn responses() -> BTreeMap<String, RefOr<DocResponse>> {
        errors(Shape::OpenAi, &["401", "403", "503"])
    }
}

/// An admin route naming an entry (404) and reading a body (400).
pub struct AdminEntryErrors;

impl IntoResponses for AdminEntryErrors {
    fn responses() -> BTreeMap<String, RefOr<DocResponse>> {
        errors(Shape::OpenAi, &["400", "401", "403", "404", "503"])
    }
}

/// A runtime catalog write: also 409 (the config file's, exists, still in use).
pub struct CatalogWriteErrors;

impl IntoResponses for CatalogWriteErrors {
    fn responses() -> BTreeMap<String, RefOr<DocResponse>> {
        errors(Shape::OpenAi, &["400", "401", "403", "404", "409", "503"])
    }
}

/// An admin route with query parameters (400) and no entry.
pub struct AdminQueryErrors;

impl IntoResponses for AdminQueryErrors {
    fn responses() -> BTreeMap<String, RefOr<DocResponse>> {
        errors(Shape::OpenAi, &["400", "401", "403", "503"])
    }
}

/// `x-switchyard-*` and rate-limit headers of a routed answer, for the docs of the
/// inference routes (`headers(...)` takes them one by one; this is the list).
pub const ROUTED_HEADERS: &[&str] = &[
    "x-request-id",
    "x-switchyard-deployment",
    "x-switchyard-attempts",
    "x-switchyard-fallback",
    "x-switchyard-cost-usd",
    "x-switchyard-overhead-ms",
];

#[cfg(test)]
mod tests;
