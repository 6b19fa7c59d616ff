//! `POST /v1/audio/transcriptions` (multipart/form-data) and `POST /v1/audio/speech`.
//!
//! Both are OpenAI-format only: OpenAI, `openai_compatible` hosts and presets that serve
//! them (Groq's Whisper, …) at `{base}/audio/transcriptions` / `{base}/audio/speech`, and
//! Azure at `/openai/deployments/{d}/audio/…?api-version=`. Gemini, Vertex and Bedrock
//! are refused with a 400 naming `model`.
//!
//! Transcriptions are passed through: the form is parsed ([`parse_multipart`]), the
//! `model` field replaced and the form written again under a fresh boundary
//! ([`Multipart::encode_with_model`]); the answer goes back as received, and
//! [`parse_transcription_response`] reads what pricing needs from it: the duration
//! (`verbose_json`) and the usage (`{"type":"tokens",…}` or `{"type":"duration","seconds"}`).
//! Speech is JSON in, raw audio bytes out (the gateway streams them through); what pricing
//! needs is the input's character count ([`SpeechRequest::characters`]).

use super::{
    bad_response, err, gateway_fields, invalid_type, invalid_value, json_object, model, not_served,
    openai_format_request, opt_f64, opt_string, take, MediaWire, RequestError,
};
use crate::adapter::{AdapterError, Target, UpstreamRequest};
use bytes::Bytes;
use serde_json::{Map, Value};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::task::{Context, Poll, Waker};

// ---------------------------------------------------------------------------------------------
// multipart/form-data

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// A parsed multipart/form-data body, fields in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Multipart {
    pub fields: Vec<Field>,
}

/// Parses a multipart/form-data body (`content_type` carries the boundary) with `multer`,
/// driven to completion synchronously: the body is all in memory.
pub fn parse_multipart(body: &[u8], content_type: &str) -> Result<Multipart, RequestError> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| RequestError {
        message: format!("expected a multipart/form-data body with a boundary: {e}"),
        param: None,
    })?;
    let bytes = Bytes::copy_from_slice(body);
    let stream =
        futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(bytes) });
    let mut form = multer::Multipart::new(stream, boundary);
    let parse = async move {
        let mut fields = Vec::new();
        while let Some(field) = form.next_field().await? {
            let name = field.name().unwrap_or_default().to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(|m| m.to_string());
            let data = field.bytes().await?;
            fields.push(Field {
                name,
                filename,
                content_type,
                data,
            });
        }
        Ok::<_, multer::Error>(fields)
    };
    match poll_ready(parse) {
        Some(Ok(fields)) => Ok(Multipart { fields }),
        Some(Err(e)) => Err(RequestError {
            message: format!("the multipart/form-data body could not be read: {e}"),
            param: None,
        }),
        None => Err(RequestError {
            message: "the multipart/form-data body could not be read".to_string(),
            param: None,
        }),
    }
}

/// Runs a future that never waits (its input is all in memory) to completion.
fn poll_ready<F: Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    // An in-memory stream is always ready: one poll finishes. The bound only guards
    // against a parser that would ever wait.
    for _ in 0..64 {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return Some(out);
        }
    }
    None
}

