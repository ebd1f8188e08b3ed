//! Raft-internal access: atomic multi-family writes and whole-group snapshots.
//!
//! Only the Raft crate should use this module. It may write any column family (log, vote,
//! applied record), but values still go through the checksum frame, and snapshot installs may
//! only replace state inside the installing group's prefix.

use serde::{Deserialize, Serialize};

use crate::batch::check_owned;
use crate::frame::unframe;
use crate::{keys, Cf, GroupId, StorageError, Store};

/// An atomic RocksDB write being assembled; commit it with [`Store::write`].
pub struct InternalBatch<'a> {
    store: &'a Store,
    inner: rocksdb::WriteBatch,
}

impl<'a> InternalBatch<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        InternalBatch {
            store,
            inner: rocksdb::WriteBatch::default(),
        }
    }

    pub(crate) fn into_inner(self) -> rocksdb::WriteBatch {
        self.inner
    }

    /// Puts `payload` (framed with its checksum).
    pub fn put(&mut self, cf: Cf, key: &[u8], payload: &[u8]) -> Result<(), StorageError> {
        let handle = self.store.cf(cf)?;
        self.inner.put_cf(handle, key, Store::frame_value(payload));
        Ok(())
    }

    pub fn delete(&mut self, cf: Cf, key: &[u8]) -> Result<(), StorageError> {
        let handle = self.store.cf(cf)?;
        self.inner.delete_cf(handle, key);
        Ok(())
    }

    /// Deletes every key in `[from, to)`.
    pub fn delete_range(&mut self, cf: Cf, from: &[u8], to: &[u8]) -> Result<(), StorageError> {
        let handle = self.store.cf(cf)?;
        self.inner.delete_range_cf(handle, from, to);
        Ok(())
    }

    /// Replaces everything `group` holds in the state families with `snapshot`'s pairs.
    /// Refuses pairs outside the group or naming non-state families.
    pub fn replace_group_state(
        &mut self,
        group: GroupId,
        snapshot: &GroupSnapshot,
    ) -> Result<(), StorageError> {
        for (cf_id, key, _) in &snapshot.pairs {
            let cf = Cf::from_id(*cf_id).ok_or(StorageError::UnknownCf(*cf_id))?;
            check_owned(group, cf, key)?;
        }
        let prefix = keys::group_prefix(group);
        // Group ids are u32 and the prefix is 4 bytes, so only u32::MAX lacks an end key;
        // 5 bytes of 0xFF sort after every key of that group.
        let end = keys::prefix_end(&prefix).unwrap_or_else(|| vec![0xFF; 5]);
        for cf in Cf::STATE {
            self.delete_range(cf, &prefix, &end)?;
        }
        for (cf_id, key, value) in &snapshot.pairs {
            let cf = Cf::from_id(*cf_id).ok_or(StorageError::UnknownCf(*cf_id))?;
            self.put(cf, key, value)?;
        }
        Ok(())
    }
}

/// A consistent copy of one group's state: every state-family pair under the group prefix,
/// with verified (unframed) values, plus the applied record as of the same instant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    /// The `SmMeta` applied record at the time of the copy.
    pub applied: Option<Vec<u8>>,
    /// `(Cf::id, key, payload)` in family-then-key order.
    pub pairs: Vec<(u8, Vec<u8>, Vec<u8>)>,
}

impl Store {
    /// Reads a point-in-time copy of `group`'s state (one RocksDB snapshot for all families).
    #[doc(hidden)]
    pub fn snapshot_group(&self, group: GroupId) -> Result<GroupSnapshot, StorageError> {
        let db = self.raw();
        let snap = db.snapshot();
        let applied_key = keys::sm_applied(group);
        let applied = match snap.get_cf(self.cf(Cf::SmMeta)?, &applied_key)? {
            Some(v) => Some(unframe(Cf::SmMeta, &applied_key, &v)?),
            None => None,
        };
        let prefix = keys::group_prefix(group);
        let mut pairs = Vec::new();
        for cf in Cf::STATE {
            let mut ro = rocksdb::ReadOptions::default();
            if let Some(end) = keys::prefix_end(&prefix) {
                ro.set_iterate_upper_bound(end);
            }
            let mut it = snap.raw_iterator_cf_opt(self.cf(cf)?, ro);
            it.seek(&prefix);
            while let (Some(k), Some(v)) = (it.key(), it.value()) {
                if !k.starts_with(&prefix) {
                    break;
                }
                pairs.push((cf.id(), k.to_vec(), unframe(cf, k, v)?));
                it.next();
            }
            it.status()?;
        }
        Ok(GroupSnapshot { applied, pairs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Op, WriteBatch};

    #[test]
    fn snapshot_and_replace_touch_only_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (g1, g2) = (GroupId(1), GroupId(2));
        for (g, v) in [(g1, b"one"), (g2, b"two")] {
            let batch = WriteBatch {
                checks: vec![],
                ops: vec![
                    Op::Put {
                        cf: Cf::History,
                        key: keys::history_event(g, "n", "w", "r", 1),
                        value: v.to_vec(),
                    },
                    Op::Put {
                        cf: Cf::ShardMeta,
                        key: keys::shard_meta(g),
                        value: v.to_vec(),
                    },
                ],
            };
            store.apply(g, v, &batch).unwrap();
        }
        let snap1 = store.snapshot_group(g1).unwrap();
        assert_eq!(snap1.applied.as_deref(), Some(&b"one"[..]));
        assert_eq!(snap1.pairs.len(), 2);

        // Install group 1's snapshot as group 1 after more writes: the later write disappears.
        store
            .apply(
                g1,
                b"later",
                &WriteBatch {
                    checks: vec![],
                    ops: vec![Op::Put {
                        cf: Cf::Executions,
                        key: keys::execution(g1, "n", "w", "r"),
                        value: b"x".to_vec(),
                    }],
                },
            )
            .unwrap();
        let mut b = store.batch();
        b.replace_group_state(g1, &snap1).unwrap();
        store.write(b, true).unwrap();
        assert_eq!(store.snapshot_group(g1).unwrap().pairs, snap1.pairs);
        assert_eq!(store.snapshot_group(g2).unwrap().pairs.len(), 2);

        // Group 1's pairs cannot be installed into group 2.
        let mut b = store.batch();
        assert!(matches!(
            b.replace_group_state(g2, &snap1),
            Err(StorageError::ForeignKey { .. })
        ));
    }
}
