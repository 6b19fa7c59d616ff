//! The routed catalog: provider accounts, public models and their deployment pools,
//! built once from the config and swapped whole when it changes.

use crate::providers::{Auth, FastPath};
use crate::router::health::Health;
use crate::router::limits::Limits;
use crate::router::Price;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchyard_adapters::{ChatAdapter, WireFormat};
use switchyard_config::{
    Config, FallbackReason, PricingConfig, ProviderConfig, ProviderKind, RouteIfConfig, Strategy,
};

/// A configured provider account.
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    pub wire: WireFormat,
    pub base_url: String,
    keys: Vec<String>,
    next_key: AtomicUsize,
    /// Per key: unix ms until which it is set aside (429: its Retry-After; 401: for
    /// good, until the config changes). 0 = in use.
    key_until: Vec<AtomicU64>,
    pub organization: Option<String>,
    /// Translation over the canonical model.
    pub adapter: Arc<dyn ChatAdapter>,
    /// OpenAI-format upstreams: the same-format path and its quirks.
    pub fast: Option<FastPath>,
    pub auth: Auth,
    pub display: &'static str,
    /// How embeddings, images and audio reach this provider.
    pub media: crate::providers::MediaAccess,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// The key an attempt uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPick<'a> {
    /// A keyless provider (a local server), or one authenticated otherwise.
    Keyless,
    Key {
        index: usize,
        key: &'a str,
    },
    /// Every key is set aside; the soonest is back at this unix ms.
    Exhausted {
        until_ms: u64,
    },
}

impl KeyPick<'_> {
    pub fn key(&self) -> Option<&str> {
        match self {
            KeyPick::Key { key, .. } => Some(key),
            _ => None,
        }
    }
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

    /// The next key of the pool that is not set aside (round robin).
    pub fn pick_key(&self, now_ms: u64) -> KeyPick<'_> {
        let n = self.keys.len();
        if n == 0 {
            return KeyPick::Keyless;
        }
        let start = if n == 1 {
            0
        } else {
            self.next_key.fetch_add(1, Ordering::Relaxed)
        };
        let mut soonest = u64::MAX;
        for i in 0..n {
            let index = (start + i) % n;
            let until = self.key_until[index].load(Ordering::Acquire);
            if until <= now_ms {
                return KeyPick::Key {
                    index,
                    key: &self.keys[index],
                };
            }
            soonest = soonest.min(until);
        }
        KeyPick::Exhausted { until_ms: soonest }
    }

    /// Sets key `index` aside until `until_ms` (`u64::MAX`: until the config changes).
    pub fn set_aside(&self, index: usize, until_ms: u64) {
        if let Some(slot) = self.key_until.get(index) {
            slot.fetch_max(until_ms, Ordering::AcqRel);
        }
    }

    /// Keys usable now.
    pub fn keys_available(&self, now_ms: u64) -> usize {
        self.key_until
            .iter()
            .filter(|u| u.load(Ordering::Acquire) <= now_ms)
            .count()
    }

    /// Every secret of this account, for redaction.
    pub fn secrets(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        out.extend(self.auth.secrets());
        out
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
    /// Position in its public model's pool.
    pub index: usize,
    pub weight: u32,
    /// The whole response.
    pub timeout: Duration,
    /// A stream's first token (after which it is committed to the client).
    pub first_token_timeout: Duration,
    /// Its own connect timeout, when it differs from the server's.
    pub connect_timeout: Option<Duration>,
    /// Requests currently in flight on this deployment.
    pub inflight: AtomicI64,
    pub health: Health,
    /// The provider's own limits for this deployment.
    pub limits: Limits,
    /// For the `cost` strategy; `None` when neither configured nor in the catalog.
    pub price: Option<Price>,
    /// The full price (cache and reasoning rates too), for each request's cost.
    pub pricing: Option<switchyard_pricing::Price>,
    /// The model's output limit from the pricing catalog (a budget reservation's worst
    /// case when the request sets no `max_tokens`).
    pub max_output: Option<u64>,
}

impl Deployment {
    fn new(provider: Arc<Provider>, model: &str, weight: u32, timeout: Duration) -> Self {
        Deployment {
            label: format!("{}/{}", provider.name, model),
            provider,
            model: model.to_string(),
            index: 0,
            weight,
            timeout,
            first_token_timeout: timeout,
            connect_timeout: None,
            inflight: AtomicI64::new(0),
            health: Health::default(),
            limits: Limits::default(),
            price: None,
            pricing: None,
            max_output: None,
        }
    }

