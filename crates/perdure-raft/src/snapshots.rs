//! One group's snapshot files and the `SmMeta` record naming the current one.
//!
//! Files live in `<store path>/snapshots/g<id>/`: inside the store's own directory, so a store
//! that is moved or deleted takes its snapshots along and two stores never share a directory
//! (RocksDB ignores names it does not recognise). The directory holds the current file
//! (`*.snap`), files of builds and installs in progress (`*.tmp`) and, after a crash, garbage.
//! `SmMeta` holds only a small [`SnapshotRecord`]: meta, file name, length and checksum.
//!
//! Crash safety. A new file is written under a temporary name, fsynced, renamed and the
//! directory fsynced *before* the synced write of the record naming it; older files are deleted
//! only after that write. A crash at any point leaves the old record with its file, or the new
//! record with its file, plus garbage the next [`Snapshots::remove_leftovers`] deletes.
//! Publishing (rename, record, cleanup) holds the group's publish lock so one publication never
//! deletes a file another is about to record. A record whose file is missing or does not match
//! it is reported and answered as "no snapshot", never served: openraft then rebuilds.
//!
//! Memory. Building streams a RocksDB point-in-time view into the file one pair at a time.
//! Installing never holds the snapshot in memory either: the received file is verified while
//! it is copied into this group's directory, staged under a synced `installing` record, and
//! written into the state in batches of a few MiB; the last batch carries the applied record,
//! the snapshot record and the marker's removal, synced. The state is replaced atomically from
//! the outside because nothing reads a group's state while it installs (a follower serves no
//! reads), and a crash in the middle leaves the marker: [`Snapshots::finish_install`] redoes
//! the writing from the staged file before the group opens.
//!
//! Everything here is blocking file and database I/O: call it from `spawn_blocking` unless it
//! only touches the record and a file's ends ([`Snapshots::open_current`],
//! [`Snapshots::receive_file`]).

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use perdure_storage::{keys, Cf, GroupId, InternalBatch, StorageError, Store};

use crate::log_store::{decode, encode};
use crate::snapshot_format::{check_ends, FileSummary, SnapshotReader, SnapshotWriter};
use crate::types::{AppliedRecord, NodeLogId, SnapshotMeta, SnapshotRecord};

const IO_BUFFER: usize = 1 << 20;
const SNAP_SUFFIX: &str = ".snap";
const TMP_SUFFIX: &str = ".tmp";

/// Makes file names unique within this process even when the clock does not move.
static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

/// Why a snapshot could not be built, read or installed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SnapshotError {
    #[error("snapshot file i/o: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The file (or its record) is damaged, truncated or not a snapshot at all.
    #[error("snapshot file is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("decoding {what}: {source}")]
    Decode {
        what: &'static str,
        source: bincode::Error,
    },
    #[error(
        "snapshot pair too large for the file format (key {key_len} B, payload {payload_len} B)"
    )]
    PairTooLarge { key_len: usize, payload_len: usize },
}

/// Bytes of pairs per batch when a received snapshot is written into the state.
const INSTALL_CHUNK_BYTES: usize = 4 << 20;

/// One group's snapshot directory and record. Cheap to clone; clones share the publish lock.
#[derive(Clone)]
pub(crate) struct Snapshots {
    store: Store,
    group: GroupId,
    dir: PathBuf,
    publish: Arc<Mutex<()>>,
}

impl Snapshots {
    pub(crate) fn new(store: Store, group: GroupId) -> Snapshots {
        let dir = store.path().join("snapshots").join(format!("g{}", group.0));
        Snapshots {
            store,
            group,
            dir,
            publish: Arc::new(Mutex::new(())),
        }
    }

    /// `<store path>/snapshots/g<id>`.
    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current record. `Err(Decode)` means a record this build cannot read.
    pub(crate) fn read_record(&self) -> Result<Option<SnapshotRecord>, SnapshotError> {
        let Some(bytes) = self.store.get(Cf::SmMeta, &keys::sm_snapshot(self.group))? else {
            return Ok(None);
        };
        decode(&bytes)
            .map(Some)
            .map_err(|source| SnapshotError::Decode {
                what: "snapshot record",
                source,
            })
    }

