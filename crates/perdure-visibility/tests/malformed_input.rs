//! Whatever the text, parsing answers (a query or an InvalidArgument) and evaluation answers:
//! no panic, no stack overflow. Deterministic pseudo-random inputs, so a failure reproduces.

use perdure_visibility::{
    ExecutionStatus, IndexedValueType, Options, Query, SearchAttributes, UnixNanos,
    VisibilityRecord,
};

const PIECES: &[&str] = &[
    "WorkflowId",
    "ExecutionStatus",
    "CustomKeywordField",
    "CustomTextField",
    "CustomIntField",
    "CustomKeywordListField",
    "CloseTime",
    "ExecutionDuration",
    "`CustomIntField`",
    "Foo",
    "=",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "<=>",
    "==",
    "=!",
    "IN",
    "NOT",
    "BETWEEN",
    "AND",
    "OR",
    "XOR",
    "&&",
    "||",
    "STARTS_WITH",
    "LIKE",
    "IS",
    "NULL",
    "TRUE",
    "(",
    ")",
    ",",
    "'a'",
    "\"b\"",
    "'Running'",
    "'1h'",
    "'2024-01-01T00:00:00Z'",
    "1",
    "-2",
    "1.5",
    "0x1F",
    "?",
    ":v",
    "--",
    "#",
    "/*",
    "*/",
    "'",
    "\"",
    "`",
    "\\",
    ";",
    "ORDER BY",
    "GROUP BY",
    "LIMIT",
    "DESC",
    "SELECT",
    "*",
    "+",
    "-",
    "!",
    "~",
    "é",
    "\u{2661}",
    "\0",
    "\n",
    "   ",
    "count(",
    "EXISTS",
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

fn row() -> VisibilityRecord {
    VisibilityRecord {
        workflow_id: "w".into(),
        run_id: "r".into(),
        workflow_type: "t".into(),
        task_queue: "q".into(),
        status: ExecutionStatus::Running,
        start_time: UnixNanos(0),
        execution_time: UnixNanos(0),
        close_time: None,
        execution_duration: None,
        history_length: None,
        history_size_bytes: None,
        state_transition_count: None,
        parent_workflow_id: None,
        parent_run_id: None,
        root_workflow_id: "w".into(),
        root_run_id: "r".into(),
        search_attributes: Default::default(),
        memo: Vec::new(),
    }
}

#[test]
fn random_token_soup_never_panics() {
    let attrs = SearchAttributes::with_custom([
        ("CustomKeywordField", IndexedValueType::Keyword),
        ("CustomTextField", IndexedValueType::Text),
        ("CustomIntField", IndexedValueType::Int),
        ("CustomKeywordListField", IndexedValueType::KeywordList),
    ]);
    let r = row();
    let mut rng = Lcg(7);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let n = 1 + rng.next() % 12;
        let q: Vec<&str> = (0..n).map(|_| PIECES[rng.next() % PIECES.len()]).collect();
        let q = q.join(if rng.next().is_multiple_of(3) {
            ""
        } else {
            " "
        });
        for options in [
            Options::default(),
            Options {
                allow_order_by: true,
            },
        ] {
            if let Ok(parsed) = Query::parse(&q, &attrs, options) {
                accepted += 1;
                let _ = parsed.matches(&r);
                let _ = parsed.group_value(&r);
            }
        }
    }
    assert!(
        accepted > 100,
        "the soup should sometimes be a valid query ({accepted})"
    );
}

#[test]
fn random_bytes_never_panic() {
    let attrs = SearchAttributes::new();
    let mut rng = Lcg(11);
    for _ in 0..5_000 {
        let n = rng.next() % 64;
        let bytes: Vec<u8> = (0..n).map(|_| (rng.next() % 256) as u8).collect();
        let q = String::from_utf8_lossy(&bytes);
        let _ = Query::parse(&q, &attrs, Options::default());
    }
}
