//! UpdateActivityOptions (Temporal's operator command): merges the masked fields into a pending
//! activity's options (task queue, timeouts, retry policy), or restores the options it was
//! scheduled with. No history event is written.
//!
//! The merged timeouts are normalized as for ScheduleActivityTask. The activity moves to a new
//! stamp: a waiting one is scheduled again at its next scheduled time under the new policy
//! (Temporal's GetNextScheduledTime), a running one gets its timeouts re-armed with the new
//! values, a paused one waits for unpause. Priority fields are accepted and ignored (Perdure has
//! no task priorities).

use std::time::Duration;

use temporalio_protos::temporal::api::{
    activity::v1::ActivityOptions, command::v1::ScheduleActivityTaskCommandAttributes,
    common::v1::RetryPolicy,
};

use crate::activity_options::{normalize_activity, validate_retry_policy};
use crate::describe::activity_options;
use crate::errors::CoreError;
use crate::pause_activity::ActivitySelector;
use crate::state::{ActivityInfo, MutableState};
use crate::tasks::Mutation;
use crate::time::{duration_from_proto, Time};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateOptionsRequest {
    pub options: Option<ActivityOptions>,
    /// The update mask's paths; `None` when the request had no mask.
    pub paths: Option<Vec<String>>,
    pub restore_original: bool,
}

impl MutableState {
    /// Returns the mutation and the options of the (last) updated activity.
    pub fn update_activity_options(
        &mut self,
        selector: &ActivitySelector,
        request: &UpdateOptionsRequest,
        now: Time,
    ) -> Result<(Mutation, ActivityOptions), CoreError> {
        let paths: Vec<String> = request
            .paths
            .iter()
            .flatten()
            .map(|p| camel_path(p))
            .collect();
        if request.restore_original && !paths.is_empty() {
            return Err(invalid("Both UpdateMask and RestoreOriginal are provided"));
        }
        let mut m = Mutation::default();
        let mut last = ActivityOptions::default();
        if !request.restore_original {
            if !self.is_running() {
                return Err(CoreError::WorkflowCompleted);
            }
            if request.options.is_none() {
                return Err(invalid("ActivityOptions are not provided"));
            }
        }
        let ids = self.select_activities(selector)?;
        if !request.restore_original && request.paths.is_none() {
            return Err(invalid("UpdateMask is not provided"));
        }
        for id in ids {
            let Some(mut ai) = self.activities.get(&id).cloned() else {
                continue;
            };
            let current = activity_options(&ai);
            let target = if request.restore_original {
                ai.original_options
                    .clone()
                    .unwrap_or_else(|| current.clone())
            } else {
                let from = request.options.clone().unwrap_or_default();
                let merged = merge(current.clone(), &from, &paths)?;
                if paths.iter().any(|p| p.starts_with("retryPolicy.")) {
                    validate_retry_policy(&merged.retry_policy.clone().unwrap_or_default())
                        .map_err(CoreError::InvalidArgument)?;
                }
                self.normalized(&ai, merged)?
            };
            if ai.original_options.is_none() && !request.restore_original {
                ai.original_options = Some(current);
            }
            apply(&mut ai, &target);
            last = activity_options(&ai);
            if ai.paused {
                // Unpause re-arms what is due.
                ai.stamp += 1;
            } else {
                let delay = next_scheduled_time(&ai).0.saturating_sub(now.0).max(0) as u64;
                self.resume_activity(&mut m, &mut ai, Duration::from_nanos(delay), now);
            }
            self.activities.insert(id, ai);
        }
        Ok((m, last))
    }

    /// Puts back the options the activity was scheduled with (ResetActivity's
    /// restore_original_options); the caller moves it to a new stamp.
    pub(crate) fn restore_original_options(&self, ai: &mut ActivityInfo) {
        if let Some(o) = ai.original_options.clone() {
            apply(ai, &o);
        }
    }

    /// The merged options with their timeouts checked and deduced as for ScheduleActivityTask.
    fn normalized(
        &self,
        ai: &ActivityInfo,
        mut o: ActivityOptions,
    ) -> Result<ActivityOptions, CoreError> {
        let attrs = ScheduleActivityTaskCommandAttributes {
            activity_id: ai.activity_id.clone(),
            activity_type: ai.activity_type.clone(),
            task_queue: o.task_queue.clone(),
            schedule_to_close_timeout: o.schedule_to_close_timeout,
            schedule_to_start_timeout: o.schedule_to_start_timeout,
            start_to_close_timeout: o.start_to_close_timeout,
            heartbeat_timeout: o.heartbeat_timeout,
            ..Default::default()
        };
        let run_timeout = duration_from_proto(self.run_timeout.as_ref());
        let n = normalize_activity(&attrs, &self.task_queue, run_timeout)
            .map_err(CoreError::InvalidArgument)?;
        if let Some(tq) = o.task_queue.as_mut() {
            tq.name = n.task_queue;
        }
        o.schedule_to_close_timeout = Some(n.schedule_to_close);
        o.schedule_to_start_timeout = Some(n.schedule_to_start);
        o.start_to_close_timeout = Some(n.start_to_close);
        o.heartbeat_timeout = Some(n.heartbeat);
        Ok(o)
    }
}

