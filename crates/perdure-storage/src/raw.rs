//! Raft-internal access: atomic multi-family writes, and streaming a group's state out of (and
//! into) the database for snapshots.
//!
//! Only the Raft crate should use this module. It may write any column family (log, vote,
//! applied record), but values still go through the checksum frame, and snapshot installs may
//! only replace state inside the installing group's prefix. Nothing here may collect a whole
//! group in memory: a group's state can be far larger than RAM allows to copy.

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

    /// Deletes everything `group` holds in the state families; snapshot installs follow it with
    /// [`InternalBatch::put_group_state`] for every pair of the snapshot.
    pub fn clear_group_state(&mut self, group: GroupId) -> Result<(), StorageError> {
        let prefix = keys::group_prefix(group);
        // Group ids are u32 and the prefix is 4 bytes, so only u32::MAX lacks an end key;
        // 5 bytes of 0xFF sort after every key of that group.
        let end = keys::prefix_end(&prefix).unwrap_or_else(|| vec![0xFF; 5]);
        for cf in Cf::STATE {
            self.delete_range(cf, &prefix, &end)?;
        }
        Ok(())
    }

    /// Puts one pair of a snapshot of `group`. Refuses keys outside the group and non-state
    /// families: a snapshot comes from another node and must not write anywhere else.
    pub fn put_group_state(
        &mut self,
        group: GroupId,
        cf: Cf,
        key: &[u8],
        payload: &[u8],
    ) -> Result<(), StorageError> {
        check_owned(group, cf, key)?;
        self.put(cf, key, payload)
    }
}

/// A point-in-time view of one group's state (one RocksDB snapshot for every family), for
/// streaming it out without copying it into memory. Later writes are invisible to it.
pub struct GroupStateView<'a> {
    store: &'a Store,
    snap: rocksdb::Snapshot<'a>,
    group: GroupId,
}

impl Store {
    /// Opens a point-in-time view of `group`'s state. Hold it only as long as needed: RocksDB
    /// keeps every version it can see alive until it is dropped.
    #[doc(hidden)]
    pub fn group_state_view(&self, group: GroupId) -> GroupStateView<'_> {
        GroupStateView {
            store: self,
            snap: self.raw().snapshot(),
            group,
        }
    }
}

impl GroupStateView<'_> {
    /// The `SmMeta` applied record as of this view, so a snapshot's meta matches its data.
    pub fn applied(&self) -> Result<Option<Vec<u8>>, StorageError> {
        let key = keys::sm_applied(self.group);
        match self.snap.get_cf(self.store.cf(Cf::SmMeta)?, &key)? {
            Some(v) => Ok(Some(unframe(Cf::SmMeta, &key, &v)?)),
            None => Ok(None),
        }
    }

    /// Every state-family pair of the group, family by family in [`Cf::STATE`] order and by key
    /// within a family, with verified payloads. One pair is in memory at a time.
    pub fn pairs(&self) -> GroupPairs<'_> {
        GroupPairs {
            view: self,
            next_cf: 0,
            current: None,
            done: false,
        }
    }
}

/// `(family, key, verified payload)`: one pair of a group's state.
pub type StatePair = (Cf, Vec<u8>, Vec<u8>);

/// Iterator returned by [`GroupStateView::pairs`]; yields `(family, key, payload)` and stops
/// after the first error.
pub struct GroupPairs<'v> {
    view: &'v GroupStateView<'v>,
    next_cf: usize,
    current: Option<(Cf, rocksdb::DBRawIterator<'v>)>,
    done: bool,
}

impl GroupPairs<'_> {
    fn fail(&mut self, e: StorageError) -> Option<Result<StatePair, StorageError>> {
        self.done = true;
        Some(Err(e))
    }
}