    /// Deletes what interrupted builds and installs left behind: every temporary file and every
    /// snapshot file the record does not name. Only while the group is not running.
    pub(crate) fn remove_leftovers(&self) -> Result<usize, SnapshotError> {
        let keep = match self.read_record() {
            Ok(r) => r.map(|r| r.file),
            Err(SnapshotError::Decode { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(self.remove_files(keep.as_deref(), true)?)
    }

    /// Builds a snapshot of the group's current applied state and makes it the current one.
    /// Returns its meta and the file, positioned at its start.
    pub(crate) fn build(&self) -> Result<(SnapshotMeta, File), SnapshotError> {
        self.ensure_dir()?;
        let view = self.store.group_state_view(self.group);
        // Read from the same point-in-time view as the pairs, so the meta matches the data.
        let applied: AppliedRecord = match view.applied()? {
            Some(b) => decode(&b).map_err(|source| SnapshotError::Decode {
                what: "applied record",
                source,
            })?,
            None => AppliedRecord::default(),
        };
        let stem = file_stem(applied.last_applied);
        let tmp = self.dir.join(format!("{stem}{TMP_SUFFIX}"));
        let written = (|| {
            let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            let mut w = SnapshotWriter::new(BufWriter::with_capacity(IO_BUFFER, file))?;
            for pair in view.pairs() {
                let (cf, key, payload) = pair?;
                w.write_pair(cf, &key, &payload)?;
            }
            let (out, summary) = w.finish()?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            Ok::<_, SnapshotError>(summary)
        })();
        drop(view);
        let record = written.map(|summary| SnapshotRecord {
            meta: SnapshotMeta {
                last_log_id: applied.last_applied,
                last_membership: applied.membership,
                snapshot_id: snapshot_id(applied.last_applied),
            },
            file: format!("{stem}{SNAP_SUFFIX}"),
            len: summary.len,
            crc32: summary.crc32,
        });
        let published = record.and_then(|record| {
            let meta = record.meta.clone();
            self.publish(&tmp, record, None).map(|file| (meta, file))
        });
        if published.is_err() {
            remove_if_present(&tmp);
        }
        let (meta, file) = published?;
        tracing::info!(group = %self.group, snapshot = %meta, "built snapshot");
        Ok((meta, file))
    }

    /// A fresh, already unlinked file for openraft to stream a received snapshot into: an
    /// abandoned transfer leaves nothing on disk.
    pub(crate) fn receive_file(&self) -> Result<File, SnapshotError> {
        self.ensure_dir()?;
        let path = self.dir.join(format!("recv-{}{TMP_SUFFIX}", unique()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        Ok(file)
    }

    /// Verifies the received snapshot `src` and replaces the group's state, applied record and
    /// snapshot record with it. Nothing changes unless the whole file checked out. Returns the
    /// new applied record.
    ///
    /// Memory stays bounded whatever the snapshot's size: the file is first verified while it
    /// is copied into this group's directory, then staged (a synced `installing` record names
    /// it), then written into the state in batches of [`INSTALL_CHUNK_BYTES`]. A crash while
    /// writing leaves the marker behind, and [`Snapshots::finish_install`] redoes the writing
    /// from the staged file when the group opens again (clearing first, so redoing is safe).
    pub(crate) fn install(
        &self,
        meta: &SnapshotMeta,
        src: File,
    ) -> Result<AppliedRecord, SnapshotError> {
        self.ensure_dir()?;
        // Named locally: the sender's snapshot id is not trusted in a path.
        let stem = file_stem(meta.last_log_id);
        let tmp = self.dir.join(format!("{stem}{TMP_SUFFIX}"));
        let verified = self.verify_copy(src, &tmp).and_then(|summary| {
            let record = SnapshotRecord {
                meta: meta.clone(),
                file: format!("{stem}{SNAP_SUFFIX}"),
                len: summary.len,
                crc32: summary.crc32,
            };
            std::fs::rename(&tmp, self.dir.join(&record.file))?;
            sync_dir(&self.dir)?;
            Ok(record)
        });
        if verified.is_err() {
            remove_if_present(&tmp);
        }
        let record = verified?;
        let record_bytes = encode(&record).map_err(|source| SnapshotError::Decode {
            what: "snapshot record",
            source,
        })?;
        let mut staged = self.store.batch();
        staged.put(Cf::SmMeta, &keys::sm_installing(self.group), &record_bytes)?;
        self.store.write(staged, true)?;
        let applied = self.write_staged(&record)?;
        tracing::info!(group = %self.group, snapshot = %meta, "installed snapshot");
        Ok(applied)
    }

    /// Reads `src` whole, checking every pair (known family, key inside this group) and the
    /// file's checksum, while copying it to `tmp` (synced). Touches no state.
    fn verify_copy(&self, mut src: File, tmp: &Path) -> Result<FileSummary, SnapshotError> {
        let len = src.metadata()?.len();
        src.seek(SeekFrom::Start(0))?;
        let copy = OpenOptions::new().write(true).create_new(true).open(tmp)?;
        let tee = Tee {
            src,
            copy: BufWriter::with_capacity(IO_BUFFER, copy),
        };
        let mut reader = SnapshotReader::new(BufReader::with_capacity(IO_BUFFER, tee), len)?;
        // A refused pair is reported only once the whole file checked out: damage that happens
        // to look like a foreign key or family must be reported as damage.
        let mut refused = None;
        while let Some((cf_id, key, _payload)) = reader.next_pair()? {
            if refused.is_some() {
                continue;
            }
            refused = Cf::from_id(cf_id)
                .ok_or(StorageError::UnknownCf(cf_id))
                .and_then(|cf| perdure_storage::check_owned(self.group, cf, &key))
                .err();
        }
        if let Some(e) = refused {
            return Err(e.into());
        }
        let summary = reader
            .summary()
            .ok_or(SnapshotError::Corrupt("missing end marker"))?;
        let tee = reader.into_inner().into_inner();
        tee.copy
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        Ok(summary)
    }

    /// Writes the staged snapshot `record` names into the group's state: clear, pairs in
    /// bounded batches (unsynced), then one synced batch with the applied record, the snapshot
    /// record and the marker's removal (syncing the WAL makes the earlier batches durable too).
    fn write_staged(&self, record: &SnapshotRecord) -> Result<AppliedRecord, SnapshotError> {
        let mut file = self.open_checked(record)?;
        file.seek(SeekFrom::Start(0))?;
        let mut reader =
            SnapshotReader::new(BufReader::with_capacity(IO_BUFFER, file), record.len)?;
        let mut batch = self.store.batch();
        batch.clear_group_state(self.group)?;
        let mut bytes = 0usize;
        while let Some((cf_id, key, payload)) = reader.next_pair()? {
            let cf = Cf::from_id(cf_id).ok_or(StorageError::UnknownCf(cf_id))?;
            bytes += key.len() + payload.len();
            batch.put_group_state(self.group, cf, &key, &payload)?;
            if bytes >= INSTALL_CHUNK_BYTES {
                self.store.write(batch, false)?;
                batch = self.store.batch();
                bytes = 0;
            }
        }
        let applied = AppliedRecord {
            last_applied: record.meta.last_log_id,
            membership: record.meta.last_membership.clone(),
        };
        let applied_bytes = encode(&applied).map_err(|source| SnapshotError::Decode {
            what: "applied record",
            source,
        })?;
        let record_bytes = encode(record).map_err(|source| SnapshotError::Decode {
            what: "snapshot record",
            source,
        })?;
        batch.put(Cf::SmMeta, &keys::sm_applied(self.group), &applied_bytes)?;
        batch.put(Cf::SmMeta, &keys::sm_snapshot(self.group), &record_bytes)?;
        batch.delete(Cf::SmMeta, &keys::sm_installing(self.group))?;
        {
            let _publishing = self.publish.lock().unwrap_or_else(PoisonError::into_inner);
            self.store.write(batch, true)?;
        }
        if let Err(e) = self.remove_files(Some(&record.file), false) {
            tracing::warn!(group = %self.group, error = %e, "could not delete older snapshot files");
        }
        Ok(applied)
    }

    /// Finishes an install that a crash interrupted (its marker is still there): writes the
    /// staged snapshot into the state again. Returns the applied record it left, or `None` when
    /// no install was pending. Only while the group is not running.
    pub(crate) fn finish_install(&self) -> Result<Option<AppliedRecord>, SnapshotError> {
        let Some(bytes) = self
            .store
            .get(Cf::SmMeta, &keys::sm_installing(self.group))?
        else {
            return Ok(None);
        };
        let record: SnapshotRecord = decode(&bytes).map_err(|source| SnapshotError::Decode {
            what: "installing record",
            source,
        })?;
        tracing::warn!(group = %self.group, snapshot = %record.meta, "finishing a snapshot install a restart interrupted");
        self.write_staged(&record).map(Some)
    }

    /// The current snapshot's meta and file, positioned at its start. Reads the record and the
    /// file's two ends, never its pairs: openraft calls this at every startup for the meta only.
    /// A record that cannot be read, or whose file is missing or does not match it, is reported
    /// and answered with `None` so that openraft rebuilds rather than serving it.
    pub(crate) fn open_current(&self) -> Result<Option<(SnapshotMeta, File)>, SnapshotError> {
        let mut record = self.read_record_reporting()?;
        // A publication may replace the record and delete its file between our read and open;
        // a changed record means "try the new one", an unchanged one means the file is bad.
        for _ in 0..3 {
            let Some(rec) = record else { return Ok(None) };
            let err = match self.open_checked(&rec) {
                Ok(file) => return Ok(Some((rec.meta, file))),
                Err(e) => e,
            };
            let again = self.read_record_reporting()?;
            if again.as_ref().map(|r| &r.file) == Some(&rec.file) {
                tracing::error!(
                    group = %self.group, file = %rec.file, snapshot = %rec.meta, error = %err,
                    "snapshot record names an unusable file; not serving it"
                );
                return Ok(None);
            }
            record = again;
        }
        tracing::warn!(group = %self.group, "snapshot kept changing while being opened");
        Ok(None)
    }

    fn read_record_reporting(&self) -> Result<Option<SnapshotRecord>, SnapshotError> {
        match self.read_record() {
            Err(e @ SnapshotError::Decode { .. }) => {
                tracing::error!(group = %self.group, error = %e, "unreadable snapshot record; ignoring it");
                Ok(None)
            }
            other => other,
        }
    }

    fn open_checked(&self, rec: &SnapshotRecord) -> Result<File, SnapshotError> {
        if !is_snapshot_file_name(&rec.file) {
            return Err(SnapshotError::Corrupt("record names an invalid file"));
        }
        let mut file = File::open(self.dir.join(&rec.file))?;
        check_ends(&mut file, rec.len, rec.crc32)?;
        Ok(file)
    }

    /// Makes the fsynced temporary file `tmp` the current snapshot described by `record`,
    /// writing the record in `batch` (an install's state) or alone (a build), then deletes every
    /// older file. Returns the published file, opened while no one could delete it.
    fn publish(
        &self,
        tmp: &Path,
        record: SnapshotRecord,
        batch: Option<InternalBatch<'_>>,
    ) -> Result<File, SnapshotError> {
        let _publishing = self.publish.lock().unwrap_or_else(PoisonError::into_inner);
        if batch.is_none() {
            // A build racing an install may finish with an older view; it must not replace
            // the installed snapshot. Its file stays readable through the handle until dropped.
            if let Ok(Some(current)) = self.read_record() {
                if current.meta.last_log_id > record.meta.last_log_id {
                    let file = File::open(tmp)?;
                    std::fs::remove_file(tmp)?;
                    return Ok(file);
                }
            }
        }
        let path = self.dir.join(&record.file);
        std::fs::rename(tmp, &path)?;
        sync_dir(&self.dir)?;
        let record_bytes = encode(&record).map_err(|source| SnapshotError::Decode {
            what: "snapshot record",
            source,
        })?;
        let mut batch = batch.unwrap_or_else(|| self.store.batch());
        batch.put(Cf::SmMeta, &keys::sm_snapshot(self.group), &record_bytes)?;
        // Synced: older files are deleted next, and the log below this snapshot may be purged.
        self.store.write(batch, true)?;
        let file = File::open(&path)?;
        if let Err(e) = self.remove_files(Some(&record.file), false) {
            tracing::warn!(group = %self.group, error = %e, "could not delete older snapshot files");
        }
        Ok(file)
    }

    /// Deletes every snapshot file except `keep`, and temporary files too when `with_tmp`.
    fn remove_files(&self, keep: Option<&str>, with_tmp: bool) -> io::Result<usize> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let stale = (name.ends_with(SNAP_SUFFIX) && Some(name) != keep)
                || (with_tmp && name.ends_with(TMP_SUFFIX));
            if stale {
                std::fs::remove_file(entry.path())?;
                tracing::debug!(group = %self.group, file = name, "removed snapshot file");
                removed += 1;
            }
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Creates the directory and makes its existence durable up to the store directory.
    fn ensure_dir(&self) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        sync_dir(&self.dir)?;
        if let Some(parent) = self.dir.parent() {
            sync_dir(parent)?;
        }
        sync_dir(self.store.path())
    }
}

/// Copies everything read from `src` into `copy`, so an install verifies and keeps the received
/// file in one pass.
struct Tee {
    src: File,
    copy: BufWriter<File>,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.src.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn remove_if_present(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "could not remove temporary snapshot file");
        }
    }
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos}-{}", NEXT_FILE.fetch_add(1, Ordering::Relaxed))
}

/// `<last index>-<unique>`: sorts by log position in a listing, unique per process and clock.
fn file_stem(last: Option<NodeLogId>) -> String {
    let index = last.map_or(0, |l| l.index);
    format!("{index:020}-{}", unique())
}

/// Only names this module generates: a record is checksummed, but must still never steer a
/// path outside the group's directory.
fn is_snapshot_file_name(name: &str) -> bool {
    name.strip_suffix(SNAP_SUFFIX).is_some_and(|stem| {
        !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit() || b == b'-')
    })
}

