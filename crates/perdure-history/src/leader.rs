//! The per-shard leadership loop: what a node does when it gains or loses a shard.
//!
//! On gaining leadership it first commits an empty batch, which returns only after every entry
//! of earlier terms is applied, so the state it then reads is complete. It then re-dispatches
//! every pending transfer task (the durable backlog) and starts the timer wheel, which reads the
//! timers of its window itself. On losing it, the wheel stops and the caches are dropped. Nothing
//! here decides workflow semantics. Effects on other runs (child starts, reports to parents)
//! are transfer rows too; they go to this term's effect runner (`effects.rs`) instead of
//! matching, and are re-sent the same way until done.
//!
//! While it leads, it also re-offers every dispatch row that is still there one period later.
//! An offer can be lost (the task queue's owner on another node died, changed, or the call
//! failed); the row cannot, because only starting the task deletes it. Re-offering old rows is
//! what turns that into "delayed, never lost"; the owner ignores a task it already holds.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use perdure_storage::WriteBatch;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::shard::Shard;
use crate::tables;
use crate::timer_wheel::TimerWheel;

pub(crate) async fn run(shard: Arc<Shard>) {
    let mut leadership = shard.group.leadership();
    loop {
        let term = *leadership.borrow_and_update();
        if let Some(term) = term {
            if let Err(e) = serve_term(&shard, term, &mut leadership).await {
                warn!(shard = %shard.id, term, error = %e, "leadership term ended with an error");
            }
            shard.end_term();
            // A failed start of term is retried after a pause (or when leadership changes).
            if leadership.has_changed().unwrap_or(true) {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                changed = leadership.changed() => if changed.is_err() { return },
            }
        } else if leadership.changed().await.is_err() {
            return;
        }
    }
}

/// How long a dispatch row may wait before its task is offered again.
const REOFFER_PERIOD: Duration = Duration::from_secs(2);

/// Offers again every row that was already pending at the previous tick, and returns the rows
/// pending now.
fn reoffer_old_rows(
    shard: &Arc<Shard>,
    before: &HashSet<u64>,
) -> Result<HashSet<u64>, crate::HistoryError> {
    let rows = tables::load_transfer_tasks(&shard.store, shard.id)?;
    let mut now = HashSet::with_capacity(rows.len());
    for (id, task) in rows {
        now.insert(id);
        if before.contains(&id) {
            shard.dispatch_loaded(id, task);
        }
    }
    Ok(now)
}

async fn serve_term(
    shard: &Arc<Shard>,
    term: u64,
    leadership: &mut tokio::sync::watch::Receiver<Option<u64>>,
) -> Result<(), crate::HistoryError> {
    // Barrier: applied state now includes everything committed before this term. It goes to
    // the group directly: the shard refuses writes until the term has begun.
    shard.group.propose(WriteBatch::default()).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let (effects_tx, effects_rx) = mpsc::unbounded_channel();
    shard.set_effects(effects_tx);
    shard.begin_term(term, tx);
    let effects = tokio::spawn(crate::effects::run(shard.clone(), effects_rx));
    let transfers = tables::load_transfer_tasks(&shard.store, shard.id)?;
    info!(shard = %shard.id, term, transfers = transfers.len(), "shard leadership acquired");
    let mut pending: HashSet<u64> = transfers.iter().map(|(id, _)| *id).collect();
    for (id, task) in transfers {
        shard.dispatch_loaded(id, task);
    }
    // The wheel reads its first window itself; timers committed from here on reach it through
    // `rx` (see timer_wheel.rs for why none falls between the two).
    let wheel = TimerWheel::new(shard.clone(), rx);
    let wheel = tokio::spawn(wheel.run());
    // Serve until this term ends, re-offering rows that outlived a whole period.
    let mut reoffer = tokio::time::interval(REOFFER_PERIOD);
    reoffer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    reoffer.tick().await;
    loop {
        if *leadership.borrow() != Some(term) {
            break;
        }
        tokio::select! {
            changed = leadership.changed() => if changed.is_err() { break },
            _ = reoffer.tick() => pending = reoffer_old_rows(shard, &pending)?,
            // Ending here makes `run` begin the same term again (barrier, reload).
            _ = shard.resync.notified() => break,
        }
    }
    wheel.abort();
    effects.abort();
    info!(shard = %shard.id, term, "shard leadership lost");
    Ok(())
}
