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
    /// Deletes every key `from <= key < to` (e.g. all history events of a run). Both ends must
    /// lie inside the group's prefix and `from <= to`, so a range can never reach another
    /// group. Added last: bincode numbers variants, and logged entries must keep decoding.
    DeleteRange {
        cf: Cf,
        from: Vec<u8>,
        to: Vec<u8>,
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
        for c in &self.checks {
            check_owned(group, c.cf, &c.key)?;
        }
        for op in &self.ops {
            match op {
                Op::Put { cf, key, .. } | Op::Delete { cf, key } => check_owned(group, *cf, key)?,
                Op::DeleteRange { cf, from, to } => {
                    check_owned(group, *cf, from)?;
                    check_owned(group, *cf, to)?;
                    if from > to {
                        return Err(StorageError::InvertedRange {
                            cf: cf.name(),
                            from: from.clone(),
                            to: to.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// `key` in `cf` may be written by replicated state changes of `group`.
/// Refuses a key outside `group`'s prefix or a family that replicated writes may not touch.
pub fn check_owned(group: GroupId, cf: Cf, key: &[u8]) -> Result<(), StorageError> {
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

    #[test]
    fn validate_checks_both_ends_of_a_delete_range() {
        let g = GroupId(3);
        let prefix = keys::history_prefix(g, "n", "w", "r");
        let range = |from: Vec<u8>, to: Vec<u8>| WriteBatch {
            checks: vec![],
            ops: vec![Op::DeleteRange {
                cf: Cf::History,
                from,
                to,
            }],
        };
        let run = range(prefix.clone(), keys::prefix_end(&prefix).unwrap());
        assert!(run.validate(g).is_ok());
        assert!(run.validate(GroupId(2)).is_err());
        // An end past the group (here: its whole prefix's end, group 4) is refused.
        let past = range(prefix.clone(), keys::group_prefix(GroupId(4)));
        assert!(matches!(
            past.validate(g),
            Err(StorageError::ForeignKey { group: 3, .. })
        ));
        // A start before the group too.
        let before = range(keys::group_prefix(GroupId(2)), prefix.clone());
        assert!(matches!(
            before.validate(g),
            Err(StorageError::ForeignKey { .. })
        ));
        // Inverted ranges are a builder's bug, not a no-op.
        let inverted = range(keys::prefix_end(&prefix).unwrap(), prefix.clone());
        assert!(matches!(
            inverted.validate(g),
            Err(StorageError::InvertedRange { cf: "history", .. })
        ));
        // Ranges over Raft-internal families are never replicated writes.
        let internal = WriteBatch {
            checks: vec![],
            ops: vec![Op::DeleteRange {
                cf: Cf::RaftLog,
                from: keys::raft_log(g, 1),
                to: keys::raft_log(g, 9),
            }],
        };
        assert!(matches!(
            internal.validate(g),
            Err(StorageError::ForeignKey { cf: "raft_log", .. })
        ));
    }
}
