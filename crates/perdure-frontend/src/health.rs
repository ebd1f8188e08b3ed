//! The node's readiness, reported by grpc.health.v1 (the CLI and the Go SDK require SERVING for
//! the WorkflowService) and by HTTP `/health`.
//!
//! A node is serving when every Raft group it runs has a known leader: it can then route every
//! call. A node cut off from the majority loses its leaders within an election timeout (its
//! groups start elections they cannot win) and reports NOT_SERVING, so load balancers stop
//! sending it clients.

use std::sync::Arc;

use perdure_api::health::health_server::Health;
use temporalio_protos::grpc::health::v1::{
    health_check_response::ServingStatus, HealthCheckRequest, HealthCheckResponse,
};
use tonic::{Request, Response, Status};

use crate::routing::Routing;

const SERVED: &[&str] = &[
    "",
    "temporal.api.workflowservice.v1.WorkflowService",
    "temporal.api.operatorservice.v1.OperatorService",
];

pub struct NodeHealth {
    routing: Arc<Routing>,
}

impl NodeHealth {
    pub(crate) fn new(routing: Arc<Routing>) -> Arc<Self> {
        Arc::new(Self { routing })
    }

    /// True when every group this node runs has a leader and the node is not isolated.
    pub fn serving(&self) -> bool {
        if self.routing.peers().isolation().is_isolated() {
            return false;
        }
        let raft = self.routing.raft();
        raft.group_ids()
            .into_iter()
            .all(|g| raft.group(g).is_some_and(|g| g.leader().is_some()))
    }
}

pub struct HealthService(pub(crate) Arc<NodeHealth>);

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let service = request.into_inner().service;
        if !SERVED.contains(&service.as_str()) {
            return Err(Status::not_found(format!("unknown service {service}")));
        }
        let status = if self.0.serving() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        Ok(Response::new(HealthCheckResponse {
            status: status as i32,
        }))
    }
}
