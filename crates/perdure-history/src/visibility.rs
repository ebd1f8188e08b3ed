//! The visibility table: one row per run, what ListWorkflowExecutions returns and what its
//! filters are evaluated against (DESIGN.md §6).
//!
//! A row is the run's `WorkflowExecutionInfo` as Temporal's SQL visibility store returns it,
//! derived from the mutable state *after* a write ([`row_of`]) and written in the same batch as
//! the change that causes it ([`changed_row`]: only when the row differs from the one the state
//! before the write gives, so most writes add nothing). Keys are `keys::visibility` (group,
//! namespace id, workflow id, run id), so a shard scans one namespace's rows by prefix.
//! [`record_of`] turns a stored row into the query crate's [`VisibilityRecord`]; [`index`]
//! keeps the entries that let a selective query read only its candidates.
//!
//! While a run is open its close time, duration, history length and size stay unset (the dev
//! server treats them as NULL then); they are filled in by the write that closes it. This
//! module must never write RocksDB itself (rows ride in the shard's batches) nor read a clock.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use perdure_core::{MutableState, Time};
use perdure_storage::{keys, Cf, Op, ShardId, Store};
use perdure_visibility::{
    DefaultOrderKey, ExecutionStatus, IndexedValueType, Plan, Query, SearchAttributes, UnixNanos,
    Value, VisibilityRecord,
};
use prost::Message;
use prost_wkt_types::Timestamp;
use temporalio_protos::temporal::api::common::v1::{Payload, WorkflowExecution};
use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use temporalio_protos::temporal::api::workflow::v1::WorkflowExecutionInfo;

use crate::errors::HistoryError;

pub(crate) mod index;

/// Rows read from RocksDB at a time while a shard scans a namespace.
const SCAN_CHUNK: usize = 1024;

/// The visibility row of a run, as List returns it.
pub fn row_of(state: &MutableState) -> WorkflowExecutionInfo {
    let closed = state.status != WorkflowExecutionStatus::Running as i32;
    let close = Time(state.close_time);
    let execution_time = state.execution_time();
    WorkflowExecutionInfo {
        execution: Some(state.execution()),
        r#type: state.workflow_type.clone(),
        start_time: Time(state.start_time).to_timestamp_opt(),
        close_time: if closed {
            close.to_timestamp_opt()
        } else {
            None
        },
        status: state.status,
        history_length: if closed { state.history_length() } else { 0 },
        parent_namespace_id: state.parent_namespace_id.clone(),
        parent_execution: (!state.parent_workflow_id.is_empty()).then(|| WorkflowExecution {
            workflow_id: state.parent_workflow_id.clone(),
            run_id: state.parent_run_id.clone(),
        }),
        execution_time: execution_time.to_timestamp_opt(),
        memo: state.memo.clone().filter(|m| !m.fields.is_empty()),
        search_attributes: state
            .search_attributes
            .clone()
            .filter(|s| !s.indexed_fields.is_empty()),
        task_queue: state.task_queue.clone(),
        history_size_bytes: if closed {
            state.history_size_bytes()
        } else {
            0
        },
        state_transition_count: if closed {
            state.state_transition_count
        } else {
            0
        },
        execution_duration: (closed && !close.is_unset())
            .then(|| perdure_core::duration_to_proto(close.since(execution_time))),
        root_execution: Some(if state.root_workflow_id.is_empty() {
            state.execution()
        } else {
            WorkflowExecution {
                workflow_id: state.root_workflow_id.clone(),
                run_id: state.root_run_id.clone(),
            }
        }),
        ..Default::default()
    }
}

/// The row and index entries to write when a write takes a run from `before` (None: the run is
/// new) to `after`; nothing when List would show the run unchanged.
pub(crate) fn changed_row(
    shard: ShardId,
    namespace_id: &str,
    before: Option<&MutableState>,
    after: &MutableState,
) -> Vec<Op> {
    let row = row_of(after);
    let old = before.map(row_of);
    if old.as_ref() == Some(&row) {
        return Vec::new();
    }
    let mut ops = index::ops(shard, namespace_id, old.as_ref(), Some(&row));
    ops.push(put_row(shard, namespace_id, &row));
    ops
}

