//! The visibility index: entries that let List and Count read only the rows a query can match.
//!
//! Each row has five entries in the visibility family (keys in `keys.rs`, after every
//! namespace's rows): one in List's default order, one per WorkflowId, WorkflowType and
//! ExecutionStatus value (each in the default order too, so a page stops after its last row),
//! and one by StartTime. An entry's key names its row (run id and workflow id); its value is one
//! byte, 1 when the row is in a namespace division. Entries are derived from the row alone and
//! written, replaced and deleted in the same batch as the row ([`ops`], [`delete_ops`]), so they
//! are never ahead of or behind it.
//!
//! Reading follows the planner's choice (`Query::plan`): candidates come from one index range,
//! each candidate row is read and the whole query evaluated on it, so results are the full
//! scan's. A candidate whose row is gone or sits elsewhere in the order is skipped (its live
//! entry is the one that counts). Only a Count whose filter is exactly the index condition is
//! answered from the keys alone. This module must never write RocksDB itself nor read a clock.

use perdure_storage::keys::{self, VisibilityIndex, VisibilityOrder};
use perdure_storage::{Cf, Op, ShardId, Store};
use perdure_visibility::{
    DefaultOrderKey, IndexedAttribute, Plan, Planned, Query, SearchAttributes, TimeRange,
    UnixNanos, VisibilityRecord,
};
use prost::Message;
use temporalio_protos::temporal::api::workflow::v1::WorkflowExecutionInfo;

use super::{record_of, record_typed, Ranked, VisibilityCount, SCAN_CHUNK};
use crate::errors::HistoryError;

/// The attributes with a by-value index.
const BY_VALUE: [IndexedAttribute; 3] = [
    IndexedAttribute::WorkflowId,
    IndexedAttribute::WorkflowType,
    IndexedAttribute::ExecutionStatus,
];

fn key_index(a: IndexedAttribute) -> VisibilityIndex {
    match a {
        IndexedAttribute::WorkflowId => VisibilityIndex::WorkflowId,
        IndexedAttribute::WorkflowType => VisibilityIndex::WorkflowType,
        IndexedAttribute::ExecutionStatus => VisibilityIndex::ExecutionStatus,
    }
}

fn order_of(record: &VisibilityRecord) -> VisibilityOrder {
    let key = DefaultOrderKey::of(record);
    let (close, start, run) = key.parts();
    VisibilityOrder {
        close_time: close.map(|c| c.0),
        start_time: start.0,
        run_id: run.to_string(),
        workflow_id: record.workflow_id.clone(),
    }
}

/// Every index entry of a row, as (key, value).
pub(crate) fn entries(
    shard: ShardId,
    namespace_id: &str,
    row: &WorkflowExecutionInfo,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let record = record_of(row);
    let order = order_of(&record);
    let flag = vec![u8::from(record.in_namespace_division())];
    let mut out = Vec::with_capacity(2 + BY_VALUE.len());
    out.push((
        keys::visibility_ordered_entry(
            &keys::visibility_by_order_prefix(shard, namespace_id),
            &order,
        ),
        flag.clone(),
    ));
    for a in BY_VALUE {
        let prefix = keys::visibility_by_value_prefix(
            shard,
            namespace_id,
            key_index(a),
            &a.value_of(&record),
        );
        out.push((
            keys::visibility_ordered_entry(&prefix, &order),
            flag.clone(),
        ));
    }
    out.push((
        keys::visibility_by_start_entry(
            shard,
            namespace_id,
            order.start_time,
            &order.run_id,
            &order.workflow_id,
        ),
        flag,
    ));
    out
}

/// The ops that take a run's entries from those of row `before` to those of row `after`
/// (`None`: no row), touching only the entries that differ.
pub(crate) fn ops(
    shard: ShardId,
    namespace_id: &str,
    before: Option<&WorkflowExecutionInfo>,
    after: Option<&WorkflowExecutionInfo>,
) -> Vec<Op> {
    let old = before.map_or_else(Vec::new, |r| entries(shard, namespace_id, r));
    let new = after.map_or_else(Vec::new, |r| entries(shard, namespace_id, r));
    let mut out = Vec::new();
    for (k, _) in &old {
        if !new.iter().any(|(n, _)| n == k) {
            out.push(Op::Delete {
                cf: Cf::Visibility,
                key: k.clone(),
            });
        }
    }
    for (k, v) in new {
        if !old.iter().any(|(o, ov)| *o == k && *ov == v) {
            out.push(Op::Put {
                cf: Cf::Visibility,
                key: k,
                value: v,
            });
        }
    }
    out
}

