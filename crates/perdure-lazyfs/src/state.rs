//! What the filesystem does, apart from FUSE: a passthrough of the backing directory in which
//! the data of regular files goes through an [`Overlay`](crate::overlay::Overlay) (held in
//! memory until the file is fsynced), and the crash that drops every overlay's changes
//! ([`State::crash`]).
//!
//! What is lazy and what is not: file data, truncations and extensions (`write`, `truncate`,
//! `ftruncate`, `fallocate`, `O_TRUNC`) stay in memory until `fsync`/`fdatasync` of that file
//! (FUSE sends both as FSYNC; `sync_file_range` and `close` never reach a FUSE filesystem as a
//! sync, and are not durability here either). Metadata operations (create, mknod, mkdir,
//! unlink, rmdir, rename, link, symlink, chmod, chown, utimens) go to the backing directory at
//! once, and `fsyncdir` is a no-op: a weaker fault than LazyFS's, which can also lose directory
//! entries whose directory was never fsynced. A created file whose data was never fsynced
//! survives a crash empty.
//!
//! What RocksDB (Perdure's store, default options) needs of it: `fdatasync` (`fsync` with
//! `use_fsync`) of the WAL, table files, MANIFEST and CURRENT's temporary file (FUSE FSYNC with
//! or without its datasync flag: durable here either way); `sync_file_range` is not used by
//! default (`bytes_per_sync` is 0) and never reaches a FUSE filesystem anyway; `fallocate`
//! (KEEP_SIZE preallocation, PUNCH_HOLE at close) is modelled in the overlay; no `O_DIRECT` and
//! no mmap reads by default; the `LOCK` file's `fcntl` lock is kept by the kernel (no lock
//! support is negotiated, so locks are local to the machine: enough, one process per data
//! directory); `rename` over CURRENT and `fsync` of directories work (the latter is a no-op);
//! `statfs` is the backing filesystem's.
//!
//! Owns: every operation on the backing directory, the overlays' use, open file and directory
//! handles, and the crash. Must never: write file data to the backing directory except in
//! fsync (through [`Overlay::sync`](crate::overlay::Overlay::sync)); do file I/O while holding
//! the inode table's lock (a file's reads, writes and syncs hold only its own overlay lock; the
//! table lock is held for metadata calls, which are short); know about FUSE replies (fs.rs
//! does).

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, DirEntryExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{Errno, FileAttr, FileType, INodeNo, TimeOrNow};

use crate::inodes::{join, kind_of, lock, FileCell, Table, R};
use crate::Error;

/// An open directory's listing: (inode shown, kind, name).
pub(crate) type Listing = Vec<(u64, FileType, OsString)>;

/// What a crash dropped, or what is unsynced now.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Unsynced {
    /// Dirty bytes (see [`Overlay::dirty_bytes`](crate::overlay::Overlay::dirty_bytes)).
    pub bytes: u64,
    /// Files with any unsynced change (data or size).
    pub files: u64,
}

fn time(secs: i64, nsecs: i64) -> SystemTime {
    let nanos = Duration::from_nanos(nsecs.clamp(0, 999_999_999) as u64);
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64) + nanos
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + nanos
    }
}

fn attr(ino: u64, meta: &fs::Metadata, size: Option<u64>) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: size.unwrap_or(meta.len()),
        blocks: meta.blocks(),
        atime: time(meta.atime(), meta.atime_nsec()),
        mtime: time(meta.mtime(), meta.mtime_nsec()),
        ctime: time(meta.ctime(), meta.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind: kind_of(meta),
        perm: (meta.mode() & 0o7777) as u16,
        nlink: meta.nlink() as u32,
        uid: meta.uid(),
        gid: meta.gid(),
        rdev: meta.rdev() as u32,
        blksize: 4096,
        flags: 0,
    }
}

fn cstring(path: &Path) -> R<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

fn last_os_error() -> Errno {
    Errno::from(io::Error::last_os_error())
}