impl Multipart {
    /// The first field named `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// A text field's value (a field without a file name), as UTF-8.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.field(name)
            .filter(|f| f.filename.is_none())
            .and_then(|f| std::str::from_utf8(&f.data).ok())
    }

    /// The form written again, `model` set to `model` (added when absent) and the gateway's
    /// own `drop_params` left out, under a fresh boundary. Returns the body and its
    /// `content-type`.
    pub fn encode_with_model(&self, model: &str) -> (Bytes, String) {
        let boundary = self.boundary();
        let mut out = Vec::with_capacity(
            self.fields
                .iter()
                .map(|f| f.data.len() + 128)
                .sum::<usize>()
                + 256,
        );
        let mut wrote_model = false;
        for f in &self.fields {
            if f.name == "drop_params" {
                continue;
            }
            let data: &[u8] = if f.name == "model" {
                if wrote_model {
                    continue;
                }
                wrote_model = true;
                model.as_bytes()
            } else {
                &f.data
            };
            write_part(&mut out, &boundary, f, data);
        }
        if !wrote_model {
            let f = Field {
                name: "model".into(),
                filename: None,
                content_type: None,
                data: Bytes::new(),
            };
            write_part(&mut out, &boundary, &f, model.as_bytes());
        }
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"--\r\n");
        (
            Bytes::from(out),
            format!("multipart/form-data; boundary={boundary}"),
        )
    }

    /// A boundary that occurs in no field: derived from the form (so it is reproducible),
    /// changed until it is absent from every value.
    fn boundary(&self) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for f in &self.fields {
            f.name.hash(&mut h);
            f.data.len().hash(&mut h);
        }
        let seed = h.finish();
        (0u64..)
            .map(|i| {
                format!(
                    "switchyard-{:016x}",
                    seed.wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                )
            })
            .find(|b| !self.fields.iter().any(|f| contains(&f.data, b.as_bytes())))
            .unwrap_or_default()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// A header parameter value, quoted, with `"`, CR and LF percent-encoded (as browsers do).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("%22"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn write_part(out: &mut Vec<u8>, boundary: &str, f: &Field, data: &[u8]) {
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"\r\nContent-Disposition: form-data; name=");
    out.extend_from_slice(quoted(&f.name).as_bytes());
    if let Some(filename) = &f.filename {
        out.extend_from_slice(b"; filename=");
        out.extend_from_slice(quoted(filename).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    if let Some(ct) = &f.content_type {
        let ct: String = ct.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        out.extend_from_slice(b"Content-Type: ");
        out.extend_from_slice(ct.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

// ---------------------------------------------------------------------------------------------
// Transcriptions

/// `response_format` of a transcription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TranscriptionFormat {
    #[default]
    Json,
    Text,
    Srt,
    VerboseJson,
    Vtt,
}

impl TranscriptionFormat {
    pub fn parse(s: &str) -> Option<TranscriptionFormat> {
        Some(match s {
            "json" => TranscriptionFormat::Json,
            "text" => TranscriptionFormat::Text,
            "srt" => TranscriptionFormat::Srt,
            "verbose_json" => TranscriptionFormat::VerboseJson,
            "vtt" => TranscriptionFormat::Vtt,
            _ => return None,
        })
    }

    /// Whether the answer is JSON (else plain text).
    pub fn is_json(self) -> bool {
        matches!(
            self,
            TranscriptionFormat::Json | TranscriptionFormat::VerboseJson
        )
    }
}

/// A decoded transcription request: the form, and what the gateway reads of it.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptionRequest {
    pub model: String,
    pub response_format: TranscriptionFormat,
    /// The uploaded file's size in bytes.
    pub file_bytes: usize,
    pub form: Multipart,
}

/// Decodes a transcription request: a multipart form with `file` and `model`.
pub fn decode_transcription(
    body: &[u8],
    content_type: &str,
) -> Result<TranscriptionRequest, RequestError> {
    let form = parse_multipart(body, content_type)?;
    let model = match form.text("model").map(str::trim) {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => return Err(err("model", "you must provide a model parameter")),
    };
    let file_bytes = match form.field("file") {
        Some(f) if f.filename.is_some() || !f.data.is_empty() => f.data.len(),
        _ => return Err(err("file", "Missing required parameter: 'file'.")),
    };
    let response_format = match form.text("response_format") {
        None | Some("") => TranscriptionFormat::default(),
        Some(f) => TranscriptionFormat::parse(f).ok_or_else(|| {
            invalid_value(
                "response_format",
                f,
                &["json", "text", "srt", "verbose_json", "vtt"],
            )
        })?,
    };
    Ok(TranscriptionRequest {
        model,
        response_format,
        file_bytes,
        form,
    })
}

/// The upstream request: the form with `model` replaced, under a fresh boundary.
pub fn build_transcription_request(
    wire: MediaWire<'_>,
    req: &TranscriptionRequest,
    target: &Target<'_>,
) -> Result<UpstreamRequest, AdapterError> {
    if !wire.is_openai_format() {
        return Err(not_served(wire, "audio transcription"));
    }
    let (body, content_type) = req.form.encode_with_model(target.upstream_model);
    openai_format_request(wire, target, "audio/transcriptions", &content_type, body)
}

/// What a transcription answer tells about its cost.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transcription {
    /// The text (JSON formats only).
    pub text: Option<String>,
    /// `duration` in seconds (`verbose_json`).
    pub duration_secs: Option<f64>,
    pub usage: Option<TranscriptionUsage>,
}

/// `usage` of a transcription answer.
#[derive(Debug, Clone, PartialEq)]
pub enum TranscriptionUsage {
    /// `{"type":"tokens",…}` (gpt-4o-transcribe).
    Tokens {
        input_tokens: u64,
        output_tokens: u64,
        audio_tokens: Option<u64>,
        text_tokens: Option<u64>,
    },
    /// `{"type":"duration","seconds"}` (whisper-1).
    Duration { seconds: f64 },
}

impl Transcription {
    /// Milliseconds of audio, from `duration` or a duration usage.
    pub fn audio_ms(&self) -> Option<u64> {
        let secs = self.duration_secs.or(match self.usage {
            Some(TranscriptionUsage::Duration { seconds }) => Some(seconds),
            _ => None,
        })?;
        (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).round() as u64)
    }

    /// `(input, output)` tokens, when the usage is in tokens.
    pub fn tokens(&self) -> Option<(u64, u64)> {
        match self.usage {
            Some(TranscriptionUsage::Tokens {
                input_tokens,
                output_tokens,
                ..
            }) => Some((input_tokens, output_tokens)),
            _ => None,
        }
    }
}

