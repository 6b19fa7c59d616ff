//! Tiny allocation-free JSON writing helpers for the hot path.

use std::io::Write as _;

use crate::content::Usage;

/// Append `s` as a JSON string literal (with quotes).
pub(crate) fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 0xf)]);
        } else {
            buf.extend_from_slice(esc);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// Append a decimal integer.
pub(crate) fn push_u64(buf: &mut Vec<u8>, n: u64) {
    // Writing into a Vec cannot fail.
    let _ = write!(buf, "{n}");
}

/// Append the full OpenAI `usage` object.
pub(crate) fn push_usage(buf: &mut Vec<u8>, u: &Usage) {
    buf.extend_from_slice(b"{\"prompt_tokens\":");
    push_u64(buf, u.prompt);
    buf.extend_from_slice(b",\"completion_tokens\":");
    push_u64(buf, u.completion);
    buf.extend_from_slice(b",\"total_tokens\":");
    push_u64(buf, u.prompt.saturating_add(u.completion));
    buf.extend_from_slice(b",\"prompt_tokens_details\":{\"cached_tokens\":");
    push_u64(buf, u.cached);
    buf.extend_from_slice(
        b",\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":",
    );
    push_u64(buf, u.reasoning);
    buf.extend_from_slice(
        b",\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}",
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_serde() {
        for s in [
            "plain",
            "q\"uote\\",
            "line\nbreak\t\r",
            "ctl\u{1}\u{1f}",
            "ünï😀",
        ] {
            let mut buf = Vec::new();
            push_json_str(&mut buf, s);
            let back: String = serde_json::from_slice(&buf).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn usage_is_valid_json() {
        let mut buf = Vec::new();
        let u = Usage {
            prompt: 3,
            completion: 4,
            reasoning: 2,
            cached: 1,
        };
        push_usage(&mut buf, &u);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["total_tokens"], 7);
        assert_eq!(v["prompt_tokens_details"]["cached_tokens"], 1);
        assert_eq!(v["completion_tokens_details"]["reasoning_tokens"], 2);
        assert_eq!(
            v["completion_tokens_details"]["rejected_prediction_tokens"],
            0
        );
    }
}
