//! The persisted mutable state of one workflow run, as hand-written prost messages so it can
//! embed API types and evolve by tag. This module owns the layout and small queries; the
//! operations live in one file each at the crate root. Nothing here performs I/O.

mod events;

pub use events::DEFAULT_STICKY_SCHEDULE_TO_START;
pub(crate) use events::{normal_task_queue, BUFFERED_STARTED_EVENT_ID};

use std::collections::BTreeMap;

use prost_wkt_types::Duration as ProtoDuration;
use temporalio_protos::temporal::api::{
    common::v1::{
        ActivityType, Header, Memo, Payloads, RetryPolicy, SearchAttributes, WorkflowExecution,
        WorkflowType,
    },
    enums::v1::WorkflowExecutionStatus,
    failure::v1::Failure,
    history::v1::HistoryEvent,
};

use crate::ids::EventId;
use crate::time::Time;

/// Everything the server remembers about one run between requests.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct MutableState {
    // --- execution info ---
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub namespace_id: String,
    #[prost(string, tag = "3")]
    pub workflow_id: String,
    #[prost(string, tag = "4")]
    pub run_id: String,
    #[prost(string, tag = "5")]
    pub first_execution_run_id: String,
    #[prost(message, optional, tag = "6")]
    pub workflow_type: Option<WorkflowType>,
    #[prost(string, tag = "7")]
    pub task_queue: String,
    #[prost(message, optional, tag = "8")]
    pub input: Option<Payloads>,
    #[prost(message, optional, tag = "9")]
    pub header: Option<Header>,
    #[prost(message, optional, tag = "10")]
    pub memo: Option<Memo>,
    #[prost(message, optional, tag = "11")]
    pub search_attributes: Option<SearchAttributes>,
    #[prost(message, optional, tag = "12")]
    pub retry_policy: Option<RetryPolicy>,
    #[prost(int32, tag = "13")]
    pub attempt: i32,
    /// As the WorkflowExecutionStarted event has them: absent or zero means unlimited
    /// (read them through `duration_from_proto`).
    #[prost(message, optional, tag = "14")]
    pub execution_timeout: Option<ProtoDuration>,
    #[prost(message, optional, tag = "15")]
    pub run_timeout: Option<ProtoDuration>,
    #[prost(message, optional, tag = "16")]
    pub task_timeout: Option<ProtoDuration>,
    #[prost(int64, tag = "17")]
    pub start_time: i64,
    /// Unix nanos; 0 when there is no execution timeout.
    #[prost(int64, tag = "18")]
    pub execution_expiration_time: i64,
    #[prost(enumeration = "WorkflowExecutionStatus", tag = "19")]
    pub status: i32,
    #[prost(int64, tag = "20")]
    pub close_time: i64,
    #[prost(string, tag = "21")]
    pub start_request_id: String,
    #[prost(string, tag = "22")]
    pub identity: String,
    /// Id of the event that closed the run (0 while running).
    #[prost(int64, tag = "23")]
    pub completion_event_id: i64,

    // --- history bookkeeping ---
    #[prost(int64, tag = "30")]
    pub next_event_id: i64,
    /// Started id of the most recent workflow task that was started (persisted or transient).
    #[prost(int64, tag = "31")]
    pub last_workflow_task_started_event_id: i64,
    /// Started id of the last completed workflow task: the poll's previous_started_event_id.
    #[prost(int64, tag = "32")]
    pub last_completed_workflow_task_started_event_id: i64,
    #[prost(message, optional, tag = "33")]
    pub workflow_task: Option<WorkflowTaskInfo>,
    #[prost(btree_map = "int64, message", tag = "34")]
    pub activities: BTreeMap<i64, ActivityInfo>,
    #[prost(btree_map = "string, message", tag = "35")]
    pub timers: BTreeMap<String, TimerInfo>,
    /// Events that arrived while a workflow task was started; ids are assigned on flush.
    #[prost(message, repeated, tag = "36")]
    pub buffered_events: Vec<HistoryEvent>,
    /// Monotonic counter; every scheduled or retried workflow task gets a fresh stamp.
    #[prost(int32, tag = "37")]
    pub workflow_task_stamp: i32,
    /// Encoded bytes of the persisted history, for Temporal's history size limit.
    #[prost(int64, tag = "38")]
    pub history_size_bytes: i64,
    /// The worker-specific queue the next workflow task goes to; empty means the normal queue.
    /// Set by each completion's sticky attributes, cleared whenever the worker may have lost
    /// the run from its cache (failure, timeout, a task taken from another queue).
    #[prost(string, tag = "39")]
    pub sticky_task_queue: String,
    /// How long a task may wait on the sticky queue before it moves to the normal queue.
    #[prost(message, optional, tag = "40")]
    pub sticky_schedule_to_start_timeout: Option<ProtoDuration>,
    /// Unix nanos when the first workflow task is due: the start time plus the first-task
    /// backoff of a retry (Temporal's ExecutionTime). 0 in states written before it existed.
    #[prost(int64, tag = "41")]
    pub execution_time: i64,
    /// The run's WorkflowExecutionStarted event, kept only when a retry policy may start the
    /// next attempt from it (Temporal re-reads the start event; we keep it in state so a retry
    /// needs no history read).
    #[prost(message, optional, tag = "42")]
    pub started_event: Option<HistoryEvent>,
    /// How long the run is kept once closed: its namespace's workflow_execution_retention_ttl
    /// when it started. Unset in states written before it existed (see `retention()`).
    #[prost(message, optional, tag = "43")]
    pub retention: Option<ProtoDuration>,
    /// Unix nanos of the newest event written to this run's history (0 before the first, and in
    /// states written before it existed). A new leader whose clock is behind the old one's
    /// must not write events that go back in time (`MutableState::write` clamps).
    #[prost(int64, tag = "44")]
    pub last_event_time: i64,
    /// Request ids of the signals this run received, so a client's retry is not a second
    /// signal. Bounded by [`crate::limits::MAX_SIGNALS_PER_EXECUTION`].
    #[prost(string, repeated, tag = "45")]
    pub signal_request_ids: Vec<String>,
    /// Signals this run received (duplicates not counted).
    #[prost(int64, tag = "46")]
    pub signal_count: i64,
    /// A cancellation was requested (WorkflowExecutionCancelRequested is written once).
    #[prost(bool, tag = "47")]
    pub cancel_requested: bool,
    /// Temporal's auto-reset points: the first completed workflow task of each worker build
    /// (binary checksum, build id), this run's and those carried from earlier runs of the chain.
    #[prost(message, optional, tag = "48")]
    pub auto_reset_points: Option<temporalio_protos::temporal::api::workflow::v1::ResetPoints>,
    /// Child workflows this run started and still waits for, by initiated event id.
    #[prost(btree_map = "int64, message", tag = "49")]
    pub children: BTreeMap<i64, crate::child::ChildInfo>,
    /// The run that started this one as a child (all empty for a top-level run), handed on to
    /// every successor of the chain.
    #[prost(string, tag = "50")]
    pub parent_namespace: String,
    #[prost(string, tag = "51")]
    pub parent_namespace_id: String,
    #[prost(string, tag = "52")]
    pub parent_workflow_id: String,
    #[prost(string, tag = "53")]
    pub parent_run_id: String,
    #[prost(int64, tag = "54")]
    pub parent_initiated_event_id: i64,
    /// The top of this run's tree of children (empty: this run's own chain).
    #[prost(string, tag = "55")]
    pub root_workflow_id: String,
    #[prost(string, tag = "56")]
    pub root_run_id: String,
    /// Signals and cancel requests this run sent to other workflows and has not heard back
    /// about, by initiated event id.
    #[prost(btree_map = "int64, message", tag = "57")]
    pub external_requests: BTreeMap<i64, crate::external::ExternalRequest>,
    /// Updates a worker accepted, by update id: kept for the run's life so the same update id
    /// is never a second update and its outcome can be answered again (`crate::update`).
    #[prost(btree_map = "string, message", tag = "58")]
    pub updates: BTreeMap<String, crate::update::UpdateRecord>,
    /// The schedule that started this run's chain (set only by a schedule's start; every
    /// successor inherits it), told when the chain's last run closes.
    #[prost(message, optional, tag = "59")]
    pub scheduled_by: Option<crate::tasks::ScheduledBy>,
    /// Writes of this run so far, its creation included (Temporal's state transition count,
    /// one per mutable-state transaction). Set by the history layer's write path from the
    /// run's stored version, which counts the same writes; 0 in states written before it was
    /// kept (the loader fills it from the version then).
    #[prost(int64, tag = "60")]
    pub state_transition_count: i64,
    /// The run the latest reset of this run made (Temporal's ResetRunId, in Describe's
    /// extended info). (Tag 80: room for the fields other branches add meanwhile.)
    #[prost(string, tag = "80")]
    pub reset_run_id: String,
}

