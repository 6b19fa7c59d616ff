//! Switchyard's pricing catalog.
//!
//! The catalog holds list prices in USD per million tokens for the major models of every
//! provider kind the gateway speaks to. It is compiled from each provider's official pricing
//! page (see `prices.json`: its `sources` map names the page per provider and `as_of` the
//! date of compilation) and embedded in the binary. The router's `cost` strategy uses it to
//! find the cheapest deployment for a request, governance uses it for per-request cost,
//! budgets and the ledger.
//!
//! Media models are priced in their own units where the provider bills that way:
//! [`Price::per_image`] (DALL·E, Imagen), [`Price::per_audio_minute`] (Whisper; also kept
//! beside the token rates of `gpt-4o-transcribe`, which bills audio tokens when it reports
//! them), [`Price::per_mchar`] (text-to-speech, Vertex text embeddings, which bill per input
//! character). Embedding models have an input rate and no output rate; `gpt-image-1` is
//! token-priced. [`Usage`] counts `images`, `audio_ms` and `characters` for them.
//!
//! Prices are the standard tier (no batch, flex or priority discount or premium) and the
//! shortest-context price band where a provider charges more for long prompts. Per-request
//! fees (web search and the like) are not modelled. A configuration can always override the
//! catalog with an explicit [`Price`].
//!
//! # Looking a model up
//!
//! [`lookup`] takes the deployment's provider kind (as written in the configuration, e.g.
//! `openai`, `azure`, `bedrock`) and the model id the provider is called with, and returns the
//! catalog entry or `None`. The model id is normalised so real-world ids match:
//!
//! * Matching is case-insensitive; surrounding whitespace is ignored.
//! * Path-like ids keep their last segment: OpenRouter-style `vendor/model`
//!   (`anthropic/claude-3.5-sonnet`), Gemini's `models/gemini-2.5-flash`, Vertex
//!   `projects/…/publishers/google/models/gemini-2.5-pro`, Fireworks
//!   `accounts/fireworks/models/…`, and Bedrock ARNs
//!   (`arn:aws:bedrock:…:inference-profile/us.anthropic.claude-…`).
//! * A Vertex version after `@` is dropped (`claude-sonnet-4-5@20250929`).
//! * A Bedrock cross-region prefix is dropped (`us.`, `us-gov.`, `eu.`, `apac.`, `jp.`, `au.`,
//!   `ca.`, `in.`, `global.`), then a `:tag` suffix (Bedrock's `:0`, OpenRouter's `:thinking`),
//!   then one `-vN` version suffix (`anthropic.claude-3-5-sonnet-20240620-v1:0`).
//! * Dated snapshots and aliases fall back to their family, repeatedly stripping a trailing
//!   `-latest`, `-YYYY-MM-DD`, `-YYYYMMDD`, `-MM-YYYY`, `-MM-DD`, `-0NN` (`-001`), `-NNNN`
//!   (`-2411`, `-0709`), `-preview`, `-exp` or `-experimental`. Every intermediate form is tried
//!   first, most specific first, so a snapshot priced differently from its family
//!   (`gpt-4o-2024-05-13`, `mistral-large-2411`) keeps its own entry.
//! * Then, for each form above: without a Bedrock vendor prefix (`anthropic.`, `meta.`,
//!   `amazon.`, `mistral.`, `openai.`, `deepseek.`, …), with `.` between digits spelled `-`
//!   (`claude-3.5-sonnet` → `claude-3-5-sonnet`), and Azure's `gpt-35` spelled `gpt-3.5`.
//! * Fine-tuned OpenAI models (`ft:…`) are never matched: they are priced differently from
//!   their base model. Ids longer than 512 bytes are never matched.
//!
//! The provider kind decides which tables are searched first:
//!
//! | provider kind | tables, in order |
//! |---|---|
//! | `openai` | openai |
//! | `azure` | openai (Azure deployments named like the model) |
//! | `anthropic` | anthropic |
//! | `gemini` | gemini |
//! | `vertex` | gemini, anthropic |
//! | `bedrock` | bedrock |
//! | `deepseek`, `groq`, `mistral`, `xai`, `together`, `fireworks`, `cerebras`, `perplexity` | their own |
//! | `openrouter`, `openai_compatible`, anything else | none |
//! | `ollama`, `vllm`, `lmstudio` | self-hosted: always `None` |
//!
//! When those tables have no entry, every other table is searched by model name in this
//! order: openai, anthropic, gemini, xai, deepseek, mistral, bedrock, groq, together,
//! fireworks, cerebras, perplexity (bedrock first when the id looks like a Bedrock id). So an
//! OpenRouter `anthropic/claude-sonnet-4.5` finds the Anthropic price and a Bedrock
//! `anthropic.claude-…` id sent through an OpenAI-compatible proxy finds the Bedrock price.
//! Provider kinds are matched case-insensitively, `-` and `_` alike.
//!
//! On Bedrock, geographic cross-region profiles (`us.`, `eu.`, …, not `global.`) of the Claude
//! models from Sonnet 4.5 / Haiku 4.5 on cost 10% more than the global profile; a lookup with
//! such a prefix returns the premium price.
//!
//! # Cost
//!
//! [`cost_usd`] prices a finished request from its [`Usage`]; [`estimate_usd`] gives the worst
//! case before the request is sent. Both return `0.0` rather than a non-finite or negative
//! amount.
//!
//! ```
//! use switchyard_pricing::{cost_usd, lookup, Usage};
//!
//! let Some(info) = lookup("bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0") else {
//!     return;
//! };
//! let usage = Usage { prompt_tokens: 2_000, completion_tokens: 500, ..Usage::default() };
//! // 2,000 × $0.80 + 500 × $4 per million tokens
//! assert!((cost_usd(&info.price, &usage) - 0.0036).abs() < 1e-12);
//! ```

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

