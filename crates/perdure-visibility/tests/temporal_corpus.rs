//! Differential check against answers recorded from Temporal's dev server (see the `_about` of
//! tests/data/temporal_corpus.json): for every recorded query, List and Count must give the same
//! rows in the same order, the same counts and groups, or the same InvalidArgument message.
//! The few places where we answer differently on purpose are listed in `DIVERGENCES`, each with
//! the reason and what we answer instead, so a new difference fails this test.

use std::collections::BTreeMap;

use perdure_visibility::{
    compare, ExecutionStatus, IndexedValueType, Options, Query, SearchAttributes, UnixNanos, Value,
    VisibilityRecord,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    custom_search_attributes: BTreeMap<String, String>,
    records: Vec<Row>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Row {
    workflow_id: String,
    run_id: String,
    workflow_type: String,
    task_queue: String,
    status: i64,
    start_time: String,
    execution_time: String,
    close_time: Option<String>,
    history_length: i64,
    history_size_bytes: i64,
    state_transition_count: i64,
    execution_duration_nanos: Option<i64>,
    parent_workflow_id: Option<String>,
    parent_run_id: Option<String>,
    root_workflow_id: String,
    root_run_id: String,
    search_attributes: BTreeMap<String, Sa>,
}

#[derive(Deserialize)]
struct Sa {
    #[serde(rename = "type")]
    ty: String,
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct Case {
    query: String,
    list: Answer<Vec<String>>,
    count: Answer<CountOk>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct CountOk {
    count: u64,
    #[serde(default)]
    groups: Vec<(Vec<String>, u64)>,
}

#[derive(Deserialize)]
struct Answer<T> {
    ok: Option<T>,
    code: Option<String>,
    message: Option<String>,
}

/// Where we answer differently from the dev server on purpose, and what we answer.
enum Ours {
    List(&'static [&'static str]),
    Error(&'static str),
}

const DIVERGENCES: &[(&str, Ours, &str)] = &[
    // SQLite keeps custom datetimes as text with milliseconds ("...00.000+00:00") and compares
    // them as text with the query's value formatted without them ("...00+00:00"), so a row at
    // exactly the queried second is missed or counted as later. We compare the instants.
    (
        "CustomDatetimeField = '2024-01-01T00:00:00Z'",
        Ours::List(&["wf-1"]),
        "text comparison of datetimes in SQLite",
    ),
    (
        "CustomDatetimeField = '2024-01-01T01:00:00+01:00'",
        Ours::List(&["wf-1"]),
        "text comparison of datetimes in SQLite",
    ),
    (
        "CustomDatetimeField BETWEEN '2023-12-31T00:00:00Z' AND '2024-01-01T00:00:00Z'",
        Ours::List(&["wf-8", "wf-1"]),
        "text comparison of datetimes in SQLite",
    ),
    (
        "CustomDatetimeField > 1704067200000000000",
        Ours::List(&["wf-2"]),
        "text comparison of datetimes in SQLite",
    ),
    // The dev server's SQL store knows the pre-allocated column behind each custom attribute
    // and lets a query name the column itself; a Perdure namespace has no such columns.
    (
        "Keyword01 = 'alpha'",
        Ours::Error("invalid query: invalid search attribute: Keyword01"),
        "SQLite column names are not attributes here",
    ),
    // sqlparser reads `=!` as one unknown operator, a syntax error; Temporal's grammar reads
    // `= !'wf-1'` and refuses the `!`. Both are InvalidArgument.
    (
        "WorkflowId =! 'wf-1'",
        Ours::Error("invalid query: malformed SQL query: syntax error at position 41"),
        "`=!` is one token to sqlparser",
    ),
];

/// Syntax errors: the key part must match; the position may not, since sqlparser and
/// Temporal's yacc parser notice a problem at different tokens.
const SYNTAX_ERROR: &str = "invalid query: malformed SQL query: syntax error";

fn load() -> Corpus {
    let text = include_str!("data/temporal_corpus.json");
    serde_json::from_str(text).expect("corpus parses")
}

fn time(s: &str) -> UnixNanos {
    UnixNanos::parse_rfc3339(s).unwrap_or_else(|| panic!("bad time {s}"))
}

fn record(r: &Row) -> VisibilityRecord {
    let open = r.close_time.is_none();
    // The SQL store leaves these NULL until the run closes; List shows NULL as 0.
    let closed_only = |v: i64| (!open).then_some(v);
    let search_attributes = r
        .search_attributes
        .iter()
        .map(|(name, sa)| {
            let v = &sa.value;
            let value = match sa.ty.as_str() {
                "Keyword" => Value::Keyword(v.as_str().unwrap().into()),
                "Text" => Value::Text(v.as_str().unwrap().into()),
                "Int" => Value::Int(v.as_i64().unwrap()),
                "Double" => Value::Double(v.as_f64().unwrap()),
                "Bool" => Value::Bool(v.as_bool().unwrap()),
                "Datetime" => Value::Datetime(time(v.as_str().unwrap())),
                "KeywordList" => Value::KeywordList(
                    v.as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s.as_str().unwrap().to_string())
                        .collect(),
                ),
                other => panic!("type {other}"),
            };
            (name.clone(), value)
        })
        .collect();
    VisibilityRecord {
        workflow_id: r.workflow_id.clone(),
        run_id: r.run_id.clone(),
        workflow_type: r.workflow_type.clone(),
        task_queue: r.task_queue.clone(),
        status: ExecutionStatus::from_number(r.status).unwrap(),
        start_time: time(&r.start_time),
        execution_time: time(&r.execution_time),
        close_time: r.close_time.as_deref().map(time),
        execution_duration: r.execution_duration_nanos,
        history_length: closed_only(r.history_length),
        history_size_bytes: closed_only(r.history_size_bytes),
        state_transition_count: closed_only(r.state_transition_count),
        parent_workflow_id: r.parent_workflow_id.clone(),
        parent_run_id: r.parent_run_id.clone(),
        root_workflow_id: r.root_workflow_id.clone(),
        root_run_id: r.root_run_id.clone(),
        search_attributes,
        memo: Vec::new(),
    }
}

fn list(q: &Query, rows: &[VisibilityRecord]) -> Vec<String> {
    let mut hits: Vec<&VisibilityRecord> = rows.iter().filter(|r| q.matches(r)).collect();
    hits.sort_by(|a, b| compare(a, b, &q.order_by));
    hits.into_iter().map(|r| r.workflow_id.clone()).collect()
}

fn count(q: &Query, rows: &[VisibilityRecord]) -> CountOk {
    let hits: Vec<&VisibilityRecord> = rows.iter().filter(|r| q.matches(r)).collect();
    let mut groups: BTreeMap<String, u64> = BTreeMap::new();
    if !q.group_by.is_empty() {
        for r in &hits {
            *groups.entry(q.group_value(r).unwrap()).or_default() += 1;
        }
    }
    CountOk {
        count: hits.len() as u64,
        groups: groups.into_iter().map(|(k, v)| (vec![k], v)).collect(),
    }
}

fn same_error(ours: &str, theirs: &str) -> bool {
    ours == theirs || (theirs.starts_with(SYNTAX_ERROR) && ours.starts_with(SYNTAX_ERROR))
}

#[test]
fn answers_as_temporals_dev_server() {
    let corpus = load();
    let attrs = SearchAttributes::with_custom(
        corpus
            .custom_search_attributes
            .iter()
            .map(|(n, t)| (n.clone(), IndexedValueType::from_name(t).unwrap())),
    );
    let rows: Vec<VisibilityRecord> = corpus.records.iter().map(record).collect();
    assert!(
        corpus.cases.len() >= 200,
        "corpus has {} cases",
        corpus.cases.len()
    );
    let mut failures = Vec::new();
    let mut divergences_seen = 0;
    for case in &corpus.cases {
        let parsed = Query::parse(&case.query, &attrs, Options::default());
        if let Some((_, ours, _)) = DIVERGENCES.iter().find(|(q, _, _)| *q == case.query) {
            divergences_seen += 1;
            match (ours, &parsed) {
                (Ours::List(ids), Ok(q)) if list(q, &rows) == *ids => {}
                (Ours::Error(m), Err(e)) if e.to_string() == *m => {}
                _ => failures.push(format!(
                    "{:?}: divergence changed: {:?}",
                    case.query,
                    parsed.map(|q| list(&q, &rows))
                )),
            }
            continue;
        }
        // List.
        match (&parsed, &case.list) {
            (Ok(q), Answer { ok: Some(ids), .. }) => {
                let got = list(q, &rows);
                if &got != ids {
                    failures.push(format!("{:?}: list {got:?}, Temporal {ids:?}", case.query));
                }
            }
            (
                Err(e),
                Answer {
                    code: Some(code),
                    message: Some(m),
                    ..
                },
            ) => {
                if code != "INVALID_ARGUMENT" || !same_error(&e.to_string(), m) {
                    failures.push(format!(
                        "{:?}: error {:?}, Temporal {code} {m:?}",
                        case.query,
                        e.to_string()
                    ));
                }
            }
            (Ok(_), a) => failures.push(format!(
                "{:?}: accepted, Temporal {:?} {:?}",
                case.query, a.code, a.message
            )),
            (Err(e), _) => failures.push(format!(
                "{:?}: refused ({e}), Temporal accepted",
                case.query
            )),
        }
        // Count.
        match (&parsed, &case.count) {
            (Ok(q), Answer { ok: Some(want), .. }) => {
                let mut want_groups = want.groups.clone();
                want_groups.sort();
                let got = count(q, &rows);
                if got.count != want.count || got.groups != want_groups {
                    failures.push(format!(
                        "{:?}: count {got:?}, Temporal {want:?}",
                        case.query
                    ));
                }
            }
            (
                Err(e),
                Answer {
                    message: Some(m), ..
                },
            ) => {
                if !same_error(&e.to_string(), m) {
                    failures.push(format!(
                        "{:?}: count error {:?}, Temporal {m:?}",
                        case.query,
                        e.to_string()
                    ));
                }
            }
            (Ok(_), _) | (Err(_), _) => failures.push(format!("{:?}: count disagrees", case.query)),
        }
    }
    assert_eq!(
        divergences_seen,
        DIVERGENCES.len(),
        "every divergence is in the corpus"
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
