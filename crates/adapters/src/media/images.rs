//! `POST /v1/images/generations`: OpenAI's request and response, and their translation.
//!
//! | wire | upstream | notes |
//! |---|---|---|
//! | OpenAI-format, Azure | `images/generations`, the body as sent with `model` replaced | `url` or `b64_json`; `usage` when the model reports it (gpt-image-1) |
//! | Gemini (Imagen) | `v1beta/models/{m}:predict` `{"instances":[{"prompt"}],"parameters":{"sampleCount","aspectRatio"}}` | base64 only |
//! | Vertex (Imagen) | `…/models/{m}:predict`, same body (+ `outputOptions.mimeType`) | base64 only |
//! | Bedrock | refused (400 naming `model`) | |
//!
//! Imagen: `n` → `sampleCount` (1–4), `size` → the nearest `aspectRatio` of 1:1, 3:4,
//! 4:3, 9:16, 16:9 (`auto` → none); `output_format` png (and jpeg on Vertex);
//! `response_format: url` is refused naming `response_format` (Imagen returns bytes) unless
//! `drop_params`, then base64 is returned. `quality` `auto`/`standard`, `background`
//! `auto`/`opaque` and `style` absent are Imagen's own behaviour; other values, and unknown
//! fields, are refused by name unless `drop_params`. `user` is left out.

use super::{
    bad_response, check_extra, err, gateway_fields, google_request, invalid_value, json_object,
    model, not_served, openai_format_request, opt_string, opt_u32, refuse, take, MediaWire,
    RequestError,
};
use crate::adapter::{AdapterError, Target, UpstreamRequest};
use bytes::Bytes;
use serde_json::{json, Map, Value};

/// `response_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Url,
    B64Json,
}

impl ImageFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Url => "url",
            ImageFormat::B64Json => "b64_json",
        }
    }
}

/// A decoded image generation request.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagesRequest {
    pub model: String,
    pub prompt: String,
    pub n: Option<u32>,
    pub size: Option<String>,
    pub quality: Option<String>,
    pub style: Option<String>,
    pub response_format: Option<ImageFormat>,
    pub background: Option<String>,
    pub output_format: Option<String>,
    pub user: Option<String>,
    pub drop_params: bool,
    /// Other top-level fields (`output_compression`, `moderation`, …), forwarded to
    /// OpenAI-format hosts.
    pub extra: Map<String, Value>,
}

impl ImagesRequest {
    /// How many images are asked for.
    pub fn count(&self) -> u32 {
        self.n.unwrap_or(1)
    }
}

/// One generated image.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageData {
    pub b64_json: Option<String>,
    pub url: Option<String>,
    pub revised_prompt: Option<String>,
}

/// Token usage of token-priced image models (gpt-image-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImageUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub text_tokens: Option<u64>,
    pub image_tokens: Option<u64>,
}

/// The images of an answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Images {
    /// The upstream's `created`, when it gave one.
    pub created: Option<u64>,
    pub data: Vec<ImageData>,
    /// How many images were generated (what per-image pricing bills).
    pub count: u64,
    /// As the upstream reported it (gpt-image-1), kept whole for the client.
    pub usage: Option<Value>,
    /// Other top-level fields of an OpenAI-format answer (`background`, `output_format`,
    /// `quality`, `size`), returned as received.
    pub extra: Map<String, Value>,
}

impl Images {
    /// The token counts in `usage`, when there are some.
    pub fn token_usage(&self) -> Option<ImageUsage> {
        let u = self.usage.as_ref()?;
        let n = |p: &str| u.pointer(p).and_then(Value::as_u64);
        Some(ImageUsage {
            input_tokens: n("/input_tokens")?,
            output_tokens: n("/output_tokens").unwrap_or(0),
            text_tokens: n("/input_tokens_details/text_tokens"),
            image_tokens: n("/input_tokens_details/image_tokens"),
        })
    }
}