/// Prices in USD per million tokens, and per unit for media (images, audio minutes,
/// characters).
///
/// The field names are the configuration's: `pricing: {input_per_mtok: 0.15, output_per_mtok: 0.60}`,
/// `pricing: {input_per_mtok: 0, output_per_mtok: 0, per_image: 0.04}`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Uncached input (prompt) tokens.
    pub input_per_mtok: f64,
    /// Output (completion) tokens, reasoning included unless `reasoning_per_mtok` is set.
    pub output_per_mtok: f64,
    /// Input tokens read from the provider's prompt cache; `input_per_mtok` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_per_mtok: Option<f64>,
    /// Input tokens written to the provider's prompt cache; `input_per_mtok` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_per_mtok: Option<f64>,
    /// Reasoning tokens, only where a provider bills them apart from output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_per_mtok: Option<f64>,
    /// USD per generated image (DALL·E, Imagen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_image: Option<f64>,
    /// USD per minute of audio transcribed (Whisper). Billed only when the usage carries no
    /// token counts the token rates could bill (see [`cost_usd`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_audio_minute: Option<f64>,
    /// USD per million characters of input (text-to-speech, Vertex text embeddings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_mchar: Option<f64>,
}

impl Price {
    /// A price with only input and output rates.
    pub fn new(input_per_mtok: f64, output_per_mtok: f64) -> Price {
        Price {
            input_per_mtok,
            output_per_mtok,
            cached_input_per_mtok: None,
            cache_write_per_mtok: None,
            reasoning_per_mtok: None,
            per_image: None,
            per_audio_minute: None,
            per_mchar: None,
        }
    }

    /// Whether any per-unit (image, audio minute, character) rate is set.
    pub fn has_unit_rates(&self) -> bool {
        self.per_image.is_some() || self.per_audio_minute.is_some() || self.per_mchar.is_some()
    }

    /// Whether every rate is a finite, non-negative number (what a configuration should hold).
    pub fn is_valid(&self) -> bool {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        ok(self.input_per_mtok)
            && ok(self.output_per_mtok)
            && self.cached_input_per_mtok.is_none_or(ok)
            && self.cache_write_per_mtok.is_none_or(ok)
            && self.reasoning_per_mtok.is_none_or(ok)
            && self.per_image.is_none_or(ok)
            && self.per_audio_minute.is_none_or(ok)
            && self.per_mchar.is_none_or(ok)
    }

