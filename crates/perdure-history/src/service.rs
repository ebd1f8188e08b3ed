//! The history service of one node: its shards and the routing of a workflow to its shard.

use std::sync::Arc;
use std::time::Duration;

use perdure_raft::RaftNode;
use perdure_storage::{GroupId, ShardId, Store};

use crate::errors::HistoryError;
use crate::shard::Shard;
use crate::{leader, routing, HistoryConfig, TaskSink};

pub struct HistoryService {
    shards: Vec<Arc<Shard>>,
    config: HistoryConfig,
}

impl HistoryService {
    /// Builds the shards `1..=count` over their Raft groups and starts each one's leadership
    /// loop. Every group must already be open in `raft`.
    pub fn start(
        raft: &RaftNode,
        store: Store,
        count: u32,
        sink: Arc<dyn TaskSink>,
    ) -> Result<Arc<Self>, HistoryError> {
        Self::start_with(raft, store, count, sink, HistoryConfig::default())
    }

    /// [`HistoryService::start`] with its tunables (tests use a short timer window to cross its
    /// end quickly; `perdure --dynamic-config-value` sets the others).
    pub fn start_with(
        raft: &RaftNode,
        store: Store,
        count: u32,
        sink: Arc<dyn TaskSink>,
        config: HistoryConfig,
    ) -> Result<Arc<Self>, HistoryError> {
        let mut shards = Vec::with_capacity(count as usize);
        for i in 1..=count {
            let id = GroupId(i);
            let group = raft.group(id).ok_or(HistoryError::NotLeader { shard: i })?;
            let shard = Shard::new(id, group, store.clone(), sink.clone());
            let shard = Arc::new(shard.with_config(config));
            tokio::spawn(leader::run(shard.clone()));
            shards.push(shard);
        }
        Ok(Arc::new(Self { shards, config }))
    }

    /// Waits up to `timeout` until every shard of this service is led by this node and has begun
    /// serving its term (barrier applied, backlog re-dispatched, timer wheel running). Meant for
    /// single-node setups and tests; in a cluster most shards are led elsewhere.
    pub async fn wait_serving(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        for shard in &self.shards {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !shard.wait_serving(left).await {
                return false;
            }
        }
        true
    }

    /// Wires how effects reach other shards (called once, when the node is assembled).
    pub fn set_cross_shard(&self, cross: std::sync::Arc<dyn crate::CrossShard>) {
        for shard in &self.shards {
            let _ = shard.cross.set(cross.clone());
        }
    }

    /// The tunables this service was started with.
    pub fn config(&self) -> &HistoryConfig {
        &self.config
    }

    pub fn shard_count(&self) -> u32 {
        self.shards.len() as u32
    }

    pub(crate) fn shard_for(&self, namespace_id: &str, workflow_id: &str) -> &Arc<Shard> {
        let id = routing::shard_for(namespace_id, workflow_id, self.shard_count());
        &self.shards[(id.0 - 1) as usize]
    }

    /// Deletes a dispatch row whose task will reach a worker another way (e.g. its sticky
    /// worker shut down and the schedule-to-start timer will reschedule it).
    pub async fn discard_dispatch(&self, task: &crate::DispatchTask) -> Result<(), HistoryError> {
        match self.shard(task.shard) {
            Some(shard) => shard.delete_transfer_task(task.task_id).await,
            None => Ok(()),
        }
    }

    pub(crate) fn shard(&self, id: ShardId) -> Option<&Arc<Shard>> {
        self.shards.get((id.0 as usize).checked_sub(1)?)
    }
}
