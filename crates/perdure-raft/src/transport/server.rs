//! The receiving side of the Raft transport: decode, hand to the group's openraft instance,
//! encode its answer (an openraft error is part of the answer, not a gRPC failure).

use perdure_api::internal::{RaftKind, RaftReply, RaftRequest};
use perdure_storage::GroupId;
use tonic::Status;

use super::codec::{self, RAFT_FORMAT};
use crate::RaftNode;

impl RaftNode {
    /// Serves one incoming `Internal.Raft` call. The caller (the internal gRPC service) has
    /// already checked the cluster secret.
    pub async fn serve_raft(&self, req: RaftRequest) -> Result<RaftReply, Status> {
        let group = self
            .group(GroupId(req.group))
            .ok_or_else(|| Status::not_found(format!("node runs no group {}", req.group)))?;
        let raft = group.raft();
        let bad = |e: codec::CodecError| Status::invalid_argument(e.to_string());
        let payload = match RaftKind::try_from(req.kind) {
            Ok(RaftKind::AppendEntries) => {
                let rpc = codec::decode(req.format, &req.payload).map_err(bad)?;
                codec::encode(&raft.append_entries(rpc).await)
            }
            Ok(RaftKind::Vote) => {
                let rpc = codec::decode(req.format, &req.payload).map_err(bad)?;
                codec::encode(&raft.vote(rpc).await)
            }
            Ok(RaftKind::InstallSnapshot) => {
                let rpc = codec::decode(req.format, &req.payload).map_err(bad)?;
                codec::encode(&raft.install_snapshot(rpc).await)
            }
            _ => {
                return Err(Status::invalid_argument(format!(
                    "unknown raft kind {}",
                    req.kind
                )))
            }
        };
        Ok(RaftReply {
            format: RAFT_FORMAT,
            payload,
        })
    }
}
