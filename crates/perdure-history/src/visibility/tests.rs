//! Row derivation, the stored row as the query crate sees it, and one shard's List page and
//! Count over a real RocksDB.

use std::collections::HashMap;

use perdure_core::{start_workflow, StartParams};
use perdure_storage::{ApplyOutcome, WriteBatch};
use perdure_visibility::Options;
use temporalio_protos::temporal::api::common::v1::{SearchAttributes as Sa, WorkflowType};
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflowservice::v1::StartWorkflowExecutionRequest;

use super::*;

const G: ShardId = perdure_storage::GroupId(3);

fn payload(json: &str, ty: Option<&str>) -> Payload {
    let mut metadata = HashMap::new();
    metadata.insert("encoding".to_string(), b"json/plain".to_vec());
    if let Some(t) = ty {
        metadata.insert("type".to_string(), t.as_bytes().to_vec());
    }
    Payload {
        metadata,
        data: json.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn started(workflow_id: &str, run_id: &str, ty: &str, at: i64) -> MutableState {
    let mut fields = HashMap::new();
    fields.insert("BinaryChecksums".to_string(), payload(r#"["abc"]"#, None));
    fields.insert("Color".to_string(), payload(r#""red""#, Some("Keyword")));
    fields.insert("Size".to_string(), payload("7", Some("Int")));
    fields.insert("Untyped".to_string(), payload("7", None));
    let request = StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: workflow_id.into(),
        workflow_type: Some(WorkflowType { name: ty.into() }),
        task_queue: Some(TaskQueue {
            name: "q".into(),
            ..Default::default()
        }),
        request_id: format!("req-{run_id}"),
        search_attributes: Some(Sa {
            indexed_fields: fields,
        }),
        ..Default::default()
    };
    let params = StartParams {
        request,
        namespace_id: "ns".into(),
        run_id: run_id.into(),
        first_execution_run_id: run_id.into(),
        attempt: 1,
        retention: None,
        parent: None,
    };
    start_workflow(params, Time(at)).unwrap().0
}

fn terminated(mut state: MutableState, at: i64) -> MutableState {
    state.terminate("bye", None, "test", Time(at)).unwrap();
    state
}

#[test]
fn an_open_run_has_no_close_fields_and_a_closed_run_has_them() {
    let open = started("wf", "r1", "T", 1_000_000_000);
    let row = row_of(&open);
    assert_eq!(row.status, WorkflowExecutionStatus::Running as i32);
    assert!(row.close_time.is_none() && row.execution_duration.is_none());
    assert_eq!((row.history_length, row.history_size_bytes), (0, 0));
    let rec = record_of(&row);
    assert_eq!(rec.status, ExecutionStatus::Running);
    assert_eq!(rec.start_time, UnixNanos(1_000_000_000));
    assert_eq!(
        (rec.close_time, rec.history_length, rec.execution_duration),
        (None, None, None)
    );
    assert_eq!(
        (rec.workflow_type.as_str(), rec.task_queue.as_str()),
        ("T", "q")
    );
    assert_eq!(
        (rec.root_workflow_id.as_str(), rec.root_run_id.as_str()),
        ("wf", "r1")
    );
    assert_eq!(rec.parent_workflow_id, None);

    let closed = terminated(open.clone(), 3_000_000_000);
    let rec = record_of(&row_of(&closed));
    assert_eq!(rec.status, ExecutionStatus::Terminated);
    assert_eq!(rec.close_time, Some(UnixNanos(3_000_000_000)));
    assert_eq!(rec.execution_duration, Some(2_000_000_000));
    assert_eq!(rec.history_length, Some(closed.history_length()));
    assert!(rec.history_size_bytes.unwrap() > 0);
}

#[test]
fn a_row_is_written_for_a_new_run_and_a_change_only() {
    let open = started("wf", "r1", "T", 1_000);
    // The row and its five index entries.
    assert_eq!(changed_row(G, "ns", None, &open).len(), 6);
    // A write List would not see (here: none at all) adds nothing to the batch.
    assert!(changed_row(G, "ns", Some(&open), &open.clone()).is_empty());
    let mut upserted = open.clone();
    upserted
        .search_attributes
        .get_or_insert_with(Default::default)
        .indexed_fields
        .insert("Color".into(), payload(r#""blue""#, Some("Keyword")));
    // An upsert changes the row, and no index entry.
    let [Op::Put { key, value, .. }] = &changed_row(G, "ns", Some(&open), &upserted)[..] else {
        panic!("an upsert changes the row");
    };
    assert_eq!(*key, keys::visibility(G, "ns", "wf", "r1"));
    let rec = record_of(&WorkflowExecutionInfo::decode(value.as_slice()).unwrap());
    assert_eq!(
        rec.search_attributes.get("Color"),
        Some(&Value::Keyword("blue".into()))
    );
    let closed = terminated(open.clone(), 5_000);
    // Closing moves four entries (the start entry stays) and rewrites the row.
    assert_eq!(changed_row(G, "ns", Some(&open), &closed).len(), 9);
}

#[test]
fn search_attributes_are_typed_by_name_or_by_their_type_metadata() {
    let rec = record_of(&row_of(&started("wf", "r1", "T", 1_000)));
    let sa = &rec.search_attributes;
    assert_eq!(
        sa.get("BinaryChecksums"),
        Some(&Value::KeywordList(vec!["abc".into()]))
    );
    assert_eq!(sa.get("Color"), Some(&Value::Keyword("red".into())));
    assert_eq!(sa.get("Size"), Some(&Value::Int(7)));
    // Neither predefined nor typed: kept in the returned row, never matched.
    assert_eq!(sa.get("Untyped"), None);
    assert_eq!(
        attribute_value(
            &SearchAttributes::new(),
            "When",
            &payload(r#""2026-01-02T03:04:05Z""#, Some("Datetime"))
        ),
        UnixNanos::parse_rfc3339("2026-01-02T03:04:05Z").map(Value::Datetime)
    );
    assert_eq!(
        attribute_value(
            &SearchAttributes::new(),
            "Size",
            &payload(r#""x""#, Some("Int"))
        ),
        None
    );
}

/// A new row and its index entries, as a start writes them.
fn with_index(g: ShardId, ns: &str, row: &WorkflowExecutionInfo) -> Vec<Op> {
    let mut ops = index::ops(g, ns, None, Some(row));
    ops.push(put_row(g, ns, row));
    ops
}

fn store_with(rows: &[MutableState]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let batch = WriteBatch {
        checks: Vec::new(),
        ops: rows
            .iter()
            .flat_map(|s| with_index(G, "ns", &row_of(s)))
            .collect(),
    };
    assert_eq!(store.apply(G, b"1", &batch).unwrap(), ApplyOutcome::Applied);
    // Another namespace's and another shard's rows are never seen.
    let other = WriteBatch {
        checks: Vec::new(),
        ops: with_index(G, "other", &row_of(&rows[0])),
    };
    store.apply(G, b"2", &other).unwrap();
    (dir, store)
}

#[test]
fn a_shard_lists_in_default_order_page_after_page_and_counts_by_status() {
    let mut rows = Vec::new();
    for i in 0..7i64 {
        let s = started(
            &format!("wf{i}"),
            &format!("r{i}"),
            if i % 2 == 0 { "A" } else { "B" },
            (i + 1) * 1_000_000,
        );
        rows.push(if i < 3 {
            terminated(s, 100_000_000 + i)
        } else {
            s
        });
    }
    let (_dir, store) = store_with(&rows);
    let all = Query::parse("", &SearchAttributes::new(), Options::default()).unwrap();
    let ids = |page: &[WorkflowExecutionInfo]| -> Vec<String> {
        page.iter()
            .map(|i| i.execution.as_ref().unwrap().workflow_id.clone())
            .collect()
    };
    // Open runs first, newest start first; then closed runs, latest close first.
    let want = ["wf6", "wf5", "wf4", "wf3", "wf2", "wf1", "wf0"];
    assert_eq!(
        ids(&list_page(&store, G, "ns", &all, &SearchAttributes::new(), None, 100).unwrap()),
        want
    );
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = list_page(
            &store,
            G,
            "ns",
            &all,
            &SearchAttributes::new(),
            after.as_ref(),
            3,
        )
        .unwrap();
        if page.is_empty() {
            break;
        }
        after = Some(DefaultOrderKey::of(&record_of(page.last().unwrap())));
        seen.extend(ids(&page));
    }
    assert_eq!(seen, want);

    let q = Query::parse(
        "WorkflowType = 'A' AND ExecutionStatus = 'Running'",
        &SearchAttributes::new(),
        Options::default(),
    )
    .unwrap();
    assert_eq!(
        ids(&list_page(&store, G, "ns", &q, &SearchAttributes::new(), None, 10).unwrap()),
        ["wf6", "wf4"]
    );

    let grouped = Query::parse(
        "GROUP BY ExecutionStatus",
        &SearchAttributes::new(),
        Options::default(),
    )
    .unwrap();
    let c = count(&store, G, "ns", &grouped, &SearchAttributes::new()).unwrap();
    assert_eq!(c.count, 7);
    assert_eq!(
        c.groups.into_iter().collect::<Vec<_>>(),
        [("Running".to_string(), 4), ("Terminated".to_string(), 3)]
    );
    assert_eq!(
        count(&store, G, "ns", &q, &SearchAttributes::new())
            .unwrap()
            .count,
        2
    );
    assert_eq!(
        count(&store, G, "nope", &all, &SearchAttributes::new())
            .unwrap()
            .count,
        0
    );
}

#[test]
fn a_scan_crosses_chunk_boundaries_without_losing_or_repeating_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let template = row_of(&started("wf", "r", "T", 1_000));
    let n = 2 * SCAN_CHUNK + 7;
    let ops = (0..n)
        .flat_map(|i| {
            let mut row = template.clone();
            row.execution = Some(WorkflowExecution {
                workflow_id: format!("wf-{i:05}"),
                run_id: format!("run-{i:05}"),
            });
            with_index(G, "ns", &row)
        })
        .collect();
    let batch = WriteBatch {
        checks: Vec::new(),
        ops,
    };
    store.apply(G, b"1", &batch).unwrap();
    let all = Query::parse("", &SearchAttributes::new(), Options::default()).unwrap();
    assert_eq!(
        count(&store, G, "ns", &all, &SearchAttributes::new())
            .unwrap()
            .count,
        n as i64
    );
    let page = list_page(
        &store,
        G,
        "ns",
        &all,
        &SearchAttributes::new(),
        None,
        n + 10,
    )
    .unwrap();
    let mut runs: Vec<_> = page
        .iter()
        .map(|r| r.execution.clone().unwrap().run_id)
        .collect();
    // Same close and start times: the run id decides, ascending.
    assert!(runs.windows(2).all(|w| w[0] < w[1]));
    runs.dedup();
    assert_eq!(runs.len(), n);
    // The same through the full scan (a filter no index serves).
    let scanned = Query::parse(
        "TaskQueue = 'q'",
        &SearchAttributes::new(),
        Options::default(),
    )
    .unwrap();
    assert_eq!(scanned.plan().plan, Plan::FullScan);
    assert_eq!(
        count(&store, G, "ns", &scanned, &SearchAttributes::new())
            .unwrap()
            .count,
        n as i64
    );
    assert_eq!(
        list_page(
            &store,
            G,
            "ns",
            &scanned,
            &SearchAttributes::new(),
            None,
            n + 10
        )
        .unwrap(),
        page
    );
}

#[test]
fn registered_custom_attributes_are_typed_by_the_registry() {
    let payload = |data: &str, ty: Option<&str>| {
        let mut metadata = HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]);
        if let Some(t) = ty {
            metadata.insert("type".to_string(), t.as_bytes().to_vec());
        }
        Payload {
            metadata,
            data: data.as_bytes().to_vec(),
            ..Default::default()
        }
    };
    let row = WorkflowExecutionInfo {
        search_attributes: Some(Sa {
            indexed_fields: HashMap::from([
                ("Untyped".to_string(), payload("7", None)),
                ("Tagged".to_string(), payload("\"a\"", Some("Keyword"))),
            ]),
        }),
        ..row_of(&started("wf", "r1", "T", 1_000))
    };
    // Without a registry only the SDK's `type` metadata says what a value is.
    let plain = record_of(&row);
    assert_eq!(plain.search_attributes.get("Untyped"), None);
    assert_eq!(
        plain.search_attributes.get("Tagged"),
        Some(&Value::Keyword("a".into()))
    );
    // The registry wins over the metadata, and a value that does not fit its type is no value.
    let attrs = SearchAttributes::with_custom([
        ("Untyped", IndexedValueType::Int),
        ("Tagged", IndexedValueType::Int),
    ]);
    let typed = record_typed(&row, &attrs);
    assert_eq!(typed.search_attributes.get("Untyped"), Some(&Value::Int(7)));
    assert_eq!(typed.search_attributes.get("Tagged"), None);
}
