//! The gRPC face of a node: Temporal's WorkflowService (plus Health and an OperatorService that
//! answers Unimplemented), speaking gzip and large messages as the SDKs expect.
//!
//! Each RPC has its own module under `rpc/`: validate the request (limits, required fields,
//! namespace), then hand it to history or matching. This crate owns request validation and the
//! wire shape of errors; it must never change execution state itself.

mod deadline;
mod errors;
mod health;
mod http;
mod namespaces;
mod retention;
mod rpc;
mod server;
mod service;
mod sink;
mod validate;

pub use http::serve_http;
pub use namespaces::{NamespaceRecord, Namespaces};
pub use retention::{MIN_RETENTION_ENV, MIN_RETENTION_LOCAL};
pub use server::{serve, Frontend};
pub use sink::MatchingSink;
