//! How each provider kind is reached: its adapter, whether OpenAI-format traffic can
//! take the fast path (and with which quirks), its default base URL and its
//! credentials. Adding a provider kind means one adapter module in
//! `switchyard-adapters` and one arm in [`access`].

pub mod google;
pub mod sigv4;

use crate::catalog::Provider;
use bytes::Bytes;
use std::sync::Arc;
use switchyard_adapters::anthropic::AnthropicAdapter;
use switchyard_adapters::bedrock::BedrockAdapter;
use switchyard_adapters::gemini::GeminiAdapter;
use switchyard_adapters::media::MediaWire;
use switchyard_adapters::openai::azure::{self, AzureAdapter, AzureAuth};
use switchyard_adapters::openai::presets::{self, Quirks};
use switchyard_adapters::openai::{self, OpenAiAdapter};
use switchyard_adapters::{AdapterError, ChatAdapter, Target, UpstreamError, UpstreamRequest};
use switchyard_config::{ProviderConfig, ProviderKind};

pub use google::GoogleAuth;
pub use sigv4::SigV4;

/// Everything kind-specific about one provider account.
pub struct Access {
    /// Translation over the canonical model.
    pub adapter: Arc<dyn ChatAdapter>,
    /// Set for OpenAI-format upstreams: OpenAI-format requests skip translation.
    pub fast: Option<FastPath>,
    pub auth: Auth,
    pub base_url: String,
    /// For messages: "Anthropic", "Mistral", …
    pub display: &'static str,
}

/// The same-format path of an OpenAI-format upstream.
#[derive(Debug, Clone)]
pub struct FastPath {
    pub quirks: Quirks,
    /// Azure's URL scheme and credential header, with its `api-version`.
    pub azure: Option<(String, AzureAuth)>,
}

/// How requests are authenticated beyond the key pool (which the adapters place).
pub enum Auth {
    /// The pool's keys, placed by the adapter (`Authorization`, `x-api-key`, `api-key`…).
    Keys,
    /// A fixed bearer token (Azure Entra ID).
    Bearer(String),
    /// AWS SigV4 over the finished request.
    SigV4(SigV4),
    /// OAuth2 tokens minted from Google credentials.
    Google(GoogleAuth),
}

impl Auth {
    /// Secrets this auth holds beyond the key pool, for redaction.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Auth::Keys | Auth::Google(_) => Vec::new(),
            Auth::Bearer(token) => vec![token.as_str()],
            Auth::SigV4(s) => s.secrets(),
        }
    }
}

