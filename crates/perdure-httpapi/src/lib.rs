//! Temporal's HTTP JSON API (`/api/v1/...`), as Temporal's frontend serves it with
//! grpc-gateway: every WorkflowService and OperatorService method with a `google.api.http`
//! annotation, transcoded from HTTP+JSON to a gRPC call and back. The route table is read from
//! the annotations in Temporal's descriptor set (`routes.rs`), not written per method; calls go
//! in-process through the node's own gRPC service stack (`dispatch.rs`), so an HTTP call is
//! validated, forwarded to the shard's leader and fails exactly as the same gRPC call would.
//!
//! This crate owns HTTP↔gRPC transcoding only. It must never call the frontend's handlers
//! directly or know what a method does; it depends on no other Perdure crate but perdure-api.

mod descriptors;
mod dispatch;
mod errors;
mod fields;
mod handler;
mod json;
mod routes;
mod template;

use std::convert::Infallible;
use std::sync::Arc;

pub use dispatch::GrpcService;

/// Largest request body accepted, as Temporal's HTTP API (gRPC's default message size).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// The `/api/v1/{*rest}` route (one catch-all with its own matcher), calling `grpc`, the node's
/// gRPC services as a tower service (e.g. `tonic::service::Routes`). Merge it into the HTTP
/// port's router; explicitly registered `/api/v1/...` routes of the merged router win over it.
pub fn router<S>(grpc: S) -> axum::Router
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let api = Arc::new(handler::Api {
        table: routes::RouteTable::load(),
        grpc: GrpcService::new(grpc),
    });
    axum::Router::new()
        .route("/api/v1/{*rest}", axum::routing::any(handler::handle))
        .with_state(api)
}
