//! The node registry, replicated in the meta group (group 0): one record per node id that ever
//! joined the cluster, with the data directory it joined with and whether it was removed.
//!
//! It exists for Raft's safety. A node's votes and log live in its data directory; a node that
//! lost the directory and came back under the same id would vote with a forgotten term and log,
//! which can elect two leaders in one term or lose a committed entry. So an id is bound to one
//! data directory (`data_id`, chosen when the directory is created), and a removed id never
//! comes back. Reads come from this node's applied state; writes go through the meta group's
//! leader with preconditions, so two racing registrations cannot both win.

use std::collections::BTreeMap;

use perdure_raft::{Group, ProposeError};
use perdure_storage::{keys, ApplyOutcome, Cf, Check, Expect, Op, StorageError, Store, WriteBatch};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node's internal (Raft and forwarding) address.
    pub addr: String,
    /// Identifies the data directory the node registered with.
    pub data_id: u64,
    pub removed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("undecodable node record for node {node}: {source}")]
    Decode { node: u64, source: bincode::Error },
    #[error(transparent)]
    Propose(#[from] ProposeError),
    #[error(
        "node {0} was removed from the cluster, and node ids are never reused: \
         start this node with a new --node-id"
    )]
    Removed(u64),
    #[error(
        "node {0} is already a member with another data directory (did it lose its disk?). \
         A node must not come back under its old id with an empty disk: run \
         `perdure cluster remove {0}`, then start it with a new --node-id and --join"
    )]
    OtherDataDir(u64),
    #[error("the registry changed while node {0} was being written; retry")]
    Raced(u64),
}

/// The registry as this node has applied it.
pub fn list(store: &Store) -> Result<BTreeMap<u64, NodeRecord>, RegistryError> {
    let rows = store.scan_prefix(Cf::Cluster, &keys::cluster_node_prefix(), None, usize::MAX)?;
    rows.into_iter()
        .filter_map(|(k, v)| keys::decode_cluster_node(&k).map(|id| (id, v)))
        .map(|(id, v)| {
            bincode::deserialize(&v)
                .map(|r| (id, r))
                .map_err(|source| RegistryError::Decode { node: id, source })
        })
        .collect()
}

pub fn get(store: &Store, id: u64) -> Result<Option<NodeRecord>, RegistryError> {
    store
        .get(Cf::Cluster, &keys::cluster_node(id))?
        .map(|v| {
            bincode::deserialize(&v).map_err(|source| RegistryError::Decode { node: id, source })
        })
        .transpose()
}

/// The cluster's id, once the first meta leader has chosen it.
pub fn cluster_id(store: &Store) -> Result<Option<u64>, RegistryError> {
    Ok(store
        .get(Cf::Cluster, &keys::cluster_id())?
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map(u64::from_be_bytes))
}

/// On a single node (`start-dev`), which runs no controller: chooses the cluster's id once, in
/// the meta group, so it is the same after every restart. Returns the recorded id.
pub async fn ensure_cluster_id(store: &Store, meta: &Group) -> Result<u64, RegistryError> {
    if let Some(id) = cluster_id(store)? {
        return Ok(id);
    }
    choose_cluster_id(store, meta, crate::controller::random_id()).await?;
    // The proposal was applied here (this node leads), or lost to an earlier one: read back.
    Ok(cluster_id(store)?.unwrap_or_default())
}

/// On the meta leader: records `id` as the cluster's id unless one is recorded already.
pub async fn choose_cluster_id(store: &Store, meta: &Group, id: u64) -> Result<(), RegistryError> {
    if cluster_id(store)?.is_some() {
        return Ok(());
    }
    let key = keys::cluster_id();
    let batch = WriteBatch {
        checks: vec![Check {
            cf: Cf::Cluster,
            key: key.clone(),
            expect: Expect::Absent,
        }],
        ops: vec![Op::Put {
            cf: Cf::Cluster,
            key,
            value: id.to_be_bytes().to_vec(),
        }],
    };
    // Rejected means another leader chose first: that id stands.
    meta.propose(batch).await?;
    Ok(())
}

fn encode(r: &NodeRecord) -> Vec<u8> {
    // A struct of a string, an integer and a bool always encodes.
    bincode::serialize(r).unwrap_or_default()
}

/// Writes `next` for `id` if the record is still `prev` (absent when `None`).
async fn swap(
    meta: &Group,
    id: u64,
    prev: Option<&NodeRecord>,
    next: &NodeRecord,
) -> Result<(), RegistryError> {
    let key = keys::cluster_node(id);
    let batch = WriteBatch {
        checks: vec![Check {
            cf: Cf::Cluster,
            key: key.clone(),
            expect: match prev {
                None => Expect::Absent,
                Some(p) => Expect::Equals(encode(p)),
            },
        }],
        ops: vec![Op::Put {
            cf: Cf::Cluster,
            key,
            value: encode(next),
        }],
    };
    match meta.propose(batch).await? {
        ApplyOutcome::Applied => Ok(()),
        ApplyOutcome::Rejected { .. } => Err(RegistryError::Raced(id)),
    }
}

/// On the meta leader, after a read barrier: records node `id` as active at `addr` with
/// `data_id`. Idempotent for the same data directory (a changed address is updated); refused
/// for a removed id or another data directory.
pub async fn register(
    store: &Store,
    meta: &Group,
    id: u64,
    addr: &str,
    data_id: u64,
) -> Result<(), RegistryError> {
    let prev = get(store, id)?;
    let next = NodeRecord {
        addr: addr.to_string(),
        data_id,
        removed: false,
    };
    match &prev {
        Some(r) if r.removed => Err(RegistryError::Removed(id)),
        Some(r) if r.data_id != data_id => Err(RegistryError::OtherDataDir(id)),
        Some(r) if *r == next => Ok(()),
        _ => swap(meta, id, prev.as_ref(), &next).await,
    }
}

/// On the meta leader, after a read barrier: marks node `id` removed (for good). `addr` is
/// recorded when the node never registered (an initial peer that is being removed).
pub async fn mark_removed(
    store: &Store,
    meta: &Group,
    id: u64,
    addr: &str,
) -> Result<(), RegistryError> {
    let prev = get(store, id)?;
    let next = match &prev {
        Some(r) if r.removed => return Ok(()),
        Some(r) => NodeRecord {
            removed: true,
            ..r.clone()
        },
        None => NodeRecord {
            addr: addr.to_string(),
            data_id: 0,
            removed: true,
        },
    };
    swap(meta, id, prev.as_ref(), &next).await
}