fn timespec(t: Option<TimeOrNow>) -> libc::timespec {
    match t {
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        Some(TimeOrNow::Now) => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        Some(TimeOrNow::SpecificTime(t)) => {
            let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
            libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            }
        }
    }
}

/// Opens a backing regular file for the overlay: read-write if allowed, else read-only (its
/// fsync will then fail with EBADF).
fn open_backing(path: &Path) -> io::Result<File> {
    let flags = libc::O_NOFOLLOW;
    match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(flags)
        .open(path)
    {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EROFS)) => {
            OpenOptions::new().read(true).custom_flags(flags).open(path)
        }
        other => other,
    }
}

/// Everything the filesystem and the control socket share.
pub struct State {
    root: PathBuf,
    table: Mutex<Table>,
    handles: Mutex<HashMap<u64, (u64, Arc<FileCell>)>>,
    dirs: Mutex<HashMap<u64, Listing>>,
    next_fh: AtomicU64,
    /// Test mode: fsync of a file whose name ends with one of these does nothing (see
    /// [`State::ignore_fsync_of`]).
    ignored_suffixes: Vec<OsString>,
}

impl State {
    /// The state of a mount over `backing` (an existing directory).
    pub fn new(backing: &Path) -> Result<State, Error> {
        let backing_err = |source| Error::Backing {
            path: backing.to_path_buf(),
            source,
        };
        let root = fs::canonicalize(backing).map_err(backing_err)?;
        let meta = fs::metadata(&root).map_err(backing_err)?;
        if !meta.is_dir() {
            return Err(backing_err(io::Error::from_raw_os_error(libc::ENOTDIR)));
        }
        let key = (meta.dev(), meta.ino());
        Ok(State {
            root,
            table: Mutex::new(Table::new(key)),
            handles: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            ignored_suffixes: Vec::new(),
        })
    }

    /// For the suite's own tests only: from now on an fsync of a file whose name ends with
    /// `suffix` answers success and syncs nothing, so its data stays unsynced (and a crash drops
    /// it): a disk standing in for a server that skips those fsyncs, which a check of
    /// acknowledged writes must then catch.
    pub fn ignore_fsync_of(&mut self, suffix: OsString) {
        self.ignored_suffixes.push(suffix);
    }

    fn fsync_ignored(&self, fh: u64) -> bool {
        if self.ignored_suffixes.is_empty() {
            return false;
        }
        let Some(ino) = lock(&self.handles).get(&fh).map(|(ino, _)| *ino) else {
            return false;
        };
        let table = lock(&self.table);
        let Ok(node) = table.node(ino) else {
            return false;
        };
        let name = node.rel.as_os_str().as_bytes();
        self.ignored_suffixes
            .iter()
            .any(|s| name.ends_with(s.as_bytes()))
    }

    fn path(&self, rel: &Path) -> PathBuf {
        join(&self.root, rel)
    }

    fn fh(&self) -> u64 {
        self.next_fh.fetch_add(1, Ordering::Relaxed)
    }

    /// A crash: every file's unsynced changes are forgotten; each file is its backing file
    /// again. Returns what was dropped and the inodes whose content changed (for the kernel to
    /// forget their attributes). Waits for a sync in progress (it completes first: it was
    /// acknowledged before the crash).
    pub fn crash(&self) -> (Unsynced, Vec<u64>) {
        let mut table = lock(&self.table);
        let mut dropped = Unsynced::default();
        let mut changed = Vec::new();
        for (&ino, node) in &table.nodes {
            let Some(cell) = &node.cell else { continue };
            let mut overlay = lock(&cell.overlay);
            if !overlay.is_dirty() {
                continue;
            }
            let len = match cell.file.metadata() {
                Ok(m) => m.len(),
                Err(e) => {
                    tracing::warn!(ino, error = %e, "fstat of a backing file failed in a crash");
                    0
                }
            };
            let bytes = overlay.crash(len);
            let file = node.rel.display();
            tracing::info!(ino, %file, bytes, size = len, "dropped unsynced changes");
            dropped.files += 1;
            dropped.bytes += bytes;
            cell.size.store(len, Ordering::Release);
            changed.push(ino);
        }
        let inos: Vec<u64> = table.nodes.keys().copied().collect();
        for ino in inos {
            table.tidy(ino);
        }
        (dropped, changed)
    }

