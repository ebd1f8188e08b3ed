//! What an operation asks the outside world to do: history to append (`Mutation::events`),
//! tasks to hand to matching (`TransferTask`) and timers to arm (`TimerTask`).
//! Tasks carry enough identity (scheduled id, attempt, stamp) that a stale one is harmless;
//! this module never executes anything.

use temporalio_protos::temporal::api::history::v1::HistoryEvent;

use crate::state::MutableState;
use crate::time::Time;

/// The result of one state transition. Persist `events`, the new mutable state and the
/// tasks atomically; `closed` tells the caller the run reached a terminal status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mutation {
    /// Events with ids assigned, to append to history in this order.
    pub events: Vec<HistoryEvent>,
    pub transfer_tasks: Vec<TransferTask>,
    pub timer_tasks: Vec<TimerTask>,
    pub closed: bool,
    /// Set when closing this run starts the next run of the same workflow id (a retry). The
    /// caller must persist it in the same atomic write as this mutation and make it the
    /// workflow id's current run.
    pub new_run: Option<Box<NewRun>>,
    /// What became of updates in this write (accepted, completed, rejected), for the callers
    /// waiting on them once the write is committed.
    pub updates: Vec<crate::update::UpdateProgress>,
}

impl Mutation {
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty()
            && self.events.is_empty()
            && self.transfer_tasks.is_empty()
            && self.timer_tasks.is_empty()
            && !self.closed
            && self.new_run.is_none()
    }
}

/// A run created by another run's mutation: its initial state and first mutation, exactly as
/// `start_workflow` returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub state: MutableState,
    pub mutation: Mutation,
}

/// Identity of one dispatch of a workflow or activity task.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TaskRef {
    #[prost(int64, tag = "1")]
    pub scheduled_event_id: i64,
    #[prost(int32, tag = "2")]
    pub attempt: i32,
    #[prost(int32, tag = "3")]
    pub stamp: i32,
}

/// A task for matching: "a workflow/activity task is ready on `task_queue`".
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TransferTask {
    #[prost(string, tag = "1")]
    pub namespace_id: String,
    #[prost(string, tag = "2")]
    pub workflow_id: String,
    #[prost(string, tag = "3")]
    pub run_id: String,
    #[prost(string, tag = "4")]
    pub task_queue: String,
    /// Set when `task_queue` is a worker's sticky queue: the queue that stands in for it when
    /// that worker is gone (Temporal's StickyWorkerUnavailable fallback). Empty otherwise.
    #[prost(string, tag = "5")]
    pub normal_task_queue: String,
    #[prost(oneof = "transfer_task::Kind", tags = "10, 11, 12, 13, 14, 15")]
    pub kind: Option<transfer_task::Kind>,
}

impl TransferTask {
    /// An effect on other runs, executed by the shard leader (not a task for matching).
    pub fn is_effect(&self) -> bool {
        matches!(
            self.kind,
            Some(transfer_task::Kind::StartChild(_))
                | Some(transfer_task::Kind::RunClosed(_))
                | Some(transfer_task::Kind::External(_))
                | Some(transfer_task::Kind::ScheduleAction(_))
        )
    }
}

pub mod transfer_task {
    use super::TaskRef;

    #[derive(Clone, PartialEq, ::prost::Oneof)]
    pub enum Kind {
        #[prost(message, tag = "10")]
        WorkflowTask(TaskRef),
        #[prost(message, tag = "11")]
        ActivityTask(TaskRef),
        /// Start the child workflow initiated by this event, then record it in this run.
        #[prost(message, tag = "12")]
        StartChild(ChildRef),
        /// This run closed: report to its parent and apply its children's parent close policy.
        #[prost(message, tag = "13")]
        RunClosed(RunClosedRef),
        /// Deliver the signal or cancel request initiated by this event to another workflow.
        #[prost(message, tag = "14")]
        External(ChildRef),
        /// Carry out one action of the schedule this row's workflow id names (the
        /// scheduler workflow id): start a run, cancel or terminate one.
        #[prost(message, tag = "15")]
        ScheduleAction(ScheduleActionRef),
    }

