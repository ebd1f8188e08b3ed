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
    http_descriptors()?;
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

/// The descriptor set the HTTP API reflects on (`perdure-httpapi`): the two services and every
/// message they use, *with* their options. The set `temporalio-protos` exports went through
/// `prost_types`, which drops extension options such as `google.api.http`, so the same proto
/// sources (shipped in the temporalio-protos package) are compiled again here with protox,
/// whose encoder keeps them.
fn http_descriptors() -> Result<(), Box<dyn std::error::Error>> {
    let protos = temporalio_protos_dir()?.join("protos");
    println!("cargo:rerun-if-changed={}", protos.display());
    let mut compiler = protox::Compiler::new([protos.join("api_upstream"), protos.clone()])?;
    compiler.include_imports(true);
    compiler.include_source_info(false);
    compiler.open_files([
        "temporal/api/workflowservice/v1/service.proto",
        "temporal/api/operatorservice/v1/service.proto",
        "temporal/api/errordetails/v1/message.proto",
        "google/rpc/status.proto",
    ])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("temporal_descriptors.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    Ok(())
}

/// Where the temporalio-protos package's sources are: `TEMPORALIO_PROTOS_DIR` if set, else
/// the version Cargo.lock pins, unpacked in cargo's registry (`$CARGO_HOME/registry/src/*/`).
/// (`cargo metadata` would also know, but it resolves every platform's dependencies and so
/// needs the network.)
fn temporalio_protos_dir() -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-env-changed=TEMPORALIO_PROTOS_DIR");
    if let Some(dir) = std::env::var_os("TEMPORALIO_PROTOS_DIR") {
        return Ok(dir.into());
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))?;
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"temporalio-protos\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .ok_or("temporalio-protos is not in Cargo.lock")?;
    let cargo_home = match std::env::var_os("CARGO_HOME") {
        Some(h) => std::path::PathBuf::from(h),
        None => std::path::PathBuf::from(std::env::var_os("HOME").ok_or("no HOME")?).join(".cargo"),
    };
    let wanted = format!("temporalio-protos-{version}");
    for index in std::fs::read_dir(cargo_home.join("registry/src"))? {
        let dir = index?.path().join(&wanted);
        if dir.join("protos").is_dir() {
            return Ok(dir);
        }
    }
    Err(format!(
        "{wanted} not found under {}/registry/src (set TEMPORALIO_PROTOS_DIR)",
        cargo_home.display()
    )
    .into())
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
