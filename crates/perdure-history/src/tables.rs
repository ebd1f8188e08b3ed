//! Reads of the shard's tables, decoded into core types. Writes never happen here: they go
//! through [`crate::writer`] as replicated batches.

use perdure_core::{CurrentExecution, MutableState, TimerTask, TransferTask};
use perdure_storage::{keys, Cf, KvPair, ShardId, Store};
use prost::Message;
use temporalio_protos::temporal::api::history::v1::HistoryEvent;

use crate::cache::ExecKey;
use crate::errors::HistoryError;

/// Reads an execution's mutable state and its version, if the run exists.
pub fn load_execution(
    store: &Store,
    shard: ShardId,
    key: &ExecKey,
) -> Result<Option<(MutableState, u64)>, HistoryError> {
    let k = keys::execution(shard, &key.namespace_id, &key.workflow_id, &key.run_id);
    let Some(bytes) = store.get(Cf::Executions, &k)? else {
        return Ok(None);
    };
    let mut state =
        MutableState::decode(bytes.as_slice()).map_err(HistoryError::decode("execution"))?;
    let vk = keys::execution_version(shard, &key.namespace_id, &key.workflow_id, &key.run_id);
    let version = match store.get(Cf::Executions, &vk)? {
        Some(v) => decode_version(&v)?,
        None => 0,
    };
    if state.state_transition_count == 0 {
        // Stored before the count was kept: the version has counted the same writes.
        state.state_transition_count = version as i64;
    }
    Ok(Some((state, version)))
}

pub fn encode_version(v: u64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

fn decode_version(bytes: &[u8]) -> Result<u64, HistoryError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| HistoryError::Malformed {
        what: "execution version",
        detail: "version is not 8 bytes",
    })?;
    Ok(u64::from_be_bytes(arr))
}

/// The current-run pointer of a workflow id, with its raw bytes for a precondition.
pub fn load_current(
    store: &Store,
    shard: ShardId,
    namespace_id: &str,
    workflow_id: &str,
) -> Result<Option<(CurrentExecution, Vec<u8>)>, HistoryError> {
    let k = keys::current_execution(shard, namespace_id, workflow_id);
    let Some(bytes) = store.get(Cf::CurrentExecutions, &k)? else {
        return Ok(None);
    };
    let current = CurrentExecution::decode(bytes.as_slice())
        .map_err(HistoryError::decode("current execution"))?;
    Ok(Some((current, bytes)))
}

/// History events of a run with ids in `[from, to)`, at most `limit` of them.
pub fn read_events(
    store: &Store,
    shard: ShardId,
    key: &ExecKey,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<HistoryEvent>, HistoryError> {
    if from >= to {
        return Ok(Vec::new());
    }
    let start = keys::history_event(
        shard,
        &key.namespace_id,
        &key.workflow_id,
        &key.run_id,
        from,
    );
    let end = keys::history_event(shard, &key.namespace_id, &key.workflow_id, &key.run_id, to);
    let rows = store.scan_range(Cf::History, &start, &end, limit)?;
    let mut events = Vec::with_capacity(rows.len());
    for (_, v) in rows {
        events.push(
            HistoryEvent::decode(v.as_slice()).map_err(HistoryError::decode("history event"))?,
        );
    }
    // Ids are contiguous by construction; a gap means a lost or foreign record.
    for (i, e) in events.iter().enumerate() {
        if e.event_id != from + i as i64 {
            return Err(HistoryError::Malformed {
                what: "history event",
                detail: "event ids are not contiguous",
            });
        }
    }
    Ok(events)
}

/// Every pending transfer task of the shard, oldest first.
pub fn load_transfer_tasks(
    store: &Store,
    shard: ShardId,
) -> Result<Vec<(u64, TransferTask)>, HistoryError> {
    let rows = store.scan_prefix(
        Cf::TransferTasks,
        &keys::transfer_prefix(shard),
        None,
        usize::MAX,
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for (k, v) in rows {
        let Some(id) = keys::decode_transfer_task(&k) else {
            continue;
        };
        out.push((
            id,
            TransferTask::decode(v.as_slice()).map_err(HistoryError::decode("transfer task"))?,
        ));
    }
    Ok(out)
}

/// Up to `limit` timers with keys from `(fire, task_id)` of `from` (inclusive) to fire time
/// `before` (exclusive), in firing order: one bounded page of the timer wheel's next window.
pub fn load_timer_slice(
    store: &Store,
    shard: ShardId,
    from: (i64, u64),
    before: i64,
    limit: usize,
) -> Result<Vec<(i64, u64, TimerTask)>, HistoryError> {
    let start = keys::timer_task(shard, from.0, from.1);
    let end = keys::timer_upto(shard, before);
    let rows = store.scan_range(Cf::TimerTasks, &start, &end, limit)?;
    decode_timer_rows(rows)
}

/// Whether the timer row `(fire, task_id)` is still on disk: firing deletes it in the same
/// batch, so a missing row means the timer has already fired.
pub fn timer_row_exists(
    store: &Store,
    shard: ShardId,
    fire: i64,
    task_id: u64,
) -> Result<bool, HistoryError> {
    let key = keys::timer_task(shard, fire, task_id);
    Ok(store.get(Cf::TimerTasks, &key)?.is_some())
}

/// Every pending timer of the shard, in firing order. Unbounded: for tests only (the wheel
/// reads [`load_timer_slice`] pages).
#[cfg(test)]
pub fn load_timer_tasks(
    store: &Store,
    shard: ShardId,
) -> Result<Vec<(i64, u64, TimerTask)>, HistoryError> {
    let rows = store.scan_prefix(Cf::TimerTasks, &keys::timer_prefix(shard), None, usize::MAX)?;
    decode_timer_rows(rows)
}

fn decode_timer_rows(rows: Vec<KvPair>) -> Result<Vec<(i64, u64, TimerTask)>, HistoryError> {
    let mut out = Vec::with_capacity(rows.len());
    for (k, v) in rows {
        let Some((fire, id)) = keys::decode_timer_task(&k) else {
            continue;
        };
        out.push((
            fire,
            id,
            TimerTask::decode(v.as_slice()).map_err(HistoryError::decode("timer task"))?,
        ));
    }
    Ok(out)
}
