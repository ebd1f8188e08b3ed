//! perdure-visibility: Temporal's list-filter query language, for ListWorkflowExecutions,
//! CountWorkflowExecutions and the commands built on them (`temporal workflow list --query`).
//!
//! It owns parsing a filter (as the WHERE clause of a MySQL-dialect SELECT, the way Temporal's
//! server does), validating it against a namespace's search attributes, evaluating it against a
//! run's visibility row, the order List returns rows in, and Temporal's InvalidArgument messages
//! for bad queries. It must never do I/O, spawn, block or read a clock: rows and search
//! attributes are handed in, and the same inputs always give the same answer. Temporal's server
//! (its SQL visibility store, as the dev server runs it) is the specification.
//!
//! ```
//! use perdure_visibility::{IndexedValueType, Options, Query, SearchAttributes};
//! let attrs = SearchAttributes::with_custom([("CustomerId", IndexedValueType::Keyword)]);
//! let q = Query::parse("ExecutionStatus = 'Running' AND CustomerId STARTS_WITH 'acme-'", &attrs, Options::default()).unwrap();
//! assert!(q.filter.is_some());
//! let err = Query::parse("Foo = 1", &attrs, Options::default()).unwrap_err();
//! assert_eq!(err.to_string(), "invalid query: invalid search attribute: Foo");
//! ```

mod ast;
mod attributes;
mod datetime;
mod duration;
mod error;
mod eval;
mod order;
mod parse;
mod plan;
mod record;
mod resolve;
mod status;

pub use ast::{CompareOp, Expr, Literal, OrderBy, Query};
pub use attributes::{Attribute, Field, IndexedValueType, SearchAttributes, SystemField};
pub use datetime::UnixNanos;
pub use duration::parse_execution_duration;
pub use error::{Clause, GoLiteral, QueryError, GRPC_CODE};
pub use order::{compare, DefaultOrderKey};
pub use parse::{MAX_NESTING, MAX_QUERY_LEN};
pub use plan::{IndexedAttribute, Plan, Planned, TimeRange};
pub use record::{Value, VisibilityRecord};
pub use resolve::Options;
pub use status::ExecutionStatus;
