//! What a provider can and cannot honour of a canonical request.
//!
//! A parameter a provider has no equivalent for is refused with a 400 that names it
//! (`param`), so a client never silently gets something other than what it asked for,
//! unless the request opted into dropping such parameters (`drop_params`). Every
//! non-OpenAI adapter passes its request through these checks before encoding.

use crate::adapter::AdapterError;
use crate::canonical::ChatRequest;

/// The error for a parameter `provider` cannot honour.
pub fn unsupported(param: &str, provider: &str, why: &str) -> AdapterError {
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({why})")
    };
    AdapterError::Unsupported {
        param: param.to_string(),
        message: format!(
            "`{param}` is not supported by {provider}{why}; remove it, or send \
             \"drop_params\": true to have the gateway drop unsupported parameters"
        ),
    }
}

/// Refuses `param` unless the request opted into dropping it. `Ok(())` means
/// "drop it and go on".
pub fn refuse(
    req: &ChatRequest,
    param: &str,
    provider: &str,
    why: &str,
) -> Result<(), AdapterError> {
    if req.drop_params {
        Ok(())
    } else {
        Err(unsupported(param, provider, why))
    }
}

/// Checks the top-level fields the canonical model does not know (`extra`): those in
/// `known` are the adapter's to read; any other is refused by name (or dropped).
pub fn check_extra(req: &ChatRequest, known: &[&str], provider: &str) -> Result<(), AdapterError> {
    if req.drop_params {
        return Ok(());
    }
    for key in req.extra.keys() {
        if !known.contains(&key.as_str()) {
            return Err(unsupported(key, provider, ""));
        }
    }
    Ok(())
}

/// Checks the message-level fields the canonical model does not know.
pub fn check_message_extra(req: &ChatRequest, provider: &str) -> Result<(), AdapterError> {
    if req.drop_params {
        return Ok(());
    }
    for (i, m) in req.messages.iter().enumerate() {
        if let Some(key) = m.extra.keys().next() {
            return Err(unsupported(&format!("messages[{i}].{key}"), provider, ""));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::canonical::{Message, Role};
    use serde_json::json;

    #[test]
    fn refuses_by_name_unless_dropping() {
        let mut req = ChatRequest::default();
        req.extra.insert("logit_bias".into(), json!({}));
        req.extra.insert("top_k".into(), json!(3));
        let e = check_extra(&req, &["top_k"], "Anthropic").unwrap_err();
        match e {
            AdapterError::Unsupported { param, message } => {
                assert_eq!(param, "logit_bias");
                assert!(message.contains("Anthropic") && message.contains("drop_params"));
            }
            other => panic!("{other:?}"),
        }
        assert!(refuse(&req, "n", "Anthropic", "one choice only").is_err());
        req.drop_params = true;
        assert!(check_extra(&req, &[], "Anthropic").is_ok());
        assert!(refuse(&req, "n", "Anthropic", "").is_ok());
    }

    #[test]
    fn names_the_message_field() {
        let mut m = Message::text(Role::Assistant, "x");
        m.extra.insert("audio".into(), json!({"id": "a"}));
        let req = ChatRequest {
            messages: vec![Message::text(Role::User, "u"), m],
            ..ChatRequest::default()
        };
        match check_message_extra(&req, "Gemini").unwrap_err() {
            AdapterError::Unsupported { param, .. } => assert_eq!(param, "messages[1].audio"),
            other => panic!("{other:?}"),
        }
    }
}
