//! Recording the start of a task a poll took from matching, on the leader of the task's shard:
//! this node's history when it leads that shard, else the leader's, over the internal service.
//! The outcome tells the poll what to do with its lease.

use perdure_api::internal::internal_client::InternalClient;
use perdure_api::internal::record_task_started_reply::Outcome;
use perdure_api::internal::RecordTaskStartedRequest;
use perdure_history::{DispatchTask, HistoryError};
use prost::Message;
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflowservice::v1::{
    PollActivityTaskQueueResponse, PollWorkflowTaskQueueResponse,
};
use tonic::Status;

use crate::dispatch::encode_offer;
use crate::errors;
use crate::routing::Owner;
use crate::server::Frontend;

/// What became of a task a poll tried to start.
pub(crate) enum Started<T> {
    /// Started: hand it to the worker.
    Task(T),
    /// History refused it for good (already started, run gone or closed): drop it.
    Stale,
    /// Its run cannot be read (corruption): drop it and never queue it again in this process.
    Poisoned,
}

/// How the start of one task is asked for.
enum Ask<'a> {
    Workflow { poll_queue: &'a TaskQueue },
    Activity { namespace: &'a str },
}

impl Frontend {
    pub(crate) async fn start_workflow_task(
        &self,
        task: &DispatchTask,
        poll_queue: &TaskQueue,
        poll_id: &str,
        identity: &str,
    ) -> Result<Started<PollWorkflowTaskQueueResponse>, Status> {
        if self.routing.owner(task.shard)? == Owner::Local {
            let started = self
                .history
                .record_workflow_task_started(task, poll_queue, poll_id, identity)
                .await;
            return classify(started);
        }
        let ask = Ask::Workflow { poll_queue };
        decode_started(self.start_remote(task, ask, poll_id, identity).await?)
    }

    pub(crate) async fn start_activity_task(
        &self,
        task: &DispatchTask,
        namespace: &str,
        poll_id: &str,
        identity: &str,
    ) -> Result<Started<PollActivityTaskQueueResponse>, Status> {
        if self.routing.owner(task.shard)? == Owner::Local {
            let started = self
                .history
                .record_activity_task_started(task, poll_id, identity, namespace)
                .await;
            return classify(started);
        }
        let ask = Ask::Activity { namespace };
        decode_started(self.start_remote(task, ask, poll_id, identity).await?)
    }

    /// The encoded poll response from the shard's leader on another node.
    async fn start_remote(
        &self,
        task: &DispatchTask,
        ask: Ask<'_>,
        poll_id: &str,
        identity: &str,
    ) -> Result<Started<Vec<u8>>, Status> {
        let Owner::Remote { addr, .. } = self.routing.owner(task.shard)? else {
            return Err(Status::unavailable("shard leadership moved; retry"));
        };
        let (namespace, poll_task_queue) = match ask {
            Ask::Workflow { poll_queue } => (String::new(), poll_queue.encode_to_vec()),
            Ask::Activity { namespace } => (namespace.to_string(), Vec::new()),
        };
        let req = RecordTaskStartedRequest {
            task: Some(encode_offer(task)),
            namespace,
            poll_id: poll_id.to_string(),
            identity: identity.to_string(),
            poll_task_queue,
        };
        let channel = self.routing.peers().channel(&addr)?;
        let mut req = self.routing.peers().request(req);
        req.set_timeout(std::time::Duration::from_secs(15));
        match InternalClient::new(channel).record_task_started(req).await {
            Ok(reply) => match reply.into_inner().outcome {
                Some(Outcome::Started(bytes)) => Ok(Started::Task(bytes)),
                Some(Outcome::Stale(why)) => {
                    tracing::debug!(%why, "dropping stale task");
                    Ok(Started::Stale)
                }
                None => Err(Status::internal("empty RecordTaskStarted reply")),
            },
            Err(s) if s.code() == tonic::Code::DataLoss => Ok(Started::Poisoned),
            Err(s) => Err(s),
        }
    }
}

/// Decodes the poll response a remote shard leader sent.
fn decode_started<T: Message + Default>(started: Started<Vec<u8>>) -> Result<Started<T>, Status> {
    match started {
        Started::Task(bytes) => T::decode(bytes.as_slice())
            .map(Started::Task)
            .map_err(|e| Status::internal(format!("undecodable start: {e}"))),
        Started::Stale => Ok(Started::Stale),
        Started::Poisoned => Ok(Started::Poisoned),
    }
}

/// Maps a local start's outcome: refusals by the state machine mean stale, unreadable runs mean
/// poison, anything else (leadership moved, no quorum) is the poll's error and the lease goes
/// back to the queue.
fn classify<T>(started: Result<T, HistoryError>) -> Result<Started<T>, Status> {
    match started {
        Ok(r) => Ok(Started::Task(r)),
        Err(HistoryError::Core(e)) => {
            tracing::debug!(error = %e, "dropping stale task");
            Ok(Started::Stale)
        }
        Err(
            e @ (HistoryError::Storage(_)
            | HistoryError::Decode { .. }
            | HistoryError::Malformed { .. }),
        ) => {
            tracing::error!(error = %e, "task's run is unreadable");
            Ok(Started::Poisoned)
        }
        Err(e) => Err(errors::history(e)),
    }
}
