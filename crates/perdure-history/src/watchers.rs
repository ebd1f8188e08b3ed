//! Long-poll wake-ups: "this run's history grew or it closed". Purely in memory on the leader;
//! a waiter that misses a wake-up (e.g. across a leader change) re-reads state at its deadline.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

use crate::cache::ExecKey;

/// What a history long poll waits on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub next_event_id: i64,
    pub closed: bool,
}

#[derive(Default)]
pub struct Watchers {
    senders: Mutex<HashMap<ExecKey, watch::Sender<Progress>>>,
}

impl Watchers {
    pub fn subscribe(&self, key: &ExecKey, now: Progress) -> watch::Receiver<Progress> {
        let mut map = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        // Shed senders nobody listens to any more, so the map only holds live long polls.
        map.retain(|_, s| s.receiver_count() > 0);
        let tx = map
            .entry(key.clone())
            .or_insert_with(|| watch::channel(now).0);
        tx.send_if_modified(|p| {
            let newer = now.next_event_id > p.next_event_id || (now.closed && !p.closed);
            if newer {
                *p = now;
            }
            newer
        });
        tx.subscribe()
    }

    pub fn publish(&self, key: &ExecKey, now: Progress) {
        let map = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = map.get(key) {
            tx.send_replace(now);
        }
    }

    /// True while some long poll waits on `key` (tests wait on this instead of sleeping).
    #[cfg(test)]
    pub fn is_watched(&self, key: &ExecKey) -> bool {
        let map = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).is_some_and(|s| s.receiver_count() > 0)
    }
}
