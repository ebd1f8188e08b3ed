//! What a run found: one table per target, the perdure/temporal ratios, the JSON file.
//!
//! Owns: turning raw load outcomes into the numbers people read and the file tools read.
//! Must never: print a ratio from a target that failed, or invent a CPU figure for a server whose
//! pid is unknown.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::json::Json;
use crate::load::{LoadConfig, LoadOutcome};
use crate::stats::{per_second, LatencySummary};

/// Everything measured on one target that finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurements {
    pub latency: LatencySummary,
    pub latency_wall_s: f64,
    pub throughput_workflows: usize,
    pub concurrency: usize,
    pub throughput_wall_s: f64,
    pub workflows_per_s: f64,
    pub cpu: Option<CpuUse>,
    /// Cores the load generator itself (SDK client + worker) kept busy during the throughput
    /// phase: near the machine's core count means the bench, not the server, was the limit.
    pub loadgen_throughput_cores: f64,
}

/// Server CPU spent on the measured phases (warm-up excluded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuUse {
    pub total_ms: f64,
    /// Total over both phases divided by all measured workflows (N + M).
    pub ms_per_workflow: f64,
    pub latency_ms_per_workflow: f64,
    pub throughput_ms_per_workflow: f64,
    /// Average cores busy during the throughput phase.
    pub throughput_cores: f64,
}

impl Measurements {
    pub fn from_outcome(outcome: &LoadOutcome, config: &LoadConfig) -> Option<Self> {
        let latency = LatencySummary::from_samples(&outcome.latencies)?;
        let m = config.throughput_workflows;
        let n = outcome.latencies.len();
        let cpu = match (outcome.latency_cpu, outcome.throughput_cpu) {
            (Some(lat), Some(thr)) => Some(CpuUse {
                total_ms: ms(lat + thr),
                ms_per_workflow: ms(lat + thr) / (n + m) as f64,
                latency_ms_per_workflow: ms(lat) / n as f64,
                throughput_ms_per_workflow: ms(thr) / m as f64,
                throughput_cores: ratio(ms(thr), ms(outcome.throughput_wall)).unwrap_or(0.0),
            }),
            _ => None,
        };
        Some(Measurements {
            latency,
            latency_wall_s: outcome.latency_wall.as_secs_f64(),
            throughput_workflows: m,
            concurrency: config.concurrency,
            throughput_wall_s: outcome.throughput_wall.as_secs_f64(),
            workflows_per_s: per_second(m, outcome.throughput_wall),
            cpu,
            loadgen_throughput_cores: ratio(
                ms(outcome.loadgen_throughput_cpu),
                ms(outcome.throughput_wall),
            )
            .unwrap_or(0.0),
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite() && b.is_finite()).then(|| a / b)
}

/// One target's result: measured, or the error that stopped it.
#[derive(Debug, Clone)]
pub struct TargetReport {
    pub name: String,
    pub binary: Option<PathBuf>,
    pub url: Option<String>,
    pub result: Result<Measurements, String>,
}

/// The table for one target.
pub fn target_table(report: &TargetReport) -> String {
    let mut out = String::new();
    let mut header = format!("== {} ==", report.name);
    if let Some(url) = &report.url {
        let _ = write!(header, " {url}");
    }
    if let Some(bin) = &report.binary {
        let _ = write!(header, " ({})", bin.display());
    }
    let _ = writeln!(out, "{header}");
    let m = match &report.result {
        Ok(m) => m,
        Err(e) => {
            let _ = writeln!(out, "  FAILED: {e}");
            return out;
        }
    };
    let mut row = |label: String, value: String| {
        let _ = writeln!(out, "  {label:<34} {value}");
    };
    let l = &m.latency;
    row(
        format!("latency, {} sequential", l.count),
        format!(
            "p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  (mean {:.1}, max {:.1})",
            l.p50_ms, l.p90_ms, l.p99_ms, l.mean_ms, l.max_ms
        ),
    );
    row(
        format!(
            "throughput, {} at concurrency {}",
            m.throughput_workflows, m.concurrency
        ),
        format!(
            "{:.1} workflows/s  (wall {:.2} s)",
            m.workflows_per_s, m.throughput_wall_s
        ),
    );
    match &m.cpu {
        Some(c) => {
            row(
                "server CPU per workflow".to_string(),
                format!(
                    "{:.2} ms  (latency phase {:.2}, throughput phase {:.2})",
                    c.ms_per_workflow, c.latency_ms_per_workflow, c.throughput_ms_per_workflow
                ),
            );
            row(
                "server CPU total".to_string(),
                format!(
                    "{:.0} ms  ({:.2} cores busy during throughput)",
                    c.total_ms, c.throughput_cores
                ),
            );
        }
        None => row(
            "server CPU".to_string(),
            "not measured (server not spawned by the bench)".to_string(),
        ),
    }
    row(
        "loadgen CPU (SDK client + worker)".to_string(),
        format!(
            "{:.2} cores busy during throughput",
            m.loadgen_throughput_cores
        ),
    );
    out
}

/// One compared metric: perdure's value, temporal's, and perdure/temporal.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    pub metric: &'static str,
    pub better: &'static str,
    pub perdure: f64,
    pub temporal: f64,
    pub ratio: Option<f64>,
}

/// perdure/temporal for every metric both measured; `None` unless both targets succeeded.
pub fn ratios(reports: &[TargetReport]) -> Option<Vec<Ratio>> {
    let find = |name: &str| {
        reports
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.result.as_ref().ok())
    };
    // Perdure's side: the spawned single node, else the first `--address` target (a cluster).
    let ours = reports
        .iter()
        .filter(|r| r.name != "temporal" && r.result.is_ok())
        .find(|r| r.name == "perdure")
        .or_else(|| {
            reports
                .iter()
                .find(|r| r.name != "temporal" && r.result.is_ok())
        })?;
    let p = find(&ours.name)?;
    let t = find("temporal")?;
    let mut out = Vec::new();
    let mut push = |metric, better, perdure: f64, temporal: f64| {
        out.push(Ratio {
            metric,
            better,
            perdure,
            temporal,
            ratio: ratio(perdure, temporal),
        })
    };
    push(
        "p50 latency ms",
        "lower",
        p.latency.p50_ms,
        t.latency.p50_ms,
    );
    push(
        "p90 latency ms",
        "lower",
        p.latency.p90_ms,
        t.latency.p90_ms,
    );
    push(
        "p99 latency ms",
        "lower",
        p.latency.p99_ms,
        t.latency.p99_ms,
    );
    push(
        "throughput wf/s",
        "higher",
        p.workflows_per_s,
        t.workflows_per_s,
    );
    if let (Some(pc), Some(tc)) = (&p.cpu, &t.cpu) {
        push(
            "server CPU ms/workflow",
            "lower",
            pc.ms_per_workflow,
            tc.ms_per_workflow,
        );
        push(
            "server CPU ms/wf (throughput)",
            "lower",
            pc.throughput_ms_per_workflow,
            tc.throughput_ms_per_workflow,
        );
    }
    Some(out)
}

