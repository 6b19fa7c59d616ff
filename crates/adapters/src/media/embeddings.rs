//! `POST /v1/embeddings`: OpenAI's request and response, and their translation.
//!
//! | wire | upstream | batching | prompt tokens |
//! |---|---|---|---|
//! | OpenAI-format, Azure | the body as sent (`model` replaced, unknown fields kept) | one call | `usage.prompt_tokens` |
//! | Gemini | `v1beta/models/{m}:batchEmbedContents`, `outputDimensionality` | 100 texts per call | not reported (`None`) |
//! | Vertex | `…/models/{m}:predict`, `instances[].content`, `parameters.outputDimensionality` | 250 texts per call (`gemini-embedding-*`: 1) | `statistics.token_count` summed |
//! | Bedrock Titan (`amazon.titan-embed*`) | `model/{id}/invoke` `{"inputText"}` | one text per call | `inputTextTokenCount` summed |
//! | Bedrock Cohere (`cohere.embed*`) | `model/{id}/invoke` `{"texts","input_type"}` | 96 texts per call | not reported |
//!
//! Token-array inputs (`[int]`, `[[int]]`) only go to OpenAI-format hosts; elsewhere they
//! are refused naming `input`. Unknown fields are forwarded to OpenAI-format hosts and
//! refused by name elsewhere unless `drop_params` — except `task_type` (Gemini, Vertex)
//! and `input_type` / `truncate` (Cohere), which those providers understand. `user` has
//! no equivalent outside OpenAI and is left out (it does not change the vectors).
//! `encoding_format: base64` is forwarded to OpenAI-format hosts; for the others the
//! gateway encodes the floats itself ([`encode_response`]).

use super::{
    bad_response, bedrock_invoke, check_extra, err, gateway_fields, google_request, invalid_type,
    invalid_value, json_object, model, not_served, openai_format_request, opt_string, opt_u32,
    refuse, take, MediaWire, RequestError,
};
use crate::adapter::{AdapterError, Target, UpstreamRequest};
use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// What to embed, in the shape the client sent it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenBatches(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// How many vectors the answer holds.
    pub fn count(&self) -> usize {
        match self {
            EmbeddingInput::Text(_) | EmbeddingInput::Tokens(_) => 1,
            EmbeddingInput::Texts(t) => t.len(),
            EmbeddingInput::TokenBatches(b) => b.len(),
        }
    }

    /// The texts, when the input is text.
    pub fn texts(&self) -> Option<Vec<&str>> {
        match self {
            EmbeddingInput::Text(t) => Some(vec![t.as_str()]),
            EmbeddingInput::Texts(t) => Some(t.iter().map(String::as_str).collect()),
            _ => None,
        }
    }
}

/// `encoding_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodingFormat {
    #[default]
    Float,
    /// Little-endian `f32` bytes, standard base64 (as OpenAI).
    Base64,
}

impl EncodingFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            EncodingFormat::Float => "float",
            EncodingFormat::Base64 => "base64",
        }
    }
}

/// A decoded embeddings request.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    /// The model as the client named it.
    pub model: String,
    pub input: EmbeddingInput,
    /// `None` when the client did not say (float).
    pub encoding_format: Option<EncodingFormat>,
    pub dimensions: Option<u32>,
    pub user: Option<String>,
    pub drop_params: bool,
    /// Top-level fields not known here (forwarded to OpenAI-format hosts).
    pub extra: Map<String, Value>,
}

impl EmbeddingsRequest {
    /// The format the client wants the vectors in.
    pub fn format(&self) -> EncodingFormat {
        self.encoding_format.unwrap_or_default()
    }
}

/// The vectors of an answer, in input order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    /// Input tokens, when the provider reported them (else the gateway counts them and
    /// may fill this in before [`encode_response`]).
    pub prompt_tokens: Option<u64>,
    /// Characters billed (Vertex `metadata.billableCharacterCount`), when reported.
    pub billable_characters: Option<u64>,
}

/// Decodes an OpenAI embeddings request body.
pub fn decode_request(body: &[u8]) -> Result<EmbeddingsRequest, RequestError> {
    let mut obj = json_object(body)?;
    let model = model(&mut obj)?;
    let drop_params = gateway_fields(&mut obj)?;
    let input = match take(&mut obj, "input") {
        None => return Err(err("input", "Missing required parameter: 'input'.")),
        Some(v) => decode_input(v)?,
    };
    let encoding_format = match opt_string(&mut obj, "encoding_format")? {
        None => None,
        Some(f) => Some(match f.as_str() {
            "float" => EncodingFormat::Float,
            "base64" => EncodingFormat::Base64,
            _ => return Err(invalid_value("encoding_format", &f, &["float", "base64"])),
        }),
    };
    let dimensions = opt_u32(&mut obj, "dimensions")?;
    if dimensions == Some(0) {
        return Err(err(
            "dimensions",
            "Invalid 'dimensions': expected a positive integer.",
        ));
    }
    let user = opt_string(&mut obj, "user")?;
    Ok(EmbeddingsRequest {
        model,
        input,
        encoding_format,
        dimensions,
        user,
        drop_params,
        extra: obj,
    })
}

