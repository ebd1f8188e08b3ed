use crate::attributes::IndexedValueType as T;
use crate::record::tests_support::record;
use crate::{
    ExecutionStatus, Options, Query, SearchAttributes, UnixNanos, Value, VisibilityRecord,
};

fn attrs() -> SearchAttributes {
    SearchAttributes::with_custom([
        ("Kw", T::Keyword),
        ("Txt", T::Text),
        ("Num", T::Int),
        ("Dbl", T::Double),
        ("Flag", T::Bool),
        ("When", T::Datetime),
        ("Tags", T::KeywordList),
    ])
}

/// a: every attribute set; b: some; c: none, closed.
fn rows() -> Vec<VisibilityRecord> {
    let mut a = record("a", 1_000);
    let sa = &mut a.search_attributes;
    sa.insert("Kw".into(), Value::Keyword("Alpha".into()));
    sa.insert("Txt".into(), Value::Text("Hello, quick-brown World".into()));
    sa.insert("Num".into(), Value::Int(5));
    sa.insert("Dbl".into(), Value::Double(1.5));
    sa.insert("Flag".into(), Value::Bool(true));
    sa.insert("When".into(), Value::Datetime(UnixNanos(1_000_000_000)));
    sa.insert(
        "Tags".into(),
        Value::KeywordList(vec!["x".into(), "Y z".into()]),
    );
    let mut b = record("b", 2_000);
    b.search_attributes
        .insert("Kw".into(), Value::Keyword("beta".into()));
    b.search_attributes.insert("Num".into(), Value::Int(-1));
    b.search_attributes
        .insert("When".into(), Value::Datetime(UnixNanos(1_000_000_999)));
    b.parent_workflow_id = Some("a".into());
    let mut c = record("c", 3_000);
    c.status = ExecutionStatus::Completed;
    c.close_time = Some(UnixNanos(10_000));
    c.execution_duration = Some(3_600_000_000_000);
    c.history_length = Some(11);
    vec![a, b, c]
}

fn hits(q: &str) -> String {
    let q = Query::parse(q, &attrs(), Options::default()).unwrap_or_else(|e| panic!("{q}: {e}"));
    rows()
        .iter()
        .filter(|r| q.matches(r))
        .map(|r| r.workflow_id.as_str())
        .collect()
}

#[test]
fn keyword() {
    assert_eq!(hits(""), "abc");
    assert_eq!(hits("Kw = 'Alpha'"), "a");
    assert_eq!(hits("Kw = 'alpha'"), "");
    assert_eq!(hits("Kw != 'Alpha'"), "b");
    assert_eq!(hits("Kw > 'B'"), "b");
    assert_eq!(hits("Kw IN ('beta', 'gamma')"), "b");
    assert_eq!(hits("Kw NOT IN ('beta')"), "a");
    assert_eq!(hits("Kw BETWEEN 'A' AND 'Z'"), "a");
    assert_eq!(hits("Kw NOT BETWEEN 'A' AND 'Z'"), "b");
    assert_eq!(hits("WorkflowId BETWEEN 'b' AND 'a'"), "");
}

#[test]
fn starts_with_ignores_ascii_case_and_wildcards() {
    assert_eq!(hits("Kw STARTS_WITH 'al'"), "a");
    assert_eq!(hits("Kw NOT STARTS_WITH 'al'"), "b");
    assert_eq!(hits("Kw STARTS_WITH '%'"), "");
    assert_eq!(hits("Kw STARTS_WITH ''"), "ab");
    assert_eq!(hits("WorkflowType STARTS_WITH 't'"), "abc");
}

#[test]
fn numbers_booleans_datetimes() {
    assert_eq!(hits("Num > 0"), "a");
    assert_eq!(hits("Num = 5.0"), "a");
    assert_eq!(hits("Num < 4.5"), "b");
    assert_eq!(hits("Dbl >= 1"), "a");
    assert_eq!(hits("Flag = true"), "a");
    assert_eq!(hits("Flag != true"), "");
    assert_eq!(hits("Flag > false"), "a");
    // Microsecond precision: b's 999 extra nanoseconds do not count.
    assert_eq!(hits("When = '1970-01-01T00:00:01Z'"), "ab");
    assert_eq!(hits("When > 1000000000"), "");
    assert_eq!(hits("When BETWEEN 0 AND '1970-01-01T00:00:01Z'"), "ab");
}

