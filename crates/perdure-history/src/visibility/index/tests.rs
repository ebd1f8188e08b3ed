//! The index against the full scan over a real RocksDB: random rows, written, closed and
//! deleted the way the shard writes them, then random queries answered both ways.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use perdure_storage::{GroupId, WriteBatch};
use perdure_visibility::{Options, SearchAttributes};
use prost_wkt_types::Timestamp;
use temporalio_protos::temporal::api::common::v1::{
    Payload, SearchAttributes as Sa, WorkflowExecution, WorkflowType,
};
use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus as S;

use super::super::{count as count_rows, list_page as list_rows, put_row, scan};
use super::*;

const G: ShardId = GroupId(5);
const NS: &str = "ns";
/// 2026-01-01T00:00:00Z.
const BASE: i64 = 1_767_225_600_000_000_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn ts(nanos: i64) -> Timestamp {
    Timestamp {
        seconds: nanos.div_euclid(1_000_000_000),
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
    }
}

/// Times collide on purpose (ties are decided by the run id) and fall on odd nanoseconds
/// (queries compare to the microsecond).
fn time(rng: &mut Rng) -> i64 {
    BASE + rng.below(40) as i64 * 1_000_500 + rng.below(3) as i64
}

fn open_row(i: usize, rng: &mut Rng) -> WorkflowExecutionInfo {
    let mut info = WorkflowExecutionInfo {
        execution: Some(WorkflowExecution {
            workflow_id: format!("w{}", rng.below(25)),
            run_id: format!("r{i:03}"),
        }),
        r#type: Some(WorkflowType {
            name: rng.pick(&["a", "b", "c"]).to_string(),
        }),
        start_time: Some(ts(time(rng))),
        status: S::Running as i32,
        task_queue: "q".into(),
        ..Default::default()
    };
    if rng.below(9) == 0 {
        info.search_attributes = Some(division());
    }
    info
}

/// Search attributes that put a row in a namespace division.
fn division() -> Sa {
    let mut fields = HashMap::new();
    fields.insert(
        "TemporalNamespaceDivision".to_string(),
        Payload {
            data: br#""d""#.to_vec(),
            ..Default::default()
        },
    );
    Sa {
        indexed_fields: fields,
    }
}

fn closed(mut info: WorkflowExecutionInfo, rng: &mut Rng) -> WorkflowExecutionInfo {
    info.status = *rng.pick(&[S::Completed as i32, S::Terminated as i32, S::Failed as i32]);
    info.close_time = Some(ts(time(rng) + 50_000_000));
    info
}

fn write(store: &Store, ops: Vec<Op>) {
    let batch = WriteBatch {
        checks: Vec::new(),
        ops,
    };
    store.apply(G, b"t", &batch).unwrap();
}

/// Takes a run from `before` to `after` the way the shard's batches do.
fn change(store: &Store, before: Option<&WorkflowExecutionInfo>, after: &WorkflowExecutionInfo) {
    let mut o = ops(G, NS, before, Some(after));
    o.push(put_row(G, NS, after));
    write(store, o);
}

fn id(info: &WorkflowExecutionInfo) -> (String, String) {
    let e = info.execution.clone().unwrap();
    (e.workflow_id, e.run_id)
}

/// Every (key, value) of the shard's visibility family that is not a row.
fn index_entries(store: &Store) -> BTreeSet<(Vec<u8>, Vec<u8>)> {
    let rows = keys::visibility_prefix(G, NS);
    store
        .scan_prefix(Cf::Visibility, &G.prefix(), None, usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|(k, _)| !k.starts_with(&rows))
        .collect()
}

fn random_query(rng: &mut Rng) -> String {
    let t = |rng: &mut Rng| UnixNanos(time(rng)).to_rfc3339();
    let mut parts = Vec::new();
    for _ in 0..1 + rng.below(3) {
        parts.push(match rng.below(12) {
            0 => format!("WorkflowType = '{}'", rng.pick(&["a", "b", "zz"])),
            1 => format!("WorkflowType IN ('{}', 'c')", rng.pick(&["a", "b"])),
            2 => format!("WorkflowId = 'w{}'", rng.below(27)),
            3 => format!(
                "ExecutionStatus = '{}'",
                rng.pick(&["Running", "Completed", "Terminated", "Failed"])
            ),
            4 => format!(
                "StartTime {} '{}'",
                rng.pick(&[">", ">=", "<", "<=", "="]),
                t(rng)
            ),
            5 => format!(
                "CloseTime {} '{}'",
                rng.pick(&[">", ">=", "<", "<="]),
                t(rng)
            ),
            6 => format!("StartTime BETWEEN '{}' AND '{}'", t(rng), t(rng)),
            7 => format!("CloseTime BETWEEN '{}' AND '{}'", t(rng), t(rng)),
            8 => "TemporalNamespaceDivision = 'd'".to_string(),
            9 => "TaskQueue = 'q'".to_string(),
            10 => format!("WorkflowType = 'a' OR WorkflowId = 'w{}'", rng.below(25)),
            _ => String::new(),
        });
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" AND ")
}

