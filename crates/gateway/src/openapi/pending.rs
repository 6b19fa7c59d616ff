//! Routes of the contract whose handlers are not in this tree yet: `/v1/responses`,
//! `/v1/embeddings`, `/v1/images/generations`, `/v1/audio/transcriptions`,
//! `/v1/audio/speech`. Their documentation lives here as path stubs (functions that
//! only carry `#[utoipa::path]`), merged into the document by [`PendingRoutes`].
//!
//! When a handler lands (e.g. `routes::responses::create`): move its stub's
//! `#[utoipa::path(...)]` attribute onto the handler, register it in
//! `routes::api_router` with `.routes(routes!(responses::create))`, delete the stub
//! here and its name from `PendingRoutes`' `paths(...)`, and remove the route from
//! `PENDING` in `openapi/tests.rs`. The attributes name every type by its full path
//! (`crate::openapi::…`), so they move without edits.

#![allow(dead_code)]

use utoipa::OpenApi;

/// The stubs' documentation, merged into the served document.
#[derive(OpenApi)]
#[openapi(paths(
    responses_create,
    embeddings_create,
    images_generate,
    audio_transcribe,
    audio_speech
))]
pub struct PendingRoutes;

/// `POST /v1/responses`.
#[utoipa::path(
    post,
    path = "/v1/responses",
    tag = "inference",
    operation_id = "createResponse",
    summary = "OpenAI Responses API, any provider",
    description = "Stream (`stream: true`, `text/event-stream` of Responses events) or not. The request's `model` is a public model name or `provider/model`.",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    request_body(content = crate::openapi::schemas::ResponsesRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The response; a stream of events with `stream: true`",
            content(
                (crate::openapi::schemas::ResponsesResponse = "application/json"),
                (String = "text/event-stream"),
            ),
            headers(
                ("x-request-id" = String, description = "The request's id (a client-sent one is kept)"),
                ("x-switchyard-deployment" = String, description = "`provider/model` that served"),
                ("x-switchyard-attempts" = u32, description = "Upstream attempts made"),
                ("x-switchyard-fallback" = String, description = "The public model that served, when a fallback did"),
                ("x-switchyard-cost-usd" = String, description = "Cost of a non-streamed answer"),
                ("x-switchyard-overhead-ms" = String, description = "The gateway's own time"),
            )),
        crate::openapi::OpenAiInferenceErrors,
    )
)]
pub async fn responses_create() {}

/// `POST /v1/embeddings`.
#[utoipa::path(
    post,
    path = "/v1/embeddings",
    tag = "inference",
    operation_id = "createEmbeddings",
    summary = "OpenAI embeddings",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    request_body(content = crate::openapi::schemas::EmbeddingsRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The embeddings", body = crate::openapi::schemas::EmbeddingsResponse,
            headers(
                ("x-request-id" = String, description = "The request's id"),
                ("x-switchyard-deployment" = String, description = "`provider/model` that served"),
                ("x-switchyard-cost-usd" = String, description = "Cost of the request"),
            )),
        crate::openapi::OpenAiInferenceErrors,
    )
)]
pub async fn embeddings_create() {}

/// `POST /v1/images/generations`.
#[utoipa::path(
    post,
    path = "/v1/images/generations",
    tag = "inference",
    operation_id = "createImages",
    summary = "OpenAI image generation",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    request_body(content = crate::openapi::schemas::ImagesRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The images", body = crate::openapi::schemas::ImagesResponse,
            headers(
                ("x-request-id" = String, description = "The request's id"),
                ("x-switchyard-deployment" = String, description = "`provider/model` that served"),
            )),
        crate::openapi::OpenAiInferenceErrors,
    )
)]
pub async fn images_generate() {}

/// `POST /v1/audio/transcriptions`.
#[utoipa::path(
    post,
    path = "/v1/audio/transcriptions",
    tag = "inference",
    operation_id = "createTranscription",
    summary = "OpenAI audio transcription",
    description = "`multipart/form-data` with the audio `file` and `model`; the answer's format follows `response_format` (`json`/`verbose_json` as JSON, `text`/`srt`/`vtt` as text).",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    request_body(content = crate::openapi::schemas::TranscriptionRequest, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The transcript",
            content(
                (crate::openapi::schemas::TranscriptionResponse = "application/json"),
                (String = "text/plain"),
            ),
            headers(
                ("x-request-id" = String, description = "The request's id"),
                ("x-switchyard-deployment" = String, description = "`provider/model` that served"),
            )),
        crate::openapi::OpenAiInferenceErrors,
    )
)]
pub async fn audio_transcribe() {}

/// `POST /v1/audio/speech`.
#[utoipa::path(
    post,
    path = "/v1/audio/speech",
    tag = "inference",
    operation_id = "createSpeech",
    summary = "OpenAI text to speech",
    security(("bearer" = []), ("x_api_key" = []), ("api_key" = [])),
    request_body(content = crate::openapi::schemas::SpeechRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The audio, in `response_format` (mp3 by default)",
            content(
                (Vec<u8> = "audio/mpeg"),
                (Vec<u8> = "audio/opus"),
                (Vec<u8> = "audio/aac"),
                (Vec<u8> = "audio/flac"),
                (Vec<u8> = "audio/wav"),
                (Vec<u8> = "audio/pcm"),
            ),
            headers(
                ("x-request-id" = String, description = "The request's id"),
                ("x-switchyard-deployment" = String, description = "`provider/model` that served"),
            )),
        crate::openapi::OpenAiInferenceErrors,
    )
)]
pub async fn audio_speech() {}