#[test]
fn system_attributes() {
    assert_eq!(hits("ExecutionStatus = 'Running'"), "ab");
    assert_eq!(hits("ExecutionStatus > 'Running'"), "c");
    assert_eq!(hits("ExecutionStatus BETWEEN 1 AND 2"), "abc");
    assert_eq!(hits("CloseTime IS NULL"), "ab");
    assert_eq!(hits("CloseTime > 0"), "c");
    assert_eq!(hits("ExecutionDuration >= '1h'"), "c");
    assert_eq!(hits("ExecutionDuration < '1d'"), "c");
    assert_eq!(hits("HistoryLength IS NULL"), "ab");
    assert_eq!(hits("ParentWorkflowId = 'a'"), "b");
    assert_eq!(hits("ParentWorkflowId IS NULL"), "ac");
    assert_eq!(hits("RootWorkflowId = 'b'"), "b");
    assert_eq!(hits("StartTime < 3000"), "ab");
    assert_eq!(hits("ScheduleId = 'c'"), "c");
}

#[test]
fn keyword_list_matches_elements_case_insensitively_and_never_unknown() {
    assert_eq!(hits("Tags = 'x'"), "a");
    assert_eq!(hits("Tags = 'X'"), "a");
    assert_eq!(hits("Tags = 'Y z'"), "a");
    assert_eq!(hits("Tags = 'Y'"), "");
    assert_eq!(hits("Tags IN ('q', 'x')"), "a");
    assert_eq!(hits("Tags != 'x'"), "bc");
    assert_eq!(hits("Tags NOT IN ('x')"), "bc");
    assert_eq!(hits("NOT Tags = 'x'"), "bc");
}

#[test]
fn text_matches_any_word() {
    assert_eq!(hits("Txt = 'hello'"), "a");
    assert_eq!(hits("Txt = 'nope WORLD'"), "a");
    assert_eq!(hits("Txt = 'quick-brown'"), "a");
    assert_eq!(hits("Txt = 'brown-quick'"), "");
    assert_eq!(hits("Txt = 'hel'"), "");
    assert_eq!(hits("Txt != 'hello'"), "bc");
}

#[test]
fn three_valued_logic() {
    // A missing attribute makes a comparison unknown: neither it nor its negation matches.
    assert_eq!(hits("Num = 5"), "a");
    assert_eq!(hits("NOT Num = 5"), "b");
    assert_eq!(hits("Num = 5 OR Num != 5"), "ab");
    assert_eq!(hits("NOT (Num = 5 OR Num != 5)"), "");
    assert_eq!(hits("Num IS NULL OR Num = 5"), "ac");
    assert_eq!(hits("NOT (Num > 0 AND WorkflowId = 'c')"), "ab");
    assert_eq!(hits("Num IN (5, -1)"), "ab");
    assert_eq!(hits("Num NOT IN (5)"), "b");
}

#[test]
fn namespace_divisions_are_hidden_unless_named() {
    let mut rows = rows();
    rows[0].search_attributes.insert(
        "TemporalNamespaceDivision".into(),
        Value::Keyword("sched".into()),
    );
    let count = |q: &str| {
        let q = Query::parse(q, &attrs(), Options::default()).unwrap();
        rows.iter().filter(|r| q.matches(r)).count()
    };
    assert_eq!(count(""), 2);
    assert_eq!(count("TemporalNamespaceDivision = 'sched'"), 1);
    assert_eq!(
        count("TemporalNamespaceDivision IS NULL OR TemporalNamespaceDivision IS NOT NULL"),
        3
    );
}

#[test]
fn group_values() {
    let q = Query::parse("GROUP BY ExecutionStatus", &attrs(), Options::default()).unwrap();
    let groups: Vec<_> = rows().iter().map(|r| q.group_value(r).unwrap()).collect();
    assert_eq!(groups, ["Running", "Running", "Completed"]);
    assert_eq!(
        Query::parse("", &attrs(), Options::default())
            .unwrap()
            .group_value(&rows()[0]),
        None
    );
}
