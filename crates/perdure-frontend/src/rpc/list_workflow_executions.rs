//! ListWorkflowExecutions: one page of a namespace's runs matching a list filter, fanned out to
//! every shard and merged (`visibility.rs`). A bad filter is InvalidArgument with Temporal's
//! message and nothing is read.

use temporalio_protos::temporal::api::workflowservice::v1::{
    ListWorkflowExecutionsRequest, ListWorkflowExecutionsResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::visibility::DEFAULT_PAGE_SIZE;

/// Temporal's page size rule: zero or less asks for `frontend.visibilityMaxPageSize`.
pub(crate) fn page_size(asked: i32) -> usize {
    if asked <= 0 {
        DEFAULT_PAGE_SIZE
    } else {
        asked as usize
    }
}

impl Frontend {
    pub(crate) async fn list_workflow_executions(
        &self,
        req: ListWorkflowExecutionsRequest,
    ) -> Result<ListWorkflowExecutionsResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        let (executions, next_page_token) = self
            .list_by_filter(ns.id(), &req.query, &req.next_page_token, req.page_size)
            .await?;
        Ok(ListWorkflowExecutionsResponse {
            executions,
            next_page_token,
        })
    }
}
