//! Cluster membership for Perdure: which nodes exist, which replicate and vote in which group,
//! and whether a starting node may take part at all.
//!
//! - `registry`: the node records in the meta group (an id is bound to one data directory;
//!   removed ids never return);
//! - `admission`: what a node with an empty data directory asks its peers before it opens any
//!   Raft group;
//! - `placement`: the pure rule that spreads voters (replication factor) and leaders evenly;
//! - `controller`: applies the registry to every group's Raft membership, through each group's
//!   leader, and serves join and remove;
//! - `service`: the `Cluster` gRPC service on the internal port.
//!
//! This crate never interprets workflow state and never proposes to a group it does not lead.

// Registry errors carry openraft's large error types; boxing would only add allocations on
// paths that are already failing.
#![allow(clippy::result_large_err)]

pub mod admission;
pub mod controller;
pub mod placement;
pub mod registry;
pub mod service;

pub use admission::Admission;
pub use controller::{register_self, Controller};
pub use perdure_api::internal::cluster_server::ClusterServer;
pub use service::ClusterService;