    fn scaled(&self, factor: f64) -> Price {
        Price {
            input_per_mtok: self.input_per_mtok * factor,
            output_per_mtok: self.output_per_mtok * factor,
            cached_input_per_mtok: self.cached_input_per_mtok.map(|v| v * factor),
            cache_write_per_mtok: self.cache_write_per_mtok.map(|v| v * factor),
            reasoning_per_mtok: self.reasoning_per_mtok.map(|v| v * factor),
            per_image: self.per_image.map(|v| v * factor),
            per_audio_minute: self.per_audio_minute.map(|v| v * factor),
            per_mchar: self.per_mchar.map(|v| v * factor),
        }
    }
}

/// A catalog entry: the model's price and, where known, its limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub price: Price,
    /// Context window in tokens (input and output together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// Most output tokens one request can produce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output: Option<u64>,
}

impl ModelInfo {
    /// Worst-case cost of a request: `requested_max_output` output tokens (capped at the
    /// model's `max_output`), or the model's `max_output` when the request sets none, or no
    /// output at all when neither is known. See [`estimate_usd`].
    pub fn estimate_usd(&self, prompt_tokens: u64, requested_max_output: Option<u64>) -> f64 {
        let output = match (requested_max_output, self.max_output) {
            (Some(requested), Some(max)) => requested.min(max),
            (Some(requested), None) => requested,
            (None, Some(max)) => max,
            (None, None) => 0,
        };
        estimate_usd(&self.price, prompt_tokens, output)
    }
}

/// Token usage of one request, mirroring the gateway's canonical usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// All input tokens, cached and cache-written ones included.
    pub prompt_tokens: u64,
    /// All output tokens, reasoning included.
    pub completion_tokens: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Input tokens written to the provider's prompt cache.
    pub cache_write_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
    /// Images generated.
    pub images: u64,
    /// Milliseconds of audio transcribed.
    pub audio_ms: u64,
    /// Characters of input billed per character (text-to-speech input, Vertex embeddings).
    pub characters: u64,
}

/// The cost of a finished request in USD.
///
/// Uncached input (`prompt_tokens - cached_tokens - cache_write_tokens`, saturating) is billed
/// at `input_per_mtok`, cached tokens at `cached_input_per_mtok` (else `input_per_mtok`),
/// cache writes at `cache_write_per_mtok` (else `input_per_mtok`). Completion tokens are
/// billed at `output_per_mtok`, except that when `reasoning_per_mtok` is set the reasoning
/// tokens are billed at that rate and only the rest of the completion at `output_per_mtok`.
/// Counts are billed as reported.
///
/// Media units are added: `images` × `per_image`, `characters` × `per_mchar` / 10⁶, and
/// `audio_ms` at `per_audio_minute` — the latter only when the usage has no token count
/// the price's token rates could bill, so a model priced both ways (`gpt-4o-transcribe`:
/// audio tokens, or minutes) is billed by tokens when the provider reported them and by
/// the minute otherwise. A unit without a rate costs nothing.
/// Returns `0.0` instead of a non-finite or negative amount.
pub fn cost_usd(price: &Price, usage: &Usage) -> f64 {
    let uncached = usage
        .prompt_tokens
        .saturating_sub(usage.cached_tokens)
        .saturating_sub(usage.cache_write_tokens);
    let cached_rate = price.cached_input_per_mtok.unwrap_or(price.input_per_mtok);
    let write_rate = price.cache_write_per_mtok.unwrap_or(price.input_per_mtok);
    let (reasoning, reasoning_rate, output) = match price.reasoning_per_mtok {
        Some(rate) => (
            usage.reasoning_tokens,
            rate,
            usage
                .completion_tokens
                .saturating_sub(usage.reasoning_tokens),
        ),
        None => (0, 0.0, usage.completion_tokens),
    };
    let per_mtok = tokens(uncached) * price.input_per_mtok
        + tokens(usage.cached_tokens) * cached_rate
        + tokens(usage.cache_write_tokens) * write_rate
        + tokens(output) * price.output_per_mtok
        + tokens(reasoning) * reasoning_rate;
    let token_billed = (usage.prompt_tokens > 0 && price.input_per_mtok > 0.0)
        || (usage.completion_tokens > 0 && price.output_per_mtok > 0.0);
    let minutes = if token_billed {
        0.0
    } else {
        usage.audio_ms as f64 / 60_000.0
    };
    let units = tokens(usage.images) * price.per_image.unwrap_or(0.0)
        + minutes * price.per_audio_minute.unwrap_or(0.0)
        + tokens(usage.characters) * price.per_mchar.unwrap_or(0.0) / 1_000_000.0;
    sane(per_mtok / 1_000_000.0 + units)
}

