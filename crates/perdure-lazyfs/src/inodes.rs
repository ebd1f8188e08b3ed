//! The inode table: one FUSE inode number per backing inode (its device and inode number), so
//! numbers are stable across renames and shared by hard links, each with one current path
//! relative to the backing root, the kernel's references to it, its open handles and, for a
//! regular file that is open or has unsynced changes, its [`FileCell`] (backing descriptor and
//! overlay).
//!
//! A backing inode that loses its last name is detached (forgotten by number, so a recycled
//! backing inode number gets a new FUSE inode); an inode goes once the kernel forgot it, no
//! handle is open and it has nothing unsynced (or was detached). A node keeps one path: with
//! hard links, operations by inode on a file that is not open use the name it was last looked
//! up by (fine for RocksDB, which links files only for checkpoints).
//!
//! Owns: numbering, paths (renames move every path under the old one) and lifetimes. Must
//! never: reuse a number within a mount, keep a number for a backing inode that lost its last
//! name, drop a cell with unsynced changes of a file that still has a name, or touch the
//! backing directory (callers do; this is bookkeeping only).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use fuser::{Errno, FileType};

use crate::overlay::Overlay;

/// The root directory's inode number (FUSE's).
pub(crate) const ROOT: u64 = 1;

/// A backing inode: (st_dev, st_ino).
pub(crate) type Key = (u64, u64);
pub(crate) type R<T> = Result<T, Errno>;

/// Locks, ignoring poisoning: a panic in one request must not wedge the filesystem (every
/// change under these locks is a single assignment or one whole overlay call).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An open regular file: its backing file descriptor and its overlay.
pub(crate) struct FileCell {
    pub(crate) file: File,
    /// The overlay's logical size, readable without waiting for a sync in progress.
    pub(crate) size: AtomicU64,
    pub(crate) overlay: Mutex<Overlay>,
}

impl FileCell {
    pub(crate) fn new(file: File) -> io::Result<Arc<FileCell>> {
        let len = file.metadata()?.len();
        Ok(Arc::new(FileCell {
            file,
            size: AtomicU64::new(len),
            overlay: Mutex::new(Overlay::new(len)),
        }))
    }
}

pub(crate) struct Node {
    /// One of its paths, relative to the backing root ("" for the root).
    pub(crate) rel: PathBuf,
    pub(crate) kind: FileType,
    /// Its backing inode while it has a name there.
    pub(crate) key: Option<Key>,
    /// Kernel references (lookups minus forgets).
    pub(crate) lookups: u64,
    /// Open file handles.
    pub(crate) open: u64,
    /// Regular files that are open or have unsynced changes.
    pub(crate) cell: Option<Arc<FileCell>>,
}

pub(crate) struct Table {
    pub(crate) nodes: HashMap<u64, Node>,
    pub(crate) by_key: HashMap<Key, u64>,
    next_ino: u64,
}

impl Table {
    /// A table holding only the root directory (backing inode `root`), as inode 1.
    pub(crate) fn new(root: Key) -> Table {
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT,
            Node {
                rel: PathBuf::new(),
                kind: FileType::Directory,
                key: Some(root),
                lookups: 1,
                open: 0,
                cell: None,
            },
        );
        Table {
            nodes,
            by_key: HashMap::from([(root, ROOT)]),
            next_ino: ROOT + 1,
        }
    }

    pub(crate) fn node(&self, ino: u64) -> R<&Node> {
        self.nodes.get(&ino).ok_or(Errno::ENOENT)
    }

    pub(crate) fn node_mut(&mut self, ino: u64) -> R<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    pub(crate) fn child(&self, parent: u64, name: &OsStr) -> R<PathBuf> {
        let p = self.node(parent)?;
        if p.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        Ok(p.rel.join(name))
    }

    /// The inode of the backing file `rel` (just stat'ed as `meta`), numbered on first sight;
    /// `rel` becomes its current path.
    pub(crate) fn learn(&mut self, rel: PathBuf, meta: &fs::Metadata) -> u64 {
        let key = (meta.dev(), meta.ino());
        let kind = kind_of(meta);
        if let Some(&ino) = self.by_key.get(&key) {
            if let Some(node) = self.nodes.get_mut(&ino) {
                node.rel = rel;
                node.kind = kind;
                return ino;
            }
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.by_key.insert(key, ino);
        self.nodes.insert(
            ino,
            Node {
                rel,
                kind,
                key: Some(key),
                lookups: 0,
                open: 0,
                cell: None,
            },
        );
        ino
    }

    /// The backing inode `key` lost its last name: it can no longer be looked up or synced,
    /// so its unsynced data goes once no handle is open.
    pub(crate) fn detach(&mut self, key: Key) {
        if let Some(ino) = self.by_key.remove(&key) {
            if let Some(node) = self.nodes.get_mut(&ino) {
                node.key = None;
            }
            self.tidy(ino);
        }
    }

    /// Drops what `ino` no longer needs: its overlay once no handle is open and it is clean
    /// (or detached), and the node once the kernel forgot it too.
    pub(crate) fn tidy(&mut self, ino: u64) {
        if ino == ROOT {
            return;
        }
        let Some(node) = self.nodes.get_mut(&ino) else {
            return;
        };
        if node.open == 0 {
            if let Some(cell) = &node.cell {
                // try_lock: a sync in progress means it is dirty now; it stays for now.
                let clean = cell
                    .overlay
                    .try_lock()
                    .map(|o| !o.is_dirty())
                    .unwrap_or(false);
                if clean || node.key.is_none() {
                    node.cell = None;
                }
            }
        }
        if node.lookups == 0 && node.open == 0 && node.cell.is_none() {
            let key = node.key;
            self.nodes.remove(&ino);
            if let Some(key) = key {
                if self.by_key.get(&key) == Some(&ino) {
                    self.by_key.remove(&key);
                }
            }
        }
    }

    /// Every path at or under `from` is now under `to` (a rename); with `swap`, paths under
    /// `to` move to `from` as well (RENAME_EXCHANGE).
    pub(crate) fn moved(&mut self, from: &Path, to: &Path, swap: bool) {
        for node in self.nodes.values_mut() {
            if let Ok(rest) = node.rel.strip_prefix(from) {
                node.rel = join(to, rest);
            } else if swap {
                if let Ok(rest) = node.rel.strip_prefix(to) {
                    node.rel = join(from, rest);
                }
            }
        }
    }
}

pub(crate) fn join(base: &Path, rest: &Path) -> PathBuf {
    if rest.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(rest)
    }
}

pub(crate) fn kind_of(meta: &fs::Metadata) -> FileType {
    FileType::from_std(meta.file_type()).unwrap_or(FileType::RegularFile)
}
