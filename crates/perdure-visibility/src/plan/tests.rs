use super::*;
use crate::record::tests_support::record;
use crate::{ExecutionStatus, Options, SearchAttributes, Value};

fn plan(text: &str) -> Planned {
    let attrs = SearchAttributes::with_custom([("Prio", crate::IndexedValueType::Int)]);
    Query::parse(
        text,
        &attrs,
        Options {
            allow_order_by: true,
        },
    )
    .unwrap()
    .plan()
}

fn equal(attr: IndexedAttribute, values: &[&str], covered: bool) -> Planned {
    Planned {
        plan: Plan::Equal {
            attr,
            values: values.iter().map(|v| v.to_string()).collect(),
        },
        covered,
    }
}

const T: &str = "2026-01-01T00:00:00.000001500Z";
/// T to the microsecond, and the microsecond after it, in nanoseconds.
const T_FLOOR: i64 = 1_767_225_600_000_001_000;
const T_NEXT: i64 = 1_767_225_600_000_002_000;

#[test]
fn no_filter_reads_the_default_order() {
    let p = plan("");
    assert_eq!(
        p.plan,
        Plan::Ordered {
            close: TimeRange::default()
        }
    );
    assert!(p.covered);
    assert_eq!(plan("ORDER BY Prio").plan, Plan::FullScan);
    assert_eq!(plan("GROUP BY ExecutionStatus").plan, Plan::FullScan);
    assert_eq!(
        plan("WorkflowType = 'a' GROUP BY ExecutionStatus"),
        equal(IndexedAttribute::WorkflowType, &["a"], true)
    );
}

#[test]
fn equalities_on_indexed_attributes_use_their_index() {
    use IndexedAttribute::*;
    assert_eq!(
        plan("WorkflowType = 'a'"),
        equal(WorkflowType, &["a"], true)
    );
    assert_eq!(
        plan("WorkflowType IN ('b', 'a', 'b')"),
        equal(WorkflowType, &["a", "b"], true)
    );
    assert_eq!(
        plan("ExecutionStatus = 'Running'"),
        equal(ExecutionStatus, &["1"], true)
    );
    assert_eq!(
        plan("ExecutionStatus = 'Terminated' AND WorkflowType = 'a'"),
        equal(WorkflowType, &["a"], false)
    );
    assert_eq!(
        plan("WorkflowType = 'a' AND WorkflowId = 'w' AND Prio > 1"),
        equal(WorkflowId, &["w"], false)
    );
    // A type beats a time window, which beats a status.
    assert_eq!(
        plan(&format!("StartTime > '{T}' AND WorkflowType = 'a'")),
        equal(WorkflowType, &["a"], false)
    );
    assert_eq!(
        plan(&format!(
            "CloseTime > '{T}' AND ExecutionStatus = 'TimedOut'"
        ))
        .plan,
        Plan::Ordered {
            close: TimeRange {
                from: Some(UnixNanos(T_FLOOR)),
                until: Some(UnixNanos(i64::MAX))
            }
        }
    );
    assert_eq!(
        plan(&format!(
            "ExecutionStatus = 'Running' AND StartTime > '{T}'"
        ))
        .plan,
        Plan::StartTime(TimeRange {
            from: Some(UnixNanos(T_FLOOR)),
            until: None
        })
    );
}

#[test]
fn time_windows_are_widened_to_whole_microseconds_and_intersected() {
    assert_eq!(
        plan(&format!("StartTime >= '{T}' AND StartTime <= '{T}'")).plan,
        Plan::StartTime(TimeRange {
            from: Some(UnixNanos(T_FLOOR)),
            until: Some(UnixNanos(T_NEXT))
        })
    );
    assert_eq!(
        plan(&format!("CloseTime BETWEEN '{T}' AND '{T}'")).plan,
        Plan::Ordered {
            close: TimeRange {
                from: Some(UnixNanos(T_FLOOR)),
                until: Some(UnixNanos(T_NEXT))
            }
        }
    );
}

