//! Activity results reported by workers (complete, fail, heartbeat) and the shared
//! retry-or-close logic also used by activity timeouts. Non-final attempts leave no trace
//! in history; the final outcome writes ActivityTaskStarted{attempt, last_failure} followed
//! by the outcome event, buffered if a workflow task is running.

use temporalio_protos::temporal::api::{
    common::v1::Payloads,
    enums::v1::{EventType, RetryState},
    failure::v1::Failure,
    history::v1::{
        ActivityTaskCompletedEventAttributes, ActivityTaskFailedEventAttributes,
        ActivityTaskStartedEventAttributes, HistoryEvent,
    },
};

use crate::errors::CoreError;
use crate::retry::{is_retryable, next_backoff};
use crate::state::{ActivityInfo, MutableState, BUFFERED_STARTED_EVENT_ID};
use crate::tasks::{timer_task, Mutation, TaskRef};
use crate::time::{duration_from_proto, Time};
use crate::token::TaskToken;

impl MutableState {
    /// Finds the started activity attempt a token refers to.
    pub(crate) fn started_activity_for(
        &self,
        token: &TaskToken,
    ) -> Result<ActivityInfo, CoreError> {
        if !self.is_running() {
            return Err(CoreError::WorkflowCompleted);
        }
        let ai = if token.scheduled_event_id > 0 {
            self.activities.get(&token.scheduled_event_id)
        } else {
            self.activity_by_id(&token.activity_id)
        };
        match ai {
            Some(ai)
                if ai.is_started()
                    && !ai.backing_off
                    && (token.scheduled_event_id <= 0 || ai.attempt == token.attempt) =>
            {
                Ok(ai.clone())
            }
            _ => Err(CoreError::activity_task_not_found()),
        }
    }

    pub fn complete_activity(
        &mut self,
        token: &TaskToken,
        result: Option<Payloads>,
        identity: &str,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        let ai = self.started_activity_for(token)?;
        let mut m = Mutation::default();
        let identity = identity.to_string();
        self.write_activity_outcome(&mut m, &ai, now, |started_event_id| {
            (
                EventType::ActivityTaskCompleted,
                ActivityTaskCompletedEventAttributes {
                    result,
                    scheduled_event_id: ai.scheduled_event_id,
                    started_event_id,
                    identity,
                    ..Default::default()
                }
                .into(),
            )
        });
        Ok(m)
    }

    pub fn fail_activity(
        &mut self,
        token: &TaskToken,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: &str,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        let mut ai = self.started_activity_for(token)?;
        if last_heartbeat_details.is_some() {
            ai.last_heartbeat_details = last_heartbeat_details;
            ai.last_heartbeat_time = now.0;
        }
        let mut m = Mutation::default();
        let retry_state = match self.retry_activity(&mut m, &mut ai, failure.as_ref(), now) {
            None => return Ok(m),
            Some(state) => state,
        };
        let identity = identity.to_string();
        self.write_activity_outcome(&mut m, &ai, now, |started_event_id| {
            (
                EventType::ActivityTaskFailed,
                ActivityTaskFailedEventAttributes {
                    failure,
                    scheduled_event_id: ai.scheduled_event_id,
                    started_event_id,
                    identity,
                    retry_state: retry_state as i32,
                    ..Default::default()
                }
                .into(),
            )
        });
        Ok(m)
    }

    /// The pending activity a task token names (by scheduled event id, else activity id).
    pub fn activity_for_token(&self, token: &TaskToken) -> Option<&ActivityInfo> {
        if token.scheduled_event_id > 0 {
            self.activities.get(&token.scheduled_event_id)
        } else {
            self.activity_by_id(&token.activity_id)
        }
    }

    /// Records a heartbeat. Returns `cancel_requested`: whether the workflow asked to cancel
    /// the activity (the worker then reports RespondActivityTaskCanceled).
    pub fn record_activity_heartbeat(
        &mut self,
        token: &TaskToken,
        details: Option<Payloads>,
        now: Time,
    ) -> Result<(Mutation, bool), CoreError> {
        let ai = self.started_activity_for(token)?;
        if let Some(a) = self.activities.get_mut(&ai.scheduled_event_id) {
            a.last_heartbeat_details = details;
            a.last_heartbeat_time = now.0;
        }
        Ok((Mutation::default(), ai.cancel_requested))
    }