/// The single pending workflow task, if any.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct WorkflowTaskInfo {
    /// For attempt >= 2 (transient) this id is virtual: the Scheduled event is not in history.
    #[prost(int64, tag = "1")]
    pub scheduled_event_id: i64,
    /// 0 until started.
    #[prost(int64, tag = "2")]
    pub started_event_id: i64,
    #[prost(int32, tag = "3")]
    pub attempt: i32,
    #[prost(string, tag = "4")]
    pub request_id: String,
    #[prost(int64, tag = "5")]
    pub scheduled_time: i64,
    #[prost(int64, tag = "6")]
    pub started_time: i64,
    #[prost(message, optional, tag = "7")]
    pub timeout: Option<ProtoDuration>,
    #[prost(int32, tag = "8")]
    pub stamp: i32,
    #[prost(string, tag = "9")]
    pub identity: String,
    #[prost(string, tag = "10")]
    pub task_queue: String,
    #[prost(int64, tag = "11")]
    pub original_scheduled_time: i64,
    /// History bytes stored when the task started, as its WorkflowTaskStarted reports them
    /// (kept so a transient attempt's unpersisted Started event says the same every time).
    #[prost(int64, tag = "12")]
    pub history_size_bytes: i64,
    #[prost(bool, tag = "13")]
    pub suggest_continue_as_new: bool,
    #[prost(
        enumeration = "temporalio_protos::temporal::api::enums::v1::SuggestContinueAsNewReason",
        repeated,
        tag = "14"
    )]
    pub suggest_continue_as_new_reasons: Vec<i32>,
    /// A task scheduled only to carry updates to an idle run: its Scheduled and Started events
    /// have virtual ids and are written only if its completion writes something, or when any
    /// other event must be written first (see `MutableState::materialize_speculative`).
    #[prost(bool, tag = "15")]
    pub speculative: bool,
}

