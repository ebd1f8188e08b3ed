//! SignalWorkflowExecution.

use temporalio_protos::temporal::api::workflowservice::v1::{
    SignalWorkflowExecutionRequest, SignalWorkflowExecutionResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::test_faults::TestBreak;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn signal_workflow_execution(
        &self,
        req: SignalWorkflowExecutionRequest,
    ) -> Result<SignalWorkflowExecutionResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        validate::execution(req.workflow_execution.as_ref())?;
        validate::signal_name(&req.signal_name)?;
        validate::request_id(&req.request_id)?;
        validate::identity(&req.identity)?;
        validate::blob(req.input.as_ref())?;
        if crate::test_faults::test_break() == Some(TestBreak::AckSignalBeforeCommit) {
            let (history, ns_id) = (self.history.clone(), ns.id().to_string());
            tokio::spawn(async move {
                tokio::time::sleep(crate::test_faults::ACK_BEFORE_COMMIT_DELAY).await;
                let _ = history.signal(&ns_id, &req).await;
            });
            return Ok(SignalWorkflowExecutionResponse::default());
        }
        let run_id = self
            .history
            .signal(ns.id(), &req)
            .await
            .map_err(errors::history)?;
        let workflow_id = req
            .workflow_execution
            .as_ref()
            .map_or("", |e| &e.workflow_id);
        Ok(SignalWorkflowExecutionResponse {
            link: Some(crate::links::signaled_by_request(
                &req.namespace,
                workflow_id,
                &run_id,
                &req.request_id,
            )),
        })
    }
}