#[test]
fn anything_else_is_a_full_scan() {
    for q in [
        "WorkflowType = 'a' OR WorkflowId = 'b'",
        "WorkflowType != 'a'",
        "NOT WorkflowType = 'a'",
        "WorkflowType NOT IN ('a')",
        "TaskQueue = 'q'",
        "WorkflowId STARTS_WITH 'a'",
        "ExecutionTime > '2026-01-01T00:00:00Z'",
        "StartTime != '2026-01-01T00:00:00Z'",
        "StartTime NOT BETWEEN '2026-01-01T00:00:00Z' AND '2026-01-02T00:00:00Z'",
        "WorkflowType = 'a' ORDER BY Prio",
    ] {
        assert_eq!(plan(q).plan, Plan::FullScan, "{q}");
    }
}

/// Whether the index a plan reads names `r` (what the history service's index holds).
fn names(p: &Plan, r: &VisibilityRecord) -> bool {
    match p {
        Plan::FullScan => true,
        Plan::Ordered { close } => match r.close_time {
            // Open runs sort as closing at the end of time.
            None => close.until.is_none(),
            Some(t) => close.contains(t),
        },
        Plan::Equal { attr, values } => values.contains(&attr.value_of(r)),
        Plan::StartTime(range) => range.contains(r.start_time),
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn every_plan_names_every_match_and_a_covered_plan_only_matches() {
    let statuses = [
        ExecutionStatus::Running,
        ExecutionStatus::Completed,
        ExecutionStatus::Terminated,
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let base = 1_767_225_600_000_000_000i64;
    let mut rows = Vec::new();
    for i in 0..300 {
        let mut r = record(
            &format!("w{}", i % 40),
            base + (rng.next() % 5_000) as i64 * 700,
        );
        r.run_id = format!("r{i}");
        r.workflow_type = rng.pick(&["a", "b", "c"]).to_string();
        r.status = *rng.pick(&statuses);
        if r.status != ExecutionStatus::Running {
            r.close_time = Some(UnixNanos(
                r.start_time.0 + (rng.next() % 3_000) as i64 * 900,
            ));
        }
        if i % 17 == 0 {
            r.search_attributes
                .insert(NAMESPACE_DIVISION.into(), Value::Keyword("d".into()));
        }
        rows.push(r);
    }
    let time = |rng: &mut Rng| UnixNanos(base + (rng.next() % 6_000) as i64 * 650).to_rfc3339();
    let mut checked = 0;
    for _ in 0..400 {
        let mut parts = Vec::new();
        for _ in 0..1 + rng.next() % 3 {
            parts.push(match rng.next() % 9 {
                0 => format!("WorkflowType = '{}'", rng.pick(&["a", "b", "z"])),
                1 => format!("WorkflowType IN ('{}', 'c')", rng.pick(&["a", "b"])),
                2 => format!("WorkflowId = 'w{}'", rng.next() % 45),
                3 => format!(
                    "ExecutionStatus = '{}'",
                    rng.pick(&["Running", "Completed", "Terminated"])
                ),
                4 => format!(
                    "StartTime {} '{}'",
                    rng.pick(&[">", ">=", "<", "<=", "="]),
                    time(&mut rng)
                ),
                5 => format!(
                    "CloseTime {} '{}'",
                    rng.pick(&[">", ">=", "<", "<="]),
                    time(&mut rng)
                ),
                6 => format!(
                    "StartTime BETWEEN '{}' AND '{}'",
                    time(&mut rng),
                    time(&mut rng)
                ),
                7 => "TemporalNamespaceDivision = 'd'".to_string(),
                _ => format!(
                    "WorkflowType = 'a' OR ExecutionStatus = '{}'",
                    rng.pick(&["Running", "Completed"])
                ),
            });
        }
        let text = parts.join(" AND ");
        let q = Query::parse(&text, &SearchAttributes::new(), Options::default()).unwrap();
        let p = q.plan();
        for r in &rows {
            let m = q.matches(r);
            assert!(!m || names(&p.plan, r), "{text}: plan {p:?} misses {r:?}");
            if p.covered && names(&p.plan, r) {
                let countable = q.names_namespace_division || !r.in_namespace_division();
                assert_eq!(m, countable, "{text}: covered plan {p:?} on {r:?}");
            }
            checked += usize::from(m);
        }
    }
    assert!(
        checked > 1000,
        "too few matches to mean anything: {checked}"
    );
}
