//! PollActivityTaskQueue: long-poll matching, then record the attempt's start with history.

use std::time::SystemTime;

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
        // Shown back by DescribeTaskQueue as sent (deprecated, but SDKs still send it).
        #[allow(deprecated)]
        let poller = crate::rpc::poller_meta(
            req.worker_version_capabilities.as_ref(),
            req.task_queue_metadata
                .as_ref()
                .and_then(|m| m.max_tasks_per_second.as_ref())
                .copied(),
        );
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Ok(PollActivityTaskQueueResponse::default());
            }
            // Noted as the poll begins and as it ends (not when the caller went away: this
            // future is dropped then), as Temporal's matching does for DescribeTaskQueue.
            let matching = self.dispatcher.matching();
            matching.record_poller(&key, &req.identity, poller.clone(), SystemTime::now());
            let polled = matching.poll(&key, wait).await;
            matching.record_poller(&key, &req.identity, poller.clone(), SystemTime::now());
            let Some(lease) = polled else {
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
