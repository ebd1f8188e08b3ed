//! Service-level tests: a real single-node Raft over RocksDB in a temp dir, driven through the
//! public [`crate::HistoryService`] API exactly as the frontend drives it, with a task sink that
//! stands in for matching. They own nothing but test code and never sleep without a deadline.

mod batches;
mod cancellation;
mod dispatch;
mod fixture;
mod heartbeat;
mod long_poll;
mod restart;
mod retention;
mod schedules;
mod stale_timers;
mod sticky;
mod timer_window;
mod visibility;
mod workflow;
mod workflow_retry;
