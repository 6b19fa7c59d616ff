//! The `switchyard` binary: command line, config loading, wiring.

mod cli;
mod demo;
mod keys_cli;
mod logging;
mod usage_cli;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc: allocation is a visible share of a request's CPU with glibc's allocator
/// (bench/RESULTS.md), and mimalloc keeps per-thread heaps for the worker threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let _log_guard = logging::init();
    // A single-threaded runtime: the gateway starts its own worker threads, one event
    // loop per core (see `Gateway::serve`), and the mock provider and CLI need no more.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
