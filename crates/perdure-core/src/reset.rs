//! ResetWorkflowExecution (Temporal's workflow reset): a new run of the same workflow id whose
//! history is the base run's up to a workflow task's started event, followed by that task
//! failing with cause RESET_WORKFLOW, the base's signals received after that point (re-applied
//! unless excluded) and a new workflow task, so a worker replays and carries on from there.
//! A base still running is terminated by the resetter in the same write.
//!
//! Owns: choosing the reset point (Temporal's messages for a bad one), rebuilding the new run's
//! state from the base's events, and the events and tasks of both runs. Must never: read
//! storage or clocks (the caller passes the base's history and the time), or rebuild a run
//! whose history holds events it cannot replay (children, external requests, updates, Nexus):
//! those are refused rather than half rebuilt.

use std::collections::BTreeMap;

use temporalio_protos::temporal::api::{
    enums::v1::{EventType, ResetReapplyExcludeType, ResetReapplyType},
    enums::v1::{WorkflowExecutionStatus, WorkflowTaskFailedCause},
    failure::v1::{failure::FailureInfo, Failure, ResetWorkflowFailureInfo},
    history::v1::{
        history_event::Attributes, HistoryEvent, WorkflowTaskFailedEventAttributes,
        WorkflowTaskStartedEventAttributes,
    },
};

use crate::errors::CoreError;
use crate::state::{ActivityInfo, MutableState, TimerInfo, WorkflowTaskInfo};
use crate::tasks::{timer_task, Mutation, NewRun, RunTimeout, UserTimer};
use crate::time::{duration_from_proto, Time};
use crate::workflow_task_failed::HISTORY_SERVICE_IDENTITY;

/// The identity Temporal's resetter writes on the base run's termination.
pub const RESETTER_IDENTITY: &str = "history-resetter";

/// What a reset request asks for, checked by the frontend.
#[derive(Debug, Clone, Default)]
pub struct ResetParams {
    pub workflow_task_finish_event_id: i64,
    pub reason: String,
    pub new_run_id: String,
    pub reset_reapply_type: i32,
    pub reset_reapply_exclude_types: Vec<i32>,
}

impl ResetParams {
    /// Temporal's GetResetReapplyExcludeTypes, for signals (the only kind re-applied here).
    fn reapplies_signals(&self) -> bool {
        let excluded_by_type = self.reset_reapply_type == ResetReapplyType::None as i32;
        let excluded = self
            .reset_reapply_exclude_types
            .contains(&(ResetReapplyExcludeType::Signal as i32));
        !excluded_by_type && !excluded
    }
}

fn bad(message: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument(message.into())
}

