//! Generates tonic server stubs (and, with the `client` feature, client stubs) for Temporal's
//! WorkflowService, OperatorService and the gRPC health service from the descriptor set that
//! `temporalio-protos` exports. Message types are not
//! generated here: `extern_path` points every Temporal type at the `temporalio-protos` crate, so
//! the SDKs and this server share one definition of every message.
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH")
        .map_err(|_| "temporalio-protos did not export its descriptor set")?;
    println!("cargo:rerun-if-changed={path}");
    let bytes = std::fs::read(&path)?;
    let mut fds = prost_types::FileDescriptorSet::decode(bytes.as_slice())?;
    // Keep only the files that declare the services we serve; the message types they use come
    // from temporalio-protos through extern_path.
    const SERVICES: &[&str] = &[
        "temporal/api/workflowservice/v1/service.proto",
        "temporal/api/operatorservice/v1/service.proto",
        "health/v1/health.proto",
    ];
    fds.file.retain(|f| {
        let name = f.name.as_deref().unwrap_or_default();
        SERVICES.iter().any(|s| name.ends_with(s))
    });
    if fds.file.len() != SERVICES.len() {
        return Err(format!(
            "expected {} service files, found {}",
            SERVICES.len(),
            fds.file.len()
        )
        .into());
    }
    // Cargo sets CARGO_FEATURE_<NAME> for build scripts of a crate built with that feature.
    let client = std::env::var_os("CARGO_FEATURE_CLIENT").is_some();
    tonic_prost_build::configure()
        .build_client(client)
        .build_server(true)
        .generate_default_stubs(true)
        .extern_path(".temporal", "::temporalio_protos::temporal")
        .extern_path(".grpc", "::temporalio_protos::grpc")
        .compile_fds(fds)?;
    internal(client)
}

/// Perdure's own node-to-node service (`proto/perdure/internal/v1/internal.proto`), compiled
/// with protox so no `protoc` is needed. Nodes are each other's clients, so client stubs are
/// always generated for it.
fn internal(_client: bool) -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let file = root.join("perdure/internal/v1/internal.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let fds = protox::compile([&file], [&root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
