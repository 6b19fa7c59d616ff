//! Embeddings, image generation and audio endpoints of every format.
//!
//! | host | paths |
//! |---|---|
//! | OpenAI | `…/embeddings`, `…/images/generations`, `…/audio/transcriptions` (multipart), `…/audio/speech` |
//! | Azure | the same under `…/openai/deployments/{d}/…?api-version=` (api-version and a key required) |
//! | Gemini | `…/v1beta/models/{m}:batchEmbedContents`, `…/v1beta/models/{m}:predict` (Imagen) |
//! | Vertex | `…/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:predict` (Imagen when `m` starts with `imagen`, else embeddings; minted token required) |
//! | Bedrock | `…/model/{id}/invoke` for `amazon.titan-embed*` and `cohere.embed*` (SigV4-shaped auth required) |
//! | files | `GET …/files/img-{n}.png` (the image behind every `url` answer) |
//!
//! Answers are deterministic: an embedding is a function of its input text (FNV-1a), 8
//! values unless the request asks for a size; images are one tiny valid PNG; a
//! transcription is `transcribed <N> bytes of <filename>` with a duration of N / 16000
//! seconds; speech is 4 chunks of `len(input)` bytes each, `delay_ms` apart (5 ms by
//! default). The fault knobs (`status`, `fail_times`, `error_message`, `retry_after*`,
//! `headers_delay_ms`) and `ttft_ms` (before the answer) work as for chat; speech also
//! honours `delay_ms` and `drop_after` (abort after that many chunks);
//! `content_filter=prompt` refuses an image prompt as the format's content policy error.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, request::Parts, HeaderValue, Response, StatusCode};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::azure::Azure;
use crate::bedrock::Bedrock;
use crate::behavior::{self, Behavior, ContentFilter};
use crate::gemini::Gemini;
use crate::handler::{sleep, Api, BODY_LIMIT};
use crate::openai::errors::bad_request;
use crate::openai::OpenAi;
use crate::record;
use crate::state::{Outcome, RequestGuard, State};
use crate::summary::Summary;

/// A 1×1 PNG, the image of every answer.
pub(crate) const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// Embedding size when the request names none.
const DEFAULT_DIMENSIONS: usize = 8;

/// Largest embedding size the mock produces.
const MAX_DIMENSIONS: usize = 16_384;

/// Who is being imitated.
pub(crate) enum Host {
    OpenAi,
    Azure { deployment: String },
    Gemini { model: String },
    Vertex { model: String },
    Bedrock { model: String },
}

/// What is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Embeddings,
    Images,
    Transcriptions,
    Speech,
    /// Gemini `batchEmbedContents`.
    BatchEmbed,
    /// Google `predict`: Imagen or text embeddings, by model name.
    Predict,
    /// Bedrock `InvokeModel`.
    Invoke,
}

pub(crate) struct Media {
    pub(crate) host: Host,
    pub(crate) op: Op,
}

/// The chat `Api` of the host, for its prechecks (auth) and fault shapes.
enum HostApi {
    OpenAi(OpenAi),
    Azure(Azure),
    Gemini(Gemini),
    Bedrock(Bedrock),
}

impl HostApi {
    fn of(host: &Host) -> HostApi {
        match host {
            Host::OpenAi => HostApi::OpenAi(OpenAi),
            Host::Azure { deployment } => HostApi::Azure(Azure {
                deployment: deployment.clone(),
            }),
            Host::Gemini { model } | Host::Vertex { model } => HostApi::Gemini(Gemini {
                model: model.clone(),
                stream: false,
                sse: false,
                vertex: matches!(host, Host::Vertex { .. }),
            }),
            Host::Bedrock { model } => HostApi::Bedrock(Bedrock {
                model: model.clone(),
                stream: false,
            }),
        }
    }

    fn format(&self) -> crate::state::Format {
        match self {
            HostApi::OpenAi(a) => a.format(),
            HostApi::Azure(a) => a.format(),
            HostApi::Gemini(a) => a.format(),
            HostApi::Bedrock(a) => a.format(),
        }
    }

