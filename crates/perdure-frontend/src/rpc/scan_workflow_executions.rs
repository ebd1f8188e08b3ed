//! ScanWorkflowExecutions: Temporal's SQL visibility stores (the dev server's) answer it as a
//! ListWorkflowExecutions, and so does Perdure.

use temporalio_protos::temporal::api::workflowservice::v1::{
    ListWorkflowExecutionsRequest, ScanWorkflowExecutionsRequest, ScanWorkflowExecutionsResponse,
};
use tonic::Status;

use crate::server::Frontend;

impl Frontend {
    pub(crate) async fn scan_workflow_executions(
        &self,
        req: ScanWorkflowExecutionsRequest,
    ) -> Result<ScanWorkflowExecutionsResponse, Status> {
        let listed = self
            .list_workflow_executions(ListWorkflowExecutionsRequest {
                namespace: req.namespace,
                page_size: req.page_size,
                next_page_token: req.next_page_token,
                query: req.query,
            })
            .await?;
        Ok(ScanWorkflowExecutionsResponse {
            executions: listed.executions,
            next_page_token: listed.next_page_token,
        })
    }
}
