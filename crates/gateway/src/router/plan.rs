//! What a request may fall back to, and where conditional routing sends it.
//!
//! The attempt loop (`routes::chat`) works through one public model's pool (with
//! retries), then, by the failure's reason, the model's `fallbacks` in order (or the
//! order the request gave: `"models": [...]` in the body, `x-switchyard-fallbacks`),
//! never visiting a model twice, so fallback chains cannot loop.

use crate::catalog::{Catalog, Resolved};
use switchyard_adapters::ErrorClass;
use switchyard_config::{FallbackReason, RouteWhen};

/// The fallback reason of a failure; `None` for failures a fallback cannot fix
/// (the client's own request is wrong).
pub fn reason(class: ErrorClass) -> Option<FallbackReason> {
    Some(match class {
        ErrorClass::RateLimit => FallbackReason::RateLimit,
        ErrorClass::Server | ErrorClass::Connection => FallbackReason::ServerError,
        ErrorClass::Timeout => FallbackReason::Timeout,
        ErrorClass::ContextWindow => FallbackReason::ContextWindow,
        ErrorClass::ContentPolicy => FallbackReason::ContentPolicy,
        ErrorClass::BadRequest
        | ErrorClass::Auth
        | ErrorClass::PermissionDenied
        | ErrorClass::NotFound => return None,
    })
}

/// Whether a failure of class `class` may move to the request's own fallback list:
/// any failure of the provider's side (including its credentials or a model it does
/// not have), never the client's malformed request.
pub fn request_list_applies(class: ErrorClass) -> bool {
    class != ErrorClass::BadRequest
}

/// The next model after a failure of `model`: its configured fallbacks for that
/// reason, or the request's own list. `visited` holds the names tried so far.
pub fn next_model(
    catalog: &Catalog,
    current: &Resolved,
    class: ErrorClass,
    request_list: &[String],
    visited: &[String],
    allowed: &dyn Fn(&str) -> bool,
) -> Option<(String, Resolved)> {
    if !request_list.is_empty() {
        if !request_list_applies(class) {
            return None;
        }
        return request_list
            .iter()
            .filter(|m| !visited.contains(m) && allowed(m))
            .find_map(|m| catalog.resolve(m).map(|r| (m.clone(), r)));
    }
    let reason = reason(class)?;
    let Resolved::Public(model) = current else {
        return None;
    };
    model
        .fallbacks
        .iter()
        .filter(|f| f.on.contains(&reason) && !visited.contains(&f.model) && allowed(&f.model))
        .find_map(|f| catalog.resolve(&f.model).map(|r| (f.model.clone(), r)))
}

/// Traits of a request that conditional routing looks at.
#[derive(Debug, Default, Clone)]
pub struct Traits {
    pub prompt_tokens: u64,
    pub has_images: bool,
    pub has_tools: bool,
    pub tags: Vec<String>,
}

pub fn matches(when: &RouteWhen, t: &Traits) -> bool {
    when.prompt_tokens_over.is_none_or(|n| t.prompt_tokens > n)
        && when.has_images.is_none_or(|b| t.has_images == b)
        && when.has_tools.is_none_or(|b| t.has_tools == b)
        && when.tag.as_ref().is_none_or(|tag| t.tags.contains(tag))
}

/// Estimated tokens of a JSON request body: about four bytes a token for text, which
/// is what routing and limit decisions need (budgets use a real tokenizer).
pub fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_by_class() {
        assert_eq!(
            reason(ErrorClass::RateLimit),
            Some(FallbackReason::RateLimit)
        );
        assert_eq!(
            reason(ErrorClass::Connection),
            Some(FallbackReason::ServerError)
        );
        assert_eq!(reason(ErrorClass::BadRequest), None);
        assert_eq!(reason(ErrorClass::Auth), None);
        assert!(request_list_applies(ErrorClass::Auth));
        assert!(!request_list_applies(ErrorClass::BadRequest));
    }

    #[test]
    fn conditions_all_hold() {
        let t = Traits {
            prompt_tokens: 9000,
            has_images: true,
            has_tools: false,
            tags: vec!["batch".into()],
        };
        let when = |over, img, tag: Option<&str>| RouteWhen {
            prompt_tokens_over: over,
            has_images: img,
            has_tools: None,
            tag: tag.map(str::to_string),
        };
        assert!(matches(&when(Some(8000), None, None), &t));
        assert!(!matches(&when(Some(9000), None, None), &t));
        assert!(matches(&when(None, Some(true), Some("batch")), &t));
        assert!(!matches(&when(None, Some(false), None), &t));
        assert!(!matches(&when(None, None, Some("other")), &t));
        assert!(matches(&RouteWhen::default(), &t));
    }
}
