//! The Raft transport between nodes: openraft's RPCs for every group of a node travel over one
//! gRPC connection per peer (the `Internal.Raft` call of `proto/perdure/internal/v1`), each
//! payload bincode-encoded behind a format version.
//!
//! [`Peers`] owns the connections and the cluster secret; [`client`] is openraft's network
//! factory on top of it; [`server`] hands incoming calls to the right group. This module never
//! looks inside entries and never decides membership.

pub(crate) mod client;
pub(crate) mod codec;
mod peers;
pub(crate) mod server;

pub use codec::RAFT_FORMAT;
pub use peers::{Isolation, Peers, SECRET_HEADER};
