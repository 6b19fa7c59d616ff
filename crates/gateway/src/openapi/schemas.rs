//! The bodies the gateway speaks, as OpenAPI schemas. These types only describe: the
//! handlers read bodies as raw JSON (the fast path indexes top-level fields) and build
//! answers with `serde_json`, so nothing here is on the request path.
//!
//! Keep them honest: a field is `required` when the handler refuses a body without it,
//! and a constraint (`minimum`, `minItems`, an enum) is here when a handler or the
//! upstream API enforces it — schemathesis generates exactly what these allow.

#![allow(dead_code)]

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

// ---------------------------------------------------------------------------------
// Errors

/// OpenAI's error body (every route but `/v1/messages*`).
#[derive(ToSchema, Serialize)]
pub struct OpenAiError {
    pub error: OpenAiErrorInner,
}

#[derive(ToSchema, Serialize)]
pub struct OpenAiErrorInner {
    /// What went wrong and what to fix; never echoes a secret.
    pub message: String,
    /// The class: `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `budget_exceeded`, `rate_limit_error`, `upstream_error`, `timeout_error`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The request field concerned, when one is.
    pub param: Option<String>,
    /// A stable code: `model_not_found`, `context_length_exceeded`, `budget_exceeded`,
    /// `rate_limit_exceeded`, `request_too_large`, `service_unavailable`, …
    pub code: Option<String>,
}

/// Anthropic's error body (`/v1/messages`, `/v1/messages/count_tokens`).
#[derive(ToSchema, Serialize)]
pub struct AnthropicError {
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^error$")]
    pub kind: String,
    pub error: AnthropicErrorInner,
}

#[derive(ToSchema, Serialize)]
pub struct AnthropicErrorInner {
    /// `invalid_request_error`, `authentication_error`, `billing_error`,
    /// `permission_error`, `not_found_error`, `request_too_large`, `rate_limit_error`,
    /// `api_error`, `overloaded_error`, `timeout_error`.
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

// ---------------------------------------------------------------------------------
// Chat Completions

/// A message's role.
#[derive(ToSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

/// One part of a multi-part message content.
#[derive(ToSchema, Serialize)]
pub struct ContentPart {
    /// `text`, `image_url`, `input_audio`, `file`, …
    #[serde(rename = "type")]
    #[schema(min_length = 1)]
    pub kind: String,
    pub text: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub image_url: Option<Value>,
}

/// A message's content: a string, or a list of parts.
#[derive(ToSchema, Serialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// One message of the conversation.
#[derive(ToSchema, Serialize)]
pub struct ChatMessage {
    pub role: Role,
    /// Null for an assistant message that only calls tools.
    #[schema(nullable)]
    pub content: Option<MessageContent>,
    pub name: Option<String>,
    /// An assistant message's tool calls.
    #[schema(value_type = Option<Vec<Object>>)]
    pub tool_calls: Option<Vec<Value>>,
    /// A tool message's answer to this call.
    pub tool_call_id: Option<String>,
}

/// A tool the model may call.
#[derive(ToSchema, Serialize)]
pub struct Tool {
    #[serde(rename = "type")]
    #[schema(example = "function")]
    pub kind: String,
    pub function: FunctionDef,
}

#[derive(ToSchema, Serialize)]
pub struct FunctionDef {
    #[schema(min_length = 1)]
    pub name: String,
    pub description: Option<String>,
    /// A JSON Schema of the arguments.
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Value>,
    pub strict: Option<bool>,
}

/// Streaming options.
#[derive(ToSchema, Serialize)]
pub struct StreamOptions {
    /// A last chunk with `usage` (the gateway always records usage itself).
    pub include_usage: Option<bool>,
}

/// An OpenAI Chat Completions request. Fields not listed are forwarded to the provider
/// as they are (OpenAI-compatible upstreams), or refused with a 400 naming them unless
/// `drop_params` is set (other providers).
#[derive(ToSchema, Serialize)]
#[schema(example = json!({"model": "general", "messages": [{"role": "user", "content": "Say hello"}]}))]
pub struct ChatCompletionRequest {
    /// A public model name of the catalog, or `provider/model`.
    #[schema(min_length = 1, pattern = r"\S", example = "general")]
    pub model: String,
    #[schema(min_items = 1)]
    pub messages: Vec<ChatMessage>,
    pub tools: Option<Vec<Tool>>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    /// Answer as `text/event-stream` chunks.
    #[schema(nullable)]
    pub stream: Option<bool>,
    #[schema(nullable)]
    pub stream_options: Option<StreamOptions>,
    #[schema(minimum = 1)]
    pub max_tokens: Option<u32>,
    #[schema(minimum = 1)]
    pub max_completion_tokens: Option<u32>,
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub top_p: Option<f64>,
    #[schema(minimum = 1, maximum = 128)]
    pub n: Option<u32>,
    pub stop: Option<Stop>,
    pub seed: Option<i64>,
    /// `{"type":"text"}`, `{"type":"json_object"}` or `{"type":"json_schema",…}`.
    #[schema(value_type = Option<Object>)]
    pub response_format: Option<Value>,
    #[schema(value_type = Option<String>, pattern = "^(minimal|low|medium|high)$")]
    pub reasoning_effort: Option<String>,
    pub user: Option<String>,
    /// The gateway's own: models to fall back to, in order, when this one fails
    /// (also `x-switchyard-fallbacks`). Never forwarded.
    #[schema(nullable)]
    pub models: Option<Vec<String>>,
    /// Kept with the request's record in the ledger (an object).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// The gateway's own: drop parameters the provider cannot honour instead of
    /// refusing the request. Never forwarded.
    pub drop_params: Option<bool>,
}

/// A tool call made by the model.
#[derive(ToSchema, Serialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Object)]
    pub function: Value,
}