/// Deletes a run's row and its entries (retention), from the row as stored.
pub(crate) fn delete_ops(
    store: &Store,
    shard: ShardId,
    namespace_id: &str,
    workflow_id: &str,
    run_id: &str,
) -> Result<Vec<Op>, HistoryError> {
    // Only the ids, type, status and times are read: no custom attribute types needed.
    let stored = load_row(
        store,
        shard,
        namespace_id,
        workflow_id,
        run_id,
        &SearchAttributes::new(),
    )?;
    let mut out = ops(shard, namespace_id, stored.as_ref().map(|(i, _)| i), None);
    out.push(super::delete_row(shard, namespace_id, workflow_id, run_id));
    Ok(out)
}

fn load_row(
    store: &Store,
    shard: ShardId,
    namespace_id: &str,
    workflow_id: &str,
    run_id: &str,
    attrs: &SearchAttributes,
) -> Result<Option<(WorkflowExecutionInfo, VisibilityRecord)>, HistoryError> {
    let key = keys::visibility(shard, namespace_id, workflow_id, run_id);
    let Some(raw) = store.get(Cf::Visibility, &key)? else {
        return Ok(None);
    };
    let info = WorkflowExecutionInfo::decode(raw.as_slice())
        .map_err(HistoryError::decode("visibility row"))?;
    let record = record_typed(&info, attrs);
    Ok(Some((info, record)))
}

/// Whether to read on after an entry.
#[derive(PartialEq, Eq)]
enum Flow {
    More,
    Stop,
}

/// Calls `f` with every `(key, value)` from `from` up to `until` (exclusive) under `prefix`.
fn each_entry(
    store: &Store,
    prefix: &[u8],
    from: Vec<u8>,
    until: Option<Vec<u8>>,
    mut f: impl FnMut(&[u8], &[u8]) -> Result<Flow, HistoryError>,
) -> Result<(), HistoryError> {
    let end = match (until, keys::prefix_end(prefix)) {
        (Some(u), Some(e)) => Some(u.min(e)),
        (u, e) => u.or(e),
    };
    let mut from = from.max(prefix.to_vec());
    loop {
        if end.as_ref().is_some_and(|e| from >= *e) {
            return Ok(());
        }
        let rows = match &end {
            Some(e) => store.scan_range(Cf::Visibility, &from, e, SCAN_CHUNK)?,
            None => store.scan_prefix(Cf::Visibility, prefix, Some(&from), SCAN_CHUNK)?,
        };
        let full = rows.len() == SCAN_CHUNK;
        for (k, v) in &rows {
            if f(k, v)? == Flow::Stop {
                return Ok(());
            }
        }
        match rows.last() {
            Some((k, _)) if full => {
                from = k.clone();
                from.push(0);
            }
            _ => return Ok(()),
        }
    }
}

/// One range of an index the plan reads: entries under `prefix` from `from` to `until`, keyed
/// in the default order or not.
struct Range {
    prefix: Vec<u8>,
    from: Vec<u8>,
    until: Option<Vec<u8>>,
    ordered: bool,
}

/// The ranges a plan reads, each starting after `after` when it is ordered.
fn ranges(
    shard: ShardId,
    namespace_id: &str,
    plan: &Plan,
    after: Option<&DefaultOrderKey>,
) -> Vec<Range> {
    let ordered = |prefix: Vec<u8>, close: TimeRange| {
        let mut from = prefix.clone();
        if let Some(u) = close.until {
            from = from.max(keys::visibility_ordered_close_at_most(
                &prefix,
                u.0.saturating_sub(1),
            ));
        }
        if let Some(a) = after {
            let (c, s, r) = a.parts();
            from = from.max(keys::visibility_ordered_after(
                &prefix,
                c.map(|c| c.0),
                s.0,
                r,
            ));
        }
        let until = close
            .from
            .map(|f| keys::visibility_ordered_close_at_most(&prefix, f.0.saturating_sub(1)));
        Range {
            prefix,
            from,
            until,
            ordered: true,
        }
    };
    match plan {
        Plan::FullScan => Vec::new(),
        Plan::Ordered { close } => vec![ordered(
            keys::visibility_by_order_prefix(shard, namespace_id),
            *close,
        )],
        Plan::Equal { attr, values } => values
            .iter()
            .map(|v| {
                ordered(
                    keys::visibility_by_value_prefix(shard, namespace_id, key_index(*attr), v),
                    TimeRange::default(),
                )
            })
            .collect(),
        Plan::StartTime(range) => {
            let prefix = keys::visibility_by_start_prefix(shard, namespace_id);
            let from = range.from.map_or_else(
                || prefix.clone(),
                |f| keys::visibility_by_start_from(shard, namespace_id, f.0),
            );
            let until = range
                .until
                .map(|u| keys::visibility_by_start_from(shard, namespace_id, u.0));
            vec![Range {
                prefix,
                from,
                until,
                ordered: false,
            }]
        }
    }
}