/// Writes `row` (a new run's, or a changed one).
pub(crate) fn put_row(shard: ShardId, namespace_id: &str, row: &WorkflowExecutionInfo) -> Op {
    let e = row.execution.clone().unwrap_or_default();
    Op::Put {
        cf: Cf::Visibility,
        key: keys::visibility(shard, namespace_id, &e.workflow_id, &e.run_id),
        value: row.encode_to_vec(),
    }
}

/// Deletes a run's row (retention: [`index::delete_ops`] deletes its index entries with it).
fn delete_row(shard: ShardId, namespace_id: &str, workflow_id: &str, run_id: &str) -> Op {
    Op::Delete {
        cf: Cf::Visibility,
        key: keys::visibility(shard, namespace_id, workflow_id, run_id),
    }
}

fn nanos(t: Option<&Timestamp>) -> Option<UnixNanos> {
    t.map(|t| {
        UnixNanos(
            t.seconds
                .saturating_mul(1_000_000_000)
                .saturating_add(t.nanos as i64),
        )
    })
}

/// A stored row as the query crate sees it, its search attributes typed by their predefined
/// type or the payload's `type` metadata (which the frontend sets to the registered type).
pub fn record_of(info: &WorkflowExecutionInfo) -> VisibilityRecord {
    record_typed(info, &SearchAttributes::new())
}

/// [`record_of`], a namespace's custom attributes typed by its registry `attrs` (a value
/// written before its attribute was registered with another type then fits no query).
pub fn record_typed(info: &WorkflowExecutionInfo, attrs: &SearchAttributes) -> VisibilityRecord {
    let e = info.execution.clone().unwrap_or_default();
    let status =
        ExecutionStatus::from_number(info.status as i64).unwrap_or(ExecutionStatus::Unspecified);
    let closed = status != ExecutionStatus::Running;
    let start_time = nanos(info.start_time.as_ref()).unwrap_or(UnixNanos(0));
    let root = info.root_execution.clone().unwrap_or_else(|| e.clone());
    let search_attributes = info
        .search_attributes
        .as_ref()
        .map(|s| {
            s.indexed_fields
                .iter()
                .filter_map(|(k, p)| Some((k.clone(), attribute_value(attrs, k, p)?)))
                .collect()
        })
        .unwrap_or_default();
    VisibilityRecord {
        workflow_id: e.workflow_id.clone(),
        run_id: e.run_id.clone(),
        workflow_type: info
            .r#type
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        task_queue: info.task_queue.clone(),
        status,
        start_time,
        execution_time: nanos(info.execution_time.as_ref()).unwrap_or(start_time),
        close_time: if closed {
            nanos(info.close_time.as_ref())
        } else {
            None
        },
        execution_duration: info
            .execution_duration
            .as_ref()
            .filter(|_| closed)
            .map(|d| {
                d.seconds
                    .saturating_mul(1_000_000_000)
                    .saturating_add(d.nanos as i64)
            }),
        history_length: closed.then_some(info.history_length),
        history_size_bytes: closed.then_some(info.history_size_bytes),
        state_transition_count: closed.then_some(info.state_transition_count),
        parent_workflow_id: info
            .parent_execution
            .as_ref()
            .map(|p| p.workflow_id.clone()),
        parent_run_id: info.parent_execution.as_ref().map(|p| p.run_id.clone()),
        root_workflow_id: root.workflow_id,
        root_run_id: root.run_id,
        search_attributes,
        memo: info
            .memo
            .as_ref()
            .map(|m| m.encode_to_vec())
            .unwrap_or_default(),
    }
}

