//! Low-level transitions shared by all operations: assigning event ids, buffering events
//! while a workflow task is started, scheduling workflow tasks, building tasks and closing
//! the run. Callers decide *when*; this file only knows *how*.

use std::collections::HashMap;
use temporalio_protos::temporal::api::{
    enums::v1::{EventType, TaskQueueKind, TimeoutType, WorkflowExecutionStatus},
    history::v1::{history_event::Attributes, HistoryEvent, WorkflowTaskScheduledEventAttributes},
    taskqueue::v1::TaskQueue,
};

use super::{MutableState, WorkflowTaskInfo};
use crate::tasks::{
    timer_task, transfer_task, Mutation, RunTimeout, TaskRef, TaskTimeout, TimerTask, TransferTask,
};
use crate::time::{duration_from_proto, Time};

/// Placeholder for "the ActivityTaskStarted event buffered just before me"; replaced by the
/// real id when the buffer is flushed (Temporal's TransientEventID plays the same role).
pub(crate) const BUFFERED_STARTED_EVENT_ID: i64 = -124;

pub(crate) fn normal_task_queue(name: &str) -> TaskQueue {
    TaskQueue {
        name: name.to_string(),
        kind: TaskQueueKind::Normal as i32,
        normal_name: String::new(),
    }
}

/// Used when a worker asks for stickiness without saying for how long (Temporal's SDKs send one).
pub const DEFAULT_STICKY_SCHEDULE_TO_START: std::time::Duration = std::time::Duration::from_secs(5);

impl MutableState {
    /// The queue the next workflow task goes to: the sticky queue when one is set.
    pub fn current_task_queue(&self) -> TaskQueue {
        if self.sticky_task_queue.is_empty() {
            normal_task_queue(&self.task_queue)
        } else {
            TaskQueue {
                name: self.sticky_task_queue.clone(),
                kind: TaskQueueKind::Sticky as i32,
                normal_name: self.task_queue.clone(),
            }
        }
    }

    pub fn is_sticky(&self) -> bool {
        !self.sticky_task_queue.is_empty()
    }

    /// Forgets the sticky queue; true if one was set.
    pub(crate) fn clear_sticky(&mut self) -> bool {
        let was = self.is_sticky();
        self.sticky_task_queue.clear();
        self.sticky_schedule_to_start_timeout = None;
        was
    }

    /// Builds an event without an id.
    pub(crate) fn new_event(
        &self,
        event_type: EventType,
        now: Time,
        attributes: impl Into<Attributes>,
    ) -> HistoryEvent {
        HistoryEvent {
            event_id: 0,
            event_time: Some(now.to_timestamp()),
            event_type: event_type as i32,
            attributes: Some(attributes.into()),
            ..Default::default()
        }
    }

    /// Appends an event to history, assigning the next id. A speculative workflow task's
    /// events come first: its virtual ids are the next ones, and any other event makes it real.
    ///
    /// An event is stamped no earlier than the run's newest one, so a history never goes back
    /// in time when leadership moves to a node whose clock is behind. Only the stamp is
    /// clamped: deadlines are computed from the leader's clock as it is, so a clock that was
    /// ahead for a while (and stamped events in the future) does not delay every later
    /// timeout of the run by as much.
    pub(crate) fn write(&mut self, m: &mut Mutation, mut event: HistoryEvent) -> i64 {
        self.materialize_speculative(m);
        let id = self.next_event_id;
        event.event_id = id;
        self.next_event_id += 1;
        if let Some(t) = &mut event.event_time {
            let nanos = t
                .seconds
                .saturating_mul(1_000_000_000)
                .saturating_add(t.nanos as i64);
            if nanos < self.last_event_time {
                *t = Time(self.last_event_time).to_timestamp();
            } else {
                self.last_event_time = nanos;
            }
        }
        self.history_size_bytes += crate::limits::history_event_size(&event);
        m.events.push(event);
        id
    }

    /// Events caused by the outside world must not land between a WorkflowTaskStarted and
    /// its WorkflowTaskCompleted, so they wait in the buffer while a task is started.
    pub(crate) fn write_or_buffer(&mut self, m: &mut Mutation, event: HistoryEvent) {
        if self.has_started_workflow_task() {
            // Like Temporal: news for a speculative task in flight makes it a normal one, so
            // its completion writes the task and the buffered event after it.
            self.materialize_speculative(m);
            self.buffered_events.push(event);
        } else {
            self.write(m, event);
        }
    }