    /// What a crash would drop now.
    pub fn unsynced(&self) -> Unsynced {
        let table = lock(&self.table);
        let mut now = Unsynced::default();
        for node in table.nodes.values() {
            if let Some(cell) = &node.cell {
                let overlay = lock(&cell.overlay);
                if overlay.is_dirty() {
                    now.files += 1;
                    now.bytes += overlay.dirty_bytes();
                }
            }
        }
        now
    }

    pub(crate) fn getattr(&self, ino: u64) -> R<FileAttr> {
        let (rel, key, cell) = {
            let table = lock(&self.table);
            let node = table.node(ino)?;
            (node.rel.clone(), node.key, node.cell.clone())
        };
        if let Some(cell) = cell {
            let meta = cell.file.metadata()?;
            return Ok(attr(ino, &meta, Some(cell.size.load(Ordering::Acquire))));
        }
        let meta = fs::symlink_metadata(self.path(&rel))?;
        if key != Some((meta.dev(), meta.ino())) {
            return Err(Errno::ENOENT); // its name is gone or names another file now
        }
        Ok(attr(ino, &meta, None))
    }

    /// Looks `name` up in `parent` (one more kernel reference on success).
    fn lookup(&self, table: &mut Table, parent: u64, name: &OsStr) -> R<FileAttr> {
        let rel = table.child(parent, name)?;
        let meta = fs::symlink_metadata(self.path(&rel))?;
        let ino = table.learn(rel, &meta);
        let node = table.node_mut(ino)?;
        node.lookups += 1;
        let size = node.cell.as_ref().map(|c| c.size.load(Ordering::Acquire));
        Ok(attr(ino, &meta, size))
    }

    /// The file cell of regular file `ino`, opened if it has none.
    fn cell(&self, table: &mut Table, ino: u64) -> R<Arc<FileCell>> {
        let root = self.root.clone();
        let node = table.node_mut(ino)?;
        if node.kind != FileType::RegularFile {
            return Err(if node.kind == FileType::Directory {
                Errno::EISDIR
            } else {
                Errno::EINVAL
            });
        }
        if let Some(cell) = &node.cell {
            return Ok(cell.clone());
        }
        if node.key.is_none() {
            return Err(Errno::ENOENT); // its name is gone: the path may be another file's now
        }
        let cell = FileCell::new(open_backing(&join(&root, &node.rel))?)?;
        node.cell = Some(cell.clone());
        Ok(cell)
    }

    fn handle(&self, fh: u64) -> R<Arc<FileCell>> {
        lock(&self.handles)
            .get(&fh)
            .map(|(_, c)| c.clone())
            .ok_or(Errno::EBADF)
    }

    pub(crate) fn open(&self, ino: u64) -> R<u64> {
        let mut table = lock(&self.table);
        let cell = self.cell(&mut table, ino)?;
        table.node_mut(ino)?.open += 1;
        let fh = self.fh();
        lock(&self.handles).insert(fh, (ino, cell));
        Ok(fh)
    }

    pub(crate) fn release(&self, fh: u64) {
        let Some((ino, _cell)) = lock(&self.handles).remove(&fh) else {
            return;
        };
        let mut table = lock(&self.table);
        if let Ok(node) = table.node_mut(ino) {
            node.open = node.open.saturating_sub(1);
        }
        table.tidy(ino);
    }

