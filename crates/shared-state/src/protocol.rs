//! What goes over the wire: key names, the channel name, the pub/sub message format.
//!
//! Keys: `{namespace}:cooldown:{label}`, value = the cooldown's end as decimal unix
//! milliseconds, with a `PX` TTL equal to the time left. Channel: `{namespace}:cooldowns`.
//! Message: `{instance_id} {until_ms} {label}` where `until_ms == 0` means "cleared" and
//! the label is everything after the second space (so it may contain spaces itself).

use std::time::{SystemTime, UNIX_EPOCH};

/// Names derived from one namespace.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    key_prefix: String,
    channel: String,
    scan_pattern: String,
}

impl Names {
    pub(crate) fn new(namespace: &str) -> Self {
        let key_prefix = format!("{namespace}:cooldown:");
        let scan_pattern = format!("{}*", escape_glob(&key_prefix));
        Self {
            key_prefix,
            channel: format!("{namespace}:cooldowns"),
            scan_pattern,
        }
    }

    pub(crate) fn key(&self, label: &str) -> String {
        format!("{}{label}", self.key_prefix)
    }

    /// The label a key names, if the key is one of this namespace's cooldown keys and
    /// the label is valid UTF-8.
    pub(crate) fn label_of<'a>(&self, key: &'a [u8]) -> Option<&'a str> {
        let rest = key.strip_prefix(self.key_prefix.as_bytes())?;
        std::str::from_utf8(rest).ok()
    }

    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    /// A `SCAN ... MATCH` pattern for every cooldown key of the namespace (the namespace
    /// itself glob-escaped, so `*`, `?`, `[` in it match literally).
    pub(crate) fn scan_pattern(&self) -> &str {
        &self.scan_pattern
    }
}

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One pub/sub message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message<'a> {
    pub instance: &'a str,
    pub until_ms: u64,
    pub label: &'a str,
}

pub(crate) fn encode(instance: &str, until_ms: u64, label: &str) -> String {
    format!("{instance} {until_ms} {label}")
}

pub(crate) fn decode(payload: &[u8]) -> Option<Message<'_>> {
    let text = std::str::from_utf8(payload).ok()?;
    let (instance, rest) = text.split_once(' ')?;
    let (until, label) = rest.split_once(' ')?;
    if instance.is_empty() || label.is_empty() {
        return None;
    }
    let until_ms = parse_until(until.as_bytes())?;
    Some(Message {
        instance,
        until_ms,
        label,
    })
}

/// A stored key's value: decimal unix milliseconds.
pub(crate) fn parse_until(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// A random id for this process's instance: 128 bits as 32 hex digits.
pub(crate) fn new_instance_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The URL with any password replaced, fit for logs.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            if user.is_empty() {
                format!("{scheme}://***@{host}{path}")
            } else {
                format!("{scheme}://{user}:***@{host}{path}")
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_round_trips_labels_with_spaces_colons_and_slashes() {
        for label in [
            "plain",
            "provider/model:v1",
            "a b  c",
            " lead",
            "ünïcode/ü:1",
        ] {
            let wire = encode("abc123", 1_700_000_000_000, label);
            let msg = decode(wire.as_bytes()).unwrap();
            assert_eq!(
                msg,
                Message {
                    instance: "abc123",
                    until_ms: 1_700_000_000_000,
                    label
                }
            );
        }
        assert_eq!(decode(b"id 0 x").unwrap().until_ms, 0);
    }

    #[test]
    fn malformed_messages_are_rejected() {
        for bad in [
            &b""[..],
            b"id",
            b"id 12",
            b"id 12 ",
            b" 12 label",
            b"id -1 label",
            b"id +1 label",
            b"id 1x label",
            b"id 99999999999999999999999 label",
            b"\xff 1 label",
        ] {
            assert_eq!(decode(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn keys_and_labels() {
        let names = Names::new("sy-test");
        assert_eq!(
            names.key("provider/model:v1"),
            "sy-test:cooldown:provider/model:v1"
        );
        assert_eq!(names.channel(), "sy-test:cooldowns");
        assert_eq!(
            names.label_of(b"sy-test:cooldown:provider/model:v1 x"),
            Some("provider/model:v1 x")
        );
        assert_eq!(names.label_of(b"other:cooldown:x"), None);
        assert_eq!(names.label_of(b"sy-test:cooldown:\xff"), None);
        assert_eq!(names.scan_pattern(), "sy-test:cooldown:*");
        assert_eq!(
            Names::new("a*b[c]?\\").scan_pattern(),
            "a\\*b\\[c\\]\\?\\\\:cooldown:*"
        );
    }

    #[test]
    fn instance_ids_are_distinct_hex() {
        let a = new_instance_id();
        let b = new_instance_id();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redact_url("redis://:secret@h:1/0"), "redis://***@h:1/0");
        assert_eq!(
            redact_url("rediss://user:secret@h:1"),
            "rediss://user:***@h:1"
        );
        assert_eq!(redact_url("redis://user@h"), "redis://user:***@h");
        assert_eq!(
            redact_url("unix:///tmp/redis.sock"),
            "unix:///tmp/redis.sock"
        );
    }
}
