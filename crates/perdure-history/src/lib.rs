//! History shards: everything a shard's leader does.
//!
//! Each RPC that changes or reads an execution has its own module under [`api`]; they all go
//! through [`shard::Shard::update`], the one write path (lock, compute with `perdure-core`,
//! propose one batch through Raft, answer after apply). The leader's background work — the
//! durable backlog of transfer tasks and the timer wheel — starts and stops with leadership
//! ([`leader`]).
//!
//! This crate never talks gRPC (the frontend maps its errors) and never writes RocksDB except
//! through Raft proposals.

pub mod api;
mod batches;
mod cache;
pub mod effects;
mod errors;
mod leader;
mod queries;
mod routing;
mod schedules;
mod service;
mod shard;
mod tables;
mod timer_wheel;
mod updates;
pub mod visibility;
mod watchers;

#[cfg(test)]
mod tests;

pub use cache::ExecKey;
pub use effects::{CrossShard, CrossShardAnswer, CrossShardCall};
pub use errors::{BatchRefusal, HistoryError, ScheduleRefusal};
pub use queries::Buffered;
pub use routing::shard_for;
pub use service::HistoryService;
pub use timer_wheel::TimerWindow;
pub use updates::MAX_IN_FLIGHT_UPDATES;
pub use visibility::VisibilityCount;

/// Tunables of the history service (Temporal exposes the like as dynamic config).
#[derive(Clone, Copy, Debug)]
pub struct HistoryConfig {
    /// How far ahead each shard leader holds its timers in memory.
    pub timer_window: TimerWindow,
    /// Least time between a run's first task and its successor's (retry, continue-as-new):
    /// Temporal's history.workflowIdReuseMinimalInterval.
    pub min_run_interval: std::time::Duration,
    /// Operations per second one batch job carries out: Temporal's worker.batcherRPS.
    pub batcher_rps: u32,
    /// Batch jobs a namespace may run at once: Temporal's
    /// frontend.MaxConcurrentBatchOperationPerNamespace.
    pub max_concurrent_batch_operations: u32,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            timer_window: TimerWindow::default(),
            min_run_interval: perdure_core::WORKFLOW_ID_REUSE_MINIMAL_INTERVAL,
            batcher_rps: 50,
            max_concurrent_batch_operations: 1,
        }
    }
}

use perdure_core::TransferTask;
use perdure_storage::ShardId;

/// A task ready for a poller, as handed to matching. `(shard, task_id)` names its durable row.
#[derive(Clone, Debug)]
pub struct DispatchTask {
    pub shard: ShardId,
    pub task_id: u64,
    pub task: TransferTask,
}

/// Where committed dispatch tasks go (matching). Must not block: it is called on the write path.
pub trait TaskSink: Send + Sync + 'static {
    fn dispatch(&self, task: DispatchTask);
}