/// The row an entry names, with its place in the default order; None when the entry is not
/// the row's live one (a retired entry: its live entry is elsewhere, or the row is gone).
fn candidate(
    store: &Store,
    shard: ShardId,
    namespace_id: &str,
    range: &Range,
    key: &[u8],
    attrs: &SearchAttributes,
) -> Result<Option<(WorkflowExecutionInfo, VisibilityRecord, DefaultOrderKey)>, HistoryError> {
    let (wf, run, expect) = if range.ordered {
        let Some(o) = keys::decode_visibility_ordered_entry(key, range.prefix.len()) else {
            return Ok(None);
        };
        let expect = DefaultOrderKey::from_parts(
            o.close_time.map(UnixNanos),
            UnixNanos(o.start_time),
            o.run_id.clone(),
        );
        (o.workflow_id, o.run_id, Some(expect))
    } else {
        let Some((_, run, wf)) = keys::decode_visibility_by_start_entry(key, range.prefix.len())
        else {
            return Ok(None);
        };
        (wf, run, None)
    };
    let Some((info, record)) = load_row(store, shard, namespace_id, &wf, &run, attrs)? else {
        return Ok(None);
    };
    let order = DefaultOrderKey::of(&record);
    if expect.is_some_and(|e| e != order) {
        return Ok(None);
    }
    Ok(Some((info, record, order)))
}

/// [`super::list_page`] through the plan's index: the same arguments plus the plan.
#[allow(clippy::too_many_arguments)]
pub(crate) fn list_page(
    store: &Store,
    shard: ShardId,
    namespace_id: &str,
    query: &Query,
    plan: &Plan,
    attrs: &SearchAttributes,
    after: Option<&DefaultOrderKey>,
    limit: usize,
) -> Result<Vec<WorkflowExecutionInfo>, HistoryError> {
    let mut best: std::collections::BinaryHeap<Ranked> = std::collections::BinaryHeap::new();
    for range in ranges(shard, namespace_id, plan, after) {
        // Rows of an ordered range come in the default order: the range is done after `limit`
        // matches, or at the first row no better than the worst kept so far.
        let mut taken = 0;
        each_entry(
            store,
            &range.prefix,
            range.from.clone(),
            range.until.clone(),
            |key, _| {
                let Some((info, record, order)) =
                    candidate(store, shard, namespace_id, &range, key, attrs)?
                else {
                    return Ok(Flow::More);
                };
                if after.is_some_and(|a| order <= *a) || !query.matches(&record) {
                    return Ok(Flow::More);
                }
                if best.len() == limit {
                    if best.peek().is_some_and(|worst| order >= worst.0) {
                        return Ok(if range.ordered {
                            Flow::Stop
                        } else {
                            Flow::More
                        });
                    }
                    best.pop();
                }
                best.push(Ranked(order, info));
                taken += 1;
                Ok(if range.ordered && taken == limit {
                    Flow::Stop
                } else {
                    Flow::More
                })
            },
        )?;
    }
    Ok(best.into_sorted_vec().into_iter().map(|r| r.1).collect())
}

/// [`super::count`] through the plan's index; from the keys alone when the index condition is
/// the whole filter and nothing is grouped.
pub(crate) fn count(
    store: &Store,
    shard: ShardId,
    namespace_id: &str,
    query: &Query,
    planned: &Planned,
    attrs: &SearchAttributes,
) -> Result<VisibilityCount, HistoryError> {
    let mut out = VisibilityCount::default();
    let keys_only = planned.covered && query.group_by.is_empty();
    for range in ranges(shard, namespace_id, &planned.plan, None) {
        each_entry(
            store,
            &range.prefix,
            range.from.clone(),
            range.until.clone(),
            |key, value| {
                if keys_only {
                    if query.names_namespace_division || value.first() != Some(&1) {
                        out.count += 1;
                    }
                    return Ok(Flow::More);
                }
                let Some((_, record, _)) =
                    candidate(store, shard, namespace_id, &range, key, attrs)?
                else {
                    return Ok(Flow::More);
                };
                if query.matches(&record) {
                    out.count += 1;
                    if let Some(g) = query.group_value(&record) {
                        *out.groups.entry(g).or_default() += 1;
                    }
                }
                Ok(Flow::More)
            },
        )?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
