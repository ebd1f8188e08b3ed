//! StartWorkflowExecution: validation and limits, then history decides (policies, dedup).

use temporalio_protos::temporal::api::workflowservice::v1::{
    StartWorkflowExecutionRequest, StartWorkflowExecutionResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn start_workflow_execution(
        &self,
        mut req: StartWorkflowExecutionRequest,
    ) -> Result<StartWorkflowExecutionResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        ns.require(crate::namespaces::STARTABLE)?;
        let ns_name = req.namespace.clone();
        validate_start(&mut req)?;
        self.namespaces
            .check_search_attributes(&ns, &mut req.search_attributes)?;
        let workflow_id = req.workflow_id.clone();
        let outcome = self
            .history
            .start_workflow(ns.id(), crate::retention::of(&ns), req)
            .await
            .map_err(errors::history)?;
        Ok(StartWorkflowExecutionResponse {
            link: Some(crate::links::started_event(
                &ns_name,
                &workflow_id,
                &outcome.run_id,
            )),
            run_id: outcome.run_id,
            first_execution_run_id: outcome.first_execution_run_id,
            started: outcome.started,
            status: outcome.status,
            eager_workflow_task: None,
        })
    }
}

/// What StartWorkflowExecution and SignalWithStartWorkflowExecution check of the start, in
/// Temporal's order; fills a missing request id, as Temporal does, so dedup still has a key.
pub(crate) fn validate_start(req: &mut StartWorkflowExecutionRequest) -> Result<(), Status> {
    validate::workflow_id(&req.workflow_id)?;
    validate::workflow_type(req.workflow_type.as_ref().map_or("", |t| t.name.as_str()))?;
    validate::task_queue(req.task_queue.as_ref())?;
    validate::request_id(&req.request_id)?;
    validate::identity(&req.identity)?;
    validate::blob(req.input.as_ref())?;
    validate::memo(req.memo.as_ref())?;
    validate::duration(
        req.workflow_execution_timeout.as_ref(),
        "WorkflowExecutionTimeoutSeconds",
    )?;
    validate::duration(
        req.workflow_run_timeout.as_ref(),
        "WorkflowRunTimeoutSeconds",
    )?;
    validate::duration(
        req.workflow_task_timeout.as_ref(),
        "WorkflowTaskTimeoutSeconds",
    )?;
    if req.request_id.is_empty() {
        req.request_id = uuid::Uuid::new_v4().to_string();
    }
    Ok(())
}
