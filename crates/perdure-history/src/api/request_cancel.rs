//! RequestCancelWorkflowExecution on the shard leader; see `perdure_core::cancel_workflow`.

use perdure_core::CancelRequest;
use temporalio_protos::temporal::api::workflowservice::v1::RequestCancelWorkflowExecutionRequest;

use crate::errors::HistoryError;
use crate::HistoryService;

impl HistoryService {
    pub async fn request_cancel(
        &self,
        namespace_id: &str,
        request: &RequestCancelWorkflowExecutionRequest,
    ) -> Result<(), HistoryError> {
        let execution = request.workflow_execution.clone().unwrap_or_default();
        // With a first execution run id the cancel follows the chain to its current run.
        let run_id = if request.first_execution_run_id.is_empty() {
            execution.run_id.as_str()
        } else {
            ""
        };
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, run_id)
            .await?;
        let cancel = CancelRequest {
            reason: request.reason.clone(),
            identity: request.identity.clone(),
            first_execution_run_id: request.first_execution_run_id.clone(),
            ..Default::default()
        };
        self.shard_for(namespace_id, &execution.workflow_id)
            .mutate(&key, |next, now| {
                Ok((next.request_cancel(&cancel, now)?, ()))
            })
            .await
    }
}
