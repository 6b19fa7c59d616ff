//! The same-format fast path: an OpenAI Chat Completions body bound for an
//! OpenAI-compatible upstream is not decoded into the canonical model. Its top-level
//! fields are indexed as raw JSON slices; `model` is replaced and, for streams,
//! `stream_options.include_usage` is forced on so the ledger always sees usage. Every
//! other field — known or not — is copied byte for byte.

use super::presets::Quirks;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A request error that names the offending field (OpenAI's `param`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub message: String,
    pub param: Option<String>,
}

impl RequestError {
    fn param(param: &str, message: impl Into<String>) -> Self {
        RequestError {
            message: message.into(),
            param: Some(param.to_string()),
        }
    }
}

/// The top-level fields of a chat request, values still raw.
pub struct ChatPeek<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
    pub model: Cow<'a, str>,
    pub stream: bool,
    /// The client asked for usage in the stream.
    pub include_usage: bool,
}

struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    fields.push((key, value));
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(serde::Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// Indexes a chat request body and checks the fields the gateway relies on.
pub fn peek(body: &[u8]) -> Result<ChatPeek<'_>, RequestError> {
    peek_with(body, true)
}

/// [`peek`] for a body whose conversation is not in `messages` (the Responses API's
/// `input`): only `model`, `stream` and `stream_options` are checked; the ingress's own
/// decoder validates the rest.
pub fn peek_object(body: &[u8]) -> Result<ChatPeek<'_>, RequestError> {
    peek_with(body, false)
}

fn peek_with(body: &[u8], chat: bool) -> Result<ChatPeek<'_>, RequestError> {
    let Fields(fields) = serde_json::from_slice(body).map_err(|e| RequestError {
        message: if e.classify() == serde_json::error::Category::Data {
            "the request body must be a JSON object".to_string()
        } else {
            format!("the request body is not valid JSON: {e}")
        },
        param: None,
    })?;
    // Later duplicates win, as in most JSON parsers.
    let get = |name: &str| {
        fields
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    };

    let model = match get("model") {
        None => {
            return Err(RequestError::param(
                "model",
                "you must provide a model parameter",
            ))
        }
        Some(raw) => match serde_json::from_str::<Cow<str>>(raw.get()) {
            Ok(m) if !m.trim().is_empty() => m,
            Ok(_) => return Err(RequestError::param("model", "`model` must not be empty")),
            Err(_) => return Err(RequestError::param("model", "`model` must be a string")),
        },
    };
    let messages = match get("messages") {
        Some(m) => Some(m),
        None if !chat => None,
        None => {
            return Err(RequestError::param(
                "messages",
                "missing required parameter: 'messages'",
            ))
        }
    };
    match messages.map(|m| m.get().trim_start().strip_prefix('[')) {
        None => {}
        Some(Some(rest)) if rest.trim_start().starts_with(']') => {
            return Err(RequestError::param(
                "messages",
                "'messages' must contain at least one message",
            ))
        }
        Some(Some(_)) => {}
        Some(None) => {
            return Err(RequestError::param(
                "messages",
                "'messages' must be an array of message objects",
            ))
        }
    }
    let stream = match get("stream").map(|r| r.get()) {
        None | Some("null") | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(RequestError::param("stream", "`stream` must be a boolean")),
    };
    let include_usage = match get("stream_options") {
        None => false,
        Some(raw) if raw.get() == "null" => false,
        Some(raw) => match serde_json::from_str::<StreamOptions>(raw.get()) {
            Ok(o) => o.include_usage.unwrap_or(false),
            Err(_) => {
                return Err(RequestError::param(
                    "stream_options",
                    "`stream_options` must be an object like {\"include_usage\": true}",
                ))
            }
        },
    };
    Ok(ChatPeek {
        fields,
        model,
        stream,
        include_usage,
    })
}

