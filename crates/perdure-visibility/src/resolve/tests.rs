use super::*;
use crate::attributes::IndexedValueType as T;

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

fn ok(q: &str) -> Query {
    Query::parse(q, &attrs(), Options::default()).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn err(q: &str) -> String {
    Query::parse(q, &attrs(), Options::default())
        .unwrap_err()
        .to_string()
}

fn only(q: &str) -> Expr {
    ok(q).filter.unwrap()
}

#[test]
fn empty_query_matches_everything() {
    let q = ok("");
    assert!(q.filter.is_none() && q.group_by.is_empty() && q.order_by.is_empty());
}

#[test]
fn every_comparison_operator() {
    for (text, op) in [
        ("=", CompareOp::Eq),
        ("!=", CompareOp::Ne),
        ("<>", CompareOp::Ne),
        ("<", CompareOp::Lt),
        ("<=", CompareOp::Le),
        (">", CompareOp::Gt),
        (">=", CompareOp::Ge),
    ] {
        let Expr::Compare { op: got, value, .. } = only(&format!("Num {text} 5")) else {
            panic!("{text}");
        };
        assert_eq!(got, op);
        assert_eq!(value, Literal::Int(5));
    }
}

#[test]
fn in_between_starts_with_is_null() {
    assert!(
        matches!(only("Kw IN ('a', \"b\")"), Expr::In { negated: false, ref values, .. } if values.len() == 2)
    );
    assert!(matches!(
        only("Kw NOT IN ('a')"),
        Expr::In { negated: true, .. }
    ));
    assert!(matches!(
        only("Num BETWEEN 1 AND 2"),
        Expr::Between { negated: false, .. }
    ));
    assert!(matches!(
        only("Num NOT BETWEEN 1 AND 2"),
        Expr::Between { negated: true, .. }
    ));
    assert!(matches!(
        only("Kw STARTS_WITH 'a'"),
        Expr::StartsWith { negated: false, .. }
    ));
    assert!(matches!(
        only("Kw NOT STARTS_WITH 'a'"),
        Expr::StartsWith { negated: true, .. }
    ));
    assert!(matches!(
        only("Kw IS NULL"),
        Expr::IsNull { negated: false, .. }
    ));
    assert!(matches!(
        only("Kw IS NOT NULL"),
        Expr::IsNull { negated: true, .. }
    ));
    assert!(matches!(only("NOT (Kw = 'a')"), Expr::Not(_)));
    assert!(matches!(only("`Kw` = 'a'"), Expr::Compare { .. }));
}

#[test]
fn logical_chains_are_flat_and_keep_precedence() {
    let Expr::Or(any) = only("Kw = 'a' OR Kw = 'b' AND Num = 1 OR Num = 2") else {
        panic!()
    };
    assert_eq!(any.len(), 3);
    assert!(matches!(any[1], Expr::And(ref all) if all.len() == 2));
    let Expr::And(all) = only("Kw = 'a' && Kw = 'b' && Kw = 'c'") else {
        panic!()
    };
    assert_eq!(all.len(), 3);
    assert!(matches!(only("Kw = 'a' || Kw = 'b'"), Expr::Or(_)));
}

#[test]
fn values_are_typed_per_attribute() {
    let value = |q: &str| match only(q) {
        Expr::Compare { value, .. } => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(value("Num = -3"), Literal::Int(-3));
    assert_eq!(value("Num = 1.5"), Literal::Double(1.5));
    assert_eq!(value("Dbl = 2"), Literal::Int(2));
    assert_eq!(value("Dbl = -0.5"), Literal::Double(-0.5));
    assert_eq!(value("Flag = true"), Literal::Bool(true));
    assert_eq!(value("When = 0"), Literal::Datetime(UnixNanos(0)));
    assert_eq!(
        value("When = '1970-01-01T00:00:01Z'"),
        Literal::Datetime(UnixNanos(1_000_000_000))
    );
    assert_eq!(
        value("ExecutionStatus = 'Running'"),
        Literal::Status(ExecutionStatus::Running)
    );
    assert_eq!(
        value("ExecutionStatus = 3"),
        Literal::Status(ExecutionStatus::Failed)
    );
    assert_eq!(
        value("ExecutionStatus = 'WORKFLOW_EXECUTION_STATUS_TIMED_OUT'"),
        Literal::Status(ExecutionStatus::TimedOut)
    );
    assert_eq!(
        value("ExecutionDuration = '1m'"),
        Literal::Int(60_000_000_000)
    );
    assert_eq!(value("ExecutionDuration = 7"), Literal::Int(7));
    assert_eq!(value("Kw = 'it''s'"), Literal::String("it's".into()));
    assert_eq!(value("Kw = 'it\\'s'"), Literal::String("it's".into()));
    assert_eq!(value("Kw = '''quoted'''"), Literal::String("quoted".into()));
}

#[test]
fn unknown_attributes_and_wrong_types() {
    assert_eq!(
        err("Foo = 'x'"),
        "invalid query: invalid search attribute: Foo"
    );
    assert_eq!(
        err("Num = '5'"),
        r#"invalid query: invalid expression: invalid value type for search attribute Num of type Int: "5" (type: string)"#
    );
    assert_eq!(err("Kw = 5"), "invalid query: invalid expression: invalid value type for search attribute Kw of type Keyword: 5 (type: int64)");
    assert_eq!(err("Flag = 1"), "invalid query: invalid expression: invalid value type for search attribute Flag of type Bool: 1 (type: int64)");
    assert_eq!(err("Tags IN ('a', 5)"), "invalid query: invalid expression: invalid value type for search attribute Tags of type KeywordList: 5 (type: int64)");
    assert_eq!(
        err("When > 'yesterday'"),
        "invalid query: invalid expression: unable to parse datetime 'yesterday'"
    );
    assert_eq!(
        err("ExecutionStatus = 'running'"),
        "invalid query: invalid expression: invalid ExecutionStatus value 'running'"
    );
    assert_eq!(
        err("ExecutionStatus = 99"),
        "invalid query: invalid expression: invalid ExecutionStatus value 99"
    );
    assert_eq!(err("ExecutionStatus = true"), "invalid query: invalid expression: invalid value type for search attribute ExecutionStatus of type Keyword: true (type: bool)");
    assert_eq!(err("ExecutionDuration > 'abc'"), "invalid query: invalid expression: invalid duration value for search attribute ExecutionDuration: abc");
    assert_eq!(err("ExecutionDuration > 0.5"), "invalid query: invalid expression: unexpected value type float64 for search attribute ExecutionDuration");
}

#[test]
fn operators_refused_per_type() {
    assert_eq!(err("Txt > 'a'"), "invalid query: operation is not supported: operator '>' not supported for Text type search attribute 'Txt'");
    assert_eq!(err("Txt IN ('a')"), "invalid query: operation is not supported: operator 'IN' not supported for Text type search attribute 'Txt'");
    assert_eq!(err("Tags STARTS_WITH 'a'"), "invalid query: operation is not supported: operator 'STARTS_WITH' not supported for KeywordList type search attribute 'Tags'");
    assert_eq!(err("Num STARTS_WITH 1"), "invalid query: operation is not supported: operator 'STARTS_WITH' not supported for Int type search attribute 'Num'");
    assert_eq!(err("Kw LIKE 'a%'"), "invalid query: operation is not supported: operator 'LIKE' not supported for Keyword type search attribute 'Kw'");
    assert_eq!(err("Kw NOT REGEXP 'a'"), "invalid query: operation is not supported: operator 'NOT REGEXP' not supported for Keyword type search attribute 'Kw'");
    assert_eq!(err("Kw <=> 'a'"), "invalid query: operation is not supported: operator '<=>' not supported for Keyword type search attribute 'Kw'");
    assert_eq!(err("Flag BETWEEN false AND true"), "invalid query: invalid expression: cannot do range condition on search attribute 'Flag' of type Bool");
    assert_eq!(err("Tags BETWEEN 'a' AND 'b'"), "invalid query: invalid expression: cannot do range condition on search attribute 'Tags' of type KeywordList");
    assert_eq!(err("Kw IS TRUE"), "invalid query: invalid expression: 'IS' operator can only be used as 'IS NULL' or 'IS NOT NULL'");
    assert_eq!(err("Txt = '  '"), "invalid query: invalid expression: no tokens found filtering on Text type search attribute Txt");
    assert_eq!(err("ExecutionStatus STARTS_WITH 'Running'"), "invalid query: invalid expression: right-hand side of \"starts_with\" operator must be a literal string (got: Running)");
}

#[test]
fn shapes_that_are_not_conditions_or_values() {
    assert_eq!(
        err("Kw"),
        "invalid query: invalid expression: incomplete expression"
    );
    assert_eq!(
        err("1 = 1"),
        "invalid query: invalid expression: must be a column name but was *sqlparser.SQLVal"
    );
    assert_eq!(
        err("count(*) > 1"),
        "invalid query: invalid expression: must be a column name but was *sqlparser.FuncExpr"
    );
    assert_eq!(
        err("foo()"),
        "invalid query: operation is not supported: function expression"
    );
    assert_eq!(
        err("TRUE"),
        "invalid query: operation is not supported: expression of type sqlparser.BoolVal"
    );
    assert_eq!(err("Kw = Other"), "invalid query: operation is not supported: column name on the right side of comparison expression (did you forget to quote \"Other\"?)");
    assert_eq!(
        err("Kw = NULL"),
        "invalid query: invalid expression: unexpected value type *sqlparser.NullVal"
    );
    assert_eq!(
        err("Kw = 'a' + 'b'"),
        "invalid query: invalid expression: unexpected value type *sqlparser.BinaryExpr"
    );
    assert_eq!(
        err("Kw = (SELECT 1)"),
        "invalid query: invalid expression: unexpected value type *sqlparser.Subquery"
    );
    assert_eq!(
        err("Kw IN (SELECT 1)"),
        "invalid query: invalid expression: unexpected value type *sqlparser.Subquery"
    );
    assert_eq!(
        err("Kw = 0x1F"),
        "invalid query: invalid expression: unable to parse value \"0x1F\""
    );
    assert_eq!(
        err("Num = -(3)"),
        "invalid query: invalid expression: unary operator not supported in \"-(3)\""
    );
    assert_eq!(
        err("Kw = upper('a')"),
        "invalid query: operation is not supported: nested func"
    );
}

#[test]
fn clauses() {
    assert_eq!(
        err("Kw = 'a' LIMIT 1"),
        "invalid query: operation is not supported: 'LIMIT' clause"
    );
    assert_eq!(
        err("ORDER BY StartTime"),
        "invalid query: operation is not supported: 'ORDER BY' clause"
    );
    assert_eq!(
        err("ORDER BY Txt"),
        "invalid query: operation is not supported: unable to sort by search attribute type Text"
    );
    assert_eq!(
        err("ORDER BY Nope"),
        "invalid query: invalid search attribute: Nope"
    );
    assert_eq!(err("GROUP BY WorkflowType"), "invalid query: operation is not supported: 'GROUP BY' clause is not supported for search attribute WorkflowType");
    assert_eq!(
        err("GROUP BY ExecutionStatus, WorkflowType"),
        "invalid query: operation is not supported: 'GROUP BY' clause supports only a single field"
    );
    let q = ok("Kw = 'a' GROUP BY ExecutionStatus");
    assert_eq!(q.group_by[0].alias, "ExecutionStatus");
    let q = Query::parse(
        "ORDER BY StartTime DESC, Num",
        &attrs(),
        Options {
            allow_order_by: true,
        },
    )
    .unwrap();
    assert_eq!(q.order_by.len(), 2);
    assert!(q.order_by[0].descending && !q.order_by[1].descending);
    // Temporal checks LIMIT before the filter, and the filter before GROUP BY and ORDER BY.
    assert_eq!(
        err("Foo = 1 LIMIT 1"),
        "invalid query: operation is not supported: 'LIMIT' clause"
    );
    assert_eq!(
        err("Foo = 1 GROUP BY WorkflowType"),
        "invalid query: invalid search attribute: Foo"
    );
}

#[test]
fn namespace_division_is_noticed_wherever_named() {
    assert!(!ok("Kw = 'a'").names_namespace_division);
    assert!(ok("TemporalNamespaceDivision IS NULL").names_namespace_division);
    assert!(ok("GROUP BY TemporalNamespaceDivision").names_namespace_division);
}