fn decode_input(v: Value) -> Result<EmbeddingInput, RequestError> {
    const EXPECTED: &str =
        "a string, an array of strings, an array of integers or an array of arrays of integers";
    let token = |v: &Value, param: &str| -> Result<u32, RequestError> {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| invalid_type(param, "a token id (a non-negative integer)", v))
    };
    match v {
        Value::String(s) => Ok(EmbeddingInput::Text(s)),
        Value::Array(items) => {
            let Some(first) = items.first() else {
                return Err(err("input", "'input' must not be an empty array."));
            };
            match first {
                Value::String(_) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        Value::String(s) => Ok(s),
                        other => Err(invalid_type(&format!("input[{i}]"), "a string", &other)),
                    })
                    .collect::<Result<_, _>>()
                    .map(EmbeddingInput::Texts),
                Value::Number(_) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| token(v, &format!("input[{i}]")))
                    .collect::<Result<_, _>>()
                    .map(EmbeddingInput::Tokens),
                Value::Array(_) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        Value::Array(ids) if !ids.is_empty() => ids
                            .iter()
                            .enumerate()
                            .map(|(j, t)| token(t, &format!("input[{i}][{j}]")))
                            .collect(),
                        Value::Array(_) => Err(err(
                            &format!("input[{i}]"),
                            "token arrays must not be empty.",
                        )),
                        other => Err(invalid_type(
                            &format!("input[{i}]"),
                            "an array of integers",
                            other,
                        )),
                    })
                    .collect::<Result<_, _>>()
                    .map(EmbeddingInput::TokenBatches),
                other => Err(invalid_type("input[0]", EXPECTED, other)),
            }
        }
        other => Err(invalid_type("input", EXPECTED, &other)),
    }
}

/// Gemini's `batchEmbedContents` takes at most this many requests.
const GEMINI_BATCH: usize = 100;
/// Vertex text embedding models take at most this many instances per `predict`.
const VERTEX_BATCH: usize = 250;
/// Cohere on Bedrock takes at most this many texts per call.
const COHERE_BATCH: usize = 96;

/// Which Bedrock embedding family a model id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BedrockFamily {
    /// `amazon.titan-embed-text-v2*`: `dimensions` 256 / 512 / 1024.
    TitanV2,
    /// `amazon.titan-embed-image*`: `embeddingConfig.outputEmbeddingLength`.
    TitanImage,
    /// `amazon.titan-embed-text-v1` and the rest: no dimensions.
    Titan,
    /// `cohere.embed-v4*`: `output_dimension`.
    CohereV4,
    /// `cohere.embed-english-v3`, `-multilingual-v3`.
    Cohere,
}

fn bedrock_family(model: &str) -> Option<BedrockFamily> {
    // Also under a cross-region prefix or inside an ARN.
    if let Some(at) = model.find("amazon.titan-embed") {
        let rest = &model[at..];
        return Some(if rest.starts_with("amazon.titan-embed-text-v2") {
            BedrockFamily::TitanV2
        } else if rest.starts_with("amazon.titan-embed-image") {
            BedrockFamily::TitanImage
        } else {
            BedrockFamily::Titan
        });
    }
    let at = model.find("cohere.embed")?;
    Some(if model[at..].starts_with("cohere.embed-v4") {
        BedrockFamily::CohereV4
    } else {
        BedrockFamily::Cohere
    })
}

/// The upstream request(s) for `req`: several when the provider embeds fewer texts per
/// call than the request holds. Answers go to [`parse_responses`] in the same order.
pub fn build_requests(
    wire: MediaWire<'_>,
    req: &EmbeddingsRequest,
    target: &Target<'_>,
) -> Result<Vec<UpstreamRequest>, AdapterError> {
    if wire.is_openai_format() {
        let body = openai_body(req, target.upstream_model);
        return Ok(vec![openai_format_request(
            wire,
            target,
            "embeddings",
            "application/json",
            Bytes::from(body),
        )?]);
    }
    let provider = wire.display();
    let Some(texts) = req.input.texts() else {
        return Err(AdapterError::Unsupported {
            param: "input".into(),
            message: format!(
                "`input` as token ids is not supported by {provider}; send the text instead"
            ),
        });
    };
    match wire {
        MediaWire::Gemini => {
            check_extra(&req.extra, &["task_type"], req.drop_params, provider)?;
            let task = task_type(req)?;
            let model = target.upstream_model;
            let model = model.strip_prefix("models/").unwrap_or(model);
            let name = format!("models/{model}");
            Ok(texts
                .chunks(GEMINI_BATCH)
                .map(|chunk| {
                    let requests: Vec<Value> = chunk
                        .iter()
                        .map(|text| {
                            let mut r =
                                json!({"model": name, "content": {"parts": [{"text": text}]}});
                            if let Some(d) = req.dimensions {
                                r["outputDimensionality"] = d.into();
                            }
                            if let Some(t) = task {
                                r["taskType"] = t.into();
                            }
                            r
                        })
                        .collect();
                    let body =
                        serde_json::to_vec(&json!({ "requests": requests })).unwrap_or_default();
                    google_request(wire, target, "batchEmbedContents", body)
                })
                .collect())
        }
        MediaWire::Vertex { .. } => {
            check_extra(&req.extra, &["task_type"], req.drop_params, provider)?;
            let task = task_type(req)?;
            let per_call = if target.upstream_model.contains("gemini-embedding") {
                1
            } else {
                VERTEX_BATCH
            };
            Ok(texts
                .chunks(per_call)
                .map(|chunk| {
                    let instances: Vec<Value> = chunk
                        .iter()
                        .map(|text| {
                            let mut i = json!({ "content": text });
                            if let Some(t) = task {
                                i["task_type"] = t.into();
                            }
                            i
                        })
                        .collect();
                    let mut body = json!({ "instances": instances });
                    if let Some(d) = req.dimensions {
                        body["parameters"] = json!({ "outputDimensionality": d });
                    }
                    google_request(
                        wire,
                        target,
                        "predict",
                        serde_json::to_vec(&body).unwrap_or_default(),
                    )
                })
                .collect())
        }
        MediaWire::Bedrock => bedrock_requests(req, &texts, target),
        MediaWire::OpenAi | MediaWire::Azure { .. } => Err(not_served(wire, "embeddings")),
    }
}

