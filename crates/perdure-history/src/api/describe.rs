//! DescribeWorkflowExecution: the run's state as the core summarizes it. Never writes.

use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::workflowservice::v1::DescribeWorkflowExecutionResponse;

use crate::api::run_not_found;
use crate::errors::HistoryError;
use crate::HistoryService;

impl HistoryService {
    pub async fn describe(
        &self,
        namespace_id: &str,
        execution: &WorkflowExecution,
    ) -> Result<DescribeWorkflowExecutionResponse, HistoryError> {
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, &execution.run_id)
            .await?;
        let shard = self.shard_for(namespace_id, &execution.workflow_id);
        let state = shard
            .read_state(&key)
            .await?
            .ok_or_else(|| HistoryError::from(run_not_found(&key)))?;
        Ok(state.describe())
    }
}
