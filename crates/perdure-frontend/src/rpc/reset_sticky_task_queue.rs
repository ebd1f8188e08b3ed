//! ResetStickyTaskQueue: the worker dropped the run from its cache, so the next workflow task
//! must go to the normal queue with full history. No events; NotFound for an unknown or closed
//! run, as in Temporal.

use temporalio_protos::temporal::api::workflowservice::v1::{
    ResetStickyTaskQueueRequest, ResetStickyTaskQueueResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn reset_sticky_task_queue(
        &self,
        req: ResetStickyTaskQueueRequest,
    ) -> Result<ResetStickyTaskQueueResponse, Status> {
        let execution = validate::execution(req.execution.as_ref())?;
        let ns = self.namespaces.get(&req.namespace)?;
        self.history
            .reset_sticky_task_queue(ns.id(), execution)
            .await
            .map_err(errors::history)?;
        Ok(ResetStickyTaskQueueResponse::default())
    }
}