/// Decodes an OpenAI image generation request body.
pub fn decode_request(body: &[u8]) -> Result<ImagesRequest, RequestError> {
    let mut obj = json_object(body)?;
    let model = model(&mut obj)?;
    let drop_params = gateway_fields(&mut obj)?;
    let prompt = match opt_string(&mut obj, "prompt")? {
        Some(p) if !p.is_empty() => p,
        Some(_) => return Err(err("prompt", "'prompt' must not be empty.")),
        None => return Err(err("prompt", "Missing required parameter: 'prompt'.")),
    };
    let n = opt_u32(&mut obj, "n")?;
    if let Some(n) = n {
        if !(1..=10).contains(&n) {
            return Err(err(
                "n",
                format!("Invalid 'n': integer must be between 1 and 10, got {n}."),
            ));
        }
    }
    let response_format = match opt_string(&mut obj, "response_format")? {
        None => None,
        Some(f) => Some(match f.as_str() {
            "url" => ImageFormat::Url,
            "b64_json" => ImageFormat::B64Json,
            _ => return Err(invalid_value("response_format", &f, &["url", "b64_json"])),
        }),
    };
    Ok(ImagesRequest {
        model,
        prompt,
        n,
        size: opt_string(&mut obj, "size")?,
        quality: opt_string(&mut obj, "quality")?,
        style: opt_string(&mut obj, "style")?,
        response_format,
        background: opt_string(&mut obj, "background")?,
        output_format: opt_string(&mut obj, "output_format")?,
        user: opt_string(&mut obj, "user")?,
        drop_params,
        extra: obj,
    })
}

/// Imagen's aspect ratios, as (name, width / height).
const ASPECT_RATIOS: &[(&str, f64)] = &[
    ("1:1", 1.0),
    ("3:4", 0.75),
    ("4:3", 4.0 / 3.0),
    ("9:16", 9.0 / 16.0),
    ("16:9", 16.0 / 9.0),
];

/// The Imagen aspect ratio nearest to OpenAI's `size` (`WxH`); `None` for `auto`.
pub fn aspect_ratio(size: &str) -> Result<Option<&'static str>, AdapterError> {
    if size == "auto" {
        return Ok(None);
    }
    let parsed = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)))
        .filter(|(w, h)| *w > 0 && *h > 0);
    let Some((w, h)) = parsed else {
        return Err(AdapterError::Unsupported {
            param: "size".into(),
            message: format!(
                "Invalid 'size': '{size}'; expected WIDTHxHEIGHT such as 1024x1024, or auto."
            ),
        });
    };
    let ratio = (f64::from(w) / f64::from(h)).ln();
    let nearest = ASPECT_RATIOS
        .iter()
        .min_by(|a, b| {
            let da = (a.1.ln() - ratio).abs();
            let db = (b.1.ln() - ratio).abs();
            da.total_cmp(&db)
        })
        .map(|(name, _)| *name);
    Ok(nearest)
}

/// The upstream request for `req`.
pub fn build_request(
    wire: MediaWire<'_>,
    req: &ImagesRequest,
    target: &Target<'_>,
) -> Result<UpstreamRequest, AdapterError> {
    match wire {
        MediaWire::OpenAi | MediaWire::Azure { .. } => openai_format_request(
            wire,
            target,
            "images/generations",
            "application/json",
            Bytes::from(openai_body(req, target.upstream_model)),
        ),
        MediaWire::Gemini | MediaWire::Vertex { .. } => {
            let body = imagen_body(wire, req)?;
            Ok(google_request(wire, target, "predict", body))
        }
        MediaWire::Bedrock => Err(not_served(wire, "image generation")),
    }
}

