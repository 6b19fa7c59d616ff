//! The configuration's data model and its semantic checks.

use crate::duration::{ByteSize, HumanDuration};
use crate::locate::Seg;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:4000";
pub const DEFAULT_MAX_BODY: u64 = 32 * 1024 * 1024;
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on; `--listen` overrides it.
    pub listen: Option<String>,
    /// Admin API key and unrestricted inference key.
    pub master_key: Option<String>,
    /// `sqlite://path` (default: `switchyard.db` beside the config) or `postgres://…`.
    pub database: Option<String>,
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    #[serde(default)]
    pub models: Vec<ModelConfig>,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub router: RouterConfig,
    /// `redis://…`: deployment health shared by every replica.
    pub redis: Option<String>,
    /// OpenTelemetry traces over OTLP/HTTP; off unless an endpoint is set here or in
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    pub telemetry: Option<TelemetryConfig>,
    /// The request ledger.
    #[serde(default)]
    pub ledger: LedgerConfig,
    /// Where the file was read from (not a YAML field).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Limits and timeouts of the HTTP server itself (a Switchyard extension of the contract).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Largest accepted request body; larger bodies get 413. Default 32MiB.
    pub max_body_size: Option<ByteSize>,
    /// On SIGTERM/SIGINT, how long in-flight requests and streams may run on. Default 30s.
    pub shutdown_grace: Option<HumanDuration>,
    /// Upstream TCP+TLS connect timeout. Default 10s.
    pub connect_timeout: Option<HumanDuration>,
    /// Default upstream timeout for deployments that set none. Default 600s.
    pub timeout: Option<HumanDuration>,
    /// Worker threads, each running its own event loop. Default: the number of CPUs.
    pub workers: Option<usize>,
}

impl ServerConfig {
    pub fn max_body_size(&self) -> u64 {
        self.max_body_size.map_or(DEFAULT_MAX_BODY, |b| b.0)
    }
    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace.map_or(DEFAULT_SHUTDOWN_GRACE, |d| d.0)
    }
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
            .map_or(DEFAULT_CONNECT_TIMEOUT, |d| d.0)
    }
    pub fn workers(&self) -> usize {
        self.workers
            .filter(|w| *w > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
    pub fn timeout(&self) -> Duration {
        self.timeout.map_or(DEFAULT_UPSTREAM_TIMEOUT, |d| d.0)
    }
}

/// Every provider kind of the contract. Which ones this build can serve is the
/// gateway's adapter registry's business; the parser knows all the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Openai,
    OpenaiCompatible,
    Anthropic,
    Gemini,
    Vertex,
    Azure,
    Bedrock,
    Deepseek,
    Groq,
    Mistral,
    Together,
    Fireworks,
    Xai,
    Openrouter,
    Perplexity,
    Cerebras,
    Ollama,
    Vllm,
    Lmstudio,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::OpenaiCompatible => "openai_compatible",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Vertex => "vertex",
            ProviderKind::Azure => "azure",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::Deepseek => "deepseek",
            ProviderKind::Groq => "groq",
            ProviderKind::Mistral => "mistral",
            ProviderKind::Together => "together",
            ProviderKind::Fireworks => "fireworks",
            ProviderKind::Xai => "xai",
            ProviderKind::Openrouter => "openrouter",
            ProviderKind::Perplexity => "perplexity",
            ProviderKind::Cerebras => "cerebras",
            ProviderKind::Ollama => "ollama",
            ProviderKind::Vllm => "vllm",
            ProviderKind::Lmstudio => "lmstudio",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    pub api_key: Option<String>,
    /// A pool of keys; requests are spread over them.
    pub api_keys: Option<Vec<String>>,
    pub base_url: Option<String>,
    /// OpenAI organization id, sent as `OpenAI-Organization` (openai).
    pub organization: Option<String>,
    /// `anthropic-version` header (anthropic). Default `2023-06-01`.
    pub anthropic_version: Option<String>,
    /// Google Cloud project (vertex).
    pub project: Option<String>,
    /// Google Cloud region such as `us-central1`, or `global` (vertex).
    pub location: Option<String>,
    /// Service-account JSON file (vertex); else Application Default Credentials.
    pub credentials_file: Option<String>,
    /// `api-version` query parameter (azure).
    pub api_version: Option<String>,
    /// A Microsoft Entra ID bearer token, instead of an `api-key` (azure).
    pub azure_ad_token: Option<String>,
    /// AWS region (bedrock); else `AWS_REGION` / `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
    /// AWS credentials (bedrock); else the standard `AWS_*` environment variables.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
}

