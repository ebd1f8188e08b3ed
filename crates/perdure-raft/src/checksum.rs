//! A fingerprint of one group's applied state, to compare replicas: two replicas that applied
//! the same log up to the same index must hold byte-identical state, so their checksums match.
//!
//! Computed from one RocksDB point-in-time view (the applied index and the pairs agree). Reads
//! every pair of the group: an operator and test tool, never on a request path.

use perdure_storage::{GroupId, Store};
use serde::{Deserialize, Serialize};

use crate::log_store::decode;
use crate::types::AppliedRecord;
use crate::RaftError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupChecksum {
    pub group: u32,
    /// The log index the state reflects.
    pub applied: Option<u64>,
    pub pairs: u64,
    /// CRC-32 over every (family, key, value) of the group's state, in key order.
    pub crc32: u32,
}

pub(crate) fn checksum(store: &Store, group: GroupId) -> Result<GroupChecksum, RaftError> {
    let view = store.group_state_view(group);
    let applied: AppliedRecord = match view.applied()? {
        Some(b) => decode(&b).map_err(|source| RaftError::Decode {
            what: "applied record",
            source,
        })?,
        None => AppliedRecord::default(),
    };
    let mut crc = crc32fast::Hasher::new();
    let mut pairs = 0u64;
    for pair in view.pairs() {
        let (cf, key, value) = pair?;
        // Lengths first, so that no boundary between key and value can shift unnoticed.
        crc.update(&[cf.id()]);
        crc.update(&(key.len() as u64).to_be_bytes());
        crc.update(&key);
        crc.update(&(value.len() as u64).to_be_bytes());
        crc.update(&value);
        pairs += 1;
    }
    Ok(GroupChecksum {
        group: group.0,
        applied: applied.last_applied.map(|l| l.index),
        pairs,
        crc32: crc.finalize(),
    })
}