#[derive(ToSchema, Serialize)]
pub struct AssistantMessage {
    pub role: String,
    pub content: Option<String>,
    pub tool_calls: Option<Vec<ToolCall>>,
    pub refusal: Option<String>,
}

#[derive(ToSchema, Serialize)]
pub struct ChatChoice {
    pub index: u32,
    pub message: AssistantMessage,
    /// `stop`, `length`, `tool_calls`, `content_filter`.
    pub finish_reason: Option<String>,
}

/// Token usage (always present on a non-streamed answer).
#[derive(ToSchema, Serialize)]
pub struct ChatUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[schema(value_type = Option<Object>)]
    pub prompt_tokens_details: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub completion_tokens_details: Option<Value>,
}

/// A non-streamed Chat Completions answer.
#[derive(ToSchema, Serialize)]
pub struct ChatCompletion {
    pub id: String,
    /// `chat.completion`
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChatChoice>,
    pub usage: Option<ChatUsage>,
    pub system_fingerprint: Option<String>,
}

/// One `data:` event of a streamed answer (the stream ends with `data: [DONE]`).
#[derive(ToSchema, Serialize)]
pub struct ChatCompletionChunk {
    pub id: String,
    /// `chat.completion.chunk`
    pub object: String,
    pub created: i64,
    pub model: String,
    #[schema(value_type = Vec<Object>)]
    pub choices: Vec<Value>,
    /// Only in the last chunk, when `stream_options.include_usage` was asked for.
    pub usage: Option<ChatUsage>,
}

// ---------------------------------------------------------------------------------
// Anthropic Messages

#[derive(ToSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnthropicRole {
    User,
    Assistant,
}

/// One content block: `text`, `image`, `tool_use`, `tool_result`, `thinking`, `document`.
#[derive(ToSchema, Serialize)]
pub struct AnthropicContentBlock {
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^text$")]
    pub kind: String,
    pub text: String,
}

#[derive(ToSchema, Serialize)]
#[serde(untagged)]
pub enum AnthropicContent {
    Text(String),
    Blocks(Vec<AnthropicContentBlock>),
}

#[derive(ToSchema, Serialize)]
pub struct AnthropicMessage {
    pub role: AnthropicRole,
    pub content: AnthropicContent,
}

#[derive(ToSchema, Serialize)]
pub struct AnthropicTool {
    #[schema(min_length = 1)]
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub input_schema: Value,
}