/// What the full scan answers: every match in the default order, and the count by status.
fn reference(store: &Store, q: &Query) -> (Vec<WorkflowExecutionInfo>, VisibilityCount) {
    let mut all = Vec::new();
    let mut c = VisibilityCount::default();
    scan(store, G, NS, &SearchAttributes::new(), |info, record| {
        if q.matches(&record) {
            c.count += 1;
            if let Some(g) = q.group_value(&record) {
                *c.groups.entry(g).or_default() += 1;
            }
            all.push((DefaultOrderKey::of(&record), info));
        }
    })
    .unwrap();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    (all.into_iter().map(|r| r.1).collect(), c)
}

#[test]
fn index_plans_answer_as_the_full_scan_and_leave_no_stale_entries() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut live: BTreeMap<(String, String), WorkflowExecutionInfo> = BTreeMap::new();
    let mut plans = BTreeSet::new();
    for round in 0..4 {
        // Starts, closes (some rows change twice: closed, then a memo-like rewrite), deletes.
        for i in 0..60 {
            let row = open_row(round * 100 + i, &mut rng);
            change(&store, None, &row);
            live.insert(id(&row), row);
        }
        let ids: Vec<_> = live.keys().cloned().collect();
        for k in &ids {
            let before = live[k].clone();
            match rng.below(6) {
                0..=2 if before.status == S::Running as i32 => {
                    let after = closed(before.clone(), &mut rng);
                    change(&store, Some(&before), &after);
                    live.insert(k.clone(), after);
                }
                3 if before.status != S::Running as i32 => {
                    write(&store, delete_ops(&store, G, NS, &k.0, &k.1).unwrap());
                    live.remove(k);
                }
                4 => {
                    // Gains or loses the namespace division: same keys, another flag.
                    let mut after = before.clone();
                    after.search_attributes = match before.search_attributes {
                        Some(_) => None,
                        None => Some(division()),
                    };
                    change(&store, Some(&before), &after);
                    live.insert(k.clone(), after);
                }
                _ => {}
            }
        }

        let want: BTreeSet<_> = live.values().flat_map(|r| entries(G, NS, r)).collect();
        assert_eq!(
            index_entries(&store),
            want,
            "round {round}: stale or missing entries"
        );

        for _ in 0..60 {
            let text = random_query(&mut rng);
            let grouped = format!("{text} GROUP BY ExecutionStatus");
            let attrs = SearchAttributes::new();
            let q = Query::parse(&text, &attrs, Options::default()).unwrap();
            let qg = Query::parse(&grouped, &attrs, Options::default()).unwrap();
            plans.insert(format!("{:?}", std::mem::discriminant(&q.plan().plan)));
            let (rows, c) = reference(&store, &q);
            assert_eq!(
                count_rows(&store, G, NS, &q, &SearchAttributes::new())
                    .unwrap()
                    .count,
                c.count,
                "{text}"
            );
            assert_eq!(
                count_rows(&store, G, NS, &qg, &SearchAttributes::new()).unwrap(),
                reference(&store, &qg).1,
                "{grouped}"
            );
            // Every page size walks the same rows in the same order.
            let size = 1 + rng.below(7) as usize;
            let mut walked = Vec::new();
            let mut after: Option<DefaultOrderKey> = None;
            loop {
                let page = list_rows(
                    &store,
                    G,
                    NS,
                    &q,
                    &SearchAttributes::new(),
                    after.as_ref(),
                    size,
                )
                .unwrap();
                assert!(page.len() <= size);
                let full = page.len() == size;
                if let Some(last) = page.last() {
                    after = Some(DefaultOrderKey::of(&record_of(last)));
                }
                walked.extend(page);
                if !full {
                    break;
                }
            }
            assert_eq!(walked, rows, "{text} (pages of {size})");
        }
    }
    // Every kind of plan was exercised.
    assert_eq!(plans.len(), 4, "{plans:?}");
}

#[test]
fn retention_deletes_a_rows_entries_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut rng = Rng(99);
    let open = open_row(1, &mut rng);
    change(&store, None, &open);
    assert_eq!(index_entries(&store).len(), 5);
    let done = closed(open.clone(), &mut rng);
    change(&store, Some(&open), &done);
    assert_eq!(
        index_entries(&store),
        entries(G, NS, &done).into_iter().collect()
    );
    let (wf, run) = id(&done);
    write(&store, delete_ops(&store, G, NS, &wf, &run).unwrap());
    assert!(index_entries(&store).is_empty());
    assert!(store
        .get(Cf::Visibility, &keys::visibility(G, NS, &wf, &run))
        .unwrap()
        .is_none());
}

#[test]
fn a_changed_row_touches_only_the_entries_that_differ() {
    let mut rng = Rng(3);
    let open = open_row(1, &mut rng);
    assert_eq!(ops(G, NS, Some(&open), Some(&open)), Vec::new());
    let done = closed(open.clone(), &mut rng);
    // Closing moves the default-order, type and id entries and the status entry; the start
    // entry stays.
    let o = ops(G, NS, Some(&open), Some(&done));
    let deletes = o.iter().filter(|o| matches!(o, Op::Delete { .. })).count();
    let puts = o.iter().filter(|o| matches!(o, Op::Put { .. })).count();
    assert_eq!((deletes, puts), (4, 4));
}
