//! RespondWorkflowTaskCompleted and RespondWorkflowTaskFailed.

use temporalio_protos::temporal::api::workflowservice::v1::{
    RespondWorkflowTaskCompletedRequest, RespondWorkflowTaskCompletedResponse,
    RespondWorkflowTaskFailedRequest, RespondWorkflowTaskFailedResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn respond_workflow_task_completed(
        &self,
        mut req: RespondWorkflowTaskCompletedRequest,
    ) -> Result<RespondWorkflowTaskCompletedResponse, Status> {
        let (token, ns) = self.token_in(&req.task_token, &req.namespace)?;
        validate::identity(&req.identity)?;
        for result in req.query_results.values_mut() {
            validate::fit_query_answer(result);
        }
        if !token.is_workflow() {
            return Err(errors::invalid("Task token is not for a workflow task."));
        }
        let bad = self
            .namespaces
            .check_command_search_attributes(&ns, &mut req.commands)?;
        self.history
            .respond_workflow_task_completed_checked(&token, &req, &bad)
            .await
            .map_err(errors::history)
    }

    pub(crate) async fn respond_workflow_task_failed(
        &self,
        mut req: RespondWorkflowTaskFailedRequest,
    ) -> Result<RespondWorkflowTaskFailedResponse, Status> {
        let (token, _) = self.token_in(&req.task_token, &req.namespace)?;
        validate::identity(&req.identity)?;
        if let Some(replacement) = validate::replace_oversized_failure(req.failure.as_ref()) {
            // Temporal records the task failure anyway, with a failure that fits.
            req.failure = Some(replacement);
        }
        if !token.is_workflow() {
            return Err(errors::invalid("Task token is not for a workflow task."));
        }
        self.history
            .respond_workflow_task_failed(&token, &req)
            .await
            .map_err(errors::history)?;
        Ok(RespondWorkflowTaskFailedResponse::default())
    }
}