/// Reads the duration and usage of a transcription answer (the body itself goes back to
/// the client as received). Plain-text formats carry neither.
pub fn parse_transcription_response(
    format: TranscriptionFormat,
    body: &[u8],
) -> Result<Transcription, AdapterError> {
    if !format.is_json() {
        return Ok(Transcription::default());
    }
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad_response(format!("transcription: {e}")))?;
    let usage = v.get("usage").and_then(|u| {
        let n = |p: &str| u.pointer(p).and_then(Value::as_u64);
        match u.get("type").and_then(Value::as_str) {
            Some("duration") => u
                .get("seconds")
                .and_then(Value::as_f64)
                .map(|seconds| TranscriptionUsage::Duration { seconds }),
            // `type: tokens`, or an untyped usage with token counts.
            _ => Some(TranscriptionUsage::Tokens {
                input_tokens: n("/input_tokens")?,
                output_tokens: n("/output_tokens").unwrap_or(0),
                audio_tokens: n("/input_token_details/audio_tokens"),
                text_tokens: n("/input_token_details/text_tokens"),
            }),
        }
    });
    Ok(Transcription {
        text: v.get("text").and_then(Value::as_str).map(str::to_string),
        duration_secs: v.get("duration").and_then(Value::as_f64),
        usage,
    })
}

// ---------------------------------------------------------------------------------------------
// Speech

/// A decoded text-to-speech request.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechRequest {
    pub model: String,
    pub input: String,
    /// A voice name, or `{"id": …}` for a custom voice.
    pub voice: Value,
    pub response_format: Option<String>,
    pub speed: Option<f64>,
    pub instructions: Option<String>,
    pub drop_params: bool,
    /// Other top-level fields (`stream_format`, …), forwarded.
    pub extra: Map<String, Value>,
}

const SPEECH_FORMATS: &[&str] = &["mp3", "opus", "aac", "flac", "wav", "pcm"];

impl SpeechRequest {
    /// Characters of input (what per-character pricing bills).
    pub fn characters(&self) -> u64 {
        self.input.chars().count() as u64
    }

