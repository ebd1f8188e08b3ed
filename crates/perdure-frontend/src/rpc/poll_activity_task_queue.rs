//! PollActivityTaskQueue: long-poll matching, then record the attempt's start with history.

use perdure_matching::{TaskKind, TaskQueueKey};
use temporalio_protos::temporal::api::workflowservice::v1::{
    PollActivityTaskQueueRequest, PollActivityTaskQueueResponse,
};
use tokio::time::Instant;
use tonic::Status;

use crate::dispatch::Work;
use crate::server::Frontend;
use crate::start_task::Started;
use crate::validate;

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
            let Some(lease) = self.dispatcher.matching().poll(&key, wait).await else {
                return Ok(PollActivityTaskQueueResponse::default());
            };
            let Work::Task(task) = &*lease else {
                // Queries only ever go to workflow queues.
                self.dispatcher.release(&lease.consume());
                continue;
            };
            let poll_id = uuid::Uuid::new_v4().to_string();
            match self
                .start_activity_task(task, ns.name(), &poll_id, &req.identity)
                .await?
            {
                Started::Task(response) => {
                    self.dispatcher.release(&lease.consume());
                    return Ok(response);
                }
                Started::Stale => self.dispatcher.release(&lease.consume()),
                Started::Poisoned => self.dispatcher.quarantine(&lease.consume()),
            }
        }
    }
}
