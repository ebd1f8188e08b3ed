//! Builds the gRPC server: services, gzip both ways, large message limits.

use std::sync::Arc;

use perdure_api::health::health_server::HealthServer;
use perdure_api::internal::internal_server::InternalServer;
use perdure_api::operatorservice::operator_service_server::{
    OperatorService, OperatorServiceServer,
};
use perdure_api::workflowservice::workflow_service_server::WorkflowServiceServer;
use perdure_history::HistoryService;
use temporalio_protos::temporal::api::operatorservice::v1::{
    AddSearchAttributesRequest, AddSearchAttributesResponse, ListSearchAttributesRequest,
    ListSearchAttributesResponse, RemoveSearchAttributesRequest, RemoveSearchAttributesResponse,
};
use tonic::codec::CompressionEncoding;

use crate::dispatch::Dispatcher;
use crate::health::{HealthService, NodeHealth};
use crate::internal::{authenticate, InternalService};
use crate::namespaces::Namespaces;
use crate::routing::Routing;

/// Far above any legal request (payloads are limited to 2 MiB each by validation); a larger
/// message is refused by tonic before it costs us memory.
const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

/// Everything an RPC handler can reach.
#[derive(Clone)]
pub struct Frontend {
    pub(crate) history: Arc<HistoryService>,
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) namespaces: Arc<Namespaces>,
    pub(crate) routing: Arc<Routing>,
    pub(crate) health: Arc<NodeHealth>,
    /// Wakes this node's batch runner at once when a job is started here (`crate::batch`).
    pub(crate) batch_kick: Arc<tokio::sync::Notify>,
    /// True on the API port: calls owned by another node are forwarded there. False on the
    /// internal port, whose calls were forwarded already and are served here whatever happens.
    pub(crate) forwards: bool,
}

impl Frontend {
    pub fn new(
        history: Arc<HistoryService>,
        dispatcher: Arc<Dispatcher>,
        namespaces: Arc<Namespaces>,
        routing: Arc<Routing>,
    ) -> Self {
        let health = NodeHealth::new(routing.clone());
        // Read once at start, so a node running with a deliberate bug says so in its log.
        crate::test_faults::test_break();
        Self {
            history,
            dispatcher,
            namespaces,
            routing,
            health,
            batch_kick: Arc::new(tokio::sync::Notify::new()),
            forwards: true,
        }
    }

    /// The node's readiness, as `/health` and grpc.health.v1 report it.
    pub fn health(&self) -> Arc<NodeHealth> {
        self.health.clone()
    }

    fn serving_forwarded(&self) -> Self {
        Self {
            forwards: false,
            ..self.clone()
        }
    }
}

/// OperatorService: Add/Remove/ListSearchAttributes (`rpc/*_search_attributes.rs`); every
/// other method answers Unimplemented (the generated defaults) until built.
pub(crate) struct Operator {
    pub(crate) frontend: Frontend,
}

#[tonic::async_trait]
impl OperatorService for Operator {
    async fn add_search_attributes(
        &self,
        r: tonic::Request<AddSearchAttributesRequest>,
    ) -> Result<tonic::Response<AddSearchAttributesResponse>, tonic::Status> {
        self.add_search_attributes(r)
            .await
            .map(tonic::Response::new)
    }

    async fn remove_search_attributes(
        &self,
        r: tonic::Request<RemoveSearchAttributesRequest>,
    ) -> Result<tonic::Response<RemoveSearchAttributesResponse>, tonic::Status> {
        self.remove_search_attributes(r)
            .await
            .map(tonic::Response::new)
    }

    async fn list_search_attributes(
        &self,
        r: tonic::Request<ListSearchAttributesRequest>,
    ) -> Result<tonic::Response<ListSearchAttributesResponse>, tonic::Status> {
        self.list_search_attributes(r.into_inner())
            .map(tonic::Response::new)
    }
}

fn operator_service(frontend: Frontend) -> OperatorServiceServer<Operator> {
    OperatorServiceServer::new(Operator { frontend })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
}

/// The API port's gRPC services (WorkflowService, OperatorService, Health) as one tower
/// service: what `serve` serves, and what the HTTP API (`perdure-httpapi`) calls in-process, so
/// both paths share every check and the forwarding.
pub fn grpc_routes(frontend: Frontend) -> tonic::service::Routes {
    let health = HealthServer::new(HealthService(frontend.health.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    let operator = operator_service(frontend.clone());
    tonic::service::Routes::new(workflow_service(frontend))
        .add_service(operator)
        .add_service(health)
}

/// Serves the Temporal API on `listener` until `shutdown` resolves.
pub async fn serve(
    frontend: Frontend,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_routes(grpc_routes(frontend))
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await
}

/// Streams a peer may reset before this node accepted them, per connection (h2's default: 20).
const INTERNAL_MAX_PENDING_RESETS: usize = 1024;

/// Serves the node-to-node port on `listener` until `shutdown` resolves: Raft, task offers,
/// remote task starts, and forwarded API calls, all behind the cluster secret.
pub async fn serve_internal(
    frontend: &Frontend,
    listener: tokio::net::TcpListener,
    cluster: perdure_cluster::ClusterService,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let auth = authenticate(frontend.routing.peers().clone());
    let internal = InternalService {
        raft: frontend.routing.raft().clone(),
        history: frontend.history.clone(),
        dispatcher: frontend.dispatcher.clone(),
    };
    let internal = InternalServer::new(internal)
        .max_decoding_message_size(MAX_MESSAGE_BYTES * 2)
        .max_encoding_message_size(MAX_MESSAGE_BYTES * 2);
    let workflow = workflow_service(frontend.serving_forwarded());
    let operator = operator_service(frontend.serving_forwarded());
    tonic::transport::Server::builder()
        // When a partition heals, a peer cancels the Raft calls it queued for this node all at
        // once; h2's default (20 streams reset before they were accepted) then tears down the
        // whole connection, every group's traffic with it (seen in jepsen/). Only peers holding
        // the cluster secret use this port.
        .http2_max_pending_accept_reset_streams(Some(INTERNAL_MAX_PENDING_RESETS))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            internal,
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            perdure_cluster::ClusterServer::new(cluster),
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            workflow,
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            operator, auth,
        ))
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await
}

fn workflow_service(frontend: Frontend) -> WorkflowServiceServer<Frontend> {
    WorkflowServiceServer::new(frontend)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

fn incoming(listener: tokio::net::TcpListener) -> tonic::transport::server::TcpIncoming {
    // Without TCP_NODELAY, small gRPC frames wait on the peer's delayed ACK: ~40 ms per hop.
    tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(std::time::Duration::from_secs(60)))
}