/// Worst-case cost in USD of a request before it is sent: every prompt token at the uncached
/// input rate (no cache discount) and `max_output_tokens` at the output rate, or at the
/// reasoning rate when that is set and higher. Cache writes, which some providers bill above
/// the input rate, are not included. Returns `0.0` instead of a non-finite or negative amount.
pub fn estimate_usd(price: &Price, prompt_tokens: u64, max_output_tokens: u64) -> f64 {
    let output_rate = match price.reasoning_per_mtok {
        Some(rate) if rate > price.output_per_mtok => rate,
        _ => price.output_per_mtok,
    };
    let per_mtok =
        tokens(prompt_tokens) * price.input_per_mtok + tokens(max_output_tokens) * output_rate;
    sane(per_mtok / 1_000_000.0)
}

fn tokens(n: u64) -> f64 {
    n as f64
}

fn sane(usd: f64) -> f64 {
    if usd.is_finite() && usd > 0.0 {
        usd
    } else {
        0.0
    }
}

/// The catalog entry a lookup found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    /// The price table it was found in (`openai`, `bedrock`, …).
    pub table: &'static str,
    /// The entry's key in that table (the family name, e.g. `gpt-4o`).
    pub key: &'static str,
    /// Whether Bedrock's geographic cross-region premium was applied.
    pub geo_premium: bool,
    /// The entry's price (with any premium applied) and limits.
    pub info: &'static ModelInfo,
    /// The catalog's note on the entry (introductory price, long-prompt band, …).
    pub note: Option<&'static str>,
}

/// The catalog entry for `model` served by a deployment of `provider_kind`; see the module
/// documentation for how ids are normalised and which tables are searched.
pub fn lookup(provider_kind: &str, model: &str) -> Option<&'static ModelInfo> {
    resolve(provider_kind, model).map(|m| m.info)
}

/// Like [`lookup`], also telling which entry matched.
pub fn resolve(provider_kind: &str, model: &str) -> Option<Match> {
    let catalog = catalog();
    let preferred = match provider_tables(provider_kind) {
        Tables::SelfHosted => return None,
        Tables::Search(tables) => tables,
    };
    let candidates = Candidates::of(model);
    if candidates.names.is_empty() {
        return None;
    }
    for table in preferred {
        if let Some(found) = catalog.find(table, &candidates) {
            return Some(found);
        }
    }
    let bedrock_first = candidates.bedrock_like.then_some("bedrock");
    bedrock_first
        .into_iter()
        .chain(GLOBAL_ORDER.iter().copied())
        .filter(|table| !preferred.contains(table))
        .find_map(|table| catalog.find(table, &candidates))
}

/// The date the catalog was compiled (`YYYY-MM-DD`).
pub fn as_of() -> &'static str {
    &catalog().as_of
}

/// The official pricing page the catalog's prices for `provider` come from.
pub fn source_url(provider: &str) -> Option<&'static str> {
    catalog()
        .sources
        .get(&provider.trim().to_ascii_lowercase())
        .map(String::as_str)
}

/// Every provider with a source, and its official pricing page.
pub fn sources() -> impl Iterator<Item = (&'static str, &'static str)> {
    catalog()
        .sources
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// The names of the price tables (`openai`, `anthropic`, …).
pub fn tables() -> impl Iterator<Item = &'static str> {
    catalog().tables.keys().map(String::as_str)
}

/// The entries of one price table, by key.
pub fn models(table: &str) -> impl Iterator<Item = (&'static str, &'static ModelInfo)> {
    catalog()
        .tables
        .get(table)
        .into_iter()
        .flat_map(|t| t.entries.iter().map(|e| (e.key.as_str(), &e.info)))
}

/// Why the embedded catalog could not be loaded, if it could not (then every lookup misses).
pub fn catalog_error() -> Option<&'static str> {
    catalog().error.as_deref()
}