/// Builds the kind-specific part of a provider account. `env` reads environment
/// variables (AWS credentials and region fall back to the standard ones).
pub fn access(
    p: &ProviderConfig,
    keys: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Access, String> {
    let openai_like = |quirks: Quirks, default_base: Option<&str>, display: &'static str| {
        let base_url = p
            .base_url
            .clone()
            .or_else(|| default_base.map(str::to_string))
            .ok_or_else(|| {
                format!(
                    "kind `{}` needs a base_url (e.g. http://127.0.0.1:11434/v1)",
                    p.kind.as_str()
                )
            })?;
        Ok::<Access, String>(Access {
            adapter: Arc::new(OpenAiAdapter {
                reasoning_content: quirks.reasoning_content,
                quirks: Some((quirks, display)),
            }),
            fast: Some(FastPath {
                quirks,
                azure: None,
            }),
            auth: Auth::Keys,
            base_url,
            display,
        })
    };
    match p.kind {
        ProviderKind::Openai => {
            if keys.is_empty() {
                return Err(
                    "an api_key is required for kind `openai` (e.g. api_key: ${OPENAI_API_KEY})"
                        .into(),
                );
            }
            openai_like(Quirks::NONE, Some("https://api.openai.com/v1"), "OpenAI")
        }
        ProviderKind::OpenaiCompatible => openai_like(
            Quirks {
                reasoning_content: true,
                ..Quirks::NONE
            },
            None,
            "the OpenAI-compatible provider",
        ),
        ProviderKind::Anthropic => Ok(Access {
            adapter: Arc::new(AnthropicAdapter::new(p.anthropic_version.as_deref())),
            fast: None,
            auth: Auth::Keys,
            base_url: base_or(p, switchyard_adapters::anthropic::DEFAULT_BASE_URL),
            display: "Anthropic",
        }),
        ProviderKind::Gemini => Ok(Access {
            adapter: Arc::new(GeminiAdapter::studio()),
            fast: None,
            auth: Auth::Keys,
            base_url: base_or(p, switchyard_adapters::gemini::STUDIO_BASE_URL),
            display: "Gemini",
        }),
        ProviderKind::Vertex => {
            let (Some(project), Some(location)) = (&p.project, &p.location) else {
                return Err("a vertex provider needs `project` and `location`".into());
            };
            let auth = match &p.credentials_file {
                Some(path) => GoogleAuth::from_file(path)?,
                None => GoogleAuth::application_default(),
            };
            Ok(Access {
                adapter: Arc::new(GeminiAdapter::vertex(project, location)),
                fast: None,
                auth: Auth::Google(auth),
                base_url: p
                    .base_url
                    .clone()
                    .unwrap_or_else(|| switchyard_adapters::gemini::vertex_base_url(location)),
                display: "Vertex AI",
            })
        }
        ProviderKind::Azure => {
            let base_url = p.base_url.clone().ok_or(
                "an azure provider needs `base_url`, e.g. https://RESOURCE.openai.azure.com",
            )?;
            let api_version = p
                .api_version
                .clone()
                .unwrap_or_else(|| azure::DEFAULT_API_VERSION.to_string());
            let (auth, azure_auth) = match &p.azure_ad_token {
                Some(token) => (Auth::Bearer(token.clone()), AzureAuth::Bearer),
                None if keys.is_empty() => {
                    return Err("an azure provider needs api_key(s) or azure_ad_token".into())
                }
                None => (Auth::Keys, AzureAuth::ApiKey),
            };
            Ok(Access {
                adapter: Arc::new(AzureAdapter {
                    api_version: api_version.clone(),
                    auth: azure_auth,
                }),
                fast: Some(FastPath {
                    quirks: Quirks::NONE,
                    azure: Some((api_version, azure_auth)),
                }),
                auth,
                base_url,
                display: "Azure OpenAI",
            })
        }
        ProviderKind::Bedrock => {
            let region = p
                .region
                .clone()
                .or_else(|| env("AWS_REGION"))
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .filter(|r| !r.trim().is_empty())
                .ok_or("a bedrock provider needs `region` (or AWS_REGION in the environment)")?;
            let (access_key, secret, token) = match (&p.access_key_id, &p.secret_access_key) {
                (Some(a), Some(s)) => (a.clone(), s.clone(), p.session_token.clone()),
                _ => match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
                    (Some(a), Some(s)) => (a, s, env("AWS_SESSION_TOKEN")),
                    _ => {
                        return Err("a bedrock provider needs access_key_id and \
                                    secret_access_key (or AWS_ACCESS_KEY_ID and \
                                    AWS_SECRET_ACCESS_KEY in the environment)"
                            .into())
                    }
                },
            };
            Ok(Access {
                adapter: Arc::new(BedrockAdapter::new()),
                fast: None,
                auth: Auth::SigV4(SigV4::new(&region, &access_key, &secret, token.as_deref())),
                base_url: p
                    .base_url
                    .clone()
                    .unwrap_or_else(|| switchyard_adapters::bedrock::default_base_url(&region)),
                display: "Amazon Bedrock",
            })
        }
        preset_kind => {
            let Some(preset) = presets::preset(preset_kind.as_str()) else {
                return Err(format!("unknown provider kind `{}`", preset_kind.as_str()));
            };
            openai_like(preset.quirks, Some(preset.base_url), preset.display)
        }
    }
}

fn base_or(p: &ProviderConfig, default: &str) -> String {
    p.base_url.clone().unwrap_or_else(|| default.to_string())
}

/// The upstream request of the fast path: the body is already in OpenAI format.
pub fn fast_request(
    provider: &Provider,
    fast: &FastPath,
    upstream_model: &str,
    key: Option<&str>,
    body: Bytes,
) -> UpstreamRequest {
    let key = match &provider.auth {
        Auth::Bearer(token) => Some(token.as_str()),
        _ => key,
    };
    let target = Target {
        base_url: &provider.base_url,
        api_key: key,
        organization: provider.organization.as_deref(),
        upstream_model,
    };
    match &fast.azure {
        Some((version, auth)) => azure::chat_request(&target, version, *auth, body),
        None => openai::chat_request(&target, body),
    }
}

/// An untranslated request in the provider's own format (see
/// [`ChatAdapter::native_request`]); `None` when the provider has none.
pub fn native_request(
    provider: &Provider,
    path: &str,
    body: Bytes,
    upstream_model: &str,
    key: Option<&str>,
    forward: &http::HeaderMap,
) -> Option<UpstreamRequest> {
    let key = match &provider.auth {
        Auth::Bearer(token) => Some(token.as_str()),
        _ => key,
    };
    let target = Target {
        base_url: &provider.base_url,
        api_key: key,
        organization: provider.organization.as_deref(),
        upstream_model,
    };
    provider
        .adapter
        .native_request(path, body, &target, forward)
}

