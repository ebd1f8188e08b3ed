//! Validation and normalization of ScheduleActivityTask attributes, following Temporal:
//! default task queue, default retry policy, and timeouts deduced from each other and
//! capped by the run timeout. Pure functions; no state.

use std::time::Duration;

use prost_wkt_types::Duration as ProtoDuration;
use temporalio_protos::temporal::api::{
    command::v1::ScheduleActivityTaskCommandAttributes, common::v1::RetryPolicy,
};

use crate::limits::MAX_ID_LENGTH;
use crate::time::{duration_from_proto, duration_to_proto, is_negative};

pub const DEFAULT_RETRY_INITIAL_INTERVAL: Duration = Duration::from_secs(1);
pub const DEFAULT_RETRY_BACKOFF_COEFFICIENT: f64 = 2.0;
pub const DEFAULT_RETRY_MAXIMUM_INTERVAL_COEFFICIENT: u32 = 100;

pub(crate) struct NormalizedActivity {
    pub task_queue: String,
    pub schedule_to_close: ProtoDuration,
    pub schedule_to_start: ProtoDuration,
    pub start_to_close: ProtoDuration,
    pub heartbeat: ProtoDuration,
    pub retry_policy: RetryPolicy,
}

/// Fills unset retry policy fields with Temporal's defaults.
pub fn retry_policy_with_defaults(p: Option<&RetryPolicy>) -> RetryPolicy {
    let mut p = p.cloned().unwrap_or_default();
    if duration_from_proto(p.initial_interval.as_ref()).is_zero() {
        p.initial_interval = Some(duration_to_proto(DEFAULT_RETRY_INITIAL_INTERVAL));
    }
    if duration_from_proto(p.maximum_interval.as_ref()).is_zero() {
        let initial = duration_from_proto(p.initial_interval.as_ref());
        p.maximum_interval = Some(duration_to_proto(
            initial * DEFAULT_RETRY_MAXIMUM_INTERVAL_COEFFICIENT,
        ));
    }
    if p.backoff_coefficient == 0.0 {
        p.backoff_coefficient = DEFAULT_RETRY_BACKOFF_COEFFICIENT;
    }
    p
}

pub(crate) fn validate_retry_policy(p: &RetryPolicy) -> Result<(), String> {
    if p.maximum_attempts == 1 {
        return Ok(());
    }
    if is_negative(p.initial_interval.as_ref()) {
        return Err("invalid InitialInterval set on retry policy: negative duration".into());
    }
    if p.backoff_coefficient < 1.0 {
        return Err("BackoffCoefficient cannot be less than 1 on retry policy.".into());
    }
    if is_negative(p.maximum_interval.as_ref()) {
        return Err("invalid MaximumInterval set on retry policy: negative duration".into());
    }
    let max = duration_from_proto(p.maximum_interval.as_ref());
    if !max.is_zero() && max < duration_from_proto(p.initial_interval.as_ref()) {
        return Err("MaximumInterval cannot be less than InitialInterval on retry policy.".into());
    }
    if p.maximum_attempts < 0 {
        return Err("MaximumAttempts cannot be negative on retry policy.".into());
    }
    Ok(())
}

