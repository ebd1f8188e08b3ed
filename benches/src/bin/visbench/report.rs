//! The visbench report: a table per target, the perdure/temporal ratios, and the JSON file.
//!
//! Owns: formatting, and finding answers that differ between targets. Must never: compute a
//! ratio from a failed target or from ops whose answers differ.

use std::fmt::Write;
use std::path::PathBuf;

use crate::args::Config;
use crate::fill::Filled;
use crate::json::Json;
use crate::queries::{Case, OpResult};

/// Every case with the timings of its ops.
pub type CaseResults = Vec<(Case, Vec<OpResult>)>;

/// One target's run: its fill and every case's timings, or why it failed.
pub struct TargetRun {
    pub name: String,
    pub binary: Option<PathBuf>,
    pub result: Result<(Filled, CaseResults), String>,
}

pub fn target_table(run: &TargetRun) -> String {
    let mut out = format!("\n== {} ==\n", run.name);
    let (filled, cases) = match &run.result {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "FAILED: {e}");
            return out;
        }
    };
    let _ = writeln!(
        out,
        "fill: calls {:.1} s, all closed and visible after {:.1} s",
        filled.calls.as_secs_f64(),
        filled.visible.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "{:<30} {:<16} {:>7} {:>5} {:>9} {:>9} {:>9} {:>5}",
        "case", "op", "answer", "calls", "p50 ms", "p90 ms", "mean ms", "reps"
    );
    for (case, ops) in cases {
        for op in ops {
            let s = &op.summary;
            let _ = writeln!(
                out,
                "{:<30} {:<16} {:>7} {:>5} {:>9.2} {:>9.2} {:>9.2} {:>5}",
                case.name,
                op.op.name(),
                op.answer,
                op.calls,
                s.p50_ms,
                s.p90_ms,
                s.mean_ms,
                s.count
            );
        }
    }
    out
}

fn ops_of<'a>(runs: &'a [TargetRun], name: &str) -> Option<&'a CaseResults> {
    runs.iter()
        .find(|r| r.name == name)
        .and_then(|r| r.result.as_ref().ok())
        .map(|(_, cases)| cases)
}

/// Every (case, op) whose answer differs between two finished targets.
pub fn disagreements(runs: &[TargetRun]) -> Vec<String> {
    let done: Vec<_> = runs
        .iter()
        .filter_map(|r| Some((r.name.as_str(), &r.result.as_ref().ok()?.1)))
        .collect();
    let mut out = Vec::new();
    for pair in done.windows(2) {
        let ((a, ca), (b, cb)) = (pair[0], pair[1]);
        for ((case, oa), (_, ob)) in ca.iter().zip(cb.iter()) {
            for (x, y) in oa.iter().zip(ob.iter()) {
                if x.answer != y.answer {
                    out.push(format!(
                        "{} / {}: {a} {} vs {b} {}",
                        case.name,
                        x.op.name(),
                        x.answer,
                        y.answer
                    ));
                }
            }
        }
    }
    out
}

/// One row of a comparison: a perdure target's p50 and p90 over Temporal's (below 1: perdure
/// faster).
pub struct Ratio {
    pub target: String,
    pub case: String,
    pub op: &'static str,
    pub target_p50_ms: f64,
    pub temporal_p50_ms: f64,
    pub p50: f64,
    pub p90: f64,
}