impl MutableState {
    /// Resets this run (the base) with its whole `history`: returns the base's mutation (its
    /// termination when it is running, with the new run in `new_run`) — `self` is changed to
    /// match. The caller makes the new run current in the same write.
    pub fn reset(
        &mut self,
        history: &[HistoryEvent],
        params: &ResetParams,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        let finish = params.workflow_task_finish_event_id;
        if finish <= 1 || finish >= self.next_event_id {
            return Err(bad(
                "Workflow task finish ID must be > 1 && <= workflow last event ID.",
            ));
        }
        if params.new_run_id.is_empty() {
            return Err(bad("Invalid RunId."));
        }
        let last = finish - 1;
        if history.len() as i64 + 1 < self.next_event_id || history.len() < last as usize {
            return Err(CoreError::NotFound(
                "history of the base run is incomplete".into(),
            ));
        }
        check_boundary(history, last)?;
        let (mut next, mut m) = self.rebuild(&history[..last as usize], params, now)?;
        for event in &history[last as usize..] {
            if event.event_type == EventType::WorkflowExecutionSignaled as i32
                && params.reapplies_signals()
            {
                if let Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) =
                    &event.attributes
                {
                    let mut a = a.clone();
                    a.external_workflow_execution = None;
                    next.signal_count += 1;
                    if !a.request_id.is_empty() {
                        next.signal_request_ids.push(a.request_id.clone());
                    }
                    let e = next.new_event(EventType::WorkflowExecutionSignaled, now, a);
                    next.write(&mut m, e);
                }
            }
        }
        next.schedule_workflow_task(&mut m, now, 1);
        let mut base = if self.is_running() {
            self.terminate(&params.reason, None, RESETTER_IDENTITY, now)?
        } else {
            Mutation::default()
        };
        self.reset_run_id = params.new_run_id.clone();
        base.new_run = Some(Box::new(NewRun {
            state: next,
            mutation: m,
        }));
        Ok(base)
    }

    /// The new run: the base's identity and start, rebuilt from `events` (ids 1..=last), then
    /// the reset point's workflow task failed and started activities failed.
    fn rebuild(
        &self,
        events: &[HistoryEvent],
        params: &ResetParams,
        now: Time,
    ) -> Result<(MutableState, Mutation), CoreError> {
        let mut s = self.clone();
        s.run_id = params.new_run_id.clone();
        s.status = WorkflowExecutionStatus::Running as i32;
        s.close_time = 0;
        s.completion_event_id = 0;
        s.next_event_id = 1;
        s.last_workflow_task_started_event_id = 0;
        s.last_completed_workflow_task_started_event_id = 0;
        s.workflow_task = None;
        s.activities = BTreeMap::new();
        s.timers = BTreeMap::new();
        s.buffered_events = Vec::new();
        s.history_size_bytes = 0;
        s.sticky_task_queue = String::new();
        s.sticky_schedule_to_start_timeout = None;
        s.start_time = now.0;
        s.execution_time = now.0;
        s.last_event_time = 0;
        s.signal_request_ids = Vec::new();
        s.signal_count = 0;
        s.cancel_requested = false;
        s.children = BTreeMap::new();
        s.external_requests = BTreeMap::new();
        s.updates = BTreeMap::new();
        s.reset_run_id = String::new();
        s.state_transition_count = 0;
        if s.root_run_id == self.run_id {
            s.root_run_id = s.run_id.clone();
        }
        // The base's own points at or past the reset point no longer describe any history.
        if let Some(points) = s.auto_reset_points.as_mut() {
            let last = events.len() as i64;
            points
                .points
                .retain(|p| p.run_id != self.run_id || p.first_workflow_task_completed_id <= last);
        }
        // Memo and search attributes are replayed from the start on.
        let mut m = Mutation::default();
        for event in events {
            s.replay(event)?;
            s.next_event_id = event.event_id + 1;
            s.history_size_bytes += crate::limits::history_event_size(event);
            if let Some(t) = &event.event_time {
                s.last_event_time = s.last_event_time.max(Time::from_timestamp(t).0);
            }
            m.events.push(event.clone());
        }
        let Some(mut wft) = s.workflow_task.clone() else {
            return Err(bad(format!(
                "Can only reset workflow to event ID in range [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: {}",
                params.workflow_task_finish_event_id
            )));
        };
        if !wft.is_started() {
            let e = s.new_event(
                EventType::WorkflowTaskStarted,
                now,
                WorkflowTaskStartedEventAttributes {
                    scheduled_event_id: wft.scheduled_event_id,
                    identity: HISTORY_SERVICE_IDENTITY.to_string(),
                    request_id: wft.request_id.clone(),
                    history_size_bytes: s.history_size_bytes,
                    ..Default::default()
                },
            );
            wft.started_event_id = s.write(&mut m, e);
        }
        let failed = s.new_event(
            EventType::WorkflowTaskFailed,
            now,
            WorkflowTaskFailedEventAttributes {
                scheduled_event_id: wft.scheduled_event_id,
                started_event_id: wft.started_event_id,
                cause: WorkflowTaskFailedCause::ResetWorkflow as i32,
                failure: Some(reset_failure(&params.reason)),
                identity: HISTORY_SERVICE_IDENTITY.to_string(),
                base_run_id: self.run_id.clone(),
                new_run_id: params.new_run_id.clone(),
                ..Default::default()
            },
        );
        s.write(&mut m, failed);
        s.workflow_task = None;
        s.last_workflow_task_started_event_id = wft.started_event_id;
        s.redispatch_activities(&mut m, now);
        for timer in s.timers.values() {
            let t = s.timer_task(
                Time(timer.expiry_time),
                timer_task::Kind::UserTimer(UserTimer {
                    timer_id: timer.timer_id.clone(),
                    started_event_id: timer.started_event_id,
                }),
            );
            m.timer_tasks.push(t);
        }
        s.arm_run_timeouts(&mut m, now);
        Ok((s, m))
    }

    /// Pending activities are dispatched again as if scheduled now (Temporal's
    /// failInflightActivity). None of them is started: an ActivityTaskStarted event is written
    /// with its outcome, so a rebuilt state never holds a started activity.
    fn redispatch_activities(&mut self, m: &mut Mutation, now: Time) {
        let pending: Vec<ActivityInfo> = self.activities.values().cloned().collect();
        for info in pending {
            let mut info = info;
            info.scheduled_time = now.0;
            info.first_scheduled_time = now.0;
            self.schedule_activity(m, info, now);
        }
    }

    /// The new run's run timeout counts from the reset; the execution deadline is the chain's.
    fn arm_run_timeouts(&self, m: &mut Mutation, now: Time) {
        let run_timeout = duration_from_proto(self.run_timeout.as_ref());
        let expiration = Time(self.execution_expiration_time);
        if !run_timeout.is_zero() {
            let fire = now.add(run_timeout);
            if expiration.is_unset() || fire < expiration {
                let t = self.timer_task(fire, timer_task::Kind::WorkflowRunTimeout(RunTimeout {}));
                m.timer_tasks.push(t);
            }
        }
        if !expiration.is_unset() {
            let t = self.timer_task(
                expiration,
                timer_task::Kind::WorkflowExecutionTimeout(RunTimeout {}),
            );
            m.timer_tasks.push(t);
        }
    }

    /// Applies one recorded event of the base to the state being rebuilt.
    fn replay(&mut self, event: &HistoryEvent) -> Result<(), CoreError> {
        let at = event
            .event_time
            .as_ref()
            .map_or(Time(0), Time::from_timestamp);
        let id = event.event_id;
        match &event.attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => {
                self.memo = a.memo.clone();
                self.search_attributes = a.search_attributes.clone();
            }
            Some(Attributes::WorkflowTaskScheduledEventAttributes(a)) => {
                self.workflow_task = Some(WorkflowTaskInfo {
                    scheduled_event_id: id,
                    attempt: a.attempt.max(1),
                    scheduled_time: at.0,
                    original_scheduled_time: at.0,
                    timeout: a.start_to_close_timeout,
                    task_queue: a
                        .task_queue
                        .as_ref()
                        .map(|q| q.name.clone())
                        .unwrap_or_default(),
                    stamp: self.workflow_task_stamp,
                    ..Default::default()
                });
            }
            Some(Attributes::WorkflowTaskStartedEventAttributes(a)) => {
                if let Some(w) = self.workflow_task.as_mut() {
                    w.started_event_id = id;
                    w.started_time = at.0;
                    w.request_id = a.request_id.clone();
                    w.identity = a.identity.clone();
                }
                self.last_workflow_task_started_event_id = id;
            }
            Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) => {
                self.last_completed_workflow_task_started_event_id = a.started_event_id;
                self.workflow_task = None;
            }
            Some(Attributes::WorkflowTaskFailedEventAttributes(_))
            | Some(Attributes::WorkflowTaskTimedOutEventAttributes(_)) => {
                self.workflow_task = None;
            }
            Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => {
                let info = ActivityInfo {
                    scheduled_event_id: id,
                    activity_id: a.activity_id.clone(),
                    activity_type: a.activity_type.clone(),
                    input: a.input.clone(),
                    header: a.header.clone(),
                    task_queue: a
                        .task_queue
                        .as_ref()
                        .map(|q| q.name.clone())
                        .unwrap_or_default(),
                    schedule_to_close_timeout: a.schedule_to_close_timeout,
                    schedule_to_start_timeout: a.schedule_to_start_timeout,
                    start_to_close_timeout: a.start_to_close_timeout,
                    heartbeat_timeout: a.heartbeat_timeout,
                    retry_policy: a.retry_policy.clone(),
                    attempt: 1,
                    scheduled_time: at.0,
                    first_scheduled_time: at.0,
                    stamp: 1,
                    workflow_task_completed_event_id: a.workflow_task_completed_event_id,
                    ..Default::default()
                };
                self.activities.insert(id, info);
            }
            // Always followed by the activity's outcome (they share a write).
            Some(Attributes::ActivityTaskStartedEventAttributes(_)) => {}
            Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => {
                self.activities.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ActivityTaskFailedEventAttributes(a)) => {
                self.activities.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ActivityTaskTimedOutEventAttributes(a)) => {
                self.activities.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ActivityTaskCanceledEventAttributes(a)) => {
                self.activities.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ActivityTaskCancelRequestedEventAttributes(a)) => {
                if let Some(info) = self.activities.get_mut(&a.scheduled_event_id) {
                    info.cancel_requested = true;
                    info.cancel_requested_event_id = id;
                }
            }
            Some(Attributes::TimerStartedEventAttributes(a)) => {
                let expiry = at.add(duration_from_proto(a.start_to_fire_timeout.as_ref()));
                self.timers.insert(
                    a.timer_id.clone(),
                    TimerInfo {
                        timer_id: a.timer_id.clone(),
                        started_event_id: id,
                        expiry_time: expiry.0,
                    },
                );
            }
            Some(Attributes::TimerFiredEventAttributes(a)) => {
                self.timers.remove(&a.timer_id);
            }
            Some(Attributes::TimerCanceledEventAttributes(a)) => {
                self.timers.remove(&a.timer_id);
            }
            Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) => {
                self.signal_count += 1;
                if !a.request_id.is_empty() {
                    self.signal_request_ids.push(a.request_id.clone());
                }
            }
            Some(Attributes::WorkflowExecutionCancelRequestedEventAttributes(_)) => {
                self.cancel_requested = true;
            }
            Some(Attributes::MarkerRecordedEventAttributes(_)) => {}
            Some(Attributes::UpsertWorkflowSearchAttributesEventAttributes(a)) => {
                let upsert = a.search_attributes.clone().unwrap_or_default();
                let sa = self.search_attributes.get_or_insert_with(Default::default);
                for (k, v) in upsert.indexed_fields {
                    if v.data.is_empty() || v.data == b"null" {
                        sa.indexed_fields.remove(&k);
                    } else {
                        sa.indexed_fields.insert(k, v);
                    }
                }
            }
            Some(Attributes::WorkflowPropertiesModifiedEventAttributes(a)) => {
                let upsert = a.upserted_memo.clone().unwrap_or_default();
                let memo = self.memo.get_or_insert_with(Default::default);
                for (k, v) in upsert.fields {
                    if v.data.is_empty() || v.data == b"null" {
                        memo.fields.remove(&k);
                    } else {
                        memo.fields.insert(k, v);
                    }
                }
            }
            _ => {
                let name = EventType::try_from(event.event_type)
                    .map(|t| t.as_str_name())
                    .unwrap_or("unknown event type");
                return Err(bad(format!(
                    "reset of a run with a {name} event before the reset point is not supported"
                )));
            }
        }
        Ok(())
    }
}

