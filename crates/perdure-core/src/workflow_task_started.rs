//! RecordWorkflowTaskStarted: a poller took the workflow task. Writes WorkflowTaskStarted
//! (or nothing, for a transient attempt), arms the start-to-close timeout and returns what
//! the poll response needs. Idempotent per poll request id.

use temporalio_protos::temporal::api::{
    enums::v1::{EventType, TaskQueueKind, TimeoutType},
    history::v1::{
        HistoryEvent, WorkflowTaskScheduledEventAttributes, WorkflowTaskStartedEventAttributes,
    },
};

use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;

use crate::errors::CoreError;
use crate::ids::EventId;
use crate::limits::continue_as_new_suggestions;
use crate::state::{normal_task_queue, MutableState, WorkflowTaskInfo};
use crate::tasks::{timer_task, Mutation, TaskTimeout};
use crate::time::{duration_from_proto, Time};
use crate::token::{TaskKind, TaskToken};

/// What a PollWorkflowTaskQueue response needs besides persisted history.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowTaskDispatch {
    pub token: TaskToken,
    pub started_event_id: EventId,
    pub previous_started_event_id: EventId,
    pub attempt: i32,
    pub scheduled_time: Time,
    pub started_time: Time,
    /// Attempt >= 2: the unpersisted Scheduled + Started events, ids contiguous with history.
    pub transient_events: Vec<HistoryEvent>,
    /// Persisted history ends just before this id.
    pub next_event_id_for_history: EventId,
    /// The task went to the worker's sticky queue: the worker has the run cached, so the poll
    /// response carries only the events after `previous_started_event_id`.
    pub sticky_execution_enabled: bool,
}

impl MutableState {
    /// `poll_queue` is the queue the poller polled: a task taken from the normal queue ends
    /// stickiness, and a sticky poll of a task that is no longer sticky is stale.
    pub fn record_workflow_task_started(
        &mut self,
        scheduled_event_id: EventId,
        poll_queue: &TaskQueue,
        request_id: &str,
        identity: &str,
        now: Time,
    ) -> Result<(Mutation, WorkflowTaskDispatch), CoreError> {
        if !self.is_running() {
            return Err(CoreError::WorkflowCompleted);
        }
        let Some(wft) = self.workflow_task.clone() else {
            return Err(CoreError::workflow_task_not_found());
        };
        if wft.scheduled_event_id != scheduled_event_id.0 {
            return Err(CoreError::workflow_task_not_found());
        }
        if wft.is_started() {
            if wft.request_id == request_id {
                return Ok((Mutation::default(), self.workflow_task_dispatch(&wft)));
            }
            return Err(CoreError::TaskAlreadyStarted);
        }

        if self.is_sticky() && poll_queue.name != self.sticky_task_queue {
            self.clear_sticky();
        } else if !self.is_sticky() && poll_queue.kind == TaskQueueKind::Sticky as i32 {
            return Err(CoreError::NotFound(
                "obsolete sticky workflow task: the run is no longer sticky".into(),
            ));
        }
        let mut m = Mutation::default();
        let mut wft = wft;
        if wft.speculative && poll_queue.kind != TaskQueueKind::Sticky as i32 {
            // Its Scheduled event is not written yet: it names the queue the task came from.
            wft.task_queue = self.task_queue.clone();
        }
        // Like Temporal: what is stored so far, before this task's own events, and the id the
        // Started event would get (Temporal's getHistorySizeInfo).
        wft.history_size_bytes = self.history_size_bytes;
        let reasons = continue_as_new_suggestions(self.history_size_bytes, self.next_event_id);
        wft.suggest_continue_as_new = !reasons.is_empty();
        wft.suggest_continue_as_new_reasons = reasons.into_iter().map(|r| r as i32).collect();
        if wft.is_transient() && wft.scheduled_event_id != self.next_event_id {
            // Events were written since this attempt was scheduled, so its virtual ids no
            // longer line up: it becomes a normal, persisted task (as in Temporal).
            wft.attempt = 1;
            let event = self.new_event(
                EventType::WorkflowTaskScheduled,
                now,
                WorkflowTaskScheduledEventAttributes {
                    task_queue: Some(normal_task_queue(&wft.task_queue)),
                    start_to_close_timeout: wft.timeout,
                    attempt: 1,
                },
            );
            wft.scheduled_event_id = self.write(&mut m, event);
        }
        let started_event_id = if wft.is_virtual() {
            wft.scheduled_event_id + 1
        } else {
            let event = self.new_event(
                EventType::WorkflowTaskStarted,
                now,
                started_attributes(&wft, identity, request_id),
            );
            self.write(&mut m, event)
        };
        wft.started_event_id = started_event_id;
        wft.request_id = request_id.to_string();
        wft.identity = identity.to_string();
        wft.started_time = now.0;
        self.last_workflow_task_started_event_id = started_event_id;

        let timeout = duration_from_proto(wft.timeout.as_ref());
        let timer = self.timer_task(
            now.add(timeout),
            timer_task::Kind::WorkflowTaskTimeout(TaskTimeout {
                scheduled_event_id: wft.scheduled_event_id,
                attempt: wft.attempt,
                stamp: wft.stamp,
                timeout_type: TimeoutType::StartToClose as i32,
            }),
        );
        m.timer_tasks.push(timer);
        self.workflow_task = Some(wft.clone());
        Ok((m, self.workflow_task_dispatch(&wft)))
    }

