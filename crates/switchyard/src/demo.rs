//! `switchyard demo`: the simulated provider and the gateway on loopback, a sample
//! catalog, embedded SQLite in a temporary folder. Offline, no keys.

use anyhow::Context;
use std::process::ExitCode;
use switchyard_mock_provider::{Behavior, MockConfig};

pub const DEMO_KEY: &str = "sk-switchyard-demo";

/// The sample catalog, written as a user would write it; `{mock}` is the simulated provider.
fn demo_config(mock: &str, db: &str) -> String {
    format!(
        r#"master_key: ${{SWITCHYARD_MASTER_KEY:-{DEMO_KEY}}}
database: sqlite://{db}
providers:
  sim-east:
    kind: openai_compatible
    base_url: http://{mock}/east/v1
    api_key: sim-key-east
  sim-west:
    kind: openai_compatible
    base_url: http://{mock}/west/ttft_ms=150,delay_ms=20/v1
    api_key: sim-key-west
  # The same simulated provider speaking Anthropic's and Bedrock's own wire formats:
  # OpenAI clients get OpenAI answers, translated.
  sim-anthropic:
    kind: anthropic
    base_url: http://{mock}/anthropic
    api_key: sim-key-anthropic
  sim-bedrock:
    kind: bedrock
    base_url: http://{mock}/bedrock
    region: us-east-1
    access_key_id: AKIDSWITCHYARDDEMO
    secret_access_key: demo-secret
models:
  - name: gpt-4o-mini
    deployments:
      - provider: sim-east
        model: sim-small
        weight: 3
      - provider: sim-west
        model: sim-small
        weight: 1
  - name: slow-stream
    deployments:
      - provider: sim-west
        model: sim-large
        timeout: 30s
  - name: claude-sonnet
    deployments:
      - provider: sim-anthropic
        model: claude-sim
  - name: bedrock-claude
    deployments:
      - provider: sim-bedrock
        model: anthropic.claude-sim-v1:0
  - name: text-embedding
    deployments:
      - provider: sim-east
        model: text-embedding-3-small
"#
    )
}

pub async fn run(listen: &str) -> anyhow::Result<ExitCode> {
    let (mock_addr, _mock) = switchyard_mock_provider::spawn(MockConfig {
        defaults: Behavior::default(),
        record: false,
    })
    .await
    .context("cannot start the simulated provider")?;
    let dir = std::env::temp_dir().join(format!("switchyard-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let db = dir.join("switchyard.db");
    let text = demo_config(&mock_addr.to_string(), &db.display().to_string());
    let path = dir.join("switchyard.yaml");
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    let config = switchyard_config::load_file(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = config
        .master_key
        .clone()
        .unwrap_or_else(|| DEMO_KEY.to_string());

    let (tx, rx) = tokio::sync::oneshot::channel();
    let listen = listen.to_string();
    let server =
        tokio::spawn(async move { crate::cli::run_gateway(config, Some(&listen), Some(tx)).await });
    let addr = match rx.await {
        Ok(a) => a,
        Err(_) => return server.await.context("gateway task failed")?,
    };
    println!(
        "{}",
        banner(
            &addr.to_string(),
            &key,
            &path.display().to_string(),
            &mock_addr.to_string()
        )
    );
    let code = server.await.context("gateway task failed")??;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(code)
}

fn banner(addr: &str, key: &str, config: &str, mock: &str) -> String {
    format!(
        r#"
Switchyard demo is running on http://{addr}
  simulated provider: http://{mock}   config: {config}
  models: gpt-4o-mini (two simulated deployments, weighted 3:1), slow-stream,
          claude-sonnet (Anthropic wire format), bedrock-claude (Bedrock, SigV4),
          text-embedding (embeddings)

Try it with curl:

  curl http://{addr}/v1/chat/completions \
    -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \
    -d '{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

  curl -N http://{addr}/v1/chat/completions \
    -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \
    -d '{{"model": "slow-stream", "stream": true, "messages": [{{"role": "user", "content": "Stream please"}}]}}'

Or with the OpenAI Python SDK:

  from openai import OpenAI
  client = OpenAI(base_url="http://{addr}/v1", api_key="{key}")
  reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "Hello!"}}])
  print(reply.choices[0].message.content)
  print(client.responses.create(model="claude-sonnet", input="Hello!").output_text)
  print(client.embeddings.create(model="text-embedding", input="Hello!").data[0].embedding[:4])

Or with the Anthropic Python SDK (or Claude Code: ANTHROPIC_BASE_URL=http://{addr}
ANTHROPIC_AUTH_TOKEN={key} ANTHROPIC_MODEL=claude-sonnet claude):

  from anthropic import Anthropic
  client = Anthropic(base_url="http://{addr}", api_key="{key}")
  reply = client.messages.create(model="gpt-4o-mini", max_tokens=256, messages=[{{"role": "user", "content": "Hello!"}}])
  print(reply.content[0].text)

Press Ctrl-C to stop."#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_config_is_valid() {
        let text = demo_config("127.0.0.1:9", "/tmp/x.db");
        let c = switchyard_config::parse_str("demo.yaml", &text, &|_: &str| None).unwrap();
        assert_eq!(c.master_key.as_deref(), Some(DEMO_KEY));
        switchyard_gateway::catalog::Catalog::build(&c).unwrap();
    }
}