    /// The `content-type` of the audio the upstream returns.
    pub fn content_type(&self) -> &'static str {
        match self.response_format.as_deref().unwrap_or("mp3") {
            "opus" => "audio/opus",
            "aac" => "audio/aac",
            "flac" => "audio/flac",
            "wav" => "audio/wav",
            "pcm" => "audio/pcm",
            _ => "audio/mpeg",
        }
    }
}

/// Decodes an OpenAI speech request body.
pub fn decode_speech_request(body: &[u8]) -> Result<SpeechRequest, RequestError> {
    let mut obj = json_object(body)?;
    let model = model(&mut obj)?;
    let drop_params = gateway_fields(&mut obj)?;
    let input = match opt_string(&mut obj, "input")? {
        Some(i) if !i.is_empty() => i,
        Some(_) => return Err(err("input", "'input' must not be empty.")),
        None => return Err(err("input", "Missing required parameter: 'input'.")),
    };
    let voice = match take(&mut obj, "voice") {
        None => return Err(err("voice", "Missing required parameter: 'voice'.")),
        Some(v @ (Value::String(_) | Value::Object(_))) => v,
        Some(other) => return Err(invalid_type("voice", "a string or an object", &other)),
    };
    let response_format = opt_string(&mut obj, "response_format")?;
    if let Some(f) = &response_format {
        if !SPEECH_FORMATS.contains(&f.as_str()) {
            return Err(invalid_value("response_format", f, SPEECH_FORMATS));
        }
    }
    let speed = opt_f64(&mut obj, "speed")?;
    if let Some(s) = speed {
        if !(0.25..=4.0).contains(&s) {
            return Err(err(
                "speed",
                format!("Invalid 'speed': expected a number between 0.25 and 4.0, got {s}."),
            ));
        }
    }
    let instructions = opt_string(&mut obj, "instructions")?;
    Ok(SpeechRequest {
        model,
        input,
        voice,
        response_format,
        speed,
        instructions,
        drop_params,
        extra: obj,
    })
}

