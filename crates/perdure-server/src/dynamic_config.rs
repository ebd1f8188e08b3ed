//! `--dynamic-config-value KEY=VALUE`: the few of Temporal's dynamic-config keys Perdure honours,
//! spelled and valued as `temporal server start-dev` takes them (values are JSON; a bare
//! duration such as `0s` is accepted too). Unknown keys are refused, never ignored.

use std::time::Duration;

use anyhow::{bail, Context};
use perdure_history::HistoryConfig;

/// history.workflowIdReuseMinimalInterval: least time between a run and the successor it
/// starts (retry, continue-as-new).
pub const WORKFLOW_ID_REUSE_MINIMAL_INTERVAL: &str = "history.workflowIdReuseMinimalInterval";

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
            other => bail!(
                "--dynamic-config-value: unsupported key {other:?} (supported: {WORKFLOW_ID_REUSE_MINIMAL_INTERVAL})"
            ),
        }
    }
    Ok(config)
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
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(parse(&["history.somethingElse=1".into()]).is_err());
        assert!(parse(&[format!("{WORKFLOW_ID_REUSE_MINIMAL_INTERVAL}=soon")]).is_err());
        assert!(parse(&[format!("{WORKFLOW_ID_REUSE_MINIMAL_INTERVAL}=5")]).is_err());
        assert!(parse(&["no-equals-sign".into()]).is_err());
    }
}
