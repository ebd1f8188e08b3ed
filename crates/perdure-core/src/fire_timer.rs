//! Durable timers coming due: user timers, workflow task and activity timeouts, activity
//! retry backoffs, whole-run timeouts (a run timeout may start the next attempt) and the
//! backoff before a retried run's first workflow task. Every timer is checked against the
//! current state (ids, attempt, stamp) so a stale one is a no-op returning an empty mutation.

use temporalio_protos::temporal::api::{
    enums::v1::{EventType, RetryState, TimeoutType, WorkflowExecutionStatus},
    failure::v1::failure::FailureInfo,
    history::v1::{
        ActivityTaskTimedOutEventAttributes, TimerFiredEventAttributes,
        WorkflowExecutionTimedOutEventAttributes, WorkflowTaskTimedOutEventAttributes,
    },
};

use crate::errors::CoreError;
use crate::server_failures::timeout_failure;
use crate::state::{MutableState, WorkflowTaskInfo};
use crate::tasks::{timer_task::Kind, Mutation, TaskRef, TaskTimeout, TimerTask, UserTimer};
use crate::time::{duration_from_proto, Time};
use crate::workflow_retry::{NewRunIds, RunFailure};
use crate::workflow_task_completed::camel_case;

impl MutableState {
    /// `next_run` names the run a run timeout starts if the retry policy allows another
    /// attempt (see `Mutation::new_run`).
    pub fn fire_timer(
        &mut self,
        task: &TimerTask,
        now: Time,
        next_run: &NewRunIds,
    ) -> Result<Mutation, CoreError> {
        let mut m = Mutation::default();
        if !self.is_running() || task.run_id != self.run_id {
            return Ok(m);
        }
        match &task.kind {
            Some(Kind::UserTimer(t)) => self.fire_user_timer(&mut m, t, now),
            Some(Kind::WorkflowTaskTimeout(t)) => self.fire_workflow_task_timeout(&mut m, t, now),
            Some(Kind::ActivityTimeout(t)) => self.fire_activity_timeout(&mut m, t, now),
            Some(Kind::ActivityRetry(t)) => self.fire_activity_retry(&mut m, t, now),
            Some(Kind::WorkflowRunTimeout(_)) => {
                self.close_failed(&mut m, RunFailure::TimedOut, now, next_run)?
            }
            Some(Kind::WorkflowExecutionTimeout(_)) => {
                // The whole chain's deadline: never retried.
                self.time_out_run(&mut m, RetryState::Timeout, now)
            }
            // A backoff timer that finds a workflow task already there is stale.
            Some(Kind::WorkflowBackoff(_)) if !self.had_or_has_workflow_task() => {
                self.schedule_workflow_task(&mut m, now, 1);
            }
            // Only closed runs are deleted, and by the history layer: nothing to change here.
            Some(Kind::WorkflowBackoff(_))
            | Some(Kind::DeleteRun(_))
            | Some(Kind::ScheduleWake(_))
            | None => {}
        }
        Ok(m)
    }

    fn fire_user_timer(&mut self, m: &mut Mutation, t: &UserTimer, now: Time) {
        match self.timers.get(&t.timer_id) {
            Some(info) if info.started_event_id == t.started_event_id => {}
            _ => return,
        }
        self.timers.remove(&t.timer_id);
        let event = self.new_event(
            EventType::TimerFired,
            now,
            TimerFiredEventAttributes {
                timer_id: t.timer_id.clone(),
                started_event_id: t.started_event_id,
            },
        );
        self.write_or_buffer(m, event);
        self.ensure_workflow_task(m, now);
    }

    fn fire_workflow_task_timeout(&mut self, m: &mut Mutation, t: &TaskTimeout, now: Time) {
        let Some(wft) = self.workflow_task.clone() else {
            return;
        };
        if wft.scheduled_event_id != t.scheduled_event_id
            || wft.attempt != t.attempt
            || wft.stamp != t.stamp
        {
            return;
        }
        if t.timeout_type == TimeoutType::ScheduleToStart as i32 {
            self.fire_sticky_schedule_to_start(m, &wft, now);
            return;
        }
        if !wft.is_started() || t.timeout_type != TimeoutType::StartToClose as i32 {
            return;
        }
        // A speculative task that timed out is written, with its timeout, like any other.
        self.materialize_speculative(m);
        self.workflow_task = None;
        if !wft.is_transient() {
            let event = self.new_event(
                EventType::WorkflowTaskTimedOut,
                now,
                WorkflowTaskTimedOutEventAttributes {
                    scheduled_event_id: wft.scheduled_event_id,
                    started_event_id: wft.started_event_id,
                    timeout_type: TimeoutType::StartToClose as i32,
                },
            );
            self.write(m, event);
        }
        let next = self.next_attempt_after_failure(wft.attempt);
        self.schedule_workflow_task(m, now, next);
    }