    #[allow(clippy::result_large_err)]
    fn precheck(&self, state: &State, parts: &Parts) -> Result<(), Response<Body>> {
        match self {
            HostApi::OpenAi(a) => a.precheck(state, parts),
            HostApi::Azure(a) => a.precheck(state, parts),
            HostApi::Gemini(a) => a.precheck(state, parts),
            HostApi::Bedrock(a) => a.precheck(state, parts),
        }
    }

    fn invalid(&self, message: &str) -> Response<Body> {
        match self {
            HostApi::OpenAi(a) => a.invalid(message),
            HostApi::Azure(a) => a.invalid(message),
            HostApi::Gemini(a) => a.invalid(message),
            HostApi::Bedrock(a) => a.invalid(message),
        }
    }

    fn fault(&self, status: u16, b: &Behavior, model: &str) -> Response<Body> {
        match self {
            HostApi::OpenAi(a) => a.fault(status, b, model),
            HostApi::Azure(a) => a.fault(status, b, model),
            HostApi::Gemini(a) => a.fault(status, b, model),
            HostApi::Bedrock(a) => a.fault(status, b, model),
        }
    }

    fn prompt_filtered(&self, b: &Behavior) -> Response<Body> {
        let s = Summary::default();
        match self {
            HostApi::OpenAi(a) => a.prompt_filtered(&s, b),
            HostApi::Azure(a) => a.prompt_filtered(&s, b),
            HostApi::Gemini(_) => google_error(
                400,
                "The prompt could not be submitted. It was blocked by the safety filter (mock).",
                "INVALID_ARGUMENT",
            ),
            HostApi::Bedrock(a) => a.prompt_filtered(&s, b),
        }
    }
}

/// What the body held.
enum Input {
    Json(Map<String, Value>),
    Form(Vec<FormField>),
}