fn invalid(m: &str) -> CoreError {
    CoreError::InvalidArgument(m.to_string())
}

/// `start_to_close_timeout` → `startToCloseTimeout`, per dotted segment (Temporal's
/// ConvertPathToCamel).
fn camel_path(path: &str) -> String {
    path.split('.')
        .map(|seg| {
            let mut out = String::new();
            let mut upper = false;
            for c in seg.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Temporal's MergeActivityOptions for the fields Perdure keeps.
fn merge(
    mut into: ActivityOptions,
    from: &ActivityOptions,
    paths: &[String],
) -> Result<ActivityOptions, CoreError> {
    let has = |p: &str| paths.iter().any(|x| x == p);
    if has("taskQueue.name") {
        let tq = from
            .task_queue
            .as_ref()
            .ok_or_else(|| invalid("TaskQueue is not provided"))?;
        into.task_queue.get_or_insert_with(Default::default).name = tq.name.clone();
    }
    if has("scheduleToCloseTimeout") {
        into.schedule_to_close_timeout = from.schedule_to_close_timeout;
    }
    if has("scheduleToStartTimeout") {
        into.schedule_to_start_timeout = from.schedule_to_start_timeout;
    }
    if has("startToCloseTimeout") {
        into.start_to_close_timeout = from.start_to_close_timeout;
    }
    if has("heartbeatTimeout") {
        into.heartbeat_timeout = from.heartbeat_timeout;
    }
    let from_policy = || {
        from.retry_policy
            .as_ref()
            .ok_or_else(|| invalid("RetryPolicy is not provided"))
    };
    if has("retryPolicy") {
        into.retry_policy = Some(from_policy()?.clone());
    }
    type Field = fn(&mut RetryPolicy, &RetryPolicy);
    let fields: [(&str, Field); 4] = [
        ("retryPolicy.initialInterval", |i, f| {
            i.initial_interval = f.initial_interval
        }),
        ("retryPolicy.backoffCoefficient", |i, f| {
            i.backoff_coefficient = f.backoff_coefficient
        }),
        ("retryPolicy.maximumInterval", |i, f| {
            i.maximum_interval = f.maximum_interval
        }),
        ("retryPolicy.maximumAttempts", |i, f| {
            i.maximum_attempts = f.maximum_attempts
        }),
    ];
    for (path, set) in fields {
        if has(path) {
            let f = from_policy()?;
            set(into.retry_policy.get_or_insert_with(Default::default), f);
        }
    }
    Ok(into)
}

fn apply(ai: &mut ActivityInfo, o: &ActivityOptions) {
    if let Some(tq) = o.task_queue.as_ref() {
        ai.task_queue = tq.name.clone();
    }
    ai.schedule_to_close_timeout = o.schedule_to_close_timeout;
    ai.schedule_to_start_timeout = o.schedule_to_start_timeout;
    ai.start_to_close_timeout = o.start_to_close_timeout;
    ai.heartbeat_timeout = o.heartbeat_timeout;
    if let Some(p) = o.retry_policy.as_ref() {
        let mut policy = ai.retry_policy.clone().unwrap_or_default();
        policy.initial_interval = p.initial_interval;
        policy.backoff_coefficient = p.backoff_coefficient;
        policy.maximum_interval = p.maximum_interval;
        policy.maximum_attempts = p.maximum_attempts;
        ai.retry_policy = Some(policy);
    }
}

/// When a waiting attempt is due under the current policy (Temporal's GetNextScheduledTime):
/// the first attempt keeps its time, a retry is due one backoff after the last attempt ended.
fn next_scheduled_time(ai: &ActivityInfo) -> Time {
    if ai.attempt <= 1 || ai.last_attempt_complete_time == 0 {
        return Time(ai.scheduled_time);
    }
    let p = ai.retry_policy.clone().unwrap_or_default();
    let initial = duration_from_proto(p.initial_interval.as_ref()).as_secs_f64();
    let max = duration_from_proto(p.maximum_interval.as_ref()).as_secs_f64();
    let mut interval = initial * p.backoff_coefficient.powi(ai.attempt - 1);
    if max > 0.0 && (interval <= 0.0 || interval > max || !interval.is_finite()) {
        interval = max;
    }
    if interval <= 0.0 || !interval.is_finite() {
        return Time(ai.scheduled_time);
    }
    Time(ai.last_attempt_complete_time).add(Duration::from_secs_f64(interval))
}
