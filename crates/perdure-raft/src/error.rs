//! Errors returned to callers of [`RaftNode`](crate::RaftNode) and [`Group`](crate::Group).
//!
//! openraft's own error types are wrapped, not flattened to strings, so callers can still
//! inspect them.

use openraft::error::{ClientWriteError, Fatal, InitializeError};
use openraft::BasicNode;
use perdure_storage::{GroupId, StorageError};

type OrRaftError<E> = openraft::error::RaftError<u64, E>;

/// Failures opening, bootstrapping or running a node's Raft groups.
#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("invalid raft config: {0}")]
    Config(#[from] openraft::ConfigError),
    #[error("raft stopped: {0}")]
    Fatal(#[from] Fatal<u64>),
    #[error("initializing group {group}: {source}")]
    Initialize {
        group: GroupId,
        source: OrRaftError<InitializeError<u64, BasicNode>>,
    },
    #[error(transparent)]
    ClientWrite(ClientWriteError<u64, BasicNode>),
    #[error("decoding {what}: {source}")]
    Decode {
        what: &'static str,
        source: bincode::Error,
    },
}

/// Why a proposal was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// Another node leads the group (or nobody does yet); retry there or later.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<u64> },
    /// The proposal (or read barrier) did not complete in time, typically because the leader
    /// cannot reach a quorum. A proposal's outcome is unknown: it may still commit.
    #[error("group {group}: no quorum answered within {after:?}")]
    Timeout {
        group: GroupId,
        after: std::time::Duration,
    },
    /// The group is shutting down.
    #[error("raft group shut down")]
    Shutdown,
    /// Anything else, including a batch that writes outside its group
    /// (`RaftError::Storage(StorageError::ForeignKey { .. })`), which is a bug in the proposer.
    #[error(transparent)]
    Fatal(#[from] RaftError),
}

impl From<OrRaftError<ClientWriteError<u64, BasicNode>>> for ProposeError {
    /// A write or membership change that openraft refused: not the leader, stopped, or broken.
    fn from(e: OrRaftError<ClientWriteError<u64, BasicNode>>) -> Self {
        match e {
            OrRaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
                ProposeError::NotLeader {
                    leader: f.leader_id,
                }
            }
            OrRaftError::APIError(e) => RaftError::ClientWrite(e).into(),
            OrRaftError::Fatal(Fatal::Stopped) => ProposeError::Shutdown,
            OrRaftError::Fatal(f) => RaftError::Fatal(f).into(),
        }
    }
}