/// Snapshot ids only need to be unique, so they are the one place a clock is allowed; they are
/// never applied.
fn snapshot_id(last: Option<NodeLogId>) -> String {
    match last {
        Some(l) => format!(
            "{}-{}-{}-{}",
            l.leader_id.term,
            l.leader_id.node_id,
            l.index,
            unique()
        ),
        None => format!("empty-{}", unique()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use openraft::{CommittedLeaderId, LogId};
    use perdure_storage::{Op, WriteBatch};

    use super::*;
    use crate::snapshot_format::verify;

    const G: GroupId = GroupId(1);
    const OTHER: GroupId = GroupId(2);

    fn log_id(index: u64) -> NodeLogId {
        LogId::new(CommittedLeaderId::new(1, 1), index)
    }

    /// Applies `n` writes to `g` spread over several families, as log entries `from..from+n`.
    fn populate(store: &Store, g: GroupId, from: u64, n: u64, tag: &str) {
        for i in from..from + n {
            let applied = AppliedRecord {
                last_applied: Some(log_id(i)),
                ..Default::default()
            };
            let batch = WriteBatch {
                checks: vec![],
                ops: vec![
                    Op::Put {
                        cf: Cf::Executions,
                        key: keys::execution(g, "ns", &format!("wf-{i}"), "run"),
                        value: format!("{tag}-state-{i}").repeat(10).into_bytes(),
                    },
                    Op::Put {
                        cf: Cf::History,
                        key: keys::history_event(g, "ns", &format!("wf-{i}"), "run", 1),
                        value: format!("{tag}-event-{i}").into_bytes(),
                    },
                    Op::Put {
                        cf: Cf::ShardMeta,
                        key: keys::shard_meta(g),
                        value: tag.as_bytes().to_vec(),
                    },
                ],
            };
            store.apply(g, &encode(&applied).unwrap(), &batch).unwrap();
        }
    }

    fn state(store: &Store, g: GroupId) -> Vec<perdure_storage::StatePair> {
        store
            .group_state_view(g)
            .pairs()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn applied(store: &Store, g: GroupId) -> Option<AppliedRecord> {
        store
            .get(Cf::SmMeta, &keys::sm_applied(g))
            .unwrap()
            .map(|b| decode(&b).unwrap())
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    fn flip_byte(path: &Path, at: u64) {
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        let mut b = [0];
        f.seek(SeekFrom::Start(at)).unwrap();
        f.read_exact(&mut b).unwrap();
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(&[b[0] ^ 0x20]).unwrap();
        f.sync_all().unwrap();
    }

    #[test]
    fn build_streams_a_matching_file_and_reopen_reads_only_its_ends() {
        let dir = tempfile::tempdir().unwrap();
        let built_meta;
        let record;
        {
            let store = Store::open(dir.path()).unwrap();
            populate(&store, G, 1, 2_000, "a");
            populate(&store, OTHER, 1, 3, "b");
            let snaps = Snapshots::new(store.clone(), G);
            let (meta, mut file) = snaps.build().unwrap();
            assert_eq!(meta.last_log_id, Some(log_id(2_000)));
            record = snaps.read_record().unwrap().unwrap();
            assert_eq!(record.meta, meta);
            assert_eq!(snaps.dir(), dir.path().join("snapshots").join("g1"));
            assert_eq!(files(snaps.dir()), vec![record.file.clone()]);
            // The file holds exactly the group's state, and the record its length and checksum.
            let summary = verify(&mut file).unwrap();
            assert_eq!((summary.len, summary.crc32), (record.len, record.crc32));
            assert_eq!(summary.pairs, state(&store, G).len() as u64);
            assert!(
                record.len > 100_000,
                "file unexpectedly small: {}",
                record.len
            );
            built_meta = meta;
        }

        // Restart: the record gives the meta and the file is opened, not read.
        let store = Store::open(dir.path()).unwrap();
        let snaps = Snapshots::new(store, G);
        assert_eq!(snaps.remove_leftovers().unwrap(), 0);
        let (meta, mut file) = snaps.open_current().unwrap().unwrap();
        assert_eq!(meta, built_meta);
        assert_eq!(file.stream_position().unwrap(), 0);
        let on_disk = std::fs::metadata(snaps.dir().join(&record.file)).unwrap();
        assert_eq!(file.metadata().unwrap().ino(), on_disk.ino());
        // Proof that opening skips the pairs: damage in the middle goes unnoticed here (the
        // receiver's full check catches it, see `corrupt_files_are_reported_and_never_installed`).
        flip_byte(&snaps.dir().join(&record.file), record.len / 2);
        assert!(snaps.open_current().unwrap().is_some());
        assert!(matches!(verify(&mut file), Err(SnapshotError::Corrupt(_))));
    }

    #[test]
    fn an_install_cut_short_is_finished_when_the_group_opens_again() {
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = Store::open(dir_a.path()).unwrap();
        let b = Store::open(dir_b.path()).unwrap();
        populate(&a, G, 1, 300, "leader");
        populate(&b, G, 200, 400, "stale");
        let (meta, file) = Snapshots::new(a.clone(), G).build().unwrap();
        let rec_a = Snapshots::new(a.clone(), G).read_record().unwrap().unwrap();

        // What `install` has done when a crash hits while it writes pairs: the file is verified
        // and staged, the marker is durable, and the state is half old, half new.
        let snaps_b = Snapshots::new(b.clone(), G);
        snaps_b.ensure_dir().unwrap();
        let tmp = snaps_b.dir().join("cut.tmp");
        snaps_b.verify_copy(file, &tmp).unwrap();
        std::fs::rename(&tmp, snaps_b.dir().join(&rec_a.file)).unwrap();
        let mut staged = b.batch();
        staged
            .put(
                Cf::SmMeta,
                &keys::sm_installing(G),
                &encode(&rec_a).unwrap(),
            )
            .unwrap();
        b.write(staged, true).unwrap();
        populate(&b, G, 1, 50, "leader");
        assert_ne!(state(&b, G), state(&a, G));
        assert_eq!(snaps_b.read_record().unwrap(), None, "not yet published");

        // Reopening finishes it: the state is the snapshot's exactly, the marker is gone.
        let reopened = Snapshots::new(b.clone(), G);
        let applied_b = reopened
            .finish_install()
            .unwrap()
            .expect("an install was pending");
        assert_eq!(applied_b.last_applied, meta.last_log_id);
        assert_eq!(state(&b, G), state(&a, G));
        assert_eq!(applied(&b, G), Some(applied_b));
        assert_eq!(b.get(Cf::SmMeta, &keys::sm_installing(G)).unwrap(), None);
        assert_eq!(
            reopened.finish_install().unwrap(),
            None,
            "nothing left to finish"
        );
        let (current, _) = reopened.open_current().unwrap().unwrap();
        assert_eq!(current, meta);
    }

    #[test]
    fn build_install_round_trip_reproduces_the_group_exactly() {
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = Store::open(dir_a.path()).unwrap();
        let b = Store::open(dir_b.path()).unwrap();
        populate(&a, G, 1, 300, "leader");
        populate(&a, OTHER, 1, 5, "leader-other");
        // The follower holds different, partly overlapping state for G, and its own OTHER.
        populate(&b, G, 200, 400, "stale");
        populate(&b, OTHER, 1, 7, "follower-other");
        let other_before = state(&b, OTHER);

        let (meta, file) = Snapshots::new(a.clone(), G).build().unwrap();
        let snaps_b = Snapshots::new(b.clone(), G);
        let installed = snaps_b.install(&meta, file).unwrap();

        assert_eq!(state(&b, G), state(&a, G));
        assert_eq!(state(&b, G).len(), 300 * 2 + 1);
        assert_eq!(state(&b, OTHER), other_before);
        assert_eq!(applied(&b, G), Some(installed.clone()));
        assert_eq!(installed.last_applied, Some(log_id(300)));
        // The follower keeps its own byte-identical copy and serves it as current.
        let rec_a = Snapshots::new(a.clone(), G).read_record().unwrap().unwrap();
        let rec_b = snaps_b.read_record().unwrap().unwrap();
        assert_eq!((rec_b.len, rec_b.crc32), (rec_a.len, rec_a.crc32));
        assert_eq!(files(snaps_b.dir()), vec![rec_b.file.clone()]);
        let (current, _) = snaps_b.open_current().unwrap().unwrap();
        assert_eq!(current, meta);

        // A received file (as openraft streams it) installs the same way; nothing of the
        // unlinked receive file stays behind.
        let mut recv = snaps_b.receive_file().unwrap();
        assert_eq!(files(snaps_b.dir()), vec![rec_b.file.clone()]);
        let mut src = File::open(snaps_b.dir().join(&rec_b.file)).unwrap();
        io::copy(&mut src, &mut recv).unwrap();
        let c_dir = tempfile::tempdir().unwrap();
        let c = Store::open(c_dir.path()).unwrap();
        Snapshots::new(c.clone(), G).install(&meta, recv).unwrap();
        assert_eq!(state(&c, G), state(&a, G));
    }

    #[test]
    fn corrupt_files_are_reported_and_never_installed() {
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = Store::open(dir_a.path()).unwrap();
        populate(&a, G, 1, 50, "leader");
        let snaps_a = Snapshots::new(a.clone(), G);
        let (meta, _) = snaps_a.build().unwrap();
        let rec = snaps_a.read_record().unwrap().unwrap();
        let path = snaps_a.dir().join(&rec.file);

        // A flipped byte anywhere in the pairs fails the receiver's checksum; the follower's
        // state, applied record and snapshot are untouched and no temporary file remains.
        let b = Store::open(dir_b.path()).unwrap();
        populate(&b, G, 1, 10, "follower");
        let snaps_b = Snapshots::new(b.clone(), G);
        snaps_b.build().unwrap();
        let (state_b, applied_b) = (state(&b, G), applied(&b, G));
        let rec_b = snaps_b.read_record().unwrap();
        let pristine = std::fs::read(&path).unwrap();
        for at in [20, rec.len / 2, rec.len - 6] {
            flip_byte(&path, at);
            let err = snaps_b
                .install(&meta, File::open(&path).unwrap())
                .unwrap_err();
            assert!(matches!(err, SnapshotError::Corrupt(_)), "{at}: {err}");
            std::fs::write(&path, &pristine).unwrap();
        }
        assert_eq!(state(&b, G), state_b);
        assert_eq!(applied(&b, G), applied_b);
        assert_eq!(snaps_b.read_record().unwrap(), rec_b);
        assert_eq!(files(snaps_b.dir()).len(), 1);

        // The leader side: a truncated, replaced or missing file is reported as no snapshot.
        assert!(snaps_a.open_current().unwrap().is_some());
        std::fs::write(&path, &pristine[..pristine.len() - 1]).unwrap();
        assert!(snaps_a.open_current().unwrap().is_none());
        let mut other_crc = pristine.clone();
        let n = other_crc.len();
        other_crc[n - 1] ^= 1;
        std::fs::write(&path, &other_crc).unwrap();
        assert!(snaps_a.open_current().unwrap().is_none());
        std::fs::remove_file(&path).unwrap();
        assert!(snaps_a.open_current().unwrap().is_none());
        // A rebuild replaces the bad record.
        snaps_a.build().unwrap();
        assert!(snaps_a.open_current().unwrap().is_some());

        // A record naming a path outside the directory is refused, not followed.
        let mut bad = snaps_a.read_record().unwrap().unwrap();
        bad.file = "../../sm_meta.snap".into();
        let mut batch = a.batch();
        batch
            .put(Cf::SmMeta, &keys::sm_snapshot(G), &encode(&bad).unwrap())
            .unwrap();
        a.write(batch, true).unwrap();
        assert!(snaps_a.open_current().unwrap().is_none());
    }

    #[test]
    fn older_and_leftover_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let snaps = Snapshots::new(store.clone(), G);
        for round in 0..3 {
            populate(&store, G, round * 10 + 1, 10, "x");
            snaps.build().unwrap();
            let rec = snaps.read_record().unwrap().unwrap();
            assert_eq!(rec.meta.last_log_id, Some(log_id(round * 10 + 10)));
            assert_eq!(files(snaps.dir()), vec![rec.file]);
        }
        let rec = snaps.read_record().unwrap().unwrap();

        // What a crash mid-build leaves: a temporary file and a renamed but unrecorded file.
        std::fs::write(snaps.dir().join("00000000000000000099-1-1.tmp"), b"partial").unwrap();
        std::fs::write(snaps.dir().join("00000000000000000099-1-2.snap"), b"orphan").unwrap();
        let reopened = Snapshots::new(store.clone(), G);
        // The old record and its file are still the current snapshot.
        assert_eq!(reopened.open_current().unwrap().unwrap().0, rec.meta);
        assert_eq!(reopened.remove_leftovers().unwrap(), 2);
        assert_eq!(files(snaps.dir()), vec![rec.file.clone()]);

        // A build in progress elsewhere is never deleted by a publication.
        std::fs::write(
            snaps.dir().join("00000000000000000099-1-3.tmp"),
            b"building",
        )
        .unwrap();
        snaps.build().unwrap();
        let newest = snaps.read_record().unwrap().unwrap();
        let mut expected = vec!["00000000000000000099-1-3.tmp".to_string(), newest.file];
        expected.sort();
        assert_eq!(files(snaps.dir()), expected);
    }
}