/// Temporal's NewResetWorkflowFailure: the reason as message.
fn reset_failure(reason: &str) -> Failure {
    Failure {
        message: reason.to_string(),
        failure_info: Some(FailureInfo::ResetWorkflowFailureInfo(
            ResetWorkflowFailureInfo {
                last_heartbeat_details: None,
            },
        )),
        ..Default::default()
    }
}

/// Temporal rebuilds only to the end of a write (a "batch"); these are the events that share a
/// write with the one after them, so a reset point just after them is refused with its message.
fn check_boundary(history: &[HistoryEvent], last: i64) -> Result<(), CoreError> {
    let Some(event) = history.get(last as usize - 1) else {
        return Ok(());
    };
    let Some(following) = history.get(last as usize) else {
        return Ok(());
    };
    let t = EventType::try_from(event.event_type).unwrap_or(EventType::Unspecified);
    let same_write = match t {
        // Started with its first workflow task; an activity's start with its outcome.
        EventType::WorkflowExecutionStarted | EventType::ActivityTaskStarted => true,
        // A completed task with the commands it carried.
        EventType::WorkflowTaskCompleted => command_of(following) == Some(event.event_id),
        _ => false,
    };
    if same_write {
        return Err(bad(format!(
            "StateRebuilder unable to Rebuild mutable state to event ID: {last}, version: 0, this event must be at the boundary"
        )));
    }
    Ok(())
}

