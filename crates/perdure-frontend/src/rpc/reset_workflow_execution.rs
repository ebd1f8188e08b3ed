//! ResetWorkflowExecution: Temporal's frontend checks (a request id is required, the
//! execution, the reapply type), then history makes the new run.

use temporalio_protos::temporal::api::enums::v1::ResetReapplyType;
use temporalio_protos::temporal::api::workflowservice::v1::{
    ResetWorkflowExecutionRequest, ResetWorkflowExecutionResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    // reset_reapply_type is deprecated but still honoured by Temporal, so it is read here.
    #[allow(deprecated)]
    pub(crate) async fn reset_workflow_execution(
        &self,
        mut req: ResetWorkflowExecutionRequest,
    ) -> Result<ResetWorkflowExecutionResponse, Status> {
        if req.request_id.is_empty() {
            return Err(Status::invalid_argument("RequestId is not set on request."));
        }
        validate::request_id(&req.request_id)?;
        validate::execution(req.workflow_execution.as_ref())?;
        if req.reset_reapply_type == ResetReapplyType::Unspecified as i32 {
            req.reset_reapply_type = ResetReapplyType::AllEligible as i32;
        }
        if ResetReapplyType::try_from(req.reset_reapply_type).is_err() {
            return Err(Status::internal(format!(
                "unknown reset reapply type: {}",
                req.reset_reapply_type
            )));
        }
        let ns = self.namespaces.get(&req.namespace)?;
        let run_id = self
            .history
            .reset_workflow(ns.id(), &req)
            .await
            .map_err(errors::history)?;
        Ok(ResetWorkflowExecutionResponse { run_id })
    }
}