/// Every finished target other than `temporal` against `temporal`, op by op.
pub fn ratios(runs: &[TargetRun]) -> Option<Vec<Ratio>> {
    let t = ops_of(runs, "temporal")?;
    let mut out = Vec::new();
    for run in runs.iter().filter(|r| r.name != "temporal") {
        let Some(p) = ops_of(runs, &run.name) else {
            continue;
        };
        for ((case, po), (_, to)) in p.iter().zip(t.iter()) {
            for (x, y) in po.iter().zip(to.iter()) {
                if x.answer != y.answer {
                    continue;
                }
                out.push(Ratio {
                    target: run.name.clone(),
                    case: case.name.clone(),
                    op: x.op.name(),
                    target_p50_ms: x.summary.p50_ms,
                    temporal_p50_ms: y.summary.p50_ms,
                    p50: x.summary.p50_ms / y.summary.p50_ms,
                    p90: x.summary.p90_ms / y.summary.p90_ms,
                });
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

pub fn ratio_table(runs: &[TargetRun]) -> Option<String> {
    let ratios = ratios(runs)?;
    let mut out = String::new();
    let mut current = "";
    for r in &ratios {
        if r.target != current {
            current = &r.target;
            let _ = writeln!(
                out,
                "\n== {} / temporal (below 1: {} is faster) ==",
                r.target, r.target
            );
            let _ = writeln!(
                out,
                "{:<30} {:<16} {:>12} {:>12} {:>8} {:>8}",
                "case", "op", "target p50", "temporal p50", "p50", "p90"
            );
        }
        let _ = writeln!(
            out,
            "{:<30} {:<16} {:>9.2} ms {:>9.2} ms {:>8.3} {:>8.3}",
            r.case, r.op, r.target_p50_ms, r.temporal_p50_ms, r.p50, r.p90
        );
    }
    Some(out)
}

pub fn to_json(config: &Config, runs: &[TargetRun]) -> Json {
    let targets = runs
        .iter()
        .map(|run| {
            let mut pairs = vec![
                ("name".to_string(), Json::Str(run.name.clone())),
                (
                    "binary".to_string(),
                    Json::opt(
                        run.binary
                            .as_ref()
                            .map(|b| Json::Str(b.display().to_string())),
                    ),
                ),
            ];
            match &run.result {
                Err(e) => pairs.push(("error".to_string(), Json::Str(e.clone()))),
                Ok((filled, cases)) => {
                    pairs.push((
                        "fill".to_string(),
                        Json::obj([
                            ("calls_s", Json::Num(filled.calls.as_secs_f64())),
                            ("visible_s", Json::Num(filled.visible.as_secs_f64())),
                            ("boundary", Json::Str(filled.boundary.to_rfc3339())),
                        ]),
                    ));
                    let ops = cases
                        .iter()
                        .flat_map(|(case, ops)| {
                            ops.iter().map(move |op| {
                                let s = &op.summary;
                                Json::obj([
                                    ("case", Json::Str(case.name.clone())),
                                    ("filter", Json::Str(case.filter.clone())),
                                    ("selective", Json::Bool(case.selective)),
                                    ("op", Json::Str(op.op.name().into())),
                                    ("answer", Json::Num(op.answer as f64)),
                                    ("calls", Json::Num(op.calls as f64)),
                                    ("reps", Json::Num(s.count as f64)),
                                    ("p50_ms", Json::Num(s.p50_ms)),
                                    ("p90_ms", Json::Num(s.p90_ms)),
                                    ("p99_ms", Json::Num(s.p99_ms)),
                                    ("mean_ms", Json::Num(s.mean_ms)),
                                    ("max_ms", Json::Num(s.max_ms)),
                                ])
                            })
                        })
                        .collect();
                    pairs.push(("ops".to_string(), Json::Arr(ops)));
                }
            }
            Json::Obj(pairs)
        })
        .collect();
    let ratios = ratios(runs).map(|rs| {
        Json::Arr(
            rs.into_iter()
                .map(|r| {
                    Json::obj([
                        ("target", Json::Str(r.target)),
                        ("case", Json::Str(r.case)),
                        ("op", Json::Str(r.op.into())),
                        ("p50", Json::Num(r.p50)),
                        ("p90", Json::Num(r.p90)),
                    ])
                })
                .collect(),
        )
    });
    Json::obj([
        (
            "config",
            Json::obj([
                ("workflows", Json::Num(config.workflows as f64)),
                ("concurrency", Json::Num(config.concurrency as f64)),
                ("reps", Json::Num(config.reps as f64)),
                ("op_budget_s", Json::Num(config.op_budget.as_secs_f64())),
                ("page_size", Json::Num(crate::queries::PAGE_SIZE as f64)),
                (
                    "profile",
                    Json::Str(
                        if cfg!(debug_assertions) {
                            "debug"
                        } else {
                            "release"
                        }
                        .into(),
                    ),
                ),
            ]),
        ),
        ("targets", Json::Arr(targets)),
        ("over_temporal", Json::opt(ratios)),
    ])
}
