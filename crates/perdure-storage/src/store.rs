//! [`Store`]: the node's single RocksDB, its reads, and the replicated-apply primitive.
//!
//! Reads always verify value checksums. [`Store::apply`] is the only way replicated state
//! changes are written and it must stay deterministic: no clocks, no randomness, and the result
//! depends only on the batch and the current contents of the database.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, Options, ReadOptions, DB};

use crate::batch::{ApplyOutcome, Expect, Op, WriteBatch};
use crate::frame::{frame, unframe};
use crate::raw::InternalBatch;
use crate::{keys, Cf, GroupId, StorageError};

/// A `(key, payload)` pair returned by scans; the payload is verified and unframed.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// Handle to the node's RocksDB. Cheap to clone; the database closes when the last clone drops.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: DB,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Store {
    /// Opens (or creates) the database in `dir`, creating any missing column family.
    pub fn open(dir: &Path) -> Result<Store, StorageError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = Cf::ALL
            .iter()
            .map(|cf| ColumnFamilyDescriptor::new(cf.name(), Options::default()));
        let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
        tracing::info!(path = %dir.display(), "opened store");
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                path: dir.to_path_buf(),
            }),
        })
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The raw RocksDB handle. Writing through it bypasses checksums; tests and the Raft crate
    /// only.
    #[doc(hidden)]
    pub fn raw(&self) -> &DB {
        &self.inner.db
    }

    pub(crate) fn cf(&self, cf: Cf) -> Result<&ColumnFamily, StorageError> {
        self.inner
            .db
            .cf_handle(cf.name())
            .ok_or(StorageError::MissingCf(cf.name()))
    }

    /// The verified payload stored at `key`, if any.
    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.inner.db.get_pinned_cf(self.cf(cf)?, key)? {
            Some(v) => Ok(Some(unframe(cf, key, &v)?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` pairs whose key starts with `prefix`, in key order, beginning at `start_at`
    /// (inclusive) when given. A `start_at` outside the prefix yields only the keys after it that
    /// still carry the prefix.
    pub fn scan_prefix(
        &self,
        cf: Cf,
        prefix: &[u8],
        start_at: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        let from = match start_at {
            Some(s) if s > prefix => s,
            _ => prefix,
        };
        let upper = keys::prefix_end(prefix);
        self.scan(cf, from, upper.as_deref(), limit)
    }

    /// Up to `limit` pairs with `from <= key < to_exclusive`, in key order.
    pub fn scan_range(
        &self,
        cf: Cf,
        from: &[u8],
        to_exclusive: &[u8],
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        self.scan(cf, from, Some(to_exclusive), limit)
    }

    fn scan(
        &self,
        cf: Cf,
        from: &[u8],
        upper: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        let mut out = Vec::new();
        if limit == 0 || upper.is_some_and(|u| u <= from) {
            return Ok(out);
        }
        let mut ro = ReadOptions::default();
        if let Some(u) = upper {
            ro.set_iterate_upper_bound(u.to_vec());
        }
        let mut it = self.inner.db.raw_iterator_cf_opt(self.cf(cf)?, ro);
        it.seek(from);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            out.push((k.to_vec(), unframe(cf, k, v)?));
            if out.len() >= limit {
                return Ok(out);
            }
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    /// The last pair whose key starts with `prefix`.
    pub fn last_in_prefix(&self, cf: Cf, prefix: &[u8]) -> Result<Option<KvPair>, StorageError> {
        let end = keys::prefix_end(prefix);
        let mut it = self.inner.db.raw_iterator_cf(self.cf(cf)?);
        match &end {
            Some(end) => it.seek_for_prev(end),
            None => it.seek_to_last(),
        }
        // `seek_for_prev` lands on the last key <= end, which may be `end` itself.
        if let (Some(k), Some(end)) = (it.key(), &end) {
            if k >= end.as_slice() {
                it.prev();
            }
        }
        if let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.starts_with(prefix) {
                return Ok(Some((k.to_vec(), unframe(cf, k, v)?)));
            }
            return Ok(None);
        }
        it.status()?;
        Ok(None)
    }

    /// Applies one replicated batch for `group`: evaluates every check against current state,
    /// then writes the ops and the opaque `applied` record (to `SmMeta`) in one atomic RocksDB
    /// write. When a check fails only `applied` is written and the outcome names the check.
    ///
    /// A batch naming a key outside the group or a Raft-internal family is refused with
    /// [`StorageError::ForeignKey`] before anything is written (see [`WriteBatch::validate`]).
    ///
    /// The write is not synced: the fsynced Raft log is the source of truth and a lost apply is
    /// replayed from it.
    pub fn apply(
        &self,
        group: GroupId,
        applied: &[u8],
        batch: &WriteBatch,
    ) -> Result<ApplyOutcome, StorageError> {
        batch.validate(group)?;
        let mut wb = self.batch();
        wb.put(Cf::SmMeta, &keys::sm_applied(group), applied)?;
        let outcome = match self.first_failing_check(batch)? {
            Some(check) => ApplyOutcome::Rejected { check },
            None => {
                for op in &batch.ops {
                    match op {
                        Op::Put { cf, key, value } => wb.put(*cf, key, value)?,
                        Op::Delete { cf, key } => wb.delete(*cf, key)?,
                        Op::DeleteRange { cf, from, to } => wb.delete_range(*cf, from, to)?,
                    }
                }
                ApplyOutcome::Applied
            }
        };
        self.write(wb, false)?;
        Ok(outcome)
    }

    fn first_failing_check(&self, batch: &WriteBatch) -> Result<Option<u32>, StorageError> {
        for (i, check) in batch.checks.iter().enumerate() {
            let current = self.get(check.cf, &check.key)?;
            let ok = match (&check.expect, current) {
                (Expect::Absent, None) => true,
                (Expect::Equals(want), Some(have)) => *want == have,
                _ => false,
            };
            if !ok {
                // More than u32::MAX checks cannot be built in practice; saturate rather than wrap.
                return Ok(Some(u32::try_from(i).unwrap_or(u32::MAX)));
            }
        }
        Ok(None)
    }

    /// Starts an atomic multi-family write (Raft-internal records, snapshot installs).
    #[doc(hidden)]
    pub fn batch(&self) -> InternalBatch<'_> {
        InternalBatch::new(self)
    }

    /// Commits `batch` atomically; `sync` fsyncs the WAL before returning.
    #[doc(hidden)]
    pub fn write(&self, batch: InternalBatch<'_>, sync: bool) -> Result<(), StorageError> {
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(sync);
        self.inner.db.write_opt(batch.into_inner(), &wo)?;
        Ok(())
    }

    /// Makes every write issued so far durable (one fsync of the WAL).
    pub fn sync_wal(&self) -> Result<(), StorageError> {
        self.inner.db.flush_wal(true)?;
        Ok(())
    }

    pub(crate) fn frame_value(payload: &[u8]) -> Vec<u8> {
        frame(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Check;

    const G: GroupId = GroupId(1);

    fn put(key: Vec<u8>, value: &[u8]) -> Op {
        Op::Put {
            cf: Cf::Executions,
            key,
            value: value.to_vec(),
        }
    }

    #[test]
    fn apply_writes_ops_and_applied_record_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let k = keys::execution(G, "ns", "wf", "r1");
        let batch = WriteBatch {
            checks: vec![Check {
                cf: Cf::Executions,
                key: k.clone(),
                expect: Expect::Absent,
            }],
            ops: vec![put(k.clone(), b"v1")],
        };
        assert_eq!(
            store.apply(G, b"a1", &batch).unwrap(),
            ApplyOutcome::Applied
        );
        assert_eq!(store.get(Cf::Executions, &k).unwrap(), Some(b"v1".to_vec()));
        assert_eq!(
            store.get(Cf::SmMeta, &keys::sm_applied(G)).unwrap(),
            Some(b"a1".to_vec())
        );

        // The same batch again fails its Absent check: nothing but the applied record changes.
        let again = WriteBatch {
            ops: vec![put(k.clone(), b"v2")],
            ..batch
        };
        assert_eq!(
            store.apply(G, b"a2", &again).unwrap(),
            ApplyOutcome::Rejected { check: 0 }
        );
        assert_eq!(store.get(Cf::Executions, &k).unwrap(), Some(b"v1".to_vec()));
        assert_eq!(
            store.get(Cf::SmMeta, &keys::sm_applied(G)).unwrap(),
            Some(b"a2".to_vec())
        );

        // Equals compares unframed payloads; the second check is the one reported.
        let cas = WriteBatch {
            checks: vec![
                Check {
                    cf: Cf::Executions,
                    key: k.clone(),
                    expect: Expect::Equals(b"v1".to_vec()),
                },
                Check {
                    cf: Cf::Executions,
                    key: keys::execution(G, "ns", "wf", "r2"),
                    expect: Expect::Equals(b"x".to_vec()),
                },
            ],
            ops: vec![Op::Delete {
                cf: Cf::Executions,
                key: k.clone(),
            }],
        };
        assert_eq!(
            store.apply(G, b"a3", &cas).unwrap(),
            ApplyOutcome::Rejected { check: 1 }
        );
        let cas_ok = WriteBatch {
            checks: cas.checks[..1].to_vec(),
            ops: cas.ops.clone(),
        };
        assert_eq!(
            store.apply(G, b"a4", &cas_ok).unwrap(),
            ApplyOutcome::Applied
        );
        assert_eq!(store.get(Cf::Executions, &k).unwrap(), None);
    }

    #[test]
    fn delete_range_removes_exactly_the_range_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let run = |r: &str, id: i64| keys::history_event(G, "ns", "wf", r, id);
        {
            let store = Store::open(dir.path()).unwrap();
            let mut ops = Vec::new();
            // "run" is deleted; "run2" (whose id merely starts with it) and group 2 are not.
            for id in 1..=5 {
                for r in ["run", "run2"] {
                    ops.push(Op::Put {
                        cf: Cf::History,
                        key: run(r, id),
                        value: vec![id as u8],
                    });
                }
            }
            let other = keys::history_event(GroupId(2), "ns", "wf", "run", 1);
            let g2 = WriteBatch {
                checks: vec![],
                ops: vec![Op::Put {
                    cf: Cf::History,
                    key: other.clone(),
                    value: b"g2".to_vec(),
                }],
            };
            store
                .apply(
                    G,
                    b"a1",
                    &WriteBatch {
                        checks: vec![],
                        ops,
                    },
                )
                .unwrap();
            store.apply(GroupId(2), b"b1", &g2).unwrap();

            let prefix = keys::history_prefix(G, "ns", "wf", "run");
            let batch = WriteBatch {
                checks: vec![],
                ops: vec![
                    Op::DeleteRange {
                        cf: Cf::History,
                        from: prefix.clone(),
                        to: keys::prefix_end(&prefix).unwrap(),
                    },
                    // A put after the range in the same batch survives it.
                    Op::Put {
                        cf: Cf::History,
                        key: run("run", 9),
                        value: b"after".to_vec(),
                    },
                ],
            };
            assert_eq!(
                store.apply(G, b"a2", &batch).unwrap(),
                ApplyOutcome::Applied
            );
            // A rejected batch deletes nothing.
            let rejected = WriteBatch {
                checks: vec![Check {
                    cf: Cf::History,
                    key: run("run2", 1),
                    expect: Expect::Absent,
                }],
                ops: vec![Op::DeleteRange {
                    cf: Cf::History,
                    from: run("run2", 1),
                    to: run("run2", 6),
                }],
            };
            assert_eq!(
                store.apply(G, b"a3", &rejected).unwrap(),
                ApplyOutcome::Rejected { check: 0 }
            );
            assert_eq!(
                store.get(Cf::History, &other).unwrap(),
                Some(b"g2".to_vec())
            );
        }
        let store = Store::open(dir.path()).unwrap();
        let left = store
            .scan_prefix(Cf::History, &keys::group_prefix(G), None, 100)
            .unwrap();
        let mut expected: Vec<_> = (1..=5).map(|id| run("run2", id)).collect();
        expected.push(run("run", 9));
        expected.sort();
        assert_eq!(
            left.into_iter().map(|(k, _)| k).collect::<Vec<_>>(),
            expected
        );
    }

    #[test]
    fn apply_refuses_foreign_keys_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let batch = WriteBatch {
            checks: vec![],
            ops: vec![put(keys::execution(GroupId(2), "n", "w", "r"), b"v")],
        };
        assert!(matches!(
            store.apply(G, b"a", &batch),
            Err(StorageError::ForeignKey { group: 1, .. })
        ));
        assert_eq!(store.get(Cf::SmMeta, &keys::sm_applied(G)).unwrap(), None);
    }

    #[test]
    fn scans_respect_prefix_start_limit_and_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut ops = Vec::new();
        for (g, id) in [(G, 1u64), (G, 2), (G, 3), (GroupId(2), 1)] {
            ops.push(Op::Put {
                cf: Cf::TransferTasks,
                key: keys::transfer_task(g, id),
                value: id.to_be_bytes().to_vec(),
            });
        }
        // Two groups' keys: write each through its own group.
        let (g2, g1): (Vec<_>, Vec<_>) = ops.into_iter().partition(
            |op| matches!(op, Op::Put { key, .. } if key.starts_with(&GroupId(2).prefix())),
        );
        store
            .apply(
                G,
                b"",
                &WriteBatch {
                    checks: vec![],
                    ops: g1,
                },
            )
            .unwrap();
        store
            .apply(
                GroupId(2),
                b"",
                &WriteBatch {
                    checks: vec![],
                    ops: g2,
                },
            )
            .unwrap();

        let all = store
            .scan_prefix(Cf::TransferTasks, &keys::transfer_prefix(G), None, 100)
            .unwrap();
        let ids: Vec<_> = all
            .iter()
            .map(|(k, _)| keys::decode_transfer_task(k).unwrap())
            .collect();
        assert_eq!(ids, vec![1, 2, 3]);

        let from2 = store
            .scan_prefix(
                Cf::TransferTasks,
                &keys::transfer_prefix(G),
                Some(&keys::transfer_task(G, 2)),
                1,
            )
            .unwrap();
        assert_eq!(from2.len(), 1);
        assert_eq!(from2[0].0, keys::transfer_task(G, 2));
        assert_eq!(from2[0].1, 2u64.to_be_bytes().to_vec());

        let range = store
            .scan_range(
                Cf::TransferTasks,
                &keys::transfer_task(G, 2),
                &keys::transfer_task(GroupId(2), 1),
                100,
            )
            .unwrap();
        assert_eq!(range.len(), 2);
        assert!(store
            .scan_range(Cf::TransferTasks, b"\x09", b"\x01", 10)
            .unwrap()
            .is_empty());

        let last = store
            .last_in_prefix(Cf::TransferTasks, &keys::transfer_prefix(G))
            .unwrap()
            .unwrap();
        assert_eq!(last.0, keys::transfer_task(G, 3));
        assert!(store
            .last_in_prefix(Cf::TransferTasks, &keys::transfer_prefix(GroupId(9)))
            .unwrap()
            .is_none());
        assert!(store
            .last_in_prefix(Cf::TransferTasks, &keys::transfer_prefix(GroupId(0)))
            .unwrap()
            .is_none());
    }

    #[test]
    fn flipped_byte_on_disk_is_reported_as_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let k = keys::history_event(G, "ns", "wf", "run", 1);
        {
            let store = Store::open(dir.path()).unwrap();
            let batch = WriteBatch {
                checks: vec![],
                ops: vec![Op::Put {
                    cf: Cf::History,
                    key: k.clone(),
                    value: b"event payload".to_vec(),
                }],
            };
            store.apply(G, b"a", &batch).unwrap();
            let cf = store.cf(Cf::History).unwrap();
            let mut raw = store.raw().get_cf(cf, &k).unwrap().unwrap();
            let last = raw.len() - 1;
            raw[last] ^= 0x40;
            store.raw().put_cf(cf, &k, &raw).unwrap();
            store.raw().flush_cf(cf).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        match store.get(Cf::History, &k) {
            Err(StorageError::Corruption { cf, key }) => {
                assert_eq!(cf, "history");
                assert_eq!(key, k);
            }
            other => panic!("expected corruption, got {other:?}"),
        }
        let prefix = keys::history_prefix(G, "ns", "wf", "run");
        assert!(matches!(
            store.scan_prefix(Cf::History, &prefix, None, 10),
            Err(StorageError::Corruption { .. })
        ));
        // A check reading the damaged value fails the apply instead of guessing.
        let batch = WriteBatch {
            checks: vec![Check {
                cf: Cf::History,
                key: k.clone(),
                expect: Expect::Absent,
            }],
            ops: vec![],
        };
        assert!(matches!(
            store.apply(G, b"b", &batch),
            Err(StorageError::Corruption { .. })
        ));
    }
}
