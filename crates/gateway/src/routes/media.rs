//! `POST /v1/embeddings`, `/v1/images/generations`, `/v1/audio/transcriptions` and
//! `/v1/audio/speech`: OpenAI's shapes, served by every provider that can.
//!
//! The front (auth, body, decode, model, scope) is here; admission, the attempt loop,
//! fallbacks and the answer are the chat routes' (`chat::run`), with this module's
//! [`attempt`] as the one upstream call. The translation is `adapters::media`.

use super::chat::{self, AudioServed, Call, Failure, Op, Routing, Served};
use crate::catalog::Deployment;
use crate::error::{ApiError, ErrorShape};
use crate::governance::admission::Size;
use crate::governance::tokens;
use crate::observe::{MediaUnits, RequestLog};
use crate::providers;
use crate::router::health::now_ms;
use crate::router::pick::Ask;
use crate::routes::{read_body, RequestId};
use crate::state::{AppState, InflightGuard};
use crate::upstream;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use http::{header, HeaderValue};
use std::sync::Arc;
use std::time::Instant;
use switchyard_adapters::canonical::Usage;
use switchyard_adapters::media::{self, audio, embeddings, images, MediaWire};
use switchyard_adapters::{AdapterError, ErrorClass, UpstreamError, UpstreamRequest};

/// The largest upload a transcription takes (OpenAI's own limit is 25 MB), whatever
/// the body limit of the other routes.
const MAX_AUDIO_UPLOAD: u64 = 26 * 1024 * 1024;
/// Upstream error bodies are read only for their message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A decoded media request.
pub(crate) enum MediaCall {
    Embeddings(embeddings::EmbeddingsRequest),
    Images(images::ImagesRequest),
    Transcription(audio::TranscriptionRequest),
    Speech(audio::SpeechRequest),
}

#[derive(Clone, Copy)]
enum Kind {
    Embeddings,
    Images,
    Transcription,
    Speech,
}

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
pub async fn embeddings(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    req: axum::extract::Request,
) -> Response {
    serve(st, rid, req, Kind::Embeddings).await
}

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
pub async fn images(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    req: axum::extract::Request,
) -> Response {
    serve(st, rid, req, Kind::Images).await
}

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
pub async fn transcriptions(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    req: axum::extract::Request,
) -> Response {
    serve(st, rid, req, Kind::Transcription).await
}

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
pub async fn speech(
    State(st): State<AppState>,
    Extension(rid): Extension<RequestId>,
    req: axum::extract::Request,
) -> Response {
    serve(st, rid, req, Kind::Speech).await
}

async fn serve(st: AppState, rid: RequestId, req: axum::extract::Request, kind: Kind) -> Response {
    const SHAPE: ErrorShape = ErrorShape::OpenAi;
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let peer = chat::peer_ip(&parts.extensions);
    let principal = match st.policy.authenticate(&headers) {
        Ok(p) => p,
        Err(e) => return chat::rejected(&st, &rid, "", e, started, SHAPE, kind.endpoint()),
    };
    let limit = match kind {
        Kind::Transcription => st.max_body.max(MAX_AUDIO_UPLOAD),
        _ => st.max_body,
    };
    let bytes = match read_body(body, &headers, limit).await {
        Ok(b) => b,
        Err(e) => return chat::rejected(&st, &rid, "", e, started, SHAPE, kind.endpoint()),
    };
    let decoded = match kind {
        Kind::Embeddings => embeddings::decode_request(&bytes).map(MediaCall::Embeddings),
        Kind::Images => images::decode_request(&bytes).map(MediaCall::Images),
        Kind::Transcription => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            audio::decode_transcription(&bytes, content_type).map(MediaCall::Transcription)
        }
        Kind::Speech => audio::decode_speech_request(&bytes).map(MediaCall::Speech),
    };
    let mc = match decoded {
        Ok(m) => m,
        Err(e) => {
            let e = ApiError::bad_request(e.message, e.param);
            return chat::rejected(&st, &rid, "", e, started, SHAPE, kind.endpoint());
        }
    };
    let model = mc.model().to_string();
    let request_list = match chat::request_fallbacks(None, &model, &headers) {
        Ok(l) => l,
        Err(e) => return chat::rejected(&st, &rid, &model, e, started, SHAPE, kind.endpoint()),
    };
    let catalog = st.catalog.load_full();
    let Some(resolved) = catalog.resolve(&model) else {
        let e = ApiError::model_not_found(&model);
        return chat::rejected(&st, &rid, &model, e, started, SHAPE, kind.endpoint());
    };
    if let Err(e) = st.policy.authorize_model(&principal, &model) {
        return chat::rejected(&st, &rid, &model, e, started, SHAPE, kind.endpoint());
    }
    let prompt_tokens = mc.prompt_tokens();
    let call = Call::new(&st, &rid, Op::Media(&mc), &bytes, &headers, started);
    let mut log = RequestLog::new(&st.sinks, rid.as_str(), &model, "", false, started);
    log.endpoint = kind.endpoint();
    chat::note_client(&mut log, &headers, peer);
    log.trace = Some(call.trace());
    let routing = Routing {
        principal: &principal,
        catalog,
        resolved,
        serving: model,
        request_list,
        ask: Ask {
            stream: false,
            prompt_tokens,
            max_output: 0,
            now_ms: now_ms(),
        },
    };
    let size_of = |_: &crate::governance::keys::KeyEntry| Size {
        prompt_tokens,
        max_output: Some(0),
    };
    chat::run(&call, log, routing, size_of).await
}

