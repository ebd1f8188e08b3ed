//! PollWorkflowTaskQueue: long-poll matching, then record the start with the task's shard
//! leader (here or on another node). A task that history refuses (already started, gone) is
//! dropped and the poll goes on; one it could not decide on (leader change) goes back to the
//! queue. The poll reaches this node because it owns the task queue (see `routing.rs`).
//! A query waiting in the queue is handed over as it is (`query_dispatch.rs`).

use std::time::SystemTime;

use perdure_matching::{TaskKind, TaskQueueKey};
use temporalio_protos::temporal::api::workflowservice::v1::{
    PollWorkflowTaskQueueRequest, PollWorkflowTaskQueueResponse,
};
use tokio::time::Instant;
use tonic::Status;

use crate::dispatch::Work;
use crate::server::Frontend;
use crate::start_task::Started;
use crate::validate;

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
        // Shown back by DescribeTaskQueue as sent (deprecated, but SDKs still send it).
        #[allow(deprecated)]
        let poller = crate::rpc::poller_meta(req.worker_version_capabilities.as_ref(), None);
        let poll_queue = req.task_queue.clone().unwrap_or_default();
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Ok(PollWorkflowTaskQueueResponse::default());
            }
            // Noted as the poll begins and as it ends (not when the caller went away: this
            // future is dropped then), as Temporal's matching does for DescribeTaskQueue.
            let matching = self.dispatcher.matching();
            matching.record_poller(&key, &req.identity, poller.clone(), SystemTime::now());
            let polled = matching.poll(&key, wait).await;
            matching.record_poller(&key, &req.identity, poller.clone(), SystemTime::now());
            let Some(lease) = polled else {
                return Ok(PollWorkflowTaskQueueResponse::default());
            };
            let task = match &*lease {
                Work::Task(task) => task,
                Work::Query(_) => {
                    let Work::Query(query) = lease.consume() else {
                        unreachable!("matched above")
                    };
                    // A query nobody waits for any more is dropped; the poll goes on.
                    if self.dispatcher.queries.is_waiting(&query.id) {
                        return Ok(*query.response);
                    }
                    continue;
                }
            };
            let poll_id = uuid::Uuid::new_v4().to_string();
            match self
                .start_workflow_task(task, &poll_queue, &poll_id, &req.identity)
                .await?
            {
                Started::Task(mut response) => {
                    self.dispatcher.release(&lease.consume());
                    if response.workflow_type.is_none() {
                        response.workflow_type = Some(Default::default());
                    }
                    return Ok(response);
                }
                Started::Stale => self.dispatcher.release(&lease.consume()),
                Started::Poisoned => self.dispatcher.quarantine(&lease.consume()),
            }
            // An error above returned early; its lease went back to the queue when dropped.
        }
    }
}
