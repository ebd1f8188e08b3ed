//! One group's state machine: applies committed write batches to the state column families and
//! hands snapshot work to [`Snapshots`].
//!
//! Apply must stay deterministic (no clocks, randomness or I/O beyond the store) and writes each
//! entry's effects together with the applied record in one RocksDB write, so a restart resumes
//! exactly after the last entry whose effects exist. Snapshot builds and installs stream whole
//! groups through files, so they run on the blocking pool, never on a runtime thread; reading the
//! current snapshot only opens its file, because openraft does it at every startup for the meta.

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError, StoredMembership};
use perdure_storage::{keys, ApplyOutcome, Cf, GroupId, Store, WriteBatch};

use crate::error::RaftError;
use crate::log_store::{decode, encode};
use crate::snapshots::{SnapshotError, Snapshots};
use crate::types::{AppliedRecord, Entry, Membership, NodeLogId, OrStorageError, SnapshotMeta};
use crate::TypeConfig;

pub(crate) struct StateMachine {
    store: Store,
    group: GroupId,
    applied: AppliedRecord,
    snapshots: Snapshots,
    alive: tokio::sync::mpsc::Sender<()>,
}

impl StateMachine {
    pub(crate) fn open(
        store: Store,
        group: GroupId,
        alive: tokio::sync::mpsc::Sender<()>,
    ) -> Result<Self, RaftError> {
        let snapshots = Snapshots::new(store.clone(), group);
        // An install a crash cut short is finished before anything reads the state.
        if let Some(applied) = snapshots.finish_install().map_err(|e| {
            RaftError::Fatal(openraft::error::Fatal::StorageError(
                StorageIOError::write_snapshot(None, &e).into(),
            ))
        })? {
            tracing::info!(%group, applied = ?applied.last_applied, "finished an interrupted snapshot install");
        }
        let applied = match store.get(Cf::SmMeta, &keys::sm_applied(group))? {
            Some(bytes) => decode(&bytes).map_err(|source| RaftError::Decode {
                what: "applied record",
                source,
            })?,
            None => AppliedRecord::default(),
        };
        // Garbage only costs disk space; a group must still start if it cannot be removed.
        match snapshots.remove_leftovers() {
            Ok(0) => {}
            Ok(n) => tracing::info!(%group, removed = n, "removed leftover snapshot files"),
            Err(e) => {
                tracing::warn!(%group, error = %e, "could not remove leftover snapshot files")
            }
        }
        Ok(StateMachine {
            store,
            group,
            applied,
            snapshots,
            alive,
        })
    }
}

pub(crate) struct SnapshotBuilder {
    snapshots: Snapshots,
    alive: tokio::sync::mpsc::Sender<()>,
}

/// Runs `f` on the blocking pool. The closure keeps a clone of the node's liveness sender so a
/// shutdown waits for it even if openraft drops the awaiting future.
async fn blocking<T: Send + 'static>(
    alive: &tokio::sync::mpsc::Sender<()>,
    f: impl FnOnce() -> Result<T, SnapshotError> + Send + 'static,
) -> Result<T, SnapshotError> {
    let alive = alive.clone();
    tokio::task::spawn_blocking(move || {
        let _alive = alive;
        f()
    })
    .await
    .map_err(|e| SnapshotError::Io(std::io::Error::other(e)))?
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, OrStorageError> {
        let snapshots = self.snapshots.clone();
        let (meta, file) = blocking(&self.alive, move || snapshots.build())
            .await
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        perdure_metrics::metrics().snapshots_built.inc();
        Ok(Snapshot {
            meta,
            snapshot: Box::new(tokio::fs::File::from_std(file)),
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
            snapshots: self.snapshots.clone(),
            alive: self.alive.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, OrStorageError> {
        let file = self
            .snapshots
            .receive_file()
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), OrStorageError> {
        let src = snapshot.into_std().await;
        let snapshots = self.snapshots.clone();
        let owned_meta = meta.clone();
        let applied = blocking(&self.alive, move || snapshots.install(&owned_meta, src))
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        self.applied = applied;
        perdure_metrics::metrics().snapshots_installed.inc();
        tracing::info!(group = %self.group, snapshot = %meta.snapshot_id, "installed snapshot from the leader");
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, OrStorageError> {
        let current = self
            .snapshots
            .open_current()
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(current.map(|(meta, file)| Snapshot {
            meta,
            snapshot: Box::new(tokio::fs::File::from_std(file)),
        }))
    }
}
