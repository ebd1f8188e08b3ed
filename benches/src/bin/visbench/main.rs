//! `visbench`: List and Count over many closed workflows with selective and non-selective
//! filters, perdure against Temporal's dev server in one run (issue 8).
//!
//! Owns: running each target in its own Tokio runtime, one after another (fill, then time every
//! query), checking that every target returned what the fill implies, and printing and saving
//! the report with the perdure/temporal ratios. Must never: run two targets at once, report a
//! timing whose result was wrong (a wrong or disagreeing result fails the run), or leave a
//! spawned server behind. Server start/stop and the connection are loadgen's (`target.rs`,
//! `load.rs`), shared by path.

#[allow(dead_code)]
#[path = "../../cpu.rs"]
mod cpu;
#[allow(dead_code)]
#[path = "../../error.rs"]
mod error;
#[allow(dead_code)]
#[path = "../../json.rs"]
mod json;
#[allow(dead_code)]
#[path = "../../load.rs"]
mod load;
#[allow(dead_code)]
#[path = "../../stats.rs"]
mod stats;
#[allow(dead_code)]
#[path = "../../target.rs"]
mod target;

mod args;
mod fill;
mod queries;
mod report;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::args::Args;
use crate::error::BenchError;
use crate::queries::{Case, OpResult};
use crate::report::TargetRun;
use crate::target::TargetSpec;

/// How long a finished target's runtime gets to wind down its tasks.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(5);

/// Temporal's dev server allows 10 visibility calls a second per namespace by default
/// (`frontend.namespaceRPS.visibility`); the bench would time its rate limiter, not its store.
const TEMPORAL_ARGS: &str = "--dynamic-config-value frontend.namespaceRPS.visibility=100000";

/// Why a target's run failed.
#[derive(Debug, thiserror::Error)]
pub enum VisError {
    #[error(transparent)]
    Bench(#[from] BenchError),
    #[error("{call} failed: {status}")]
    Rpc {
        call: &'static str,
        status: Box<tonic::Status>,
    },
    #[error("the fill did not become visible within {deadline:?}: {seen}")]
    FillDeadline { deadline: Duration, seen: String },
    #[error("{case} / {op}: got {got}, expected {want}")]
    WrongResult {
        case: String,
        op: &'static str,
        got: String,
        want: String,
    },
}

impl VisError {
    pub fn rpc(call: &'static str) -> impl FnOnce(tonic::Status) -> VisError {
        move |status| VisError::Rpc {
            call,
            status: Box::new(status),
        }
    }
}

use temporalio_client::tonic;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "visbench=info,warn".into()),
        )
        .init();
    let args = Args::parse();
    let specs = args.target_specs();
    if specs.is_empty() {
        eprintln!("visbench: nothing to measure: give --target perdure and/or --target temporal");
        return ExitCode::from(2);
    }
    let config = args.config();

    let mut runs = Vec::new();
    for (name, spec) in &specs {
        tracing::info!(target = %name, workflows = config.workflows, "benchmarking");
        let run = bench_target(name, spec, &config);
        print!("{}", report::target_table(&run));
        runs.push(run);
    }
    let disagreements = report::disagreements(&runs);
    for d in &disagreements {
        eprintln!("visbench: results differ between targets: {d}");
    }
    if let Some(table) = report::ratio_table(&runs) {
        print!("{table}");
    }

    let out = args.out_path();
    let written = out
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&out, report::to_json(&config, &runs).render()));
    match written {
        Ok(()) => println!("results written to {}", out.display()),
        Err(e) => {
            eprintln!("visbench: could not write {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
    }
    if runs.iter().any(|r| r.result.is_err()) || !disagreements.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One target in a fresh runtime and a fresh server.
fn bench_target(name: &str, spec: &TargetSpec, config: &args::Config) -> TargetRun {
    let mut run = TargetRun {
        name: name.to_string(),
        binary: spec.binary().map(|b| b.to_path_buf()),
        result: Err(String::new()),
    };
    // Set before the runtime starts: changing the environment while other threads may read it
    // is not sound.
    std::env::set_var("PERDURE_TEST_TEMPORAL_ARGS", TEMPORAL_ARGS);
    let result = spec
        .configure_harness()
        .map_err(VisError::from)
        .and_then(|()| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(BenchError::from)?;
            let result = runtime.block_on(async {
                let server = spec.start().await?;
                let client = load::connect(&server.url).await?;
                let filled = fill::run(&client, config).await?;
                let cases = queries::cases(config.workflows, &filled);
                let mut results: Vec<(Case, Vec<OpResult>)> = Vec::new();
                for case in cases {
                    let ops = queries::time_case(&client, &case, config).await?;
                    results.push((case, ops));
                }
                drop(server);
                Ok::<_, VisError>((filled, results))
            });
            runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
            result
        });
    run.result = result.map_err(|e| error_chain(&e));
    run
}

/// The error and its causes on one line: SDK errors hide the useful part in their sources.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
