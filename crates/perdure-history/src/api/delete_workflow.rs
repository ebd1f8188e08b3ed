//! DeleteWorkflowExecution: the run's deletion is made due now (a running run is terminated
//! first, as Temporal's history does; `perdure_core::MutableState::delete_workflow`); the timer
//! wheel then deletes it through the retention path (`delete_run.rs`).

use temporalio_protos::temporal::api::common::v1::WorkflowExecution;

use crate::errors::HistoryError;
use crate::HistoryService;

impl HistoryService {
    pub async fn delete_workflow(
        &self,
        namespace_id: &str,
        execution: &WorkflowExecution,
    ) -> Result<(), HistoryError> {
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, &execution.run_id)
            .await?;
        let shard = self.shard_for(namespace_id, &execution.workflow_id);
        shard
            .mutate(&key, |next, now| Ok((next.delete_workflow(now)?, ())))
            .await
    }
}