fn task_type(req: &EmbeddingsRequest) -> Result<Option<&str>, AdapterError> {
    match req.extra.get("task_type") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(AdapterError::Unsupported {
            param: "task_type".into(),
            message: "`task_type` must be a string such as RETRIEVAL_QUERY".into(),
        }),
    }
}

fn bedrock_requests(
    req: &EmbeddingsRequest,
    texts: &[&str],
    target: &Target<'_>,
) -> Result<Vec<UpstreamRequest>, AdapterError> {
    const PROVIDER: &str = "Bedrock";
    let Some(family) = bedrock_family(target.upstream_model) else {
        return Err(AdapterError::Unsupported {
            param: "model".into(),
            message: format!(
                "`{}` is not an embedding model the gateway can call on Bedrock \
                 (amazon.titan-embed-*, cohere.embed-*)",
                target.upstream_model
            ),
        });
    };
    match family {
        BedrockFamily::Cohere | BedrockFamily::CohereV4 => {
            check_extra(
                &req.extra,
                &["input_type", "truncate"],
                req.drop_params,
                PROVIDER,
            )?;
            if req.dimensions.is_some() && family == BedrockFamily::Cohere {
                refuse(
                    req.drop_params,
                    "dimensions",
                    PROVIDER,
                    "Cohere Embed v3 has a fixed size",
                )?;
            }
            let input_type = req
                .extra
                .get("input_type")
                .cloned()
                .unwrap_or_else(|| Value::String("search_document".into()));
            Ok(texts
                .chunks(COHERE_BATCH)
                .map(|chunk| {
                    let mut body = json!({"texts": chunk, "input_type": input_type});
                    if let Some(t) = req.extra.get("truncate") {
                        body["truncate"] = t.clone();
                    }
                    if let (Some(d), BedrockFamily::CohereV4) = (req.dimensions, family) {
                        body["output_dimension"] = d.into();
                    }
                    bedrock_invoke(target, serde_json::to_vec(&body).unwrap_or_default())
                })
                .collect())
        }
        BedrockFamily::TitanV2 | BedrockFamily::TitanImage | BedrockFamily::Titan => {
            check_extra(&req.extra, &[], req.drop_params, PROVIDER)?;
            if req.dimensions.is_some() && family == BedrockFamily::Titan {
                refuse(
                    req.drop_params,
                    "dimensions",
                    PROVIDER,
                    "this Titan model has a fixed size",
                )?;
            }
            Ok(texts
                .iter()
                .map(|text| {
                    let mut body = json!({ "inputText": text });
                    match (req.dimensions, family) {
                        (Some(d), BedrockFamily::TitanV2) => body["dimensions"] = d.into(),
                        (Some(d), BedrockFamily::TitanImage) => {
                            body["embeddingConfig"] = json!({ "outputEmbeddingLength": d })
                        }
                        _ => {}
                    }
                    bedrock_invoke(target, serde_json::to_vec(&body).unwrap_or_default())
                })
                .collect())
        }
    }
}

/// The OpenAI-format body: the request as sent, `model` replaced, the gateway's own fields left out.
fn openai_body(req: &EmbeddingsRequest, upstream_model: &str) -> Vec<u8> {
    let mut obj = Map::with_capacity(req.extra.len() + 5);
    obj.insert("model".into(), upstream_model.into());
    obj.insert(
        "input".into(),
        serde_json::to_value(&req.input).unwrap_or(Value::Null),
    );
    if let Some(f) = req.encoding_format {
        obj.insert("encoding_format".into(), f.as_str().into());
    }
    if let Some(d) = req.dimensions {
        obj.insert("dimensions".into(), d.into());
    }
    if let Some(u) = &req.user {
        obj.insert("user".into(), u.as_str().into());
    }
    for (k, v) in &req.extra {
        obj.insert(k.clone(), v.clone());
    }
    serde_json::to_vec(&obj).unwrap_or_default()
}