fn openai_body(req: &ImagesRequest, upstream_model: &str) -> Vec<u8> {
    let mut obj = Map::with_capacity(req.extra.len() + 10);
    obj.insert("model".into(), upstream_model.into());
    obj.insert("prompt".into(), req.prompt.as_str().into());
    if let Some(n) = req.n {
        obj.insert("n".into(), n.into());
    }
    let strings = [
        ("size", &req.size),
        ("quality", &req.quality),
        ("style", &req.style),
        ("background", &req.background),
        ("output_format", &req.output_format),
        ("user", &req.user),
    ];
    for (k, v) in strings {
        if let Some(v) = v {
            obj.insert(k.into(), v.as_str().into());
        }
    }
    if let Some(f) = req.response_format {
        obj.insert("response_format".into(), f.as_str().into());
    }
    for (k, v) in &req.extra {
        obj.insert(k.clone(), v.clone());
    }
    serde_json::to_vec(&obj).unwrap_or_default()
}

fn imagen_body(wire: MediaWire<'_>, req: &ImagesRequest) -> Result<Vec<u8>, AdapterError> {
    let provider = wire.display();
    let vertex = matches!(wire, MediaWire::Vertex { .. });
    check_extra(&req.extra, &[], req.drop_params, provider)?;
    if req.response_format == Some(ImageFormat::Url) {
        refuse(
            req.drop_params,
            "response_format",
            provider,
            "Imagen returns the image bytes, not a URL; ask for b64_json",
        )?;
    }
    let n = req.count();
    if n > 4 {
        return Err(AdapterError::Unsupported {
            param: "n".into(),
            message: format!("`n` is at most 4 on {provider} (Imagen's sampleCount)"),
        });
    }
    if let Some(q) = req.quality.as_deref() {
        if !matches!(q, "auto" | "standard") {
            refuse(
                req.drop_params,
                "quality",
                provider,
                "Imagen has no quality setting",
            )?;
        }
    }
    if req.style.is_some() {
        refuse(req.drop_params, "style", provider, "")?;
    }
    if let Some(b) = req.background.as_deref() {
        if !matches!(b, "auto" | "opaque") {
            refuse(
                req.drop_params,
                "background",
                provider,
                "Imagen images are opaque",
            )?;
        }
    }
    let mut parameters = json!({ "sampleCount": n });
    if let Some(ratio) = req.size.as_deref().map(aspect_ratio).transpose()?.flatten() {
        parameters["aspectRatio"] = ratio.into();
    }
    match (req.output_format.as_deref(), vertex) {
        (None, _) | (Some("png"), false) => {}
        (Some(f @ ("png" | "jpeg")), true) => {
            parameters["outputOptions"] = json!({ "mimeType": format!("image/{f}") });
        }
        (Some(_), _) => refuse(
            req.drop_params,
            "output_format",
            provider,
            if vertex {
                "png or jpeg only"
            } else {
                "png only"
            },
        )?,
    }
    let body = json!({"instances": [{"prompt": req.prompt}], "parameters": parameters});
    Ok(serde_json::to_vec(&body).unwrap_or_default())
}

/// Reads the answer to [`build_request`]'s request.
pub fn parse_response(wire: MediaWire<'_>, body: &[u8]) -> Result<Images, AdapterError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad_response(format!("images: {e}")))?;
    let Value::Object(mut obj) = v else {
        return Err(bad_response("images: not a JSON object"));
    };
    match wire {
        MediaWire::Gemini | MediaWire::Vertex { .. } => parse_imagen(&obj),
        _ => {
            let data = match take(&mut obj, "data") {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|d| ImageData {
                        b64_json: d.get("b64_json").and_then(Value::as_str).map(str::to_owned),
                        url: d.get("url").and_then(Value::as_str).map(str::to_owned),
                        revised_prompt: d
                            .get("revised_prompt")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    })
                    .collect::<Vec<_>>(),
                _ => return Err(bad_response("images: no `data` array")),
            };
            let created = take(&mut obj, "created").and_then(|c| c.as_u64());
            let usage = take(&mut obj, "usage");
            Ok(Images {
                created,
                count: data.len() as u64,
                data,
                usage,
                extra: obj,
            })
        }
    }
}

