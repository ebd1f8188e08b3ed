//! SignalWorkflowExecution on the shard leader: the run named (or the workflow's current run)
//! records the signal; see `perdure_core::signal` for what that writes.

use perdure_core::Signal;
use temporalio_protos::temporal::api::workflowservice::v1::SignalWorkflowExecutionRequest;

use crate::errors::HistoryError;
use crate::HistoryService;

impl HistoryService {
    pub async fn signal(
        &self,
        namespace_id: &str,
        request: &SignalWorkflowExecutionRequest,
    ) -> Result<String, HistoryError> {
        let execution = request.workflow_execution.clone().unwrap_or_default();
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, &execution.run_id)
            .await?;
        let signal = Signal {
            name: request.signal_name.clone(),
            input: request.input.clone(),
            header: request.header.clone(),
            identity: request.identity.clone(),
            request_id: request.request_id.clone(),
            external: None,
        };
        self.shard_for(namespace_id, &execution.workflow_id)
            .mutate(&key, |next, now| Ok((next.signal(&signal, now)?, ())))
            .await?;
        Ok(key.run_id)
    }
}