    pub fn inflight_now(&self) -> i64 {
        self.inflight.load(Ordering::Relaxed)
    }
}

/// A fallback of a public model.
#[derive(Debug, Clone)]
pub struct Fallback {
    pub model: String,
    pub on: Vec<FallbackReason>,
}

/// A public model: the name clients use, over a pool of deployments.
#[derive(Debug)]
pub struct PublicModel {
    pub name: String,
    pub strategy: Strategy,
    pub deployments: Vec<Arc<Deployment>>,
    total_weight: u64,
    pub fallbacks: Vec<Fallback>,
    pub hedge_after: Option<Duration>,
    pub route_if: Vec<RouteIfConfig>,
    /// Keep this model's request and response bodies in the ledger.
    pub log_bodies: bool,
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
    /// Builds the catalog; credentials the config leaves out come from the process
    /// environment (the standard `AWS_*` variables).
    pub fn build(config: &Config) -> Result<Catalog, CatalogError> {
        Catalog::build_with_env(config, &|name| std::env::var(name).ok())
    }

    pub fn build_with_env(
        config: &Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Catalog, CatalogError> {
        let default_timeout = config.server.timeout();
        let mut providers = HashMap::new();
        for (name, p) in &config.providers {
            providers.insert(name.clone(), Arc::new(build_provider(name, p, env)?));
        }
        let mut models = HashMap::new();
        let mut order = Vec::new();
        let first_token_default = config.router.first_token_timeout.map(|d| d.0);
        for m in &config.models {
            let deployments: Vec<Arc<Deployment>> = m
                .deployments
                .iter()
                .filter_map(|d| {
                    let provider = providers.get(&d.provider)?.clone();
                    let timeout = d.timeout.map_or(default_timeout, |t| t.0);
                    let mut dep = Deployment::new(provider, &d.model, d.weight, timeout);
                    dep.first_token_timeout = d
                        .first_token_timeout
                        .map(|t| t.0)
                        .or(first_token_default)
                        .unwrap_or(timeout)
                        .min(timeout);
                    dep.limits = Limits::new(d.rpm, d.tpm);
                    dep.connect_timeout = d.connect_timeout.map(|t| t.0);
                    dep.pricing = pricing_of(&dep, d.pricing.as_ref());
                    dep.max_output = max_output_of(&dep);
                    dep.price = dep.pricing.map(|p| Price {
                        input_per_mtok: p.input_per_mtok,
                        output_per_mtok: p.output_per_mtok,
                    });
                    Some(dep)
                })
                .enumerate()
                .map(|(index, mut dep)| {
                    dep.index = index;
                    Arc::new(dep)
                })
                .collect();
            let total_weight = deployments.iter().map(|d| u64::from(d.weight)).sum();
            order.push(m.name.clone());
            models.insert(
                m.name.clone(),
                Arc::new(PublicModel {
                    name: m.name.clone(),
                    strategy: m.strategy,
                    deployments,
                    total_weight,
                    fallbacks: m
                        .fallbacks
                        .iter()
                        .map(|f| Fallback {
                            model: f.model.clone(),
                            on: f.reasons(),
                        })
                        .collect(),
                    hedge_after: m.hedge_after.map(|d| d.0),
                    route_if: m.route_if.clone(),
                    log_bodies: m.log_bodies.unwrap_or(false),
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
        let mut d = Deployment::new(p.clone(), upstream, 1, self.default_timeout);
        d.pricing = pricing_of(&d, None);
        d.max_output = max_output_of(&d);
        d.price = d.pricing.map(|p| Price {
            input_per_mtok: p.input_per_mtok,
            output_per_mtok: p.output_per_mtok,
        });
        Some(Resolved::Direct(Arc::new(d)))
    }

    /// The distinct per-deployment connect timeouts (each worker keeps a client for each).
    pub fn connect_timeouts(&self) -> Vec<Duration> {
        let mut out: Vec<Duration> = self
            .deployments()
            .filter_map(|d| d.connect_timeout)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every deployment of every public model.
    pub fn deployments(&self) -> impl Iterator<Item = &Arc<Deployment>> {
        self.order
            .iter()
            .filter_map(|n| self.models.get(n))
            .flat_map(|m| m.deployments.iter())
    }
}

/// A deployment's price: its `pricing:` override, else the built-in catalog's.
fn pricing_of(
    d: &Deployment,
    configured: Option<&PricingConfig>,
) -> Option<switchyard_pricing::Price> {
    if let Some(p) = configured {
        return Some(switchyard_pricing::Price {
            input_per_mtok: p.input_per_mtok,
            output_per_mtok: p.output_per_mtok,
            cached_input_per_mtok: p.cached_input_per_mtok,
            cache_write_per_mtok: p.cache_write_per_mtok,
            reasoning_per_mtok: p.reasoning_per_mtok,
            per_image: p.per_image,
            per_audio_minute: p.per_audio_minute,
            per_mchar: p.per_mchar,
        });
    }
    switchyard_pricing::lookup(d.provider.kind.as_str(), &d.model).map(|info| info.price)
}

fn max_output_of(d: &Deployment) -> Option<u64> {
    switchyard_pricing::lookup(d.provider.kind.as_str(), &d.model).and_then(|i| i.max_output)
}

fn build_provider(
    name: &str,
    p: &ProviderConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Provider, CatalogError> {
    let keys = p.keys();
    let access = crate::providers::access(p, &keys, env).map_err(|message| CatalogError {
        provider: name.to_string(),
        message,
    })?;
    Ok(Provider {
        name: name.to_string(),
        kind: p.kind,
        wire: access.adapter.wire_format(),
        base_url: access.base_url,
        key_until: keys.iter().map(|_| AtomicU64::new(0)).collect(),
        keys,
        next_key: AtomicUsize::new(0),
        organization: p.organization.clone(),
        adapter: access.adapter,
        fast: access.fast,
        auth: access.auth,
        display: access.display,
        media: crate::providers::MediaAccess::of(p),
    })
}

/// Zero-config: one provider account for each provider whose standard environment
/// variables are set, named after its kind (`openai/gpt-4o-mini`, `anthropic/…`).
pub fn zero_config(env: &dyn Fn(&str) -> Option<String>) -> Config {
    let mut config = Config::default();
    let set = |var: &str| env(var).filter(|v| !v.trim().is_empty());
    let mut add = |name: &str, p: ProviderConfig| {
        config.providers.insert(name.to_string(), p);
    };
    let keyed = [
        (ProviderKind::Openai, &["OPENAI_API_KEY"][..]),
        (ProviderKind::Anthropic, &["ANTHROPIC_API_KEY"][..]),
        (
            ProviderKind::Gemini,
            &["GEMINI_API_KEY", "GOOGLE_API_KEY"][..],
        ),
    ];
    for (kind, vars) in keyed {
        if let Some(key) = vars.iter().find_map(|v| set(v)) {
            add(kind.as_str(), provider(kind, Some(key), None));
        }
    }
    for preset in switchyard_adapters::openai::presets::PRESETS {
        let Ok(kind) = serde_json::from_value::<ProviderKind>(serde_json::Value::from(preset.kind))
        else {
            continue;
        };
        let key = set(preset.env_var);
        let base = preset.base_url_env.and_then(&set);
        if key.is_some() || base.is_some() {
            add(preset.kind, provider(kind, key, base));
        }
    }
    if let (Some(key), Some(endpoint)) = (set("AZURE_OPENAI_API_KEY"), set("AZURE_OPENAI_ENDPOINT"))
    {
        let mut p = provider(ProviderKind::Azure, Some(key), Some(endpoint));
        p.api_version = set("OPENAI_API_VERSION");
        add("azure", p);
    }
    if set("AWS_ACCESS_KEY_ID").is_some()
        && set("AWS_SECRET_ACCESS_KEY").is_some()
        && (set("AWS_REGION").is_some() || set("AWS_DEFAULT_REGION").is_some())
    {
        add("bedrock", provider(ProviderKind::Bedrock, None, None));
    }
    if let (Some(project), Some(credentials)) = (
        set("GOOGLE_CLOUD_PROJECT").or_else(|| set("VERTEX_PROJECT")),
        set("GOOGLE_APPLICATION_CREDENTIALS"),
    ) {
        let mut p = provider(ProviderKind::Vertex, None, None);
        p.project = Some(project);
        p.location = Some(
            set("GOOGLE_CLOUD_LOCATION")
                .or_else(|| set("VERTEX_LOCATION"))
                .unwrap_or_else(|| "global".to_string()),
        );
        p.credentials_file = Some(credentials);
        add("vertex", p);
    }
    config.master_key = env("SWITCHYARD_MASTER_KEY").filter(|k| !k.is_empty());
    config
}

fn provider(kind: ProviderKind, key: Option<String>, base_url: Option<String>) -> ProviderConfig {
    ProviderConfig {
        kind,
        api_key: key,
        api_keys: None,
        base_url,
        organization: None,
        anthropic_version: None,
        project: None,
        location: None,
        credentials_file: None,
        api_version: None,
        azure_ad_token: None,
        region: None,
        access_key_id: None,
        secret_access_key: None,
        session_token: None,
    }
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
    fn every_kind_builds_with_its_defaults() {
        let none = |_: &str| None;
        let c = Catalog::build_with_env(
            &config(
                r#"
providers:
  oa: {kind: openai, api_key: k}
  an: {kind: anthropic, api_key: k}
  ge: {kind: gemini, api_key: k}
  az: {kind: azure, api_key: k, base_url: "https://r.openai.azure.com"}
  br: {kind: bedrock, region: eu-west-1, access_key_id: AK, secret_access_key: SK}
  ds: {kind: deepseek, api_key: k}
  mi: {kind: mistral, api_key: k}
  ol: {kind: ollama}
"#,
            ),
            &none,
        )
        .unwrap();
        let base = |n: &str| c.providers[n].base_url.clone();
        assert_eq!(base("oa"), "https://api.openai.com/v1");
        assert_eq!(base("an"), "https://api.anthropic.com");
        assert_eq!(base("ge"), "https://generativelanguage.googleapis.com");
        assert_eq!(
            base("br"),
            "https://bedrock-runtime.eu-west-1.amazonaws.com"
        );
        assert_eq!(base("ds"), "https://api.deepseek.com/v1");
        assert_eq!(base("ol"), "http://127.0.0.1:11434/v1");
        assert!(c.providers["oa"].fast.is_some());
        assert!(c.providers["az"].fast.as_ref().unwrap().azure.is_some());
        assert!(c.providers["an"].fast.is_none());
        assert!(
            !c.providers["mi"]
                .fast
                .as_ref()
                .unwrap()
                .quirks
                .stream_options
        );
        assert_eq!(c.providers["br"].wire, WireFormat::BedrockConverse);
        // The signing secret is redacted like a key.
        assert!(c.providers["br"].secrets().contains(&"SK"));
    }

    #[test]
    fn missing_fields_are_named() {
        let none = |_: &str| None;
        let err = |text: &str| {
            Catalog::build_with_env(&config(text), &none)
                .unwrap_err()
                .to_string()
        };
        assert!(err("providers:\n  c: {kind: openai_compatible}\n").contains("base_url"));
        assert!(err("providers:\n  c: {kind: openai}\n").contains("api_key"));
        assert!(
            err("providers:\n  c: {kind: bedrock, access_key_id: a, secret_access_key: b}\n")
                .contains("region")
        );
        assert!(err("providers:\n  c: {kind: bedrock, region: us-east-1}\n")
            .contains("AWS_ACCESS_KEY_ID"));
        // The standard AWS variables complete a bedrock provider.
        let env = |v: &str| match v {
            "AWS_REGION" => Some("us-west-2".to_string()),
            "AWS_ACCESS_KEY_ID" => Some("AK".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("SK".to_string()),
            _ => None,
        };
        let c =
            Catalog::build_with_env(&config("providers:\n  c: {kind: bedrock}\n"), &env).unwrap();
        assert!(c.providers["c"].base_url.contains("us-west-2"));
    }

    #[test]
    fn zero_config_reads_env() {
        let c = zero_config(&|v| (v == "OPENAI_API_KEY").then(|| "sk-x".to_string()));
        assert_eq!(c.providers["openai"].kind, ProviderKind::Openai);
        let cat = Catalog::build(&c).unwrap();
        assert!(cat.resolve("openai/gpt-4o-mini").is_some());
        assert!(zero_config(&|_| None).providers.is_empty());

        let env = |v: &str| {
            match v {
                "ANTHROPIC_API_KEY" | "GROQ_API_KEY" | "GEMINI_API_KEY" => Some("k"),
                "OLLAMA_BASE_URL" => Some("http://10.0.0.2:11434/v1"),
                "AZURE_OPENAI_API_KEY" => Some("az"),
                "AZURE_OPENAI_ENDPOINT" => Some("https://r.openai.azure.com"),
                _ => None,
            }
            .map(str::to_string)
        };
        let c = zero_config(&env);
        let names: Vec<&str> = c.providers.keys().map(String::as_str).collect();
        assert_eq!(names, ["anthropic", "azure", "gemini", "groq", "ollama"]);
        let cat = Catalog::build_with_env(&c, &|_| None).unwrap();
        assert_eq!(cat.providers["ollama"].base_url, "http://10.0.0.2:11434/v1");
        assert_eq!(
            cat.providers["groq"].base_url,
            "https://api.groq.com/openai/v1"
        );
        assert!(cat.resolve("anthropic/claude-sonnet-4-5").is_some());
    }
}
