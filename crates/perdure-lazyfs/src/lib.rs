//! `perdure-lazyfs`: a FUSE passthrough filesystem that holds written file data in memory until
//! the file is fsynced, and drops every unfsynced change on a `crash` command, for the jepsen
//! suite's "lose unfsynced writes" fault (what Jepsen's LazyFS does, for file data only).
//!
//! - [`overlay`]: one file's unsynced state (pure model, unit-tested).
//! - `inodes`: the inode table (numbers, paths, lifetimes).
//! - [`state`]: the operations on the backing directory, and the crash.
//! - [`fs`]: the FUSE side (requests to [`state::State`] calls, replies, what the kernel may
//!   cache).
//! - [`control`]: the control socket (`crash`, `status`, `ping`).
//!
//! `main.rs` mounts it and serves the control socket until unmounted or signalled.

pub mod control;
pub mod fs;
mod inodes;
pub mod overlay;
pub mod state;

use std::path::PathBuf;

/// Setting a mount up failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("backing directory {path}: {source}")]
    Backing {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {path}: {source}")]
    Control {
        path: PathBuf,
        source: std::io::Error,
    },
}
