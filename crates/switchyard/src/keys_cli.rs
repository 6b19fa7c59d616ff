//! `switchyard keys create|list|show|revoke`: virtual keys from the shell, on the same
//! store (and with the same validation) as `/admin/keys`.

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::{json, Map, Value};
use std::process::ExitCode;
use switchyard_store::Store;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key; prints it once.
    Create {
        #[arg(long)]
        name: String,
        /// Allowed models, comma-separated (public names or provider/*); default all.
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        #[arg(long)]
        budget_usd: Option<f64>,
        /// day, week, month or total (default total).
        #[arg(long)]
        budget_period: Option<String>,
        #[arg(long)]
        rpm: Option<u64>,
        #[arg(long)]
        tpm: Option<u64>,
        #[arg(long)]
        max_concurrency: Option<u64>,
        /// RFC 3339 time or unix seconds.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List keys (never the keys themselves).
    List,
    /// Show one key.
    Show { id: String },
    /// Revoke a key (every replica refuses it within a second).
    Revoke { id: String },
}

pub async fn run(store: &Store, cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeysCommand::Create {
            name,
            models,
            budget_usd,
            budget_period,
            rpm,
            tpm,
            max_concurrency,
            expires_at,
        } => {
            let mut o = Map::new();
            o.insert("name".into(), json!(name));
            if !models.is_empty() {
                o.insert("models".into(), json!(models));
            }
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    o.insert(k.into(), v);
                }
            };
            put("budget_usd", budget_usd.map(|v| json!(v)));
            put("budget_period", budget_period.map(|v| json!(v)));
            put("rpm", rpm.map(|v| json!(v)));
            put("tpm", tpm.map(|v| json!(v)));
            put("max_concurrency", max_concurrency.map(|v| json!(v)));
            put("expires_at", expires_at.map(|v| json!(v)));
            match switchyard_gateway::routes::keys::create_key(store, &o).await {
                Ok((record, secret)) => {
                    let mut v = switchyard_gateway::routes::keys::view(&record, 0.0);
                    v["key"] = Value::String(secret.clone());
                    println!("{}", serde_json::to_string_pretty(&v)?);
                    eprintln!("\nThe key is shown once; store it now:\n  {secret}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Err(anyhow!("{}", e.message)),
            }
        }
        KeysCommand::List => {
            let records = store.list_keys(true).await?;
            for r in &records {
                let spend = spend(store, r).await;
                println!(
                    "{}",
                    serde_json::to_string(&switchyard_gateway::routes::keys::view(r, spend))?
                );
            }
            if records.is_empty() {
                eprintln!("no keys");
            }
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Show { id } => match store.get_key(&id).await? {
            Some(r) => {
                let spend = spend(store, &r).await;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&switchyard_gateway::routes::keys::view(
                        &r, spend
                    ))?
                );
                Ok(ExitCode::SUCCESS)
            }
            None => Err(anyhow!("no key `{id}`")),
        },
        KeysCommand::Revoke { id } => {
            if store.revoke_key(&id).await? || store.get_key(&id).await?.is_some() {
                println!("revoked {id}");
                Ok(ExitCode::SUCCESS)
            } else {
                Err(anyhow!("no key `{id}`"))
            }
        }
    }
}

async fn spend(store: &Store, r: &switchyard_store::KeyRecord) -> f64 {
    use switchyard_gateway::governance::period::Period;
    let period = r
        .budget_period
        .as_deref()
        .and_then(Period::parse)
        .unwrap_or(Period::Total);
    let now = switchyard_gateway::router::health::now_ms();
    let (start, _) = period.bounds(now);
    store
        .spend(&r.id, i64::try_from(start).unwrap_or(0))
        .await
        .unwrap_or(0.0)
}
