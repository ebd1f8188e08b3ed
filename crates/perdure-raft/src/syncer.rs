//! The WAL syncer: one thread that fsyncs the node's RocksDB WAL on behalf of every group.
//!
//! Log appends are written unsynced (so they are readable at once) and their completion
//! callbacks queued here; the thread takes everything queued, issues one WAL sync, then fires the
//! callbacks in arrival order. Appends of all groups arriving during one fsync share the next one.
//! A callback must never fire before the sync that covers its write has returned.

use std::sync::mpsc;
use std::thread::JoinHandle;

use openraft::storage::LogFlushed;
use perdure_storage::Store;

use crate::TypeConfig;

enum Msg {
    Flushed(LogFlushed<TypeConfig>),
    Stop,
}

/// Cloneable sending side, held by every log store.
#[derive(Clone)]
pub(crate) struct SyncHandle {
    tx: mpsc::Sender<Msg>,
}

impl SyncHandle {
    /// Fires `callback` once everything written so far is durable.
    pub(crate) fn after_sync(&self, callback: LogFlushed<TypeConfig>) {
        if let Err(mpsc::SendError(Msg::Flushed(cb))) = self.tx.send(Msg::Flushed(callback)) {
            cb.log_io_completed(Err(std::io::Error::other("wal syncer stopped")));
        }
    }
}

/// Owns the syncer thread.
pub(crate) struct Syncer {
    handle: SyncHandle,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    pub(crate) fn start(store: Store) -> std::io::Result<Syncer> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("perdure-wal-sync".into())
            .spawn(move || run(store, rx))?;
        Ok(Syncer {
            handle: SyncHandle { tx },
            thread: Some(thread),
        })
    }

    pub(crate) fn handle(&self) -> SyncHandle {
        self.handle.clone()
    }

    /// Completes what is queued, then stops the thread and waits for it.
    pub(crate) fn stop(&mut self) {
        let _ = self.handle.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("wal syncer thread panicked");
            }
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(store: Store, rx: mpsc::Receiver<Msg>) {
    let mut pending = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut stop = false;
        for msg in std::iter::once(first).chain(rx.try_iter()) {
            match msg {
                Msg::Flushed(cb) => pending.push(cb),
                Msg::Stop => stop = true,
            }
        }
        if !pending.is_empty() {
            let result = store.sync_wal();
            if let Err(e) = &result {
                tracing::error!(error = %e, "wal sync failed");
            }
            for cb in pending.drain(..) {
                cb.log_io_completed(
                    result
                        .as_ref()
                        .map(|_| ())
                        .map_err(|e| std::io::Error::other(e.to_string())),
                );
            }
        }
        if stop {
            break;
        }
    }
}
