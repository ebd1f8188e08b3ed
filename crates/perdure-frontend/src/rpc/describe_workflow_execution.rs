//! DescribeWorkflowExecution.

use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn describe_workflow_execution(
        &self,
        req: DescribeWorkflowExecutionRequest,
    ) -> Result<DescribeWorkflowExecutionResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        let execution = validate::execution(req.execution.as_ref())?;
        self.history
            .describe(ns.id(), execution)
            .await
            .map_err(errors::history)
    }
}
