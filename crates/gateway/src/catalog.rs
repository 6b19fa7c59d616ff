//! The routed catalog: provider accounts, public models and their deployment pools,
//! built once from the config and swapped whole when it changes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchyard_adapters::WireFormat;
use switchyard_config::{Config, ProviderConfig, ProviderKind};

/// A configured provider account.
#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    pub wire: WireFormat,
    pub base_url: String,
    keys: Vec<String>,
    next_key: AtomicUsize,
    pub organization: Option<String>,
}

impl Provider {
    /// The next key of the pool (round robin); `None` for keyless local servers.
    pub fn key(&self) -> Option<&str> {
        match self.keys.len() {
            0 => None,
            1 => Some(&self.keys[0]),
            n => Some(&self.keys[self.next_key.fetch_add(1, Ordering::Relaxed) % n]),
        }
    }

    /// Every secret of this account, for redaction.
    pub fn secrets(&self) -> Vec<&str> {
        self.keys.iter().map(String::as_str).collect()
    }

    pub fn key_count(&self) -> usize {
        self.keys.len()
    }
}

/// One upstream model on one provider account: what a request is finally sent to.
#[derive(Debug)]
pub struct Deployment {
    pub provider: Arc<Provider>,
    /// Upstream model id.
    pub model: String,
    /// `provider/model`, as reported in `x-switchyard-deployment`.
    pub label: String,
    pub weight: u32,
    pub timeout: Duration,
    /// Requests currently in flight on this deployment.
    pub inflight: AtomicI64,
}

impl Deployment {
    fn new(provider: Arc<Provider>, model: &str, weight: u32, timeout: Duration) -> Self {
        Deployment {
            label: format!("{}/{}", provider.name, model),
            provider,
            model: model.to_string(),
            weight,
            timeout,
            inflight: AtomicI64::new(0),
        }
    }
}

/// A public model: the name clients use, over a pool of deployments.
#[derive(Debug)]
pub struct PublicModel {
    pub name: String,
    pub deployments: Vec<Arc<Deployment>>,
    total_weight: u64,
}

impl PublicModel {
    /// Weighted random pick over the pool.
    /// `None` only for a pool with no deployments, which config validation rules out.
    pub fn pick(&self) -> Option<&Arc<Deployment>> {
        let mut ticket = fastrand::u64(0..self.total_weight.max(1));
        for d in &self.deployments {
            let w = u64::from(d.weight);
            if ticket < w {
                return Some(d);
            }
            ticket -= w;
        }
        self.deployments.first()
    }
}

/// What a request's `model` resolved to.
pub enum Resolved {
    Public(Arc<PublicModel>),
    /// `provider/upstream-model` addressed directly.
    Direct(Arc<Deployment>),
}

impl Resolved {
    pub fn pick(&self) -> Option<Arc<Deployment>> {
        match self {
            Resolved::Public(m) => m.pick().cloned(),
            Resolved::Direct(d) => Some(d.clone()),
        }
    }
}

#[derive(Debug)]
pub struct Catalog {
    pub providers: HashMap<String, Arc<Provider>>,
    pub models: HashMap<String, Arc<PublicModel>>,
    /// Public names in config order, for `/v1/models`.
    pub order: Vec<String>,
    pub default_timeout: Duration,
    /// When the catalog was built (unix seconds), reported as `created`.
    pub created: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("providers.{provider}: {message}")]
pub struct CatalogError {
    pub provider: String,
    pub message: String,
}

impl Catalog {
    pub fn build(config: &Config) -> Result<Catalog, CatalogError> {
        let default_timeout = config.server.timeout();
        let mut providers = HashMap::new();
        for (name, p) in &config.providers {
            providers.insert(name.clone(), Arc::new(build_provider(name, p)?));
        }
        let mut models = HashMap::new();
        let mut order = Vec::new();
        for m in &config.models {
            let deployments: Vec<Arc<Deployment>> = m
                .deployments
                .iter()
                .filter_map(|d| {
                    let provider = providers.get(&d.provider)?.clone();
                    let timeout = d.timeout.map_or(default_timeout, |t| t.0);
                    Some(Arc::new(Deployment::new(
                        provider, &d.model, d.weight, timeout,
                    )))
                })
                .collect();
            let total_weight = deployments.iter().map(|d| u64::from(d.weight)).sum();
            order.push(m.name.clone());
            models.insert(
                m.name.clone(),
                Arc::new(PublicModel {
                    name: m.name.clone(),
                    deployments,
                    total_weight,
                }),
            );
        }
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(Catalog {
            providers,
            models,
            order,
            default_timeout,
            created,
        })
    }

    /// Public names first; else `provider/upstream-model` for a configured provider.
    pub fn resolve(&self, model: &str) -> Option<Resolved> {
        if let Some(m) = self.models.get(model) {
            return Some(Resolved::Public(m.clone()));
        }
        let (provider, upstream) = model.split_once('/')?;
        if upstream.is_empty() {
            return None;
        }
        let p = self.providers.get(provider)?;
        Some(Resolved::Direct(Arc::new(Deployment::new(
            p.clone(),
            upstream,
            1,
            self.default_timeout,
        ))))
    }

    /// Every deployment of every public model.
    pub fn deployments(&self) -> impl Iterator<Item = &Arc<Deployment>> {
        self.order
            .iter()
            .filter_map(|n| self.models.get(n))
            .flat_map(|m| m.deployments.iter())
    }
}