// ---------------------------------------------------------------------------------------------
// Catalog data

const PRICES_JSON: &str = include_str!("../prices.json");

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::parse(PRICES_JSON).unwrap_or_else(|error| Catalog {
        error: Some(error),
        ..Catalog::default()
    })
});

fn catalog() -> &'static Catalog {
    &CATALOG
}

/// Search order when the provider kind's own tables have no entry.
const GLOBAL_ORDER: &[&str] = &[
    "openai",
    "anthropic",
    "gemini",
    "xai",
    "deepseek",
    "mistral",
    "bedrock",
    "groq",
    "together",
    "fireworks",
    "cerebras",
    "perplexity",
];

enum Tables {
    SelfHosted,
    Search(&'static [&'static str]),
}

fn provider_tables(provider_kind: &str) -> Tables {
    let kind: String = provider_kind
        .trim()
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    Tables::Search(match kind.as_str() {
        "openai" => &["openai"],
        "azure" | "azure_openai" | "azureopenai" => &["openai"],
        "anthropic" => &["anthropic"],
        "gemini" | "google" | "google_ai" | "google_ai_studio" => &["gemini"],
        "vertex" | "vertex_ai" | "vertexai" | "google_vertex" => &["gemini", "anthropic"],
        "bedrock" | "aws_bedrock" => &["bedrock"],
        "deepseek" => &["deepseek"],
        "groq" => &["groq"],
        "mistral" | "mistralai" | "mistral_ai" => &["mistral"],
        "xai" | "x_ai" | "grok" => &["xai"],
        "together" | "together_ai" | "togetherai" => &["together"],
        "fireworks" | "fireworks_ai" | "fireworksai" => &["fireworks"],
        "cerebras" => &["cerebras"],
        "perplexity" => &["perplexity"],
        "ollama" | "vllm" | "lmstudio" | "lm_studio" => return Tables::SelfHosted,
        _ => &[],
    })
}

#[derive(Debug, Default)]
struct Catalog {
    as_of: String,
    sources: BTreeMap<String, String>,
    tables: BTreeMap<String, Table>,
    /// Bedrock entries with the geographic cross-region premium applied, by key.
    bedrock_geo: HashMap<String, ModelInfo>,
    error: Option<String>,
}

#[derive(Debug, Default)]
struct Table {
    entries: Vec<Entry>,
    /// Key or alias → index into `entries`.
    index: HashMap<String, usize>,
}