    /// Schedules the next attempt if the policy allows (returns `None`, no events), or
    /// returns the final retry state. Updates `ai` in place and in the map.
    pub(crate) fn retry_activity(
        &mut self,
        m: &mut Mutation,
        ai: &mut ActivityInfo,
        failure: Option<&Failure>,
        now: Time,
    ) -> Option<RetryState> {
        let policy = ai.retry_policy.clone().unwrap_or_default();
        if ai.paused
            && !ai.cancel_requested
            && is_retryable(failure, &policy.non_retryable_error_types)
        {
            // Temporal retries a paused activity without looking at its policy and arms no
            // timer: the next attempt waits for UnpauseActivity.
            ai.attempt += 1;
            ai.stamp += 1;
            ai.started_time = 0;
            ai.request_id.clear();
            ai.started_identity.clear();
            ai.last_failure = failure.cloned();
            ai.last_attempt_complete_time = now.0;
            ai.backing_off = false;
            ai.clear_reset_flags();
            self.activities.insert(ai.scheduled_event_id, ai.clone());
            return None;
        }
        let s2c = duration_from_proto(ai.schedule_to_close_timeout.as_ref());
        let expiration = if s2c.is_zero() {
            Time(0)
        } else {
            Time(ai.first_scheduled_time).add(s2c)
        };
        match next_backoff(&policy, ai.attempt, failure, now, expiration) {
            Err(state) => Some(state),
            Ok(backoff) => {
                ai.attempt += 1;
                ai.stamp += 1;
                ai.started_time = 0;
                ai.request_id.clear();
                ai.started_identity.clear();
                ai.last_failure = failure.cloned();
                ai.last_attempt_complete_time = now.0;
                ai.backing_off = true;
                ai.clear_reset_flags();
                ai.scheduled_time = now.add(backoff).0;
                let t = self.timer_task(
                    now.add(backoff),
                    timer_task::Kind::ActivityRetry(TaskRef {
                        scheduled_event_id: ai.scheduled_event_id,
                        attempt: ai.attempt,
                        stamp: ai.stamp,
                    }),
                );
                m.timer_tasks.push(t);
                self.activities.insert(ai.scheduled_event_id, ai.clone());
                None
            }
        }
    }

    /// Writes (or buffers) ActivityTaskStarted for a started attempt, then the outcome
    /// built by `outcome(started_event_id)`, removes the activity and makes sure a workflow
    /// task will see the result.
    pub(crate) fn write_activity_outcome(
        &mut self,
        m: &mut Mutation,
        ai: &ActivityInfo,
        now: Time,
        outcome: impl FnOnce(
            i64,
        ) -> (
            EventType,
            temporalio_protos::temporal::api::history::v1::history_event::Attributes,
        ),
    ) {
        let buffering = self.has_started_workflow_task();
        let mut started_event_id = 0;
        if ai.is_started() {
            let mut started = self.new_event(
                EventType::ActivityTaskStarted,
                Time(ai.started_time),
                ActivityTaskStartedEventAttributes {
                    scheduled_event_id: ai.scheduled_event_id,
                    identity: ai.started_identity.clone(),
                    request_id: ai.request_id.clone(),
                    attempt: ai.attempt,
                    last_failure: ai.last_failure.clone(),
                    ..Default::default()
                },
            );
            if buffering {
                started.event_id = 0;
                self.buffered_events.push(started);
                started_event_id = BUFFERED_STARTED_EVENT_ID;
            } else {
                started_event_id = self.write(m, started);
            }
        }
        let (event_type, attributes) = outcome(started_event_id);
        let event = HistoryEvent {
            event_time: Some(now.to_timestamp()),
            event_type: event_type as i32,
            attributes: Some(attributes),
            ..Default::default()
        };
        self.write_or_buffer(m, event);
        if let Some(removed) = self.activities.remove(&ai.scheduled_event_id) {
            if removed.paused {
                self.sync_pause_info();
            }
        }
        self.ensure_workflow_task(m, now);
    }
}
