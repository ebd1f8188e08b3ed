//! PollWorkflowTaskQueue: long-poll matching, then record the start with history. A task that
//! history refuses (already started, gone) is dropped and the poll goes on; one it could not
//! decide on (leader change) goes back to the queue.

use perdure_matching::{TaskKind, TaskQueueKey};
use temporalio_protos::temporal::api::workflowservice::v1::{
    PollWorkflowTaskQueueRequest, PollWorkflowTaskQueueResponse,
};
use tokio::time::Instant;
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn poll_workflow_task_queue(
        &self,
        req: PollWorkflowTaskQueueRequest,
        deadline: Instant,
    ) -> Result<PollWorkflowTaskQueueResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        let queue = validate::task_queue(req.task_queue.as_ref())?;
        validate::identity(&req.identity)?;
        let key = TaskQueueKey::new(ns.id(), queue, TaskKind::Workflow);
        let poll_queue = req.task_queue.clone().unwrap_or_default();
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Ok(PollWorkflowTaskQueueResponse::default());
            }
            let Some(lease) = self.matching.poll(&key, wait).await else {
                return Ok(PollWorkflowTaskQueueResponse::default());
            };
            let poll_id = uuid::Uuid::new_v4().to_string();
            match self
                .history
                .record_workflow_task_started(&lease, &poll_queue, &poll_id, &req.identity)
                .await
            {
                Ok(mut response) => {
                    lease.consume();
                    if response.workflow_type.is_none() {
                        response.workflow_type = Some(Default::default());
                    }
                    return Ok(response);
                }
                Err(perdure_history::HistoryError::Core(e)) => {
                    tracing::debug!(error = %e, "dropping stale workflow task");
                    lease.consume();
                }
                // The lease goes back to the queue when dropped here.
                Err(e) => return Err(errors::history(e)),
            }
        }
    }
}