/// Returns the normalized options or the detail message for BAD_SCHEDULE_ACTIVITY_ATTRIBUTES.
pub(crate) fn normalize_activity(
    a: &ScheduleActivityTaskCommandAttributes,
    workflow_task_queue: &str,
    run_timeout: Duration,
) -> Result<NormalizedActivity, String> {
    let task_queue = match a.task_queue.as_ref().map(|t| t.name.as_str()) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => workflow_task_queue.to_string(),
    };
    if a.activity_id.is_empty() {
        return Err("activityId is not set".into());
    }
    if a.activity_type.as_ref().is_none_or(|t| t.name.is_empty()) {
        return Err("activityType is not set".into());
    }
    let retry_policy = retry_policy_with_defaults(a.retry_policy.as_ref());
    validate_retry_policy(&retry_policy)?;
    let type_len = a.activity_type.as_ref().map_or(0, |t| t.name.len());
    if a.activity_id.len() > MAX_ID_LENGTH {
        return Err(format!(
            "activityId exceeds length limit. Length={} Limit={MAX_ID_LENGTH}",
            a.activity_id.len()
        ));
    }
    if type_len > MAX_ID_LENGTH {
        return Err(format!(
            "activityType exceeds length limit. Length={type_len} Limit={MAX_ID_LENGTH}"
        ));
    }
    if task_queue.len() > MAX_ID_LENGTH {
        return Err("taskQueue length exceeds limit".into());
    }

    for (name, d) in [
        ("ScheduleToCloseTimeout", &a.schedule_to_close_timeout),
        ("ScheduleToStartTimeout", &a.schedule_to_start_timeout),
        ("StartToCloseTimeout", &a.start_to_close_timeout),
        ("HeartbeatTimeout", &a.heartbeat_timeout),
    ] {
        if is_negative(d.as_ref()) {
            return Err(format!("invalid {name}: negative duration"));
        }
    }
    let mut s2c = duration_from_proto(a.schedule_to_close_timeout.as_ref());
    let mut s2s = duration_from_proto(a.schedule_to_start_timeout.as_ref());
    let mut stc = duration_from_proto(a.start_to_close_timeout.as_ref());
    let mut hb = duration_from_proto(a.heartbeat_timeout.as_ref());

    if !s2c.is_zero() {
        s2s = if s2s.is_zero() { s2c } else { s2s.min(s2c) };
        stc = if stc.is_zero() { s2c } else { stc.min(s2c) };
    } else if !stc.is_zero() {
        s2c = run_timeout;
        if s2s.is_zero() {
            s2s = run_timeout;
        }
    } else {
        let ty = a
            .activity_type
            .as_ref()
            .map(|t| t.name.as_str())
            .unwrap_or_default();
        return Err(format!(
            "a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity. ActivityId={} ActivityType={}",
            a.activity_id, ty
        ));
    }
    if !run_timeout.is_zero() {
        s2c = s2c.min(run_timeout);
        s2s = s2s.min(run_timeout);
        stc = stc.min(run_timeout);
        hb = hb.min(run_timeout);
    }
    hb = hb.min(stc);

    Ok(NormalizedActivity {
        task_queue,
        schedule_to_close: duration_to_proto(s2c),
        schedule_to_start: duration_to_proto(s2s),
        start_to_close: duration_to_proto(stc),
        heartbeat: duration_to_proto(hb),
        retry_policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_protos::temporal::api::common::v1::ActivityType;

    fn attrs() -> ScheduleActivityTaskCommandAttributes {
        ScheduleActivityTaskCommandAttributes {
            activity_id: "1".into(),
            activity_type: Some(ActivityType {
                name: "bang".into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn start_to_close_only_without_run_timeout() {
        let mut a = attrs();
        a.start_to_close_timeout = Some(duration_to_proto(Duration::from_secs(30)));
        let n = normalize_activity(&a, "tq", Duration::ZERO).unwrap();
        assert_eq!(n.task_queue, "tq");
        assert_eq!(
            duration_from_proto(Some(&n.start_to_close)),
            Duration::from_secs(30)
        );
        assert!(duration_from_proto(Some(&n.schedule_to_close)).is_zero());
        assert!(duration_from_proto(Some(&n.schedule_to_start)).is_zero());
        assert_eq!(n.retry_policy.backoff_coefficient, 2.0);
        assert_eq!(
            duration_from_proto(n.retry_policy.initial_interval.as_ref()),
            Duration::from_secs(1)
        );
        assert_eq!(
            duration_from_proto(n.retry_policy.maximum_interval.as_ref()),
            Duration::from_secs(100)
        );
        assert_eq!(n.retry_policy.maximum_attempts, 0);
    }

    #[test]
    fn schedule_to_close_fills_the_rest_and_run_timeout_caps() {
        let mut a = attrs();
        a.schedule_to_close_timeout = Some(duration_to_proto(Duration::from_secs(60)));
        a.heartbeat_timeout = Some(duration_to_proto(Duration::from_secs(90)));
        let n = normalize_activity(&a, "tq", Duration::from_secs(45)).unwrap();
        assert_eq!(
            duration_from_proto(Some(&n.schedule_to_close)),
            Duration::from_secs(45)
        );
        assert_eq!(
            duration_from_proto(Some(&n.schedule_to_start)),
            Duration::from_secs(45)
        );
        assert_eq!(
            duration_from_proto(Some(&n.start_to_close)),
            Duration::from_secs(45)
        );
        assert_eq!(
            duration_from_proto(Some(&n.heartbeat)),
            Duration::from_secs(45)
        );
    }

    #[test]
    fn missing_timeouts_and_ids_are_rejected() {
        assert!(normalize_activity(&attrs(), "tq", Duration::ZERO).is_err());
        let mut a = attrs();
        a.activity_id.clear();
        a.start_to_close_timeout = Some(duration_to_proto(Duration::from_secs(1)));
        assert_eq!(
            normalize_activity(&a, "tq", Duration::ZERO).err().unwrap(),
            "activityId is not set"
        );
    }
}
