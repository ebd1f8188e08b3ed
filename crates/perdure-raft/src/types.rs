//! The openraft type configuration and the records this crate persists besides log entries.
//!
//! Everything here is serialized with bincode into checksummed values; changing a field changes
//! the on-disk format.

use openraft::{BasicNode, LogId, StoredMembership};
use perdure_storage::{ApplyOutcome, WriteBatch};
use serde::{Deserialize, Serialize};

openraft::declare_raft_types!(
    /// Raft types of every Perdure group: entries carry a storage [`WriteBatch`] and answer an
    /// [`ApplyOutcome`].
    pub TypeConfig:
        D = WriteBatch,
        R = ApplyOutcome,
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = openraft::TokioRuntime,
);

pub(crate) type Entry = openraft::Entry<TypeConfig>;
pub(crate) type NodeLogId = LogId<u64>;
pub(crate) type Membership = StoredMembership<u64, BasicNode>;
pub(crate) type SnapshotMeta = openraft::SnapshotMeta<u64, BasicNode>;
pub(crate) type OrStorageError = openraft::StorageError<u64>;

/// Written to `SmMeta` in the same RocksDB write as every applied entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AppliedRecord {
    pub last_applied: Option<NodeLogId>,
    pub membership: Membership,
}

/// Names the group's current snapshot file, kept in `SmMeta`: small, whatever the group's size.
/// `len` and `crc32` let a reader tell the file is the one recorded without reading it whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SnapshotRecord {
    pub meta: SnapshotMeta,
    /// File name inside the group's snapshot directory.
    pub file: String,
    pub len: u64,
    pub crc32: u32,
}
