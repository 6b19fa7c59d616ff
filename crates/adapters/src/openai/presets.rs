//! The OpenAI-compatible family: hosts that speak Chat Completions, each with its
//! default base URL, its zero-config environment variable and its known deviations.
//!
//! A preset's deviations ([`Quirks`]) are applied on the fast path as raw-field edits
//! (rename, drop), so same-format traffic is still not decoded; a field a host is known
//! to reject is refused by name unless the request sent `"drop_params": true`.

/// How an OpenAI-compatible host differs from OpenAI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    /// The host accepts `stream_options: {"include_usage": true}`. When false the
    /// gateway neither forces nor forwards it (such hosts reject the field; they report
    /// usage unasked in the last chunk, and the relay reads it from there).
    pub stream_options: bool,
    /// Top-level fields the host names differently: `(openai_name, host_name)`.
    pub rename: &'static [(&'static str, &'static str)],
    /// Top-level fields the host rejects.
    pub unsupported: &'static [&'static str],
    /// Assistant thinking goes back as `reasoning_content` on the canonical path
    /// (DeepSeek-style hosts); OpenAI itself rejects the field.
    pub reasoning_content: bool,
}

impl Quirks {
    /// OpenAI itself, and any host that behaves exactly like it.
    pub const NONE: Quirks = Quirks {
        stream_options: true,
        rename: &[],
        unsupported: &[],
        reasoning_content: false,
    };
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks::NONE
    }
}

/// A named OpenAI-compatible host.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The provider `kind` (and zero-config provider name).
    pub kind: &'static str,
    pub base_url: &'static str,
    /// The environment variable whose presence creates the provider in zero-config mode.
    pub env_var: &'static str,
    /// For local servers that need no key: the variable holding their base URL instead.
    pub base_url_env: Option<&'static str>,
    pub quirks: Quirks,
    /// Human name for messages.
    pub display: &'static str,
}

const LOCAL: Quirks = Quirks {
    reasoning_content: true,
    ..Quirks::NONE
};

/// Every preset. Sources: each host's OpenAI-compatibility documentation (as of 2026-11).
pub const PRESETS: &[Preset] = &[
    Preset {
        kind: "deepseek",
        base_url: "https://api.deepseek.com/v1",
        env_var: "DEEPSEEK_API_KEY",
        base_url_env: None,
        // Answers carry `reasoning_content`; thinking-mode tool loops need it sent back.
        quirks: Quirks {
            reasoning_content: true,
            unsupported: &["n", "logit_bias"],
            ..Quirks::NONE
        },
        display: "DeepSeek",
    },
    Preset {
        kind: "groq",
        base_url: "https://api.groq.com/openai/v1",
        env_var: "GROQ_API_KEY",
        base_url_env: None,
        quirks: Quirks {
            unsupported: &[
                "logit_bias",
                "logprobs",
                "top_logprobs",
                "audio",
                "modalities",
            ],
            ..Quirks::NONE
        },
        display: "Groq",
    },
    Preset {
        kind: "mistral",
        base_url: "https://api.mistral.ai/v1",
        env_var: "MISTRAL_API_KEY",
        base_url_env: None,
        // Mistral validates strictly (422 on unknown fields): its seed is `random_seed`,
        // it has no `max_completion_tokens`, and it reports stream usage unasked.
        quirks: Quirks {
            stream_options: false,
            rename: &[
                ("seed", "random_seed"),
                ("max_completion_tokens", "max_tokens"),
            ],
            unsupported: &[
                "logit_bias",
                "logprobs",
                "top_logprobs",
                "user",
                "store",
                "metadata",
                "service_tier",
                "audio",
                "modalities",
            ],
            reasoning_content: false,
        },
        display: "Mistral",
    },
    Preset {
        kind: "together",
        base_url: "https://api.together.xyz/v1",
        env_var: "TOGETHER_API_KEY",
        base_url_env: None,
        quirks: Quirks {
            rename: &[("max_completion_tokens", "max_tokens")],
            reasoning_content: true,
            ..Quirks::NONE
        },
        display: "Together AI",
    },
    Preset {
        kind: "fireworks",
        base_url: "https://api.fireworks.ai/inference/v1",
        env_var: "FIREWORKS_API_KEY",
        base_url_env: None,
        quirks: Quirks {
            rename: &[("max_completion_tokens", "max_tokens")],
            reasoning_content: true,
            ..Quirks::NONE
        },
        display: "Fireworks AI",
    },
    Preset {
        kind: "xai",
        base_url: "https://api.x.ai/v1",
        env_var: "XAI_API_KEY",
        base_url_env: None,
        quirks: Quirks {
            reasoning_content: true,
            ..Quirks::NONE
        },
        display: "xAI",
    },
    Preset {
        kind: "openrouter",
        base_url: "https://openrouter.ai/api/v1",
        env_var: "OPENROUTER_API_KEY",
        base_url_env: None,
        quirks: Quirks::NONE,
        display: "OpenRouter",
    },
    Preset {
        kind: "perplexity",
        base_url: "https://api.perplexity.ai",
        env_var: "PERPLEXITY_API_KEY",
        base_url_env: None,
        // Sonar reports usage on its chunks unasked and has no tools.
        quirks: Quirks {
            stream_options: false,
            unsupported: &[
                "n",
                "tools",
                "tool_choice",
                "parallel_tool_calls",
                "logit_bias",
                "logprobs",
                "top_logprobs",
                "seed",
            ],
            ..Quirks::NONE
        },
        display: "Perplexity",
    },
    Preset {
        kind: "cerebras",
        base_url: "https://api.cerebras.ai/v1",
        env_var: "CEREBRAS_API_KEY",
        base_url_env: None,
        quirks: Quirks {
            unsupported: &["frequency_penalty", "presence_penalty", "logit_bias", "n"],
            ..Quirks::NONE
        },
        display: "Cerebras",
    },
    Preset {
        kind: "ollama",
        base_url: "http://127.0.0.1:11434/v1",
        env_var: "OLLAMA_API_KEY",
        base_url_env: Some("OLLAMA_BASE_URL"),
        quirks: LOCAL,
        display: "Ollama",
    },
    Preset {
        kind: "vllm",
        base_url: "http://127.0.0.1:8000/v1",
        env_var: "VLLM_API_KEY",
        base_url_env: Some("VLLM_BASE_URL"),
        quirks: LOCAL,
        display: "vLLM",
    },
    Preset {
        kind: "lmstudio",
        base_url: "http://127.0.0.1:1234/v1",
        env_var: "LMSTUDIO_API_KEY",
        base_url_env: Some("LMSTUDIO_BASE_URL"),
        quirks: LOCAL,
        display: "LM Studio",
    },
];

/// The preset of a provider kind name.
pub fn preset(kind: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_complete_and_unique() {
        let mut kinds = std::collections::HashSet::new();
        for p in PRESETS {
            assert!(kinds.insert(p.kind), "{} twice", p.kind);
            assert!(p.base_url.starts_with("http"), "{}", p.kind);
            assert!(p.env_var.ends_with("_API_KEY"), "{}", p.kind);
            for (from, to) in p.quirks.rename {
                assert_ne!(from, to);
                assert!(!p.quirks.unsupported.contains(from));
            }
        }
        assert_eq!(PRESETS.len(), 12);
        assert!(preset("mistral").is_some_and(|p| !p.quirks.stream_options));
        assert!(preset("openai").is_none());
    }
}