/// The provider fields that only some kinds take, with the kinds that take them.
const KIND_FIELDS: &[(&str, &[ProviderKind])] = &[
    ("organization", &[ProviderKind::Openai]),
    ("anthropic_version", &[ProviderKind::Anthropic]),
    ("project", &[ProviderKind::Vertex]),
    ("location", &[ProviderKind::Vertex]),
    ("credentials_file", &[ProviderKind::Vertex]),
    ("api_version", &[ProviderKind::Azure]),
    ("azure_ad_token", &[ProviderKind::Azure]),
    ("region", &[ProviderKind::Bedrock]),
    ("access_key_id", &[ProviderKind::Bedrock]),
    ("secret_access_key", &[ProviderKind::Bedrock]),
    ("session_token", &[ProviderKind::Bedrock]),
];

impl ProviderConfig {
    /// Whether the kind-specific field `name` is set.
    fn has(&self, name: &str) -> bool {
        match name {
            "organization" => self.organization.is_some(),
            "anthropic_version" => self.anthropic_version.is_some(),
            "project" => self.project.is_some(),
            "location" => self.location.is_some(),
            "credentials_file" => self.credentials_file.is_some(),
            "api_version" => self.api_version.is_some(),
            "azure_ad_token" => self.azure_ad_token.is_some(),
            "region" => self.region.is_some(),
            "access_key_id" => self.access_key_id.is_some(),
            "secret_access_key" => self.secret_access_key.is_some(),
            "session_token" => self.session_token.is_some(),
            _ => false,
        }
    }
}

impl ProviderConfig {
    /// The configured keys, single or pooled, empty ones dropped.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.api_key.iter().cloned().collect();
        keys.extend(self.api_keys.iter().flatten().cloned());
        keys.retain(|k| !k.trim().is_empty());
        keys
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Weighted random over the pool.
    #[default]
    Weighted,
    /// Fewest requests in flight.
    LeastBusy,
    /// Lowest latency (EWMA of time to first token and total), power of two choices.
    Latency,
    /// Cheapest for the request's token estimate, by the pricing catalog.
    Cost,
    /// In the listed order; the next only when the one before fails or is unavailable.
    Ordered,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Weighted => "weighted",
            Strategy::LeastBusy => "least_busy",
            Strategy::Latency => "latency",
            Strategy::Cost => "cost",
            Strategy::Ordered => "ordered",
        }
    }
}

/// Why a request moves on to a fallback model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    RateLimit,
    ServerError,
    Timeout,
    ContextWindow,
    ContentPolicy,
}