#[derive(Debug)]
struct Entry {
    key: String,
    info: ModelInfo,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    as_of: String,
    #[serde(default)]
    #[allow(dead_code)]
    currency: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    unit: Option<String>,
    sources: BTreeMap<String, String>,
    #[serde(default)]
    bedrock_geo_premium: Option<RawPremium>,
    providers: BTreeMap<String, BTreeMap<String, RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPremium {
    multiplier: f64,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
    models: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    /// Absent for models priced only per unit (images, minutes, characters).
    #[serde(default)]
    input: f64,
    #[serde(default)]
    output: f64,
    #[serde(default)]
    cached_input: Option<f64>,
    #[serde(default)]
    cache_write: Option<f64>,
    #[serde(default)]
    reasoning: Option<f64>,
    #[serde(default)]
    per_image: Option<f64>,
    #[serde(default)]
    per_audio_minute: Option<f64>,
    #[serde(default)]
    per_mchar: Option<f64>,
    #[serde(default)]
    context_window: Option<u64>,
    #[serde(default)]
    max_output: Option<u64>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    note: Option<String>,
}

impl Catalog {
    fn parse(text: &str) -> Result<Catalog, String> {
        let raw: RawCatalog =
            serde_json::from_str(text).map_err(|e| format!("prices.json: {e}"))?;
        let mut tables = BTreeMap::new();
        for (provider, models) in raw.providers {
            let provider = provider.to_ascii_lowercase();
            let mut table = Table::default();
            for (key, entry) in models {
                let key = key.trim().to_ascii_lowercase();
                let price = Price {
                    input_per_mtok: entry.input,
                    output_per_mtok: entry.output,
                    cached_input_per_mtok: entry.cached_input,
                    cache_write_per_mtok: entry.cache_write,
                    reasoning_per_mtok: entry.reasoning,
                    per_image: entry.per_image,
                    per_audio_minute: entry.per_audio_minute,
                    per_mchar: entry.per_mchar,
                };
                if !price.is_valid() {
                    return Err(format!("prices.json: {provider}/{key}: invalid price"));
                }
                let priced = price.input_per_mtok > 0.0
                    || price.output_per_mtok > 0.0
                    || [price.per_image, price.per_audio_minute, price.per_mchar]
                        .iter()
                        .any(|r| r.is_some_and(|r| r > 0.0));
                if !priced {
                    return Err(format!("prices.json: {provider}/{key}: no rate"));
                }
                let index = table.entries.len();
                for name in std::iter::once(key.clone()).chain(
                    entry
                        .aliases
                        .iter()
                        .map(|alias| alias.trim().to_ascii_lowercase()),
                ) {
                    if name.is_empty() || table.index.insert(name.clone(), index).is_some() {
                        return Err(format!(
                            "prices.json: {provider}: `{name}` names two entries"
                        ));
                    }
                }
                table.entries.push(Entry {
                    key,
                    info: ModelInfo {
                        price,
                        context_window: entry.context_window,
                        max_output: entry.max_output,
                    },
                    note: entry.note,
                });
            }
            tables.insert(provider, table);
        }
        let mut bedrock_geo = HashMap::new();
        if let Some(premium) = raw.bedrock_geo_premium {
            if !(premium.multiplier.is_finite() && premium.multiplier >= 1.0) {
                return Err("prices.json: bedrock_geo_premium: invalid multiplier".to_string());
            }
            let bedrock = tables.get("bedrock");
            for key in premium.models {
                let key = key.trim().to_ascii_lowercase();
                let entry = bedrock
                    .and_then(|t| t.index.get(&key).and_then(|&i| t.entries.get(i)))
                    .ok_or_else(|| {
                        format!("prices.json: bedrock_geo_premium: no bedrock entry `{key}`")
                    })?;
                let info = ModelInfo {
                    price: entry.info.price.scaled(premium.multiplier),
                    ..entry.info
                };
                bedrock_geo.insert(entry.key.clone(), info);
            }
        }
        Ok(Catalog {
            as_of: raw.as_of,
            sources: raw
                .sources
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            tables,
            bedrock_geo,
            error: None,
        })
    }

