//! PollActivityTaskQueue: long-poll matching, then record the attempt's start with history.

use perdure_matching::{TaskKind, TaskQueueKey};
use temporalio_protos::temporal::api::workflowservice::v1::{
    PollActivityTaskQueueRequest, PollActivityTaskQueueResponse,
};
use tokio::time::Instant;
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn poll_activity_task_queue(
        &self,
        req: PollActivityTaskQueueRequest,
        deadline: Instant,
    ) -> Result<PollActivityTaskQueueResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        let queue = validate::task_queue(req.task_queue.as_ref())?;
        validate::identity(&req.identity)?;
        let key = TaskQueueKey::new(ns.id(), queue, TaskKind::Activity);
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Ok(PollActivityTaskQueueResponse::default());
            }
            let Some(lease) = self.matching.poll(&key, wait).await else {
                return Ok(PollActivityTaskQueueResponse::default());
            };
            let poll_id = uuid::Uuid::new_v4().to_string();
            match self
                .history
                .record_activity_task_started(&lease, &poll_id, &req.identity, ns.name())
                .await
            {
                Ok(response) => {
                    lease.consume();
                    return Ok(response);
                }
                Err(perdure_history::HistoryError::Core(e)) => {
                    tracing::debug!(error = %e, "dropping stale activity task");
                    lease.consume();
                }
                Err(e) => return Err(errors::history(e)),
            }
        }
    }
}