    fn workflow_task_dispatch(&self, wft: &WorkflowTaskInfo) -> WorkflowTaskDispatch {
        WorkflowTaskDispatch {
            token: TaskToken {
                namespace_id: self.namespace_id.clone(),
                workflow_id: self.workflow_id.clone(),
                run_id: self.run_id.clone(),
                scheduled_event_id: wft.scheduled_event_id,
                started_event_id: wft.started_event_id,
                attempt: wft.attempt,
                activity_id: String::new(),
                kind: TaskKind::Workflow as i32,
                stamp: wft.stamp,
                ..Default::default()
            },
            started_event_id: EventId(wft.started_event_id),
            previous_started_event_id: EventId(self.last_completed_workflow_task_started_event_id),
            attempt: wft.attempt,
            scheduled_time: Time(wft.scheduled_time),
            started_time: Time(wft.started_time),
            transient_events: self.transient_events(wft),
            next_event_id_for_history: EventId(self.next_event_id),
            sticky_execution_enabled: self.is_sticky(),
        }
    }

    /// The Scheduled/Started pair of a started transient or speculative task, exactly as they
    /// will be written if the task completes.
    pub(crate) fn transient_events(&self, wft: &WorkflowTaskInfo) -> Vec<HistoryEvent> {
        if !wft.is_virtual() || !wft.is_started() {
            return Vec::new();
        }
        self.virtual_events(wft, true)
    }

    /// The events of `wft` that are not in history: its Scheduled event, and its Started event
    /// once started (with `started`).
    pub(crate) fn virtual_events(
        &self,
        wft: &WorkflowTaskInfo,
        started: bool,
    ) -> Vec<HistoryEvent> {
        let queue = if wft.task_queue == self.task_queue || wft.task_queue.is_empty() {
            normal_task_queue(&self.task_queue)
        } else {
            TaskQueue {
                name: wft.task_queue.clone(),
                kind: TaskQueueKind::Sticky as i32,
                normal_name: self.task_queue.clone(),
            }
        };
        let mut scheduled = self.new_event(
            EventType::WorkflowTaskScheduled,
            Time(wft.scheduled_time),
            WorkflowTaskScheduledEventAttributes {
                task_queue: Some(queue),
                start_to_close_timeout: wft.timeout,
                attempt: wft.attempt,
            },
        );
        scheduled.event_id = wft.scheduled_event_id;
        if !started || !wft.is_started() {
            return vec![scheduled];
        }
        let mut started = self.new_event(
            EventType::WorkflowTaskStarted,
            Time(wft.started_time),
            started_attributes(wft, &wft.identity, &wft.request_id),
        );
        started.event_id = wft.started_event_id;
        vec![scheduled, started]
    }

    /// Events of the current task that history does not hold yet (for
    /// GetWorkflowExecutionHistory's last page): a started transient attempt's pair, or a
    /// speculative task's Scheduled (and Started once started), as Temporal shows them.
    pub fn pending_transient_events(&self) -> Vec<HistoryEvent> {
        match self.workflow_task.as_ref() {
            Some(w) if w.speculative => self.virtual_events(w, true),
            Some(w) => self.transient_events(w),
            None => Vec::new(),
        }
    }
}

/// WorkflowTaskStarted of `wft`, persisted or transient alike.
fn started_attributes(
    wft: &WorkflowTaskInfo,
    identity: &str,
    request_id: &str,
) -> WorkflowTaskStartedEventAttributes {
    WorkflowTaskStartedEventAttributes {
        scheduled_event_id: wft.scheduled_event_id,
        identity: identity.to_string(),
        request_id: request_id.to_string(),
        suggest_continue_as_new: wft.suggest_continue_as_new,
        suggest_continue_as_new_reasons: wft.suggest_continue_as_new_reasons.clone(),
        history_size_bytes: wft.history_size_bytes,
        ..Default::default()
    }
}