/// An Anthropic Messages request (`POST /v1/messages`).
#[derive(ToSchema, Serialize)]
#[schema(example = json!({"model": "general", "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello"}]}))]
pub struct MessagesRequest {
    #[schema(min_length = 1, pattern = r"\S", example = "general")]
    pub model: String,
    #[schema(min_items = 1)]
    pub messages: Vec<AnthropicMessage>,
    #[schema(minimum = 1)]
    pub max_tokens: u32,
    pub system: Option<AnthropicSystem>,
    pub stream: Option<bool>,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub temperature: Option<f64>,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub top_p: Option<f64>,
    #[schema(minimum = 0)]
    pub top_k: Option<u32>,
    pub stop_sequences: Option<Vec<String>>,
    pub tools: Option<Vec<AnthropicTool>>,
    pub tool_choice: Option<AnthropicToolChoice>,
    /// `{"type":"enabled","budget_tokens":N}`.
    #[schema(value_type = Option<Object>)]
    pub thinking: Option<Value>,
    /// `{"user_id": …}`.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// A non-streamed Anthropic Messages answer.
#[derive(ToSchema, Serialize)]
pub struct MessagesResponse {
    pub id: String,
    /// `message`
    #[serde(rename = "type")]
    pub kind: String,
    pub role: String,
    #[schema(value_type = Vec<Object>)]
    pub content: Vec<Value>,
    pub model: String,
    pub stop_reason: Option<String>,
    pub stop_sequence: Option<String>,
    #[schema(value_type = Object)]
    pub usage: Value,
}

/// `POST /v1/messages/count_tokens`: a Messages request without `max_tokens`.
#[derive(ToSchema, Serialize)]
#[schema(example = json!({"model": "general", "messages": [{"role": "user", "content": "Say hello"}]}))]
pub struct CountTokensRequest {
    #[schema(min_length = 1, pattern = r"\S", example = "general")]
    pub model: String,
    #[schema(min_items = 1)]
    pub messages: Vec<AnthropicMessage>,
    pub system: Option<AnthropicSystem>,
    pub tools: Option<Vec<AnthropicTool>>,
}

#[derive(ToSchema, Serialize)]
pub struct CountTokensResponse {
    #[schema(minimum = 0)]
    pub input_tokens: u64,
}

// ---------------------------------------------------------------------------------
// Responses API, embeddings, images, audio (path stubs until their handlers land)

/// An OpenAI Responses API request.
#[derive(ToSchema, Serialize)]
#[schema(example = json!({"model": "general", "input": "Say hello"}))]
pub struct ResponsesRequest {
    #[schema(min_length = 1, pattern = r"\S", example = "general")]
    pub model: String,
    pub input: ResponsesInput,
    pub instructions: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
    #[schema(value_type = Option<Object>)]
    pub tool_choice: Option<Value>,
    pub stream: Option<bool>,
    #[schema(minimum = 1)]
    pub max_output_tokens: Option<u32>,
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
    /// `{"effort": "low"|"medium"|"high"}`.
    #[schema(value_type = Option<Object>)]
    pub reasoning: Option<Value>,
    /// `{"format": {"type": "text"|"json_object"|"json_schema", …}}`.
    #[schema(value_type = Option<Object>)]
    pub text: Option<Value>,
    pub previous_response_id: Option<String>,
    pub store: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// `DELETE /v1/responses/{id}`.
#[derive(ToSchema, Serialize)]
pub struct ResponseDeleted {
    pub id: String,
    /// `response.deleted`
    pub object: String,
    pub deleted: bool,
}

/// An OpenAI Responses API answer.
#[derive(ToSchema, Serialize)]
pub struct ResponsesResponse {
    pub id: String,
    /// `response`
    pub object: String,
    pub created_at: i64,
    pub model: String,
    /// `completed`, `incomplete`, `failed`, …
    pub status: String,
    #[schema(value_type = Vec<Object>)]
    pub output: Vec<Value>,
    pub output_text: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub usage: Option<Value>,
}

#[derive(ToSchema, Serialize)]
pub struct EmbeddingsRequest {
    #[schema(min_length = 1, pattern = r"\S", example = "general")]
    pub model: String,
    pub input: EmbeddingsInput,
    #[schema(value_type = Option<String>, pattern = "^(float|base64)$")]
    pub encoding_format: Option<String>,
    #[schema(minimum = 1)]
    pub dimensions: Option<u32>,
    pub user: Option<String>,
}

#[derive(ToSchema, Serialize)]
pub struct Embedding {
    /// `embedding`
    pub object: String,
    pub index: u32,
    /// Floats, or a base64 string with `encoding_format: base64`.
    #[schema(value_type = Object)]
    pub embedding: Value,
}

#[derive(ToSchema, Serialize)]
pub struct EmbeddingsResponse {
    /// `list`
    pub object: String,
    pub data: Vec<Embedding>,
    pub model: String,
    #[schema(value_type = Object)]
    pub usage: Value,
}

#[derive(ToSchema, Serialize)]
pub struct ImagesRequest {
    #[schema(min_length = 1)]
    pub prompt: String,
    #[schema(example = "general")]
    pub model: Option<String>,
    #[schema(minimum = 1, maximum = 10)]
    pub n: Option<u32>,
    /// `256x256`, `1024x1024`, …
    pub size: Option<String>,
    pub quality: Option<String>,
    #[schema(value_type = Option<String>, pattern = "^(url|b64_json)$")]
    pub response_format: Option<String>,
    pub style: Option<String>,
    pub user: Option<String>,
}

#[derive(ToSchema, Serialize)]
pub struct ImageData {
    pub url: Option<String>,
    pub b64_json: Option<String>,
    pub revised_prompt: Option<String>,
}

#[derive(ToSchema, Serialize)]
pub struct ImagesResponse {
    pub created: i64,
    pub data: Vec<ImageData>,
}

/// `multipart/form-data` of `POST /v1/audio/transcriptions`.
#[derive(ToSchema, Serialize)]
pub struct TranscriptionRequest {
    /// The audio file (flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm).
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    pub file: Vec<u8>,
    #[schema(example = "general")]
    pub model: String,
    pub language: Option<String>,
    pub prompt: Option<String>,
    /// `json`, `text`, `srt`, `verbose_json`, `vtt`.
    pub response_format: Option<String>,
    pub temperature: Option<f64>,
}

#[derive(ToSchema, Serialize)]
pub struct TranscriptionResponse {
    pub text: String,
}

#[derive(ToSchema, Serialize)]
pub struct SpeechRequest {
    #[schema(min_length = 1, example = "general")]
    pub model: String,
    #[schema(min_length = 1)]
    pub input: String,
    pub voice: String,
    /// `mp3` (default), `opus`, `aac`, `flac`, `wav`, `pcm`.
    pub response_format: Option<String>,
    #[schema(minimum = 0.25, maximum = 4.0)]
    pub speed: Option<f64>,
}

// ---------------------------------------------------------------------------------
// Models, health

#[derive(ToSchema, Serialize)]
pub struct ModelEntry {
    /// A public model name, or `provider/model` for a deployment.
    pub id: String,
    /// `model`
    pub object: String,
    pub created: i64,
    pub owned_by: String,
}

/// `GET /v1/models`: the models the caller's key may use.
#[derive(ToSchema, Serialize)]
pub struct ModelList {
    /// `list`
    pub object: String,
    pub data: Vec<ModelEntry>,
}

#[derive(ToSchema, Serialize)]
pub struct Liveness {
    /// `ok`
    pub status: String,
}

/// Readiness: `ok` (200), or `draining`/`unavailable` (503) with the failing part.
#[derive(ToSchema, Serialize)]
pub struct Readiness {
    pub status: String,
    #[schema(value_type = Option<Object>)]
    pub database: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub redis: Option<Value>,
}

// ---------------------------------------------------------------------------------
// Admin

#[derive(ToSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    Day,
    Week,
    Month,
    Total,
}

/// `POST /admin/keys`. Unknown fields are refused.
#[derive(ToSchema, Serialize)]
#[schema(example = json!({"name": "team-a", "models": ["general"], "budget_usd": 10.0, "budget_period": "month", "rpm": 60}))]
pub struct KeyCreate {
    #[schema(min_length = 1, pattern = r"\S")]
    pub name: String,
    /// Model names or `provider/*` patterns; empty or absent: every model.
    #[schema(nullable)]
    pub models: Option<Vec<String>>,
    #[schema(nullable, minimum = 0.0)]
    pub budget_usd: Option<f64>,
    /// Needs `budget_usd`; `total` when absent.
    #[schema(nullable)]
    pub budget_period: Option<BudgetPeriod>,
    #[schema(nullable, minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub rpm: Option<u64>,
    #[schema(nullable, minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub tpm: Option<u64>,
    #[schema(nullable, minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub max_concurrency: Option<u64>,
    #[schema(nullable)]
    pub expires_at: Option<ExpiresAt>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// `PATCH /admin/keys/{id}`: the fields to change; null clears one.
#[derive(ToSchema, Serialize)]
pub struct KeyPatch {
    #[schema(min_length = 1, pattern = r"\S")]
    pub name: Option<String>,
    #[schema(nullable)]
    pub models: Option<Vec<String>>,
    #[schema(nullable, minimum = 0.0)]
    pub budget_usd: Option<f64>,
    #[schema(nullable)]
    pub budget_period: Option<BudgetPeriod>,
    #[schema(nullable, minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub rpm: Option<u64>,
    #[schema(nullable, minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub tpm: Option<u64>,
    #[schema(nullable, minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub max_concurrency: Option<u64>,
    #[schema(nullable)]
    pub expires_at: Option<ExpiresAt>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// A virtual key as the admin API shows it (never the key itself).
#[derive(ToSchema, Serialize)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    /// The key's first characters, to recognise it.
    pub key_prefix: String,
    pub models: Vec<String>,
    pub budget_usd: Option<f64>,
    pub budget_period: Option<String>,
    /// Spend in the current budget period.
    pub spend_usd: f64,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_concurrency: Option<u64>,
    pub expires_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Value,
    pub created_at: Option<String>,
    pub revoked: bool,
    pub revoked_at: Option<String>,
}

/// The answer to `POST /admin/keys`: the view plus the key, shown this once.
#[derive(ToSchema, Serialize)]
pub struct KeyCreated {
    #[schema(inline)]
    #[serde(flatten)]
    pub view: KeyView,
    pub key: String,
}

#[derive(ToSchema, Serialize)]
pub struct KeyList {
    pub object: String,
    pub data: Vec<KeyView>,
}

#[derive(ToSchema, Serialize)]
pub struct KeyRevoked {
    pub id: String,
    pub revoked: bool,
}

/// A provider account to create or change: its config fields (`kind`, `base_url`,
/// `api_key`/`api_keys`, `region`, …, as in the config file). Secrets are stored
/// sealed and never returned; null removes a field.
#[derive(ToSchema, Serialize)]
#[schema(example = json!({"name": "extra", "kind": "openai_compatible", "base_url": "http://127.0.0.1:9/v1"}))]
pub struct ProviderWrite {
    /// Required on create (no `/`); on PATCH the path names it.
    pub name: Option<String>,
    pub kind: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub api_keys: Option<Vec<String>>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub other: BTreeMap<String, Value>,
}

/// A provider account: public fields, `source` (`config` or `runtime`), and the names
/// of its secret fields.
#[derive(ToSchema, Serialize)]
pub struct ProviderView {
    pub name: String,
    pub kind: Option<String>,
    /// `config` or `runtime`.
    pub source: String,
    pub secrets: Option<Vec<String>>,
}

#[derive(ToSchema, Serialize)]
pub struct ProviderList {
    pub object: String,
    pub data: Vec<ProviderView>,
}

/// A public model to create or change, in the config file's `models` entry shape
/// (`strategy`, `deployments`, `fallbacks`, `hedge_after`, `route_if`, …).
#[derive(ToSchema, Serialize)]
#[schema(example = json!({"name": "extra-model", "deployments": [{"provider": "sim", "model": "sim-model"}]}))]
pub struct ModelWrite {
    /// Required on create; on PATCH the path names it.
    pub name: Option<String>,
    pub strategy: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub deployments: Option<Vec<Value>>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub fallbacks: Option<Vec<Value>>,
}

#[derive(ToSchema, Serialize)]
pub struct ModelView {
    pub name: String,
    /// `config` or `runtime`.
    pub source: String,
}

#[derive(ToSchema, Serialize)]
pub struct ModelViewList {
    pub object: String,
    pub data: Vec<ModelView>,
}

#[derive(ToSchema, Serialize)]
pub struct Deleted {
    pub name: String,
    pub deleted: bool,
}

/// A deployment's health as the router sees it.
#[derive(ToSchema, Serialize)]
pub struct DeploymentHealth {
    pub model: String,
    pub strategy: String,
    /// `provider/model`
    pub deployment: String,
    pub provider: String,
    pub upstream_model: String,
    /// `healthy`, `probing`, `cooling_down`.
    pub state: String,
    pub cooling_down_until: Option<String>,
    pub inflight: i64,
    #[schema(value_type = Object)]
    pub latency_ewma_ms: Value,
    pub error_rate: f64,
    pub consecutive_failures: u64,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub requests_last_minute: u64,
    pub keys_available: u64,
    #[schema(value_type = Option<Object>)]
    pub price_per_mtok: Option<Value>,
}

#[derive(ToSchema, Serialize)]
pub struct DeploymentList {
    pub object: String,
    pub data: Vec<DeploymentHealth>,
}

/// A page of the request log.
#[derive(ToSchema, Serialize)]
pub struct RequestPage {
    pub object: String,
    pub data: Vec<switchyard_store::LedgerRow>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

#[derive(ToSchema, Serialize)]
pub struct UsageList {
    pub object: String,
    pub data: Vec<switchyard_store::UsageRow>,
}

/// `group_by` of `GET /admin/usage`.
#[derive(ToSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageGroupBy {
    Model,
    Key,
    Deployment,
    Provider,
}

/// `bucket` of `GET /admin/usage`.
#[derive(ToSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageBucketSize {
    Hour,
    Day,
}

/// `tool_choice`: `none`, `auto`, `required`, or `{"type":"function","function":{"name":…}}`.
#[derive(ToSchema, Serialize)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(ToolChoiceMode),
    #[schema(value_type = Object)]
    Named(Value),
}

