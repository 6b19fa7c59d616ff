//! Tool call ids that carry a Gemini thought signature through an OpenAI client.
//!
//! A `functionCall` part may come with a `thoughtSignature` that Gemini 3 requires
//! back, on that same part, when the conversation continues. An OpenAI client keeps
//! nothing of a tool call but its id, name and arguments, and sends the id back
//! verbatim (on the assistant message and on the tool result), so the signature
//! rides in the id:
//!
//! ```text
//! <base id>__thought__<signature in unpadded URL-safe base64>
//! ```
//!
//! The base id is the call's own `functionCall.id` when Gemini gave one, else a
//! generated `call_…`. The signature is re-encoded with the URL-safe alphabet and
//! no padding so that the whole id stays within `[A-Za-z0-9_-]`, which clients and
//! other providers accept in ids (Anthropic, for one, allows nothing else);
//! decoding restores the standard alphabet and padding, so a signature as Gemini
//! sends it (standard base64, padded) comes back byte for byte. The base id never
//! contains the marker (generated ones cannot; Gemini's are alphanumeric), so the
//! first marker is the split point whatever the signature holds.
//!
//! Ids grow by the signature's length (hundreds of bytes); a history sent on to an
//! OpenAI upstream (which caps ids at 40 characters) after a Gemini turn would need
//! those ids shortened by the client.

/// Separates the base id from the signature.
pub const SIGNATURE_MARKER: &str = "__thought__";

/// The id an OpenAI client sees for a call with `base` id and `signature`.
pub fn encode_call_id(base: &str, signature: Option<&str>) -> String {
    match signature.filter(|s| !s.is_empty()) {
        None => base.to_string(),
        Some(sig) => {
            let mut id = String::with_capacity(base.len() + SIGNATURE_MARKER.len() + sig.len());
            id.push_str(base);
            id.push_str(SIGNATURE_MARKER);
            id.extend(sig.chars().filter(|&c| c != '=').map(|c| match c {
                '+' => '-',
                '/' => '_',
                other => other,
            }));
            id
        }
    }
}

/// The base id and the signature (standard base64, padded) carried by `id`.
pub fn decode_call_id(id: &str) -> (&str, Option<String>) {
    let Some((base, encoded)) = id.split_once(SIGNATURE_MARKER) else {
        return (id, None);
    };
    if encoded.is_empty() {
        return (base, None);
    }
    let mut sig: String = encoded
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    let padding = (4 - sig.len() % 4) % 4;
    sig.extend(std::iter::repeat_n('=', padding));
    (base, Some(sig))
}

/// A generated base id: unique within a response (`k` counts its calls) and, through
/// the response id, across the turns of a conversation (a later turn's `call_0` must
/// not collide with an earlier one: some providers reject repeated tool call ids).
/// Underscores are left out of the response id so that no base id can hold the marker.
pub fn generated_call_id(response_id: &str, k: u32) -> String {
    let rid: String = response_id
        .chars()
        .filter(|&c| c.is_ascii_alphanumeric() || c == '-')
        .collect();
    if rid.is_empty() {
        format!("call_{k}")
    } else {
        format!("call_{rid}_{k}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_a_recorded_signature() {
        let sig = "EqUCCqICAb4+9vsh8Pd5taZVoPzSvjWWwzBrvhEQWBLCGa7IdY8FBMm7Z6dCKFU3Ft0la15gF7RaHe1NlPRygQec0bFwPDfMwGcUOMNiJiNIKxusCs4ejCZRuouNYQ4etEIt7CujEUHiILLfZXSJZYhs4UCrD2bLqPq0sE0lWgYJnzHkkKUOnMsA2hKffAhtF4DWn5INYj8pPssvch/2VpDFW2F9XSE04zLDzkIWF2eztJX50Y0lTehRZC3FW7fOrXCzGx+PwdataD6eXlF5O1zn+86XtmktOs2DEp4o1PMvXFFAXe8GGvPt8Idf3UtHMq7AsapwMW9sjiKj+FJk54m+9LMTSaj7C86smfvoQryYBEHTVazr1bEnpl4bPG5JUtm2yAMkHj4=";
        let id = encode_call_id("call_x_0", Some(sig));
        assert!(id.starts_with("call_x_0__thought__EqUCCqICAb4-9vsh"));
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        assert_eq!(decode_call_id(&id), ("call_x_0", Some(sig.to_string())));
    }

    #[test]
    fn every_padding_length_round_trips() {
        for sig in ["QQ==", "QUI=", "QUJD", "+/+/", "a_b-"] {
            let id = encode_call_id("b", Some(sig));
            let (base, back) = decode_call_id(&id);
            assert_eq!(base, "b");
            // URL-safe input comes back in the standard alphabet: the same bytes.
            let want = sig.replace('_', "/").replace('-', "+");
            assert_eq!(back.as_deref(), Some(want.as_str()), "{sig}");
        }
    }

    #[test]
    fn plain_ids_pass_through() {
        assert_eq!(encode_call_id("call_1", None), "call_1");
        assert_eq!(encode_call_id("call_1", Some("")), "call_1");
        assert_eq!(decode_call_id("toolu_01abc"), ("toolu_01abc", None));
        assert_eq!(decode_call_id("a__thought__"), ("a", None));
        // Only the first marker splits: the signature may contain anything.
        assert_eq!(
            decode_call_id("a__thought__x__thought__y"),
            ("a", Some("x//thought//y===".to_string()))
        );
    }

    #[test]
    fn generated_ids() {
        assert_eq!(generated_call_id("", 0), "call_0");
        assert_eq!(generated_call_id("b36L-ac_j", 2), "call_b36L-acj_2");
        assert!(!generated_call_id("x", 1).contains(SIGNATURE_MARKER));
    }
}
