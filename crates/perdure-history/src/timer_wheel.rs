//! The shard leader's timer wheel: the timer tasks due within the next window, ordered by
//! `(fire time, task id)`, fired when due by proposing the state change each causes together with
//! the deletion of its row. Most timers are stale when due and change nothing; their rows are
//! deleted together, one proposal per [`STALE_FLUSH`] (or per [`DELETE_CHUNK`] rows), not one
//! each: stale timers come due one by one, so batching only what one tick finds saves little.
//!
//! Timer tasks are durable rows (TimerTasks, keyed by group, fire time, task id); the wheel is
//! only the schedule of the next window of them, so it may be dropped at any moment. Memory holds
//! the rows whose key is below `loaded_upto`; later ones (a retention deletion a day out) wait on
//! disk. Every half window the wheel reads the next slice, up to `now + window`, as one bounded
//! page; a full page moves `loaded_upto` only just past its last row, and the rest of the slice
//! is read once enough of the loaded timers have fired. Memory is thus bounded by the page size
//! plus the timers committed while they fall inside the window.
//!
//! Why no timer is lost: loads read applied state, the wheel does nothing else while it loads
//! (it is one task), and a committed write sends its timers on the channel only after its batch
//! is applied on this node ([`Shard::after_commit`]). The wheel inserts a received timer whose key
//! is below `loaded_upto` and drops the others, which a later load will read. Take a row with key
//! `k` and the load L that moves `loaded_upto` past `k` (the first load starts at the smallest
//! key, and `loaded_upto` never moves back). If the row was applied before L read, L finds it.
//! If not, its message was sent after L began, so the wheel takes it after L ended, sees
//! `k < loaded_upto` and inserts it. A row both read and received is one entry: the map key is
//! the row's key. A message taken after its timer already fired (read, fired, then received)
//! would arm it again, so before firing the wheel checks that the row still exists: a firing
//! deletes it in the batch that is applied before the firing returns.
//!
//! It must never fire a timer early, and a timer whose write fails is retried from memory
//! (wherever the window is), never forgotten. A stale timer's row deletion that fails is retried
//! the same way: the timer is fired again, finds itself stale again (a stale timer never becomes
//! live: its identity is never reused), and its row joins a later batch. The same holds while a
//! stale row waits for its deletion: it is out of `pending` and below `loaded_upto`, and
//! whatever fires it again (a next leader, a late message) finds it stale again.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perdure_core::TimerTask;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::shard::{now, Shard};
use crate::tables;

/// Upper bound on one sleep, so a clock jump is noticed within this long.
const MAX_SLEEP: Duration = Duration::from_secs(5);
/// Pause before retrying a timer whose firing could not be committed, or a failed load.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Most stale timer rows deleted by one proposal, so one crowded tick never builds an
/// unbounded Raft entry; this many waiting rows are deleted at once, without waiting.
const DELETE_CHUNK: usize = 1_000;
/// Longest a stale row waits for its deletion, so the rows of many ticks share one proposal.
/// A waiting row costs nothing but its disk space.
const STALE_FLUSH: Duration = Duration::from_secs(1);

/// What firing a timer committed ([`Shard::fire_timer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fired {
    /// The run changed: its new state, events and tasks and the row's deletion are committed.
    Written,
    /// Nothing changed (a stale timer, a closed or missing run) and nothing was written: the
    /// row still exists, and the wheel deletes it with the other stale rows of its tick.
    RowOnly,
}

/// How much of the timer schedule a shard leader holds in memory.
#[derive(Clone, Copy, Debug)]
pub struct TimerWindow {
    /// Timers due within this long are held in memory; later ones stay on disk until the window
    /// reaches them.
    pub window: Duration,
    /// Most rows one load reads, so a crowded slice never has to fit in memory at once.
    pub page_rows: usize,
}

impl Default for TimerWindow {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            page_rows: 10_000,
        }
    }
}

/// A timer row's identity and the wheel's order: `(fire time in unix nanos, task id)`.
type Key = (i64, u64);