impl Kind {
    fn endpoint(self) -> &'static str {
        match self {
            Kind::Embeddings => "embeddings",
            Kind::Images => "images.generations",
            Kind::Transcription => "audio.transcriptions",
            Kind::Speech => "audio.speech",
        }
    }
}

impl MediaCall {
    fn model(&self) -> &str {
        match self {
            MediaCall::Embeddings(r) => &r.model,
            MediaCall::Images(r) => &r.model,
            MediaCall::Transcription(r) => &r.model,
            MediaCall::Speech(r) => &r.model,
        }
    }

    /// The input's tokens, for limits and budgets (and for embeddings whose provider
    /// reports none).
    fn prompt_tokens(&self) -> u64 {
        match self {
            MediaCall::Embeddings(r) => input_tokens(&r.input),
            MediaCall::Images(r) => tokens::count(&r.prompt),
            MediaCall::Transcription(_) => 0,
            MediaCall::Speech(r) => tokens::count(&r.input),
        }
    }
}

fn input_tokens(input: &embeddings::EmbeddingInput) -> u64 {
    use embeddings::EmbeddingInput as I;
    match input {
        I::Text(t) => tokens::count(t),
        I::Texts(ts) => ts.iter().map(|t| tokens::count(t)).sum(),
        I::Tokens(t) => t.len() as u64,
        I::TokenBatches(b) => b.iter().map(|t| t.len() as u64).sum(),
    }
}

fn tokens_usage(prompt: u64, completion: u64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        ..Usage::default()
    }
}