    pub(crate) fn create(
        &self,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
    ) -> R<(FileAttr, u64)> {
        let mut table = lock(&self.table);
        let rel = table.child(parent, name)?;
        let mut opts = OpenOptions::new();
        opts.read(true)
            .write(true)
            .mode(mode & !umask & 0o7777)
            .custom_flags(libc::O_NOFOLLOW);
        if flags & libc::O_EXCL != 0 {
            opts.create_new(true);
        } else {
            opts.create(true);
        }
        // Never O_TRUNC on the backing file: a truncation is lazy like any write (below).
        let file = opts.open(self.path(&rel))?;
        let meta = file.metadata()?;
        let ino = table.learn(rel, &meta);
        let node = table.node_mut(ino)?;
        node.lookups += 1;
        node.open += 1;
        let cell = match &node.cell {
            Some(cell) => cell.clone(),
            None => {
                let cell = FileCell::new(file)?;
                node.cell = Some(cell.clone());
                cell
            }
        };
        if flags & libc::O_TRUNC != 0 {
            let mut overlay = lock(&cell.overlay);
            overlay.set_size(0);
            cell.size.store(0, Ordering::Release);
        }
        let size = cell.size.load(Ordering::Acquire);
        let fh = self.fh();
        lock(&self.handles).insert(fh, (ino, cell));
        Ok((attr(ino, &meta, Some(size)), fh))
    }

    pub(crate) fn read(&self, fh: u64, offset: u64, size: u32) -> R<Vec<u8>> {
        let cell = self.handle(fh)?;
        let overlay = lock(&cell.overlay);
        Ok(overlay.read(&cell.file, offset, size as usize)?)
    }

    pub(crate) fn write(&self, fh: u64, offset: u64, data: &[u8]) -> R<u32> {
        let cell = self.handle(fh)?;
        let mut overlay = lock(&cell.overlay);
        overlay.write(&cell.file, offset, data)?;
        cell.size.store(overlay.size(), Ordering::Release);
        Ok(data.len() as u32)
    }