/// Reads the answers to [`build_requests`]' requests (same order) into vectors.
pub fn parse_responses(
    wire: MediaWire<'_>,
    req: &EmbeddingsRequest,
    bodies: &[Bytes],
) -> Result<Embeddings, AdapterError> {
    let mut out = Embeddings::default();
    for body in bodies {
        match wire {
            MediaWire::OpenAi | MediaWire::Azure { .. } => parse_openai(body, &mut out)?,
            MediaWire::Gemini => parse_gemini(body, &mut out)?,
            MediaWire::Vertex { .. } => parse_vertex(body, &mut out)?,
            MediaWire::Bedrock => parse_bedrock(body, &mut out)?,
        }
    }
    if out.vectors.len() != req.input.count() {
        return Err(bad_response(format!(
            "expected {} embeddings, got {}",
            req.input.count(),
            out.vectors.len()
        )));
    }
    Ok(out)
}

fn add(total: &mut Option<u64>, n: Option<u64>, first: bool) {
    *total = match (first, *total, n) {
        (true, _, n) => n,
        (false, Some(t), Some(n)) => Some(t.saturating_add(n)),
        _ => None,
    };
}

fn parse_json(body: &[u8]) -> Result<Value, AdapterError> {
    serde_json::from_slice(body).map_err(|e| bad_response(format!("embeddings: {e}")))
}

fn floats(v: &Value) -> Result<Vec<f32>, AdapterError> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|x| {
                x.as_f64()
                    .map(|f| f as f32)
                    .ok_or_else(|| bad_response("embedding values must be numbers"))
            })
            .collect(),
        Value::String(b64) => decode_base64(b64),
        _ => Err(bad_response("embedding must be an array of numbers")),
    }
}