struct FormField {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

impl Input {
    fn mock(&self) -> Result<Option<Value>, String> {
        match self {
            Input::Json(obj) => Ok(obj.get("mock").cloned()),
            Input::Form(fields) => match fields.iter().find(|f| f.name == "mock") {
                None => Ok(None),
                Some(f) => serde_json::from_slice(&f.data)
                    .map(Some)
                    .map_err(|e| format!("the `mock` form field is not JSON: {e}")),
            },
        }
    }
}

/// Handle one media request.
pub(crate) async fn handle(
    state: Arc<State>,
    req: Request,
    media: Media,
    knob_prefix: &str,
) -> Response<Body> {
    let api = HostApi::of(&media.host);
    let (parts, body) = req.into_parts();
    let mut guard = state.begin(parts.uri.path(), api.format());
    let resp = answer(&state, &parts, body, &api, &media, knob_prefix).await;
    match resp {
        Answer::Full(resp) => {
            guard.finish(Outcome::Completed);
            resp
        }
        Answer::Speech(chunk, pacing, content_type) => {
            speech_stream(chunk, pacing, content_type, guard)
        }
    }
}

enum Answer {
    Full(Response<Body>),
    /// One chunk of speech, repeated; its pacing; the content type.
    Speech(Vec<u8>, SpeechPacing, &'static str),
}

async fn answer(
    state: &State,
    parts: &Parts,
    body: Body,
    api: &HostApi,
    media: &Media,
    knob_prefix: &str,
) -> Answer {
    let full = Answer::Full;
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return full(api.invalid(&format!("Could not read the request body: {e}"))),
    };
    let input = if media.op == Op::Transcriptions {
        parse_form(parts, bytes.clone()).await.map(Input::Form)
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(obj)) => Ok(Input::Json(obj)),
            Ok(_) => Err("The request body must be a JSON object.".to_owned()),
            Err(e) => Err(format!(
                "We could not parse the JSON body of your request: {e}"
            )),
        }
    };
    if state.cfg.record {
        let entry = match &input {
            Ok(Input::Form(fields)) => {
                record::entry_with_body(parts, form_record(fields), api.format().name())
            }
            _ => record::entry(parts, &bytes, api.format()),
        };
        state.record(entry);
    }
    if let Err(resp) = api.precheck(state, parts) {
        return full(resp);
    }
    let input = match input {
        Ok(i) => i,
        Err(msg) => return full(api.invalid(&msg)),
    };
    let mock = match input.mock() {
        Ok(m) => m,
        Err(msg) => return full(api.invalid(&msg)),
    };
    let behavior = match behavior::resolve(
        &state.cfg.defaults,
        knob_prefix,
        &parts.headers,
        mock.as_ref(),
    ) {
        Ok(b) => b,
        Err(msg) => return full(api.invalid(&msg)),
    };
    let model = model_of(&media.host, &input);
    if let Some(status) = behavior.status {
        let fault = match behavior.fail_times {
            Some(n) => state.fail_count(parts.uri.path()) < n,
            None => true,
        };
        if fault {
            sleep(behavior.headers_delay).await;
            return full(api.fault(status, &behavior, model.as_deref().unwrap_or("unknown")));
        }
    }
    let is_image = matches!(media.op, Op::Images)
        || (media.op == Op::Predict && is_imagen(model.as_deref().unwrap_or("")));
    if is_image && behavior.content_filter == Some(ContentFilter::Prompt) {
        sleep(behavior.headers_delay).await;
        return full(api.prompt_filtered(&behavior));
    }
    sleep(behavior.headers_delay.saturating_add(behavior.ttft)).await;
    let ctx = Ctx {
        id: state.next_id(),
        model: model.unwrap_or_default(),
        host: parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_owned(),
        knobs: knob_prefix.to_owned(),
    };
    match (&media.host, media.op, input) {
        (_, Op::Embeddings, Input::Json(obj)) => full(openai_embeddings(&ctx, &obj)),
        (_, Op::Images, Input::Json(obj)) => full(openai_images(&ctx, &obj)),
        (_, Op::Transcriptions, Input::Form(fields)) => full(transcription(&ctx, &fields)),
        (_, Op::Speech, Input::Json(obj)) => match speech(&obj) {
            Ok((chunk, content_type)) => {
                Answer::Speech(chunk, SpeechPacing::new(&behavior), content_type)
            }
            Err(resp) => full(resp),
        },
        (_, Op::BatchEmbed, Input::Json(obj)) => full(gemini_batch_embed(&ctx, &obj)),
        (_, Op::Predict, Input::Json(obj)) if is_imagen(&ctx.model) => full(imagen_predict(&obj)),
        (_, Op::Predict, Input::Json(obj)) => full(vertex_embed(&ctx, &obj)),
        (Host::Bedrock { .. }, Op::Invoke, Input::Json(obj)) => full(bedrock_invoke(&ctx, &obj)),
        _ => full(api.invalid("Unsupported request.")),
    }
}

/// Per-request facts for the answers.
struct Ctx {
    id: u64,
    model: String,
    /// The `Host` header, for `url` answers.
    host: String,
    /// The knob prefix of the path (kept in `url` answers so the files route sees it too).
    knobs: String,
}

fn model_of(host: &Host, input: &Input) -> Option<String> {
    match host {
        Host::Azure { deployment } => Some(deployment.clone()),
        Host::Gemini { model } | Host::Vertex { model } | Host::Bedrock { model } => {
            Some(model.clone())
        }
        Host::OpenAi => match input {
            Input::Json(obj) => obj.get("model").and_then(Value::as_str).map(str::to_owned),
            Input::Form(fields) => fields
                .iter()
                .find(|f| f.name == "model")
                .map(|f| String::from_utf8_lossy(&f.data).into_owned()),
        },
    }
}

fn is_imagen(model: &str) -> bool {
    model
        .strip_prefix("models/")
        .unwrap_or(model)
        .starts_with("imagen")
}

// ---------------------------------------------------------------------------------------------
// Embeddings

/// FNV-1a over `bytes`, continued from `seed`.
fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The mock's embedding of `text`: `dims` values in [-1, 1), a function of the text alone.
pub(crate) fn vector(text: &[u8], dims: usize) -> Vec<f32> {
    let base = fnv(0xcbf2_9ce4_8422_2325, text);
    (0..dims)
        .map(|j| {
            let mut h = fnv(base, &(j as u64).to_le_bytes());
            h ^= h >> 33;
            let unit = (h >> 40) as f32 / (1u64 << 24) as f32;
            // Rounded to 6 decimals so the JSON stays short.
            ((unit * 2.0 - 1.0) * 1e6).round() / 1e6
        })
        .collect()
}

