//! A workflow run's visibility row: what List returns and what a filter is evaluated against.
//!
//! Owns the row's shape (the system columns, the typed search attributes, the memo bytes) and
//! how an attribute's value is read from it. It must never be encoded or stored here; the
//! history service writes rows, in its own encoding, in the same batch as the change they show.

use std::collections::BTreeMap;

use crate::attributes::{Field, IndexedValueType, SystemField};
use crate::datetime::UnixNanos;
use crate::status::ExecutionStatus;

/// A search attribute's value in a row, typed as the attribute was registered.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Keyword(String),
    Text(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Datetime(UnixNanos),
    KeywordList(Vec<String>),
}

impl Value {
    pub fn ty(&self) -> IndexedValueType {
        match self {
            Value::Keyword(_) => IndexedValueType::Keyword,
            Value::Text(_) => IndexedValueType::Text,
            Value::Int(_) => IndexedValueType::Int,
            Value::Double(_) => IndexedValueType::Double,
            Value::Bool(_) => IndexedValueType::Bool,
            Value::Datetime(_) => IndexedValueType::Datetime,
            Value::KeywordList(_) => IndexedValueType::KeywordList,
        }
    }
}

/// One run's visibility row. Optional fields are the ones Temporal's SQL stores leave NULL:
/// `close_time`, `execution_duration`, `history_length`, `history_size_bytes` and
/// `state_transition_count` while the run is open; the parent ids for a run without a parent.
#[derive(Debug, Clone, PartialEq)]
pub struct VisibilityRecord {
    pub workflow_id: String,
    pub run_id: String,
    pub workflow_type: String,
    pub task_queue: String,
    pub status: ExecutionStatus,
    pub start_time: UnixNanos,
    pub execution_time: UnixNanos,
    pub close_time: Option<UnixNanos>,
    /// Nanoseconds from ExecutionTime to CloseTime.
    pub execution_duration: Option<i64>,
    pub history_length: Option<i64>,
    pub history_size_bytes: Option<i64>,
    pub state_transition_count: Option<i64>,
    pub parent_workflow_id: Option<String>,
    pub parent_run_id: Option<String>,
    /// The run itself when it has no parent.
    pub root_workflow_id: String,
    pub root_run_id: String,
    /// Predefined and custom search attributes, by registered name.
    pub search_attributes: BTreeMap<String, Value>,
    /// The encoded `Memo`, returned by List as is; never filtered on.
    pub memo: Vec<u8>,
}

/// An attribute's value read from a row, borrowed; `Null` when the row has none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FieldValue<'a> {
    Null,
    Str(&'a str),
    Text(&'a str),
    List(&'a [String]),
    Int(i64),
    Double(f64),
    Bool(bool),
    Datetime(UnixNanos),
    Status(ExecutionStatus),
}

impl VisibilityRecord {
    pub(crate) fn field(&self, field: &Field) -> FieldValue<'_> {
        use FieldValue as F;
        fn opt_str(s: &Option<String>) -> FieldValue<'_> {
            s.as_deref().map_or(FieldValue::Null, FieldValue::Str)
        }
        let opt_int = |i: Option<i64>| i.map_or(F::Null, F::Int);
        match field {
            Field::System(f) => match f {
                SystemField::WorkflowId => F::Str(&self.workflow_id),
                SystemField::RunId => F::Str(&self.run_id),
                SystemField::WorkflowType => F::Str(&self.workflow_type),
                SystemField::TaskQueue => F::Str(&self.task_queue),
                SystemField::ExecutionStatus => F::Status(self.status),
                SystemField::StartTime => F::Datetime(self.start_time),
                SystemField::ExecutionTime => F::Datetime(self.execution_time),
                SystemField::CloseTime => self.close_time.map_or(F::Null, F::Datetime),
                SystemField::ExecutionDuration => opt_int(self.execution_duration),
                SystemField::HistoryLength => opt_int(self.history_length),
                SystemField::HistorySizeBytes => opt_int(self.history_size_bytes),
                SystemField::StateTransitionCount => opt_int(self.state_transition_count),
                SystemField::ParentWorkflowId => opt_str(&self.parent_workflow_id),
                SystemField::ParentRunId => opt_str(&self.parent_run_id),
                SystemField::RootWorkflowId => F::Str(&self.root_workflow_id),
                SystemField::RootRunId => F::Str(&self.root_run_id),
            },
            Field::SearchAttribute(name) => match self.search_attributes.get(name) {
                None => F::Null,
                Some(Value::Keyword(s)) => F::Str(s),
                Some(Value::Text(s)) => F::Text(s),
                Some(Value::KeywordList(l)) => F::List(l),
                Some(Value::Int(i)) => F::Int(*i),
                Some(Value::Double(d)) => F::Double(*d),
                Some(Value::Bool(b)) => F::Bool(*b),
                Some(Value::Datetime(t)) => F::Datetime(*t),
            },
        }
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// An open run of type `T` on queue `q` with no search attributes.
    pub(crate) fn record(workflow_id: &str, start: i64) -> VisibilityRecord {
        VisibilityRecord {
            workflow_id: workflow_id.to_string(),
            run_id: format!("run-{workflow_id}"),
            workflow_type: "T".into(),
            task_queue: "q".into(),
            status: ExecutionStatus::Running,
            start_time: UnixNanos(start),
            execution_time: UnixNanos(start),
            close_time: None,
            execution_duration: None,
            history_length: None,
            history_size_bytes: None,
            state_transition_count: None,
            parent_workflow_id: None,
            parent_run_id: None,
            root_workflow_id: workflow_id.to_string(),
            root_run_id: format!("run-{workflow_id}"),
            search_attributes: BTreeMap::new(),
            memo: Vec::new(),
        }
    }
}
