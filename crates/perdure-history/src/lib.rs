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
mod cache;
mod errors;
mod leader;
mod routing;
mod service;
mod shard;
mod tables;
mod timer_wheel;
mod watchers;

#[cfg(test)]
mod tests;

pub use cache::ExecKey;
pub use errors::HistoryError;
pub use routing::shard_for;
pub use service::HistoryService;
pub use timer_wheel::TimerWindow;

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
