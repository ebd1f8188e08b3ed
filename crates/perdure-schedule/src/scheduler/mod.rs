//! The state machine of one schedule: Temporal's scheduler workflow
//! (`service/worker/scheduler/workflow.go` and `buffer.go`) as a pure function of its state, the
//! time and what its runs did.
//!
//! Every method takes `now`, changes the state and returns the [`Action`]s the caller must carry
//! out (start a workflow, cancel or terminate a running one); [`ScheduleState::next_wake`] says
//! when to call [`ScheduleState::wake`] next. Nothing here reads a clock, draws randomness or
//! does I/O: request ids are derived from the schedule id, the slot and a counter, so a replica
//! (or a retried effect) computes the same request, and a start that runs twice is deduplicated
//! by the history's request-id check.
//!
//! Starts are asynchronous here (Temporal's are a local activity inside the workflow): a start
//! handed out is *pending* until [`ScheduleState::on_started`] or
//! [`ScheduleState::on_start_failed`] reports it, and a pending start counts as running for the
//! overlap policies, exactly as the workflow's synchronous start would.
//!
//! This module must never perform an action itself, nor depend on anything but its arguments.

use std::time::Duration;

use temporalio_protos::temporal::api::common::v1::WorkflowExecution;

use crate::spec::SpecError;

mod buffer;
mod convert;
mod create;
mod ids;
mod patch;
mod start;
mod state;
mod time_range;
mod views;

use convert::*;
use create::fill_defaults;
pub use ids::{rfc3339_seconds, scheduler_workflow_id};
pub use state::{BufferedStart, PendingStart, ScheduleState};

/// Temporal's scheduler workflow id prefix: a schedule lives where its workflow would.
pub const SCHEDULER_WORKFLOW_ID_PREFIX: &str = "temporal-sys-scheduler:";
/// Temporal's InitialConflictToken.
pub const INITIAL_CONFLICT_TOKEN: i64 = 1;
/// Results kept in Describe's recent actions (RecentActionCount).
pub const RECENT_ACTIONS: usize = 10;
/// Times shown in Describe's future actions (FutureActionCount).
pub const FUTURE_ACTIONS: usize = 10;
/// Recent actions / future times in a List entry (RecentActionCountForList,
/// FutureActionCountForList).
pub const RECENT_ACTIONS_FOR_LIST: usize = 5;
pub const FUTURE_ACTIONS_FOR_LIST: usize = 5;
/// Catch-up window when the policy sets none, and the least one honoured.
pub const DEFAULT_CATCHUP_WINDOW: Duration = Duration::from_secs(365 * 24 * 3600);
pub const MIN_CATCHUP_WINDOW: Duration = Duration::from_secs(10);
/// Buffered starts (and pending backfills) a schedule holds at most (MaxBufferSize).
pub const MAX_BUFFER: usize = 1000;
/// Patch/update request ids remembered for dedup.
pub const RECENT_REQUEST_IDS: usize = 100;
/// Temporal's maxListMatchingTimesCount.
pub const MAX_MATCHING_TIMES: usize = 1000;
/// Slots one call steps through at most; a longer gap (a year of one-second slots) is counted
/// in bulk as missed rather than walked one by one.
const MAX_STEPS: usize = 100_000;

/// Something the caller must do for the schedule.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Start the pending start `seq` (its request is in `ScheduleState::pending`).
    Start {
        seq: u64,
    },
    Cancel(WorkflowExecution),
    Terminate(WorkflowExecution),
}

/// Why an update was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    Spec(#[from] SpecError),
    /// The conflict token did not match (Temporal answers FailedPrecondition).
    #[error("conflicting concurrent update")]
    Conflict,
}

#[cfg(test)]
mod tests;
