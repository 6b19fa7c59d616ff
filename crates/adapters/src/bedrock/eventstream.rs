//! The binary `application/vnd.amazon.eventstream` framing of ConverseStream, decoded
//! incrementally.
//!
//! A frame is a 12-byte prelude (total length, headers length, prelude CRC32), typed
//! headers, a payload and a message CRC32, all big-endian. Bedrock sends string headers
//! `:message-type` (`event`, `exception`, or the framework's `error`), `:event-type` /
//! `:exception-type` (or `:error-code` / `:error-message`) and `:content-type`.
//!
//! The incremental part (buffering across body chunks, length bounds) is ours; checking
//! both CRCs and parsing the headers is `aws-smithy-eventstream`'s
//! [`read_message_from`], applied to each complete frame. Its own `MessageFrameDecoder`
//! is not used because it has no length bound (a corrupt prelude would make it wait for
//! up to 4 GiB) and needs every chunk copied into one buffer; here whole frames are cut
//! out of a body chunk without copying, and only a frame split across chunks is
//! gathered. The prelude CRC is checked, with the message CRC, once the whole frame is
//! in: a corrupt length field is caught by the bounds at once, or by the prelude CRC
//! when the (wrong) number of bytes has arrived, or, if the body ends first, shows as
//! [`FrameDecoder::has_partial`].

use crate::adapter::StreamEvent;
use aws_smithy_eventstream::frame::{read_message_from, write_message_to};
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Bytes, BytesMut};

/// Frames longer than this are refused (Bedrock's events are a few hundred bytes).
pub const MAX_FRAME_LEN: u32 = 16 * 1024 * 1024;
/// The prelude and the message CRC: the smallest possible frame.
const MIN_FRAME_LEN: u32 = 16;

/// Why the byte stream is not a valid event stream. Fatal: frames carry no sync
/// marker, so a stream cannot be resumed after one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error(
        "event stream frame length {0} is out of bounds ({MIN_FRAME_LEN} bytes to {MAX_FRAME_LEN})"
    )]
    Length(u32),
    /// A CRC mismatch or malformed headers, as `aws-smithy-eventstream` reported it.
    #[error("invalid event stream frame: {0}")]
    Invalid(String),
    #[error("event stream frame lacks the string header `{0}`")]
    MissingHeader(&'static str),
}

impl From<FrameError> for crate::error::UpstreamError {
    /// A broken stream is the provider's failure (retryable, as a dropped connection is).
    fn from(e: FrameError) -> Self {
        crate::error::UpstreamError::new(crate::error::ErrorClass::Server, None, e.to_string())
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// `event`, `exception` or `error`.
    pub message_type: String,
    /// `:event-type`; for exceptions `:exception-type`; for errors `:error-code`.
    pub event_type: String,
    /// The JSON payload. For `error` messages (whose text is in a header, not the
    /// payload) it is `{"message": <:error-message>}`, the shape exceptions have, so
    /// the stream decoder reads both alike.
    pub payload: Bytes,
}

impl Frame {
    /// The frame as the stream decoder takes it.
    pub fn as_stream_event(&self) -> StreamEvent<'_> {
        StreamEvent::Frame {
            event_type: &self.event_type,
            payload: &self.payload,
        }
    }
}

/// Cuts a response body, arriving in chunks of any size, into frames.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    /// The start of a frame whose end has not arrived yet.
    partial: BytesMut,
    /// Set by the first error; every later push repeats it.
    failed: Option<FrameError>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one body chunk and appends every frame it completes to `out`, in order.
    /// On error, frames completed before the bad one are still in `out`.
    pub fn push(&mut self, chunk: Bytes, out: &mut Vec<Frame>) -> Result<(), FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = if self.partial.is_empty() {
            // The common case: cut whole frames out of the chunk itself, no copy.
            let mut rest = chunk;
            let r = drain(&mut rest, out);
            if r.is_ok() && !rest.is_empty() {
                self.partial.extend_from_slice(&rest);
            }
            r
        } else {
            self.partial.extend_from_slice(&chunk);
            drain(&mut self.partial, out)
        };
        if let Err(e) = &result {
            self.partial.clear();
            self.failed = Some(e.clone());
        }
        result
    }

    /// Whether bytes of an unfinished frame are held: at the end of the body this
    /// means the stream was cut off.
    pub fn has_partial(&self) -> bool {
        !self.partial.is_empty()
    }
}

