//! ShutdownWorker: a stopping worker gives up its sticky queue. Like Temporal's unload of that
//! queue, the partition is forgotten, so later sticky dispatches for the worker's runs fall back
//! to the normal queue at once (see `perdure_matching::Matching::add_sticky`). Tasks already
//! waiting on it move to the normal queue now rather than after their schedule-to-start timeout.
//!
//! A task that cannot be moved through history (leader change...) is still put on the normal
//! queue, as Temporal's StickyWorkerUnavailable path does, and is never dropped here: its durable
//! row and its schedule-to-start timer remain the backstop.

use perdure_history::DispatchTask;
use perdure_matching::{TaskKind, TaskQueueKey};
use temporalio_protos::temporal::api::workflowservice::v1::{
    ShutdownWorkerRequest, ShutdownWorkerResponse,
};
use tonic::Status;

use crate::server::Frontend;

impl Frontend {
    pub(crate) async fn shutdown_worker(
        &self,
        req: ShutdownWorkerRequest,
    ) -> Result<ShutdownWorkerResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        if req.sticky_task_queue.is_empty() {
            return Ok(ShutdownWorkerResponse::default());
        }
        let sticky = TaskQueueKey::new(ns.id(), &req.sticky_task_queue, TaskKind::Workflow);
        for task in self.matching.drain(&sticky) {
            self.move_to_normal_queue(task).await;
        }
        Ok(ShutdownWorkerResponse::default())
    }

    async fn move_to_normal_queue(&self, task: DispatchTask) {
        match self.history.move_workflow_task_to_normal_queue(&task).await {
            Ok(moved) => {
                tracing::debug!(
                    task_id = task.task_id,
                    moved,
                    "sticky task of a stopped worker"
                );
            }
            Err(e) if task.task.normal_task_queue.is_empty() => {
                tracing::warn!(
                    task_id = task.task_id,
                    error = %e,
                    "sticky task not moved; its schedule-to-start timeout will reschedule it"
                );
            }
            Err(e) => {
                tracing::debug!(task_id = task.task_id, error = %e, "sticky task re-queued as is");
                let normal = TaskQueueKey::new(
                    task.task.namespace_id.clone(),
                    task.task.normal_task_queue.clone(),
                    TaskKind::Workflow,
                );
                self.matching.add(&normal, task);
            }
        }
    }
}