impl FallbackReason {
    pub const ALL: [FallbackReason; 5] = [
        FallbackReason::RateLimit,
        FallbackReason::ServerError,
        FallbackReason::Timeout,
        FallbackReason::ContextWindow,
        FallbackReason::ContentPolicy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FallbackReason::RateLimit => "rate_limit",
            FallbackReason::ServerError => "server_error",
            FallbackReason::Timeout => "timeout",
            FallbackReason::ContextWindow => "context_window",
            FallbackReason::ContentPolicy => "content_policy",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackConfig {
    /// The public model to try next.
    pub model: String,
    /// The failures it is tried for; all of them when absent.
    pub on: Option<Vec<FallbackReason>>,
}

impl FallbackConfig {
    pub fn reasons(&self) -> Vec<FallbackReason> {
        self.on
            .clone()
            .unwrap_or_else(|| FallbackReason::ALL.to_vec())
    }
}

/// Conditional routing: requests with these traits go to another public model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteIfConfig {
    pub when: RouteWhen,
    pub model: String,
}

/// Every condition given must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteWhen {
    /// Estimated prompt tokens above this.
    pub prompt_tokens_over: Option<u64>,
    pub has_images: Option<bool>,
    pub has_tools: Option<bool>,
    /// A tag in the request's `metadata.tags` (body) or `x-switchyard-tags` header.
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    #[serde(default)]
    pub strategy: Strategy,
    pub deployments: Vec<DeploymentConfig>,
    #[serde(default)]
    pub fallbacks: Vec<FallbackConfig>,
    /// No first token by then: also try another deployment, take the first to answer.
    pub hedge_after: Option<HumanDuration>,
    #[serde(default)]
    pub route_if: Vec<RouteIfConfig>,
    /// Store this model's request and response bodies in the ledger.
    pub log_bodies: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    pub provider: String,
    pub model: String,
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Upstream timeout for this deployment, whole response (overrides `server.timeout`).
    pub timeout: Option<HumanDuration>,
    /// Time to the first token of a stream (overrides `router.first_token_timeout`).
    pub first_token_timeout: Option<HumanDuration>,
    /// TCP and TLS connect timeout to this deployment (overrides `server.connect_timeout`).
    pub connect_timeout: Option<HumanDuration>,
    /// The provider's request limit for this deployment, per minute.
    pub rpm: Option<u64>,
    /// The provider's token limit for this deployment, per minute.
    pub tpm: Option<u64>,
    /// USD per million tokens; overrides the built-in pricing catalog.
    pub pricing: Option<PricingConfig>,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingConfig {
    #[serde(default)]
    pub input_per_mtok: f64,
    #[serde(default)]
    pub output_per_mtok: f64,
    pub cached_input_per_mtok: Option<f64>,
    pub cache_write_per_mtok: Option<f64>,
    pub reasoning_per_mtok: Option<f64>,
    /// USD per generated image (image models).
    pub per_image: Option<f64>,
    /// USD per minute of transcribed audio.
    pub per_audio_minute: Option<f64>,
    /// USD per million characters of speech input.
    pub per_mchar: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// OTLP/HTTP base URL (the exporter posts to `{endpoint}/v1/traces`).
    pub otlp_endpoint: Option<String>,
    /// Fraction of new traces sampled (a client's sampled flag is honoured). Default 1.0.
    pub sample_ratio: Option<f64>,
    /// `service.name` of the spans. Default `switchyard`.
    pub service_name: Option<String>,
    /// Extra headers for the collector (e.g. an API key).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// Days of request rows kept (PostgreSQL drops whole day partitions). Default 30.
    pub retention_days: Option<u32>,
    /// Rows waiting for the writer; when full, rows are dropped and counted. Default 65536.
    pub queue_size: Option<usize>,
    /// Store request and response bodies (capped, redacted). Default off; models can
    /// turn it on for themselves (`models[].log_bodies`).
    pub bodies: Option<bool>,
    /// Largest body kept; longer ones are cut. Default 64KiB.
    pub body_max_bytes: Option<ByteSize>,
    /// JSON field names whose values are replaced by `[redacted]` in stored bodies.
    #[serde(default)]
    pub redact: Vec<String>,
}

pub const DEFAULT_RETENTION_DAYS: u32 = 30;

impl LedgerConfig {
    pub fn retention_days(&self) -> u32 {
        self.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS).max(1)
    }
    pub fn queue_size(&self) -> usize {
        self.queue_size.unwrap_or(65_536).max(16)
    }
    pub fn body_max_bytes(&self) -> u64 {
        self.body_max_bytes.map_or(64 * 1024, |b| b.0)
    }
}

pub const DEFAULT_RETRIES: u32 = 2;
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);
pub const DEFAULT_ALLOWED_FAILURES: u32 = 3;
pub const DEFAULT_MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// The attempt loop's settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// Extra attempts inside a model's pool. Default 2.
    pub retries: Option<u32>,
    /// How long a failing deployment is skipped. Default 30s.
    pub cooldown: Option<HumanDuration>,
    /// Consecutive failures before cooldown. Default 3.
    pub allowed_failures: Option<u32>,
    /// The longest a retry waits (a longer `Retry-After` moves on instead). Default 10s.
    pub max_retry_wait: Option<HumanDuration>,
    /// Default time to a stream's first token, before it falls back. Default: the
    /// deployment's timeout.
    pub first_token_timeout: Option<HumanDuration>,
}

impl RouterConfig {
    pub fn retries(&self) -> u32 {
        self.retries.unwrap_or(DEFAULT_RETRIES)
    }
    pub fn cooldown(&self) -> Duration {
        self.cooldown.map_or(DEFAULT_COOLDOWN, |d| d.0)
    }
    pub fn allowed_failures(&self) -> u32 {
        self.allowed_failures
            .unwrap_or(DEFAULT_ALLOWED_FAILURES)
            .max(1)
    }
    pub fn max_retry_wait(&self) -> Duration {
        self.max_retry_wait.map_or(DEFAULT_MAX_RETRY_WAIT, |d| d.0)
    }
}

fn default_weight() -> u32 {
    1
}

/// A semantic error found after parsing, with the path of the field it concerns.
#[derive(Debug)]
pub struct Invalid {
    pub path: Vec<Seg>,
    pub message: String,
}

