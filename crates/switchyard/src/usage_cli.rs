//! `switchyard usage export`: the request ledger for finance, one row per request,
//! oldest first, streamed page by page (constant memory however long the range).

use anyhow::{anyhow, Context};
use clap::{Subcommand, ValueEnum};
use std::io::Write;
use std::process::ExitCode;
use switchyard_store::{LedgerRow, Store};

#[derive(Subcommand, Debug)]
pub enum UsageCommand {
    /// Write the ledger rows of a time range to stdout.
    Export {
        /// Start (inclusive): RFC 3339, a date (2026-11-01) or unix seconds. Default: 30 days ago.
        #[arg(long)]
        from: Option<String>,
        /// End (exclusive). Default: now.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum)]
        format: Format,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

const PAGE: u32 = 5_000;

/// CSV columns. Later additions go last, so readers that go by position keep working.
const COLUMNS: &[&str] = &[
    "request_id",
    "time",
    "key_id",
    "model",
    "served_model",
    "deployment",
    "provider",
    "stream",
    "status",
    "outcome",
    "error_class",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "priced",
    "latency_ms",
    "ttft_ms",
    "upstream_ms",
    "overhead_ms",
    "client_ip",
    "user_agent",
    "tags",
    "trace_id",
    "endpoint",
    "images",
    "audio_ms",
    "characters",
];

fn time_ms(param: &str, v: &str) -> anyhow::Result<i64> {
    switchyard_gateway::routes::time::parse_time(param, v)
        .map_err(|e| anyhow!("--{param}: {}", e.message))
}

pub async fn run(store: &Store, cmd: UsageCommand) -> anyhow::Result<ExitCode> {
    let UsageCommand::Export { from, to, format } = cmd;
    let now = i64::try_from(switchyard_gateway::router::health::now_ms()).unwrap_or(i64::MAX);
    let to_ms = to
        .as_deref()
        .map(|v| time_ms("to", v))
        .transpose()?
        .unwrap_or(now);
    let from_ms = from
        .as_deref()
        .map(|v| time_ms("from", v))
        .transpose()?
        .unwrap_or(to_ms - 30 * 86_400_000);
    if from_ms >= to_ms {
        return Err(anyhow!("--from must be before --to"));
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut csv = match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(COLUMNS)?;
            out.write_all(&w.into_inner().map_err(|e| anyhow!("{e}"))?)?;
            Some(())
        }
        Format::Jsonl => None,
    };
    let mut cursor: Option<String> = None;
    let mut count = 0u64;
    loop {
        let page = store
            .export_ledger(from_ms, to_ms, cursor.as_deref(), PAGE)
            .await
            .context("reading the ledger")?;
        for row in &page.rows {
            match csv {
                Some(()) => write_csv(&mut out, row)?,
                None => {
                    serde_json::to_writer(&mut out, row)?;
                    out.write_all(b"\n")?;
                }
            }
            count += 1;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out.flush()?;
    csv.take();
    eprintln!("{count} rows");
    Ok(ExitCode::SUCCESS)
}

fn write_csv(out: &mut impl Write, r: &LedgerRow) -> anyhow::Result<()> {
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        r.request_id.clone(),
        switchyard_store::rfc3339(r.time_ms),
        r.key_id.clone().unwrap_or_default(),
        r.model.clone(),
        r.served_model.clone().unwrap_or_default(),
        r.deployment.clone(),
        r.provider.clone(),
        r.stream.to_string(),
        r.status.to_string(),
        r.outcome.clone(),
        r.error_class.clone().unwrap_or_default(),
        r.attempts.len().to_string(),
        r.prompt_tokens.to_string(),
        r.completion_tokens.to_string(),
        r.cached_tokens.to_string(),
        r.cache_write_tokens.to_string(),
        r.reasoning_tokens.to_string(),
        format!("{:.8}", r.cost_usd),
        r.priced.to_string(),
        format!("{:.3}", r.latency_ms),
        opt(r.ttft_ms),
        opt(r.upstream_ms),
        opt(r.overhead_ms),
        r.client_ip.clone().unwrap_or_default(),
        r.user_agent.clone().unwrap_or_default(),
        r.tags.join(";"),
        r.trace_id.clone().unwrap_or_default(),
        r.endpoint.clone(),
        r.images.to_string(),
        r.audio_ms.to_string(),
        r.characters.to_string(),
    ])?;
    out.write_all(&w.into_inner().map_err(|e| anyhow!("{e}"))?)?;
    Ok(())
}
