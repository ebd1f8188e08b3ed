//! Retry arithmetic shared by server-side activity retries (Temporal's RetryActivity) and
//! workflow retries (`workflow_retry`): whether a failure is retryable, and how long to back
//! off (Temporal's nextBackoffInterval). Pure arithmetic.

use std::time::Duration;

use temporalio_protos::temporal::api::{
    common::v1::RetryPolicy,
    enums::v1::{RetryState, TimeoutType},
    failure::v1::{failure::FailureInfo, Failure},
};

use crate::time::{duration_from_proto, Time};

const TIMEOUT_TYPE_PREFIX: &str = "TemporalTimeout:";

pub(crate) fn is_retryable(failure: Option<&Failure>, non_retryable_types: &[String]) -> bool {
    let Some(f) = failure else { return true };
    match &f.failure_info {
        Some(FailureInfo::TerminatedFailureInfo(_)) | Some(FailureInfo::CanceledFailureInfo(_)) => {
            false
        }
        Some(FailureInfo::TimeoutFailureInfo(t)) => {
            let tt = TimeoutType::try_from(t.timeout_type).unwrap_or(TimeoutType::Unspecified);
            match tt {
                TimeoutType::StartToClose | TimeoutType::Heartbeat => {
                    let name = crate::workflow_task_completed::camel_case(
                        tt.as_str_name(),
                        "TIMEOUT_TYPE_",
                    );
                    !non_retryable_types.contains(&format!("{TIMEOUT_TYPE_PREFIX}{name}"))
                }
                _ => false,
            }
        }
        Some(FailureInfo::ServerFailureInfo(s)) => !s.non_retryable,
        Some(FailureInfo::ApplicationFailureInfo(a)) => {
            !a.non_retryable && !non_retryable_types.contains(&a.r#type)
        }
        _ => true,
    }
}

/// Decides the next attempt. `attempt` is the attempt that just failed;
/// `expiration` (unset = none) is first-scheduled + schedule-to-close.
pub(crate) fn next_backoff(
    policy: &RetryPolicy,
    attempt: i32,
    failure: Option<&Failure>,
    now: Time,
    expiration: Time,
) -> Result<Duration, RetryState> {
    if let Some(FailureInfo::TimeoutFailureInfo(t)) = failure.and_then(|f| f.failure_info.as_ref())
    {
        if t.timeout_type == TimeoutType::ScheduleToStart as i32
            || t.timeout_type == TimeoutType::ScheduleToClose as i32
        {
            return Err(RetryState::Timeout);
        }
    }
    if !is_retryable(failure, &policy.non_retryable_error_types) {
        return Err(RetryState::NonRetryableFailure);
    }
    backoff_interval(policy, attempt, failure, now, expiration)
}

/// Temporal's nextBackoffInterval: the wait before the attempt after `attempt`, once the
/// failure is known to be retryable. The failure only matters for its `next_retry_delay`.
pub(crate) fn backoff_interval(
    policy: &RetryPolicy,
    attempt: i32,
    failure: Option<&Failure>,
    now: Time,
    expiration: Time,
) -> Result<Duration, RetryState> {
    let attempt = attempt.max(1);
    if policy.maximum_attempts > 0 && attempt >= policy.maximum_attempts {
        return Err(RetryState::MaximumAttemptsReached);
    }
    let mut max_interval = duration_from_proto(policy.maximum_interval.as_ref());
    let delay = match failure.and_then(|f| f.failure_info.as_ref()) {
        Some(FailureInfo::ApplicationFailureInfo(a)) if a.next_retry_delay.is_some() => {
            Some(duration_from_proto(a.next_retry_delay.as_ref()))
        }
        _ => None,
    };
    let mut interval = match delay {
        Some(d) => {
            max_interval = d;
            d
        }
        None => {
            let initial = duration_from_proto(policy.initial_interval.as_ref()).as_secs_f64();
            let secs = initial * policy.backoff_coefficient.powi(attempt - 1);
            if secs.is_finite() && secs < 1e12 {
                Duration::from_secs_f64(secs.max(0.0))
            } else {
                Duration::ZERO
            }
        }
    };
    if max_interval.is_zero() && interval.is_zero() {
        return Err(RetryState::Timeout);
    }
    if !max_interval.is_zero() && (interval.is_zero() || interval > max_interval) {
        interval = max_interval;
    }
    if !expiration.is_unset() && now.add(interval) > expiration {
        return Err(RetryState::Timeout);
    }
    Ok(interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity_options::retry_policy_with_defaults;
    use temporalio_protos::temporal::api::failure::v1::{
        ApplicationFailureInfo, TimeoutFailureInfo,
    };

    fn app(t: &str, non_retryable: bool) -> Failure {
        Failure {
            message: "boom".into(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: t.into(),
                    non_retryable,
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn exponential_backoff_capped() {
        let p = retry_policy_with_defaults(None);
        let now = Time(0);
        let f = app("E", false);
        assert_eq!(
            next_backoff(&p, 1, Some(&f), now, Time(0)),
            Ok(Duration::from_secs(1))
        );
        assert_eq!(
            next_backoff(&p, 2, Some(&f), now, Time(0)),
            Ok(Duration::from_secs(2))
        );
        assert_eq!(
            next_backoff(&p, 3, Some(&f), now, Time(0)),
            Ok(Duration::from_secs(4))
        );
        assert_eq!(
            next_backoff(&p, 20, Some(&f), now, Time(0)),
            Ok(Duration::from_secs(100))
        );
    }

    #[test]
    fn stops_when_not_retryable_or_exhausted() {
        let mut p = retry_policy_with_defaults(None);
        p.non_retryable_error_types = vec!["Bad".into()];
        assert_eq!(
            next_backoff(&p, 1, Some(&app("Bad", false)), Time(0), Time(0)),
            Err(RetryState::NonRetryableFailure)
        );
        assert_eq!(
            next_backoff(&p, 1, Some(&app("E", true)), Time(0), Time(0)),
            Err(RetryState::NonRetryableFailure)
        );
        p.maximum_attempts = 2;
        assert_eq!(
            next_backoff(&p, 2, Some(&app("E", false)), Time(0), Time(0)),
            Err(RetryState::MaximumAttemptsReached)
        );
        // 1s backoff would pass the 500ms expiration.
        assert_eq!(
            next_backoff(&p, 1, Some(&app("E", false)), Time(0), Time(500_000_000)),
            Err(RetryState::Timeout)
        );
        let s2s = Failure {
            failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
                timeout_type: TimeoutType::ScheduleToStart as i32,
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(
            next_backoff(&p, 1, Some(&s2s), Time(0), Time(0)),
            Err(RetryState::Timeout)
        );
    }

    #[test]
    fn next_retry_delay_overrides() {
        let p = retry_policy_with_defaults(None);
        let mut f = app("E", false);
        if let Some(FailureInfo::ApplicationFailureInfo(a)) = f.failure_info.as_mut() {
            a.next_retry_delay = Some(crate::time::duration_to_proto(Duration::from_secs(7)));
        }
        assert_eq!(
            next_backoff(&p, 5, Some(&f), Time(0), Time(0)),
            Ok(Duration::from_secs(7))
        );
    }
}
