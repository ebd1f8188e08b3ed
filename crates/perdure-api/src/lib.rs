//! Server stubs for the Temporal API and re-exports of its message types. With the `client`
//! feature the same modules also hold client stubs (`workflow_service_client`, ...).
//!
//! This crate owns code generation only: no behaviour lives here.

pub use temporalio_protos as protos;
pub use temporalio_protos::temporal::api as temporal;

/// Temporal's whole descriptor set (every message, service and the `google.api.http`
/// annotations), as `temporalio-protos` exports it: what the HTTP API reflects on.
pub const TEMPORAL_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/temporal_descriptors.bin"));

// The generated docs are Temporal's proto comments, whose lists rustdoc's lints do not like.
#[allow(clippy::doc_lazy_continuation)]
pub mod workflowservice {
    tonic::include_proto!("temporal.api.workflowservice.v1");
}

pub mod operatorservice {
    tonic::include_proto!("temporal.api.operatorservice.v1");
}

pub mod health {
    tonic::include_proto!("grpc.health.v1");
}

/// Perdure's node-to-node service: Raft transport, task offers, starts on a shard's leader.
pub mod internal {
    tonic::include_proto!("perdure.internal.v1");
}