/// The mock's token estimate of a text: ceil(chars / 4), at least 1.
fn tokens_of(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

fn dims(v: Option<&Value>) -> Result<usize, String> {
    match v {
        None | Some(Value::Null) => Ok(DEFAULT_DIMENSIONS),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 && n <= MAX_DIMENSIONS as u64 => Ok(n as usize),
            _ => Err(format!(
                "Invalid dimensions: expected an integer between 1 and {MAX_DIMENSIONS}."
            )),
        },
    }
}

fn openai_embeddings(ctx: &Ctx, obj: &Map<String, Value>) -> Response<Body> {
    if obj.get("model").is_none() && ctx.model.is_empty() {
        return bad_request("you must provide a model parameter", Some("model"), None);
    }
    // (bytes hashed, token count) per input.
    let inputs: Vec<(Vec<u8>, u64)> = match obj.get("input") {
        Some(Value::String(s)) => vec![(s.as_bytes().to_vec(), tokens_of(s))],
        Some(Value::Array(items)) if !items.is_empty() => {
            if items.iter().all(Value::is_string) {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| (s.as_bytes().to_vec(), tokens_of(s)))
                    .collect()
            } else if items.iter().all(Value::is_u64) {
                vec![(Value::Array(items.clone()).to_string().into_bytes(), items.len() as u64)]
            } else if items.iter().all(Value::is_array) {
                items
                    .iter()
                    .map(|t| {
                        let n = t.as_array().map_or(0, Vec::len) as u64;
                        (t.to_string().into_bytes(), n)
                    })
                    .collect()
            } else {
                return bad_request(
                    "Invalid 'input': expected a string, an array of strings or an array of token arrays.",
                    Some("input"),
                    None,
                );
            }
        }
        Some(_) => {
            return bad_request(
                "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                Some("input"),
                None,
            )
        }
        None => {
            return bad_request(
                "Missing required parameter: 'input'.",
                Some("input"),
                Some("missing_required_parameter"),
            )
        }
    };
    let dims = match dims(obj.get("dimensions")) {
        Ok(d) => d,
        Err(msg) => return bad_request(&msg, Some("dimensions"), None),
    };
    let base64 = match obj.get("encoding_format").and_then(Value::as_str) {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return bad_request(
                &format!("Invalid value: '{other}'. Supported values are: 'float' and 'base64'."),
                Some("encoding_format"),
                Some("invalid_value"),
            )
        }
    };
    let mut prompt_tokens = 0u64;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, (bytes, tokens))| {
            prompt_tokens += tokens;
            let v = vector(bytes, dims);
            let embedding = if base64 {
                Value::String(f32_base64(&v))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    json_ok(&json!({
        "object": "list",
        "data": data,
        "model": ctx.model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }))
}

/// Little-endian f32 bytes, standard base64 (OpenAI's `encoding_format: base64`).
pub(crate) fn f32_base64(v: &[f32]) -> String {
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for f in v {
        bytes.extend_from_slice(&f.to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn gemini_batch_embed(ctx: &Ctx, obj: &Map<String, Value>) -> Response<Body> {
    let Some(requests) = obj.get("requests").and_then(Value::as_array) else {
        return google_error(
            400,
            "* BatchEmbedContentsRequest.requests: requests is not specified\n",
            "INVALID_ARGUMENT",
        );
    };
    let mut embeddings = Vec::with_capacity(requests.len());
    for (i, r) in requests.iter().enumerate() {
        if let Some(m) = r.get("model").and_then(Value::as_str) {
            let path_model = format!("models/{}", ctx.model.trim_start_matches("models/"));
            if m != path_model {
                return google_error(
                    400,
                    &format!(
                        "Model mismatch: requests[{i}].model is {m}, the path names {path_model}."
                    ),
                    "INVALID_ARGUMENT",
                );
            }
        }
        let text: String = r
            .pointer("/content/parts")
            .and_then(Value::as_array)
            .map(|parts| {
                parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        if text.is_empty() {
            return google_error(
                400,
                &format!("* BatchEmbedContentsRequest.requests[{i}].content: contents is not specified\n"),
                "INVALID_ARGUMENT",
            );
        }
        let d = match dims(r.get("outputDimensionality")) {
            Ok(d) => d,
            Err(msg) => return google_error(400, &msg, "INVALID_ARGUMENT"),
        };
        embeddings.push(json!({"values": vector(text.as_bytes(), d)}));
    }
    json_ok(&json!({ "embeddings": embeddings }))
}

fn vertex_embed(ctx: &Ctx, obj: &Map<String, Value>) -> Response<Body> {
    let Some(instances) = obj.get("instances").and_then(Value::as_array) else {
        return google_error(400, "instances is not specified", "INVALID_ARGUMENT");
    };
    // Vertex's gemini-embedding models take one instance per request.
    if ctx.model.contains("gemini-embedding") && instances.len() > 1 {
        return google_error(
            400,
            "Unable to submit request because the model only supports 1 instance per request.",
            "INVALID_ARGUMENT",
        );
    }
    let d = match dims(at(obj, "/parameters/outputDimensionality")) {
        Ok(d) => d,
        Err(msg) => return google_error(400, &msg, "INVALID_ARGUMENT"),
    };
    let mut chars = 0u64;
    let mut predictions = Vec::with_capacity(instances.len());
    for (i, inst) in instances.iter().enumerate() {
        let Some(text) = inst.get("content").and_then(Value::as_str) else {
            return google_error(
                400,
                &format!("instances[{i}].content is required"),
                "INVALID_ARGUMENT",
            );
        };
        chars += text.chars().count() as u64;
        predictions.push(json!({"embeddings": {
            "statistics": {"token_count": tokens_of(text), "truncated": false},
            "values": vector(text.as_bytes(), d),
        }}));
    }
    json_ok(&json!({
        "predictions": predictions,
        "metadata": {"billableCharacterCount": chars},
    }))
}

fn bedrock_invoke(ctx: &Ctx, obj: &Map<String, Value>) -> Response<Body> {
    let model = ctx.model.as_str();
    if model.contains("amazon.titan-embed") {
        let Some(text) = obj.get("inputText").and_then(Value::as_str) else {
            return bedrock_validation("Malformed input request: #: required key [inputText] not found, please reformat your input and try again.");
        };
        let d = match obj.get("dimensions").or_else(|| at(obj, "/embeddingConfig/outputEmbeddingLength")) {
            None | Some(Value::Null) => DEFAULT_DIMENSIONS,
            Some(v) => match v.as_u64() {
                Some(n @ (256 | 384 | 512 | 1024)) => n as usize,
                _ => return bedrock_validation("Malformed input request: #/dimensions: 256, 512 or 1024 expected, please reformat your input and try again."),
            },
        };
        let v = vector(text.as_bytes(), d);
        return json_ok(&json!({
            "embedding": v,
            "embeddingsByType": {"float": v},
            "inputTextTokenCount": tokens_of(text),
        }));
    }
    if model.contains("cohere.embed") {
        let Some(texts) = obj.get("texts").and_then(Value::as_array) else {
            return bedrock_validation("Malformed input request: #: required key [texts] not found, please reformat your input and try again.");
        };
        if texts.len() > 96 {
            return bedrock_validation("Malformed input request: #/texts: expected maximum item count: 96, found: more, please reformat your input and try again.");
        }
        if !model.contains("embed-v4") && obj.get("input_type").is_none() {
            return bedrock_validation("Malformed input request: #: required key [input_type] not found, please reformat your input and try again.");
        }
        let d = match obj.get("output_dimension") {
            None | Some(Value::Null) => DEFAULT_DIMENSIONS,
            Some(v) => v.as_u64().map_or(DEFAULT_DIMENSIONS, |n| n as usize),
        };
        let vectors: Vec<Vec<f32>> = texts
            .iter()
            .map(|t| vector(t.as_str().unwrap_or("").as_bytes(), d))
            .collect();
        let by_type = obj.get("embedding_types").is_some();
        let embeddings = if by_type {
            json!({ "float": vectors })
        } else {
            json!(vectors)
        };
        return json_ok(&json!({
            "id": format!("mock-{}", ctx.id),
            "texts": texts,
            "embeddings": embeddings,
            "response_type": if by_type { "embeddings_by_type" } else { "embeddings_floats" },
        }));
    }
    bedrock_validation("The provided model identifier is invalid.")
}

fn bedrock_validation(message: &str) -> Response<Body> {
    let mut resp = json_value(StatusCode::BAD_REQUEST, &json!({ "message": message }));
    crate::http::set_header(&mut resp, "x-amzn-errortype", "ValidationException");
    resp
}

// ---------------------------------------------------------------------------------------------
// Images

fn openai_images(ctx: &Ctx, obj: &Map<String, Value>) -> Response<Body> {
    let Some(prompt) = obj.get("prompt").and_then(Value::as_str) else {
        return bad_request(
            "Missing required parameter: 'prompt'.",
            Some("prompt"),
            Some("missing_required_parameter"),
        );
    };
    let model = ctx.model.as_str();
    let n = obj.get("n").and_then(Value::as_u64).unwrap_or(1);
    if !(1..=10).contains(&n) {
        return bad_request(
            &format!("Invalid 'n': integer must be between 1 and 10, got {n}."),
            Some("n"),
            None,
        );
    }
    if model.starts_with("dall-e-3") && n != 1 {
        return bad_request("You must provide n=1 for this model.", Some("n"), None);
    }
    let gpt_image = model.starts_with("gpt-image");
    let url = match obj.get("response_format").and_then(Value::as_str) {
        None => !gpt_image,
        Some("url") if !gpt_image => true,
        Some("b64_json") => false,
        Some(other) => {
            return bad_request(
                &format!("Invalid value: '{other}'. Supported values are: 'url' and 'b64_json'."),
                Some("response_format"),
                Some("invalid_value"),
            )
        }
    };
    let data: Vec<Value> = (0..n)
        .map(|i| {
            let mut d = if url {
                json!({"url": format!("http://{}{}/files/img-{}-{i}.png", ctx.host, ctx.knobs, ctx.id)})
            } else {
                json!({"b64_json": PNG_BASE64})
            };
            if model.starts_with("dall-e-3") {
                d["revised_prompt"] = format!("mock revised: {prompt}").into();
            }
            d
        })
        .collect();
    let mut body = json!({"created": 1_700_000_000u64 + ctx.id, "data": data});
    if gpt_image {
        let input = tokens_of(prompt);
        let output = 272 * n;
        body["usage"] = json!({
            "input_tokens": input,
            "output_tokens": output,
            "total_tokens": input + output,
            "input_tokens_details": {"text_tokens": input, "image_tokens": 0},
        });
    }
    json_ok(&body)
}

fn imagen_predict(obj: &Map<String, Value>) -> Response<Body> {
    let prompt = obj
        .get("instances")
        .and_then(Value::as_array)
        .and_then(|i| i.first())
        .and_then(|i| i.get("prompt"))
        .and_then(Value::as_str);
    if prompt.is_none_or(str::is_empty) {
        return google_error(400, "instances[0].prompt is required", "INVALID_ARGUMENT");
    }
    let n = at(obj, "/parameters/sampleCount")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    if !(1..=4).contains(&n) {
        return google_error(
            400,
            "sampleCount must be between 1 and 4.",
            "INVALID_ARGUMENT",
        );
    }
    if let Some(ratio) = at(obj, "/parameters/aspectRatio").and_then(Value::as_str) {
        if !["1:1", "3:4", "4:3", "9:16", "16:9"].contains(&ratio) {
            return google_error(
                400,
                &format!("Unsupported aspect ratio: {ratio}"),
                "INVALID_ARGUMENT",
            );
        }
    }
    let mime = at(obj, "/parameters/outputOptions/mimeType")
        .and_then(Value::as_str)
        .unwrap_or("image/png");
    let predictions: Vec<Value> = (0..n)
        .map(|_| json!({"bytesBase64Encoded": PNG_BASE64, "mimeType": mime}))
        .collect();
    json_ok(&json!({ "predictions": predictions }))
}

/// `GET …/files/img-*.png`: the PNG behind every `url` answer.
pub(crate) fn file() -> Response<Body> {
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG_BASE64)
        .unwrap_or_default();
    let mut resp = Response::new(Body::from(png));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    resp
}

// ---------------------------------------------------------------------------------------------
// Audio

async fn parse_form(parts: &Parts, body: Bytes) -> Result<Vec<FormField>, String> {
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(ct)
        .map_err(|e| format!("Invalid Content-Type for multipart/form-data: {e}"))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut fields = Vec::new();
    loop {
        match mp.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                let filename = field.file_name().map(str::to_owned);
                let content_type = field.content_type().map(|m| m.to_string());
                let data = field
                    .bytes()
                    .await
                    .map_err(|e| format!("Invalid multipart body: {e}"))?;
                fields.push(FormField {
                    name,
                    filename,
                    content_type,
                    data,
                });
            }
            Ok(None) => return Ok(fields),
            Err(e) => return Err(format!("Invalid multipart body: {e}")),
        }
    }
}

/// The recorded body of a multipart request: its fields, files by size.
fn form_record(fields: &[FormField]) -> Value {
    let list: Vec<Value> = fields
        .iter()
        .map(|f| {
            let mut v = json!({"name": f.name, "size": f.data.len()});
            if let Some(name) = &f.filename {
                v["filename"] = name.as_str().into();
            }
            if let Some(ct) = &f.content_type {
                v["content_type"] = ct.as_str().into();
            }
            if f.filename.is_none() {
                v["value"] = String::from_utf8_lossy(&f.data).into_owned().into();
            }
            v
        })
        .collect();
    json!({ "multipart": list })
}

fn form_text<'a>(fields: &'a [FormField], name: &str) -> Option<std::borrow::Cow<'a, str>> {
    fields
        .iter()
        .find(|f| f.name == name && f.filename.is_none())
        .map(|f| String::from_utf8_lossy(&f.data))
}

fn transcription(ctx: &Ctx, fields: &[FormField]) -> Response<Body> {
    if ctx.model.is_empty() {
        return bad_request("you must provide a model parameter", Some("model"), None);
    }
    let Some(file) = fields.iter().find(|f| f.name == "file") else {
        return bad_request(
            "Missing required parameter: 'file'.",
            Some("file"),
            Some("missing_required_parameter"),
        );
    };
    let filename = file.filename.as_deref().unwrap_or("file");
    let n = file.data.len();
    let text = format!("transcribed {n} bytes of {filename}");
    let duration = n as f64 / 16_000.0;
    let usage = if ctx.model.starts_with("gpt-4o") {
        let audio = (duration * 10.0).ceil() as u64 + 1;
        let output = tokens_of(&text);
        json!({
            "type": "tokens",
            "input_tokens": audio,
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio},
            "output_tokens": output,
            "total_tokens": audio + output,
        })
    } else {
        json!({"type": "duration", "seconds": duration.ceil() as u64})
    };
    let format = form_text(fields, "response_format");
    match format.as_deref().unwrap_or("json") {
        "json" => json_ok(&json!({"text": text, "usage": usage})),
        "verbose_json" => json_ok(&json!({
            "task": "transcribe",
            "language": "english",
            "duration": duration,
            "text": text,
            "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": duration, "text": text, "tokens": [], "temperature": 0.0, "avg_logprob": -0.1, "compression_ratio": 1.0, "no_speech_prob": 0.0}],
            "usage": usage,
        })),
        "text" => plain(format!("{text}\n"), "text/plain; charset=utf-8"),
        "srt" => plain(
            format!("1\n00:00:00,000 --> {}\n{text}\n\n", timestamp(duration, ',')),
            "text/plain; charset=utf-8",
        ),
        "vtt" => plain(
            format!("WEBVTT\n\n00:00:00.000 --> {}\n{text}\n\n", timestamp(duration, '.')),
            "text/plain; charset=utf-8",
        ),
        other => bad_request(
            &format!("Invalid value: '{other}'. Supported values are: 'json', 'text', 'srt', 'verbose_json', and 'vtt'."),
            Some("response_format"),
            Some("invalid_value"),
        ),
    }
}