/// Little-endian `f32`s from standard base64.
pub fn decode_base64(b64: &str) -> Result<Vec<f32>, AdapterError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| bad_response(format!("embedding base64: {e}")))?;
    if bytes.len() % 4 != 0 {
        return Err(bad_response(
            "embedding base64 is not a whole number of f32s",
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Standard base64 of the little-endian `f32` bytes (OpenAI's `encoding_format: base64`).
pub fn encode_base64(vector: &[f32]) -> String {
    let mut bytes = Vec::with_capacity(vector.len() * 4);
    for f in vector {
        bytes.extend_from_slice(&f.to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn parse_openai(body: &[u8], out: &mut Embeddings) -> Result<(), AdapterError> {
    let v = parse_json(body)?;
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_response("embeddings: no `data` array"))?;
    let mut items: Vec<(u64, Vec<f32>)> = Vec::with_capacity(data.len());
    for (i, d) in data.iter().enumerate() {
        let index = d.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
        let vector = floats(d.get("embedding").unwrap_or(&Value::Null))?;
        items.push((index, vector));
    }
    items.sort_by_key(|(i, _)| *i);
    let first = out.vectors.is_empty();
    out.vectors.extend(items.into_iter().map(|(_, v)| v));
    add(
        &mut out.prompt_tokens,
        v.pointer("/usage/prompt_tokens").and_then(Value::as_u64),
        first,
    );
    Ok(())
}

fn parse_gemini(body: &[u8], out: &mut Embeddings) -> Result<(), AdapterError> {
    let v = parse_json(body)?;
    let list = v
        .get("embeddings")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_response("batchEmbedContents: no `embeddings` array"))?;
    let first = out.vectors.is_empty();
    for e in list {
        out.vectors
            .push(floats(e.get("values").unwrap_or(&Value::Null))?);
    }
    // Not reported by the Gemini API today; read if it ever is.
    add(
        &mut out.prompt_tokens,
        v.pointer("/usageMetadata/promptTokenCount")
            .and_then(Value::as_u64),
        first,
    );
    Ok(())
}

fn parse_vertex(body: &[u8], out: &mut Embeddings) -> Result<(), AdapterError> {
    let v = parse_json(body)?;
    let list = v
        .get("predictions")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_response("predict: no `predictions` array"))?;
    let mut first = out.vectors.is_empty();
    for p in list {
        let e = p
            .get("embeddings")
            .ok_or_else(|| bad_response("predict: a prediction without `embeddings`"))?;
        out.vectors
            .push(floats(e.get("values").unwrap_or(&Value::Null))?);
        add(
            &mut out.prompt_tokens,
            e.pointer("/statistics/token_count").and_then(Value::as_u64),
            first,
        );
        first = false;
    }
    let chars = v
        .pointer("/metadata/billableCharacterCount")
        .and_then(Value::as_u64);
    out.billable_characters = match (out.billable_characters, chars) {
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        (a, b) => a.or(b),
    };
    Ok(())
}

fn parse_bedrock(body: &[u8], out: &mut Embeddings) -> Result<(), AdapterError> {
    let v = parse_json(body)?;
    let first = out.vectors.is_empty();
    if let Some(e) = v.get("embedding") {
        // Titan: one vector per call.
        out.vectors.push(floats(e)?);
        add(
            &mut out.prompt_tokens,
            v.get("inputTextTokenCount").and_then(Value::as_u64),
            first,
        );
        return Ok(());
    }
    // Cohere: `embeddings` is the list, or by type (`{"float": [...]}`).
    let list = match v.get("embeddings") {
        Some(Value::Array(list)) => list,
        Some(Value::Object(by_type)) => by_type
            .get("float")
            .and_then(Value::as_array)
            .ok_or_else(|| bad_response("Cohere embeddings without `float` vectors"))?,
        _ => return Err(bad_response("Bedrock: no `embedding` or `embeddings`")),
    };
    for e in list {
        out.vectors.push(floats(e)?);
    }
    add(&mut out.prompt_tokens, None, first);
    Ok(())
}

/// The OpenAI response body for `embeddings`, named `model`, vectors as `format` says.
/// `usage.prompt_tokens` is `embeddings.prompt_tokens` (0 when unknown).
pub fn encode_response(embeddings: &Embeddings, model: &str, format: EncodingFormat) -> Vec<u8> {
    let dims: usize = embeddings.vectors.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(96 + model.len() + dims * 12);
    out.extend_from_slice(br#"{"object":"list","data":["#);
    for (i, vector) in embeddings.vectors.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"object":"embedding","index":"#);
        out.extend_from_slice(i.to_string().as_bytes());
        out.extend_from_slice(br#","embedding":"#);
        // Writing to a Vec cannot fail; f32s are written in their shortest form.
        match format {
            EncodingFormat::Float => {
                let finite: Vec<f32> = vector
                    .iter()
                    .map(|f| if f.is_finite() { *f } else { 0.0 })
                    .collect();
                let _ = serde_json::to_writer(&mut out, &finite);
            }
            EncodingFormat::Base64 => {
                let _ = serde_json::to_writer(&mut out, &encode_base64(vector));
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(br#"],"model":"#);
    let _ = serde_json::to_writer(&mut out, model);
    let tokens = embeddings.prompt_tokens.unwrap_or(0);
    out.extend_from_slice(
        format!(r#","usage":{{"prompt_tokens":{tokens},"total_tokens":{tokens}}}}}"#).as_bytes(),
    );
    out
}

/// An OpenAI-format host's answer passed through: `model` renamed to `model`, everything
/// else as received. Returns the body and the reported prompt tokens.
pub fn passthrough_response(
    body: &[u8],
    model: &str,
) -> Result<(Vec<u8>, Option<u64>), AdapterError> {
    let fields: BTreeMap<Cow<'_, str>, &RawValue> =
        serde_json::from_slice(body).map_err(|e| bad_response(format!("embeddings: {e}")))?;
    let tokens = fields
        .get("usage")
        .and_then(|u| serde_json::from_str::<Value>(u.get()).ok())
        .and_then(|u| u.get("prompt_tokens").and_then(Value::as_u64));
    let mut out = Vec::with_capacity(body.len() + model.len());
    out.push(b'{');
    let mut wrote_model = false;
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut out, k.as_ref());
        out.push(b':');
        if k == "model" {
            wrote_model = true;
            let _ = serde_json::to_writer(&mut out, model);
        } else {
            out.extend_from_slice(v.get().as_bytes());
        }
    }
    if !wrote_model {
        if !fields.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(br#""model":"#);
        let _ = serde_json::to_writer(&mut out, model);
    }
    out.push(b'}');
    Ok((out, tokens))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::media::tests::target;
    use crate::test_support::fixture;

    fn req(body: Value) -> EmbeddingsRequest {
        decode_request(&serde_json::to_vec(&body).unwrap()).unwrap()
    }

    fn body(r: &UpstreamRequest) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    /// `interactions[0]` of a VCR cassette: (request body, response body, status).
    fn cassette(rel: &str) -> (Value, String, Value, u64) {
        let doc: Value = serde_yaml_ng::from_slice(&fixture(rel)).unwrap();
        let i = &doc["interactions"][0];
        (
            i["request"]["parsed_body"].clone(),
            i["request"]["uri"].as_str().unwrap().to_string(),
            i["response"]["parsed_body"].clone(),
            i["response"]["status"]["code"].as_u64().unwrap(),
        )
    }

    #[test]
    fn decodes_every_input_shape() {
        let r = req(json!({"model": "m", "input": "hi"}));
        assert_eq!(r.input, EmbeddingInput::Text("hi".into()));
        assert_eq!(r.format(), EncodingFormat::Float);
        let r = req(
            json!({"model": "m", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 8, "user": "u", "drop_params": true, "models": ["x"], "extra_body": 1}),
        );
        assert_eq!(r.input.count(), 2);
        assert_eq!(r.encoding_format, Some(EncodingFormat::Base64));
        assert_eq!(r.dimensions, Some(8));
        assert!(r.drop_params);
        assert_eq!(r.extra.keys().collect::<Vec<_>>(), vec!["extra_body"]);
        let r = req(json!({"model": "m", "input": [1, 2, 3]}));
        assert_eq!(r.input, EmbeddingInput::Tokens(vec![1, 2, 3]));
        let r = req(json!({"model": "m", "input": [[1], [2, 3]]}));
        assert_eq!(r.input.count(), 2);
        assert!(r.input.texts().is_none());

        let bad = [
            (json!({"input": "x"}), Some("model")),
            (json!({"model": "m"}), Some("input")),
            (json!({"model": "m", "input": []}), Some("input")),
            (json!({"model": "m", "input": ["a", 1]}), Some("input[1]")),
            (json!({"model": "m", "input": [1, -1]}), Some("input[1]")),
            (json!({"model": "m", "input": [[1], []]}), Some("input[1]")),
            (json!({"model": "m", "input": {"a": 1}}), Some("input")),
            (
                json!({"model": "m", "input": "x", "encoding_format": "int8"}),
                Some("encoding_format"),
            ),
            (
                json!({"model": "m", "input": "x", "dimensions": 0}),
                Some("dimensions"),
            ),
            (
                json!({"model": "m", "input": "x", "dimensions": "8"}),
                Some("dimensions"),
            ),
            (
                json!({"model": "m", "input": "x", "drop_params": "yes"}),
                Some("drop_params"),
            ),
        ];
        for (b, param) in bad {
            let e = decode_request(&serde_json::to_vec(&b).unwrap()).unwrap_err();
            assert_eq!(e.param.as_deref(), param, "{b}: {e:?}");
        }
        assert!(decode_request(b"[1]").unwrap_err().param.is_none());
        assert!(decode_request(b"{").is_err());
    }

    #[test]
    fn openai_forwards_everything_with_model_replaced() {
        let r = req(
            json!({"model": "public", "input": ["Hello, world!"], "encoding_format": "base64", "drop_params": false, "custom": {"a": 1}}),
        );
        let t = target(
            "https://api.openai.com/v1",
            Some("sk"),
            "text-embedding-3-small",
        );
        let ups = build_requests(MediaWire::OpenAi, &r, &t).unwrap();
        assert_eq!(ups.len(), 1);
        assert_eq!(ups[0].url, "https://api.openai.com/v1/embeddings");
        assert_eq!(
            body(&ups[0]),
            json!({"model": "text-embedding-3-small", "input": ["Hello, world!"], "encoding_format": "base64", "custom": {"a": 1}})
        );
        let ups = build_requests(
            MediaWire::Azure {
                api_version: "2024-10-21",
                bearer: false,
            },
            &r,
            &target("https://r.openai.azure.com", Some("k"), "emb"),
        )
        .unwrap();
        assert_eq!(
            ups[0].url,
            "https://r.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-10-21"
        );
    }

    /// The recorded OpenAI exchange: the request we build equals the SDK's, the base64
    /// answer decodes to a 1536-dim vector, and encoding it back gives the same base64.
    #[test]
    fn golden_openai_base64() {
        let (sent, uri, answer, _) = cassette("openai/pydanticai_embeddings_base64.yaml");
        let r = decode_request(&serde_json::to_vec(&sent).unwrap()).unwrap();
        let t = target("https://api.openai.com/v1", None, "text-embedding-3-small");
        let ups = build_requests(MediaWire::OpenAi, &r, &t).unwrap();
        assert_eq!(ups[0].url, uri);
        assert_eq!(body(&ups[0]), sent);
        let raw = Bytes::from(serde_json::to_vec(&answer).unwrap());
        let e = parse_responses(MediaWire::OpenAi, &r, std::slice::from_ref(&raw)).unwrap();
        assert_eq!(e.vectors.len(), 1);
        assert_eq!(e.vectors[0].len(), 1536);
        assert_eq!(e.prompt_tokens, Some(4));
        let out: Value =
            serde_json::from_slice(&encode_response(&e, "my-emb", EncodingFormat::Base64)).unwrap();
        assert_eq!(out["data"][0]["embedding"], answer["data"][0]["embedding"]);
        assert_eq!(out["model"], "my-emb");
        assert_eq!(out["usage"], json!({"prompt_tokens": 4, "total_tokens": 4}));
        assert_eq!(out["object"], "list");
        assert_eq!(out["data"][0]["object"], "embedding");
        // Passthrough keeps the body, renames the model and still yields usage.
        let (pass, tokens) = passthrough_response(&raw, "my-emb").unwrap();
        assert_eq!(tokens, Some(4));
        let pass: Value = serde_json::from_slice(&pass).unwrap();
        assert_eq!(pass["model"], "my-emb");
        assert_eq!(pass["data"], answer["data"]);
    }

    #[test]
    fn golden_openai_error_is_classified() {
        let (_, _, answer, status) =
            cassette("openai/pydanticai_embeddings_404_model_not_found.yaml");
        let e = crate::media::classify_error(
            MediaWire::OpenAi,
            status as u16,
            &http::HeaderMap::new(),
            &serde_json::to_vec(&answer).unwrap(),
        );
        assert_eq!(e.class, crate::error::ErrorClass::NotFound);
        assert_eq!(e.code.as_deref(), Some("model_not_found"));
    }

    #[test]
    fn truncated_vectors_fixture_parses() {
        let raw = Bytes::from(fixture("openai/vercel_embeddings_truncated_vectors.json"));
        let r = req(json!({"model": "m", "input": ["a", "b"]}));
        let e = parse_responses(MediaWire::OpenAi, &r, &[raw]).unwrap();
        assert_eq!(e.vectors.len(), 2);
        assert_eq!(e.vectors[0][0], 0.0057293195);
        let out: Value =
            serde_json::from_slice(&encode_response(&e, "m", EncodingFormat::Float)).unwrap();
        // f32s are written in their shortest form, as received.
        assert_eq!(out["data"][0]["embedding"][0].to_string(), "0.0057293195");
    }

    /// The recorded Gemini exchange: our request matches the SDK's (less `taskType`,
    /// which we send only when asked), the answer's 768 values come back.
    #[test]
    fn golden_gemini_batch_embed() {
        let (sent, uri, answer, _) =
            cassette("gemini/pydanticai_batchEmbedContents_dimensions.yaml");
        let r = req(
            json!({"model": "g", "input": "Hello, world!", "dimensions": 768, "task_type": "RETRIEVAL_QUERY"}),
        );
        let t = target("", Some("AIza"), "gemini-embedding-2-preview");
        let ups = build_requests(MediaWire::Gemini, &r, &t).unwrap();
        assert_eq!(ups.len(), 1);
        assert_eq!(ups[0].url, uri);
        assert_eq!(ups[0].headers["x-goog-api-key"], "AIza");
        assert_eq!(body(&ups[0]), sent);
        let raw = Bytes::from(serde_json::to_vec(&answer).unwrap());
        let e = parse_responses(MediaWire::Gemini, &r, &[raw]).unwrap();
        assert_eq!(e.vectors[0].len(), 768);
        assert_eq!(e.prompt_tokens, None);

        let (_, _, err_body, status) =
            cassette("gemini/pydanticai_batchEmbedContents_404_NOT_FOUND.yaml");
        let e = crate::media::classify_error(
            MediaWire::Gemini,
            status as u16,
            &http::HeaderMap::new(),
            &serde_json::to_vec(&err_body).unwrap(),
        );
        assert_eq!(e.class, crate::error::ErrorClass::NotFound);
    }

    #[test]
    fn gemini_batches_and_refusals() {
        let texts: Vec<String> = (0..250).map(|i| format!("t{i}")).collect();
        let r = req(json!({"model": "g", "input": texts}));
        let t = target("http://mock/v", None, "models/gemini-embedding-001");
        let ups = build_requests(MediaWire::Gemini, &r, &t).unwrap();
        assert_eq!(ups.len(), 3);
        assert_eq!(
            ups[0].url,
            "http://mock/v/v1beta/models/gemini-embedding-001:batchEmbedContents"
        );
        assert_eq!(body(&ups[2])["requests"].as_array().unwrap().len(), 50);
        assert!(body(&ups[0])["requests"][0].get("taskType").is_none());

        let tokens = req(json!({"model": "g", "input": [1, 2]}));
        match build_requests(MediaWire::Gemini, &tokens, &t).unwrap_err() {
            AdapterError::Unsupported { param, .. } => assert_eq!(param, "input"),
            e => panic!("{e:?}"),
        }
        let unknown = req(json!({"model": "g", "input": "x", "seed": 1}));
        match build_requests(MediaWire::Gemini, &unknown, &t).unwrap_err() {
            AdapterError::Unsupported { param, .. } => assert_eq!(param, "seed"),
            e => panic!("{e:?}"),
        }
        let dropped =
            req(json!({"model": "g", "input": "x", "seed": 1, "drop_params": true, "user": "u"}));
        assert!(build_requests(MediaWire::Gemini, &dropped, &t).is_ok());
    }

    #[test]
    fn golden_vertex_predict() {
        let r = req(json!({"model": "v", "input": ["a", "b"], "dimensions": 5}));
        let wire = MediaWire::Vertex {
            project: "p",
            location: "us-central1",
        };
        let ups =
            build_requests(wire, &r, &target("", Some("ya29.t"), "text-embedding-005")).unwrap();
        assert_eq!(ups.len(), 1);
        assert_eq!(
            ups[0].url,
            "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict"
        );
        assert_eq!(ups[0].headers["authorization"], "Bearer ya29.t");
        assert_eq!(
            body(&ups[0]),
            json!({"instances": [{"content": "a"}, {"content": "b"}], "parameters": {"outputDimensionality": 5}})
        );
        // A configured base URL replaces the host, as for chat.
        let ups = build_requests(
            wire,
            &r,
            &target("http://mock:9/k=1", None, "gemini-embedding-001"),
        )
        .unwrap();
        assert_eq!(
            ups.len(),
            2,
            "gemini-embedding-001 takes one instance per call"
        );
        assert_eq!(
            ups[0].url,
            "http://mock:9/k=1/v1/projects/p/locations/us-central1/publishers/google/models/gemini-embedding-001:predict"
        );

        let raw = Bytes::from(fixture("gemini/vercel_vertex_embedding.json"));
        let e = parse_responses(wire, &r, &[raw]).unwrap();
        assert_eq!(e.vectors.len(), 2);
        assert_eq!(e.vectors[1].len(), 5);
        assert_eq!(e.prompt_tokens, Some(11));
        assert_eq!(e.billable_characters, Some(35));
        let r3 = req(json!({"model": "v", "input": ["a", "b", "c"]}));
        assert!(matches!(
            parse_responses(
                wire,
                &r3,
                &[Bytes::from(fixture("gemini/vercel_vertex_embedding.json"))]
            ),
            Err(AdapterError::BadResponse(_))
        ));
    }

    #[test]
    fn bedrock_titan_and_cohere() {
        let r = req(json!({"model": "b", "input": ["one", "two"], "dimensions": 256}));
        let t = target(
            "https://bedrock-runtime.us-east-1.amazonaws.com",
            Some("ignored"),
            "amazon.titan-embed-text-v2:0",
        );
        let ups = build_requests(MediaWire::Bedrock, &r, &t).unwrap();
        assert_eq!(ups.len(), 2);
        assert_eq!(
            ups[0].url,
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke"
        );
        assert!(ups[0].headers.get("authorization").is_none());
        assert_eq!(
            body(&ups[1]),
            json!({"inputText": "two", "dimensions": 256})
        );
        let answers = [
            Bytes::from_static(br#"{"embedding":[0.5,-0.25],"inputTextTokenCount":2}"#),
            Bytes::from_static(br#"{"embedding":[1.0,0.0],"inputTextTokenCount":3,"embeddingsByType":{"float":[1.0,0.0]}}"#),
        ];
        let e = parse_responses(MediaWire::Bedrock, &r, &answers).unwrap();
        assert_eq!(e.vectors, vec![vec![0.5, -0.25], vec![1.0, 0.0]]);
        assert_eq!(e.prompt_tokens, Some(5));

        let v1 = target("", None, "amazon.titan-embed-text-v1");
        match build_requests(MediaWire::Bedrock, &r, &v1).unwrap_err() {
            AdapterError::Unsupported { param, .. } => assert_eq!(param, "dimensions"),
            e => panic!("{e:?}"),
        }

        let texts: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
        let r = req(json!({"model": "b", "input": texts, "input_type": "search_query"}));
        let c = target("http://b", None, "cohere.embed-multilingual-v3");
        let ups = build_requests(MediaWire::Bedrock, &r, &c).unwrap();
        assert_eq!(ups.len(), 2);
        let b0 = body(&ups[0]);
        assert_eq!(b0["texts"].as_array().unwrap().len(), 96);
        assert_eq!(b0["input_type"], "search_query");
        let v: Vec<Vec<f32>> = (0..96).map(|i| vec![i as f32]).collect();
        let a0 = Bytes::from(
            serde_json::to_vec(
                &json!({"embeddings": v, "id": "x", "response_type": "embeddings_floats"}),
            )
            .unwrap(),
        );
        let a1 = Bytes::from(serde_json::to_vec(&json!({"embeddings": {"float": [[96.0], [97.0], [98.0], [99.0]]}, "response_type": "embeddings_by_type"})).unwrap());
        let e = parse_responses(MediaWire::Bedrock, &r, &[a0, a1]).unwrap();
        assert_eq!(e.vectors.len(), 100);
        assert_eq!(e.vectors[99], vec![99.0]);
        assert_eq!(e.prompt_tokens, None);

        let other = target("http://b", None, "amazon.nova-micro-v1:0");
        match build_requests(MediaWire::Bedrock, &r, &other).unwrap_err() {
            AdapterError::Unsupported { param, .. } => assert_eq!(param, "model"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn base64_round_trip_and_float_encoding() {
        let v = vec![0.1f32, -2.5, 3.0e-8];
        assert_eq!(decode_base64(&encode_base64(&v)).unwrap(), v);
        // 1.0f32 little-endian: 00 00 80 3f.
        assert_eq!(encode_base64(&[1.0]), "AACAPw==");
        let e = Embeddings {
            vectors: vec![vec![1.0, 0.5]],
            prompt_tokens: None,
            billable_characters: None,
        };
        let out = String::from_utf8(encode_response(&e, "m\"x", EncodingFormat::Float)).unwrap();
        assert_eq!(
            out,
            r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0,0.5]}],"model":"m\"x","usage":{"prompt_tokens":0,"total_tokens":0}}"#
        );
        assert!(decode_base64("AAA=").is_err());
    }
}
