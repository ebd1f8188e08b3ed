//! One module per history operation, each an `impl HistoryService` block. They share the
//! shard write path and never touch storage directly.

mod batch_progress;
mod count_visibility;
mod create_schedule;
mod delete_run;
mod delete_schedule;
mod delete_workflow;
mod describe;
mod describe_batch;
mod describe_schedule;
mod fire_timer;
mod get_history;
mod get_history_reverse;
mod list_batches;
mod list_schedules;
mod list_visibility;
mod patch_schedule;
mod pause_activity;
mod query_workflow;
mod record_activity_heartbeat;
mod record_activity_task_started;
mod record_workflow_task_started;
mod request_cancel;
mod reset_activity;
mod reset_sticky_task_queue;
mod reset_workflow;
mod respond_activity_task;
mod respond_workflow_task_completed;
mod respond_workflow_task_failed;
mod schedule_record;
mod schedule_wake;
mod signal;
mod start_batch;
mod start_workflow;
mod stop_batch;
mod terminate;
mod update_activity_options;
mod update_schedule;
mod update_workflow;

pub use get_history::HistoryPageToken;
pub use query_workflow::QueryStep;
pub use start_workflow::StartOutcome;
pub use update_workflow::{UpdateHandle, UpdateStage, UpdateStatus, UpdateTarget};

use std::sync::Arc;

use perdure_core::{CoreError, TaskToken};
use perdure_storage::{keys, Cf, Op};

use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::shard::Shard;
use crate::{DispatchTask, HistoryService};

/// What RecordWorkflowTaskStarted and RecordActivityTaskStarted need of a dispatched task: its
/// shard, its run, and the deletion of its durable row (written with the start).
pub(crate) struct Dispatched<'a> {
    pub shard: &'a Arc<Shard>,
    pub key: ExecKey,
    pub delete_row: Op,
}

impl HistoryService {
    pub(crate) fn dispatched(&self, task: &DispatchTask) -> Result<Dispatched<'_>, HistoryError> {
        let shard = self
            .shard(task.shard)
            .ok_or_else(|| HistoryError::from(execution_not_found()))?;
        let t = &task.task;
        Ok(Dispatched {
            shard,
            key: ExecKey::new(&t.namespace_id, &t.workflow_id, &t.run_id),
            delete_row: Op::Delete {
                cf: Cf::TransferTasks,
                key: keys::transfer_task(shard.id, task.task_id),
            },
        })
    }
}

impl Dispatched<'_> {
    /// A start the core refused (already started, task gone, run closed) means the dispatch is
    /// stale: its row must not be dispatched again after a restart. Other errors leave it.
    pub(crate) async fn drop_if_stale<T>(
        &self,
        task: &DispatchTask,
        result: Result<T, HistoryError>,
    ) -> Result<T, HistoryError> {
        if let Err(HistoryError::Core(_)) = &result {
            if let Err(del) = self.shard.delete_transfer_task(task.task_id).await {
                tracing::debug!(error = %del, "stale transfer task not deleted yet");
            }
        }
        result
    }
}

/// The execution a task token names.
pub(crate) fn token_key(token: &TaskToken) -> ExecKey {
    ExecKey::new(&token.namespace_id, &token.workflow_id, &token.run_id)
}

/// The error for a run that does not exist (or no longer does).
pub(crate) fn execution_not_found() -> CoreError {
    CoreError::NotFound("workflow execution not found".to_string())
}

/// A named run that is not stored (never was, or retention deleted it): Temporal's wording
/// when its persistence layer finds no such run.
pub(crate) fn run_not_found(key: &ExecKey) -> CoreError {
    CoreError::NotFound(format!(
        "workflow execution not found for workflow ID \"{}\" and run ID \"{}\"",
        key.workflow_id, key.run_id
    ))
}