    /// Writes buffered events. Like Temporal, activity outcomes go after everything else
    /// so their ActivityTaskStarted always precedes them.
    pub(crate) fn flush_buffered(&mut self, m: &mut Mutation) {
        if self.buffered_events.is_empty() {
            return;
        }
        let buffered = std::mem::take(&mut self.buffered_events);
        let (outcomes, others): (Vec<_>, Vec<_>) = buffered
            .into_iter()
            .partition(|e| is_activity_outcome(e.event_type));
        let mut started_ids: HashMap<i64, i64> = HashMap::new();
        for event in others.into_iter().chain(outcomes) {
            let mut event = event;
            if let Some(Attributes::ActivityTaskStartedEventAttributes(a)) = &event.attributes {
                let scheduled = a.scheduled_event_id;
                let id = self.write(m, event);
                started_ids.insert(scheduled, id);
                continue;
            }
            if let Some(Attributes::ChildWorkflowExecutionStartedEventAttributes(a)) =
                &event.attributes
            {
                let initiated = a.initiated_event_id;
                let id = self.write(m, event);
                started_ids.insert(initiated, id);
                if let Some(c) = self.children.get_mut(&initiated) {
                    c.started_event_id = id;
                }
                continue;
            }
            patch_started_id(&mut event, &started_ids);
            self.write(m, event);
        }
    }

    /// Schedules a workflow task. Attempts >= 2 are transient: no event is written and the
    /// scheduled id is the next id, so the poll can append contiguous transient events.
    pub(crate) fn schedule_workflow_task(&mut self, m: &mut Mutation, now: Time, attempt: i32) {
        self.schedule_task(m, now, attempt, false);
    }

    /// Schedules a speculative workflow task (attempt 1, no event) to carry updates to a run
    /// that has no task pending. Returns false when the run cannot take one now: closed, a task
    /// already pending (the updates ride on it), or still waiting for its first task.
    pub fn schedule_speculative_workflow_task(&mut self, m: &mut Mutation, now: Time) -> bool {
        if !self.is_running() || self.workflow_task.is_some() || !self.had_or_has_workflow_task() {
            return false;
        }
        self.schedule_task(m, now, 1, true);
        true
    }

    fn schedule_task(&mut self, m: &mut Mutation, now: Time, attempt: i32, speculative: bool) {
        let mut attempt = attempt.max(1);
        let mut speculative = speculative;
        if !self.buffered_events.is_empty() {
            // New events make the task a normal one again (Temporal does the same).
            attempt = 1;
            speculative = false;
            self.flush_buffered(m);
        }
        self.workflow_task_stamp += 1;
        let timeout = self.task_timeout;
        let queue = self.current_task_queue();
        let scheduled_event_id = if attempt > 1 || speculative {
            self.next_event_id
        } else {
            let event = self.new_event(
                EventType::WorkflowTaskScheduled,
                now,
                WorkflowTaskScheduledEventAttributes {
                    task_queue: Some(queue.clone()),
                    start_to_close_timeout: timeout,
                    attempt,
                },
            );
            self.write(m, event)
        };
        if self.is_sticky() {
            // A sticky task nobody picks up moves to the normal queue after this long.
            let wait = match duration_from_proto(self.sticky_schedule_to_start_timeout.as_ref()) {
                d if d.is_zero() => DEFAULT_STICKY_SCHEDULE_TO_START,
                d => d,
            };
            let timer = self.timer_task(
                now.add(wait),
                timer_task::Kind::WorkflowTaskTimeout(TaskTimeout {
                    scheduled_event_id,
                    attempt,
                    stamp: self.workflow_task_stamp,
                    timeout_type: TimeoutType::ScheduleToStart as i32,
                }),
            );
            m.timer_tasks.push(timer);
        }
        self.workflow_task = Some(WorkflowTaskInfo {
            scheduled_event_id,
            started_event_id: 0,
            attempt,
            request_id: String::new(),
            scheduled_time: now.0,
            started_time: 0,
            timeout,
            stamp: self.workflow_task_stamp,
            identity: String::new(),
            task_queue: queue.name.clone(),
            original_scheduled_time: now.0,
            speculative,
            // Measured when the task starts.
            ..Default::default()
        });
        let mut task = self.transfer_task(
            queue.name,
            transfer_task::Kind::WorkflowTask(TaskRef {
                scheduled_event_id,
                attempt,
                stamp: self.workflow_task_stamp,
            }),
        );
        task.normal_task_queue = queue.normal_name;
        m.transfer_tasks.push(task);
    }

