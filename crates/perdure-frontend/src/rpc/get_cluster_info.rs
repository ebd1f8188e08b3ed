//! GetClusterInfo (`temporal operator cluster describe`): what this cluster is, as Temporal's
//! frontend describes its own. Every node answers the same: the id and the shard count are
//! replicated state, the rest are constants. The server version is the Temporal release whose
//! API Perdure answers as: clients gate features on it (the Web UI offers batch actions only
//! from 1.18 on, and names executions in a batch from 1.19 on), so Perdure's own crate version
//! (0.x) would make them treat it as an ancient Temporal.

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

/// The Temporal server release Perdure's behaviour is checked against (the dev server the
/// suite runs with PERDURE_TEST_SERVER=temporal), reported as the server version by
/// GetClusterInfo and GetSystemInfo.
pub const TEMPORAL_SERVER_VERSION: &str = "1.32.0";

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
            server_version: TEMPORAL_SERVER_VERSION.to_string(),
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

#[cfg(test)]
mod tests {
    use super::TEMPORAL_SERVER_VERSION;

    fn major_minor(v: &str) -> (u32, u32) {
        let mut parts = v
            .split('.')
            .map(|p| p.parse::<u32>().expect("a numeric part"));
        (parts.next().unwrap(), parts.next().unwrap())
    }

    #[test]
    fn the_version_is_a_temporal_release_the_web_ui_offers_batch_actions_to() {
        assert_eq!(TEMPORAL_SERVER_VERSION.split('.').count(), 3);
        // The UI's gates: batch actions from 1.18, batches naming executions from 1.19.
        assert!(
            major_minor(TEMPORAL_SERVER_VERSION) >= (1, 19),
            "{TEMPORAL_SERVER_VERSION}"
        );
    }
}
