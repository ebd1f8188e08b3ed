//! GetWorkflowExecutionHistory (paging, long poll, CLOSE_EVENT filter live in history).

use temporalio_protos::temporal::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, GetWorkflowExecutionHistoryResponse,
};
use tokio::time::Instant;
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn get_workflow_execution_history(
        &self,
        req: GetWorkflowExecutionHistoryRequest,
        deadline: Instant,
    ) -> Result<GetWorkflowExecutionHistoryResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        validate::execution(req.execution.as_ref())?;
        self.history
            .get_history(ns.id(), &req, deadline)
            .await
            .map_err(errors::history)
    }
}
