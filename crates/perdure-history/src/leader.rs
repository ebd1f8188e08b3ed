//! The per-shard leadership loop: what a node does when it gains or loses a shard.
//!
//! On gaining leadership it first commits an empty batch, which returns only after every entry
//! of earlier terms is applied, so the state it then reads is complete. It then re-dispatches
//! every pending transfer task (the durable backlog) and starts the timer wheel, which reads the
//! timers of its window itself. On losing it, the wheel stops and the caches are dropped. Nothing
//! here decides workflow semantics.

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

async fn serve_term(
    shard: &Arc<Shard>,
    term: u64,
    leadership: &mut tokio::sync::watch::Receiver<Option<u64>>,
) -> Result<(), crate::HistoryError> {
    // Barrier: applied state now includes everything committed before this term. It goes to
    // the group directly: the shard refuses writes until the term has begun.
    shard.group.propose(WriteBatch::default()).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    shard.begin_term(term, tx);
    let transfers = tables::load_transfer_tasks(&shard.store, shard.id)?;
    info!(shard = %shard.id, term, transfers = transfers.len(), "shard leadership acquired");
    for (id, task) in transfers {
        shard.dispatch_loaded(id, task);
    }
    // The wheel reads its first window itself; timers committed from here on reach it through
    // `rx` (see timer_wheel.rs for why none falls between the two).
    let wheel = TimerWheel::new(shard.clone(), rx);
    let wheel = tokio::spawn(wheel.run());
    // Serve until this term ends.
    loop {
        if *leadership.borrow() != Some(term) {
            break;
        }
        if leadership.changed().await.is_err() {
            break;
        }
    }
    wheel.abort();
    info!(shard = %shard.id, term, "shard leadership lost");
    Ok(())
}
