//! Durable state of one Perdure node: a single RocksDB with one column family per kind of data.
//!
//! This crate owns the on-disk format — column families ([`Cf`]), key encodings ([`keys`]) and
//! checksummed value frames — and the one mutation primitive Raft replicas use, [`Store::apply`],
//! which evaluates a [`WriteBatch`]'s preconditions and writes its ops atomically.
//!
//! It must never know about Raft, clocks or the network: whatever it is handed is applied
//! byte-for-byte, so every replica given the same batches ends in the same state.

mod batch;
mod cf;
mod error;
mod frame;
mod group;
pub mod keys;
mod raw;
mod store;

pub use batch::{check_owned, ApplyOutcome, Check, Expect, Op, WriteBatch};
pub use cf::Cf;
pub use error::StorageError;
pub use group::{GroupId, ShardId};
pub use raw::{GroupPairs, GroupStateView, InternalBatch, StatePair};
pub use store::{KvPair, Store};