fn parse_imagen(obj: &Map<String, Value>) -> Result<Images, AdapterError> {
    let predictions = obj
        .get("predictions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut data = Vec::with_capacity(predictions.len());
    let mut filtered = None;
    for p in predictions {
        match p.get("bytesBase64Encoded").and_then(Value::as_str) {
            Some(b64) => data.push(ImageData {
                b64_json: Some(b64.to_owned()),
                url: None,
                revised_prompt: p.get("prompt").and_then(Value::as_str).map(str::to_owned),
            }),
            None => {
                filtered = p
                    .get("raiFilteredReason")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or(filtered)
            }
        }
    }
    if data.is_empty() {
        // Imagen answers `{}` (or only filter reasons) when every image was filtered.
        return Err(AdapterError::Unsupported {
            param: "prompt".into(),
            message: filtered.unwrap_or_else(|| {
                "no image was generated: the provider's safety filters blocked the prompt or every image"
                    .to_string()
            }),
        });
    }
    Ok(Images {
        created: None,
        count: data.len() as u64,
        data,
        usage: None,
        extra: Map::new(),
    })
}

/// The OpenAI response body: `{"created","data":[...]}` (plus `usage` and the other
/// fields an OpenAI-format upstream gave). `created` is used when the upstream gave none.
pub fn encode_response(images: &Images, created: u64) -> Vec<u8> {
    let mut obj = Map::with_capacity(images.extra.len() + 3);
    obj.insert("created".into(), images.created.unwrap_or(created).into());
    let data: Vec<Value> = images
        .data
        .iter()
        .map(|d| {
            let mut m = Map::new();
            if let Some(b) = &d.b64_json {
                m.insert("b64_json".into(), b.as_str().into());
            }
            if let Some(u) = &d.url {
                m.insert("url".into(), u.as_str().into());
            }
            if let Some(r) = &d.revised_prompt {
                m.insert("revised_prompt".into(), r.as_str().into());
            }
            Value::Object(m)
        })
        .collect();
    obj.insert("data".into(), Value::Array(data));
    for (k, v) in &images.extra {
        obj.insert(k.clone(), v.clone());
    }
    if let Some(u) = &images.usage {
        obj.insert("usage".into(), u.clone());
    }
    serde_json::to_vec(&obj).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::media::tests::target;

    fn req(body: Value) -> ImagesRequest {
        decode_request(&serde_json::to_vec(&body).unwrap()).unwrap()
    }

    fn body(r: &UpstreamRequest) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    fn unsupported(e: AdapterError) -> String {
        match e {
            AdapterError::Unsupported { param, .. } => param,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decodes_and_refuses() {
        let r = req(
            json!({"model": "m", "prompt": "a cat", "n": 2, "size": "1024x1024", "quality": "hd", "style": "vivid", "response_format": "b64_json", "background": "transparent", "output_format": "webp", "user": "u", "moderation": "low", "drop_params": true}),
        );
        assert_eq!(r.count(), 2);
        assert_eq!(r.response_format, Some(ImageFormat::B64Json));
        assert_eq!(r.extra.keys().collect::<Vec<_>>(), vec!["moderation"]);
        assert!(r.drop_params);
        for (b, param) in [
            (json!({"prompt": "x"}), "model"),
            (json!({"model": "m"}), "prompt"),
            (json!({"model": "m", "prompt": ""}), "prompt"),
            (json!({"model": "m", "prompt": "x", "n": 0}), "n"),
            (json!({"model": "m", "prompt": "x", "n": 11}), "n"),
            (
                json!({"model": "m", "prompt": "x", "response_format": "png"}),
                "response_format",
            ),
            (json!({"model": "m", "prompt": "x", "size": 1024}), "size"),
        ] {
            let e = decode_request(&serde_json::to_vec(&b).unwrap()).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{b}");
        }
    }

    #[test]
    fn openai_and_azure_forward_the_body() {
        let r = req(
            json!({"model": "pub", "prompt": "a cat", "size": "1024x1024", "output_compression": 50}),
        );
        let t = target("https://api.openai.com/v1", Some("sk"), "gpt-image-1");
        let up = build_request(MediaWire::OpenAi, &r, &t).unwrap();
        assert_eq!(up.url, "https://api.openai.com/v1/images/generations");
        assert_eq!(
            body(&up),
            json!({"model": "gpt-image-1", "prompt": "a cat", "size": "1024x1024", "output_compression": 50})
        );
        let up = build_request(
            MediaWire::Azure {
                api_version: "2025-04-01-preview",
                bearer: false,
            },
            &r,
            &target("https://r.openai.azure.com/", Some("k"), "dalle3"),
        )
        .unwrap();
        assert_eq!(
            up.url,
            "https://r.openai.azure.com/openai/deployments/dalle3/images/generations?api-version=2025-04-01-preview"
        );
        assert_eq!(
            unsupported(build_request(MediaWire::Bedrock, &r, &t).unwrap_err()),
            "model"
        );
    }

    #[test]
    fn imagen_on_gemini_and_vertex() {
        let r = req(
            json!({"model": "pub", "prompt": "a cat", "n": 2, "size": "1792x1024", "response_format": "b64_json", "quality": "standard", "user": "u"}),
        );
        let up = build_request(
            MediaWire::Gemini,
            &r,
            &target("", Some("AIza"), "imagen-4.0-generate-001"),
        )
        .unwrap();
        assert_eq!(
            up.url,
            "https://generativelanguage.googleapis.com/v1beta/models/imagen-4.0-generate-001:predict"
        );
        assert_eq!(up.headers["x-goog-api-key"], "AIza");
        assert_eq!(
            body(&up),
            json!({"instances": [{"prompt": "a cat"}], "parameters": {"sampleCount": 2, "aspectRatio": "16:9"}})
        );
        let wire = MediaWire::Vertex {
            project: "p",
            location: "europe-west4",
        };
        let jpeg = req(
            json!({"model": "pub", "prompt": "x", "output_format": "jpeg", "response_format": "b64_json"}),
        );
        let up = build_request(
            wire,
            &jpeg,
            &target("http://mock:1", Some("ya29"), "imagen-3.0-generate-002"),
        )
        .unwrap();
        assert_eq!(
            up.url,
            "http://mock:1/v1/projects/p/locations/europe-west4/publishers/google/models/imagen-3.0-generate-002:predict"
        );
        assert_eq!(
            body(&up)["parameters"],
            json!({"sampleCount": 1, "outputOptions": {"mimeType": "image/jpeg"}})
        );
        let t = target("", None, "imagen-4.0-fast-generate-001");
        // url: refused by name, or base64 when dropping.
        let url = req(json!({"model": "m", "prompt": "x"}));
        assert!(
            build_request(MediaWire::Gemini, &url, &t).is_ok(),
            "default format is fine"
        );
        let url = req(json!({"model": "m", "prompt": "x", "response_format": "url"}));
        assert_eq!(
            unsupported(build_request(MediaWire::Gemini, &url, &t).unwrap_err()),
            "response_format"
        );
        let url = req(
            json!({"model": "m", "prompt": "x", "response_format": "url", "drop_params": true, "style": "vivid"}),
        );
        assert!(build_request(MediaWire::Gemini, &url, &t).is_ok());
        for (b, param) in [
            (json!({"model": "m", "prompt": "x", "n": 5}), "n"),
            (
                json!({"model": "m", "prompt": "x", "quality": "hd"}),
                "quality",
            ),
            (
                json!({"model": "m", "prompt": "x", "style": "vivid"}),
                "style",
            ),
            (
                json!({"model": "m", "prompt": "x", "background": "transparent"}),
                "background",
            ),
            (
                json!({"model": "m", "prompt": "x", "output_format": "jpeg"}),
                "output_format",
            ),
            (json!({"model": "m", "prompt": "x", "size": "big"}), "size"),
            (json!({"model": "m", "prompt": "x", "seed": 3}), "seed"),
        ] {
            assert_eq!(
                unsupported(build_request(MediaWire::Gemini, &req(b.clone()), &t).unwrap_err()),
                param,
                "{b}"
            );
        }
    }

    #[test]
    fn aspect_ratios() {
        for (size, ratio) in [
            ("1024x1024", Some("1:1")),
            ("1792x1024", Some("16:9")),
            ("1024x1792", Some("9:16")),
            ("1536x1024", Some("4:3")),
            ("1024x1536", Some("3:4")),
            ("512x512", Some("1:1")),
            ("auto", None),
        ] {
            assert_eq!(aspect_ratio(size).unwrap(), ratio, "{size}");
        }
        assert!(aspect_ratio("0x5").is_err());
    }

    #[test]
    fn parses_and_encodes() {
        let openai = br#"{"created":1713833628,"data":[{"b64_json":"iVBO","revised_prompt":null}],"background":"opaque","output_format":"png","usage":{"total_tokens":100,"input_tokens":50,"output_tokens":50,"input_tokens_details":{"text_tokens":10,"image_tokens":40}}}"#;
        let i = parse_response(MediaWire::OpenAi, openai).unwrap();
        assert_eq!(i.count, 1);
        assert_eq!(i.created, Some(1713833628));
        assert_eq!(
            i.token_usage(),
            Some(ImageUsage {
                input_tokens: 50,
                output_tokens: 50,
                text_tokens: Some(10),
                image_tokens: Some(40)
            })
        );
        let out: Value = serde_json::from_slice(&encode_response(&i, 1)).unwrap();
        assert_eq!(out["created"], 1713833628);
        assert_eq!(out["data"], json!([{"b64_json": "iVBO"}]));
        assert_eq!(out["usage"]["input_tokens"], 50);
        assert_eq!(out["background"], "opaque");

        let dalle =
            br#"{"created":1,"data":[{"url":"https://x/y.png","revised_prompt":"a cute cat"}]}"#;
        let i = parse_response(
            MediaWire::Azure {
                api_version: "",
                bearer: false,
            },
            dalle,
        )
        .unwrap();
        assert_eq!(i.data[0].url.as_deref(), Some("https://x/y.png"));
        assert_eq!(i.token_usage(), None);

        let imagen = br#"{"predictions":[{"bytesBase64Encoded":"AAAA","mimeType":"image/png"},{"raiFilteredReason":"filtered"},{"bytesBase64Encoded":"BBBB","mimeType":"image/png","prompt":"enhanced"}]}"#;
        let i = parse_response(MediaWire::Gemini, imagen).unwrap();
        assert_eq!(i.count, 2);
        assert_eq!(i.data[1].revised_prompt.as_deref(), Some("enhanced"));
        let out: Value = serde_json::from_slice(&encode_response(&i, 42)).unwrap();
        assert_eq!(
            out,
            json!({"created": 42, "data": [{"b64_json": "AAAA"}, {"b64_json": "BBBB", "revised_prompt": "enhanced"}]})
        );

        let all_filtered = br#"{"predictions":[{"raiFilteredReason":"Your prompt was blocked."}]}"#;
        match parse_response(MediaWire::Gemini, all_filtered).unwrap_err() {
            AdapterError::Unsupported { param, message } => {
                assert_eq!(param, "prompt");
                assert!(message.contains("blocked"));
            }
            e => panic!("{e:?}"),
        }
        assert!(parse_response(MediaWire::Gemini, b"{}").is_err());
        assert!(parse_response(MediaWire::OpenAi, b"{}").is_err());
        assert!(parse_response(MediaWire::OpenAi, b"[").is_err());
    }
}
