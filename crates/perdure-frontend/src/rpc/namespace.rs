//! RegisterNamespace, DescribeNamespace, ListNamespaces.

use temporalio_protos::temporal::api::namespace::v1::NamespaceInfo;
use temporalio_protos::temporal::api::replication::v1::{
    ClusterReplicationConfig, NamespaceReplicationConfig,
};
use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeNamespaceRequest, DescribeNamespaceResponse, ListNamespacesRequest,
    ListNamespacesResponse, RegisterNamespaceRequest, RegisterNamespaceResponse,
};
use tonic::Status;

use crate::namespaces::NamespaceRecord;
use crate::server::Frontend;

/// The single "cluster" a standalone Perdure cluster presents itself as.
pub const CLUSTER_NAME: &str = "active";

fn describe(record: NamespaceRecord) -> DescribeNamespaceResponse {
    DescribeNamespaceResponse {
        namespace_info: Some(NamespaceInfo {
            // Capabilities all default to false: the SDKs then skip features we lack.
            capabilities: Some(Default::default()),
            ..record.info.unwrap_or_default()
        }),
        config: record.config,
        replication_config: Some(NamespaceReplicationConfig {
            active_cluster_name: CLUSTER_NAME.to_string(),
            clusters: vec![ClusterReplicationConfig {
                cluster_name: CLUSTER_NAME.to_string(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Frontend {
    pub(crate) async fn register_namespace(
        &self,
        req: RegisterNamespaceRequest,
    ) -> Result<RegisterNamespaceResponse, Status> {
        crate::namespaces::validate_name(&req.namespace)?;
        let retention = crate::retention::validate(
            req.workflow_execution_retention_period.as_ref(),
            self.namespaces.min_retention(),
        )?;
        self.namespaces
            .register(
                &req.namespace,
                &req.description,
                &req.owner_email,
                Some(retention),
                req.data,
            )
            .await?;
        Ok(RegisterNamespaceResponse::default())
    }

    pub(crate) fn describe_namespace(
        &self,
        req: DescribeNamespaceRequest,
    ) -> Result<DescribeNamespaceResponse, Status> {
        let record = if !req.id.is_empty() {
            self.namespaces.get_by_id(&req.id)?
        } else {
            self.namespaces.get(&req.namespace)?
        };
        Ok(describe(record))
    }

    pub(crate) fn list_namespaces(
        &self,
        _req: ListNamespacesRequest,
    ) -> Result<ListNamespacesResponse, Status> {
        let namespaces = self.namespaces.list()?.into_iter().map(describe).collect();
        Ok(ListNamespacesResponse {
            namespaces,
            next_page_token: Vec::new(),
        })
    }
}