    /// Nobody took the task from the sticky queue in time: record the timeout and hand the
    /// task to the normal queue as attempt 1, without counting it as a failed attempt (so it is
    /// never transient, as in Temporal).
    fn fire_sticky_schedule_to_start(
        &mut self,
        m: &mut Mutation,
        wft: &WorkflowTaskInfo,
        now: Time,
    ) {
        if wft.is_started() {
            return;
        }
        self.workflow_task = None;
        if wft.speculative {
            // Nothing of it was written: it simply moves to the normal queue, still speculative.
            self.clear_sticky();
            let _ = self.schedule_speculative_workflow_task(m, now);
            return;
        }
        if !wft.is_transient() {
            let event = self.new_event(
                EventType::WorkflowTaskTimedOut,
                now,
                WorkflowTaskTimedOutEventAttributes {
                    scheduled_event_id: wft.scheduled_event_id,
                    started_event_id: 0,
                    timeout_type: TimeoutType::ScheduleToStart as i32,
                },
            );
            self.write(m, event);
        }
        self.clear_sticky();
        self.schedule_workflow_task(m, now, 1);
    }

    fn fire_activity_timeout(&mut self, m: &mut Mutation, t: &TaskTimeout, now: Time) {
        let Some(mut ai) = self.activities.get(&t.scheduled_event_id).cloned() else {
            return;
        };
        if ai.paused {
            // Paused activities have no timeouts; unpausing re-arms them.
            return;
        }
        let tt = TimeoutType::try_from(t.timeout_type).unwrap_or(TimeoutType::Unspecified);
        let current_attempt = ai.attempt == t.attempt && ai.stamp == t.stamp && !ai.backing_off;
        let live = match tt {
            TimeoutType::ScheduleToClose => true,
            TimeoutType::ScheduleToStart => current_attempt && !ai.is_started(),
            TimeoutType::StartToClose => current_attempt && ai.is_started(),
            TimeoutType::Heartbeat => {
                if !(current_attempt && ai.is_started()) {
                    return;
                }
                let hb = duration_from_proto(ai.heartbeat_timeout.as_ref());
                let last = Time(ai.last_heartbeat_time.max(ai.started_time));
                let deadline = last.add(hb);
                if deadline > now {
                    // A heartbeat arrived since this timer was armed: push it out.
                    let timer = self.timer_task(deadline, Kind::ActivityTimeout(t.clone()));
                    m.timer_tasks.push(timer);
                    return;
                }
                true
            }
            TimeoutType::Unspecified => false,
        };
        if !live {
            return;
        }
        let type_name = camel_case(tt.as_str_name(), "TIMEOUT_TYPE_");
        let failure = timeout_failure(format!("activity {type_name} timeout"), tt);
        let retry_state = match self.retry_activity(m, &mut ai, Some(&failure), now) {
            None => return,
            Some(state) => state,
        };
        let mut failure = if retry_state == RetryState::Timeout
            && tt != TimeoutType::ScheduleToStart
        {
            timeout_failure(
                "Not enough time to schedule next retry before activity ScheduleToClose timeout, giving up retrying",
                TimeoutType::ScheduleToClose,
            )
        } else {
            failure
        };
        if let Some(FailureInfo::TimeoutFailureInfo(info)) = failure.failure_info.as_mut() {
            info.last_heartbeat_details = ai.last_heartbeat_details.clone();
        }
        failure.cause = ai.last_failure.clone().map(Box::new);
        let scheduled_event_id = ai.scheduled_event_id;
        self.write_activity_outcome(m, &ai, now, |started_event_id| {
            (
                EventType::ActivityTaskTimedOut,
                ActivityTaskTimedOutEventAttributes {
                    failure: Some(failure),
                    scheduled_event_id,
                    started_event_id,
                    retry_state: retry_state as i32,
                }
                .into(),
            )
        });
    }

    fn fire_activity_retry(&mut self, m: &mut Mutation, t: &TaskRef, now: Time) {
        let Some(ai) = self.activities.get_mut(&t.scheduled_event_id) else {
            return;
        };
        if ai.attempt != t.attempt || ai.stamp != t.stamp || !ai.backing_off || ai.paused {
            return;
        }
        ai.backing_off = false;
        ai.scheduled_time = now.0;
        let ai = ai.clone();
        self.dispatch_activity_attempt(m, &ai, now);
    }

    fn time_out_run(&mut self, m: &mut Mutation, retry_state: RetryState, now: Time) {
        let event = self.new_event(
            EventType::WorkflowExecutionTimedOut,
            now,
            WorkflowExecutionTimedOutEventAttributes {
                retry_state: retry_state as i32,
                new_execution_run_id: String::new(),
            },
        );
        self.close(m, WorkflowExecutionStatus::TimedOut, event, now);
    }
}