#[derive(ToSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    None,
    Auto,
    Required,
}

/// `stop`: a string or up to 4 strings.
#[derive(ToSchema, Serialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

/// Anthropic's `system`: a string or a list of text blocks.
#[derive(ToSchema, Serialize)]
#[serde(untagged)]
pub enum AnthropicSystem {
    Text(String),
    Blocks(Vec<AnthropicContentBlock>),
}

/// The Responses API's `input`: a string, or a list of input items (messages,
/// function call outputs, …).
#[derive(ToSchema, Serialize)]
#[serde(untagged)]
pub enum ResponsesInput {
    Text(String),
    #[schema(value_type = Vec<Object>)]
    Items(Vec<Value>),
}

/// Embeddings' `input`: a string, a list of strings, or token arrays.
#[derive(ToSchema, Serialize)]
#[serde(untagged)]
pub enum EmbeddingsInput {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

/// A key's expiry: RFC 3339, a date (`2026-11-22`), or unix seconds.
#[derive(ToSchema, Serialize)]
#[serde(untagged)]
pub enum ExpiresAt {
    Time(String),
    UnixSeconds(i64),
}

/// Anthropic's `tool_choice`: `{"type": "auto"|"any"|"none"}` or
/// `{"type": "tool", "name": …}`.
#[derive(ToSchema, Serialize)]
pub struct AnthropicToolChoice {
    #[serde(rename = "type")]
    pub kind: AnthropicToolChoiceType,
    /// The tool, with `type: tool`.
    pub name: Option<String>,
    pub disable_parallel_tool_use: Option<bool>,
}

#[derive(ToSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnthropicToolChoiceType {
    Auto,
    Any,
    Tool,
    None,
}
