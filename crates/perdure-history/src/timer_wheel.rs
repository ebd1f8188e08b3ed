//! The shard leader's timer wheel: every pending timer task of the shard, ordered by fire time,
//! fired when due by proposing the state change it causes together with the timer's deletion.
//!
//! It holds all pending timers of the shard in memory (loaded at the start of the term, then fed
//! by committed writes). Timer tasks are durable rows; this wheel is only their schedule, so it
//! may be dropped at any moment. It must never fire a timer early, and a timer whose write fails
//! is retried, never forgotten.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use perdure_core::TimerTask;
use tokio::sync::mpsc;
use tracing::warn;

use crate::shard::{now, Shard};

/// Upper bound on one sleep, so a clock jump is noticed within this long.
const MAX_SLEEP: Duration = Duration::from_secs(5);
/// Pause before retrying a timer whose firing could not be committed.
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub(crate) struct TimerWheel {
    shard: Arc<Shard>,
    pending: BTreeMap<(i64, u64), TimerTask>,
    incoming: mpsc::UnboundedReceiver<(u64, TimerTask)>,
}

impl TimerWheel {
    pub(crate) fn new(
        shard: Arc<Shard>,
        loaded: Vec<(i64, u64, TimerTask)>,
        incoming: mpsc::UnboundedReceiver<(u64, TimerTask)>,
    ) -> Self {
        let pending = loaded
            .into_iter()
            .map(|(fire, id, task)| ((fire, id), task))
            .collect();
        Self {
            shard,
            pending,
            incoming,
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            let wait = match self.pending.first_key_value() {
                Some(((fire, _), _)) => {
                    let now = now().0;
                    if *fire <= now {
                        Duration::ZERO
                    } else {
                        Duration::from_nanos((*fire - now) as u64).min(MAX_SLEEP)
                    }
                }
                None => MAX_SLEEP,
            };
            if !wait.is_zero() {
                tokio::select! {
                    got = self.incoming.recv() => match got {
                        Some((id, task)) => { self.pending.insert((task.fire_time_unix_nanos, id), task); continue; }
                        None => return,
                    },
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            self.fire_due().await;
        }
    }

    async fn fire_due(&mut self) {
        let now = now().0;
        let mut due = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, id), task) = entry.remove_entry();
            due.push((id, task));
        }
        let shard = &self.shard;
        let results = futures::future::join_all(due.into_iter().map(|(id, task)| async move {
            let outcome = shard.fire_timer(id, &task).await;
            if outcome.is_ok() {
                perdure_metrics::metrics().timers_fired.inc();
            }
            (id, task, outcome)
        }))
        .await;
        for (id, task, outcome) in results {
            if let Err(e) = outcome {
                warn!(shard = %self.shard.id(), task_id = id, error = %e, "timer not fired, retrying");
                let retry_at = now + RETRY_AFTER.as_nanos() as i64;
                // Keep the row's identity (fire time is part of its key): re-arm in memory only.
                self.pending
                    .insert((retry_at.max(task.fire_time_unix_nanos), id), task);
            }
        }
    }
}
