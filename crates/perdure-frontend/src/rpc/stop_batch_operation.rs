//! StopBatchOperation: Temporal terminates the batch workflow; here the job's record is closed
//! as FAILED on its shard leader, after which its driver carries out nothing more.

use temporalio_protos::temporal::api::workflowservice::v1::{
    StopBatchOperationRequest, StopBatchOperationResponse,
};
use tonic::Status;

use crate::rpc::start_batch_operation::namespace_set;
use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn stop_batch_operation(
        &self,
        req: StopBatchOperationRequest,
    ) -> Result<StopBatchOperationResponse, Status> {
        namespace_set(&req.namespace)?;
        if req.job_id.is_empty() {
            return Err(errors::invalid("JobId is not set on request."));
        }
        if req.reason.is_empty() {
            return Err(errors::invalid("Reason is not set on request."));
        }
        if req.reason.len() > perdure_batch::validate::MAX_TEXT_BYTES {
            return Err(errors::invalid(format!(
                "Reason is too long: {} bytes, at most {}.",
                req.reason.len(),
                perdure_batch::validate::MAX_TEXT_BYTES
            )));
        }
        validate::identity(&req.identity)?;
        let ns = self.namespaces.get(&req.namespace)?;
        self.history
            .stop_batch(ns.id(), &req.job_id, &req.reason)
            .await
            .map_err(errors::history)?;
        Ok(StopBatchOperationResponse {})
    }
}
