//! The order List returns rows in.
//!
//! Owns Temporal's SQL store order (CloseTime descending with open runs first, then StartTime
//! descending, then RunId ascending: also the key its page tokens hold) and ORDER BY keys for
//! callers that allow them. It must never filter.

use std::cmp::{Ordering, Reverse};

use crate::ast::OrderBy;
use crate::datetime::UnixNanos;
use crate::record::{FieldValue, VisibilityRecord};

/// A row's place in the default order; its `Ord` is that order, so a page token can be this key
/// and the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DefaultOrderKey {
    /// Open runs sort as if they closed at the end of time.
    close_time: Reverse<UnixNanos>,
    start_time: Reverse<UnixNanos>,
    run_id: String,
}

impl DefaultOrderKey {
    pub fn of(record: &VisibilityRecord) -> Self {
        DefaultOrderKey {
            close_time: Reverse(record.close_time.unwrap_or(UnixNanos(i64::MAX))),
            start_time: Reverse(record.start_time),
            run_id: record.run_id.clone(),
        }
    }

    /// The key of a row with these values (`None`: an open run), e.g. decoded from a page token.
    pub fn from_parts(
        close_time: Option<UnixNanos>,
        start_time: UnixNanos,
        run_id: String,
    ) -> Self {
        DefaultOrderKey {
            close_time: Reverse(close_time.unwrap_or(UnixNanos(i64::MAX))),
            start_time: Reverse(start_time),
            run_id,
        }
    }

    /// `(close_time, start_time, run_id)`, the inverse of [`DefaultOrderKey::from_parts`]
    /// (an open run's close time is `None`).
    pub fn parts(&self) -> (Option<UnixNanos>, UnixNanos, &str) {
        let close = self.close_time.0;
        (
            (close != UnixNanos(i64::MAX)).then_some(close),
            self.start_time.0,
            &self.run_id,
        )
    }
}

/// Compares two rows for List: by `order_by` (missing values last, as Elasticsearch sorts them),
/// then by the default order, so the result is total and stable across pages.
pub fn compare(a: &VisibilityRecord, b: &VisibilityRecord, order_by: &[OrderBy]) -> Ordering {
    for key in order_by {
        let ord = match (a.field(&key.attr.field), b.field(&key.attr.field)) {
            (FieldValue::Null, FieldValue::Null) => Ordering::Equal,
            (FieldValue::Null, _) => return Ordering::Greater,
            (_, FieldValue::Null) => return Ordering::Less,
            (x, y) => {
                let o = value_order(x, y);
                if key.descending {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    default_order(a, b)
}

fn default_order(a: &VisibilityRecord, b: &VisibilityRecord) -> Ordering {
    let close = |r: &VisibilityRecord| r.close_time.unwrap_or(UnixNanos(i64::MAX));
    close(b)
        .cmp(&close(a))
        .then(b.start_time.cmp(&a.start_time))
        .then_with(|| a.run_id.cmp(&b.run_id))
}

fn value_order(x: FieldValue<'_>, y: FieldValue<'_>) -> Ordering {
    use FieldValue as F;
    match (x, y) {
        (F::Str(a) | F::Text(a), F::Str(b) | F::Text(b)) => a.cmp(b),
        (F::Int(a), F::Int(b)) => a.cmp(&b),
        (F::Int(a), F::Double(b)) => (a as f64).total_cmp(&b),
        (F::Double(a), F::Int(b)) => a.total_cmp(&(b as f64)),
        (F::Double(a), F::Double(b)) => a.total_cmp(&b),
        (F::Bool(a), F::Bool(b)) => a.cmp(&b),
        (F::Datetime(a), F::Datetime(b)) => a.cmp(&b),
        (F::Status(a), F::Status(b)) => a.cmp(&b),
        (F::List(a), F::List(b)) => a.cmp(b),
        _ => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests_support::record;
    use crate::{Options, Query, SearchAttributes};

    #[test]
    fn default_order_is_open_first_then_newest_close_then_newest_start_then_run_id() {
        let mut open_old = record("a", 10);
        open_old.run_id = "r1".into();
        let mut open_new = record("b", 20);
        open_new.run_id = "r2".into();
        let mut closed_late = record("c", 5);
        closed_late.close_time = Some(UnixNanos(100));
        let mut closed_early = record("d", 30);
        closed_early.close_time = Some(UnixNanos(50));
        let mut twin = record("e", 30);
        twin.close_time = Some(UnixNanos(50));
        twin.run_id = "r0".into();
        let mut rows = [
            closed_early.clone(),
            twin.clone(),
            open_old.clone(),
            closed_late.clone(),
            open_new.clone(),
        ];
        rows.sort_by(|a, b| compare(a, b, &[]));
        let ids: Vec<_> = rows.iter().map(|r| r.workflow_id.as_str()).collect();
        assert_eq!(ids, ["b", "a", "c", "e", "d"]);
        let mut keys: Vec<_> = [closed_early, twin, open_old, closed_late, open_new]
            .iter()
            .map(DefaultOrderKey::of)
            .collect();
        keys.sort();
        let mut sorted_rows_keys: Vec<_> = rows.iter().map(DefaultOrderKey::of).collect();
        sorted_rows_keys.sort();
        assert_eq!(keys, sorted_rows_keys);
        assert_eq!(keys[0], DefaultOrderKey::of(&rows[0]));
        for k in &keys {
            let (c, s, r) = k.parts();
            assert_eq!(&DefaultOrderKey::from_parts(c, s, r.to_string()), k);
        }
    }

    #[test]
    fn order_by_keys_then_default() {
        let attrs = SearchAttributes::with_custom([("Prio", crate::IndexedValueType::Int)]);
        let q = Query::parse(
            "ORDER BY Prio DESC",
            &attrs,
            Options {
                allow_order_by: true,
            },
        )
        .unwrap();
        let mut a = record("a", 1);
        a.search_attributes
            .insert("Prio".into(), crate::Value::Int(1));
        let mut b = record("b", 2);
        b.search_attributes
            .insert("Prio".into(), crate::Value::Int(5));
        let c = record("c", 3);
        let mut rows = [a, c, b];
        rows.sort_by(|x, y| compare(x, y, &q.order_by));
        let ids: Vec<_> = rows.iter().map(|r| r.workflow_id.as_str()).collect();
        assert_eq!(ids, ["b", "a", "c"]);
        let q = Query::parse(
            "ORDER BY WorkflowId",
            &attrs,
            Options {
                allow_order_by: true,
            },
        )
        .unwrap();
        rows.sort_by(|x, y| compare(x, y, &q.order_by));
        let ids: Vec<_> = rows.iter().map(|r| r.workflow_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }
}
