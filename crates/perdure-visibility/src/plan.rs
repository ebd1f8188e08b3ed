//! Which index answers a query: the planner.
//!
//! Owns the choice between a full scan of a namespace's rows and one of the indexes the history
//! service keeps (every row in List's default order; rows by WorkflowId, WorkflowType or
//! ExecutionStatus value, each in the default order; rows by StartTime), and what part of the
//! index to read. An index plan only narrows the candidates: the caller still evaluates the
//! whole query on every candidate row, so a plan must always name a superset of the matches.
//! It must never read rows or know how index keys are encoded.

use crate::ast::{CompareOp, Expr, Literal, Query};
use crate::attributes::{Attribute, SystemField, NAMESPACE_DIVISION};
use crate::datetime::UnixNanos;
use crate::record::VisibilityRecord;

/// An attribute with a by-value index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexedAttribute {
    WorkflowId,
    WorkflowType,
    ExecutionStatus,
}

impl IndexedAttribute {
    /// A row's value as the index stores it (ExecutionStatus as its number).
    pub fn value_of(self, record: &VisibilityRecord) -> String {
        match self {
            IndexedAttribute::WorkflowId => record.workflow_id.clone(),
            IndexedAttribute::WorkflowType => record.workflow_type.clone(),
            IndexedAttribute::ExecutionStatus => record.status.number().to_string(),
        }
    }

    fn of(attr: &Attribute) -> Option<Self> {
        [
            (SystemField::WorkflowId, IndexedAttribute::WorkflowId),
            (SystemField::WorkflowType, IndexedAttribute::WorkflowType),
            (
                SystemField::ExecutionStatus,
                IndexedAttribute::ExecutionStatus,
            ),
        ]
        .into_iter()
        .find(|(f, _)| attr.is_system(*f))
        .map(|(_, i)| i)
    }

    /// A query value as the index stores it; None when it cannot equal any row's value.
    fn key_of(self, lit: &Literal) -> Option<String> {
        match (self, lit) {
            (IndexedAttribute::ExecutionStatus, Literal::Status(s)) => Some(s.number().to_string()),
            (IndexedAttribute::WorkflowId | IndexedAttribute::WorkflowType, Literal::String(s)) => {
                Some(s.clone())
            }
            _ => None,
        }
    }

    /// Preference when a conjunction offers several: the likelier to be selective first.
    fn rank(self) -> u8 {
        match self {
            IndexedAttribute::WorkflowId => 0,
            IndexedAttribute::WorkflowType => 1,
            IndexedAttribute::ExecutionStatus => 3,
        }
    }
}

/// Times from `from` (inclusive) to `until` (exclusive), in unix nanoseconds; `None` is
/// unbounded on that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub from: Option<UnixNanos>,
    pub until: Option<UnixNanos>,
}

impl TimeRange {
    fn is_bounded(&self) -> bool {
        self.from.is_some() || self.until.is_some()
    }

