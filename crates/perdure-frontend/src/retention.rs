//! Namespace retention: how long closed runs are kept. RegisterNamespace validates it the way
//! Temporal's frontend does (validateRetentionDuration), and StartWorkflowExecution hands the
//! namespace's value to history, which stores it in the run and deletes the run that long after
//! it closes. This module only validates and converts; it never deletes anything.
//!
//! Temporal refuses a retention below `system.namespaceMinRetentionLocal` (one hour). Tests that
//! need a run to expire quickly lower that floor with the environment variable
//! [`MIN_RETENTION_ENV`] (whole seconds, read once at startup), as Temporal's tests lower the
//! dynamic config value; production never sets it.

use std::time::Duration;

use prost_wkt_types::Duration as ProtoDuration;
use tonic::Status;

use crate::errors;
use crate::namespaces::NamespaceRecord;

/// Temporal's MinRetentionLocal: the floor for a namespace's retention.
pub const MIN_RETENTION_LOCAL: Duration = Duration::from_secs(3600);
/// Lowers [`MIN_RETENTION_LOCAL`] to this many seconds (tests only).
pub const MIN_RETENTION_ENV: &str = "PERDURE_MIN_NAMESPACE_RETENTION_SECS";
/// Temporal caps every duration at 100 years (ValidateAndCapProtoDuration).
const MAX_DURATION_SECS: i64 = 100 * 365 * 24 * 3600;

/// The retention floor in force: [`MIN_RETENTION_LOCAL`] unless [`MIN_RETENTION_ENV`] says
/// otherwise.
pub fn min_retention_from_env() -> Duration {
    match std::env::var(MIN_RETENTION_ENV) {
        Err(_) => MIN_RETENTION_LOCAL,
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(secs) => {
                tracing::warn!(
                    secs,
                    "namespace retention floor lowered by {MIN_RETENTION_ENV} (tests only)"
                );
                Duration::from_secs(secs)
            }
            Err(_) => {
                tracing::warn!(value = %v, "{MIN_RETENTION_ENV} is not a number of seconds; ignored");
                MIN_RETENTION_LOCAL
            }
        },
    }
}

/// A RegisterNamespace retention as Temporal accepts it: present, non-negative, capped at 100
/// years and at least `min`. Anything else is Temporal's "A valid retention period is not set
/// on request.".
pub fn validate(retention: Option<&ProtoDuration>, min: Duration) -> Result<ProtoDuration, Status> {
    let bad = || errors::invalid("A valid retention period is not set on request.");
    // Temporal treats a missing retention as zero, which is below any floor but a zero one.
    let mut d = retention.cloned().unwrap_or_default();
    if (d.seconds > 0 && d.nanos < 0) || (d.seconds < 0 && d.nanos > 0) {
        return Err(bad());
    }
    if d.seconds < 0 || d.nanos < 0 {
        return Err(bad());
    }
    if d.seconds >= MAX_DURATION_SECS {
        d = ProtoDuration {
            seconds: MAX_DURATION_SECS,
            nanos: 0,
        };
    }
    if perdure_core::duration_from_proto(Some(&d)) < min {
        return Err(bad());
    }
    Ok(d)
}

/// The retention stored for a namespace, as history takes it (`None`: the default).
pub fn of(record: &NamespaceRecord) -> Option<Duration> {
    record
        .config
        .as_ref()
        .and_then(|c| c.workflow_execution_retention_ttl.as_ref())
        .map(|d| perdure_core::duration_from_proto(Some(d)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_protos::temporal::api::namespace::v1::NamespaceConfig;

    fn secs(seconds: i64, nanos: i32) -> ProtoDuration {
        ProtoDuration { seconds, nanos }
    }

    #[test]
    fn retention_follows_temporals_rules() {
        let hour = MIN_RETENTION_LOCAL;
        assert_eq!(validate(Some(&secs(3600, 0)), hour).unwrap(), secs(3600, 0));
        assert_eq!(
            validate(Some(&secs(72 * 3600, 0)), hour).unwrap(),
            secs(72 * 3600, 0)
        );
        for bad in [
            None,
            Some(secs(0, 0)),
            Some(secs(3599, 999_999_999)),
            Some(secs(-3600, 0)),
            Some(secs(3600, -1)),
            Some(secs(-1, 5)),
        ] {
            let err = validate(bad.as_ref(), hour).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{bad:?}");
            assert_eq!(
                err.message(),
                "A valid retention period is not set on request."
            );
        }
        // Capped, not refused.
        assert_eq!(
            validate(Some(&secs(i64::MAX, 0)), hour).unwrap(),
            secs(MAX_DURATION_SECS, 0)
        );
        // A lowered floor (tests) admits a one-second retention, still not a negative one.
        let floor = Duration::from_secs(1);
        assert_eq!(validate(Some(&secs(1, 0)), floor).unwrap(), secs(1, 0));
        assert!(validate(Some(&secs(0, 500_000_000)), floor).is_err());
        assert!(validate(None, Duration::ZERO).is_ok());
    }

    #[test]
    fn a_namespace_hands_its_retention_to_history() {
        let record = NamespaceRecord {
            info: None,
            config: Some(NamespaceConfig {
                workflow_execution_retention_ttl: Some(secs(5, 0)),
                ..Default::default()
            }),
        };
        assert_eq!(of(&record), Some(Duration::from_secs(5)));
        assert_eq!(of(&NamespaceRecord::default()), None);
    }
}
