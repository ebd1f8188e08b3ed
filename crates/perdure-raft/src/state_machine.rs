//! One group's state machine: applies committed write batches to the state column families and
//! builds / installs snapshots of the group's prefix.
//!
//! Apply must stay deterministic (no clocks, randomness or I/O beyond the store) and writes each
//! entry's effects together with the applied record in one RocksDB write, so a restart resumes
//! exactly after the last entry whose effects exist. Snapshot ids are the one exception allowed a
//! clock: they only need to be unique, and are never applied.

use std::io::Cursor;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError, StoredMembership};
use perdure_storage::{keys, ApplyOutcome, Cf, GroupId, GroupSnapshot, Store, WriteBatch};

use crate::error::RaftError;
use crate::log_store::{decode, encode};
use crate::types::{
    AppliedRecord, Entry, Membership, NodeLogId, OrStorageError, SnapshotMeta, StoredSnapshot,
};
use crate::TypeConfig;

pub(crate) struct StateMachine {
    store: Store,
    group: GroupId,
    applied: AppliedRecord,
    alive: tokio::sync::mpsc::Sender<()>,
}

impl StateMachine {
    pub(crate) fn open(
        store: Store,
        group: GroupId,
        alive: tokio::sync::mpsc::Sender<()>,
    ) -> Result<Self, RaftError> {
        let applied = match store.get(Cf::SmMeta, &keys::sm_applied(group))? {
            Some(bytes) => decode(&bytes).map_err(|source| RaftError::Decode {
                what: "applied record",
                source,
            })?,
            None => AppliedRecord::default(),
        };
        Ok(StateMachine {
            store,
            group,
            applied,
            alive,
        })
    }

    fn read_snapshot(&self) -> Result<Option<StoredSnapshot>, OrStorageError> {
        let Some(bytes) = self
            .store
            .get(Cf::SmMeta, &keys::sm_snapshot(self.group))
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?
        else {
            return Ok(None);
        };
        decode(&bytes)
            .map(Some)
            .map_err(|e| StorageIOError::read_snapshot(None, &e).into())
    }
}

pub(crate) struct SnapshotBuilder {
    store: Store,
    group: GroupId,
    _alive: tokio::sync::mpsc::Sender<()>,
}

fn snapshot_id(last: Option<NodeLogId>) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    match last {
        Some(l) => format!(
            "{}-{}-{}-{nanos}",
            l.leader_id.term, l.leader_id.node_id, l.index
        ),
        None => format!("empty-{nanos}"),
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, OrStorageError> {
        let snap = self
            .store
            .snapshot_group(self.group)
            .map_err(|e| StorageIOError::read_state_machine(&e))?;
        let record: AppliedRecord = match &snap.applied {
            Some(b) => decode(b).map_err(|e| StorageIOError::read_state_machine(&e))?,
            None => AppliedRecord::default(),
        };
        let data = encode(&GroupSnapshot {
            applied: None,
            pairs: snap.pairs,
        })
        .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        let meta = SnapshotMeta {
            last_log_id: record.last_applied,
            last_membership: record.membership,
            snapshot_id: snapshot_id(record.last_applied),
        };
        let stored = encode(&StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        })
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        let mut b = self.store.batch();
        b.put(Cf::SmMeta, &keys::sm_snapshot(self.group), &stored)
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        // Unsynced: a lost snapshot is rebuilt at startup, and purge syncs before deleting.
        self.store
            .write(b, false)
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        tracing::info!(group = %self.group, snapshot = %meta, "built snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<NodeLogId>, Membership), OrStorageError> {
        Ok((self.applied.last_applied, self.applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyOutcome>, OrStorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let empty = WriteBatch::default();
        let mut out = Vec::new();
        for entry in entries {
            let log_id = entry.log_id;
            let mut next = self.applied.clone();
            next.last_applied = Some(log_id);
            let batch = match &entry.payload {
                EntryPayload::Blank => &empty,
                EntryPayload::Normal(b) => b,
                EntryPayload::Membership(m) => {
                    next.membership = StoredMembership::new(Some(log_id), m.clone());
                    &empty
                }
            };
            let record = encode(&next).map_err(|e| StorageIOError::apply(log_id, &e))?;
            let outcome = self
                .store
                .apply(self.group, &record, batch)
                .map_err(|e| StorageIOError::apply(log_id, &e))?;
            self.applied = next;
            out.push(outcome);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            store: self.store.clone(),
            group: self.group,
            _alive: self.alive.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, OrStorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), OrStorageError> {
        let sig = || Some(meta.signature());
        let data = snapshot.into_inner();
        let state: GroupSnapshot =
            decode(&data).map_err(|e| StorageIOError::read_snapshot(sig(), &e))?;
        let record = AppliedRecord {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        let record_bytes =
            encode(&record).map_err(|e| StorageIOError::write_snapshot(sig(), &e))?;
        let stored = encode(&StoredSnapshot {
            meta: meta.clone(),
            data,
        })
        .map_err(|e| StorageIOError::write_snapshot(sig(), &e))?;

        let mut b = self.store.batch();
        let build = |b: &mut perdure_storage::InternalBatch<'_>| {
            b.replace_group_state(self.group, &state)?;
            b.put(Cf::SmMeta, &keys::sm_applied(self.group), &record_bytes)?;
            b.put(Cf::SmMeta, &keys::sm_snapshot(self.group), &stored)
        };
        build(&mut b).map_err(|e| StorageIOError::write_snapshot(sig(), &e))?;
        // Synced: the log below this snapshot may be purged right after.
        self.store
            .write(b, true)
            .map_err(|e| StorageIOError::write_snapshot(sig(), &e))?;
        self.applied = record;
        tracing::info!(group = %self.group, snapshot = %meta, "installed snapshot");
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, OrStorageError> {
        Ok(self.read_snapshot()?.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}