/// A buffer whole frames can be split off the front of.
trait FrameSource {
    fn available(&self) -> &[u8];
    fn split_frame(&mut self, len: usize) -> Bytes;
}

impl FrameSource for Bytes {
    fn available(&self) -> &[u8] {
        self
    }
    fn split_frame(&mut self, len: usize) -> Bytes {
        self.split_to(len)
    }
}

impl FrameSource for BytesMut {
    fn available(&self) -> &[u8] {
        self
    }
    fn split_frame(&mut self, len: usize) -> Bytes {
        self.split_to(len).freeze()
    }
}

/// Decodes every complete frame at the front of `src`, leaving an incomplete tail.
fn drain(src: &mut impl FrameSource, out: &mut Vec<Frame>) -> Result<(), FrameError> {
    loop {
        let Some(total) = src
            .available()
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
        else {
            return Ok(());
        };
        if !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&total) {
            return Err(FrameError::Length(total));
        }
        // Lossless: `total` is at most 16 MiB.
        let total = total as usize;
        if src.available().len() < total {
            return Ok(());
        }
        out.push(decode_frame(src.split_frame(total))?);
    }
}

/// Checks one complete frame's CRCs and reads its headers.
fn decode_frame(frame: Bytes) -> Result<Frame, FrameError> {
    let message = read_message_from(frame).map_err(|e| FrameError::Invalid(e.to_string()))?;
    let header = |name: &str| {
        message
            .headers()
            .iter()
            .find(|h| h.name().as_str() == name)
            .and_then(|h| h.value().as_string().ok())
            .map(|s| s.as_str())
    };
    let message_type = header(":message-type").ok_or(FrameError::MissingHeader(":message-type"))?;
    let (event_type, payload) = match message_type {
        "event" => (
            header(":event-type").ok_or(FrameError::MissingHeader(":event-type"))?,
            message.payload().clone(),
        ),
        "exception" => (
            header(":exception-type").ok_or(FrameError::MissingHeader(":exception-type"))?,
            message.payload().clone(),
        ),
        "error" => {
            // The framework's own failure: its text is in headers. Without a code it
            // is still an error, and the decoder treats an unknown type with a
            // `message` as one.
            let text = header(":error-message").unwrap_or_default();
            let payload =
                serde_json::to_vec(&serde_json::json!({ "message": text })).unwrap_or_default();
            (
                header(":error-code").unwrap_or("error"),
                Bytes::from(payload),
            )
        }
        other => {
            return Err(FrameError::Invalid(format!(
                "unknown :message-type `{other}`"
            )))
        }
    };
    Ok(Frame {
        message_type: message_type.to_string(),
        event_type: event_type.to_string(),
        payload,
    })
}

fn string_header(name: &'static str, value: &str) -> Header {
    Header::new(name, HeaderValue::String(value.to_string().into()))
}

fn encode(headers: Vec<Header>, payload: &[u8]) -> Vec<u8> {
    let message = Message::new_from_parts(headers, Bytes::copy_from_slice(payload));
    let mut out = Vec::with_capacity(payload.len() + 128);
    if write_message_to(&message, &mut out).is_err() {
        out.clear();
    }
    out
}

/// One `event` frame as Bedrock writes it (for tests and the mock provider). Empty
/// if the frame cannot be written (an event type over 32 KiB).
pub fn encode_frame(event_type: &str, payload: &[u8]) -> Vec<u8> {
    encode(
        vec![
            string_header(":event-type", event_type),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "event"),
        ],
        payload,
    )
}

/// One `exception` frame (e.g. `throttlingException` with `{"message": ...}`).
pub fn encode_exception(exception_type: &str, payload: &[u8]) -> Vec<u8> {
    encode(
        vec![
            string_header(":exception-type", exception_type),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "exception"),
        ],
        payload,
    )
}

