//! The persisted messages of a schedule: [`ScheduleState`] (one row per schedule), the starts
//! it buffers and the starts it has handed out but not yet seen recorded.
//!
//! Owns the prost layout only (tags are on disk: never renumber). Never holds behaviour.

use prost::Message;
use temporalio_protos::temporal::api::common::v1::{Memo, Payloads, SearchAttributes};
use temporalio_protos::temporal::api::enums::v1::ScheduleOverlapPolicy;
use temporalio_protos::temporal::api::failure::v1::Failure;
use temporalio_protos::temporal::api::schedule::v1::{BackfillRequest, Schedule, ScheduleInfo};
use temporalio_protos::temporal::api::workflowservice::v1::StartWorkflowExecutionRequest;

/// A start waiting to be taken (Temporal's BufferedStart).
#[derive(Clone, PartialEq, Message)]
pub struct BufferedStart {
    #[prost(int64, tag = "1")]
    pub nominal: i64,
    #[prost(int64, tag = "2")]
    pub actual: i64,
    #[prost(enumeration = "ScheduleOverlapPolicy", tag = "3")]
    pub overlap_policy: i32,
    #[prost(bool, tag = "4")]
    pub manual: bool,
}

/// A start handed out and not yet reported.
#[derive(Clone, PartialEq, Message)]
pub struct PendingStart {
    #[prost(uint64, tag = "1")]
    pub seq: u64,
    #[prost(message, optional, tag = "2")]
    pub request: Option<StartWorkflowExecutionRequest>,
    /// The slot's time after jitter (ScheduleActionResult.schedule_time).
    #[prost(int64, tag = "3")]
    pub actual: i64,
    /// Not ALLOW_ALL: it takes part in overlap decisions and is tracked as running.
    #[prost(bool, tag = "4")]
    pub tracked: bool,
    /// Carried out (and `run_id` set, unless it was refused), waiting for the starts before it
    /// to be recorded first.
    #[prost(bool, tag = "5")]
    pub done: bool,
    #[prost(string, tag = "6")]
    pub run_id: String,
    #[prost(int64, tag = "7")]
    pub started_at: i64,
    /// It closed before it could be recorded (a WorkflowExecutionStatus; 0: not closed).
    #[prost(int32, tag = "8")]
    pub closed_status: i32,
}

/// Everything a schedule is, as persisted (one row).
#[derive(Clone, PartialEq, Message)]
pub struct ScheduleState {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub namespace_id: String,
    #[prost(string, tag = "3")]
    pub schedule_id: String,
    #[prost(message, optional, tag = "4")]
    pub schedule: Option<Schedule>,
    #[prost(message, optional, tag = "5")]
    pub memo: Option<Memo>,
    #[prost(message, optional, tag = "6")]
    pub search_attributes: Option<SearchAttributes>,
    /// Counters, running workflows, recent actions, create and update time.
    #[prost(message, optional, tag = "7")]
    pub info: Option<ScheduleInfo>,
    #[prost(message, repeated, tag = "8")]
    pub buffered: Vec<BufferedStart>,
    /// Every slot with a nominal time up to here has been taken, skipped or missed.
    #[prost(int64, tag = "9")]
    pub cursor: i64,
    #[prost(int64, tag = "10")]
    pub conflict_token: i64,
    #[prost(message, repeated, tag = "11")]
    pub pending: Vec<PendingStart>,
    /// Counter for request ids and pending starts.
    #[prost(uint64, tag = "12")]
    pub next_seq: u64,
    #[prost(message, repeated, tag = "13")]
    pub backfills: Vec<BackfillRequest>,
    /// The CreateSchedule request id (a repeated create with it succeeds).
    #[prost(string, tag = "14")]
    pub request_id: String,
    /// The wake timer this state waits for: older timers are stale.
    #[prost(uint64, tag = "15")]
    pub wake_generation: u64,
    #[prost(int64, tag = "16")]
    pub wake_at: i64,
    #[prost(message, optional, tag = "17")]
    pub last_completion_result: Option<Payloads>,
    #[prost(message, optional, tag = "18")]
    pub continued_failure: Option<Failure>,
    /// The namespace's retention when the schedule was created: its runs keep it.
    #[prost(uint64, tag = "19")]
    pub retention_secs: u64,
    /// Request ids of the latest patches and updates (Temporal dedups them as signals): a
    /// retried call is not applied twice.
    #[prost(string, repeated, tag = "20")]
    pub recent_request_ids: Vec<String>,
}
