//! GetClusterInfo (`temporal operator cluster describe`): what this cluster is, as Temporal's
//! frontend describes its own. Every node answers the same: the id and the shard count are
//! replicated state, the rest are constants.

use std::collections::HashMap;

use temporalio_protos::temporal::api::workflowservice::v1::{
    GetClusterInfoRequest, GetClusterInfoResponse,
};
use tonic::Status;

use crate::rpc::namespace::CLUSTER_NAME;
use crate::server::Frontend;

/// Client name -> accepted versions, as Temporal's version checker lists them for the SDKs, the
/// CLI and the UI (its own server roles are not clients of Perdure).
const SUPPORTED_CLIENTS: &[(&str, &str)] = &[
    ("temporal-go", "<2.0.0"),
    ("temporal-java", "<2.0.0"),
    ("temporal-php", "<2.0.0"),
    ("temporal-typescript", "<2.0.0"),
    ("temporal-cli", "<2.0.0"),
    ("temporal-ui", "<3.0.0"),
    ("Nexus-go-sdk", "<2.0.0"),
];

/// Where executions live: Raft groups over one RocksDB per node.
const PERSISTENCE_STORE: &str = "rocksdb";
/// Visibility rows are written in the same RocksDB batches and queried by Perdure itself.
const VISIBILITY_STORE: &str = "perdure";

/// Temporal's single-cluster defaults (no multi-cluster replication here).
const INITIAL_FAILOVER_VERSION: i64 = 1;
const FAILOVER_VERSION_INCREMENT: i64 = 10;

impl Frontend {
    pub(crate) fn get_cluster_info(
        &self,
        _req: GetClusterInfoRequest,
    ) -> Result<GetClusterInfoResponse, Status> {
        // Chosen once in the meta group (by the first meta leader of a cluster, at the first
        // start of a single node) and replicated to every node, so it never changes.
        let id = perdure_cluster::registry::cluster_id(self.namespaces.store())
            .map_err(|e| Status::internal(format!("reading the cluster id: {e}")))?
            .ok_or_else(|| Status::unavailable("the cluster's id is not chosen yet"))?;
        Ok(GetClusterInfoResponse {
            supported_clients: SUPPORTED_CLIENTS
                .iter()
                .map(|(c, v)| (c.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            cluster_id: format!("{id:016x}"),
            version_info: None,
            cluster_name: CLUSTER_NAME.to_string(),
            history_shard_count: i32::try_from(self.history.shard_count()).unwrap_or(i32::MAX),
            persistence_store: PERSISTENCE_STORE.to_string(),
            visibility_store: VISIBILITY_STORE.to_string(),
            initial_failover_version: INITIAL_FAILOVER_VERSION,
            failover_version_increment: FAILOVER_VERSION_INCREMENT,
        })
    }
}
