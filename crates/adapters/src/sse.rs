//! Server-sent events framing, incremental and mostly copy-free.
//!
//! Upstream bodies arrive in arbitrary chunks. [`SseSplitter`] cuts them into whole
//! events; when an event lies inside one chunk (the usual case) it is handed out as a
//! slice of that chunk's `Bytes`, so relaying a stream copies nothing. Only an event
//! split across chunks is copied, into a small carry buffer.

use bytes::{Bytes, BytesMut};
use std::borrow::Cow;

#[derive(Default)]
pub struct SseSplitter {
    carry: BytesMut,
}

impl SseSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one chunk; appends every event it completes (terminator included) to `out`.
    pub fn push(&mut self, chunk: Bytes, out: &mut Vec<Bytes>) {
        if self.carry.is_empty() {
            let mut start = 0;
            for end in event_ends(&chunk, 0) {
                out.push(chunk.slice(start..end));
                start = end;
            }
            if start < chunk.len() {
                self.carry.extend_from_slice(&chunk[start..]);
            }
        } else {
            // Only the new bytes (and the last two carried ones) can hold a new boundary.
            let scan_from = self.carry.len().saturating_sub(2);
            self.carry.extend_from_slice(&chunk);
            let ends: Vec<usize> = event_ends(&self.carry, scan_from).collect();
            let mut taken = 0;
            for end in ends {
                out.push(self.carry.split_to(end - taken).freeze());
                taken = end;
            }
        }
    }

    /// Bytes of an event that never got its blank line (the body ended mid-event).
    pub fn take_rest(&mut self) -> Option<Bytes> {
        (!self.carry.is_empty()).then(|| self.carry.split().freeze())
    }

    pub fn has_partial(&self) -> bool {
        !self.carry.is_empty()
    }
}

/// End offsets (exclusive) of the events completed in `buf`, scanning from `from`.
/// An event ends at a blank line: `\n\n`, `\n\r\n` (CRLF streams) or `\r\r`.
fn event_ends(buf: &[u8], from: usize) -> impl Iterator<Item = usize> + '_ {
    let mut i = from;
    std::iter::from_fn(move || {
        while i < buf.len() {
            let at = i;
            let b = buf[at];
            i += 1;
            if b == b'\n' {
                if at >= 1 && buf[at - 1] == b'\n' {
                    return Some(at + 1);
                }
                if at >= 2 && buf[at - 1] == b'\r' && buf[at - 2] == b'\n' {
                    return Some(at + 1);
                }
            } else if b == b'\r'
                && at >= 1
                && buf[at - 1] == b'\r'
                && buf.get(at + 1) != Some(&b'\n')
            {
                return Some(at + 1);
            }
        }
        None
    })
}

/// One parsed event.
#[derive(Debug, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `event:` name, if any.
    pub event: Option<&'a str>,
    /// The `data:` lines joined by `\n` (borrowed when there is one line).
    pub data: Cow<'a, [u8]>,
}

impl SseEvent<'_> {
    pub fn is_done(&self) -> bool {
        self.data.as_ref() == b"[DONE]"
    }
}

/// Parses a raw event (as cut by [`SseSplitter`]).
///
/// A body that is not SSE at all but bare JSON (Gemini writes an error in the middle
/// of an `alt=sse` stream as a pretty-printed `{"error": …}` object, with no `data:`
/// prefix) is handed out whole as `data`, still borrowed (see `bare_json`).
pub fn parse_event(raw: &[u8]) -> SseEvent<'_> {
    if let Some(json) = bare_json(raw) {
        return SseEvent {
            event: None,
            data: Cow::Borrowed(json),
        };
    }
    let mut event = None;
    let mut data: Option<Cow<[u8]>> = None;
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || line[0] == b':' {
            continue;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(p) => {
                let v = &line[p + 1..];
                (&line[..p], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                data = Some(match data {
                    None => Cow::Borrowed(value),
                    Some(prev) => {
                        let mut joined = prev.into_owned();
                        joined.push(b'\n');
                        joined.extend_from_slice(value);
                        Cow::Owned(joined)
                    }
                });
            }
            b"event" => event = std::str::from_utf8(value).ok(),
            _ => {}
        }
    }
    SseEvent {
        event,
        data: data.unwrap_or(Cow::Borrowed(&b""[..])),
    }
}

