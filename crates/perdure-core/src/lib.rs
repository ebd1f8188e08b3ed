//! perdure-core: the pure workflow state machine behind Perdure's history service.
//!
//! It owns `MutableState` (one workflow run), the rules that turn requests, commands and
//! timers into history events and tasks (`Mutation`), and task tokens. It must never do
//! I/O, spawn, read clocks or generate randomness: time and ids are arguments, so every
//! transition is deterministic and replayable. Temporal's server is the specification.

mod activity_options;
mod activity_outcome;
mod activity_task_started;
mod build_ids;
mod cancel_activity;
mod cancel_workflow;
mod child;
mod continue_as_new;
mod cron;
mod delete_workflow;
mod describe;
mod errors;
mod external;
mod fire_timer;
mod ids;
pub mod limits;
mod pause_activity;
mod query;
mod reset;
mod reset_activity;
mod reset_points;
mod retention;
mod retry;
mod server_failures;
mod signal;
mod start;
mod state;
mod sticky_queue;
mod tasks;
mod terminate;
mod time;
mod token;
mod update;
mod update_activity_options;
mod workflow_retry;
mod workflow_task_completed;
mod workflow_task_failed;
mod workflow_task_started;

#[cfg(test)]
mod tests;

pub use activity_options::{
    retry_policy_with_defaults, DEFAULT_RETRY_BACKOFF_COEFFICIENT, DEFAULT_RETRY_INITIAL_INTERVAL,
    DEFAULT_RETRY_MAXIMUM_INTERVAL_COEFFICIENT,
};
pub use activity_task_started::ActivityDispatch;
pub use cancel_workflow::CancelRequest;
pub use child::{
    ChildInfo, ChildOutcome, ClosedRunEffects, ParentExecution, NUM_PENDING_CHILD_EXECUTIONS_LIMIT,
};
pub use cron::go_duration;
pub use delete_workflow::DELETE_REASON;
pub use errors::CoreError;
pub use external::{ExternalRequest, NUM_PENDING_EXTERNAL_REQUESTS_LIMIT};
pub use ids::EventId;
pub use pause_activity::{ActivitySelector, PauseRequest, UnpauseRequest};
pub use query::{QueryRoute, QueryTarget, FAIL_QUERY_WORKFLOW_TASK_ATTEMPT};
pub use reset::{ResetParams, RESETTER_IDENTITY};
pub use reset_activity::ResetActivityRequest;
pub use retention::DEFAULT_RETENTION;
pub use server_failures::SERVER_FAILURE_SOURCE;
pub use signal::Signal;
pub use start::{
    decide_start, signal_with_start, start_workflow, CurrentExecution, StartDecision, StartParams,
    StartPolicyInput, DEFAULT_WORKFLOW_TASK_TIMEOUT, MAX_WORKFLOW_TASK_TIMEOUT,
};
pub use state::{
    ActivityInfo, ActivityPauseInfo, MutableState, TimerInfo, WorkflowTaskInfo,
    DEFAULT_STICKY_SCHEDULE_TO_START,
};
pub use tasks::{
    timer_task, transfer_task, Mutation, NewRun, RunTimeout, ScheduledBy, TaskRef, TaskTimeout,
    TimerTask, TransferTask, UserTimer,
};
pub use time::{duration_from_proto, duration_to_proto, Time};
pub use token::{TaskKind, TaskToken};
pub use update::{
    accepted_update_completed_workflow_failure, rejected_outcome, request_message_id,
    unprocessed_update_failure, PendingUpdates, UpdateProgress, UpdateRecord, MAX_TOTAL_UPDATES,
    REQUEST_TYPE_URL,
};
pub use update_activity_options::UpdateOptionsRequest;
pub use workflow_retry::{
    run_timeout_failure, NewRunIds, RunFailure, WORKFLOW_ID_REUSE_MINIMAL_INTERVAL,
};
pub use workflow_task_completed::{
    BadSearchAttributes, WorkflowTaskCompletion, RUN_TASK_QUEUE, RUN_WORKFLOW_TYPE,
};
pub use workflow_task_failed::HISTORY_SERVICE_IDENTITY;
pub use workflow_task_started::WorkflowTaskDispatch;
