//! `loadgen`: the same one-activity load against perdure and Temporal's dev server in one run.
//!
//! Owns: running each target in its own Tokio runtime, one after another, and printing and
//! saving the report. Must never: run two targets at once (they would share the machine's two
//! cores and measure each other) or leave a spawned server behind.

mod args;
mod cpu;
mod error;
mod json;
mod load;
mod report;
mod stats;
mod target;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::args::Args;
use crate::error::BenchError;
use crate::load::LoadConfig;
use crate::report::{Measurements, TargetReport};
use crate::target::TargetSpec;

/// How long a finished target's runtime gets to wind down its tasks.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "loadgen=info,warn".into()),
        )
        .init();
    let args = Args::parse();
    let specs = args.target_specs();
    if specs.is_empty() {
        eprintln!("loadgen: nothing to measure: give --target perdure, --target temporal or --address HOST:PORT");
        return ExitCode::from(2);
    }
    if !args.address_pids.is_empty() && args.addresses.len() != 1 {
        eprintln!("loadgen: --address-pids belongs to exactly one --address");
        return ExitCode::from(2);
    }
    let config = args.load_config();

    let mut reports = Vec::new();
    for spec in &specs {
        tracing::info!(target = %spec.name(), "benchmarking");
        let report = bench_target(spec, &config);
        print!("{}", report::target_table(&report));
        reports.push(report);
    }
    if let Some(ratios) = report::ratios(&reports) {
        print!("{}", report::ratio_table(&ratios));
    }

    let out = args.out_path();
    let written = out
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&out, report::to_json(&config, &reports).render()));
    match written {
        Ok(()) => println!("results written to {}", out.display()),
        Err(e) => {
            eprintln!("loadgen: could not write {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
    }
    if reports.iter().any(|r| r.result.is_err()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One target in a fresh runtime, so nothing of the previous target's SDK worker or server
/// lingers into this one's measurement.
fn bench_target(spec: &TargetSpec, config: &LoadConfig) -> TargetReport {
    let mut report = TargetReport {
        name: spec.name(),
        binary: spec.binary().map(|b| b.to_path_buf()),
        url: None,
        result: Err(String::new()),
    };
    let result = spec.configure_harness().and_then(|()| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let result = runtime.block_on(async {
            let server = spec.start().await?;
            report.url = Some(server.url.clone());
            let outcome = load::run(&server.url, *config, &server.server_pids).await;
            // Killed here, before the next target starts.
            drop(server);
            outcome
        });
        runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
        result
    });
    report.result = match result {
        Ok(outcome) => Measurements::from_outcome(&outcome, config)
            .ok_or_else(|| "no latency samples".to_string()),
        Err(e) => Err(error_chain(&e)),
    };
    report
}

/// The error and its causes on one line: SDK errors hide the useful part in their sources.
fn error_chain(e: &BenchError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = cause_source(source);
    }
    text
}

fn cause_source<'a>(
    e: Option<&'a (dyn std::error::Error + 'static)>,
) -> Option<&'a (dyn std::error::Error + 'static)> {
    e.and_then(|e| e.source())
}