/// The credential a built request carries: the picked key, the fixed bearer token, or a
/// Google token minted (or cached) within `timeout`; none for SigV4, which signs the
/// finished request instead.
async fn credential<'a>(
    provider: &'a Provider,
    key: Option<&'a str>,
    timeout: std::time::Duration,
) -> Result<Option<std::borrow::Cow<'a, str>>, UpstreamError> {
    Ok(match &provider.auth {
        Auth::Keys => key.map(std::borrow::Cow::Borrowed),
        Auth::Bearer(t) => Some(std::borrow::Cow::Borrowed(t.as_str())),
        Auth::Google(g) => {
            let token = tokio::time::timeout(timeout, g.token())
                .await
                .map_err(|_| crate::upstream::timed_out(timeout))??;
            Some(std::borrow::Cow::Owned(token.as_str().to_string()))
        }
        Auth::SigV4(_) => None,
    })
}

/// How embeddings, images and audio reach a provider (`adapters::media::MediaWire`,
/// owned).
#[derive(Debug, Clone)]
pub enum MediaAccess {
    OpenAi,
    Azure { api_version: String, bearer: bool },
    Gemini,
    Vertex { project: String, location: String },
    Bedrock,
}

impl MediaAccess {
    pub fn of(p: &ProviderConfig) -> MediaAccess {
        match p.kind {
            ProviderKind::Anthropic => MediaAccess::OpenAi,
            ProviderKind::Gemini => MediaAccess::Gemini,
            ProviderKind::Vertex => MediaAccess::Vertex {
                project: p.project.clone().unwrap_or_default(),
                location: p.location.clone().unwrap_or_default(),
            },
            ProviderKind::Azure => MediaAccess::Azure {
                api_version: p
                    .api_version
                    .clone()
                    .unwrap_or_else(|| azure::DEFAULT_API_VERSION.to_string()),
                bearer: p.azure_ad_token.is_some(),
            },
            ProviderKind::Bedrock => MediaAccess::Bedrock,
            _ => MediaAccess::OpenAi,
        }
    }

    pub fn wire(&self) -> MediaWire<'_> {
        match self {
            MediaAccess::OpenAi => MediaWire::OpenAi,
            MediaAccess::Azure {
                api_version,
                bearer,
            } => MediaWire::Azure {
                api_version,
                bearer: *bearer,
            },
            MediaAccess::Gemini => MediaWire::Gemini,
            MediaAccess::Vertex { project, location } => MediaWire::Vertex { project, location },
            MediaAccess::Bedrock => MediaWire::Bedrock,
        }
    }
}

/// Builds a media operation's upstream requests (`build`, given the wire and the
/// target) and authenticates each, as [`canonical_request`] does for chat. Anthropic
/// has no embeddings, images or audio: such a request is refused by name.
pub async fn media_requests(
    provider: &Provider,
    upstream_model: &str,
    key: Option<&str>,
    timeout: std::time::Duration,
    build: impl FnOnce(MediaWire<'_>, &Target<'_>) -> Result<Vec<UpstreamRequest>, AdapterError>,
) -> Result<Result<Vec<UpstreamRequest>, AdapterError>, UpstreamError> {
    if provider.kind == ProviderKind::Anthropic {
        return Ok(Err(AdapterError::Unsupported {
            param: "model".into(),
            message: format!(
                "{} has no embeddings, images or audio API; use a model served by another provider",
                provider.display
            ),
        }));
    }
    let credential = credential(provider, key, timeout).await?;
    let key = credential.as_deref();
    let target = Target {
        base_url: &provider.base_url,
        api_key: key,
        organization: provider.organization.as_deref(),
        upstream_model,
    };
    let mut ups = match build(provider.media.wire(), &target) {
        Ok(ups) => ups,
        Err(e) => return Ok(Err(e)),
    };
    if let Auth::SigV4(s) = &provider.auth {
        for up in &mut ups {
            s.sign(up)?;
        }
    }
    Ok(Ok(ups))
}

/// Builds a translated upstream request and authenticates it (a minted token, or a
/// signature over the finished request).
///
/// `timeout` bounds a token fetch (a silent token endpoint must not hang the request).
pub async fn canonical_request(
    provider: &Provider,
    request: &switchyard_adapters::canonical::ChatRequest,
    upstream_model: &str,
    key: Option<&str>,
    timeout: std::time::Duration,
) -> Result<Result<UpstreamRequest, switchyard_adapters::AdapterError>, UpstreamError> {
    let credential = credential(provider, key, timeout).await?;
    let key = credential.as_deref();
    let target = Target {
        base_url: &provider.base_url,
        api_key: key,
        organization: provider.organization.as_deref(),
        upstream_model,
    };
    let mut up = match provider.adapter.build_request(request, &target) {
        Ok(up) => up,
        Err(e) => return Ok(Err(e)),
    };
    if let Auth::SigV4(s) = &provider.auth {
        s.sign(&mut up)?;
    }
    Ok(Ok(up))
}