/// One framework `error` frame, whose code and text are headers.
pub fn encode_error(code: &str, message: &str) -> Vec<u8> {
    encode(
        vec![
            string_header(":error-code", code),
            string_header(":error-message", message),
            string_header(":message-type", "error"),
        ],
        b"",
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
        let mut d = FrameDecoder::new();
        let mut out = Vec::new();
        d.push(Bytes::copy_from_slice(bytes), &mut out)?;
        assert!(!d.has_partial());
        Ok(out)
    }

    #[test]
    fn round_trips_events_exceptions_and_errors() {
        let mut body = encode_frame("messageStart", br#"{"role":"assistant"}"#);
        body.extend(encode_exception(
            "throttlingException",
            br#"{"message":"slow"}"#,
        ));
        body.extend(encode_error("InternalFailure", "it \"broke\""));
        let frames = decode_all(&body).unwrap();
        assert_eq!(
            frames,
            vec![
                Frame {
                    message_type: "event".into(),
                    event_type: "messageStart".into(),
                    payload: Bytes::from_static(br#"{"role":"assistant"}"#),
                },
                Frame {
                    message_type: "exception".into(),
                    event_type: "throttlingException".into(),
                    payload: Bytes::from_static(br#"{"message":"slow"}"#),
                },
                Frame {
                    message_type: "error".into(),
                    event_type: "InternalFailure".into(),
                    payload: Bytes::from_static(br#"{"message":"it \"broke\""}"#),
                },
            ]
        );
        match frames[0].as_stream_event() {
            StreamEvent::Frame {
                event_type,
                payload,
            } => assert_eq!(
                (event_type, payload),
                ("messageStart", &br#"{"role":"assistant"}"#[..])
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reassembles_byte_by_byte() {
        let mut body = encode_frame("a", b"{}");
        let first = body.len();
        body.extend(encode_frame("b", b"[1]"));
        let mut d = FrameDecoder::new();
        let mut out = Vec::new();
        for (i, b) in body.iter().enumerate() {
            d.push(Bytes::copy_from_slice(&[*b]), &mut out).unwrap();
            let at_boundary = i + 1 == first || i + 1 == body.len();
            assert_eq!(d.has_partial(), !at_boundary, "at {i}");
        }
        let types: Vec<&str> = out.iter().map(|f| f.event_type.as_str()).collect();
        assert_eq!(types, ["a", "b"]);
        assert!(!d.has_partial());
    }

    #[test]
    fn bounds_and_crc_and_sticky_errors() {
        let mut d = FrameDecoder::new();
        let mut out = Vec::new();
        let huge = (MAX_FRAME_LEN + 1).to_be_bytes();
        assert_eq!(
            d.push(Bytes::copy_from_slice(&huge), &mut out),
            Err(FrameError::Length(MAX_FRAME_LEN + 1))
        );
        // Sticky: the stream cannot be resynchronised.
        assert!(d
            .push(Bytes::from(encode_frame("a", b"{}")), &mut out)
            .is_err());
        assert!(out.is_empty());

        let e = decode_all(&[0, 0, 0, 3]).unwrap_err();
        assert_eq!(e, FrameError::Length(3));
        let up = crate::error::UpstreamError::from(e);
        assert_eq!(up.class, crate::error::ErrorClass::Server);
        assert!(up.message.contains("length 3"), "{}", up.message);

        let mut bad = encode_frame("a", b"{}");
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(decode_all(&bad), Err(FrameError::Invalid(_))));

        let no_type = encode(vec![string_header(":event-type", "a")], b"{}");
        assert_eq!(
            decode_all(&no_type).unwrap_err(),
            FrameError::MissingHeader(":message-type")
        );
        let odd = encode(
            vec![string_header(":message-type", "initial-response")],
            b"{}",
        );
        assert!(matches!(decode_all(&odd), Err(FrameError::Invalid(_))));
    }

    #[test]
    fn frames_before_an_error_are_kept() {
        let mut body = encode_frame("a", b"{}");
        let mut bad = encode_frame("b", b"{}");
        bad[9] ^= 0x40;
        body.extend(bad);
        let mut d = FrameDecoder::new();
        let mut out = Vec::new();
        assert!(d.push(Bytes::from(body), &mut out).is_err());
        assert_eq!(out.len(), 1);
        assert!(!d.has_partial());
    }
}
