//! ShutdownWorker: a stopping worker gives up its sticky queue. As Temporal unloads that queue,
//! the partition is forgotten, so later sticky dispatches for the worker's runs fall back to the
//! normal queue at once (see `perdure_matching::Matching::add_sticky`).
//!
//! Tasks already waiting on the queue are not moved: as in Temporal, each one's sticky
//! schedule-to-start timer reschedules it on the normal queue (WorkflowTaskTimedOut, then a new
//! WorkflowTaskScheduled). Their dispatch rows are deleted here so they are not dispatched to the
//! dead queue again after a restart; the durable timer is what carries them on.

use perdure_matching::{TaskKind, TaskQueueKey};
use temporalio_protos::temporal::api::workflowservice::v1::{
    ShutdownWorkerRequest, ShutdownWorkerResponse,
};
use tonic::Status;

use crate::dispatch::Work;
use crate::server::Frontend;

impl Frontend {
    /// A sticky queue lives on whichever node owns its normal queue, which the request does not
    /// name: every other node is told too (each drains only what it holds).
    pub(crate) async fn broadcast_shutdown_worker(&self, req: &ShutdownWorkerRequest) {
        if !self.forwards || req.sticky_task_queue.is_empty() {
            return;
        }
        for (node, addr) in self.routing.other_nodes() {
            let incoming = tonic::Request::new(req.clone());
            let sent = self
                .forward(
                    perdure_storage::GroupId::META,
                    &addr,
                    incoming,
                    |mut c, r| async move { c.shutdown_worker(r).await },
                )
                .await;
            if let crate::forward::Forwarded::Answer(Err(e)) = sent {
                tracing::debug!(node, error = %e, "ShutdownWorker not relayed");
            }
        }
    }

    pub(crate) async fn shutdown_worker(
        &self,
        req: ShutdownWorkerRequest,
    ) -> Result<ShutdownWorkerResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        if req.sticky_task_queue.is_empty() {
            return Ok(ShutdownWorkerResponse::default());
        }
        let sticky = TaskQueueKey::new(ns.id(), &req.sticky_task_queue, TaskKind::Workflow);
        for work in self.dispatcher.matching().drain(&sticky) {
            // A query waiting here is dropped; its caller asks the normal queue next.
            self.dispatcher.release(&work);
            let Work::Task(task) = work else { continue };
            if let Err(e) = self.history.discard_dispatch(&task).await {
                // Harmless: a row left behind is found stale when next dispatched.
                tracing::debug!(task_id = task.task_id, error = %e, "sticky dispatch row kept");
            }
        }
        Ok(ShutdownWorkerResponse::default())
    }
}