/// The event as bare JSON, when it is one: its first non-blank byte opens a JSON
/// object or array. No SSE field name starts with `{` or `[` (and a server sending
/// SSE never starts a line with one), so real events are never taken for JSON.
fn bare_json(raw: &[u8]) -> Option<&[u8]> {
    let start = raw.iter().position(|b| !b.is_ascii_whitespace())?;
    if !matches!(raw.get(start), Some(b'{' | b'[')) {
        return None;
    }
    let end = raw.iter().rposition(|b| !b.is_ascii_whitespace())?;
    raw.get(start..=end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = SseSplitter::new();
        let mut out = Vec::new();
        for c in chunks {
            s.push(Bytes::copy_from_slice(c), &mut out);
        }
        out.into_iter().map(|b| b.to_vec()).collect()
    }

    #[test]
    fn whole_events_in_one_chunk() {
        let ev = split_all(&[b"data: {\"a\":1}\n\ndata: [DONE]\n\n"]);
        assert_eq!(
            ev,
            vec![
                b"data: {\"a\":1}\n\n".to_vec(),
                b"data: [DONE]\n\n".to_vec()
            ]
        );
    }

    #[test]
    fn events_split_across_chunks_at_every_offset() {
        let body = b"event: x\ndata: {\"a\":1}\n\ndata: b\r\n\r\ndata: c\n\n";
        for cut in 0..body.len() {
            let ev = split_all(&[&body[..cut], &body[cut..]]);
            assert_eq!(ev.len(), 3, "cut at {cut}");
            assert_eq!(ev.concat(), body.to_vec());
        }
        // and byte by byte
        let singles: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(split_all(&singles).len(), 3);
    }

    #[test]
    fn partial_tail_is_kept() {
        let mut s = SseSplitter::new();
        let mut out = Vec::new();
        s.push(Bytes::from_static(b"data: 1\n\ndata: 2"), &mut out);
        assert_eq!(out.len(), 1);
        assert!(s.has_partial());
        assert_eq!(s.take_rest().unwrap().as_ref(), b"data: 2");
    }

    #[test]
    fn parses_fields() {
        let e = parse_event(b"event: message_start\ndata: {\"x\":1}\n\n");
        assert_eq!(e.event, Some("message_start"));
        assert_eq!(e.data.as_ref(), b"{\"x\":1}");
        assert!(matches!(e.data, Cow::Borrowed(_)));
        let multi = parse_event(b": comment\ndata: a\ndata: b\n\n");
        assert_eq!(multi.data.as_ref(), b"a\nb");
        assert!(parse_event(b"data: [DONE]\r\n\r\n").is_done());
        assert_eq!(parse_event(b"data:x\n\n").data.as_ref(), b"x");
    }

    #[test]
    fn bare_json_is_data() {
        let raw = b"{\n  \"error\": {\n    \"code\": 503\n  }\n}\n";
        let e = parse_event(raw);
        assert_eq!(e.event, None);
        assert_eq!(e.data.as_ref(), &raw[..raw.len() - 1]);
        assert!(matches!(e.data, Cow::Borrowed(_)));
        let e = parse_event(b"\r\n[{\"error\": {}}]\r\n\r\n");
        assert_eq!(e.data.as_ref(), b"[{\"error\": {}}]");
        // Ordinary events, comments and unknown fields are unchanged.
        assert_eq!(parse_event(b"id: 3\n\n").data.as_ref(), b"");
        assert_eq!(parse_event(b": {not data}\n\n").data.as_ref(), b"");
        assert_eq!(parse_event(b"").data.as_ref(), b"");
        assert_eq!(parse_event(b"  \n").data.as_ref(), b"");
    }
}
