//! openraft's network for one group: each RPC becomes an `Internal.Raft` call to the target's
//! internal address (the `addr` of its [`BasicNode`] in the group's membership).

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use perdure_api::internal::internal_client::InternalClient;
use perdure_api::internal::{RaftKind, RaftRequest};
use perdure_storage::GroupId;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::{self, RAFT_FORMAT};
use super::Peers;
use crate::TypeConfig;

/// Largest Raft message either side accepts: an AppendEntries of many history batches.
pub(crate) const MAX_RAFT_MESSAGE: usize = 256 * 1024 * 1024;

/// Builds clients of one group.
#[derive(Clone)]
pub struct Network {
    pub(crate) peers: Arc<Peers>,
    pub(crate) group: GroupId,
}

pub struct Client {
    peers: Arc<Peers>,
    group: GroupId,
    target: u64,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Client;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Client {
        Client {
            peers: self.peers.clone(),
            group: self.group,
            target,
            addr: node.addr.clone(),
        }
    }
}

/// A failed call: the peer could not be reached, or answered something unusable.
#[derive(Debug, thiserror::Error)]
#[error("raft rpc to node {target} ({addr}) for group {group}: {detail}")]
struct CallFailed {
    target: u64,
    addr: String,
    group: GroupId,
    detail: String,
}

impl Client {
    async fn call<Req, Resp, E>(
        &self,
        kind: RaftKind,
        req: &Req,
        ttl: Duration,
    ) -> Result<Resp, RPCError<u64, BasicNode, RaftError<u64, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let fail = |detail: String| CallFailed {
            target: self.target,
            addr: self.addr.clone(),
            group: self.group,
            detail,
        };
        let channel = self
            .peers
            .channel(&self.addr)
            .map_err(|s| RPCError::Unreachable(Unreachable::new(&fail(s.message().into()))))?;
        let mut client = InternalClient::new(channel)
            .max_decoding_message_size(MAX_RAFT_MESSAGE)
            .max_encoding_message_size(MAX_RAFT_MESSAGE);
        let mut request = self.peers.request(RaftRequest {
            group: self.group.0,
            kind: kind as i32,
            format: RAFT_FORMAT,
            payload: codec::encode(req),
        });
        request.set_timeout(ttl);
        let reply = match tokio::time::timeout(ttl, client.raft(request)).await {
            Ok(Ok(reply)) => reply.into_inner(),
            Ok(Err(status)) => {
                let e = fail(format!("{:?}: {}", status.code(), status.message()));
                return Err(match status.code() {
                    tonic::Code::Unavailable | tonic::Code::Unauthenticated => {
                        RPCError::Unreachable(Unreachable::new(&e))
                    }
                    _ => RPCError::Network(NetworkError::new(&e)),
                });
            }
            Err(_) => {
                return Err(RPCError::Network(NetworkError::new(&fail(format!(
                    "no answer within {ttl:?}"
                )))))
            }
        };
        let result: Result<Resp, RaftError<u64, E>> =
            codec::decode(reply.format, &reply.payload)
                .map_err(|e| RPCError::Network(NetworkError::new(&fail(e.to_string()))))?;
        result.map_err(|e| RPCError::RemoteError(openraft::error::RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Client {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call(RaftKind::AppendEntries, &rpc, option.hard_ttl())
            .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        self.call(RaftKind::InstallSnapshot, &rpc, option.hard_ttl())
            .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call(RaftKind::Vote, &rpc, option.hard_ttl()).await
    }
}
