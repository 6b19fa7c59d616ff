//! Subcommands (names fixed by INTERFACE.md).

use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchyard_config::{Config, ConfigError};
use switchyard_gateway::catalog::{zero_config, Catalog};
use switchyard_gateway::providers::Auth;
use switchyard_gateway::Gateway;
use switchyard_mock_provider::{Behavior, MockConfig};
use switchyard_store::{redact_url, Store};

#[derive(Parser, Debug)]
#[command(
    name = "switchyard",
    version,
    about = "One OpenAI-compatible endpoint in front of every model provider"
)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Config file (else $SWITCHYARD_CONFIG, else ./switchyard.yaml, else zero-config from env vars).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on (overrides the config's `listen`).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Gateway + simulated provider on loopback with a sample catalog; offline, no keys.
    Demo {
        #[arg(long, default_value = "127.0.0.1:4000")]
        listen: String,
    },
    /// Validate a config and print the resolved catalog.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Virtual keys (the same store as /admin/keys).
    Keys {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: crate::keys_cli::KeysCommand,
    },
    /// The request ledger.
    Usage {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: crate::usage_cli::UsageCommand,
    },
    /// Apply database migrations.
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run the simulated upstream provider.
    MockProvider {
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: String,
        /// Time to first token, in milliseconds.
        #[arg(long, default_value_t = 0)]
        ttft_ms: u64,
        /// Delay between tokens, in milliseconds.
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
        /// Reply length in tokens.
        #[arg(long)]
        tokens: Option<u32>,
        /// Default behaviour as `key=value,...` (e.g. `status=503,retry_after=2`).
        #[arg(long)]
        behavior: Option<String>,
        /// Keep the last 100 requests for GET /_mock/requests.
        #[arg(long)]
        record: bool,
    },
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Serve { config, listen } => serve(config, listen).await,
        Command::Demo { listen } => crate::demo::run(&listen).await,
        Command::Check { config } => check(config).await,
        Command::Migrate { config } => migrate(config).await,
        Command::Usage { config, command } => {
            let config = load_config(config).map_err(|e| anyhow!("{e}"))?;
            let store = open_store(&config).await?;
            let code = crate::usage_cli::run(&store, command).await;
            store.close().await;
            code
        }
        Command::Keys { config, command } => {
            let config = load_config(config).map_err(|e| anyhow!("{e}"))?;
            let store = open_store(&config).await?;
            let code = crate::keys_cli::run(&store, command).await;
            store.close().await;
            code
        }
        Command::MockProvider {
            listen,
            ttft_ms,
            delay_ms,
            tokens,
            behavior,
            record,
        } => {
            let mut defaults = Behavior {
                ttft: std::time::Duration::from_millis(ttft_ms),
                inter_token: std::time::Duration::from_millis(delay_ms),
                tokens,
                ..Behavior::default()
            };
            if let Some(spec) = behavior {
                switchyard_mock_provider::parse_behavior_spec(&spec, &mut defaults)
                    .map_err(|e| anyhow!("--behavior: {e}"))?;
            }
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            tracing::info!(addr = %listener.local_addr()?, "mock provider listening");
            switchyard_mock_provider::serve(listener, MockConfig { defaults, record }).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--config`, else `$SWITCHYARD_CONFIG`, else `./switchyard.yaml` when present.
fn config_path(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| std::env::var_os("SWITCHYARD_CONFIG").map(PathBuf::from))
        .or_else(|| {
            let p = PathBuf::from("switchyard.yaml");
            p.exists().then_some(p)
        })
}

/// Loads the config, or builds the zero-config one from the environment.
pub fn load_config(flag: Option<PathBuf>) -> Result<Config, ConfigError> {
    match config_path(flag) {
        Some(path) => switchyard_config::load_file(&path),
        None => {
            tracing::info!("no config file: zero-config from provider environment variables");
            Ok(zero_config(&|v| std::env::var(v).ok()))
        }
    }
}

async fn check(flag: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let config = match load_config(flag) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let catalog = match Catalog::build(&config) {
        Ok(c) => c,
        Err(e) => {
            let file = config
                .source
                .as_deref()
                .map_or("(zero-config)".into(), |p| p.display().to_string());
            eprintln!("error: {file}: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    print!("{}", describe(&config, &catalog));
    // Names defined both here and at runtime (when the database exists and can be
    // read; `check` never creates one).
    let url = config.database_url();
    let exists = match url.strip_prefix("sqlite://") {
        Some(path) => Path::new(path.split('?').next().unwrap_or(path)).exists(),
        None => true,
    };
    if !exists {
        return Ok(ExitCode::SUCCESS);
    }
    if let Ok(store) = Store::connect(&url).await {
        if store.migrate().await.is_ok() {
            if let (Ok(providers), Ok(models)) =
                (store.list_providers().await, store.list_models().await)
            {
                if !providers.is_empty() || !models.is_empty() {
                    let secrets =
                        switchyard_gateway::governance::secrets::SecretBox::from_env(&|n| {
                            std::env::var(n).ok()
                        });
                    let merged = switchyard_gateway::governance::runtime::merge(
                        &config,
                        &providers,
                        &models,
                        secrets.as_ref(),
                    );
                    match merged {
                        Ok(_) => println!(
                            "runtime catalog: {} provider(s), {} model(s) from the database",
                            providers.len(),
                            models.len()
                        ),
                        Err(e) => {
                            eprintln!("error: {e}");
                            store.close().await;
                            return Ok(ExitCode::FAILURE);
                        }
                    }
                }
            }
        }
        store.close().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// The resolved catalog, as `check` prints it. Keys are counted, never shown.
pub fn describe(config: &Config, catalog: &Catalog) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let source = config
        .source
        .as_deref()
        .map_or("zero-config (environment)".into(), |p| {
            p.display().to_string()
        });
    let _ = writeln!(out, "config: {source} — OK");
    let _ = writeln!(out, "listen: {}", config.listen_addr());
    let _ = writeln!(out, "database: {}", redact_url(&config.database_url()));
    let _ = writeln!(
        out,
        "master key: {}",
        if config.master_key.is_some() {
            "set"
        } else {
            "NOT SET (inference is open to anyone who can connect)"
        }
    );
    let _ = writeln!(out, "providers ({}):", catalog.providers.len());
    let mut providers: Vec<_> = catalog.providers.values().collect();
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    for p in providers {
        let _ = writeln!(
            out,
            "  {:<16} kind={:<18} base_url={} auth={}",
            p.name,
            p.kind.as_str(),
            p.base_url,
            match &p.auth {
                Auth::Keys => format!("{} key(s)", p.key_count()),
                Auth::Bearer(_) => "bearer token".to_string(),
                Auth::SigV4(s) => format!("AWS SigV4 ({})", s.region()),
                Auth::Google(_) => "Google OAuth".to_string(),
            }
        );
    }
    let _ = writeln!(out, "models ({}):", catalog.order.len());
    for name in &catalog.order {
        let Some(m) = catalog.models.get(name) else {
            continue;
        };
        let total: u64 = m.deployments.iter().map(|d| u64::from(d.weight)).sum();
        let _ = writeln!(out, "  {name}  (strategy=weighted)");
        for d in &m.deployments {
            let share = if total == 0 {
                0.0
            } else {
                100.0 * f64::from(d.weight) / total as f64
            };
            let _ = writeln!(
                out,
                "    -> {:<40} weight={} ({share:.0}%) timeout={}ms",
                d.label,
                d.weight,
                d.timeout.as_millis()
            );
        }
    }
    if !catalog.providers.is_empty() {
        let _ = writeln!(
            out,
            "direct: any configured provider's model is callable as provider/model"
        );
    }
    out
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.database_url();
    let store = Store::connect(&url)
        .await
        .with_context(|| format!("cannot open database {}", redact_url(&url)))?;
    let applied = store.migrate().await.context("database migration failed")?;
    if applied > 0 {
        tracing::info!(
            applied,
            backend = store.backend(),
            "database migrations applied"
        );
    }
    Ok(store)
}

async fn migrate(flag: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let config = load_config(flag).map_err(|e| anyhow!("{e}"))?;
    let store = open_store(&config).await?;
    println!(
        "database {} ({}) is up to date",
        redact_url(&config.database_url()),
        store.backend()
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn serve(flag: Option<PathBuf>, listen: Option<String>) -> anyhow::Result<ExitCode> {
    let config = match load_config(flag) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    run_gateway(config, listen.as_deref(), None).await
}

/// Opens the store, builds the gateway, binds and serves until SIGINT/SIGTERM.
/// `ready` is told the bound address (for `demo`).
pub async fn run_gateway(
    config: Config,
    listen: Option<&str>,
    ready: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
) -> anyhow::Result<ExitCode> {
    let store = open_store(&config).await?;
    match store.install_id().await {
        Ok(id) => tracing::info!(install_id = %id, backend = store.backend(), "database ready"),
        Err(e) => tracing::warn!(error = %e, "could not read the install id"),
    }
    let gateway = Gateway::build(&config, Some(store.clone())).map_err(|e| {
        let file = config.source.as_deref().map_or_else(
            || "(zero-config)".to_string(),
            |p: &Path| p.display().to_string(),
        );
        anyhow!("{file}: {e}")
    })?;
    if gateway.state.policy.is_open() {
        tracing::warn!("no master_key configured: inference requests are accepted without a key");
    }
    // Runtime providers and models (from /admin/providers, /admin/models) join the
    // config file's; a name defined in both stops the start-up.
    if let Err(e) = gateway.load_runtime_catalog().await {
        eprintln!("error: {e}");
        store.close().await;
        return Ok(ExitCode::FAILURE);
    }
    let addr = listen.unwrap_or(config.listen_addr());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, models = config.models.len(), providers = config.providers.len(), "switchyard listening");
    if let Some(tx) = ready {
        let _ = tx.send(local);
    }
    gateway.serve(listener, shutdown_signal()).await?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed here, before the gateway
/// accepts its first connection: a signal that arrives while a worker already serves
/// must start the drain, not kill the process.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt()).ok();
        let term = signal(SignalKind::terminate()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(int) => {},
                _ = wait(term) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
