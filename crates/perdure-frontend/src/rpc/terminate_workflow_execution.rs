//! TerminateWorkflowExecution. A request without a reason or an identity gets Temporal's
//! defaults, which tell a user's terminate from the system's.

use temporalio_protos::temporal::api::workflowservice::v1::{
    TerminateWorkflowExecutionRequest, TerminateWorkflowExecutionResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

/// The reason Temporal's frontend records when the caller gave none.
const DEFAULT_TERMINATE_REASON: &str = "terminated by user via frontend";
/// The identity Temporal's frontend records when the caller gave none.
const DEFAULT_TERMINATE_IDENTITY: &str = "frontend-service";

impl Frontend {
    pub(crate) async fn terminate_workflow_execution(
        &self,
        mut req: TerminateWorkflowExecutionRequest,
    ) -> Result<TerminateWorkflowExecutionResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        validate::execution(req.workflow_execution.as_ref())?;
        validate::identity(&req.identity)?;
        validate::blob(req.details.as_ref())?;
        if req.reason.is_empty() {
            req.reason = DEFAULT_TERMINATE_REASON.to_string();
        }
        if req.identity.is_empty() {
            req.identity = DEFAULT_TERMINATE_IDENTITY.to_string();
        }
        self.history
            .terminate(ns.id(), &req)
            .await
            .map_err(errors::history)?;
        Ok(TerminateWorkflowExecutionResponse::default())
    }
}
