//! ListClosedWorkflowExecutions (legacy filters): closed runs that closed within a time window,
//! of one workflow id, type or close status, latest close first. Answered as the List its
//! filter means (`visibility::LegacyFilter`), so its page tokens are List's.

use perdure_visibility::ExecutionStatus;
use temporalio_protos::temporal::api::workflowservice::v1::{
    list_closed_workflow_executions_request::Filters, ListClosedWorkflowExecutionsRequest,
    ListClosedWorkflowExecutionsResponse,
};
use tonic::Status;

use super::list_open_workflow_executions::time_window;
use crate::errors;
use crate::server::Frontend;
use crate::visibility::LegacyFilter;

impl Frontend {
    pub(crate) async fn list_closed_workflow_executions(
        &self,
        req: ListClosedWorkflowExecutionsRequest,
    ) -> Result<ListClosedWorkflowExecutionsResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        let (earliest, latest) = time_window(req.start_time_filter.as_ref())?;
        let status = match &req.filters {
            Some(Filters::StatusFilter(f)) => match ExecutionStatus::from_number(f.status as i64) {
                Some(s) if s != ExecutionStatus::Running && s != ExecutionStatus::Unspecified => {
                    Some(s)
                }
                _ => {
                    return Err(errors::invalid(
                        "StatusFilter must be specified and must be not Running.",
                    ))
                }
            },
            _ => None,
        };
        let filter = LegacyFilter {
            closed: true,
            earliest,
            latest,
            workflow_id: match &req.filters {
                Some(Filters::ExecutionFilter(f)) => Some(&f.workflow_id),
                _ => None,
            },
            workflow_type: match &req.filters {
                Some(Filters::TypeFilter(f)) => Some(&f.name),
                _ => None,
            },
            status,
        };
        let text = filter.to_query();
        let (executions, next_page_token) = self
            .list_by_filter(ns.id(), &text, &req.next_page_token, req.maximum_page_size)
            .await?;
        Ok(ListClosedWorkflowExecutionsResponse {
            executions,
            next_page_token,
        })
    }
}
