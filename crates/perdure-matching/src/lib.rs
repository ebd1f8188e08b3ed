//! Matching: hands dispatchable tasks to pollers.
//!
//! A task queue partition is `(namespace_id, name, kind)`. Adding a task gives it straight to a
//! waiting poller when there is one (sync match: no write at all) and otherwise queues it in
//! memory. This crate never owns durability: every task it holds is backed by a durable record
//! elsewhere (the shard's transfer table), which re-adds it after a restart or leader change. So
//! losing this memory delays tasks but never loses them, and dispatch is at-least-once: the
//! caller's RecordTaskStarted decides which delivery wins.
//!
//! Sticky queues (one per worker) are ordinary partitions plus one rule taken from Temporal: a
//! sticky task whose worker has not polled lately goes to the normal queue instead, and a worker
//! that shuts down has its sticky partition drained so its tasks can be re-dispatched at once.
//!
//! Each partition also remembers who polled it lately and when each queued task entered its
//! backlog, and how fast tasks come and go, which is what DescribeTaskQueue shows (`pollers.rs`,
//! `rates.rs`). Their arithmetic takes time as an argument.
//!
//! It must never block on I/O while holding its lock, and never drop a task it was handed: a poll
//! that is cancelled, times out, or whose caller gives the task back re-queues it.

mod partition;
mod pollers;
mod queue_key;
mod rates;

pub use partition::{Lease, Matching, PartitionView, STICKY_POLLER_UNAVAILABLE_WINDOW};
pub use pollers::{PollerMeta, PollerRecord, WorkerCapabilities, MAX_POLLERS, POLLER_HISTORY_TTL};
pub use queue_key::{TaskKind, TaskQueueKey};
