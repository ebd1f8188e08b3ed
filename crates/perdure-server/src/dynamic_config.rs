//! `--dynamic-config-value KEY=VALUE`: the few of Temporal's dynamic-config keys Perdure honours,
//! spelled and valued as `temporal server start-dev` takes them (values are JSON; a bare
//! duration such as `0s` is accepted too). Unknown keys are refused, never ignored.

use std::time::Duration;

use anyhow::{bail, Context};
use perdure_history::HistoryConfig;

/// history.workflowIdReuseMinimalInterval: least time between a run and the successor it
/// starts (retry, continue-as-new).
pub const WORKFLOW_ID_REUSE_MINIMAL_INTERVAL: &str = "history.workflowIdReuseMinimalInterval";

/// worker.batcherRPS: operations per second of one batch job.
pub const BATCHER_RPS: &str = "worker.batcherRPS";

/// frontend.MaxConcurrentBatchOperationPerNamespace: batch jobs a namespace may run at once.
pub const MAX_CONCURRENT_BATCH_OPERATIONS: &str =
    "frontend.MaxConcurrentBatchOperationPerNamespace";

/// Applies every `KEY=VALUE` to the defaults.
pub fn parse(values: &[String]) -> anyhow::Result<HistoryConfig> {
    let mut config = HistoryConfig::default();
    for kv in values {
        let (key, value) = kv
            .split_once('=')
            .with_context(|| format!("--dynamic-config-value {kv:?}: expected KEY=VALUE"))?;
        match key {
            WORKFLOW_ID_REUSE_MINIMAL_INTERVAL => {
                config.min_run_interval = duration(value)
                    .with_context(|| format!("--dynamic-config-value {key}: bad value {value:?}"))?;
            }
            BATCHER_RPS => config.batcher_rps = positive(key, value)?,
            MAX_CONCURRENT_BATCH_OPERATIONS => {
                config.max_concurrent_batch_operations = positive(key, value)?
            }
            other => bail!(
                "--dynamic-config-value: unsupported key {other:?} (supported: {WORKFLOW_ID_REUSE_MINIMAL_INTERVAL}, {BATCHER_RPS}, {MAX_CONCURRENT_BATCH_OPERATIONS})"
            ),
        }
    }
    Ok(config)
}

/// A whole number of at least 1 (JSON).
fn positive(key: &str, value: &str) -> anyhow::Result<u32> {
    match value.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => bail!("--dynamic-config-value {key}: expected a whole number >= 1, got {value:?}"),
    }
}

/// A Go-style duration (`1s`, `250ms`, `1m30s`, `0`), optionally as a JSON string.
fn duration(value: &str) -> anyhow::Result<Duration> {
    let v = value.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v);
    if v == "0" {
        return Ok(Duration::ZERO);
    }
    perdure_core::go_duration(v)
        .context("a duration needs a number and a unit (h, m, s, ms, us, ns)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reuse_interval_takes_go_durations_plain_or_as_json() {
        for (value, expected) in [
            ("0s", Duration::ZERO),
            ("\"0s\"", Duration::ZERO),
            ("0", Duration::ZERO),
            ("250ms", Duration::from_millis(250)),
            ("1m30s", Duration::from_secs(90)),
        ] {
            let c = parse(&[format!("{WORKFLOW_ID_REUSE_MINIMAL_INTERVAL}={value}")]).unwrap();
            assert_eq!(c.min_run_interval, expected, "{value}");
        }
        assert_eq!(
            parse(&[]).unwrap().min_run_interval,
            Duration::from_secs(1),
            "Temporal's default"
        );
    }

    #[test]
    fn batch_limits_default_to_temporals_and_can_be_set() {
        let d = parse(&[]).unwrap();
        assert_eq!((d.batcher_rps, d.max_concurrent_batch_operations), (50, 1));
        let c = parse(&[
            format!("{BATCHER_RPS}=2"),
            format!("{MAX_CONCURRENT_BATCH_OPERATIONS}=3"),
        ])
        .unwrap();
        assert_eq!((c.batcher_rps, c.max_concurrent_batch_operations), (2, 3));
        assert!(parse(&[format!("{BATCHER_RPS}=0")]).is_err());
        assert!(parse(&[format!("{BATCHER_RPS}=fast")]).is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(parse(&["history.somethingElse=1".into()]).is_err());
        assert!(parse(&[format!("{WORKFLOW_ID_REUSE_MINIMAL_INTERVAL}=soon")]).is_err());
        assert!(parse(&[format!("{WORKFLOW_ID_REUSE_MINIMAL_INTERVAL}=5")]).is_err());
        assert!(parse(&["no-equals-sign".into()]).is_err());
    }
}
