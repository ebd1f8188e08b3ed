//! ResetStickyTaskQueue: forget a run's sticky queue so its next workflow task goes to the
//! normal queue with full history. Writes no event (Temporal writes none either); the change
//! to the mutable state is still replicated so a new leader sees it.

use perdure_core::Mutation;
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;

use crate::api::run_not_found;
use crate::errors::HistoryError;
use crate::shard::{Plan, Step};
use crate::HistoryService;

impl HistoryService {
    /// NotFound for an unknown run, `WorkflowCompleted` (NotFound) for a closed one.
    pub async fn reset_sticky_task_queue(
        &self,
        namespace_id: &str,
        execution: &WorkflowExecution,
    ) -> Result<(), HistoryError> {
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, &execution.run_id)
            .await?;
        let shard = self.shard_for(namespace_id, &execution.workflow_id);
        shard
            .update(&key, |state, _now| {
                let Some(state) = state else {
                    return Err(run_not_found(&key).into());
                };
                let mut next = state.clone();
                if !next.reset_sticky_task_queue()? {
                    return Ok(Step::Reply(()));
                }
                Ok(Step::Write(Plan::new(next, Mutation::default(), ())))
            })
            .await
    }
}