impl ChatPeek<'_> {
    /// The raw JSON of a top-level field.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.get())
    }

    /// Writes the upstream body: `model` replaced, and for streams usage requested.
    pub fn upstream_body(&self, upstream_model: &str) -> Vec<u8> {
        self.upstream_body_with(upstream_model, &Quirks::NONE)
    }

    /// Whether the client asked for unsupported parameters to be dropped.
    pub fn drop_params(&self) -> bool {
        self.raw("drop_params") == Some("true")
    }

    /// Refuses, by name, a field the host is known to reject (unless `drop_params`).
    pub fn check(&self, quirks: &Quirks, provider: &str) -> Result<(), RequestError> {
        if self.drop_params() {
            return Ok(());
        }
        for (key, value) in &self.fields {
            if value.get() != "null" && quirks.unsupported.contains(&key.as_ref()) {
                return Err(RequestError::param(
                    key,
                    format!(
                        "`{key}` is not supported by {provider}; remove it, or send \
                         \"drop_params\": true to have the gateway drop unsupported parameters"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// [`Self::upstream_body`] for a host with `quirks`: renamed fields renamed, rejected
    /// ones dropped, `stream_options` left out where the host rejects it, and the
    /// gateway's own `drop_params` never forwarded.
    pub fn upstream_body_with(&self, upstream_model: &str, quirks: &Quirks) -> Vec<u8> {
        let extra = upstream_model.len() + 48;
        let mut out = Vec::with_capacity(
            self.fields
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>()
                + extra,
        );
        out.push(b'{');
        let force_usage = self.stream && !self.include_usage && quirks.stream_options;
        let mut wrote_options = false;
        let mut first = true;
        for (key, value) in &self.fields {
            let key = key.as_ref();
            // The gateway's own fields: `drop_params`, and `models` (the request's
            // fallback order) are never forwarded.
            let skip = key == "drop_params"
                || key == "models"
                || quirks.unsupported.contains(&key)
                || (key == "stream_options" && !quirks.stream_options)
                // A field that another one is renamed onto gives way to it, as
                // `max_completion_tokens` supersedes `max_tokens` on OpenAI.
                || quirks
                    .rename
                    .iter()
                    .any(|(from, to)| *to == key && self.raw(from).is_some());
            if skip {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            let name = quirks
                .rename
                .iter()
                .find(|(from, _)| *from == key)
                .map_or(key, |(_, to)| to);
            write_json_string(&mut out, name);
            out.push(b':');
            match key {
                "model" => write_json_string(&mut out, upstream_model),
                "stream_options" if force_usage => {
                    wrote_options = true;
                    write_options_with_usage(&mut out, value.get());
                }
                _ => out.extend_from_slice(value.get().as_bytes()),
            }
        }
        if force_usage && !wrote_options {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(br#""stream_options":{"include_usage":true}"#);
        }
        out.push(b'}');
        out
    }
}

fn write_json_string(out: &mut Vec<u8>, s: &str) {
    // Serialising a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_options_with_usage(out: &mut Vec<u8>, raw: &str) {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw) {
        Ok(mut map) => {
            map.insert("include_usage".into(), serde_json::Value::Bool(true));
            let _ = serde_json::to_writer(&mut *out, &map);
        }
        // `null` (checked valid by `peek`): replace it.
        Err(_) => out.extend_from_slice(br#"{"include_usage":true}"#),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn rewrites_model_and_keeps_everything_else_byte_for_byte() {
        let raw = br#"{"model":"general","messages":[{"role":"user","content":"hi \u00e9"}],"temperature":0.70,"x_custom":{"deep":[1,2,3]},"n":1}"#;
        let p = peek(raw).unwrap();
        assert_eq!(p.model, "general");
        assert!(!p.stream);
        let out = String::from_utf8(p.upstream_body("gpt-4o-mini")).unwrap();
        assert_eq!(
            out,
            r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi \u00e9"}],"temperature":0.70,"x_custom":{"deep":[1,2,3]},"n":1}"#
        );
    }

    #[test]
    fn stream_forces_usage_and_keeps_other_options() {
        let b = body(json!({"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}));
        let p = peek(&b).unwrap();
        assert!(p.stream && !p.include_usage);
        let out: Value = serde_json::from_slice(&p.upstream_body("up")).unwrap();
        assert_eq!(out["stream_options"], json!({"include_usage": true}));
        assert_eq!(out["model"], "up");

        let b = body(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_obfuscation":false}}),
        );
        let p = peek(&b).unwrap();
        let out: Value = serde_json::from_slice(&p.upstream_body("up")).unwrap();
        assert_eq!(
            out["stream_options"],
            json!({"include_obfuscation": false, "include_usage": true})
        );

        let b = body(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}),
        );
        let p = peek(&b).unwrap();
        assert!(p.include_usage);
        let out: Value = serde_json::from_slice(&p.upstream_body("up")).unwrap();
        assert_eq!(out["stream_options"], json!({"include_usage": true}));
    }

    #[test]
    fn non_stream_does_not_touch_stream_options() {
        let b = body(json!({"model":"m","messages":[{"role":"user","content":"x"}]}));
        let p = peek(&b).unwrap();
        let out: Value = serde_json::from_slice(&p.upstream_body("up")).unwrap();
        assert!(out.get("stream_options").is_none());
    }

    #[test]
    fn errors_name_the_field() {
        let cases: Vec<(&[u8], Option<&str>)> = vec![
            (b"{not json", None),
            (b"[1,2]", None),
            (
                br#"{"messages":[{"role":"user","content":"x"}]}"#,
                Some("model"),
            ),
            (
                br#"{"model":5,"messages":[{"role":"user","content":"x"}]}"#,
                Some("model"),
            ),
            (br#"{"model":"m"}"#, Some("messages")),
            (br#"{"model":"m","messages":"hi"}"#, Some("messages")),
            (br#"{"model":"m","messages":[]}"#, Some("messages")),
            (
                br#"{"model":"m","messages":[{}],"stream":"yes"}"#,
                Some("stream"),
            ),
            (
                br#"{"model":"m","messages":[{}],"stream_options":7}"#,
                Some("stream_options"),
            ),
        ];
        for (raw, param) in cases {
            let err = peek(raw)
                .err()
                .unwrap_or_else(|| panic!("accepted {}", String::from_utf8_lossy(raw)));
            assert_eq!(err.param.as_deref(), param, "{}", err.message);
        }
        assert!(peek(b"{not json")
            .err()
            .unwrap()
            .message
            .contains("not valid JSON"));
    }

    #[test]
    fn quirks_rename_drop_and_refuse() {
        let mistral = crate::openai::presets::preset("mistral").unwrap().quirks;
        let b = body(json!({
            "model": "m", "messages": [{"role": "user", "content": "x"}], "stream": true,
            "seed": 7, "max_tokens": 5, "max_completion_tokens": 9,
            "stream_options": {"include_usage": true}, "drop_params": false
        }));
        let p = peek(&b).unwrap();
        assert!(p.check(&mistral, "Mistral").is_ok());
        let out: Value = serde_json::from_slice(&p.upstream_body_with("up", &mistral)).unwrap();
        assert_eq!(
            out,
            json!({"model": "up", "messages": [{"role": "user", "content": "x"}], "stream": true,
                   "random_seed": 7, "max_tokens": 9})
        );

        let b = body(json!({"model": "m", "messages": [1], "logit_bias": {"1": 2}}));
        let p = peek(&b).unwrap();
        let e = p.check(&mistral, "Mistral").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("logit_bias"));
        assert!(e.message.contains("drop_params"));
        let b = body(
            json!({"model": "m", "messages": [1], "logit_bias": {"1": 2}, "drop_params": true}),
        );
        let p = peek(&b).unwrap();
        assert!(p.check(&mistral, "Mistral").is_ok());
        let out: Value = serde_json::from_slice(&p.upstream_body_with("up", &mistral)).unwrap();
        assert_eq!(out, json!({"model": "up", "messages": [1]}));
        // OpenAI never sees the gateway's own switch either.
        let out: Value = serde_json::from_slice(&p.upstream_body("up")).unwrap();
        assert!(out.get("drop_params").is_none());
    }

    #[test]
    fn escaped_keys_survive() {
        let p = peek(br#"{"model":"m","messages":[1],"we\"ird":true}"#).unwrap();
        let out: Value = serde_json::from_slice(&p.upstream_body("u")).unwrap();
        assert_eq!(out["we\"ird"], true);
    }
}
