#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0)
}

macro_rules! assert_close {
    ($actual:expr, $expected:expr) => {{
        let (a, e) = ($actual, $expected);
        assert!(close(a, e), "expected {e}, got {a}");
    }};
}

fn price(provider: &str, model: &str) -> Price {
    lookup(provider, model)
        .unwrap_or_else(|| panic!("no entry for {provider}/{model}"))
        .price
}

// ---------------------------------------------------------------------------------------------
// The data file

const TABLES: &[&str] = &[
    "openai",
    "anthropic",
    "gemini",
    "bedrock",
    "deepseek",
    "groq",
    "mistral",
    "xai",
    "together",
    "fireworks",
    "cerebras",
    "perplexity",
];

#[test]
fn data_file_parses() {
    assert_eq!(catalog_error(), None);
    let parsed = Catalog::parse(PRICES_JSON);
    assert!(parsed.is_ok(), "{:?}", parsed.err());
}

#[test]
fn as_of_is_a_date() {
    let date = as_of();
    let parts: Vec<&str> = date.split('-').collect();
    assert_eq!(parts.len(), 3, "{date}");
    assert_eq!(parts[0].len(), 4);
    assert_eq!(parts[1].len(), 2);
    assert_eq!(parts[2].len(), 2);
    assert!(parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())));
    assert!(date.as_bytes()[0] == b'2', "{date}");
}

#[test]
fn every_table_is_present_and_has_a_source() {
    let present: Vec<&str> = tables().collect();
    for table in TABLES {
        assert!(present.contains(table), "missing table {table}");
        assert!(models(table).count() > 0, "empty table {table}");
    }
    for table in present.iter().chain(["azure", "vertex"].iter()) {
        let url = source_url(table).unwrap_or_else(|| panic!("no source for {table}"));
        assert!(url.starts_with("https://"), "{table}: {url}");
    }
    assert_eq!(source_url("OpenAI"), source_url("openai"));
    assert!(sources().count() >= TABLES.len() + 2);
}

#[test]
fn every_entry_has_positive_prices_and_sane_limits() {
    let mut count = 0;
    for table in tables() {
        for (key, info) in models(table) {
            count += 1;
            let p = info.price;
            let what = format!("{table}/{key}");
            assert!(p.is_valid(), "{what}");
            // Media models: embeddings have no output tokens; images, audio minutes and
            // characters may be priced per unit only.
            let embedding = key.contains("embed");
            let units = p.has_unit_rates();
            assert!(p.input_per_mtok > 0.0 || units, "{what}: input");
            assert!(
                p.output_per_mtok > 0.0 || embedding || units,
                "{what}: output"
            );
            for rate in [p.per_image, p.per_audio_minute, p.per_mchar]
                .into_iter()
                .flatten()
            {
                assert!(rate > 0.0, "{what}: unit rate");
            }
            if let Some(cached) = p.cached_input_per_mtok {
                assert!(cached > 0.0 && cached <= p.input_per_mtok, "{what}: cached");
            }
            if let Some(write) = p.cache_write_per_mtok {
                assert!(write >= p.input_per_mtok, "{what}: cache write");
            }
            if let Some(reasoning) = p.reasoning_per_mtok {
                assert!(reasoning > 0.0, "{what}: reasoning");
            }
            if let (Some(window), Some(max)) = (info.context_window, info.max_output) {
                assert!(max <= window, "{what}: max_output above context window");
            }
            assert!(info.context_window.is_none_or(|w| w >= 4096), "{what}");
            assert!(info.max_output.is_none_or(|m| m >= 1024), "{what}");
            assert_eq!(key, key.to_ascii_lowercase(), "{what}: keys are lowercase");
        }
    }
    assert!(count >= 150, "only {count} entries");
}

#[test]
fn bedrock_claude_prices_match_anthropic() {
    let mut checked = 0;
    for (key, info) in models("bedrock") {
        let Some(name) = key.strip_prefix("anthropic.") else {
            continue;
        };
        let direct = models("anthropic")
            .find(|(k, _)| *k == name)
            .unwrap_or_else(|| panic!("bedrock {key} has no anthropic entry"));
        let (a, b) = (info.price, direct.1.price);
        assert_eq!(a.input_per_mtok, b.input_per_mtok, "{key}");
        assert_eq!(a.output_per_mtok, b.output_per_mtok, "{key}");
        checked += 1;
    }
    assert!(checked >= 15);
}

#[test]
fn geo_premium_list_names_bedrock_entries() {
    let catalog = catalog();
    assert!(!catalog.bedrock_geo.is_empty());
    for (key, premium) in &catalog.bedrock_geo {
        let base = models("bedrock").find(|(k, _)| k == key).unwrap().1;
        assert_close!(
            premium.price.input_per_mtok,
            base.price.input_per_mtok * 1.1
        );
        assert_eq!(premium.context_window, base.context_window);
    }
}

// ---------------------------------------------------------------------------------------------
// Lookups

