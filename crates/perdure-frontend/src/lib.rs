//! The gRPC face of a node: Temporal's WorkflowService (plus Health and an OperatorService that
//! answers Unimplemented), speaking gzip and large messages as the SDKs expect; and the
//! node-to-node port (Raft, task offers, forwarded calls). Any node accepts any call and
//! forwards it to the node owning its shard or task queue (`routing.rs`, `forward.rs`).
//!
//! Each RPC has its own module under `rpc/`: validate the request (limits, required fields,
//! namespace), then hand it to history or matching. This crate owns request validation and the
//! wire shape of errors; it must never change execution state itself.

pub mod batch;
pub mod cross_shard;
mod deadline;
mod dispatch;
mod errors;
mod forward;
mod health;
mod http;
mod internal;
mod links;
mod namespaces;
mod query_dispatch;
mod retention;
mod routing;
mod rpc;
mod search_attributes;
mod server;
mod service;
mod shard_records;
mod start_task;
pub mod test_faults;
mod validate;
mod visibility;

pub use dispatch::Dispatcher;
pub use health::NodeHealth;
pub use http::{http_router, serve_http};
pub use internal::authenticate;
pub use namespaces::{NamespaceRecord, Namespaces};
pub use retention::{MIN_RETENTION_ENV, MIN_RETENTION_LOCAL};
pub use routing::{Owner, Routing};
pub use server::{grpc_routes, serve, serve_internal, Frontend};
