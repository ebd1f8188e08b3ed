//! The node-to-node service (`proto/perdure/internal/v1/internal.proto`) and the cluster-secret
//! check in front of everything served on the internal port.
//!
//! Raft calls go to the group's openraft instance, offers and queries to this node's
//! dispatcher, and RecordTaskStarted to the local history shard. Nothing here decides: each call is a hand-off.

use std::sync::Arc;

use perdure_api::internal::internal_server::Internal;
use perdure_api::internal::record_task_started_reply::Outcome;
use perdure_api::internal::{
    CrossShardReply, CrossShardRequest, DispatchQueryReply, DispatchQueryRequest, OfferTasksReply,
    OfferTasksRequest, RaftReply, RaftRequest, RecordTaskStartedReply, RecordTaskStartedRequest,
    VisibilityReply, VisibilityRequest,
};
use perdure_core::transfer_task::Kind;
use perdure_history::{CrossShardCall, HistoryError, HistoryService};
use perdure_raft::{Peers, RaftNode, SECRET_HEADER};
use prost::Message;
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use tonic::{Request, Response, Status};

use crate::dispatch::{decode_offer, Dispatcher};
use crate::errors;

pub struct InternalService {
    pub(crate) raft: Arc<RaftNode>,
    pub(crate) history: Arc<HistoryService>,
    pub(crate) dispatcher: Arc<Dispatcher>,
}

/// Refuses a call without this cluster's secret (Unauthenticated), and every call while the
/// node is isolated by the test hook (Unavailable, as a dropped packet would look).
pub fn authenticate(peers: Arc<Peers>) -> impl tonic::service::Interceptor + Clone {
    move |req: Request<()>| {
        if peers.isolation().is_isolated() {
            return Err(Status::unavailable("node isolated by test hook"));
        }
        let presented = req
            .metadata()
            .get(SECRET_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if peers.secret_matches(presented) {
            Ok(req)
        } else {
            perdure_metrics::metrics().internal_unauthenticated.inc();
            Err(Status::unauthenticated("missing or wrong cluster secret"))
        }
    }
}

#[tonic::async_trait]
impl Internal for InternalService {
    async fn raft(&self, req: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        self.raft
            .serve_raft(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn offer_tasks(
        &self,
        req: Request<OfferTasksRequest>,
    ) -> Result<Response<OfferTasksReply>, Status> {
        let mut accepted = 0;
        for offer in &req.get_ref().tasks {
            let task = decode_offer(offer)
                .map_err(|e| Status::invalid_argument(format!("undecodable task: {e}")))?;
            if self.dispatcher.accept(task) {
                accepted += 1;
            }
        }
        Ok(Response::new(OfferTasksReply { accepted }))
    }

    async fn dispatch_query(
        &self,
        req: Request<DispatchQueryRequest>,
    ) -> Result<Response<DispatchQueryReply>, Status> {
        crate::query_dispatch::serve_dispatch_query(&self.dispatcher, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn cross_shard(
        &self,
        req: Request<CrossShardRequest>,
    ) -> Result<Response<CrossShardReply>, Status> {
        let call = CrossShardCall::decode(req.get_ref().call.as_slice())
            .map_err(|e| Status::invalid_argument(format!("undecodable call: {e}")))?;
        let answer = self
            .history
            .serve_cross_shard(call)
            .await
            .map_err(errors::history)?;
        Ok(Response::new(CrossShardReply {
            answer: answer.encode_to_vec(),
        }))
    }

    async fn visibility(
        &self,
        req: Request<VisibilityRequest>,
    ) -> Result<Response<VisibilityReply>, Status> {
        let req = req.into_inner();
        if req.batches {
            let jobs = self
                .history
                .list_batches(perdure_storage::GroupId(req.shard), &req.namespace_id)
                .await
                .map_err(errors::history)?;
            return Ok(Response::new(VisibilityReply {
                batches: jobs.iter().map(|j| j.encode_to_vec()).collect(),
                ..Default::default()
            }));
        }
        if req.schedules {
            let entries = self
                .history
                .list_schedules(perdure_storage::GroupId(req.shard), &req.namespace_id)
                .await
                .map_err(errors::history)?;
            return Ok(Response::new(VisibilityReply {
                schedules: entries.iter().map(|e| e.encode_to_vec()).collect(),
                ..Default::default()
            }));
        }
        let attrs = crate::visibility::custom_from_wire(&req.custom_search_attributes);
        let query = crate::visibility::parse_query(&req.query, &attrs)?;
        let shard = perdure_storage::GroupId(req.shard);
        let ns = &req.namespace_id;
        let reply = if req.count {
            let c = self
                .history
                .count_visibility(shard, ns, &query, &attrs)
                .await
                .map_err(errors::history)?;
            VisibilityReply {
                count: c.count,
                groups: c.groups.into_iter().collect(),
                ..Default::default()
            }
        } else {
            let after = crate::visibility::decode_token(&req.after)?;
            let rows = self
                .history
                .list_visibility(
                    shard,
                    ns,
                    &query,
                    &attrs,
                    after.as_ref(),
                    req.limit as usize,
                )
                .await
                .map_err(errors::history)?;
            VisibilityReply {
                executions: rows.iter().map(|r| r.encode_to_vec()).collect(),
                ..Default::default()
            }
        };
        Ok(Response::new(reply))
    }

    async fn record_task_started(
        &self,
        req: Request<RecordTaskStartedRequest>,
    ) -> Result<Response<RecordTaskStartedReply>, Status> {
        let req = req.into_inner();
        let offer = req
            .task
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("task missing"))?;
        let task = decode_offer(offer)
            .map_err(|e| Status::invalid_argument(format!("undecodable task: {e}")))?;
        let started = match task.task.kind {
            Some(Kind::WorkflowTask(_)) => {
                let queue = TaskQueue::decode(req.poll_task_queue.as_slice())
                    .map_err(|e| Status::invalid_argument(format!("undecodable queue: {e}")))?;
                self.history
                    .record_workflow_task_started(&task, &queue, &req.poll_id, &req.identity)
                    .await
                    .map(|r| r.encode_to_vec())
            }
            Some(Kind::ActivityTask(_)) => self
                .history
                .record_activity_task_started(&task, &req.poll_id, &req.identity, &req.namespace)
                .await
                .map(|r| r.encode_to_vec()),
            _ => return Err(Status::invalid_argument("not a task for a worker")),
        };
        let outcome = match started {
            Ok(bytes) => Outcome::Started(bytes),
            Err(HistoryError::Core(e)) => Outcome::Stale(e.to_string()),
            Err(e) => return Err(errors::history(e)),
        };
        Ok(Response::new(RecordTaskStartedReply {
            outcome: Some(outcome),
        }))
    }
}
