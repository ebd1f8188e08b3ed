//! Temporal's descriptor set, loaded once into a prost-reflect pool: every message the HTTP API
//! transcodes, the two services it serves and their `google.api.http` annotations. It owns
//! nothing but the lookup; it must never be edited at run time.

use std::sync::LazyLock;

use prost_reflect::{DescriptorPool, MessageDescriptor, ServiceDescriptor};

/// The services whose annotated methods the HTTP API serves, as Temporal's frontend does.
pub const SERVICES: &[&str] = &[
    "temporal.api.workflowservice.v1.WorkflowService",
    "temporal.api.operatorservice.v1.OperatorService",
];

pub const PAYLOAD: &str = "temporal.api.common.v1.Payload";
pub const PAYLOADS: &str = "temporal.api.common.v1.Payloads";
pub const RPC_STATUS: &str = "google.rpc.Status";

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    // The bytes are compiled in from temporalio-protos; a unit test decodes them, so a broken
    // set fails the build's tests rather than a node.
    DescriptorPool::decode(perdure_api::TEMPORAL_DESCRIPTOR_SET)
        .expect("temporalio-protos' descriptor set decodes")
});

pub fn pool() -> &'static DescriptorPool {
    &POOL
}

pub fn services() -> impl Iterator<Item = ServiceDescriptor> {
    SERVICES
        .iter()
        .filter_map(|name| pool().get_service_by_name(name))
}

pub fn message(name: &str) -> Option<MessageDescriptor> {
    pool().get_message_by_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_holds_both_services_and_the_http_annotation() {
        assert_eq!(services().count(), 2);
        assert!(pool().get_extension_by_name("google.api.http").is_some());
        for name in [PAYLOAD, PAYLOADS, RPC_STATUS] {
            assert!(message(name).is_some(), "{name} missing");
        }
    }
}
