//! ShutdownWorker: a courtesy call from a stopping worker. Without sticky queues there is
//! nothing to hand back, so it only succeeds.

use temporalio_protos::temporal::api::workflowservice::v1::{
    ShutdownWorkerRequest, ShutdownWorkerResponse,
};
use tonic::Status;

use crate::server::Frontend;

impl Frontend {
    pub(crate) fn shutdown_worker(
        &self,
        req: ShutdownWorkerRequest,
    ) -> Result<ShutdownWorkerResponse, Status> {
        self.namespaces.get(&req.namespace)?;
        Ok(ShutdownWorkerResponse::default())
    }
}