/// A search attribute's payload as a typed value: a predefined or registered attribute by its
/// type, any other by the `type` metadata the SDKs attach; None when none says or the JSON
/// does not fit the type (such a value can never match a query).
fn attribute_value(attrs: &SearchAttributes, name: &str, p: &Payload) -> Option<Value> {
    let ty = SearchAttributes::predefined()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t)
        .or_else(|| attrs.custom().find(|(n, _)| *n == name).map(|(_, t)| t))
        .or_else(|| {
            let t = std::str::from_utf8(p.metadata.get("type")?).ok()?;
            IndexedValueType::from_name(t)
        })?;
    let json: serde_json::Value = serde_json::from_slice(&p.data).ok()?;
    use serde_json::Value as J;
    Some(match (ty, json) {
        (IndexedValueType::Keyword, J::String(s)) => Value::Keyword(s),
        (IndexedValueType::Text, J::String(s)) => Value::Text(s),
        (IndexedValueType::Int, J::Number(n)) => Value::Int(n.as_i64()?),
        (IndexedValueType::Double, J::Number(n)) => Value::Double(n.as_f64()?),
        (IndexedValueType::Bool, J::Bool(b)) => Value::Bool(b),
        (IndexedValueType::Datetime, J::String(s)) => {
            Value::Datetime(UnixNanos::parse_rfc3339(&s)?)
        }
        (IndexedValueType::KeywordList, J::String(s)) => Value::KeywordList(vec![s]),
        (IndexedValueType::KeywordList, J::Array(items)) => Value::KeywordList(
            items
                .into_iter()
                .map(|i| match i {
                    J::String(s) => Some(s),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// Calls `f` with every row of `namespace_id` on `shard`, in key order.
fn scan(
    store: &Store,
    shard: ShardId,
    namespace_id: &str,
    attrs: &SearchAttributes,
    mut f: impl FnMut(WorkflowExecutionInfo, VisibilityRecord),
) -> Result<(), HistoryError> {
    let prefix = keys::visibility_prefix(shard, namespace_id);
    let mut from: Option<Vec<u8>> = None;
    loop {
        let rows = store.scan_prefix(Cf::Visibility, &prefix, from.as_deref(), SCAN_CHUNK)?;
        let full = rows.len() == SCAN_CHUNK;
        let mut last = None;
        for (k, v) in rows {
            let info = WorkflowExecutionInfo::decode(v.as_slice())
                .map_err(HistoryError::decode("visibility row"))?;
            let record = record_typed(&info, attrs);
            f(info, record);
            last = Some(k);
        }
        match last {
            Some(mut k) if full => {
                // The smallest key after `k`.
                k.push(0);
                from = Some(k);
            }
            _ => return Ok(()),
        }
    }
}

/// A row in a shard's page, ordered by its place in List's default order.
struct Ranked(DefaultOrderKey, WorkflowExecutionInfo);

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

/// The first `limit` rows of `namespace_id` on `shard` that match `query` and come after
/// `after` in List's default order, in that order.
pub(crate) fn list_page(
    store: &Store,
    shard: ShardId,
    namespace_id: &str,
    query: &Query,
    attrs: &SearchAttributes,
    after: Option<&DefaultOrderKey>,
    limit: usize,
) -> Result<Vec<WorkflowExecutionInfo>, HistoryError> {
    let mut best: BinaryHeap<Ranked> = BinaryHeap::new();
    if limit == 0 {
        return Ok(Vec::new());
    }
    let plan = query.plan().plan;
    if plan != Plan::FullScan {
        return index::list_page(
            store,
            shard,
            namespace_id,
            query,
            &plan,
            attrs,
            after,
            limit,
        );
    }
    scan(store, shard, namespace_id, attrs, |info, record| {
        let key = DefaultOrderKey::of(&record);
        if after.is_some_and(|a| key <= *a) || !query.matches(&record) {
            return;
        }
        if best.len() == limit {
            if best.peek().is_some_and(|worst| key >= worst.0) {
                return;
            }
            best.pop();
        }
        best.push(Ranked(key, info));
    })?;
    Ok(best.into_sorted_vec().into_iter().map(|r| r.1).collect())
}

/// How many rows of a shard match a query, in total and per GROUP BY value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VisibilityCount {
    pub count: i64,
    pub groups: BTreeMap<String, i64>,
}

pub(crate) fn count(
    store: &Store,
    shard: ShardId,
    namespace_id: &str,
    query: &Query,
    attrs: &SearchAttributes,
) -> Result<VisibilityCount, HistoryError> {
    let planned = query.plan();
    if planned.plan != Plan::FullScan {
        return index::count(store, shard, namespace_id, query, &planned, attrs);
    }
    let mut out = VisibilityCount::default();
    scan(store, shard, namespace_id, attrs, |_, record| {
        if !query.matches(&record) {
            return;
        }
        out.count += 1;
        if let Some(g) = query.group_value(&record) {
            *out.groups.entry(g).or_default() += 1;
        }
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests;