fn timestamp(secs: f64, sep: char) -> String {
    let ms = (secs * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{sep}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Speech: the repeated chunk and the content type, or the 400.
#[allow(clippy::result_large_err)]
fn speech(obj: &Map<String, Value>) -> Result<(Vec<u8>, &'static str), Response<Body>> {
    if obj.get("model").and_then(Value::as_str).is_none() && obj.get("model").is_some() {
        return Err(bad_request("'model' must be a string", Some("model"), None));
    }
    let Some(input) = obj.get("input").and_then(Value::as_str) else {
        return Err(bad_request(
            "Missing required parameter: 'input'.",
            Some("input"),
            Some("missing_required_parameter"),
        ));
    };
    if obj.get("voice").is_none() {
        return Err(bad_request(
            "Missing required parameter: 'voice'.",
            Some("voice"),
            Some("missing_required_parameter"),
        ));
    }
    let content_type = match obj
        .get("response_format")
        .and_then(Value::as_str)
        .unwrap_or("mp3")
    {
        "mp3" => "audio/mpeg",
        "opus" => "audio/opus",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "pcm" => "audio/pcm",
        other => {
            return Err(bad_request(
                &format!("Invalid value: '{other}'. Supported values are: 'mp3', 'opus', 'aac', 'flac', 'wav', and 'pcm'."),
                Some("response_format"),
                Some("invalid_value"),
            ))
        }
    };
    let len = input.len().max(1);
    let chunk: Vec<u8> = (0..len)
        .map(|i| u8::try_from((i * 31 + 7) % 251).unwrap_or(0))
        .collect();
    Ok((chunk, content_type))
}

/// How many chunks every speech answer has.
pub(crate) const SPEECH_CHUNKS: u32 = 4;

struct SpeechPacing {
    delay: Duration,
    drop_after: Option<u32>,
}

impl SpeechPacing {
    fn new(b: &Behavior) -> Self {
        SpeechPacing {
            delay: if b.inter_token.is_zero() {
                Duration::from_millis(5)
            } else {
                b.inter_token
            },
            drop_after: b.drop_after,
        }
    }
}

fn speech_stream(
    chunk: Vec<u8>,
    pacing: SpeechPacing,
    content_type: &'static str,
    guard: RequestGuard,
) -> Response<Body> {
    let chunk = Bytes::from(chunk);
    let state = (0u32, Some(guard));
    let stream = futures_util::stream::unfold(state, move |(i, mut guard)| {
        let chunk = chunk.clone();
        let delay = pacing.delay;
        let drop_after = pacing.drop_after;
        async move {
            let g = guard.as_mut()?;
            if i > 0 {
                tokio::time::sleep(delay).await;
            }
            if drop_after == Some(i) {
                g.finish(Outcome::Aborted);
                let err = std::io::Error::other("mock provider: drop_after reached");
                return Some((Err(err), (i, None)));
            }
            if i + 1 == SPEECH_CHUNKS {
                g.finish(Outcome::Completed);
                return Some((Ok::<Bytes, std::io::Error>(chunk), (i + 1, None)));
            }
            Some((Ok(chunk), (i + 1, guard)))
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

// ---------------------------------------------------------------------------------------------

/// `obj`'s value at a JSON pointer (`/parameters/sampleCount`).
fn at<'a>(obj: &'a Map<String, Value>, pointer: &str) -> Option<&'a Value> {
    let rest = pointer.strip_prefix('/')?;
    let (first, rest) = match rest.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (rest, None),
    };
    let v = obj.get(first)?;
    match rest {
        Some(rest) => v.pointer(&format!("/{rest}")),
        None => Some(v),
    }
}

fn json_value(status: StatusCode, v: &Value) -> Response<Body> {
    crate::http::json_value(status, v)
}

fn json_ok(v: &Value) -> Response<Body> {
    json_value(StatusCode::OK, v)
}

fn plain(text: String, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::from(text));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn google_error(code: u16, message: &str, status: &str) -> Response<Body> {
    json_value(
        crate::http::status_code(code),
        &json!({"error": {"code": code, "message": message, "status": status}}),
    )
}
