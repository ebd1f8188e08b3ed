//! DescribeBatchOperation: the job as its shard leader has it (state, times, counts, identity,
//! reason, query or executions), as Temporal builds it from the batch workflow.

use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeBatchOperationRequest, DescribeBatchOperationResponse,
};
use tonic::Status;

use crate::errors;
use crate::rpc::start_batch_operation::namespace_set;
use crate::server::Frontend;

impl Frontend {
    pub(crate) async fn describe_batch_operation(
        &self,
        req: DescribeBatchOperationRequest,
    ) -> Result<DescribeBatchOperationResponse, Status> {
        namespace_set(&req.namespace)?;
        if req.job_id.is_empty() {
            return Err(errors::invalid("JobId is not set on request."));
        }
        let ns = self.namespaces.get(&req.namespace)?;
        let job = self
            .history
            .describe_batch(ns.id(), &req.job_id)
            .await
            .map_err(errors::history)?;
        Ok(job.describe())
    }
}