impl WorkflowTaskInfo {
    pub fn is_started(&self) -> bool {
        self.started_event_id > 0
    }

    pub fn is_transient(&self) -> bool {
        self.attempt > 1
    }

    /// Its Scheduled/Started events are not in history (yet): a transient attempt or a
    /// speculative task.
    pub fn is_virtual(&self) -> bool {
        self.is_transient() || self.speculative
    }
}

/// A pending activity, keyed by its ActivityTaskScheduled event id. Holds everything a
/// PollActivityTaskQueueResponse needs so dispatch never reads history.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ActivityInfo {
    #[prost(int64, tag = "1")]
    pub scheduled_event_id: i64,
    #[prost(string, tag = "2")]
    pub activity_id: String,
    #[prost(message, optional, tag = "3")]
    pub activity_type: Option<ActivityType>,
    #[prost(message, optional, tag = "4")]
    pub input: Option<Payloads>,
    #[prost(message, optional, tag = "5")]
    pub header: Option<Header>,
    #[prost(string, tag = "6")]
    pub task_queue: String,
    #[prost(message, optional, tag = "7")]
    pub schedule_to_close_timeout: Option<ProtoDuration>,
    #[prost(message, optional, tag = "8")]
    pub schedule_to_start_timeout: Option<ProtoDuration>,
    #[prost(message, optional, tag = "9")]
    pub start_to_close_timeout: Option<ProtoDuration>,
    #[prost(message, optional, tag = "10")]
    pub heartbeat_timeout: Option<ProtoDuration>,
    /// Always set (defaults filled in at scheduling).
    #[prost(message, optional, tag = "11")]
    pub retry_policy: Option<RetryPolicy>,
    #[prost(int32, tag = "12")]
    pub attempt: i32,
    /// When the current attempt was (or will be, during backoff) scheduled.
    #[prost(int64, tag = "13")]
    pub scheduled_time: i64,
    #[prost(int64, tag = "14")]
    pub first_scheduled_time: i64,
    /// 0 while the current attempt is not started.
    #[prost(int64, tag = "15")]
    pub started_time: i64,
    #[prost(string, tag = "16")]
    pub request_id: String,
    #[prost(string, tag = "17")]
    pub started_identity: String,
    #[prost(message, optional, tag = "18")]
    pub last_failure: Option<Failure>,
    #[prost(message, optional, tag = "19")]
    pub last_heartbeat_details: Option<Payloads>,
    #[prost(int64, tag = "20")]
    pub last_heartbeat_time: i64,
    #[prost(int32, tag = "21")]
    pub stamp: i32,
    #[prost(int64, tag = "22")]
    pub workflow_task_completed_event_id: i64,
    #[prost(int64, tag = "23")]
    pub last_attempt_complete_time: i64,
    #[prost(string, tag = "24")]
    pub last_worker_identity: String,
    /// True between a failed attempt and the ActivityRetry timer firing.
    #[prost(bool, tag = "25")]
    pub backing_off: bool,
    /// The workflow asked to cancel this (started) attempt: heartbeats answer
    /// cancel_requested until the worker reports the outcome.
    #[prost(bool, tag = "26")]
    pub cancel_requested: bool,
    /// Id of the ActivityTaskCancelRequested event.
    #[prost(int64, tag = "27")]
    pub cancel_requested_event_id: i64,
    /// An operator paused the activity: no attempt is dispatched and no timeout fires until
    /// it is unpaused; a running attempt keeps running and its heartbeats answer paused.
    #[prost(bool, tag = "28")]
    pub paused: bool,
    #[prost(message, optional, tag = "29")]
    pub pause_info: Option<ActivityPauseInfo>,
    /// ResetActivity reset the attempt count: heartbeats answer `activity_reset` until the next
    /// retry clears it.
    #[prost(bool, tag = "30")]
    pub activity_reset: bool,
    /// ResetActivity asked to drop the heartbeat details at the next retry (the running
    /// attempt may still heartbeat until then).
    #[prost(bool, tag = "31")]
    pub reset_heartbeats: bool,
    /// The options it was scheduled with, kept once UpdateActivityOptions first changes them
    /// (restore_original puts them back).
    #[prost(message, optional, tag = "32")]
    pub original_options: Option<temporalio_protos::temporal::api::activity::v1::ActivityOptions>,
}

