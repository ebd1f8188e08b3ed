//! One module per history operation, each an `impl HistoryService` block. They share the
//! shard write path and never touch storage directly.

mod describe;
mod fire_timer;
mod get_history;
mod record_activity_heartbeat;
mod record_activity_task_started;
mod record_workflow_task_started;
mod reset_sticky_task_queue;
mod respond_activity_task;
mod respond_workflow_task_completed;
mod respond_workflow_task_failed;
mod start_workflow;
mod terminate;

pub use get_history::HistoryPageToken;
pub use start_workflow::StartOutcome;

use perdure_core::{CoreError, TaskToken};

use crate::cache::ExecKey;

/// The execution a task token names.
pub(crate) fn token_key(token: &TaskToken) -> ExecKey {
    ExecKey::new(&token.namespace_id, &token.workflow_id, &token.run_id)
}

/// The error for a run that does not exist (or no longer does).
pub(crate) fn execution_not_found() -> CoreError {
    CoreError::NotFound("workflow execution not found".to_string())
}