#[test]
fn lookups_of_real_ids() {
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, &str)] = &[
        // OpenAI: dated snapshots fall back to their family; differently priced snapshots don't.
        ("openai", "gpt-4o", "openai", "gpt-4o"),
        ("openai", "gpt-4o-2024-08-06", "openai", "gpt-4o"),
        ("openai", "GPT-4o-2024-05-13", "openai", "gpt-4o-2024-05-13"),
        ("openai", "gpt-4o-mini-2024-07-18", "openai", "gpt-4o-mini"),
        ("openai", "chatgpt-4o-latest", "openai", "chatgpt-4o"),
        ("openai", "gpt-4.1-2025-04-14", "openai", "gpt-4.1"),
        ("openai", "gpt-4.1-nano", "openai", "gpt-4.1-nano"),
        ("openai", "o1-2024-12-17", "openai", "o1"),
        ("openai", "o1-preview-2024-09-12", "openai", "o1"),
        ("openai", "o3-mini-2025-01-31", "openai", "o3-mini"),
        ("openai", "o3-2025-04-16", "openai", "o3"),
        ("openai", "o4-mini-2025-04-16", "openai", "o4-mini"),
        ("openai", "gpt-5-2025-08-07", "openai", "gpt-5"),
        ("openai", "gpt-5-mini-2025-08-07", "openai", "gpt-5-mini"),
        ("openai", "gpt-5-chat-latest", "openai", "gpt-5-chat"),
        ("openai", "gpt-5-codex", "openai", "gpt-5"),
        ("openai", "gpt-5.1-2025-11-13", "openai", "gpt-5.1"),
        ("openai", "gpt-5.4-mini", "openai", "gpt-5.4-mini"),
        ("openai", "gpt-6.1-sol-2026-09-29", "openai", "gpt-6.1-sol"),
        ("openai", "gpt-3.5-turbo-0125", "openai", "gpt-3.5-turbo"),
        ("openai", "gpt-4-turbo-2024-04-09", "openai", "gpt-4-turbo"),
        ("openai", "gpt-4-0125-preview", "openai", "gpt-4-turbo"),
        ("openai", "  GPT-5.4-Nano  ", "openai", "gpt-5.4-nano"),
        // Azure: deployments named like the model, OpenAI prices.
        ("azure", "gpt-4o", "openai", "gpt-4o"),
        ("azure", "gpt-35-turbo", "openai", "gpt-3.5-turbo"),
        ("azure", "gpt-4o-mini-2024-07-18", "openai", "gpt-4o-mini"),
        ("Azure-OpenAI", "gpt-4.1", "openai", "gpt-4.1"),
        // Anthropic.
        ("anthropic", "claude-3-5-haiku-20241022", "anthropic", "claude-3-5-haiku"),
        ("anthropic", "claude-3-5-sonnet-latest", "anthropic", "claude-3-5-sonnet"),
        ("anthropic", "claude-3-7-sonnet-20250219", "anthropic", "claude-3-7-sonnet"),
        ("anthropic", "claude-sonnet-4-20250514", "anthropic", "claude-sonnet-4"),
        ("anthropic", "claude-sonnet-4-0", "anthropic", "claude-sonnet-4"),
        ("anthropic", "claude-opus-4-20250514", "anthropic", "claude-opus-4"),
        ("anthropic", "claude-opus-4-1-20250805", "anthropic", "claude-opus-4-1"),
        ("anthropic", "claude-sonnet-4-5-20250929", "anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5-20251001", "anthropic", "claude-haiku-4-5"),
        ("anthropic", "claude-opus-4-5-20251101", "anthropic", "claude-opus-4-5"),
        ("anthropic", "claude-opus-4-6", "anthropic", "claude-opus-4-6"),
        ("anthropic", "claude-3-haiku-20240307", "anthropic", "claude-3-haiku"),
        ("anthropic", "claude-3-opus-20240229", "anthropic", "claude-3-opus"),
        // Vertex: Claude with @version, Gemini by resource path.
        ("vertex", "claude-sonnet-4-5@20250929", "anthropic", "claude-sonnet-4-5"),
        ("vertex", "claude-3-5-sonnet-v2@20241022", "anthropic", "claude-3-5-sonnet"),
        ("vertex", "publishers/anthropic/models/claude-opus-4-1@20250805", "anthropic", "claude-opus-4-1"),
        ("vertex", "gemini-2.5-pro", "gemini", "gemini-2.5-pro"),
        ("vertex", "projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash-001", "gemini", "gemini-2.0-flash"),
        ("vertex_ai", "gemini-2.5-flash", "gemini", "gemini-2.5-flash"),
        // Gemini.
        ("gemini", "models/gemini-2.5-flash", "gemini", "gemini-2.5-flash"),
        ("gemini", "gemini-2.5-flash-preview-05-20", "gemini", "gemini-2.5-flash"),
        ("gemini", "gemini-2.5-flash-lite-preview-09-2025", "gemini", "gemini-2.5-flash-lite"),
        ("gemini", "gemini-1.5-pro-002", "gemini", "gemini-1.5-pro"),
        ("gemini", "gemini-1.5-flash-latest", "gemini", "gemini-1.5-flash"),
        ("gemini", "gemini-2.0-flash-exp", "gemini", "gemini-2.0-flash"),
        ("gemini", "gemini-3-pro-preview", "gemini", "gemini-3-pro-preview"),
        ("gemini", "models/gemini-3.5-flash", "gemini", "gemini-3.5-flash"),
        // Bedrock: version suffixes, cross-region prefixes, ARNs.
        ("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", "bedrock", "anthropic.claude-3-5-sonnet"),
        ("bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0", "bedrock", "anthropic.claude-3-5-sonnet"),
        ("bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0", "bedrock", "anthropic.claude-3-5-haiku"),
        ("bedrock", "eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "bedrock", "anthropic.claude-3-7-sonnet"),
        ("bedrock", "apac.anthropic.claude-sonnet-4-20250514-v1:0", "bedrock", "anthropic.claude-sonnet-4"),
        ("bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock", "anthropic.claude-sonnet-4-5"),
        ("bedrock", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock", "anthropic.claude-sonnet-4-5"),
        ("bedrock", "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "bedrock", "anthropic.claude-3-haiku"),
        ("bedrock", "anthropic.claude-opus-4-6-v1", "bedrock", "anthropic.claude-opus-4-6"),
        ("bedrock", "global.anthropic.claude-opus-4-8", "bedrock", "anthropic.claude-opus-4-8"),
        ("bedrock", "amazon.nova-pro-v1:0", "bedrock", "amazon.nova-pro"),
        ("bedrock", "us.amazon.nova-lite-v1:0", "bedrock", "amazon.nova-lite"),
        ("bedrock", "amazon.nova-micro-v1:0", "bedrock", "amazon.nova-micro"),
        ("bedrock", "meta.llama3-3-70b-instruct-v1:0", "bedrock", "meta.llama3-3-70b-instruct"),
        ("bedrock", "us.meta.llama4-maverick-17b-instruct-v1:0", "bedrock", "meta.llama4-maverick-17b-instruct"),
        ("bedrock", "meta.llama3-1-8b-instruct-v1:0", "bedrock", "meta.llama3-1-8b-instruct"),
        ("bedrock", "mistral.mistral-large-2402-v1:0", "bedrock", "mistral.mistral-large-2402"),
        ("bedrock", "mistral.mistral-large-2407-v1:0", "bedrock", "mistral.mistral-large-2407"),
        ("bedrock", "mistral.mistral-7b-instruct-v0:2", "bedrock", "mistral.mistral-7b-instruct"),
        ("bedrock", "mistral.mixtral-8x7b-instruct-v0:1", "bedrock", "mistral.mixtral-8x7b-instruct"),
        ("bedrock", "us.deepseek.r1-v1:0", "bedrock", "deepseek.r1"),
        ("bedrock", "openai.gpt-oss-120b-1:0", "bedrock", "openai.gpt-oss-120b"),
        // Not in the Bedrock table: found in the Anthropic table by model name.
        ("bedrock", "anthropic.claude-mythos-5", "anthropic", "claude-mythos-5"),
        // DeepSeek.
        ("deepseek", "deepseek-chat", "deepseek", "deepseek-flash"),
        ("deepseek", "deepseek-reasoner", "deepseek", "deepseek-flash"),
        ("deepseek", "deepseek-v4-pro", "deepseek", "deepseek-v4-pro"),
        // Groq.
        ("groq", "llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile"),
        ("groq", "llama-3.1-8b-instant", "groq", "llama-3.1-8b-instant"),
        ("groq", "openai/gpt-oss-120b", "groq", "gpt-oss-120b"),
        ("groq", "meta-llama/llama-4-scout-17b-16e-instruct", "groq", "llama-4-scout-17b-16e-instruct"),
        ("groq", "moonshotai/kimi-k2-instruct-0905", "groq", "kimi-k2-instruct"),
        // Mistral.
        ("mistral", "mistral-large-latest", "mistral", "mistral-large"),
        ("mistral", "mistral-large-2512", "mistral", "mistral-large"),
        ("mistral", "mistral-large-2411", "mistral", "mistral-large-2411"),
        ("mistral", "mistral-large-2407", "mistral", "mistral-large-2411"),
        ("mistral", "mistral-small-2506", "mistral", "mistral-small"),
        ("mistral", "mistral-medium-2508", "mistral", "mistral-medium-2508"),
        ("mistral", "mistral-medium-latest", "mistral", "mistral-medium"),
        ("mistral", "codestral-2508", "mistral", "codestral"),
        ("mistral", "ministral-8b-2410", "mistral", "ministral-8b-2410"),
        ("mistral", "ministral-8b-latest", "mistral", "ministral-8b"),
        ("mistral", "magistral-medium-2509", "mistral", "magistral-medium"),
        // xAI.
        ("xai", "grok-4-0709", "xai", "grok-4"),
        ("xai", "grok-3-latest", "xai", "grok-3"),
        ("xai", "grok-3-mini", "xai", "grok-3-mini"),
        ("xai", "grok-4.7", "xai", "grok-4.7"),
        ("xai", "grok-4-1-fast-reasoning", "xai", "grok-4-1-fast-reasoning"),
        ("xai", "grok-4-fast-non-reasoning", "xai", "grok-4-fast-non-reasoning"),
        ("xai", "grok-code-fast-1", "xai", "grok-code-fast-1"),
        // Together, Fireworks, Cerebras, Perplexity.
        ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "together", "llama-3.3-70b-instruct-turbo"),
        ("together", "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", "together", "meta-llama-3.1-8b-instruct-turbo"),
        ("together", "deepseek-ai/DeepSeek-R1", "together", "deepseek-r1"),
        ("together", "openai/gpt-oss-120b", "together", "gpt-oss-120b"),
        ("fireworks", "accounts/fireworks/models/llama-v3p3-70b-instruct", "fireworks", "llama-v3p3-70b-instruct"),
        ("fireworks", "accounts/fireworks/models/kimi-k2p6", "fireworks", "kimi-k2p6"),
        ("fireworks", "accounts/fireworks/models/gpt-oss-120b", "fireworks", "gpt-oss-120b"),
        ("cerebras", "gpt-oss-120b", "cerebras", "gpt-oss-120b"),
        ("cerebras", "llama3.1-8b", "cerebras", "llama3.1-8b"),
        ("perplexity", "sonar", "perplexity", "sonar"),
        ("perplexity", "sonar-pro", "perplexity", "sonar-pro"),
        ("perplexity", "sonar-deep-research", "perplexity", "sonar-deep-research"),
        // OpenRouter-style vendor/model: global lookup by name.
        ("openrouter", "anthropic/claude-3.5-sonnet", "anthropic", "claude-3-5-sonnet"),
        ("openrouter", "anthropic/claude-sonnet-4.5", "anthropic", "claude-sonnet-4-5"),
        ("openrouter", "anthropic/claude-3.7-sonnet:thinking", "anthropic", "claude-3-7-sonnet"),
        ("openrouter", "openai/gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("openrouter", "google/gemini-2.5-pro", "gemini", "gemini-2.5-pro"),
        ("openrouter", "x-ai/grok-4", "xai", "grok-4"),
        ("openrouter", "x-ai/grok-4.1-fast", "xai", "grok-4-1-fast-reasoning"),
        ("openrouter", "deepseek/deepseek-chat", "deepseek", "deepseek-flash"),
        ("openrouter", "mistralai/mistral-large-2411", "mistral", "mistral-large-2411"),
        ("openrouter", "openai/gpt-oss-120b", "groq", "gpt-oss-120b"),
        ("openrouter", "perplexity/sonar-reasoning-pro", "perplexity", "sonar-reasoning-pro"),
        // OpenAI-compatible proxies and unknown kinds: global lookup; Bedrock ids go to Bedrock.
        ("openai_compatible", "gpt-4o", "openai", "gpt-4o"),
        ("openai-compatible", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock", "anthropic.claude-sonnet-4-5"),
        ("openai_compatible", "anthropic.claude-3-haiku-20240307-v1:0", "bedrock", "anthropic.claude-3-haiku"),
        ("something-new", "claude-haiku-4-5", "anthropic", "claude-haiku-4-5"),
        ("", "gemini-2.5-flash", "gemini", "gemini-2.5-flash"),
        // The provider's own table wins over others holding the same name.
        ("OpenAI", "GPT-4O", "openai", "gpt-4o"),
        ("cerebras", "openai/gpt-oss-120b", "cerebras", "gpt-oss-120b"),
        ("fireworks", "deepseek-v4-pro", "fireworks", "deepseek-v4-pro"),
    ];
    for &(provider, model, table, key) in cases {
        let found = resolve(provider, model)
            .unwrap_or_else(|| panic!("{provider}/{model}: no entry, expected {table}/{key}"));
        assert_eq!((found.table, found.key), (table, key), "{provider}/{model}");
        assert_eq!(
            lookup(provider, model),
            Some(found.info),
            "{provider}/{model}"
        );
    }
}

#[test]
fn misses_return_none() {
    let long = "x".repeat(600);
    let cases: &[(&str, &str)] = &[
        ("openai", "gpt-9-ultra"),
        ("openai", "gpt"),
        ("openai", ""),
        ("openai", "   "),
        ("openai", "-latest"),
        ("openai", &long),
        // Fine-tuned models are priced apart from their base model.
        ("openai", "ft:gpt-4o-mini-2024-07-18:acme::9abcDEF1"),
        // Self-hosted servers have no list price.
        ("ollama", "llama3.1:8b"),
        ("vllm", "meta-llama/Llama-3.3-70B-Instruct"),
        ("lmstudio", "gpt-4o"),
        ("LM-Studio", "gpt-4o"),
        // Deployments not named like a model.
        ("azure", "my-prod-deployment"),
        (
            "bedrock",
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4",
        ),
        ("anthropic", "claude-2.1"),
        ("gemini", "gemini-pro-vision"),
        ("openrouter", "some-vendor/some-model"),
        ("groq", "/"),
        ("bedrock", "us."),
        ("bedrock", ":0"),
        ("vertex", "@20250929"),
    ];
    for &(provider, model) in cases {
        assert_eq!(resolve(provider, model), None, "{provider}/{model:.40}");
        assert_eq!(lookup(provider, model), None, "{provider}/{model:.40}");
    }
}

#[test]
fn odd_inputs_do_not_panic() {
    let inputs = [
        "",
        "/",
        "//",
        "@",
        ":",
        "-",
        ".",
        "..",
        "us..",
        "global.",
        "-v",
        "-v1",
        "a-v",
        "-0001",
        "-2024-01-01",
        "gpt-4o-",
        "claude-3.",
        ".5",
        "5.",
        "é.ü-ß@ñ:ø/漢字-2024",
        "gpt-4o-2024-08-0é",
        "arn:aws:bedrock:",
        "ft:",
        "a@b@c",
        "x:y:z",
        "\u{0}\u{7f}",
    ];
    for provider in ["openai", "bedrock", "vertex", "openrouter", "", "ollama"] {
        for model in inputs {
            let _ = resolve(provider, model);
            let _ = lookup(provider, model);
        }
    }
}

#[test]
fn short_strings_over_a_hostile_alphabet_do_not_panic() {
    let alphabet = [
        "-", ".", ":", "@", "/", "0", "1", "v", "a", "é", "字", "us", "-v1", "2024",
    ];
    let mut model = String::new();
    for a in alphabet {
        for b in alphabet {
            for c in alphabet {
                for d in alphabet {
                    model.clear();
                    model.extend([a, b, c, d]);
                    let _ = resolve("bedrock", &model);
                    let _ = resolve("openrouter", &model);
                }
            }
        }
    }
}

#[test]
fn prices_of_representative_models() {
    let p = price("openai", "gpt-4o-2024-08-06");
    assert_eq!(
        (p.input_per_mtok, p.output_per_mtok, p.cached_input_per_mtok),
        (2.5, 10.0, Some(1.25))
    );
    let p = price("anthropic", "claude-sonnet-4-5-20250929");
    assert_eq!(
        (
            p.input_per_mtok,
            p.output_per_mtok,
            p.cached_input_per_mtok,
            p.cache_write_per_mtok
        ),
        (3.0, 15.0, Some(0.3), Some(3.75))
    );
    let p = price("gemini", "models/gemini-2.5-flash");
    assert_eq!((p.input_per_mtok, p.output_per_mtok), (0.3, 2.5));
    let p = price("perplexity", "sonar-deep-research");
    assert_eq!(p.reasoning_per_mtok, Some(3.0));
    let info = lookup("openai", "gpt-4.1").unwrap();
    assert_eq!(
        (info.context_window, info.max_output),
        (Some(1_047_576), Some(32_768))
    );
    // A differently priced snapshot keeps its own price.
    assert_eq!(price("openai", "gpt-4o-2024-05-13").input_per_mtok, 5.0);
    assert_eq!(price("mistral", "mistral-large-2411").input_per_mtok, 2.0);
    assert_eq!(price("mistral", "mistral-large-latest").input_per_mtok, 0.5);
}

#[test]
fn bedrock_geo_profiles_carry_the_premium() {
    let geo = resolve("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0").unwrap();
    assert!(geo.geo_premium);
    assert_close!(geo.info.price.input_per_mtok, 3.3);
    assert_close!(geo.info.price.output_per_mtok, 16.5);
    assert_close!(geo.info.price.cached_input_per_mtok.unwrap(), 0.33);
    assert_close!(geo.info.price.cache_write_per_mtok.unwrap(), 4.125);
    assert_eq!(geo.info.context_window, Some(200_000));

    let eu = resolve("bedrock", "eu.anthropic.claude-haiku-4-5-20251001-v1:0").unwrap();
    assert!(eu.geo_premium);
    assert_close!(eu.info.price.input_per_mtok, 1.1);

    for global in [
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
    ] {
        let found = resolve("bedrock", global).unwrap();
        assert!(!found.geo_premium, "{global}");
        assert_eq!(found.info.price.input_per_mtok, 3.0, "{global}");
    }
    // Older models have no global profile and no premium.
    let old = resolve("bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0").unwrap();
    assert!(!old.geo_premium);
    assert_eq!(old.info.price.input_per_mtok, 0.8);
    // The premium is Bedrock's: the same id found through a proxy by name in the
    // Anthropic table would not carry it, but Bedrock-looking ids go to Bedrock first.
    let proxied = resolve("openai_compatible", "us.anthropic.claude-opus-4-6-v1").unwrap();
    assert!(proxied.geo_premium);
    assert_close!(proxied.info.price.input_per_mtok, 5.5);
}

#[test]
fn notes_are_reported() {
    let found = resolve("openai", "gpt-5.6-sol").unwrap();
    assert!(found.note.is_some_and(|n| n.contains("promotional")));
    assert_eq!(resolve("openai", "gpt-4o").unwrap().note, None);
}

// ---------------------------------------------------------------------------------------------
// Normalisation details

fn names(model: &str) -> Vec<String> {
    Candidates::of(model).names
}

#[test]
fn candidates_go_from_specific_to_general() {
    assert_eq!(
        names("us.anthropic.claude-3-5-sonnet-20240620-v1:0"),
        [
            "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "anthropic.claude-3-5-sonnet-20240620-v1",
            "anthropic.claude-3-5-sonnet-20240620",
            "anthropic.claude-3-5-sonnet",
            "claude-3-5-sonnet-20240620-v1:0",
            "claude-3-5-sonnet-20240620-v1",
            "claude-3-5-sonnet-20240620",
            "claude-3-5-sonnet",
        ]
    );
    assert_eq!(names("gpt-4o-2024-08-06"), ["gpt-4o-2024-08-06", "gpt-4o"]);
    assert_eq!(
        names("gemini-2.5-flash-preview-05-20"),
        [
            "gemini-2.5-flash-preview-05-20",
            "gemini-2.5-flash-preview",
            "gemini-2.5-flash",
            "gemini-2-5-flash-preview-05-20",
            "gemini-2-5-flash-preview",
            "gemini-2-5-flash",
        ]
    );
    let c = Candidates::of("eu.meta.llama3-3-70b-instruct-v1:0");
    assert!(c.geo && c.bedrock_like);
    let c = Candidates::of("global.anthropic.claude-opus-4-8");
    assert!(!c.geo && c.bedrock_like);
    let c = Candidates::of("gpt-4o");
    assert!(!c.geo && !c.bedrock_like);
}

#[test]
fn suffix_stripping() {
    assert_eq!(strip_suffix("gpt-4o-2024-08-06"), Some("gpt-4o"));
    assert_eq!(
        strip_suffix("claude-3-haiku-20240307"),
        Some("claude-3-haiku")
    );
    assert_eq!(
        strip_suffix("x-flash-lite-preview-09-2025"),
        Some("x-flash-lite-preview")
    );
    assert_eq!(
        strip_suffix("gemini-2.0-flash-001"),
        Some("gemini-2.0-flash")
    );
    assert_eq!(strip_suffix("mistral-large-2411"), Some("mistral-large"));
    assert_eq!(
        strip_suffix("claude-3-5-sonnet-latest"),
        Some("claude-3-5-sonnet")
    );
    assert_eq!(
        strip_suffix("gemini-2.0-flash-exp"),
        Some("gemini-2.0-flash")
    );
    // Sizes and single-digit versions are kept.
    assert_eq!(strip_suffix("gpt-oss-120"), None);
    assert_eq!(strip_suffix("claude-opus-4-5"), None);
    assert_eq!(strip_suffix("qwen3-32b"), None);
    assert_eq!(strip_suffix("-2024"), None);
    assert_eq!(strip_suffix("-latest"), None);
    assert_eq!(
        strip_version("anthropic.claude-opus-4-6-v1"),
        Some("anthropic.claude-opus-4-6")
    );
    assert_eq!(strip_version("deepseek-v3"), Some("deepseek"));
    assert_eq!(strip_version("-v1"), None);
    assert_eq!(strip_version("x-v"), None);
    assert_eq!(
        dots_between_digits_to_dashes("claude-3.5-sonnet").as_deref(),
        Some("claude-3-5-sonnet")
    );
    assert_eq!(dots_between_digits_to_dashes("meta.llama3"), None);
}

// ---------------------------------------------------------------------------------------------
// Cost arithmetic (hand-computed)

#[test]
fn cost_with_cached_input() {
    // gpt-4o: $2.50 in, $1.25 cached, $10 out.
    let p = price("openai", "gpt-4o");
    let usage = Usage {
        prompt_tokens: 10_000,
        cached_tokens: 4_000,
        completion_tokens: 1_000,
        ..Usage::default()
    };
    // 6,000 × 2.50 + 4,000 × 1.25 + 1,000 × 10 = 15,000 + 5,000 + 10,000 = 30,000 µ$ → $0.03
    assert_close!(cost_usd(&p, &usage), 0.03);
}

#[test]
fn cost_with_cache_reads_and_writes() {
    // claude-sonnet-4-5: $3 in, $0.30 cache read, $3.75 cache write, $15 out.
    let p = price("anthropic", "claude-sonnet-4-5");
    let usage = Usage {
        prompt_tokens: 100_000,
        cached_tokens: 60_000,
        cache_write_tokens: 30_000,
        completion_tokens: 2_000,
        reasoning_tokens: 500,
        ..Usage::default()
    };
    // uncached 10,000 × 3 = 30,000; cached 60,000 × 0.30 = 18,000;
    // writes 30,000 × 3.75 = 112,500; output (reasoning included) 2,000 × 15 = 30,000.
    // 190,500 / 1e6 = $0.1905
    assert_close!(cost_usd(&p, &usage), 0.1905);
}

#[test]
fn cost_with_separately_billed_reasoning() {
    let p = Price {
        reasoning_per_mtok: Some(3.0),
        ..Price::new(2.0, 8.0)
    };
    let usage = Usage {
        prompt_tokens: 1_000,
        completion_tokens: 5_000,
        reasoning_tokens: 4_000,
        ..Usage::default()
    };
    // 1,000 × 2 + (5,000 − 4,000) × 8 + 4,000 × 3 = 2,000 + 8,000 + 12,000 = 22,000 µ$
    assert_close!(cost_usd(&p, &usage), 0.022);
    // The catalog's sonar-deep-research has the same rates.
    assert_close!(
        cost_usd(&price("perplexity", "sonar-deep-research"), &usage),
        0.022
    );
}

#[test]
fn cost_without_cache_rates_bills_cache_tokens_as_input() {
    let p = Price::new(1.0, 2.0);
    let usage = Usage {
        prompt_tokens: 1_000_000,
        cached_tokens: 500_000,
        cache_write_tokens: 100_000,
        completion_tokens: 250_000,
        reasoning_tokens: 100_000,
        ..Usage::default()
    };
    // 1,000,000 × 1 + 250,000 × 2 = $1.50
    assert_close!(cost_usd(&p, &usage), 1.5);
}

#[test]
fn cost_saturates_inconsistent_usage() {
    let p = Price {
        cached_input_per_mtok: Some(0.5),
        cache_write_per_mtok: Some(2.0),
        ..Price::new(1.0, 4.0)
    };
    // Cached + written exceed the prompt: no uncached input, the rest billed as reported.
    let usage = Usage {
        prompt_tokens: 100,
        cached_tokens: 80,
        cache_write_tokens: 50,
        completion_tokens: 0,
        reasoning_tokens: 0,
        ..Usage::default()
    };
    // 80 × 0.5 + 50 × 2 = 140 µ$
    assert_close!(cost_usd(&p, &usage), 0.000_14);
    assert_eq!(cost_usd(&p, &Usage::default()), 0.0);
}

#[test]
fn cost_and_estimate_are_never_non_finite_or_negative() {
    let usage = Usage {
        prompt_tokens: u64::MAX,
        completion_tokens: u64::MAX,
        cached_tokens: 1,
        cache_write_tokens: 1,
        reasoning_tokens: 1,
        ..Usage::default()
    };
    for p in [
        Price::new(f64::INFINITY, 1.0),
        Price::new(f64::NAN, 1.0),
        Price::new(1.0, f64::NEG_INFINITY),
        Price::new(f64::MAX, f64::MAX),
        Price::new(-1.0, -1.0),
        Price {
            cached_input_per_mtok: Some(f64::NAN),
            ..Price::new(1.0, 1.0)
        },
    ] {
        let cost = cost_usd(&p, &usage);
        assert!(cost.is_finite() && cost >= 0.0, "{p:?}: {cost}");
        let estimate = estimate_usd(&p, u64::MAX, u64::MAX);
        assert!(estimate.is_finite() && estimate >= 0.0, "{p:?}: {estimate}");
    }
    assert_eq!(estimate_usd(&Price::new(f64::NAN, 1.0), 10, 10), 0.0);
}

#[test]
fn estimate_is_the_worst_case() {
    let p = price("openai", "gpt-4o");
    // 10,000 × 2.50 + 1,000 × 10 = 35,000 µ$ (no cache discount)
    assert_close!(estimate_usd(&p, 10_000, 1_000), 0.035);
    // Reasoning billed above output: all output at the reasoning rate.
    let p = Price {
        reasoning_per_mtok: Some(5.0),
        ..Price::new(1.0, 2.0)
    };
    assert_close!(estimate_usd(&p, 1_000_000, 1_000_000), 6.0);
    // Reasoning billed below output: output rate.
    let p = Price {
        reasoning_per_mtok: Some(3.0),
        ..Price::new(2.0, 8.0)
    };
    assert_close!(estimate_usd(&p, 0, 1_000_000), 8.0);
}

#[test]
fn model_estimate_uses_the_model_limit() {
    let info = lookup("openai", "gpt-4o").unwrap();
    // No max_tokens on the request: the model's 16,384 output tokens.
    // 10,000 × 2.50 + 16,384 × 10 = 188,840 µ$
    assert_close!(info.estimate_usd(10_000, None), 0.188_84);
    assert_close!(info.estimate_usd(10_000, Some(100_000)), 0.188_84);
    assert_close!(info.estimate_usd(10_000, Some(1_000)), 0.035);
    let bare = ModelInfo {
        price: Price::new(1.0, 1.0),
        context_window: None,
        max_output: None,
    };
    assert_close!(bare.estimate_usd(1_000_000, None), 1.0);
    assert_close!(bare.estimate_usd(1_000_000, Some(1_000_000)), 2.0);
}

// ---------------------------------------------------------------------------------------------
// Price as configuration, catalog parse errors

#[test]
fn price_deserialises_from_configuration() {
    let p: Price =
        serde_json::from_str(r#"{"input_per_mtok": 0.15, "output_per_mtok": 0.60}"#).unwrap();
    assert_eq!(p, Price::new(0.15, 0.60));
    let p: Price = serde_json::from_str(
        r#"{"input_per_mtok": 3, "output_per_mtok": 15, "cached_input_per_mtok": 0.3,
            "cache_write_per_mtok": 3.75, "reasoning_per_mtok": 15}"#,
    )
    .unwrap();
    assert_eq!(p.cache_write_per_mtok, Some(3.75));
    assert!(p.is_valid());
    assert!(serde_json::from_str::<Price>(r#"{"input_per_mtok": 1}"#).is_err());
    assert!(serde_json::from_str::<Price>(
        r#"{"input_per_mtok": 1, "output_per_mtok": 1, "input": 2}"#
    )
    .is_err());
    // Round trip leaves absent rates out.
    let json = serde_json::to_string(&Price::new(1.0, 2.0)).unwrap();
    assert_eq!(json, r#"{"input_per_mtok":1.0,"output_per_mtok":2.0}"#);
    assert!(!Price::new(-0.1, 1.0).is_valid());
    assert!(!Price::new(1.0, f64::INFINITY).is_valid());
    assert!(!Price {
        cache_write_per_mtok: Some(f64::NAN),
        ..Price::new(1.0, 1.0)
    }
    .is_valid());
}

#[test]
fn catalog_parse_rejects_bad_data() {
    let ok = r#"{"as_of": "2026-01-01", "sources": {}, "providers": {"x": {"m": {"input": 1, "output": 2}}}}"#;
    assert!(Catalog::parse(ok).is_ok());
    let bad = [
        "not json",
        r#"{"as_of": "2026-01-01", "sources": {}}"#,
        r#"{"as_of": "2026-01-01", "sources": {}, "providers": {"x": {"m": {"input": -1, "output": 2}}}}"#,
        r#"{"as_of": "2026-01-01", "sources": {}, "providers": {"x": {"m": {"input": 1, "output": 2, "colour": 1}}}}"#,
        r#"{"as_of": "2026-01-01", "sources": {}, "providers": {"x": {"m": {"input": 1, "output": 2, "aliases": ["n"]}, "n": {"input": 1, "output": 2}}}}"#,
        r#"{"as_of": "2026-01-01", "sources": {}, "providers": {"x": {"m": {"input": 1, "output": 2, "aliases": [""]}}}}"#,
        r#"{"as_of": "2026-01-01", "sources": {}, "bedrock_geo_premium": {"multiplier": 1.1, "models": ["nope"]}, "providers": {"bedrock": {}}}"#,
        r#"{"as_of": "2026-01-01", "sources": {}, "bedrock_geo_premium": {"multiplier": 0.5, "models": []}, "providers": {}}"#,
    ];
    for text in bad {
        assert!(Catalog::parse(text).is_err(), "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Media: embeddings, images, audio, speech

#[test]
fn media_catalog_entries() {
    let cases: &[(&str, &str, f64, f64)] = &[
        ("openai", "text-embedding-3-small", 0.02, 0.0),
        ("azure", "text-embedding-3-large", 0.13, 0.0),
        ("openai", "text-embedding-ada-002", 0.10, 0.0),
        ("gemini", "gemini-embedding-001", 0.15, 0.0),
        ("vertex", "gemini-embedding-001", 0.15, 0.0),
        ("bedrock", "amazon.titan-embed-text-v2:0", 0.02, 0.0),
        ("bedrock", "amazon.titan-embed-text-v1", 0.10, 0.0),
        ("bedrock", "cohere.embed-english-v3", 0.10, 0.0),
        ("bedrock", "cohere.embed-multilingual-v3", 0.10, 0.0),
        ("openai", "gpt-image-1", 5.0, 40.0),
        ("openai", "gpt-4o-transcribe", 6.0, 10.0),
    ];
    for &(provider, model, input, output) in cases {
        let p = price(provider, model);
        assert_close!(p.input_per_mtok, input);
        assert_close!(p.output_per_mtok, output);
    }
    let unit = |provider: &str, model: &str| {
        let p = price(provider, model);
        (p.per_image, p.per_audio_minute, p.per_mchar)
    };
    assert_eq!(unit("openai", "dall-e-3"), (Some(0.04), None, None));
    assert_eq!(unit("azure", "dall-e-2"), (Some(0.02), None, None));
    assert_eq!(
        unit("gemini", "imagen-3.0-generate-002"),
        (Some(0.04), None, None)
    );
    assert_eq!(
        unit("vertex", "imagen-4.0-generate-001"),
        (Some(0.04), None, None)
    );
    assert_eq!(
        unit("vertex", "imagen-4.0-fast-generate-001"),
        (Some(0.02), None, None)
    );
    assert_eq!(unit("openai", "whisper-1"), (None, Some(0.006), None));
    assert_eq!(
        unit("openai", "gpt-4o-transcribe"),
        (None, Some(0.006), None)
    );
    assert_eq!(
        unit("openai", "gpt-4o-mini-transcribe"),
        (None, Some(0.003), None)
    );
    assert_eq!(
        unit("groq", "whisper-large-v3"),
        (None, Some(0.00185), None)
    );
    assert_eq!(
        unit("groq", "whisper-large-v3-turbo"),
        (None, Some(0.000667), None)
    );
    assert_eq!(unit("openai", "tts-1"), (None, None, Some(15.0)));
    assert_eq!(unit("openai", "tts-1-hd"), (None, None, Some(30.0)));
    assert_eq!(unit("openai", "gpt-4o-mini-tts"), (None, None, Some(12.0)));
    assert_eq!(
        unit("vertex", "text-embedding-005"),
        (None, None, Some(0.025))
    );
    assert_eq!(
        unit("vertex", "text-embedding-004"),
        (None, None, Some(0.025))
    );
    assert!(resolve("vertex", "text-embedding-005")
        .unwrap()
        .note
        .is_some());
}

#[test]
fn cost_per_image() {
    let usage = Usage {
        images: 3,
        ..Usage::default()
    };
    assert_close!(cost_usd(&price("openai", "dall-e-3"), &usage), 0.12);
    assert_close!(
        cost_usd(&price("vertex", "imagen-4.0-fast-generate-001"), &usage),
        0.06
    );
    // gpt-image-1 is billed by the tokens its response reports.
    let tokens = Usage {
        prompt_tokens: 50,
        completion_tokens: 4_160,
        images: 1,
        ..Usage::default()
    };
    // 50 × 5 + 4,160 × 40 = 166,650 µ$
    assert_close!(cost_usd(&price("openai", "gpt-image-1"), &tokens), 0.166_65);
}

#[test]
fn cost_per_audio_minute() {
    let usage = Usage {
        audio_ms: 90_000,
        ..Usage::default()
    };
    assert_close!(cost_usd(&price("openai", "whisper-1"), &usage), 0.009);
    // $0.111 per hour: 1.5 minutes × 0.00185.
    assert_close!(
        cost_usd(&price("groq", "whisper-large-v3"), &usage),
        0.002_775
    );
    // Priced both ways: by the minute without token usage...
    let p = price("openai", "gpt-4o-transcribe");
    assert_close!(cost_usd(&p, &usage), 0.009);
    // ...and by tokens (only) when the response reported them.
    let tokens = Usage {
        prompt_tokens: 1_000,
        completion_tokens: 200,
        audio_ms: 90_000,
        ..Usage::default()
    };
    // 1,000 × 6 + 200 × 10 = 8,000 µ$
    assert_close!(cost_usd(&p, &tokens), 0.008);
    // A minute-only price bills the minutes whatever the token counts say.
    assert_close!(cost_usd(&price("openai", "whisper-1"), &tokens), 0.009);
}

#[test]
fn cost_per_character() {
    let usage = Usage {
        characters: 2_000,
        ..Usage::default()
    };
    // 2,000 × $15 / 1M
    assert_close!(cost_usd(&price("openai", "tts-1"), &usage), 0.03);
    assert_close!(cost_usd(&price("openai", "tts-1-hd"), &usage), 0.06);
    assert_close!(cost_usd(&price("openai", "gpt-4o-mini-tts"), &usage), 0.024);
    assert_close!(
        cost_usd(&price("vertex", "text-embedding-005"), &usage),
        0.000_05
    );
}

#[test]
fn cost_per_embedding_token() {
    let usage = Usage {
        prompt_tokens: 1_000_000,
        ..Usage::default()
    };
    assert_close!(
        cost_usd(&price("openai", "text-embedding-3-small"), &usage),
        0.02
    );
    assert_close!(
        cost_usd(&price("bedrock", "amazon.titan-embed-text-v2:0"), &usage),
        0.02
    );
}

#[test]
fn unit_rates_from_configuration() {
    let p: Price = serde_json::from_str(
        r#"{"input_per_mtok": 0, "output_per_mtok": 0, "per_image": 0.05, "per_audio_minute": 0.01, "per_mchar": 20}"#,
    )
    .unwrap();
    assert!(p.is_valid() && p.has_unit_rates());
    let usage = Usage {
        images: 2,
        audio_ms: 60_000,
        characters: 500_000,
        ..Usage::default()
    };
    // 2 × 0.05 + 1 × 0.01 + 0.5 × 20
    assert_close!(cost_usd(&p, &usage), 10.11);
    assert!(!Price {
        per_image: Some(-1.0),
        ..Price::default()
    }
    .is_valid());
    assert!(serde_json::from_str::<Price>(
        r#"{"input_per_mtok": 0, "output_per_mtok": 0, "per_video": 1}"#
    )
    .is_err());
    // Unset unit rates are not serialised.
    assert_eq!(
        serde_json::to_string(&Price::new(1.0, 2.0)).unwrap(),
        r#"{"input_per_mtok":1.0,"output_per_mtok":2.0}"#
    );
    let bad =
        r#"{"as_of": "2026-01-01", "sources": {}, "providers": {"x": {"m": {"aliases": []}}}}"#;
    assert!(Catalog::parse(bad).is_err());
    let ok =
        r#"{"as_of": "2026-01-01", "sources": {}, "providers": {"x": {"m": {"per_image": 0.1}}}}"#;
    assert!(Catalog::parse(ok).is_ok());
}
