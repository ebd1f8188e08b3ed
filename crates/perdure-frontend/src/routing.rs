//! Where a call must run. Every workflow belongs to one history shard and every task queue
//! partition to the shard its name hashes to; the node that leads that shard's Raft group owns
//! it. A call that arrives at another node is forwarded there (see `forward.rs`).
//!
//! Ownership is read from this node's view of each group's leader, which may lag: a call sent to
//! a node that just lost leadership is refused there with Unavailable (never answered from stale
//! state: the shard checks its own leadership and a read index), and the SDK retries.
//! This module only answers "who"; it never moves a call itself.

use std::sync::Arc;

use perdure_raft::{Peers, RaftNode};
use perdure_storage::GroupId;
use tonic::Status;

/// How long a call waits for a group without a known leader before answering Unavailable.
pub const LEADER_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Who runs a group's calls right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    Local,
    Remote { node: u64, addr: String },
}

pub struct Routing {
    raft: Arc<RaftNode>,
    peers: Arc<Peers>,
    shards: u32,
}

impl Routing {
    pub fn new(raft: Arc<RaftNode>, peers: Arc<Peers>, shards: u32) -> Arc<Self> {
        Arc::new(Self {
            raft,
            peers,
            shards,
        })
    }

    pub fn peers(&self) -> &Arc<Peers> {
        &self.peers
    }

    pub fn raft(&self) -> &Arc<RaftNode> {
        &self.raft
    }

    pub fn node_id(&self) -> u64 {
        self.raft.node_id()
    }

    /// The owner of group `g`: Unavailable while no leader is known (an election is running,
    /// or this node is cut off), which the SDKs retry.
    pub fn owner(&self, g: GroupId) -> Result<Owner, Status> {
        let group = self
            .raft
            .group(g)
            .ok_or_else(|| Status::internal(format!("no raft group {g} on this node")))?;
        match group.leader() {
            Some((node, _)) if node == self.raft.node_id() => Ok(Owner::Local),
            Some((node, addr)) => Ok(Owner::Remote { node, addr }),
            None => Err(Status::unavailable(format!(
                "group {g} has no leader right now; retry"
            ))),
        }
    }

    /// [`Routing::owner`], waiting up to [`LEADER_WAIT`] while the group elects a leader.
    pub async fn await_owner(&self, g: GroupId) -> Result<Owner, Status> {
        if let Some(group) = self.raft.group(g) {
            group.await_leader(LEADER_WAIT).await;
        }
        self.owner(g)
    }

    pub fn is_local(&self, g: GroupId) -> bool {
        matches!(self.owner(g), Ok(Owner::Local))
    }

    /// The shard of a workflow.
    pub fn workflow_group(&self, namespace_id: &str, workflow_id: &str) -> GroupId {
        perdure_history::shard_for(namespace_id, workflow_id, self.shards)
    }

    /// The shard that owns a task queue's matching partition. Sticky queues are routed by their
    /// worker's normal queue, so a sticky task and its normal-queue fallback meet on one node.
    pub fn queue_group(&self, namespace_id: &str, normal_queue: &str) -> GroupId {
        // A prefix no workflow id can collide with in practice keeps queue placement
        // independent of workflow placement.
        let name = format!("\u{0}task-queue\u{0}{normal_queue}");
        perdure_history::shard_for(namespace_id, &name, self.shards)
    }

    /// Internal addresses of the other members of the meta group (every node of the cluster).
    pub fn other_nodes(&self) -> Vec<(u64, String)> {
        let Some(meta) = self.raft.group(GroupId::META) else {
            return Vec::new();
        };
        let metrics = meta.raft().metrics();
        let m = metrics.borrow();
        m.membership_config
            .membership()
            .nodes()
            .filter(|(id, _)| **id != self.raft.node_id())
            .map(|(id, n)| (*id, n.addr.clone()))
            .collect()
    }
}