    fn intersect(self, other: TimeRange) -> TimeRange {
        TimeRange {
            from: self.from.max(other.from),
            until: match (self.until, other.until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// Whether `t` is in the range.
    pub fn contains(&self, t: UnixNanos) -> bool {
        self.from.is_none_or(|f| t >= f) && self.until.is_none_or(|u| t < u)
    }
}

/// Where a query's candidate rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Every row of the namespace, in key order.
    FullScan,
    /// Rows in List's default order whose close time is in `close` (unbounded: every row, open
    /// ones first), so a page can stop after its last row.
    Ordered { close: TimeRange },
    /// Rows whose `attr` is one of `values` (distinct, as the index stores them), each value's
    /// rows in the default order.
    Equal {
        attr: IndexedAttribute,
        values: Vec<String>,
    },
    /// Rows whose start time is in the range, in no useful order.
    StartTime(TimeRange),
}

/// A plan, and whether the index condition is the whole filter (then every row the index
/// names matches, except rows in a namespace division when the query does not name it).
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub plan: Plan,
    pub covered: bool,
}

impl Query {
    /// The cheapest way to find this query's rows. A query with ORDER BY is answered by a full
    /// scan (its order is not an index's).
    pub fn plan(&self) -> Planned {
        let full = Planned {
            plan: Plan::FullScan,
            covered: false,
        };
        if !self.order_by.is_empty() {
            return full;
        }
        let Some(filter) = &self.filter else {
            // A GROUP BY without a filter reads every row: in key order, not one lookup per
            // index entry.
            if !self.group_by.is_empty() {
                return full;
            }
            return Planned {
                plan: Plan::Ordered {
                    close: TimeRange::default(),
                },
                covered: true,
            };
        };
        let conjuncts: &[Expr] = match filter {
            Expr::And(all) => all,
            e => std::slice::from_ref(e),
        };
        let lone = conjuncts.len() == 1;

        let mut best: Option<(u8, IndexedAttribute, Vec<String>, bool)> = None;
        let mut start = TimeRange::default();
        let mut close = TimeRange::default();
        for e in conjuncts {
            if let Some((attr, values, exact)) = equality(e) {
                if best.as_ref().is_none_or(|b| attr.rank() < b.0) {
                    best = Some((attr.rank(), attr, values, exact && lone));
                }
            } else if let Some((field, range)) = time_range(e) {
                match field {
                    SystemField::StartTime => start = start.intersect(range),
                    // A CloseTime condition never matches an open run (its close time is
                    // NULL), and open runs sort first in the default order: skip them (and
                    // the deleted entries every run left there while it was open).
                    _ => {
                        close = close.intersect(range).intersect(TimeRange {
                            from: None,
                            until: Some(UnixNanos(i64::MAX)),
                        })
                    }
                }
            }
        }
        // Time ranges rank between WorkflowType and ExecutionStatus: a status has a handful of
        // values, so its rows are rarely few.
        match best {
            Some((rank, attr, values, covered)) if rank < 2 => Planned {
                plan: Plan::Equal { attr, values },
                covered,
            },
            _ if start.is_bounded() => Planned {
                plan: Plan::StartTime(start),
                covered: false,
            },
            _ if close.is_bounded() => Planned {
                plan: Plan::Ordered { close },
                covered: false,
            },
            Some((_, attr, values, covered)) => Planned {
                plan: Plan::Equal { attr, values },
                covered,
            },
            None => full,
        }
    }
}

/// `attr = v` or `attr IN (..)` on an indexed attribute: the attribute, the values as the index
/// stores them, and whether the condition is exactly "the value is one of these".
fn equality(e: &Expr) -> Option<(IndexedAttribute, Vec<String>, bool)> {
    let (attr, lits) = match e {
        Expr::Compare {
            attr,
            op: CompareOp::Eq,
            value,
        } => (attr, std::slice::from_ref(value)),
        Expr::In {
            attr,
            values,
            negated: false,
        } => (attr, values.as_slice()),
        _ => return None,
    };
    let index = IndexedAttribute::of(attr)?;
    let mut values: Vec<String> = lits.iter().filter_map(|l| index.key_of(l)).collect();
    let exact = values.len() == lits.len();
    values.sort();
    values.dedup();
    Some((index, values, exact))
}

/// A bound on StartTime or CloseTime, widened to whole microseconds (rows compare to the
/// microsecond, as in Temporal's SQL stores) so it never excludes a match.
fn time_range(e: &Expr) -> Option<(SystemField, TimeRange)> {
    let field = |a: &Attribute| {
        [SystemField::StartTime, SystemField::CloseTime]
            .into_iter()
            .find(|f| a.is_system(*f))
    };
    let floor = |t: UnixNanos| UnixNanos(t.micros().saturating_mul(1_000));
    let after_micro = |t: UnixNanos| UnixNanos(t.micros().saturating_add(1).saturating_mul(1_000));
    match e {
        Expr::Compare {
            attr,
            op,
            value: Literal::Datetime(t),
        } => {
            let f = field(attr)?;
            let range = match op {
                CompareOp::Gt | CompareOp::Ge => TimeRange {
                    from: Some(floor(*t)),
                    until: None,
                },
                CompareOp::Lt | CompareOp::Le => TimeRange {
                    from: None,
                    until: Some(after_micro(*t)),
                },
                CompareOp::Eq => TimeRange {
                    from: Some(floor(*t)),
                    until: Some(after_micro(*t)),
                },
                CompareOp::Ne => return None,
            };
            Some((f, range))
        }
        Expr::Between {
            attr,
            low: Literal::Datetime(lo),
            high: Literal::Datetime(hi),
            negated: false,
        } => Some((
            field(attr)?,
            TimeRange {
                from: Some(floor(*lo)),
                until: Some(after_micro(*hi)),
            },
        )),
        _ => None,
    }
}

impl VisibilityRecord {
    /// Whether the row is in a namespace division: such rows match only queries that name
    /// TemporalNamespaceDivision (see [`Query::matches`]).
    pub fn in_namespace_division(&self) -> bool {
        self.search_attributes.contains_key(NAMESPACE_DIVISION)
    }
}

#[cfg(test)]
mod tests;
