//! Raft network for a single-node cluster: every peer is unreachable.
//!
//! A single-node group never sends RPCs, so this only exists to satisfy openraft. The gRPC
//! transport arrives with multi-node support and replaces this module; nothing here may grow
//! into a half transport in the meantime.

use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;

use crate::TypeConfig;

/// The error every RPC to a peer fails with until a transport exists.
#[derive(Debug, thiserror::Error)]
#[error("no raft transport: node {0} is unreachable (single-node build)")]
pub struct NoTransport(pub u64);

/// Factory of clients that cannot reach anyone.
#[derive(Clone, Debug, Default)]
pub struct UnreachableNetwork;

/// A client for `target` whose every call fails with [`Unreachable`].
#[derive(Debug)]
pub struct UnreachableClient {
    target: u64,
}

impl UnreachableClient {
    fn err<E: std::error::Error>(&self) -> RPCError<u64, BasicNode, E> {
        RPCError::Unreachable(Unreachable::new(&NoTransport(self.target)))
    }
}

impl RaftNetworkFactory<TypeConfig> for UnreachableNetwork {
    type Network = UnreachableClient;

    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> Self::Network {
        UnreachableClient { target }
    }
}

impl RaftNetwork<TypeConfig> for UnreachableClient {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        Err(self.err())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        Err(self.err())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        Err(self.err())
    }
}