    fn find(&'static self, table_name: &str, candidates: &Candidates) -> Option<Match> {
        let (table_key, table) = self.tables.get_key_value(table_name)?;
        candidates.names.iter().find_map(|name| {
            let entry = table.entries.get(*table.index.get(name)?)?;
            let premium = (table_name == "bedrock" && candidates.geo)
                .then(|| self.bedrock_geo.get(&entry.key))
                .flatten();
            Some(Match {
                table: table_key.as_str(),
                key: entry.key.as_str(),
                geo_premium: premium.is_some(),
                info: premium.unwrap_or(&entry.info),
                note: entry.note.as_deref(),
            })
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Model-id normalisation

const MAX_MODEL_LEN: usize = 512;

const GEO_PREFIXES: &[&str] = &[
    "us", "us-gov", "eu", "apac", "jp", "au", "ca", "in", "global",
];

const VENDOR_PREFIXES: &[&str] = &[
    "anthropic",
    "meta",
    "amazon",
    "mistral",
    "openai",
    "deepseek",
    "cohere",
    "ai21",
    "writer",
    "qwen",
    "moonshot",
    "moonshotai",
    "google",
    "minimax",
    "zai",
];

/// The names a model id is looked up under, most specific first.
#[derive(Debug, Default)]
struct Candidates {
    names: Vec<String>,
    /// A geographic (not `global.`) Bedrock cross-region prefix was dropped.
    geo: bool,
    /// The id looks like a Bedrock id (cross-region or vendor prefix, or a Bedrock ARN).
    bedrock_like: bool,
}

impl Candidates {
    fn of(model: &str) -> Candidates {
        let mut out = Candidates::default();
        let model = model.trim();
        if model.is_empty() || model.len() > MAX_MODEL_LEN {
            return out;
        }
        let mut s = model.to_ascii_lowercase();
        if s.starts_with("ft:") {
            return out;
        }
        out.bedrock_like = s.starts_with("arn:aws:bedrock:") || s.starts_with("arn:aws-");
        out.push(&s);
        if let Some((_, last)) = s.rsplit_once('/') {
            s = last.to_string();
            out.push(&s);
        }
        if let Some((name, _version)) = s.split_once('@') {
            s = name.to_string();
            out.push(&s);
        }
        if let Some((head, rest)) = s.split_once('.') {
            if GEO_PREFIXES.contains(&head) && rest.contains('.') {
                out.geo = head != "global";
                out.bedrock_like = true;
                s = rest.to_string();
                out.push(&s);
            }
        }
        if let Some((name, tag)) = s.rsplit_once(':') {
            if !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
                s = name.to_string();
                out.push(&s);
            }
        }
        if let Some(stripped) = strip_version(&s) {
            s = stripped.to_string();
            out.push(&s);
        }
        while let Some(stripped) = strip_suffix(&s) {
            s = stripped.to_string();
            out.push(&s);
        }
        let chain = out.names.clone();
        for name in &chain {
            if let Some(rest) = strip_vendor(name) {
                out.bedrock_like = true;
                out.push(rest);
            }
        }
        let chain = out.names.clone();
        for name in &chain {
            if let Some(dashed) = dots_between_digits_to_dashes(name) {
                out.push(&dashed);
            }
            if name.contains("gpt-35") {
                out.push(&name.replace("gpt-35", "gpt-3.5"));
            }
        }
        out
    }

    fn push(&mut self, name: &str) {
        if !name.is_empty() && !self.names.iter().any(|n| n == name) {
            self.names.push(name.to_string());
        }
    }
}

/// Drops one Bedrock `-vN` version suffix.
fn strip_version(s: &str) -> Option<&str> {
    let (name, digits) = s.rsplit_once("-v")?;
    (!name.is_empty() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(name)
}

/// Drops one trailing snapshot or alias marker.
fn strip_suffix(s: &str) -> Option<&str> {
    for word in ["-latest", "-preview", "-experimental", "-exp"] {
        if let Some(rest) = s.strip_suffix(word) {
            if !rest.is_empty() {
                return Some(rest);
            }
        }
    }
    // Digit-group shapes of the tail, as (group lengths), each group preceded by '-'.
    const SHAPES: &[&[usize]] = &[&[4, 2, 2], &[8], &[2, 4], &[2, 2], &[3], &[4]];
    SHAPES.iter().find_map(|shape| {
        let rest = strip_digit_groups(s, shape)?;
        // A lone three-digit group only as a zero-padded revision (`-001`), not a size.
        if let [3] = **shape {
            if !s
                .get(rest.len()..)
                .is_some_and(|tail| tail.starts_with("-0"))
            {
                return None;
            }
        }
        (!rest.is_empty()).then_some(rest)
    })
}

/// If `s` ends with `-<g1 digits>-<g2 digits>…`, returns what precedes it.
fn strip_digit_groups<'a>(s: &'a str, groups: &[usize]) -> Option<&'a str> {
    // Byte-wise: the groups are ASCII, so `end` always lands on a char boundary.
    let bytes = s.as_bytes();
    let mut end = bytes.len();
    for &len in groups.iter().rev() {
        let start = end.checked_sub(len + 1)?;
        let (dash, digits) = bytes.get(start..end)?.split_first()?;
        if *dash != b'-' || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        end = start;
    }
    s.get(..end)
}

fn strip_vendor(s: &str) -> Option<&str> {
    let (head, rest) = s.split_once('.')?;
    (VENDOR_PREFIXES.contains(&head) && !rest.is_empty()).then_some(rest)
}

fn dots_between_digits_to_dashes(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut changed = false;
    let out: String = s
        .char_indices()
        .map(|(i, c)| {
            let between_digits = c == '.'
                && i > 0
                && bytes.get(i - 1).is_some_and(u8::is_ascii_digit)
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if between_digits {
                changed = true;
                '-'
            } else {
                c
            }
        })
        .collect();
    changed.then_some(out)
}

#[cfg(test)]
mod tests;