/// One upstream attempt of a media request on deployment `d` with `key`.
pub(crate) async fn attempt(
    call: &Call<'_>,
    m: &MediaCall,
    d: &Arc<Deployment>,
    key: Option<&str>,
    _span_id: [u8; 8],
) -> Result<Served, Failure> {
    let provider = &d.provider;
    let built = providers::media_requests(provider, &d.model, key, d.timeout, |wire, target| {
        build(m, wire, target)
    })
    .await;
    let requests = match built {
        Ok(Ok(r)) => r,
        Ok(Err(AdapterError::Unsupported { param, message })) => {
            return Err(Failure::Rejected(ApiError::bad_request(
                message,
                Some(param),
            )))
        }
        Ok(Err(e)) => {
            return Err(Failure::Rejected(ApiError::bad_request(
                e.to_string(),
                None,
            )))
        }
        Err(e) => return Err(Failure::Upstream(e, d.clone())),
    };
    let fail = |e: UpstreamError| Failure::Upstream(e, d.clone());
    let inflight = InflightGuard::new(call.st, d);
    d.limits.record_request(now_ms());
    let upstream_started = Instant::now();
    let http = call.st.client_for(d.connect_timeout);
    let wire = provider.media.wire();

    if let MediaCall::Speech(r) = m {
        let up = requests.into_iter().next().ok_or_else(|| {
            fail(UpstreamError::new(
                ErrorClass::Server,
                None,
                "no request was built",
            ))
        })?;
        let resp = upstream::send(http, up, call.rid.as_str(), d.timeout)
            .await
            .map_err(fail)?;
        let status = resp.status();
        let (parts, body) = resp.into_parts();
        if !status.is_success() {
            let body = upstream::read_limited(body, MAX_ERROR_BODY, d.timeout).await;
            return Err(fail(media::classify_error(
                wire,
                status.as_u16(),
                &parts.headers,
                &body,
            )));
        }
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static(r.content_type()));
        return Ok(Served::Audio(Box::new(AudioServed {
            body,
            content_type,
            units: MediaUnits {
                characters: r.characters(),
                ..MediaUnits::default()
            },
            inflight,
            deployment: d.clone(),
        })));
    }

    // Embeddings may take several calls (Bedrock Titan embeds one text per call): sent
    // side by side, answers kept in order.
    let sends = requests
        .into_iter()
        .map(|up| send_and_read(call, http, up, d, wire));
    let answers = futures_util::future::try_join_all(sends)
        .await
        .map_err(fail)?;
    let upstream_elapsed = upstream_started.elapsed();
    drop(inflight);
    let bad = |e: AdapterError| {
        fail(UpstreamError::new(
            ErrorClass::Server,
            Some(200),
            e.to_string(),
        ))
    };
    let (body, usage, units, content_type) = match m {
        MediaCall::Embeddings(r) => {
            if wire.is_openai_format() && answers.len() == 1 {
                let (body, tokens) =
                    embeddings::passthrough_response(&answers[0].1, &d.model).map_err(bad)?;
                let tokens = tokens.unwrap_or_else(|| input_tokens(&r.input));
                (body, tokens_usage(tokens, 0), MediaUnits::default(), None)
            } else {
                let bodies: Vec<Bytes> = answers.into_iter().map(|(_, b)| b).collect();
                let mut e = embeddings::parse_responses(wire, r, &bodies).map_err(bad)?;
                // Counted here when the provider reports none, for the client and the ledger.
                let tokens = *e
                    .prompt_tokens
                    .get_or_insert_with(|| input_tokens(&r.input));
                let units = MediaUnits {
                    characters: e.billable_characters.unwrap_or(0),
                    ..MediaUnits::default()
                };
                let format = r
                    .encoding_format
                    .unwrap_or(embeddings::EncodingFormat::Float);
                let body = embeddings::encode_response(&e, &d.model, format);
                (body, tokens_usage(tokens, 0), units, None)
            }
        }
        MediaCall::Images(_) => {
            let (_, raw) = answers.into_iter().next().unwrap_or_default();
            let images = images::parse_response(wire, &raw).map_err(bad)?;
            let usage = images.token_usage().map_or_else(Usage::default, |u| {
                tokens_usage(u.input_tokens, u.output_tokens)
            });
            let units = MediaUnits {
                images: images.count,
                ..MediaUnits::default()
            };
            let body = images::encode_response(&images, chat::unix_now());
            (body, usage, units, None)
        }
        MediaCall::Transcription(r) => {
            let (content_type, raw) = answers.into_iter().next().unwrap_or_default();
            // The client's own format is passed through; it is read only for billing.
            let t = audio::parse_transcription_response(r.response_format, &raw).ok();
            let usage = t
                .as_ref()
                .and_then(audio::Transcription::tokens)
                .map_or_else(Usage::default, |(i, o)| tokens_usage(i, o));
            let units = MediaUnits {
                audio_ms: t
                    .as_ref()
                    .and_then(audio::Transcription::audio_ms)
                    .unwrap_or(0),
                ..MediaUnits::default()
            };
            (raw.to_vec(), usage, units, content_type)
        }
        // Streamed above.
        MediaCall::Speech(_) => {
            return Err(fail(UpstreamError::new(
                ErrorClass::Server,
                None,
                "speech is streamed, not read whole",
            )))
        }
    };
    Ok(Served::Json {
        status: http::StatusCode::OK,
        content_type,
        body: Bytes::from(body),
        usage: Some(usage),
        units,
        upstream_elapsed,
        deployment: d.clone(),
    })
}

fn build(
    m: &MediaCall,
    wire: MediaWire<'_>,
    target: &switchyard_adapters::Target<'_>,
) -> Result<Vec<UpstreamRequest>, AdapterError> {
    match m {
        MediaCall::Embeddings(r) => embeddings::build_requests(wire, r, target),
        MediaCall::Images(r) => images::build_request(wire, r, target).map(|u| vec![u]),
        MediaCall::Transcription(r) => {
            audio::build_transcription_request(wire, r, target).map(|u| vec![u])
        }
        MediaCall::Speech(r) => audio::build_speech_request(wire, r, target).map(|u| vec![u]),
    }
}

/// Sends one upstream request and reads its answer (content type and body); an error
/// status is classified in the provider's terms.
async fn send_and_read(
    call: &Call<'_>,
    http: &upstream::HttpClient,
    up: UpstreamRequest,
    d: &Deployment,
    wire: MediaWire<'_>,
) -> Result<(Option<HeaderValue>, Bytes), UpstreamError> {
    let started = Instant::now();
    let resp = upstream::send(http, up, call.rid.as_str(), d.timeout).await?;
    let status = resp.status();
    let (parts, body) = resp.into_parts();
    let remaining = d.timeout.saturating_sub(started.elapsed());
    if !status.is_success() {
        let body = upstream::read_limited(body, MAX_ERROR_BODY, remaining).await;
        return Err(media::classify_error(
            wire,
            status.as_u16(),
            &parts.headers,
            &body,
        ));
    }
    let body = upstream::read_body(body, remaining).await?;
    Ok((parts.headers.get(header::CONTENT_TYPE).cloned(), body))
}