fn build_provider(name: &str, p: &ProviderConfig) -> Result<Provider, CatalogError> {
    let err = |message: String| CatalogError {
        provider: name.to_string(),
        message,
    };
    let (wire, default_base) = match p.kind {
        ProviderKind::Openai => (WireFormat::OpenAiChat, Some("https://api.openai.com/v1")),
        ProviderKind::OpenaiCompatible => (WireFormat::OpenAiChat, None),
        other => {
            return Err(err(format!(
                "provider kind `{}` is not available in this build yet; available kinds: openai, openai_compatible",
                other.as_str()
            )))
        }
    };
    let base_url = match (&p.base_url, default_base) {
        (Some(url), _) => url.clone(),
        (None, Some(d)) => d.to_string(),
        (None, None) => {
            return Err(err(format!(
                "kind `{}` needs a base_url (e.g. http://127.0.0.1:11434/v1)",
                p.kind.as_str()
            )))
        }
    };
    let keys = p.keys();
    if p.kind == ProviderKind::Openai && keys.is_empty() {
        return Err(err(
            "an api_key is required for kind `openai` (e.g. api_key: ${OPENAI_API_KEY})".into(),
        ));
    }
    Ok(Provider {
        name: name.to_string(),
        kind: p.kind,
        wire,
        base_url,
        keys,
        next_key: AtomicUsize::new(0),
        organization: p.organization.clone(),
    })
}

/// Zero-config: providers from the standard environment variables.
pub fn zero_config(env: &dyn Fn(&str) -> Option<String>) -> Config {
    let mut config = Config::default();
    let presets: [(&str, ProviderKind, &str); 1] =
        [("openai", ProviderKind::Openai, "OPENAI_API_KEY")];
    for (name, kind, var) in presets {
        if let Some(key) = env(var).filter(|k| !k.trim().is_empty()) {
            config.providers.insert(
                name.to_string(),
                ProviderConfig {
                    kind,
                    api_key: Some(key),
                    api_keys: None,
                    base_url: None,
                    organization: None,
                },
            );
        }
    }
    config.master_key = env("SWITCHYARD_MASTER_KEY").filter(|k| !k.is_empty());
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        switchyard_config::parse_str("t.yaml", text, &|_: &str| None).unwrap()
    }

    const TEXT: &str = r#"
providers:
  a: {kind: openai_compatible, base_url: "http://127.0.0.1:1/v1", api_keys: [k1, k2, k3]}
  b: {kind: openai_compatible, base_url: "http://127.0.0.1:2/v1"}
models:
  - name: m
    deployments:
      - {provider: a, model: x, weight: 3}
      - {provider: b, model: y, weight: 1}
  - name: only-b
    deployments:
      - {provider: b, model: y, timeout: 2s}
"#;

    #[test]
    fn weighted_pick_follows_weights() {
        let c = Catalog::build(&config(TEXT)).unwrap();
        let Some(Resolved::Public(m)) = c.resolve("m") else {
            panic!()
        };
        let mut counts = HashMap::new();
        for _ in 0..8000 {
            *counts.entry(m.pick().unwrap().label.clone()).or_insert(0) += 1;
        }
        let a = counts["a/x"] as f64 / 8000.0;
        assert!((0.70..0.80).contains(&a), "share of a/x was {a}");
    }

    #[test]
    fn direct_addressing_and_unknowns() {
        let c = Catalog::build(&config(TEXT)).unwrap();
        let Some(Resolved::Direct(d)) = c.resolve("a/some-model") else {
            panic!()
        };
        assert_eq!(d.label, "a/some-model");
        assert_eq!(d.model, "some-model");
        assert!(c.resolve("nope").is_none());
        assert!(c.resolve("zz/model").is_none());
        assert!(c.resolve("a/").is_none());
        let Some(Resolved::Public(m)) = c.resolve("only-b") else {
            panic!()
        };
        assert_eq!(m.deployments[0].timeout, Duration::from_secs(2));
    }

    #[test]
    fn key_pool_round_robin() {
        let c = Catalog::build(&config(TEXT)).unwrap();
        let p = &c.providers["a"];
        let keys: Vec<_> = (0..6).map(|_| p.key().unwrap().to_string()).collect();
        assert_eq!(keys, ["k1", "k2", "k3", "k1", "k2", "k3"]);
        assert_eq!(c.providers["b"].key(), None);
    }

    #[test]
    fn unsupported_kinds_and_missing_fields() {
        let e = Catalog::build(&config("providers:\n  c: {kind: anthropic, api_key: x}\n"))
            .unwrap_err();
        assert!(e.to_string().contains("not available"), "{e}");
        let e =
            Catalog::build(&config("providers:\n  c: {kind: openai_compatible}\n")).unwrap_err();
        assert!(e.to_string().contains("base_url"), "{e}");
        let e = Catalog::build(&config("providers:\n  c: {kind: openai}\n")).unwrap_err();
        assert!(e.to_string().contains("api_key"), "{e}");
    }

    #[test]
    fn zero_config_reads_env() {
        let c = zero_config(&|v| (v == "OPENAI_API_KEY").then(|| "sk-x".to_string()));
        assert_eq!(c.providers["openai"].kind, ProviderKind::Openai);
        let cat = Catalog::build(&c).unwrap();
        assert!(cat.resolve("openai/gpt-4o-mini").is_some());
        assert!(zero_config(&|_| None).providers.is_empty());
    }
}
