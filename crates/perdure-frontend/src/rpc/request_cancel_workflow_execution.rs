//! RequestCancelWorkflowExecution.

use temporalio_protos::temporal::api::workflowservice::v1::{
    RequestCancelWorkflowExecutionRequest, RequestCancelWorkflowExecutionResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn request_cancel_workflow_execution(
        &self,
        req: RequestCancelWorkflowExecutionRequest,
    ) -> Result<RequestCancelWorkflowExecutionResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        validate::execution(req.workflow_execution.as_ref())?;
        validate::request_id(&req.request_id)?;
        validate::identity(&req.identity)?;
        self.history
            .request_cancel(ns.id(), &req)
            .await
            .map_err(errors::history)?;
        Ok(RequestCancelWorkflowExecutionResponse::default())
    }
}
