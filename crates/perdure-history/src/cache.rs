//! The leader's cache of mutable states, one async lock per execution.
//!
//! Every read-modify-write of an execution holds its lock from load to commit, so two requests
//! on one workflow are serialized while different workflows proceed concurrently. The cache is
//! only an accelerator: dropping it at any time (leadership change, a failed write) is always
//! safe because the applied state in RocksDB is the truth.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use perdure_core::MutableState;
use tokio::sync::OwnedMutexGuard;

/// Identifies one run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExecKey {
    pub namespace_id: String,
    pub workflow_id: String,
    pub run_id: String,
}

impl ExecKey {
    pub fn new(namespace_id: &str, workflow_id: &str, run_id: &str) -> Self {
        Self {
            namespace_id: namespace_id.to_string(),
            workflow_id: workflow_id.to_string(),
            run_id: run_id.to_string(),
        }
    }

    /// The key under which the "current run of this workflow id" pointer is locked.
    pub fn current(namespace_id: &str, workflow_id: &str) -> Self {
        Self::new(namespace_id, workflow_id, "")
    }
}

/// A loaded execution and the version its stored record had when loaded.
#[derive(Clone, Debug)]
pub struct Cached {
    pub state: MutableState,
    pub version: u64,
}

pub type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// Beyond this many idle entries the cache sheds the ones nobody is using.
const SOFT_LIMIT: usize = 10_000;

#[derive(Default)]
pub struct ExecutionCache {
    slots: Mutex<HashMap<ExecKey, Slot>>,
}

impl ExecutionCache {
    /// Locks the execution's slot (creating it empty), waiting for any other holder.
    pub async fn lock(&self, key: &ExecKey) -> OwnedMutexGuard<Option<Cached>> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            if slots.len() > SOFT_LIMIT {
                // Only slots no request holds are dropped; their data reloads from disk.
                slots.retain(|_, s| Arc::strong_count(s) > 1);
            }
            slots.entry(key.clone()).or_default().clone()
        };
        slot.lock_owned().await
    }

    /// Forgets everything (leadership lost or regained).
    pub fn clear(&self) {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