fn invalid(path: Vec<Seg>, message: impl Into<String>) -> Invalid {
    Invalid {
        path,
        message: message.into(),
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(listen) = &self.listen {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                return Err(invalid(
                    vec![Seg::key("listen")],
                    format!("`{listen}` is not an address; write host:port like 127.0.0.1:4000"),
                ));
            }
        }
        if self.server.workers == Some(0) {
            return Err(invalid(
                vec![Seg::key("server"), Seg::key("workers")],
                "workers must be at least 1",
            ));
        }
        if let Some(key) = &self.master_key {
            if key.trim().is_empty() {
                return Err(invalid(
                    vec![Seg::key("master_key")],
                    "master_key is empty; remove it or set a value",
                ));
            }
        }
        if let Some(db) = &self.database {
            let ok = ["sqlite:", "postgres://", "postgresql://"]
                .iter()
                .any(|p| db.starts_with(p));
            if !ok {
                return Err(invalid(
                    vec![Seg::key("database")],
                    "database must be sqlite://PATH or postgres://USER@HOST/DB",
                ));
            }
        }
        for (name, p) in &self.providers {
            let at = |field: &str| vec![Seg::key("providers"), Seg::key(name), Seg::key(field)];
            if name.is_empty() || name.contains('/') {
                return Err(invalid(
                    vec![Seg::key("providers"), Seg::key(name)],
                    "a provider name must be non-empty and contain no `/`",
                ));
            }
            if p.api_key.is_some() && p.api_keys.is_some() {
                return Err(invalid(
                    at("api_keys"),
                    "set either api_key or api_keys, not both",
                ));
            }
            if matches!(p.api_keys.as_deref(), Some([])) {
                return Err(invalid(at("api_keys"), "api_keys is empty"));
            }
            if let Some(url) = &p.base_url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(invalid(
                        at("base_url"),
                        format!("`{url}` is not an http:// or https:// URL"),
                    ));
                }
            }
            for (field, kinds) in KIND_FIELDS {
                if p.has(field) && !kinds.contains(&p.kind) {
                    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                    return Err(invalid(
                        at(field),
                        format!(
                            "`{field}` applies to {} providers, not `{}`",
                            names.join(", "),
                            p.kind.as_str()
                        ),
                    ));
                }
            }
            match p.kind {
                ProviderKind::Vertex => {
                    for field in ["project", "location"] {
                        if !p.has(field) {
                            return Err(invalid(
                                vec![Seg::key("providers"), Seg::key(name)],
                                format!("a vertex provider needs `{field}`"),
                            ));
                        }
                    }
                }
                ProviderKind::Azure if p.base_url.is_none() => {
                    return Err(invalid(
                        vec![Seg::key("providers"), Seg::key(name)],
                        "an azure provider needs `base_url`, e.g. https://RESOURCE.openai.azure.com",
                    ));
                }
                ProviderKind::Azure if p.azure_ad_token.is_some() && !p.keys().is_empty() => {
                    return Err(invalid(
                        at("azure_ad_token"),
                        "set either api_key(s) or azure_ad_token, not both",
                    ));
                }
                ProviderKind::Bedrock
                    if p.access_key_id.is_some() != p.secret_access_key.is_some() =>
                {
                    return Err(invalid(
                        vec![Seg::key("providers"), Seg::key(name)],
                        "set access_key_id and secret_access_key together",
                    ));
                }
                _ => {}
            }
        }
        let mut names = HashSet::new();
        for (i, m) in self.models.iter().enumerate() {
            let at = |rest: Vec<Seg>| {
                let mut p = vec![Seg::key("models"), Seg::Index(i)];
                p.extend(rest);
                p
            };
            if m.name.trim().is_empty() {
                return Err(invalid(at(vec![Seg::key("name")]), "model name is empty"));
            }
            if !names.insert(m.name.as_str()) {
                return Err(invalid(
                    at(vec![Seg::key("name")]),
                    format!("model `{}` is defined twice", m.name),
                ));
            }
            if m.deployments.is_empty() {
                return Err(invalid(
                    at(vec![Seg::key("deployments")]),
                    format!("model `{}` has no deployments", m.name),
                ));
            }
            if m.deployments.iter().all(|d| d.weight == 0) {
                return Err(invalid(
                    at(vec![Seg::key("deployments")]),
                    format!("model `{}`: every deployment has weight 0", m.name),
                ));
            }
            for (j, d) in m.deployments.iter().enumerate() {
                let dat = |field: &str| {
                    at(vec![
                        Seg::key("deployments"),
                        Seg::Index(j),
                        Seg::key(field),
                    ])
                };
                if !self.providers.contains_key(&d.provider) {
                    let known: Vec<&str> = self.providers.keys().map(String::as_str).collect();
                    return Err(invalid(
                        dat("provider"),
                        format!(
                            "unknown provider `{}`; configured providers: {}",
                            d.provider,
                            if known.is_empty() {
                                "(none)".to_string()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                }
                if d.model.trim().is_empty() {
                    return Err(invalid(dat("model"), "upstream model id is empty"));
                }
                if d.timeout.is_some_and(|t| t.0.is_zero()) {
                    return Err(invalid(dat("timeout"), "timeout must be greater than 0"));
                }
                if d.connect_timeout.is_some_and(|t| t.0.is_zero()) {
                    return Err(invalid(
                        dat("connect_timeout"),
                        "connect_timeout must be greater than 0",
                    ));
                }
                if d.first_token_timeout.is_some_and(|t| t.0.is_zero()) {
                    return Err(invalid(
                        dat("first_token_timeout"),
                        "first_token_timeout must be greater than 0",
                    ));
                }
                if let Some(p) = &d.pricing {
                    let prices = [
                        Some(p.input_per_mtok),
                        Some(p.output_per_mtok),
                        p.cached_input_per_mtok,
                        p.cache_write_per_mtok,
                        p.reasoning_per_mtok,
                        p.per_image,
                        p.per_audio_minute,
                        p.per_mchar,
                    ];
                    if prices.iter().flatten().any(|v| !v.is_finite() || *v < 0.0) {
                        return Err(invalid(
                            dat("pricing"),
                            "prices must be finite and not negative",
                        ));
                    }
                }
            }
        }
        self.validate_references()
    }

    /// Checks that fallbacks and conditional routes name defined models (run after
    /// every model is known).
    fn validate_references(&self) -> Result<(), Invalid> {
        let names: HashSet<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
        let missing = |name: &str| {
            let mut known: Vec<&str> = names.iter().copied().collect();
            known.sort_unstable();
            format!(
                "unknown model `{name}`; defined models: {}",
                known.join(", ")
            )
        };
        for (i, m) in self.models.iter().enumerate() {
            for (j, f) in m.fallbacks.iter().enumerate() {
                let at = vec![
                    Seg::key("models"),
                    Seg::Index(i),
                    Seg::key("fallbacks"),
                    Seg::Index(j),
                    Seg::key("model"),
                ];
                if !names.contains(f.model.as_str()) {
                    return Err(invalid(at, missing(&f.model)));
                }
                if f.model == m.name {
                    return Err(invalid(at, "a model cannot fall back to itself"));
                }
            }
            for (j, r) in m.route_if.iter().enumerate() {
                let at = vec![
                    Seg::key("models"),
                    Seg::Index(i),
                    Seg::key("route_if"),
                    Seg::Index(j),
                    Seg::key("model"),
                ];
                if !names.contains(r.model.as_str()) {
                    return Err(invalid(at, missing(&r.model)));
                }
                if r.model == m.name {
                    return Err(invalid(at, "a model cannot route to itself"));
                }
            }
            if m.hedge_after.is_some_and(|d| d.0.is_zero()) {
                return Err(invalid(
                    vec![Seg::key("models"), Seg::Index(i), Seg::key("hedge_after")],
                    "hedge_after must be greater than 0",
                ));
            }
        }
        if let Some(t) = &self.telemetry {
            if let Some(url) = &t.otlp_endpoint {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(invalid(
                        vec![Seg::key("telemetry"), Seg::key("otlp_endpoint")],
                        "otlp_endpoint must be an http:// or https:// URL (OTLP over HTTP)",
                    ));
                }
            }
            if t.sample_ratio.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
                return Err(invalid(
                    vec![Seg::key("telemetry"), Seg::key("sample_ratio")],
                    "sample_ratio must be between 0 and 1",
                ));
            }
        }
        if let Some(url) = &self.redis {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(invalid(
                    vec![Seg::key("redis")],
                    "redis must be a redis:// or rediss:// URL",
                ));
            }
        }
        Ok(())
    }

    /// The listen address: config value, else the default.
    pub fn listen_addr(&self) -> &str {
        self.listen.as_deref().unwrap_or(DEFAULT_LISTEN)
    }

    /// The database URL, resolving a relative SQLite path against the config file's folder.
    pub fn database_url(&self) -> String {
        let base = self
            .source
            .as_ref()
            .and_then(|p| p.parent())
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        match self.database.as_deref() {
            None => sqlite_url(&base.join("switchyard.db")),
            Some(url) => match url.strip_prefix("sqlite://") {
                Some(path) if !path.starts_with('/') && !path.starts_with(':') => {
                    let (file, query) = match path.split_once('?') {
                        Some((f, q)) => (f, Some(q)),
                        None => (path, None),
                    };
                    let mut resolved = sqlite_url(&base.join(file));
                    if let Some(q) = query {
                        resolved.push('?');
                        resolved.push_str(q);
                    }
                    resolved
                }
                _ => url.to_string(),
            },
        }
    }
}

fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}