impl Iterator for GroupPairs<'_> {
    type Item = Result<StatePair, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            if let Some((cf, it)) = &mut self.current {
                let cf = *cf;
                let prefix = self.view.group.prefix();
                if let (Some(k), Some(v)) = (it.key(), it.value()) {
                    if !k.starts_with(&prefix) {
                        self.current = None;
                        continue;
                    }
                    let item = unframe(cf, k, v).map(|payload| (cf, k.to_vec(), payload));
                    it.next();
                    if item.is_err() {
                        self.done = true;
                    }
                    return Some(item);
                }
                if let Err(e) = it.status() {
                    return self.fail(e.into());
                }
                self.current = None;
            }
            let Some(&cf) = Cf::STATE.get(self.next_cf) else {
                self.done = true;
                return None;
            };
            self.next_cf += 1;
            let handle = match self.view.store.cf(cf) {
                Ok(h) => h,
                Err(e) => return self.fail(e),
            };
            let prefix = self.view.group.prefix();
            let mut ro = rocksdb::ReadOptions::default();
            // Without an end key (group u32::MAX) the prefix check below still stops the scan.
            if let Some(end) = keys::prefix_end(&prefix) {
                ro.set_iterate_upper_bound(end);
            }
            let mut it = self.view.snap.raw_iterator_cf_opt(handle, ro);
            it.seek(prefix);
            self.current = Some((cf, it));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Op, WriteBatch};

    fn collect(store: &Store, g: GroupId) -> Vec<StatePair> {
        store
            .group_state_view(g)
            .pairs()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn write(store: &Store, g: GroupId, applied: &[u8], ops: Vec<Op>) {
        let batch = WriteBatch {
            checks: vec![],
            ops,
        };
        store.apply(g, applied, &batch).unwrap();
    }

    #[test]
    fn view_is_point_in_time_and_replace_touches_only_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (g1, g2, last) = (GroupId(1), GroupId(2), GroupId(u32::MAX));
        for (g, v) in [(g1, b"one"), (g2, b"two"), (last, b"max")] {
            let ops = vec![
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
            ];
            write(&store, g, v, ops);
        }
        let view = store.group_state_view(g1);
        // Written after the view was opened: invisible to it, applied record included.
        let later = Op::Put {
            cf: Cf::Executions,
            key: keys::execution(g1, "n", "w", "r"),
            value: b"x".to_vec(),
        };
        write(&store, g1, b"later", vec![later]);
        assert_eq!(view.applied().unwrap().as_deref(), Some(&b"one"[..]));
        let snap1: Vec<_> = view.pairs().collect::<Result<_, _>>().unwrap();
        drop(view);
        // Family order follows Cf::STATE: History before ShardMeta.
        assert_eq!(
            snap1.iter().map(|(cf, _, _)| *cf).collect::<Vec<_>>(),
            vec![Cf::History, Cf::ShardMeta]
        );
        assert!(snap1.iter().all(|(_, _, v)| v == b"one"));
        // The last group has no prefix end; its scan still stops at its own keys.
        assert_eq!(collect(&store, last).len(), 2);
        assert_eq!(collect(&store, g1).len(), 3);

        // Installing the view's pairs as group 1 drops the later write and leaves group 2 alone.
        let mut b = store.batch();
        b.clear_group_state(g1).unwrap();
        for (cf, k, v) in &snap1 {
            b.put_group_state(g1, *cf, k, v).unwrap();
        }
        store.write(b, true).unwrap();
        assert_eq!(collect(&store, g1), snap1);
        assert_eq!(collect(&store, g2).len(), 2);

        // Group 1's pairs cannot be installed into group 2, nor into a Raft-internal family.
        let mut b = store.batch();
        let (cf, k, v) = &snap1[0];
        assert!(matches!(
            b.put_group_state(g2, *cf, k, v),
            Err(StorageError::ForeignKey { .. })
        ));
        assert!(matches!(
            b.put_group_state(g1, Cf::RaftLog, k, v),
            Err(StorageError::ForeignKey { .. })
        ));
    }

    #[test]
    fn view_reports_a_damaged_value_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let g = GroupId(1);
        let k = keys::shard_meta(g);
        let op = Op::Put {
            cf: Cf::ShardMeta,
            key: k.clone(),
            value: b"meta".to_vec(),
        };
        write(&store, g, b"a", vec![op]);
        let cf = store.cf(Cf::ShardMeta).unwrap();
        store.raw().put_cf(cf, &k, b"\0\0\0\0junk").unwrap();
        let view = store.group_state_view(g);
        let mut pairs = view.pairs();
        assert!(matches!(
            pairs.next(),
            Some(Err(StorageError::Corruption {
                cf: "shard_meta",
                ..
            }))
        ));
        assert!(pairs.next().is_none());
    }
}
