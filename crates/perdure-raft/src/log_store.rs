//! One group's Raft log and vote, stored under the group prefix in `RaftLog` / `RaftMeta`.
//!
//! Appends are written unsynced and acknowledged through the [`SyncHandle`] once the WAL is
//! fsynced, so openraft never counts an entry as persisted before it is. Votes are synced inline.
//! Purging must never drop an entry whose effects are not durable: it syncs the WAL (which holds
//! every earlier apply) before deleting.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{OptionalSend, RaftLogId, StorageIOError, Vote};
use perdure_storage::{keys, Cf, GroupId, Store};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::syncer::SyncHandle;
use crate::types::{Entry, NodeLogId, OrStorageError};
use crate::TypeConfig;

#[derive(Clone)]
pub(crate) struct LogStore {
    store: Store,
    group: GroupId,
    syncer: SyncHandle,
    // Keeps the node's shutdown waiting until this store is dropped.
    _alive: tokio::sync::mpsc::Sender<()>,
}

/// Format version of every record this crate persists (log entries, votes, applied and snapshot
/// records): the first byte of the value. A build that meets a version it does not know refuses
/// the record with an error naming both versions (openraft then stops the group) instead of
/// misreading it; see DESIGN.md §6a for how a rolling upgrade introduces a new version.
pub(crate) const RECORD_FORMAT: u8 = 1;

pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, bincode::Error> {
    let mut out = vec![RECORD_FORMAT];
    bincode::serialize_into(&mut out, v)?;
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, bincode::Error> {
    match b.split_first() {
        Some((&RECORD_FORMAT, rest)) => bincode::deserialize(rest),
        Some((v, _)) => Err(Box::new(bincode::ErrorKind::Custom(format!(
            "raft record format {v} is unknown to this build (it reads format {RECORD_FORMAT}): \
             upgrade this node before it serves this group"
        )))),
        None => Err(Box::new(bincode::ErrorKind::Custom(
            "empty raft record".into(),
        ))),
    }
}

impl LogStore {
    pub(crate) fn new(
        store: Store,
        group: GroupId,
        syncer: SyncHandle,
        alive: tokio::sync::mpsc::Sender<()>,
    ) -> Self {
        LogStore {
            store,
            group,
            syncer,
            _alive: alive,
        }
    }

    fn read_meta<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, OrStorageError> {
        let Some(bytes) = self
            .store
            .get(Cf::RaftMeta, key)
            .map_err(|e| StorageIOError::read(&e))?
        else {
            return Ok(None);
        };
        decode(&bytes)
            .map(Some)
            .map_err(|e| StorageIOError::read(&e).into())
    }

    fn write_meta<T: Serialize>(
        &self,
        key: &[u8],
        v: &T,
        sync: bool,
    ) -> Result<(), OrStorageError> {
        let bytes = encode(v).map_err(|e| StorageIOError::write(&e))?;
        let mut b = self.store.batch();
        b.put(Cf::RaftMeta, key, &bytes)
            .map_err(|e| StorageIOError::write(&e))?;
        self.store
            .write(b, sync)
            .map_err(|e| StorageIOError::write(&e).into())
    }

    /// Exclusive end of this group's log keys.
    fn log_end(&self) -> Vec<u8> {
        keys::prefix_end(&keys::group_prefix(self.group)).unwrap_or_else(|| vec![0xFF; 13])
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, OrStorageError> {
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&i) if i < u64::MAX => keys::raft_log(self.group, i + 1),
            Bound::Excluded(&i) => keys::raft_log(self.group, i),
            _ => self.log_end(),
        };
        let rows = self
            .store
            .scan_range(
                Cf::RaftLog,
                &keys::raft_log(self.group, start),
                &end,
                usize::MAX,
            )
            .map_err(|e| StorageIOError::read_logs(&e))?;
        rows.iter()
            .map(|(_, v)| decode::<Entry>(v).map_err(|e| StorageIOError::read_logs(&e).into()))
            .collect()
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, OrStorageError> {
        let purged: Option<NodeLogId> = self.read_meta(&keys::raft_purged(self.group))?;
        let last = self
            .store
            .last_in_prefix(Cf::RaftLog, &keys::group_prefix(self.group))
            .map_err(|e| StorageIOError::read_logs(&e))?;
        let last = match last {
            Some((_, v)) => Some(
                *decode::<Entry>(&v)
                    .map_err(|e| StorageIOError::read_logs(&e))?
                    .get_log_id(),
            ),
            None => purged,
        };
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), OrStorageError> {
        self.write_meta(&keys::raft_vote(self.group), vote, true)
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, OrStorageError> {
        self.read_meta(&keys::raft_vote(self.group))
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(&mut self, committed: Option<NodeLogId>) -> Result<(), OrStorageError> {
        // Unsynced: losing it only means re-applying from the applied index after a crash.
        self.write_meta(&keys::raft_committed(self.group), &committed, false)
    }

    async fn read_committed(&mut self) -> Result<Option<NodeLogId>, OrStorageError> {
        Ok(self
            .read_meta::<Option<NodeLogId>>(&keys::raft_committed(self.group))?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), OrStorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut b = self.store.batch();
        for entry in entries {
            let bytes = encode(&entry).map_err(|e| StorageIOError::write_logs(&e))?;
            b.put(
                Cf::RaftLog,
                &keys::raft_log(self.group, entry.log_id.index),
                &bytes,
            )
            .map_err(|e| StorageIOError::write_logs(&e))?;
        }
        self.store
            .write(b, false)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        self.syncer.after_sync(callback);
        Ok(())
    }

    async fn truncate(&mut self, log_id: NodeLogId) -> Result<(), OrStorageError> {
        tracing::debug!(group = %self.group, %log_id, "truncate log");
        let mut b = self.store.batch();
        b.delete_range(
            Cf::RaftLog,
            &keys::raft_log(self.group, log_id.index),
            &self.log_end(),
        )
        .map_err(|e| StorageIOError::write_logs(&e))?;
        self.store
            .write(b, true)
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: NodeLogId) -> Result<(), OrStorageError> {
        tracing::debug!(group = %self.group, %log_id, "purge log");
        // Everything up to `log_id` is applied; make those unsynced apply writes durable before
        // the entries that could replay them disappear.
        self.store
            .sync_wal()
            .map_err(|e| StorageIOError::write_logs(&e))?;
        let end = match log_id.index.checked_add(1) {
            Some(i) => keys::raft_log(self.group, i),
            None => self.log_end(),
        };
        let mut b = self.store.batch();
        let bytes = encode(&log_id).map_err(|e| StorageIOError::write_logs(&e))?;
        b.put(Cf::RaftMeta, &keys::raft_purged(self.group), &bytes)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        b.delete_range(Cf::RaftLog, &keys::raft_log(self.group, 0), &end)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        self.store
            .write(b, true)
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn records_carry_their_format_and_unknown_formats_are_refused() {
        let bytes = encode(&(7u64, "x".to_string())).unwrap();
        assert_eq!(bytes[0], RECORD_FORMAT);
        assert_eq!(decode::<(u64, String)>(&bytes).unwrap(), (7, "x".into()));
        let mut future = bytes.clone();
        future[0] = RECORD_FORMAT + 1;
        let err = decode::<(u64, String)>(&future).unwrap_err().to_string();
        assert!(err.contains("format 2 is unknown"), "{err}");
        assert!(decode::<(u64, String)>(&[]).is_err());
    }
}