    pub(crate) fn fsync(&self, fh: u64, datasync: bool) -> R<()> {
        let cell = self.handle(fh)?;
        if self.fsync_ignored(fh) {
            return Ok(());
        }
        let mut overlay = lock(&cell.overlay);
        match overlay.sync(&cell.file, datasync) {
            Ok(_) => {
                cell.size.store(overlay.size(), Ordering::Release);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "fsync of a backing file failed");
                Err(e.into())
            }
        }
    }

    pub(crate) fn fallocate(&self, fh: u64, offset: u64, length: u64, mode: i32) -> R<()> {
        const KNOWN: i32 =
            libc::FALLOC_FL_KEEP_SIZE | libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_ZERO_RANGE;
        if mode & !KNOWN != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let cell = self.handle(fh)?;
        let mut overlay = lock(&cell.overlay);
        if mode & (libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_ZERO_RANGE) != 0 {
            overlay.zero_range(&cell.file, offset, length)?;
        }
        // Without KEEP_SIZE the file grows to cover the range (space itself is not reserved).
        let end = offset.checked_add(length).ok_or(Errno::EFBIG)?;
        if mode & libc::FALLOC_FL_KEEP_SIZE == 0 && end > overlay.size() {
            overlay.set_size(end);
        }
        cell.size.store(overlay.size(), Ordering::Release);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn setattr(
        &self,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        fh: Option<u64>,
    ) -> R<FileAttr> {
        let (path, cell) = {
            let mut table = lock(&self.table);
            let cell = match (fh, size) {
                (Some(fh), _) => Some(self.handle(fh)?),
                (None, Some(_)) => Some(self.cell(&mut table, ino)?),
                (None, None) => table.node(ino)?.cell.clone(),
            };
            (self.path(&table.node(ino)?.rel), cell)
        };
        if let Some(size) = size {
            let cell = cell.as_ref().ok_or(Errno::EINVAL)?;
            let mut overlay = lock(&cell.overlay);
            overlay.set_size(size);
            cell.size.store(size, Ordering::Release);
        }
        if let Some(mode) = mode {
            let perm = fs::Permissions::from_mode(mode & 0o7777);
            match &cell {
                Some(c) => c.file.set_permissions(perm)?,
                None => fs::set_permissions(&path, perm)?,
            }
        }
        if uid.is_some() || gid.is_some() {
            match &cell {
                Some(c) => std::os::unix::fs::fchown(&c.file, uid, gid)?,
                None => std::os::unix::fs::lchown(&path, uid, gid)?,
            }
        }
        if atime.is_some() || mtime.is_some() {
            let times = [timespec(atime), timespec(mtime)];
            let rc = match &cell {
                // SAFETY: a valid descriptor and a two-element array, as futimens requires.
                Some(c) => unsafe {
                    libc::futimens(std::os::fd::AsRawFd::as_raw_fd(&c.file), times.as_ptr())
                },
                None => {
                    let p = cstring(&path)?;
                    // SAFETY: a NUL-terminated path and a two-element array.
                    unsafe {
                        libc::utimensat(
                            libc::AT_FDCWD,
                            p.as_ptr(),
                            times.as_ptr(),
                            libc::AT_SYMLINK_NOFOLLOW,
                        )
                    }
                }
            };
            if rc != 0 {
                return Err(last_os_error());
            }
        }
        self.getattr(ino)
    }

    /// A metadata call that creates `name` in `parent`, then its entry (one kernel reference).
    fn make(
        &self,
        parent: u64,
        name: &OsStr,
        make: impl FnOnce(&Path) -> io::Result<()>,
    ) -> R<FileAttr> {
        let mut table = lock(&self.table);
        let rel = table.child(parent, name)?;
        make(&self.path(&rel))?;
        self.lookup(&mut table, parent, name)
    }

    pub(crate) fn remove(&self, parent: u64, name: &OsStr, dir: bool) -> R<()> {
        let mut table = lock(&self.table);
        let path = self.path(&table.child(parent, name)?);
        let meta = fs::symlink_metadata(&path)?;
        if dir {
            fs::remove_dir(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
        if dir || meta.nlink() <= 1 {
            table.detach((meta.dev(), meta.ino()));
        }
        Ok(())
    }

    pub(crate) fn rename(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
    ) -> R<()> {
        let mut table = lock(&self.table);
        let from = table.child(parent, name)?;
        let to = table.child(newparent, newname)?;
        let (from_path, to_path) = (self.path(&from), self.path(&to));
        let src = fs::symlink_metadata(&from_path)?;
        let dst = fs::symlink_metadata(&to_path).ok();
        if flags == 0 {
            fs::rename(&from_path, &to_path)?;
        } else {
            let (a, b) = (cstring(&from_path)?, cstring(&to_path)?);
            // SAFETY: NUL-terminated paths; renameat2 only reads them.
            let rc = unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    a.as_ptr(),
                    libc::AT_FDCWD,
                    b.as_ptr(),
                    flags,
                )
            };
            if rc != 0 {
                return Err(last_os_error());
            }
        }
        let same = dst
            .as_ref()
            .is_some_and(|d| (d.dev(), d.ino()) == (src.dev(), src.ino()));
        if same {
            return Ok(()); // two names of one inode: rename does nothing
        }
        let swap = flags & libc::RENAME_EXCHANGE != 0;
        if let (Some(d), false) = (&dst, swap) {
            // The replaced file lost a name; an emptied directory or a last name: gone.
            if d.is_dir() || d.nlink() <= 1 {
                table.detach((d.dev(), d.ino()));
            }
        }
        table.moved(&from, &to, swap);
        Ok(())
    }

    pub(crate) fn link(&self, ino: u64, newparent: u64, newname: &OsStr) -> R<FileAttr> {
        let mut table = lock(&self.table);
        let src = self.path(&table.node(ino)?.rel);
        let dst = self.path(&table.child(newparent, newname)?);
        fs::hard_link(&src, &dst)?;
        self.lookup(&mut table, newparent, newname)
    }

    pub(crate) fn opendir(&self, ino: u64) -> R<u64> {
        let (path, parent_key) = {
            let table = lock(&self.table);
            let node = table.node(ino)?;
            if node.kind != FileType::Directory {
                return Err(Errno::ENOTDIR);
            }
            (self.path(&node.rel), node.key)
        };
        let dev = parent_key.map(|k| k.0).unwrap_or(0);
        let mut entries = vec![
            (ino, FileType::Directory, OsString::from(".")),
            (ino, FileType::Directory, OsString::from("..")),
        ];
        let mut listed = Vec::new();
        for entry in fs::read_dir(&path)? {
            let entry = entry?;
            let kind = entry
                .file_type()
                .ok()
                .and_then(FileType::from_std)
                .unwrap_or(FileType::RegularFile);
            listed.push((entry.ino(), kind, entry.file_name()));
        }
        {
            // d_ino is informational (the kernel looks names up): ours where known.
            let table = lock(&self.table);
            for (backing_ino, kind, name) in listed {
                let ino = table
                    .by_key
                    .get(&(dev, backing_ino))
                    .copied()
                    .unwrap_or(backing_ino);
                entries.push((ino, kind, name));
            }
        }
        let fh = self.fh();
        lock(&self.dirs).insert(fh, entries);
        Ok(fh)
    }

    /// Looks `name` up in `parent` (one more kernel reference on success).
    pub(crate) fn lookup_entry(&self, parent: u64, name: &OsStr) -> R<FileAttr> {
        let mut table = lock(&self.table);
        self.lookup(&mut table, parent, name)
    }

    /// The kernel dropped `nlookup` references to `ino`.
    pub(crate) fn forget(&self, ino: u64, nlookup: u64) {
        let mut table = lock(&self.table);
        if let Ok(node) = table.node_mut(ino) {
            node.lookups = node.lookups.saturating_sub(nlookup);
        }
        table.tidy(ino);
    }

    pub(crate) fn readlink(&self, ino: u64) -> R<PathBuf> {
        let rel = lock(&self.table).node(ino)?.rel.clone();
        Ok(fs::read_link(self.path(&rel))?)
    }

    /// Permissions are the kernel's (default_permissions): this only says `ino` exists.
    pub(crate) fn exists(&self, ino: u64) -> R<()> {
        lock(&self.table).node(ino).map(|_| ())
    }

    pub(crate) fn mknod(&self, parent: u64, name: &OsStr, mode: u32, rdev: u32) -> R<FileAttr> {
        self.make(parent, name, |path| {
            let p = CString::new(path.as_os_str().as_bytes())
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            // SAFETY: a NUL-terminated path.
            let rc = unsafe { libc::mknod(p.as_ptr(), mode, rdev as libc::dev_t) };
            if rc == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        })
    }

    pub(crate) fn mkdir(&self, parent: u64, name: &OsStr, mode: u32) -> R<FileAttr> {
        self.make(parent, name, |path| {
            fs::DirBuilder::new().mode(mode).create(path)
        })
    }

    pub(crate) fn symlink(&self, parent: u64, name: &OsStr, target: &Path) -> R<FileAttr> {
        self.make(parent, name, |path| {
            std::os::unix::fs::symlink(target, path)
        })
    }

    /// The entries of open directory `fh` from index `offset` on.
    pub(crate) fn listing(&self, fh: u64, offset: u64) -> R<Listing> {
        let dirs = lock(&self.dirs);
        let entries = dirs.get(&fh).ok_or(Errno::EBADF)?;
        Ok(entries.iter().skip(offset as usize).cloned().collect())
    }

    pub(crate) fn releasedir(&self, fh: u64) {
        lock(&self.dirs).remove(&fh);
    }

    /// The backing filesystem's statistics.
    pub(crate) fn statfs(&self) -> R<libc::statvfs> {
        let p = cstring(&self.root)?;
        // SAFETY: zeroed is a valid statvfs; statvfs fills it from a NUL-terminated path.
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(p.as_ptr(), &mut s) } != 0 {
            return Err(last_os_error());
        }
        Ok(s)
    }
}
