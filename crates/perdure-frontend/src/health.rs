//! The node's readiness, reported by grpc.health.v1 (the CLI and the Go SDK require SERVING for
//! the WorkflowService) and by HTTP `/health`.
//!
//! A node is serving when every Raft group it runs has a known leader, and a quorum has lately
//! confirmed each leadership the node holds itself: it can then route every call. A node cut
//! off from the majority reports NOT_SERVING within seconds, so load balancers stop sending it
//! clients: its follower groups lose their leader at the next election timeout (they campaign
//! and cannot win), and the groups it leads stop being confirmed by the probe below. (An
//! openraft 0.9 leader does not step down when it loses its quorum, and its metrics are only
//! republished on change, so "this node leads" alone would stay true forever.)
//!
//! The probe only reads; it never moves leadership.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use perdure_storage::GroupId;

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

/// How often the probe asks a quorum to confirm each leadership this node holds.
const PROBE_EVERY: Duration = Duration::from_millis(500);
/// How long one confirmation may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// A leadership confirmed longer ago than this no longer counts as serving.
const CONFIRMED_FOR: Duration = Duration::from_secs(2);

pub struct NodeHealth {
    routing: Arc<Routing>,
    /// Set once the cluster says this node was removed: it serves nothing from then on.
    removed: std::sync::atomic::AtomicBool,
    /// Per group: when a quorum last confirmed this node's leadership.
    confirmed: Mutex<HashMap<GroupId, Instant>>,
}

impl NodeHealth {
    pub(crate) fn new(routing: Arc<Routing>) -> Arc<Self> {
        Arc::new(Self {
            routing,
            removed: std::sync::atomic::AtomicBool::new(false),
            confirmed: Mutex::new(HashMap::new()),
        })
    }

    /// True when this node is a member of the meta group, every group it runs has a leader,
    /// and every group this node leads
    /// with other voters had that leadership confirmed by a quorum within [`CONFIRMED_FOR`].
    /// A group whose only voter is this node (start-dev) needs no confirmation.
    pub fn serving(&self) -> bool {
        if self.removed.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        let raft = self.routing.raft();
        // A node that was removed (or has not been added yet) routes nothing.
        let member = raft
            .group(perdure_storage::GroupId::META)
            .is_some_and(|meta| meta.members().contains(raft.node_id()));
        if !member {
            return false;
        }
        let confirmed = self.confirmed.lock().unwrap_or_else(|e| e.into_inner());
        raft.group_ids().into_iter().all(|id| {
            let Some(g) = raft.group(id) else {
                return false;
            };
            if g.leader().is_none() {
                return false;
            }
            if !g.is_leader() || g.voter_count() <= 1 {
                return true;
            }
            confirmed
                .get(&id)
                .is_some_and(|at| at.elapsed() <= CONFIRMED_FOR)
        })
    }

    /// Records that the cluster removed this node; it reports NOT_SERVING until it stops.
    pub fn mark_removed(&self) {
        self.removed
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Confirms every leadership this node holds in a multi-voter group, every
    /// [`PROBE_EVERY`], until `stop` resolves. Cluster nodes run this; without it, they never
    /// report serving.
    pub async fn probe(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(PROBE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tick.tick() => {}
            }
            let raft = self.routing.raft();
            let led: Vec<_> = raft
                .group_ids()
                .into_iter()
                .filter_map(|id| raft.group(id))
                .filter(|g| g.is_leader() && g.voter_count() > 1)
                .collect();
            let mut checks = tokio::task::JoinSet::new();
            for g in led {
                checks.spawn(async move {
                    let ok = tokio::time::timeout(PROBE_TIMEOUT, g.read_barrier())
                        .await
                        .is_ok_and(|r| r.is_ok());
                    (g.id(), ok)
                });
            }
            while let Some(done) = checks.join_next().await {
                if let Ok((id, true)) = done {
                    let mut confirmed = self.confirmed.lock().unwrap_or_else(|e| e.into_inner());
                    confirmed.insert(id, Instant::now());
                }
            }
        }
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
