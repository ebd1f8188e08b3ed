//! Raft for Perdure: every Raft group of a node (meta group 0, history shards 1..=N) on the
//! node's single [`Store`](perdure_storage::Store).
//!
//! This crate owns the openraft type configuration, the per-group log store and state machine,
//! the WAL syncer that lets many appends share one fsync, and [`RaftNode`] / [`Group`], the API
//! the history layer proposes through. It must never interpret write batches beyond handing them
//! to [`Store::apply`](perdure_storage::Store::apply): deciding what to write is the leader's job.
//!
//! Snapshots are files under `<store path>/snapshots/g<id>/`, streamed in and out one pair at a
//! time; `SmMeta` only names the current one (see `snapshots.rs`).

// openraft's error types are large by design and its trait signatures fix them; boxing ours
// would only add allocations on paths that are already failing.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod checksum;
mod error;
mod log_store;
mod membership;
mod node;
mod snapshot_format;
mod snapshots;
mod state_machine;
mod status;
mod syncer;
mod transfer;
mod transport;
mod types;

#[cfg(test)]
mod tests;

pub use checksum::GroupChecksum;
pub use error::{ProposeError, RaftError};
pub use membership::{Members, MEMBERSHIP_TIMEOUT};
pub use node::{
    cluster_config, default_config, with_snapshot_every, Group, RaftNode, PROPOSE_TIMEOUT,
};
pub use status::GroupStatus;
pub use transfer::PauseGuard;
pub use transport::{Isolation, Peers, RAFT_FORMAT, SECRET_HEADER};
pub use types::TypeConfig;