/// The upstream request for `req` (OpenAI-format hosts and Azure only).
pub fn build_speech_request(
    wire: MediaWire<'_>,
    req: &SpeechRequest,
    target: &Target<'_>,
) -> Result<UpstreamRequest, AdapterError> {
    if !wire.is_openai_format() {
        return Err(not_served(wire, "text-to-speech"));
    }
    // Nothing to refuse: the body goes to an OpenAI-format host as sent.
    let mut obj = Map::with_capacity(req.extra.len() + 6);
    obj.insert("model".into(), target.upstream_model.into());
    obj.insert("input".into(), req.input.as_str().into());
    obj.insert("voice".into(), req.voice.clone());
    if let Some(f) = &req.response_format {
        obj.insert("response_format".into(), f.as_str().into());
    }
    if let Some(s) = req.speed {
        obj.insert("speed".into(), s.into());
    }
    if let Some(i) = &req.instructions {
        obj.insert("instructions".into(), i.as_str().into());
    }
    for (k, v) in &req.extra {
        obj.insert(k.clone(), v.clone());
    }
    let body = serde_json::to_vec(&obj).unwrap_or_default();
    openai_format_request(
        wire,
        target,
        "audio/speech",
        "application/json",
        Bytes::from(body),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::media::tests::target;
    use serde_json::json;

    const CT: &str = "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW";

    fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, filename, data) in parts {
            body.extend_from_slice(b"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n");
            match filename {
                Some(f) => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: audio/mpeg\r\n\r\n").as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n");
        body
    }

    #[test]
    fn parses_and_rewrites_the_form() {
        let audio: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let body = form(&[
            ("file", Some("speech 1.mp3"), &audio),
            ("model", None, b"public-whisper"),
            ("response_format", None, b"verbose_json"),
            ("drop_params", None, b"true"),
        ]);
        let req = decode_transcription(&body, CT).unwrap();
        assert_eq!(req.model, "public-whisper");
        assert_eq!(req.response_format, TranscriptionFormat::VerboseJson);
        assert_eq!(req.file_bytes, 5000);
        let file = req.form.field("file").unwrap();
        assert_eq!(file.filename.as_deref(), Some("speech 1.mp3"));
        assert_eq!(file.content_type.as_deref(), Some("audio/mpeg"));

        let (out, ct) = req.form.encode_with_model("whisper-1");
        assert!(ct.starts_with("multipart/form-data; boundary=switchyard-"));
        // Reproducible, and readable again with the new model.
        assert_eq!(req.form.encode_with_model("whisper-1").1, ct);
        let again = parse_multipart(&out, &ct).unwrap();
        assert_eq!(again.text("model"), Some("whisper-1"));
        assert_eq!(again.field("file").unwrap().data, audio);
        assert_eq!(again.text("response_format"), Some("verbose_json"));
        assert!(again.field("drop_params").is_none());
        assert_eq!(again.fields.len(), 3);

        // Upstream URLs.
        let t = target(
            "https://api.groq.com/openai/v1",
            Some("gsk"),
            "whisper-large-v3",
        );
        let up = build_transcription_request(MediaWire::OpenAi, &req, &t).unwrap();
        assert_eq!(
            up.url,
            "https://api.groq.com/openai/v1/audio/transcriptions"
        );
        assert!(up.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("multipart/form-data; boundary=switchyard-"));
        assert_eq!(up.headers["authorization"], "Bearer gsk");
        let up = build_transcription_request(
            MediaWire::Azure {
                api_version: "2024-10-21",
                bearer: false,
            },
            &req,
            &target("https://r.openai.azure.com", Some("k"), "whisper"),
        )
        .unwrap();
        assert_eq!(
            up.url,
            "https://r.openai.azure.com/openai/deployments/whisper/audio/transcriptions?api-version=2024-10-21"
        );
        for wire in [
            MediaWire::Gemini,
            MediaWire::Bedrock,
            MediaWire::Vertex {
                project: "p",
                location: "l",
            },
        ] {
            match build_transcription_request(wire, &req, &t).unwrap_err() {
                AdapterError::Unsupported { param, .. } => assert_eq!(param, "model"),
                e => panic!("{e:?}"),
            }
        }
    }

    #[test]
    fn a_boundary_inside_the_file_is_avoided() {
        let field = |data: Vec<u8>| Multipart {
            fields: vec![Field {
                name: "file".into(),
                filename: Some("a".into()),
                content_type: None,
                data: Bytes::from(data),
            }],
        };
        let first = field(vec![b'x'; 40]).boundary();
        // Same names and sizes (so the same first candidate), but the file holds it.
        let mut data = first.clone().into_bytes();
        data.resize(40, b'x');
        let m = field(data);
        let b = m.boundary();
        assert_ne!(b, first);
        let (body, ct) = m.encode_with_model("x");
        let back = parse_multipart(&body, &ct).unwrap();
        assert_eq!(back.fields[0].data, m.fields[0].data);
        assert_eq!(back.text("model"), Some("x"));
    }

    #[test]
    fn transcription_refusals() {
        let no_file = form(&[("model", None, b"whisper-1")]);
        assert_eq!(
            decode_transcription(&no_file, CT)
                .unwrap_err()
                .param
                .as_deref(),
            Some("file")
        );
        let no_model = form(&[("file", Some("a.wav"), b"1")]);
        assert_eq!(
            decode_transcription(&no_model, CT)
                .unwrap_err()
                .param
                .as_deref(),
            Some("model")
        );
        let bad_format = form(&[
            ("file", Some("a.wav"), b"1"),
            ("model", None, b"m"),
            ("response_format", None, b"docx"),
        ]);
        assert_eq!(
            decode_transcription(&bad_format, CT)
                .unwrap_err()
                .param
                .as_deref(),
            Some("response_format")
        );
        assert!(decode_transcription(b"{}", "application/json").is_err());
        assert!(parse_multipart(b"garbage", CT).is_err());
    }

    #[test]
    fn transcription_usage_and_duration() {
        let t = parse_transcription_response(
            TranscriptionFormat::VerboseJson,
            br#"{"task":"transcribe","language":"english","duration":8.47,"text":"hi","segments":[],"usage":{"type":"duration","seconds":9}}"#,
        )
        .unwrap();
        assert_eq!(t.audio_ms(), Some(8470));
        assert_eq!(t.text.as_deref(), Some("hi"));
        assert_eq!(t.tokens(), None);
        let t = parse_transcription_response(
            TranscriptionFormat::Json,
            br#"{"text":"hi","usage":{"type":"duration","seconds":3}}"#,
        )
        .unwrap();
        assert_eq!(t.audio_ms(), Some(3000));
        let t = parse_transcription_response(
            TranscriptionFormat::Json,
            br#"{"text":"hi","usage":{"type":"tokens","input_tokens":14,"input_token_details":{"text_tokens":0,"audio_tokens":14},"output_tokens":45,"total_tokens":59}}"#,
        )
        .unwrap();
        assert_eq!(t.tokens(), Some((14, 45)));
        assert_eq!(
            t.usage,
            Some(TranscriptionUsage::Tokens {
                input_tokens: 14,
                output_tokens: 45,
                audio_tokens: Some(14),
                text_tokens: Some(0)
            })
        );
        assert_eq!(t.audio_ms(), None);
        let t = parse_transcription_response(TranscriptionFormat::Text, b"hello\n").unwrap();
        assert_eq!(t, Transcription::default());
        assert!(parse_transcription_response(TranscriptionFormat::Json, b"nope").is_err());
    }

    #[test]
    fn speech() {
        let r = decode_speech_request(
            &serde_json::to_vec(&json!({"model": "public-tts", "input": "héllo", "voice": "alloy", "response_format": "wav", "speed": 1.5, "instructions": "calm", "stream_format": "audio", "drop_params": true})).unwrap(),
        )
        .unwrap();
        assert_eq!(r.characters(), 5);
        assert_eq!(r.content_type(), "audio/wav");
        let t = target("https://api.openai.com/v1", Some("sk"), "gpt-4o-mini-tts");
        let up = build_speech_request(MediaWire::OpenAi, &r, &t).unwrap();
        assert_eq!(up.url, "https://api.openai.com/v1/audio/speech");
        let body: Value = serde_json::from_slice(&up.body).unwrap();
        assert_eq!(
            body,
            json!({"model": "gpt-4o-mini-tts", "input": "héllo", "voice": "alloy", "response_format": "wav", "speed": 1.5, "instructions": "calm", "stream_format": "audio"})
        );
        let up = build_speech_request(
            MediaWire::Azure {
                api_version: "2025-03-01-preview",
                bearer: true,
            },
            &r,
            &target("https://r.openai.azure.com", Some("tok"), "tts"),
        )
        .unwrap();
        assert_eq!(
            up.url,
            "https://r.openai.azure.com/openai/deployments/tts/audio/speech?api-version=2025-03-01-preview"
        );
        assert_eq!(up.headers["authorization"], "Bearer tok");
        assert!(build_speech_request(MediaWire::Gemini, &r, &t).is_err());
        let d = decode_speech_request(br#"{"model":"m","input":"x","voice":{"id":"voice_1"}}"#)
            .unwrap();
        assert_eq!(d.content_type(), "audio/mpeg");
        for (b, param) in [
            (json!({"model": "m", "voice": "alloy"}), "input"),
            (json!({"model": "m", "input": "x"}), "voice"),
            (json!({"model": "m", "input": "x", "voice": 3}), "voice"),
            (
                json!({"model": "m", "input": "x", "voice": "a", "response_format": "ogg"}),
                "response_format",
            ),
            (
                json!({"model": "m", "input": "x", "voice": "a", "speed": 9}),
                "speed",
            ),
            (json!({"input": "x", "voice": "a"}), "model"),
        ] {
            let e = decode_speech_request(&serde_json::to_vec(&b).unwrap()).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{b}");
        }
    }
}
