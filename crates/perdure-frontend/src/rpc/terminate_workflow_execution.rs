//! TerminateWorkflowExecution.

use temporalio_protos::temporal::api::workflowservice::v1::{
    TerminateWorkflowExecutionRequest, TerminateWorkflowExecutionResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn terminate_workflow_execution(
        &self,
        req: TerminateWorkflowExecutionRequest,
    ) -> Result<TerminateWorkflowExecutionResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        validate::execution(req.workflow_execution.as_ref())?;
        validate::identity(&req.identity)?;
        validate::blob(req.details.as_ref())?;
        self.history
            .terminate(ns.id(), &req)
            .await
            .map_err(errors::history)?;
        Ok(TerminateWorkflowExecutionResponse::default())
    }
}
