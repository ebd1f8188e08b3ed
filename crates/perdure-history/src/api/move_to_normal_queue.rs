//! A sticky workflow task whose worker shut down moves to the normal queue: stickiness ends and
//! the same task is dispatched anew on the normal queue, in one write that also deletes the old
//! (sticky) dispatch row. No history event is written, as in Temporal's StickyWorkerUnavailable
//! path.
//!
//! A dispatch that turned out stale (task started, replaced, run gone) only loses its row.

use perdure_core::transfer_task;
use perdure_storage::{keys, Cf, Op};

use crate::api::execution_not_found;
use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::shard::{Plan, Step};
use crate::{DispatchTask, HistoryService};

impl HistoryService {
    /// Returns true when the task was moved, false when the dispatch was stale (and dropped).
    pub async fn move_workflow_task_to_normal_queue(
        &self,
        task: &DispatchTask,
    ) -> Result<bool, HistoryError> {
        let shard = self
            .shard(task.shard)
            .ok_or_else(|| HistoryError::from(execution_not_found()))?;
        let Some(transfer_task::Kind::WorkflowTask(task_ref)) = &task.task.kind else {
            return Ok(false);
        };
        let t = &task.task;
        let key = ExecKey::new(&t.namespace_id, &t.workflow_id, &t.run_id);
        let row = Op::Delete {
            cf: Cf::TransferTasks,
            key: keys::transfer_task(shard.id, task.task_id),
        };
        let moved = shard
            .update(&key, |state, _now| {
                let Some(state) = state else {
                    return Ok(Step::Reply(false));
                };
                let mut next = state.clone();
                let mutation = next.move_workflow_task_to_normal_queue(task_ref);
                if mutation.is_empty() {
                    return Ok(Step::Reply(false));
                }
                let mut plan = Plan::new(next, mutation, true);
                plan.extra_ops.push(row.clone());
                Ok(Step::Write(plan))
            })
            .await?;
        if !moved {
            if let Err(e) = shard.delete_transfer_task(task.task_id).await {
                tracing::debug!(error = %e, "stale sticky transfer task not deleted yet");
            }
        }
        Ok(moved)
    }
}