    /// One action of a schedule (the row's workflow id is its scheduler workflow id): start its
    /// pending start `start_seq`, or cancel / terminate the runs it has running when the row
    /// runs. Small on purpose: the row's details live in the schedule's record.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct ScheduleActionRef {
        #[prost(uint64, tag = "2")]
        pub start_seq: u64,
        /// 0: start, 1: cancel, 2: terminate.
        #[prost(int32, tag = "3")]
        pub op: i32,
    }

    /// Names the initiated event of a child or of an external request.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct ChildRef {
        #[prost(int64, tag = "1")]
        pub initiated_event_id: i64,
    }

    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct RunClosedRef {
        /// False when the run handed its parent on to a successor (continue-as-new, retry,
        /// cron): only its own children are affected.
        #[prost(bool, tag = "1")]
        pub notify_parent: bool,
        /// The chain's last run closed and a schedule started it: tell the schedule.
        #[prost(bool, tag = "2")]
        pub notify_schedule: bool,
    }
}

/// The schedule a run was started by (its namespace is the run's).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ScheduledBy {
    #[prost(string, tag = "1")]
    pub schedule_id: String,
}

/// A durable timer. Fire it (via `MutableState::fire_timer`) at or after `fire_time()`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TimerTask {
    #[prost(int64, tag = "1")]
    pub fire_time_unix_nanos: i64,
    #[prost(string, tag = "2")]
    pub namespace_id: String,
    #[prost(string, tag = "3")]
    pub workflow_id: String,
    #[prost(string, tag = "4")]
    pub run_id: String,
    #[prost(
        oneof = "timer_task::Kind",
        tags = "10, 11, 12, 13, 14, 15, 16, 17, 18"
    )]
    pub kind: Option<timer_task::Kind>,
}

impl TimerTask {
    pub fn fire_time(&self) -> Time {
        Time(self.fire_time_unix_nanos)
    }
}

/// A timeout of one workflow or activity task attempt.
/// `timeout_type` is `temporal.api.enums.v1.TimeoutType`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TaskTimeout {
    #[prost(int64, tag = "1")]
    pub scheduled_event_id: i64,
    #[prost(int32, tag = "2")]
    pub attempt: i32,
    #[prost(int32, tag = "3")]
    pub stamp: i32,
    #[prost(
        enumeration = "temporalio_protos::temporal::api::enums::v1::TimeoutType",
        tag = "4"
    )]
    pub timeout_type: i32,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct UserTimer {
    #[prost(string, tag = "1")]
    pub timer_id: String,
    #[prost(int64, tag = "2")]
    pub started_event_id: i64,
}

/// Marker message for whole-run timers: run and execution timeouts, the backoff before a
/// retried run's first workflow task and the deletion of a closed run once its retention has
/// passed (the run id in the task is the identity).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct RunTimeout {}

pub mod timer_task {
    use super::{RunTimeout, TaskRef, TaskTimeout, UserTimer};

    #[derive(Clone, PartialEq, ::prost::Oneof)]
    pub enum Kind {
        #[prost(message, tag = "10")]
        UserTimer(UserTimer),
        #[prost(message, tag = "11")]
        WorkflowTaskTimeout(TaskTimeout),
        #[prost(message, tag = "12")]
        ActivityTimeout(TaskTimeout),
        #[prost(message, tag = "13")]
        ActivityRetry(TaskRef),
        #[prost(message, tag = "14")]
        WorkflowRunTimeout(RunTimeout),
        #[prost(message, tag = "15")]
        WorkflowExecutionTimeout(RunTimeout),
        /// Schedules the first workflow task of a run that started with a backoff (a retry).
        #[prost(message, tag = "16")]
        WorkflowBackoff(RunTimeout),
        /// Deletes a closed run (state, history, current pointer) once its namespace's
        /// retention has passed (Temporal's DeleteHistoryEventTask). Armed when the run
        /// closes; executed by the history layer, never by `MutableState::fire_timer`.
        #[prost(message, tag = "17")]
        DeleteRun(RunTimeout),
        /// Wakes the schedule this timer's workflow id names (its scheduler workflow id) so
        /// that it takes the slots that came due. Stale unless `generation` is still the
        /// schedule's. Executed by the history layer, never by `MutableState::fire_timer`.
        #[prost(message, tag = "18")]
        ScheduleWake(ScheduleWake),
    }

    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct ScheduleWake {
        #[prost(string, tag = "1")]
        pub schedule_id: String,
        #[prost(uint64, tag = "2")]
        pub generation: u64,
    }
}
