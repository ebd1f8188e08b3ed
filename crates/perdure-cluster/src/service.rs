//! The `Cluster` gRPC service on the internal port. Before a node has opened its Raft groups it
//! serves only Hello (answering "fresh"); afterwards every call goes to the [`Controller`].

use std::sync::Arc;

use perdure_api::internal::cluster_server::Cluster;
use perdure_api::internal::{
    ChangeGroupReply, ChangeGroupRequest, HelloReply, HelloRequest, JoinReply, JoinRequest,
    NodeState, RemoveReply, RemoveRequest,
};
use tonic::{Request, Response, Status};

use crate::controller::{Controller, HOP_HEADER};

pub enum ClusterService {
    /// A node still deciding whether it may start (see `admission.rs`).
    Fresh {
        node_id: u64,
    },
    Running(Arc<Controller>),
}

impl ClusterService {
    fn controller(&self) -> Result<&Arc<Controller>, Status> {
        match self {
            ClusterService::Running(c) => Ok(c),
            ClusterService::Fresh { .. } => Err(Status::unavailable("node is still starting")),
        }
    }
}

fn forwarded<T>(req: &Request<T>) -> bool {
    req.metadata().contains_key(HOP_HEADER)
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let caller = req.into_inner().node_id;
        match self {
            ClusterService::Fresh { node_id } => Ok(Response::new(HelloReply {
                node_id: *node_id,
                fresh: true,
                shards: 0,
                caller_state: NodeState::Unknown as i32,
                cluster_id: 0,
            })),
            ClusterService::Running(c) => c.hello(caller).map(Response::new),
        }
    }

    async fn join(&self, req: Request<JoinRequest>) -> Result<Response<JoinReply>, Status> {
        let hop = forwarded(&req);
        self.controller()?.join(req.into_inner(), hop).await?;
        Ok(Response::new(JoinReply {}))
    }

    async fn remove(&self, req: Request<RemoveRequest>) -> Result<Response<RemoveReply>, Status> {
        let hop = forwarded(&req);
        self.controller()?.remove(req.into_inner(), hop).await?;
        Ok(Response::new(RemoveReply {}))
    }

    async fn change_group(
        &self,
        req: Request<ChangeGroupRequest>,
    ) -> Result<Response<ChangeGroupReply>, Status> {
        self.controller()?.change_group(req.into_inner()).await?;
        Ok(Response::new(ChangeGroupReply {}))
    }
}
