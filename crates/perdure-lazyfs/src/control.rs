//! The control socket: a Unix stream socket at `--control`, one command per line, one line
//! answered per command:
//!
//! ```text
//! ping    -> ok
//! status  -> ok <dirty bytes> <files with unsynced changes>
//! crash   -> ok <bytes dropped> <files dropped>
//! other   -> err <why>
//! ```
//!
//! `crash` is answered only once every unsynced change of every file is dropped and the kernel
//! was told to forget the attributes of the files that changed (the caller kills the processes
//! using the mount first; a write that completes before the drop is dropped with the rest).
//!
//! Owns: the protocol and the socket file. Must never: answer `ok` to a crash before the drop
//! is complete, or remove a file at the socket path that is not a socket.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::thread;

use fuser::{INodeNo, Notifier};

use crate::state::State;
use crate::Error;

/// Listens at `path` (a stale socket there is replaced; only root's processes may connect).
pub fn bind(path: &Path) -> Result<UnixListener, Error> {
    let err = |source| Error::Control {
        path: path.to_path_buf(),
        source,
    };
    if let Ok(meta) = fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            fs::remove_file(path).map_err(err)?;
        }
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(listener)
}

/// Serves connections on a thread of its own (and one per connection) for as long as the
/// process lives.
pub fn spawn(listener: UnixListener, state: Arc<State>, notifier: Notifier) {
    let notifier = Arc::new(notifier);
    let spawned = thread::Builder::new()
        .name("lazyfs-control".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(stream) => {
                        let (state, notifier) = (state.clone(), notifier.clone());
                        let _ = thread::Builder::new()
                            .name("lazyfs-conn".into())
                            .spawn(move || serve(stream, &state, &notifier));
                    }
                    Err(e) => tracing::warn!(error = %e, "control socket accept failed"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the control socket thread");
    }
}

fn serve(stream: UnixStream, state: &State, notifier: &Notifier) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let reply = answer(line.trim(), state, notifier);
        if out.write_all(format!("{reply}\n").as_bytes()).is_err() {
            return;
        }
    }
}

/// The answer to one command line.
pub fn answer(command: &str, state: &State, notifier: &Notifier) -> String {
    match command {
        "ping" => "ok".into(),
        "status" => {
            let now = state.unsynced();
            format!("ok {} {}", now.bytes, now.files)
        }
        "crash" => {
            let (dropped, changed) = state.crash();
            // Outside every lock: the kernel may call back into the filesystem. An inode the
            // kernel no longer holds answers ENOENT, which is fine.
            for ino in &changed {
                let _ = notifier.inval_inode(INodeNo(*ino), 0, 0);
            }
            tracing::info!(
                bytes = dropped.bytes,
                files = dropped.files,
                "crash: unsynced changes dropped"
            );
            format!("ok {} {}", dropped.bytes, dropped.files)
        }
        other => format!("err unknown command {other:?} (ping, status, crash)"),
    }
}
