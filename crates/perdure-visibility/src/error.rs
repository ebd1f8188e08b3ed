//! The errors a list filter can earn, one variant per kind of problem.
//!
//! Every variant is an `InvalidArgument` in Temporal's API, and its `Display` is the whole status
//! message Temporal's server sends (`invalid query: <reason>`), observed on its dev server and in
//! its converter. This module owns that wording; it must never decide whether a query is valid.
//! Where Temporal prints a Go type name (`*sqlparser.SQLVal`) we print the same name, because
//! clients and tests match on these texts.

use crate::attributes::IndexedValueType;

/// What the caller should answer with: every query error is a client error.
pub const GRPC_CODE: &str = "InvalidArgument";

/// A literal as Temporal classifies it before checking it against an attribute's type: a quoted
/// string, an integer, a float or a boolean. Kept only to render error messages the Go way.
#[derive(Debug, Clone, PartialEq)]
pub enum GoLiteral {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl GoLiteral {
    /// Go's `%T` of the value Temporal's converter holds.
    pub fn go_type(&self) -> &'static str {
        match self {
            GoLiteral::Str(_) => "string",
            GoLiteral::Int(_) => "int64",
            GoLiteral::Float(_) => "float64",
            GoLiteral::Bool(_) => "bool",
        }
    }

    /// Go's `%#v` of that value.
    pub fn go_verbose(&self) -> String {
        match self {
            GoLiteral::Str(s) => go_quote(s),
            GoLiteral::Int(i) => i.to_string(),
            GoLiteral::Float(f) => go_float(*f),
            GoLiteral::Bool(b) => b.to_string(),
        }
    }

    /// Go's `%v` of that value.
    pub fn go_plain(&self) -> String {
        match self {
            GoLiteral::Str(s) => s.clone(),
            other => other.go_verbose(),
        }
    }
}

/// Go's `%q`: a double-quoted string with Go escapes (close enough to `{:?}` for printable text,
/// but Go keeps printable non-ASCII characters as they are).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` of a float64: the shortest representation, exponent form for very large or small.
fn go_float(f: f64) -> String {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e21 {
        format!("{}", f as i128)
    } else {
        format!("{f}")
    }
}

/// A clause of the wrapping SELECT that Temporal's SQL visibility store refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clause {
    Limit,
    OrderBy,
    GroupBy,
}

