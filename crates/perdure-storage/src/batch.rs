//! Replicated write batches: the payload of every Raft entry.
//!
//! A batch is a list of preconditions and a list of writes. Replicas evaluate the checks against
//! their own applied state and either write everything or nothing, so a stale leader's batch is
//! rejected identically everywhere. Nothing here may depend on clocks, randomness or the host.

use serde::{Deserialize, Serialize};

use crate::{Cf, GroupId, StorageError};

/// Preconditions plus writes, applied atomically by [`Store::apply`](crate::Store::apply).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteBatch {
    pub checks: Vec<Check>,
    pub ops: Vec<Op>,
}

/// "The value at `cf`/`key` is currently as expected."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub cf: Cf,
    pub key: Vec<u8>,
    pub expect: Expect,
}

/// What a [`Check`] expects to find.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expect {
    Absent,
    /// The stored payload (unframed) equals these bytes.
    Equals(Vec<u8>),
}

/// One write. Values are payloads; the store frames them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Put {
        cf: Cf,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        cf: Cf,
        key: Vec<u8>,
    },
}

/// The result of applying a batch, identical on every replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplyOutcome {
    Applied,
    /// `check` is the index of the first failing check; nothing but the applied index was written.
    Rejected {
        check: u32,
    },
}

impl WriteBatch {
    /// True when the batch neither checks nor writes anything.
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty() && self.ops.is_empty()
    }

    /// Every check and op must name a state column family and a key inside `group`'s prefix.
    /// A batch failing this is a bug in whoever built it, never a race, so it is an error rather
    /// than a rejection.
    pub fn validate(&self, group: GroupId) -> Result<(), StorageError> {
        let keys = self
            .checks
            .iter()
            .map(|c| (c.cf, &c.key))
            .chain(self.ops.iter().map(|op| match op {
                Op::Put { cf, key, .. } | Op::Delete { cf, key } => (*cf, key),
            }));
        for (cf, key) in keys {
            check_owned(group, cf, key)?;
        }
        Ok(())
    }
}

/// `key` in `cf` may be written by replicated state changes of `group`.
pub(crate) fn check_owned(group: GroupId, cf: Cf, key: &[u8]) -> Result<(), StorageError> {
    if cf.is_state() && key.starts_with(&group.prefix()) {
        Ok(())
    } else {
        Err(StorageError::ForeignKey {
            group: group.0,
            cf: cf.name(),
            key: key.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;

    #[test]
    fn validate_rejects_foreign_groups_and_internal_families() {
        let g = GroupId(3);
        let ok = WriteBatch {
            checks: vec![Check {
                cf: Cf::Executions,
                key: keys::execution(g, "n", "w", "r"),
                expect: Expect::Absent,
            }],
            ops: vec![Op::Put {
                cf: Cf::History,
                key: keys::history_event(g, "n", "w", "r", 1),
                value: vec![1],
            }],
        };
        assert!(ok.validate(g).is_ok());
        assert!(ok.validate(GroupId(4)).is_err());

        let internal = WriteBatch {
            checks: vec![],
            ops: vec![Op::Delete {
                cf: Cf::RaftLog,
                key: keys::raft_log(g, 1),
            }],
        };
        assert!(matches!(
            internal.validate(g),
            Err(StorageError::ForeignKey { cf: "raft_log", .. })
        ));
    }
}
