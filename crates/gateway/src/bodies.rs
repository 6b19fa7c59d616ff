//! Request and response bodies kept in the ledger, when enabled (`ledger.bodies`,
//! per model `log_bodies`, or a key whose metadata says `"log_bodies": true`): capped
//! at `ledger.body_max_bytes`, with the values of the `ledger.redact` field names
//! replaced by `[redacted]` wherever they appear in a JSON body.

use serde_json::Value;

#[derive(Debug, Clone, Default)]
pub struct BodySettings {
    /// Every request's bodies.
    pub all: bool,
    pub max_bytes: usize,
    pub redact: Vec<String>,
}

impl BodySettings {
    pub fn from_config(c: &switchyard_config::LedgerConfig) -> Self {
        BodySettings {
            all: c.bodies.unwrap_or(false),
            max_bytes: usize::try_from(c.body_max_bytes()).unwrap_or(usize::MAX),
            redact: c.redact.clone(),
        }
    }

    /// A body as stored: redacted when it is JSON, then cut to the cap.
    pub fn render(&self, body: &[u8]) -> String {
        let text = if self.redact.is_empty() {
            String::from_utf8_lossy(body).into_owned()
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(mut v) => {
                    redact(&mut v, &self.redact);
                    v.to_string()
                }
                Err(_) => String::from_utf8_lossy(body).into_owned(),
            }
        };
        cut(text, self.max_bytes)
    }
}

fn redact(v: &mut Value, names: &[String]) {
    match v {
        Value::Object(o) => {
            for (k, val) in o.iter_mut() {
                if names.iter().any(|n| n == k) {
                    *val = Value::String("[redacted]".into());
                } else {
                    redact(val, names);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redact(x, names)),
        _ => {}
    }
}

/// Cuts `s` to at most `max` bytes at a character boundary, marking the cut.
pub fn cut(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str("…[truncated]");
    s
}

/// Collects a streamed body up to a cap, as it is written to the client.
#[derive(Debug, Default)]
pub struct Capture {
    buf: Vec<u8>,
    max: usize,
    cut: bool,
}

impl Capture {
    pub fn new(max: usize) -> Self {
        Capture {
            buf: Vec::new(),
            max,
            cut: false,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        let room = self.max.saturating_sub(self.buf.len());
        if bytes.len() > room {
            self.cut = true;
        }
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    pub fn finish(self) -> String {
        let mut s = String::from_utf8_lossy(&self.buf).into_owned();
        if self.cut {
            s.push_str("…[truncated]");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_named_fields_anywhere_and_caps() {
        let s = BodySettings {
            all: true,
            max_bytes: 1000,
            redact: vec!["content".into(), "api_key".into()],
        };
        let out = s.render(
            br#"{"model":"m","messages":[{"role":"user","content":"secret"}],"x":{"api_key":"k"}}"#,
        );
        assert!(!out.contains("secret") && !out.contains("\"k\""), "{out}");
        assert!(out.contains("[redacted]") && out.contains("\"model\":\"m\""));
        assert_eq!(cut("héllo".into(), 2), "h…[truncated]");
        let mut c = Capture::new(5);
        c.push(b"abc");
        c.push(b"defg");
        assert_eq!(c.finish(), "abcde…[truncated]");
    }
}