impl std::fmt::Display for Clause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Clause::Limit => "LIMIT",
            Clause::OrderBy => "ORDER BY",
            Clause::GroupBy => "GROUP BY",
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// Ours: Temporal has no limit but the gRPC message size; we bound parse time and memory.
    #[error("invalid query: query is too long ({len} bytes, at most {max})")]
    TooLong { len: usize, max: usize },

    /// The text is not a WHERE clause (plus optional GROUP BY / ORDER BY) at all.
    #[error("invalid query: malformed SQL query: {0}")]
    Malformed(String),

    #[error("invalid query: operation is not supported: '{0}' clause")]
    ClauseNotSupported(Clause),

    #[error(
        "invalid query: operation is not supported: 'GROUP BY' clause supports only a single field"
    )]
    GroupByManyFields,

    #[error("invalid query: operation is not supported: 'GROUP BY' clause is not supported for search attribute {0}")]
    GroupByNotAllowed(String),

    #[error(
        "invalid query: operation is not supported: unable to sort by search attribute type {0}"
    )]
    OrderByText(IndexedValueType),

    /// A function call where a condition was expected (`foo()`).
    #[error("invalid query: operation is not supported: function expression")]
    FunctionCondition,

    /// Any other expression that is not a condition (`TRUE`, `'abc'`, `EXISTS ...`), by Go type.
    #[error("invalid query: operation is not supported: expression of type {0}")]
    UnsupportedCondition(&'static str),

    /// A bare attribute name where a condition was expected.
    #[error("invalid query: invalid expression: incomplete expression")]
    IncompleteExpression,

    /// The left side of a comparison is not an attribute name, by Go type.
    #[error("invalid query: invalid expression: must be a column name but was {0}")]
    NotAnAttribute(&'static str),

    #[error("invalid query: invalid search attribute: {0}")]
    UnknownAttribute(String),

    #[error("invalid query: operation is not supported: operator '{operator}' not supported for {ty} type search attribute '{attribute}'")]
    OperatorNotSupported {
        operator: String,
        ty: IndexedValueType,
        attribute: String,
    },

    #[error("invalid query: invalid expression: cannot do range condition on search attribute '{attribute}' of type {ty}")]
    RangeNotSupported {
        attribute: String,
        ty: IndexedValueType,
    },

    #[error("invalid query: invalid expression: 'IS' operator can only be used as 'IS NULL' or 'IS NOT NULL'")]
    IsOperator,

    /// An unquoted word on the right side: almost always a forgotten pair of quotes.
    #[error("invalid query: operation is not supported: column name on the right side of comparison expression (did you forget to quote {}?)", go_quote(.0))]
    AttributeAsValue(String),

    #[error("invalid query: operation is not supported: nested func")]
    FunctionValue,

    /// A value that is not a literal (`'a' + 'b'`, `NULL`, a subquery), by Go type.
    #[error("invalid query: invalid expression: unexpected value type {0}")]
    UnexpectedValue(&'static str),

    /// A literal that is neither a string nor a number (`0x1F`, a placeholder).
    #[error("invalid query: invalid expression: unable to parse value {}", go_quote(.0))]
    UnparsableValue(String),

    #[error("invalid query: invalid expression: invalid value type for search attribute {attribute} of type {ty}: {} (type: {})", .value.go_verbose(), .value.go_type())]
    WrongValueType {
        attribute: String,
        ty: IndexedValueType,
        value: GoLiteral,
    },

    #[error("invalid query: invalid expression: unable to parse datetime '{0}'")]
    BadDatetime(String),

    /// An ExecutionStatus that is neither a status name nor a status number.
    #[error("invalid query: invalid expression: invalid ExecutionStatus value {}", status_shown(.0))]
    BadExecutionStatus(GoLiteral),

    /// A boolean given for ExecutionStatus or ExecutionDuration.
    #[error("invalid query: invalid expression: unexpected value type {} for search attribute {attribute}", .value.go_type())]
    UnexpectedValueFor { attribute: String, value: GoLiteral },

    #[error("invalid query: invalid expression: invalid duration value for search attribute ExecutionDuration: {}", .0.go_plain())]
    BadExecutionDuration(GoLiteral),

    /// A Text condition whose value has no word to look for.
    #[error("invalid query: invalid expression: no tokens found filtering on Text type search attribute {0}")]
    EmptyText(String),

    /// A sign or `~` applied to something other than a number (`-(3)`), as the query wrote it.
    #[error("invalid query: invalid expression: unary operator not supported in {}", go_quote(.0))]
    UnaryOnNonNumber(String),

    /// `!` in a value position (`WorkflowId =! 'a'`).
    #[error("invalid query: operation is not supported: unary operator \"{0}\"")]
    UnaryOperator(String),

    /// STARTS_WITH on ExecutionStatus: the status is stored as a number, so there is no prefix.
    #[error("invalid query: invalid expression: right-hand side of \"starts_with\" operator must be a literal string (got: {0})")]
    StartsWithNotString(String),
}

fn status_shown(v: &GoLiteral) -> String {
    match v {
        GoLiteral::Str(s) => format!("'{s}'"),
        other => other.go_plain(),
    }
}

impl QueryError {
    /// The gRPC status code Temporal answers with for this error.
    pub fn grpc_code(&self) -> &'static str {
        GRPC_CODE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_temporal_wording() {
        let e = QueryError::WrongValueType {
            attribute: "CustomIntField".into(),
            ty: IndexedValueType::Int,
            value: GoLiteral::Str("5".into()),
        };
        assert_eq!(
            e.to_string(),
            r#"invalid query: invalid expression: invalid value type for search attribute CustomIntField of type Int: "5" (type: string)"#
        );
        assert_eq!(
            QueryError::BadExecutionStatus(GoLiteral::Int(99)).to_string(),
            "invalid query: invalid expression: invalid ExecutionStatus value 99"
        );
        assert_eq!(
            QueryError::BadExecutionStatus(GoLiteral::Str("Bogus".into())).to_string(),
            "invalid query: invalid expression: invalid ExecutionStatus value 'Bogus'"
        );
        assert_eq!(
            QueryError::AttributeAsValue("Foo".into()).to_string(),
            "invalid query: operation is not supported: column name on the right side of comparison expression (did you forget to quote \"Foo\"?)"
        );
        assert_eq!(QueryError::IsOperator.grpc_code(), "InvalidArgument");
    }

    #[test]
    fn go_renderings() {
        assert_eq!(GoLiteral::Float(1.0).go_verbose(), "1");
        assert_eq!(GoLiteral::Float(1.5).go_verbose(), "1.5");
        assert_eq!(go_quote("a\"b\n"), r#""a\"b\n""#);
    }
}