    /// Writes a speculative task's virtual events (Scheduled, and Started once started), making
    /// it a normal task. Its ids do not change: nothing was written since it was scheduled,
    /// since every write comes through here first.
    pub(crate) fn materialize_speculative(&mut self, m: &mut Mutation) {
        let Some(wft) = self.workflow_task.as_mut().filter(|w| w.speculative) else {
            return;
        };
        wft.speculative = false;
        let wft = wft.clone();
        for event in self.virtual_events(&wft, true) {
            self.write(m, event);
        }
    }

    /// After an external event: make sure some workflow task will see it. A run still waiting
    /// out its first-task backoff gets its task from the backoff timer, as in Temporal.
    pub(crate) fn ensure_workflow_task(&mut self, m: &mut Mutation, now: Time) {
        if self.workflow_task.is_none() && self.is_running() && self.had_or_has_workflow_task() {
            self.schedule_workflow_task(m, now, 1);
        }
    }

    pub(crate) fn transfer_task(
        &self,
        task_queue: String,
        kind: transfer_task::Kind,
    ) -> TransferTask {
        TransferTask {
            namespace_id: self.namespace_id.clone(),
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
            task_queue,
            normal_task_queue: String::new(),
            kind: Some(kind),
        }
    }

    pub(crate) fn timer_task(&self, fire_time: Time, kind: timer_task::Kind) -> TimerTask {
        TimerTask {
            fire_time_unix_nanos: fire_time.0,
            namespace_id: self.namespace_id.clone(),
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
            kind: Some(kind),
        }
    }

    /// Writes the closing event, makes everything still pending inert and arms the run's
    /// deletion for when its retention has passed. Every close goes through here.
    pub(crate) fn close(
        &mut self,
        m: &mut Mutation,
        status: WorkflowExecutionStatus,
        event: HistoryEvent,
        now: Time,
    ) {
        if self.workflow_task.as_ref().is_some_and(|w| w.speculative) {
            // Nothing of a speculative task is written once the run closes.
            self.workflow_task = None;
        }
        self.flush_buffered(m);
        let id = self.write(m, event);
        self.completion_event_id = id;
        self.status = status as i32;
        self.close_time = now.0;
        self.workflow_task = None;
        self.activities.clear();
        self.timers.clear();
        m.closed = true;
        // Temporal's GenerateDeleteHistoryEventTask (without its random jitter: the core is
        // deterministic, and a later deletion is never wrong).
        let delete = self.timer_task(
            now.add(self.retention()),
            timer_task::Kind::DeleteRun(RunTimeout {}),
        );
        m.timer_tasks.push(delete);
    }
}

fn is_activity_outcome(event_type: i32) -> bool {
    event_type == EventType::ActivityTaskCompleted as i32
        || event_type == EventType::ActivityTaskFailed as i32
        || event_type == EventType::ActivityTaskTimedOut as i32
        || event_type == EventType::ActivityTaskCanceled as i32
}

fn patch_started_id(event: &mut HistoryEvent, started_ids: &HashMap<i64, i64>) {
    let fix = |scheduled: i64, started: &mut i64| {
        if *started == BUFFERED_STARTED_EVENT_ID {
            *started = started_ids.get(&scheduled).copied().unwrap_or(0);
        }
    };
    match event.attributes.as_mut() {
        Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => {
            fix(a.scheduled_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ActivityTaskFailedEventAttributes(a)) => {
            fix(a.scheduled_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ActivityTaskTimedOutEventAttributes(a)) => {
            fix(a.scheduled_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ActivityTaskCanceledEventAttributes(a)) => {
            fix(a.scheduled_event_id, &mut a.started_event_id)
        }
        // Child events are keyed by their initiated event id.
        Some(Attributes::ChildWorkflowExecutionCompletedEventAttributes(a)) => {
            fix(a.initiated_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ChildWorkflowExecutionFailedEventAttributes(a)) => {
            fix(a.initiated_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ChildWorkflowExecutionCanceledEventAttributes(a)) => {
            fix(a.initiated_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ChildWorkflowExecutionTimedOutEventAttributes(a)) => {
            fix(a.initiated_event_id, &mut a.started_event_id)
        }
        Some(Attributes::ChildWorkflowExecutionTerminatedEventAttributes(a)) => {
            fix(a.initiated_event_id, &mut a.started_event_id)
        }
        _ => {}
    }
}
