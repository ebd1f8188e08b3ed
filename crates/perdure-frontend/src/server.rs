//! Builds the gRPC server: services, gzip both ways, large message limits.

use std::sync::Arc;

use perdure_api::health::health_server::HealthServer;
use perdure_api::operatorservice::operator_service_server::{
    OperatorService, OperatorServiceServer,
};
use perdure_api::workflowservice::workflow_service_server::WorkflowServiceServer;
use perdure_history::{DispatchTask, HistoryService};
use perdure_matching::Matching;
use tonic::codec::CompressionEncoding;

use crate::health::HealthService;
use crate::namespaces::Namespaces;

/// Far above any legal request (payloads are limited to 2 MiB each by validation); a larger
/// message is refused by tonic before it costs us memory.
const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

/// Everything an RPC handler can reach.
pub struct Frontend {
    pub(crate) history: Arc<HistoryService>,
    pub(crate) matching: Matching<DispatchTask>,
    pub(crate) namespaces: Arc<Namespaces>,
}

impl Frontend {
    pub fn new(
        history: Arc<HistoryService>,
        matching: Matching<DispatchTask>,
        namespaces: Arc<Namespaces>,
    ) -> Self {
        Self {
            history,
            matching,
            namespaces,
        }
    }
}

/// OperatorService: every method answers Unimplemented (the generated defaults) until built.
struct Operator;

#[tonic::async_trait]
impl OperatorService for Operator {}

/// Serves until `shutdown` resolves.
pub async fn serve(
    frontend: Frontend,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let workflow = WorkflowServiceServer::new(frontend)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let operator = OperatorServiceServer::new(Operator)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    let health = HealthServer::new(HealthService)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    // Without TCP_NODELAY, small gRPC frames wait on the peer's delayed ACK: ~40 ms per hop.
    let incoming = tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(std::time::Duration::from_secs(60)));
    tonic::transport::Server::builder()
        .add_service(workflow)
        .add_service(operator)
        .add_service(health)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
