//! The typed query: what a list filter means once its names are resolved and its values typed.
//!
//! Owns the shape that evaluation and ordering consume. It must never hold SQL syntax: every
//! node names a resolved attribute and carries values already converted to that attribute's type.

use crate::attributes::Attribute;
use crate::datetime::UnixNanos;
use crate::status::ExecutionStatus;

/// A parsed, validated list filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `None` matches every row (an empty query, or one with only GROUP BY / ORDER BY).
    pub filter: Option<Expr>,
    /// Empty unless the query was parsed with [`crate::Options::allow_order_by`].
    pub order_by: Vec<OrderBy>,
    /// At most one attribute, and only for Count.
    pub group_by: Vec<Attribute>,
    /// Whether the query names TemporalNamespaceDivision. When it does not, only rows without a
    /// division match (Temporal adds `TemporalNamespaceDivision IS NULL` to such queries).
    pub names_namespace_division: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All of them; a chain `a AND b AND c` is one node, so long chains never nest.
    And(Vec<Expr>),
    /// Any of them.
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        attr: Attribute,
        op: CompareOp,
        value: Literal,
    },
    In {
        attr: Attribute,
        values: Vec<Literal>,
        negated: bool,
    },
    Between {
        attr: Attribute,
        low: Literal,
        high: Literal,
        negated: bool,
    },
    StartsWith {
        attr: Attribute,
        prefix: String,
        negated: bool,
    },
    IsNull {
        attr: Attribute,
        negated: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A value in a query, converted for the attribute it is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// Keyword, KeywordList and Text values.
    String(String),
    /// Int values, and ExecutionDuration in nanoseconds.
    Int(i64),
    /// Double values, and floats compared with Int attributes.
    Double(f64),
    Bool(bool),
    Datetime(UnixNanos),
    /// ExecutionStatus, given by name or number.
    Status(ExecutionStatus),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub attr: Attribute,
    pub descending: bool,
}
