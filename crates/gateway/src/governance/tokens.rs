//! Prompt token estimates for budget reservations, with a real BPE tokenizer
//! (`o200k_base`, OpenAI's current encoding; other providers' tokenizers differ by a
//! few percent, which the reservation's worst case absorbs).

use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::LazyLock;

static BPE: LazyLock<Option<tiktoken_rs::CoreBPE>> =
    LazyLock::new(|| tiktoken_rs::o200k_base().ok());

/// Per-message framing overhead in OpenAI's accounting.
const PER_MESSAGE: u64 = 4;
/// What an image part is counted as (a high-detail 1024×1024 tile set is ~765).
const PER_IMAGE: u64 = 765;

#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(rename = "type", default)]
    kind: Option<&'a str>,
    #[serde(default)]
    text: Option<String>,
}

/// Tokens of a text (`o200k_base`; about four bytes a token without the tokenizer).
pub fn count(text: &str) -> u64 {
    match BPE.as_ref() {
        Some(bpe) => bpe.encode_ordinary(text).len() as u64,
        // Without the tokenizer, about four bytes a token.
        None => (text.len() as u64).div_ceil(4),
    }
}

/// Estimated prompt tokens of a raw `messages` array (and `tools`).
pub fn estimate_prompt(messages_raw: &str, tools_raw: Option<&str>) -> u64 {
    let mut total = 3;
    match serde_json::from_str::<Vec<Msg<'_>>>(messages_raw) {
        Ok(messages) => {
            for m in messages {
                total += PER_MESSAGE;
                if let Some(c) = m.content {
                    if let Ok(s) = serde_json::from_str::<String>(c.get()) {
                        total += count(&s);
                    } else if let Ok(parts) = serde_json::from_str::<Vec<Part>>(c.get()) {
                        for p in parts {
                            match (p.kind, p.text) {
                                (_, Some(t)) => total += count(&t),
                                (
                                    Some("image_url" | "image" | "input_image" | "document"),
                                    None,
                                ) => total += PER_IMAGE,
                                _ => total += count(c.get()) / 4,
                            }
                        }
                    }
                }
                if let Some(t) = m.tool_calls {
                    total += count(t.get());
                }
            }
        }
        Err(_) => total += count(messages_raw),
    }
    if let Some(t) = tools_raw {
        total += count(t);
    }
    total
}

/// Estimated tokens of a system prompt given apart from the messages (Anthropic's
/// `system`, the Responses API's `instructions`): a string or an array of text blocks.
pub fn estimate_system(raw: &str) -> u64 {
    if let Ok(s) = serde_json::from_str::<String>(raw) {
        return count(&s);
    }
    match serde_json::from_str::<Vec<Part>>(raw) {
        Ok(parts) => parts
            .into_iter()
            .filter_map(|p| p.text)
            .map(|t| count(&t))
            .sum(),
        Err(_) => count(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_text_parts_images_and_tools() {
        let one = estimate_prompt(r#"[{"role":"user","content":"Hello, world"}]"#, None);
        // "Hello, world" is 3 tokens in o200k_base, plus framing.
        assert_eq!(one, 3 + 4 + 3);
        let parts = estimate_prompt(
            r#"[{"role":"user","content":[{"type":"text","text":"Hello, world"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]"#,
            None,
        );
        assert_eq!(parts, one + PER_IMAGE);
        let with_tools = estimate_prompt(
            r#"[{"role":"user","content":"Hello, world"}]"#,
            Some(r#"[{"type":"function","function":{"name":"f"}}]"#),
        );
        assert!(with_tools > one);
        // Longer text, more tokens, roughly a quarter of the bytes.
        let long = "lorem ipsum dolor sit amet ".repeat(100);
        let n = estimate_prompt(&format!(r#"[{{"role":"user","content":"{long}"}}]"#), None);
        assert!((400..=1000).contains(&n), "{n}");
    }

    #[test]
    fn counts_anthropic_images_and_system_prompts() {
        let one = estimate_prompt(r#"[{"role":"user","content":"Hello, world"}]"#, None);
        let image = estimate_prompt(
            r#"[{"role":"user","content":[{"type":"text","text":"Hello, world"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}]"#,
            None,
        );
        assert_eq!(image, one + PER_IMAGE);
        assert_eq!(estimate_system(r#""Hello, world""#), 3);
        assert_eq!(
            estimate_system(
                r#"[{"type":"text","text":"Hello, world"},{"type":"text","text":"Hello, world"}]"#
            ),
            6
        );
    }
}
