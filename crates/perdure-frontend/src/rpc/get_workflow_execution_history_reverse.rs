//! GetWorkflowExecutionHistoryReverse (newest event first; paging lives in history).

use temporalio_protos::temporal::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryReverseRequest, GetWorkflowExecutionHistoryReverseResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn get_workflow_execution_history_reverse(
        &self,
        req: GetWorkflowExecutionHistoryReverseRequest,
    ) -> Result<GetWorkflowExecutionHistoryReverseResponse, Status> {
        validate::execution(req.execution.as_ref())?;
        let ns = self.namespaces.get(&req.namespace)?;
        self.history
            .get_history_reverse(ns.id(), &req)
            .await
            .map_err(errors::history)
    }
}
