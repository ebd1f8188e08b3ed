//! DeleteWorkflowExecution: Temporal's execution checks, then history deletes the run soon (a
//! running one is terminated first). Also what a delete batch carries out per target.

use temporalio_protos::temporal::api::workflowservice::v1::{
    DeleteWorkflowExecutionRequest, DeleteWorkflowExecutionResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn delete_workflow_execution(
        &self,
        req: DeleteWorkflowExecutionRequest,
    ) -> Result<DeleteWorkflowExecutionResponse, Status> {
        let execution = validate::execution(req.workflow_execution.as_ref())?;
        let ns = self.namespaces.get(&req.namespace)?;
        self.history
            .delete_workflow(ns.id(), execution)
            .await
            .map_err(errors::history)?;
        Ok(DeleteWorkflowExecutionResponse::default())
    }
}