pub fn ratio_table(ratios: &[Ratio]) -> String {
    let mut out = String::from("== perdure / temporal ==\n");
    let _ = writeln!(
        out,
        "  {:<30} {:>10} {:>10} {:>10}  better",
        "metric", "perdure", "temporal", "ratio"
    );
    for r in ratios {
        let ratio = r.ratio.map_or("n/a".to_string(), |x| format!("{x:.2}x"));
        let _ = writeln!(
            out,
            "  {:<30} {:>10.2} {:>10.2} {:>10}  {}",
            r.metric, r.perdure, r.temporal, ratio, r.better
        );
    }
    out
}

/// The whole run as JSON.
pub fn to_json(config: &LoadConfig, reports: &[TargetReport]) -> Json {
    let num = |x: f64| Json::Num(x);
    let count = |x: usize| Json::Num(x as f64);
    let targets = reports
        .iter()
        .map(|r| {
            let (ok, error, measured) = match &r.result {
                Ok(m) => (true, Json::Null, Some(m)),
                Err(e) => (false, Json::Str(e.clone()), None),
            };
            Json::obj([
                ("name", Json::Str(r.name.clone())),
                (
                    "binary",
                    Json::opt(
                        r.binary
                            .as_ref()
                            .map(|b| Json::Str(b.display().to_string())),
                    ),
                ),
                ("url", Json::opt(r.url.clone().map(Json::Str))),
                ("ok", Json::Bool(ok)),
                ("error", error),
                (
                    "latency",
                    Json::opt(measured.map(|m| {
                        Json::obj([
                            ("workflows", count(m.latency.count)),
                            ("p50_ms", num(m.latency.p50_ms)),
                            ("p90_ms", num(m.latency.p90_ms)),
                            ("p99_ms", num(m.latency.p99_ms)),
                            ("mean_ms", num(m.latency.mean_ms)),
                            ("max_ms", num(m.latency.max_ms)),
                            ("wall_s", num(m.latency_wall_s)),
                        ])
                    })),
                ),
                (
                    "throughput",
                    Json::opt(measured.map(|m| {
                        Json::obj([
                            ("workflows", count(m.throughput_workflows)),
                            ("concurrency", count(m.concurrency)),
                            ("wall_s", num(m.throughput_wall_s)),
                            ("workflows_per_s", num(m.workflows_per_s)),
                            ("loadgen_cores", num(m.loadgen_throughput_cores)),
                        ])
                    })),
                ),
                (
                    "server_cpu",
                    Json::opt(measured.and_then(|m| m.cpu).map(|c| {
                        Json::obj([
                            ("total_ms", num(c.total_ms)),
                            ("ms_per_workflow", num(c.ms_per_workflow)),
                            (
                                "latency_phase_ms_per_workflow",
                                num(c.latency_ms_per_workflow),
                            ),
                            (
                                "throughput_phase_ms_per_workflow",
                                num(c.throughput_ms_per_workflow),
                            ),
                            ("throughput_phase_cores", num(c.throughput_cores)),
                        ])
                    })),
                ),
            ])
        })
        .collect();
    let ratios = ratios(reports).map(|rs| {
        Json::Arr(
            rs.iter()
                .map(|r| {
                    Json::obj([
                        ("metric", Json::Str(r.metric.to_string())),
                        ("better", Json::Str(r.better.to_string())),
                        ("perdure", num(r.perdure)),
                        ("temporal", num(r.temporal)),
                        ("perdure_over_temporal", Json::opt(r.ratio.map(num))),
                    ])
                })
                .collect(),
        )
    });
    Json::obj([
        (
            "config",
            Json::obj([
                ("warmup_workflows", count(config.warmup)),
                ("latency_workflows", count(config.latency_workflows)),
                ("throughput_workflows", count(config.throughput_workflows)),
                ("concurrency", count(config.concurrency)),
                ("workload", Json::Str(config.workload.name().to_string())),
                ("phase_deadline_s", num(config.phase_deadline.as_secs_f64())),
                (
                    "build",
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
        ("ratios", Json::opt(ratios)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LoadConfig {
        LoadConfig {
            warmup: 1,
            latency_workflows: 4,
            throughput_workflows: 100,
            concurrency: 10,
            phase_deadline: Duration::from_secs(60),
            workload: crate::load::Workload::Activity,
        }
    }

    fn outcome(latency_ms: u64, throughput_s: u64, cpu: Option<(u64, u64)>) -> LoadOutcome {
        LoadOutcome {
            latencies: vec![Duration::from_millis(latency_ms); 4],
            latency_wall: Duration::from_millis(latency_ms * 4),
            throughput_wall: Duration::from_secs(throughput_s),
            latency_cpu: cpu.map(|(l, _)| Duration::from_millis(l)),
            throughput_cpu: cpu.map(|(_, t)| Duration::from_millis(t)),
            loadgen_throughput_cpu: Duration::from_millis(throughput_s * 300),
        }
    }

    fn report(name: &str, o: &LoadOutcome) -> TargetReport {
        TargetReport {
            name: name.to_string(),
            binary: None,
            url: None,
            result: Ok(Measurements::from_outcome(o, &config()).expect("samples")),
        }
    }

    #[test]
    fn cpu_is_divided_by_measured_workflows() {
        let m = Measurements::from_outcome(&outcome(10, 2, Some((40, 1000))), &config())
            .expect("samples");
        assert_eq!(m.workflows_per_s, 50.0);
        let cpu = m.cpu.expect("cpu measured");
        assert_eq!(cpu.total_ms, 1040.0);
        assert_eq!(cpu.ms_per_workflow, 10.0);
        assert_eq!(cpu.latency_ms_per_workflow, 10.0);
        assert_eq!(cpu.throughput_ms_per_workflow, 10.0);
        assert_eq!(cpu.throughput_cores, 0.5);
        assert_eq!(m.loadgen_throughput_cores, 0.3);
    }

    #[test]
    fn ratios_need_both_targets_measured() {
        let p = report("perdure", &outcome(5, 1, Some((4, 100))));
        let t = report("temporal", &outcome(100, 10, Some((400, 10_000))));
        let rs = ratios(&[p.clone(), t.clone()]).expect("both measured");
        let get = |metric: &str| {
            rs.iter()
                .find(|r| r.metric == metric)
                .and_then(|r| r.ratio)
                .expect("ratio")
        };
        assert_eq!(get("p50 latency ms"), 0.05);
        assert_eq!(get("throughput wf/s"), 10.0);
        assert_eq!(get("server CPU ms/wf (throughput)"), 0.01);

        let failed = TargetReport {
            result: Err("boom".to_string()),
            ..t
        };
        assert!(ratios(&[p.clone(), failed]).is_none());
        assert!(ratios(&[p]).is_none());
    }

    #[test]
    fn unmeasured_cpu_is_null_in_json_and_said_in_table() {
        let r = report("127.0.0.1:7233", &outcome(5, 1, None));
        let table = target_table(&r);
        assert!(table.contains("not measured"), "{table}");
        let json = to_json(&config(), &[r]).render();
        assert!(json.contains("\"server_cpu\": null"), "{json}");
        assert!(json.contains("\"ratios\": null"), "{json}");
    }

    #[test]
    fn failed_target_shows_its_error() {
        let r = TargetReport {
            name: "temporal".to_string(),
            binary: None,
            url: None,
            result: Err("server did not start".to_string()),
        };
        assert!(target_table(&r).contains("FAILED: server did not start"));
        assert!(to_json(&config(), &[r])
            .render()
            .contains("\"error\": \"server did not start\""));
    }
}