/// Who paused an activity, when and why (PendingActivityInfo.pause_info).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ActivityPauseInfo {
    #[prost(int64, tag = "1")]
    pub pause_time: i64,
    #[prost(string, tag = "2")]
    pub identity: String,
    #[prost(string, tag = "3")]
    pub reason: String,
    /// A repeated PauseActivity with the same request id is a no-op, not "already paused".
    #[prost(string, tag = "4")]
    pub request_id: String,
}

impl ActivityInfo {
    pub fn is_started(&self) -> bool {
        self.started_time != 0
    }

    /// A retry ends what a ResetActivity asked of the attempt that was running (Temporal's
    /// UpdateActivityInfoForRetries).
    pub(crate) fn clear_reset_flags(&mut self) {
        if self.reset_heartbeats {
            self.last_heartbeat_details = None;
            self.last_heartbeat_time = 0;
        }
        self.activity_reset = false;
        self.reset_heartbeats = false;
    }
}

/// A pending user timer.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TimerInfo {
    #[prost(string, tag = "1")]
    pub timer_id: String,
    #[prost(int64, tag = "2")]
    pub started_event_id: i64,
    #[prost(int64, tag = "3")]
    pub expiry_time: i64,
}

impl MutableState {
    pub fn is_running(&self) -> bool {
        self.status == WorkflowExecutionStatus::Running as i32
    }

    pub fn execution(&self) -> WorkflowExecution {
        WorkflowExecution {
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
        }
    }

    pub fn next_event_id(&self) -> EventId {
        EventId(self.next_event_id)
    }

    pub fn start_time(&self) -> Time {
        Time(self.start_time)
    }

    pub fn has_pending_workflow_task(&self) -> bool {
        self.workflow_task.is_some()
    }

    pub fn has_started_workflow_task(&self) -> bool {
        self.workflow_task.as_ref().is_some_and(|w| w.is_started())
    }

    /// False only while a run waits for its first workflow task (a retry's backoff).
    pub fn had_or_has_workflow_task(&self) -> bool {
        self.workflow_task.is_some() || self.last_workflow_task_started_event_id > 0
    }

    /// When the first workflow task is (or was) due; the start time for older states.
    pub fn execution_time(&self) -> Time {
        if self.execution_time == 0 {
            Time(self.start_time)
        } else {
            Time(self.execution_time)
        }
    }

    pub fn activity(&self, scheduled_event_id: EventId) -> Option<&ActivityInfo> {
        self.activities.get(&scheduled_event_id.0)
    }

    /// For CompleteActivityById-style calls, where the worker only knows the activity id.
    pub fn activity_by_id(&self, activity_id: &str) -> Option<&ActivityInfo> {
        self.activities
            .values()
            .find(|a| a.activity_id == activity_id)
    }

    /// Number of events in persisted history (transient events excluded).
    pub fn history_length(&self) -> i64 {
        self.next_event_id - 1
    }

    /// Encoded size of the persisted history, in bytes.
    pub fn history_size_bytes(&self) -> i64 {
        self.history_size_bytes
    }

    /// Temporal's hard history limits: `Some(reason)` when a *running* run must be terminated
    /// before anything more is written to it. Size is checked first, then the event count.
    pub fn history_limit_exceeded(&self) -> Option<&'static str> {
        if !self.is_running() {
            return None;
        }
        if self.history_size_bytes > crate::limits::HISTORY_SIZE_LIMIT_ERROR {
            return Some(crate::limits::FAILURE_REASON_HISTORY_SIZE_EXCEEDS_LIMIT);
        }
        if self.history_length() > crate::limits::HISTORY_COUNT_LIMIT_ERROR {
            return Some(crate::limits::FAILURE_REASON_HISTORY_COUNT_EXCEEDS_LIMIT);
        }
        None
    }
}
