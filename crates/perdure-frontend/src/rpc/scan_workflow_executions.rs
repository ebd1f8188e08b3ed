//! ScanWorkflowExecutions: Temporal's SQL visibility stores (the dev server's) answer it as a
//! ListWorkflowExecutions, and so does Perdure.

use temporalio_protos::temporal::api::workflowservice::v1::{
    ScanWorkflowExecutionsRequest, ScanWorkflowExecutionsResponse,
};
use tonic::Status;

use super::list_workflow_executions::page_size;
use crate::server::Frontend;
use crate::visibility;

impl Frontend {
    pub(crate) async fn scan_workflow_executions(
        &self,
        req: ScanWorkflowExecutionsRequest,
    ) -> Result<ScanWorkflowExecutionsResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        let query = visibility::parse_query(&req.query)?;
        let (executions, next_page_token) = self
            .list_visibility(
                ns.id(),
                &req.query,
                &query,
                &req.next_page_token,
                page_size(req.page_size),
            )
            .await?;
        Ok(ScanWorkflowExecutionsResponse {
            executions,
            next_page_token,
        })
    }
}