/// What a shard's wheel holds right now, readable outside it (tests, diagnostics).
#[derive(Debug, Default)]
pub(crate) struct WheelStats {
    held: AtomicUsize,
    loaded_upto: AtomicI64,
    /// Firings committed by this shard's wheels (rows found and deleted), across terms.
    fired: AtomicUsize,
    /// Of those, the stale ones: only their row was deleted.
    stale: AtomicUsize,
    /// Proposals that deleted stale rows.
    stale_batches: AtomicUsize,
}

impl WheelStats {
    /// Timers in memory, retries included.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Fire time below which every pending timer of the shard is in memory.
    #[cfg(test)]
    pub(crate) fn loaded_upto(&self) -> i64 {
        self.loaded_upto.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(crate) fn fired(&self) -> usize {
        self.fired.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(crate) fn stale(&self) -> usize {
        self.stale.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(crate) fn stale_batches(&self) -> usize {
        self.stale_batches.load(Ordering::Relaxed)
    }

    /// Records `n` committed firings, here and in the node's metrics.
    fn count_fired(&self, n: usize, stale: bool) {
        self.fired.fetch_add(n, Ordering::Relaxed);
        let metrics = perdure_metrics::metrics();
        metrics.timers_fired.inc_by(n as u64);
        if stale {
            self.stale.fetch_add(n, Ordering::Relaxed);
            metrics.timers_stale.inc_by(n as u64);
        }
    }
}

pub(crate) struct TimerWheel {
    shard: Arc<Shard>,
    config: TimerWindow,
    pending: BTreeMap<Key, TimerTask>,
    /// Every timer row with a smaller key is in `pending`, or has fired (see the module comment).
    loaded_upto: Key,
    /// After a failed load, when to try again.
    load_retry_at: Option<i64>,
    incoming: mpsc::UnboundedReceiver<(u64, TimerTask)>,
    /// Stale timers whose rows wait to be deleted together.
    stale: Vec<(u64, TimerTask)>,
    /// When the oldest of them has waited [`STALE_FLUSH`].
    stale_flush_at: Option<i64>,
    /// How much this wheel has added to the node-wide gauge, taken back when it stops.
    reported: i64,
}

impl TimerWheel {
    pub(crate) fn new(
        shard: Arc<Shard>,
        incoming: mpsc::UnboundedReceiver<(u64, TimerTask)>,
    ) -> Self {
        let mut config = shard.timer_window;
        // Half a page must be a real page: loads wait until at most that many are held.
        config.page_rows = config.page_rows.max(2);
        Self {
            shard,
            config,
            pending: BTreeMap::new(),
            loaded_upto: (i64::MIN, 0),
            load_retry_at: None,
            incoming,
            stale: Vec::new(),
            stale_flush_at: None,
            reported: 0,
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            // Taken here too, not only while idle, so a busy wheel does not let them pile up.
            while let Ok((id, task)) = self.incoming.try_recv() {
                self.receive(id, task);
            }
            if self.should_load(now().0) {
                self.load_next();
            }
            self.fire_due().await;
            self.delete_stale().await;
            let wait = self.wait(now().0);
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                got = self.incoming.recv() => match got {
                    Some((id, task)) => self.receive(id, task),
                    None => return,
                },
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// At least a millisecond: a zero window would reload on every turn of the loop.
    fn window_nanos(&self) -> i64 {
        i64::try_from(self.config.window.as_nanos())
            .unwrap_or(i64::MAX)
            .max(1_000_000)
    }

    /// The next slice is read once the window's end is less than half a window ahead, and only
    /// while at most half a page is held: a crowded window is read as its timers fire.
    fn should_load(&self, now: i64) -> bool {
        match self.load_retry_at {
            Some(at) => now >= at,
            None => self.pending.len() <= self.config.page_rows / 2 && now >= self.next_load_at(),
        }
    }

    fn next_load_at(&self) -> i64 {
        self.loaded_upto.0.saturating_sub(self.window_nanos() / 2)
    }

    /// Reads the timers from `loaded_upto` to `now + window`, at most enough to fill the page.
    fn load_next(&mut self) {
        let target = now()
            .0
            .saturating_add(self.window_nanos())
            .max(self.loaded_upto.0);
        let limit = self
            .config
            .page_rows
            .saturating_sub(self.pending.len())
            .max(1);
        let shard = &self.shard;
        let rows =
            match tables::load_timer_slice(&shard.store, shard.id, self.loaded_upto, target, limit)
            {
                Ok(rows) => rows,
                Err(e) => {
                    warn!(shard = %shard.id(), error = %e, "timer slice not loaded, retrying");
                    self.load_retry_at =
                        Some(now().0.saturating_add(RETRY_AFTER.as_nanos() as i64));
                    return;
                }
            };
        self.load_retry_at = None;
        let upto = slice_end(&rows, limit, target);
        debug!(shard = %shard.id(), rows = rows.len(), upto = upto.0, "timer slice loaded");
        for (fire, id, task) in rows {
            self.pending.insert((fire, id), task);
        }
        self.loaded_upto = upto;
        self.shard
            .wheel_stats
            .loaded_upto
            .store(upto.0, Ordering::Relaxed);
        self.report();
    }

    /// A timer from a committed write: held if its key is inside the loaded range, else left to
    /// the load that will reach it.
    fn receive(&mut self, id: u64, task: TimerTask) {
        let key = (task.fire_time_unix_nanos, id);
        if key < self.loaded_upto {
            self.pending.insert(key, task);
            self.report();
        }
    }

    /// How long nothing needs doing unless a timer arrives.
    fn wait(&self, now: i64) -> Duration {
        let mut next = now.saturating_add(MAX_SLEEP.as_nanos() as i64);
        if let Some(((fire, _), _)) = self.pending.first_key_value() {
            next = next.min(*fire);
        }
        if let Some(at) = self.stale_flush_at {
            next = next.min(at);
        }
        match self.load_retry_at {
            Some(at) => next = next.min(at),
            None if self.pending.len() <= self.config.page_rows / 2 => {
                next = next.min(self.next_load_at())
            }
            None => {}
        }
        Duration::from_nanos(next.saturating_sub(now).max(0) as u64)
    }

    async fn fire_due(&mut self) {
        let now = now().0;
        let mut due = Vec::new();
        let mut seen = HashSet::new();
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, id), task) = entry.remove_entry();
            // A retry and a late message may both hold the same row.
            if seen.insert(id) {
                due.push((id, task));
            }
        }
        if due.is_empty() {
            return;
        }
        self.report();
        let shard = self.shard.clone();
        let shard = &shard;
        let results = futures::future::join_all(due.into_iter().map(|(id, task)| async move {
            let fire = task.fire_time_unix_nanos;
            match tables::timer_row_exists(&shard.store, shard.id, fire, id) {
                // Fired already (see the module comment): nothing to do.
                Ok(false) => return (id, task, Ok(None)),
                Ok(true) => {}
                // Firing is safe to repeat; only its row check failed.
                Err(e) => {
                    warn!(shard = %shard.id(), task_id = id, error = %e, "timer row not checked")
                }
            }
            let outcome = shard.fire_timer(id, &task).await;
            (id, task, outcome.map(Some))
        }))
        .await;
        for (id, task, outcome) in results {
            match outcome {
                Ok(None) => {}
                Ok(Some(Fired::Written)) => shard.wheel_stats.count_fired(1, false),
                Ok(Some(Fired::RowOnly)) => {
                    self.stale_flush_at
                        .get_or_insert(now.saturating_add(STALE_FLUSH.as_nanos() as i64));
                    self.stale.push((id, task));
                }
                Err(e) => {
                    warn!(shard = %shard.id(), task_id = id, error = %e, "timer not fired, retrying");
                    self.retry(now, id, task);
                }
            }
        }
        self.report();
    }

    /// Deletes the waiting stale rows once the oldest has waited [`STALE_FLUSH`] or
    /// [`DELETE_CHUNK`] of them wait, one proposal per chunk.
    async fn delete_stale(&mut self) {
        let now = now().0;
        let due = self.stale_flush_at.is_some_and(|at| now >= at);
        if !due && self.stale.len() < DELETE_CHUNK {
            return;
        }
        self.stale_flush_at = None;
        let stale = std::mem::take(&mut self.stale);
        let shard = self.shard.clone();
        let shard = &shard;
        let deletions =
            futures::future::join_all(stale.chunks(DELETE_CHUNK).map(|chunk| async move {
                let rows: Vec<Key> = chunk
                    .iter()
                    .map(|(id, task)| (task.fire_time_unix_nanos, *id))
                    .collect();
                (chunk, shard.delete_timer_rows(&rows).await)
            }))
            .await;
        for (chunk, outcome) in deletions {
            match outcome {
                Ok(()) => {
                    shard.wheel_stats.count_fired(chunk.len(), true);
                    shard
                        .wheel_stats
                        .stale_batches
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    // The rows are still there (or their deletion is in doubt): fire them again,
                    // which finds them stale again or, if deleted after all, already gone.
                    warn!(shard = %shard.id(), rows = chunk.len(), error = %e, "stale timer rows not deleted, retrying");
                    for (id, task) in chunk {
                        self.retry(now, *id, task.clone());
                    }
                }
            }
        }
        self.report();
    }

    /// Re-arms a timer whose firing (or row deletion) did not commit.
    fn retry(&mut self, now: i64, id: u64, task: TimerTask) {
        let retry_at = now.saturating_add(RETRY_AFTER.as_nanos() as i64);
        // Keep the row's identity (fire time is part of its key): re-arm in memory only.
        self.pending
            .insert((retry_at.max(task.fire_time_unix_nanos), id), task);
    }

    /// Publishes how many timers this wheel holds (stale ones awaiting deletion included).
    fn report(&mut self) {
        let held = self.pending.len() + self.stale.len();
        self.shard.wheel_stats.held.store(held, Ordering::Relaxed);
        let held = held as i64;
        perdure_metrics::metrics()
            .timers_in_memory
            .add(held - self.reported);
        self.reported = held;
    }
}

impl Drop for TimerWheel {
    fn drop(&mut self) {
        self.shard.wheel_stats.held.store(0, Ordering::Relaxed);
        perdure_metrics::metrics()
            .timers_in_memory
            .sub(self.reported);
    }
}

/// Where a load that read `rows` (asked for at most `limit`, up to fire time `target`) leaves
/// `loaded_upto`: at `target` when it read the whole slice, or just past its last row when the
/// page filled up (rows after it, even at the same fire time, are still on disk).
fn slice_end(rows: &[(i64, u64, TimerTask)], limit: usize, target: i64) -> Key {
    match rows.last() {
        Some(&(fire, id, _)) if rows.len() >= limit => match id.checked_add(1) {
            Some(next) => (fire, next),
            None => (fire.saturating_add(1), 0),
        },
        _ => (target, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(keys: &[Key]) -> Vec<(i64, u64, TimerTask)> {
        keys.iter()
            .map(|&(f, id)| (f, id, TimerTask::default()))
            .collect()
    }

    #[test]
    fn a_short_page_covers_the_whole_slice() {
        assert_eq!(slice_end(&rows(&[(5, 1), (7, 2)]), 3, 100), (100, 0));
        assert_eq!(slice_end(&[], 3, 100), (100, 0));
    }

    #[test]
    fn a_full_page_ends_just_past_its_last_row() {
        // Rows after (7, 2) at the same fire time are not yet loaded, so the end is a full key.
        assert_eq!(slice_end(&rows(&[(5, 1), (7, 2)]), 2, 100), (7, 3));
        assert_eq!(slice_end(&rows(&[(7, u64::MAX)]), 1, 100), (8, 0));
        assert!((7, 2) < slice_end(&rows(&[(7, 2)]), 1, 100));
        assert!((7, 3) >= slice_end(&rows(&[(7, 2)]), 1, 100));
    }
}
