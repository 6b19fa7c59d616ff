//! A virtual key's model scope: public model names, `provider/*` patterns (every model
//! of that provider account addressed directly), or `*`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Exact(String),
    /// `provider/*`: any `provider/<model>`.
    Provider(String),
}

impl Scope {
    pub fn parse(s: &str) -> Scope {
        let s = s.trim();
        if s == "*" {
            Scope::All
        } else if let Some(p) = s.strip_suffix("/*") {
            Scope::Provider(p.to_string())
        } else {
            Scope::Exact(s.to_string())
        }
    }

    pub fn allows(&self, model: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Exact(m) => m == model,
            Scope::Provider(p) => model
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1),
        }
    }
}

/// An empty scope list allows every model.
pub fn allows(scopes: &[Scope], model: &str) -> bool {
    scopes.is_empty() || scopes.iter().any(|s| s.allows(model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let scopes: Vec<Scope> = ["general", "openai/*"]
            .iter()
            .map(|s| Scope::parse(s))
            .collect();
        assert!(allows(&scopes, "general"));
        assert!(allows(&scopes, "openai/gpt-4o"));
        assert!(!allows(&scopes, "openai/"));
        assert!(!allows(&scopes, "openaix/gpt"));
        assert!(!allows(&scopes, "claude/x"));
        assert!(!allows(&scopes, "generalist"));
        assert!(allows(&[], "anything"));
        assert!(allows(&[Scope::parse("*")], "anything"));
    }
}
