//! Raft group identifiers. Group 0 is the meta group; groups `1..=N` are history shards.
//!
//! A group id is the first four bytes (big endian) of every state key, so it must stay a `u32`:
//! changing its width changes the on-disk format.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Identifies one Raft group (and with it one key prefix in every state column family).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupId(pub u32);

/// History shards are Raft groups; the alias documents intent at call sites.
pub type ShardId = GroupId;

impl GroupId {
    /// The meta group: membership, shard placement, namespaces.
    pub const META: GroupId = GroupId(0);

    /// The 4-byte key prefix owned by this group.
    pub fn prefix(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "g{}", self.0)
    }
}