/// The workflow task completion an event was written by, for events a command writes.
fn command_of(event: &HistoryEvent) -> Option<i64> {
    let id = match event.attributes.as_ref()? {
        Attributes::ActivityTaskScheduledEventAttributes(a) => a.workflow_task_completed_event_id,
        Attributes::TimerStartedEventAttributes(a) => a.workflow_task_completed_event_id,
        Attributes::MarkerRecordedEventAttributes(a) => a.workflow_task_completed_event_id,
        Attributes::ActivityTaskCancelRequestedEventAttributes(a) => {
            a.workflow_task_completed_event_id
        }
        Attributes::TimerCanceledEventAttributes(a) => a.workflow_task_completed_event_id,
        Attributes::UpsertWorkflowSearchAttributesEventAttributes(a) => {
            a.workflow_task_completed_event_id
        }
        Attributes::WorkflowPropertiesModifiedEventAttributes(a) => {
            a.workflow_task_completed_event_id
        }
        Attributes::WorkflowExecutionCompletedEventAttributes(a) => {
            a.workflow_task_completed_event_id
        }
        Attributes::WorkflowExecutionFailedEventAttributes(a) => a.workflow_task_completed_event_id,
        Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a) => {
            a.workflow_task_completed_event_id
        }
        Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a) => {
            a.workflow_task_completed_event_id
        }
        _ => return None,
    };
    Some(id)
}
