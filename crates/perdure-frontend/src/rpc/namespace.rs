//! RegisterNamespace, DescribeNamespace, ListNamespaces (UpdateNamespace has its own file).

use std::collections::HashMap;

use perdure_core::limits;
use temporalio_protos::temporal::api::enums::v1::{
    ArchivalState, NamespaceState, ReplicationState,
};
use temporalio_protos::temporal::api::namespace::v1::namespace_info::{Capabilities, Limits};
use temporalio_protos::temporal::api::namespace::v1::{NamespaceConfig, NamespaceInfo};
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

/// What the namespace's clients may use. A flag is true only when Perdure implements the
/// feature (the SDKs change behaviour on them), so it agrees with GetSystemInfo: no eager
/// workflow start, worker heartbeats, reported-problems attribute, standalone activities,
/// poller autoscaling hints or paginated task completions; updates, waited on or polled, work.
pub(crate) fn capabilities() -> Capabilities {
    Capabilities {
        sync_update: true,
        async_update: true,
        ..Default::default()
    }
}

/// The size limits Perdure enforces, as Temporal reports its dynamic config's. The workflow
/// task completion limit is a budget for paginated completions, which Perdure does not take:
/// left 0 (unset).
fn namespace_limits() -> Limits {
    Limits {
        blob_size_limit_error: limits::BLOB_SIZE_LIMIT_ERROR as i64,
        memo_size_limit_error: limits::MEMO_SIZE_LIMIT_ERROR as i64,
        workflow_task_completion_size_limit_error: 0,
    }
}

/// `aliases`: the namespace's custom search attributes by the column Temporal's SQL store
/// would keep each in (`rules::column_aliases`).
pub(crate) fn describe(
    record: NamespaceRecord,
    aliases: HashMap<String, String>,
) -> DescribeNamespaceResponse {
    DescribeNamespaceResponse {
        namespace_info: Some(NamespaceInfo {
            capabilities: Some(capabilities()),
            limits: Some(namespace_limits()),
            supports_schedules: true,
            ..record.info.unwrap_or_default()
        }),
        config: Some(NamespaceConfig {
            // Archival is not implemented; no binary is ever marked bad (an empty map, as
            // Temporal answers for a namespace that never set one).
            history_archival_state: ArchivalState::Disabled as i32,
            visibility_archival_state: ArchivalState::Disabled as i32,
            bad_binaries: Some(Default::default()),
            custom_search_attribute_aliases: aliases,
            ..record.config.unwrap_or_default()
        }),
        replication_config: Some(NamespaceReplicationConfig {
            active_cluster_name: CLUSTER_NAME.to_string(),
            clusters: vec![ClusterReplicationConfig {
                cluster_name: CLUSTER_NAME.to_string(),
                ..Default::default()
            }],
            state: ReplicationState::Normal as i32,
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

    pub(crate) fn column_aliases(
        &self,
        record: &NamespaceRecord,
    ) -> Result<HashMap<String, String>, Status> {
        let attrs = self.namespaces.search_attributes(record.id())?;
        Ok(crate::search_attributes::rules::column_aliases(
            attrs.custom(),
        ))
    }

    pub(crate) fn describe_namespace(
        &self,
        req: DescribeNamespaceRequest,
    ) -> Result<DescribeNamespaceResponse, Status> {
        let record = if !req.id.is_empty() {
            self.namespaces.get_by_id(&req.id)?
        } else {
            self.namespaces.lookup(&req.namespace)?
        };
        let aliases = self.column_aliases(&record)?;
        Ok(describe(record, aliases))
    }

    pub(crate) fn list_namespaces(
        &self,
        req: ListNamespacesRequest,
    ) -> Result<ListNamespacesResponse, Status> {
        let include_deleted = req.namespace_filter.is_some_and(|f| f.include_deleted);
        let namespaces = self
            .namespaces
            .list()?
            .into_iter()
            .filter(|r| include_deleted || r.state() != NamespaceState::Deleted)
            .map(|record| Ok(describe(record.clone(), self.column_aliases(&record)?)))
            .collect::<Result<_, Status>>()?;
        Ok(ListNamespacesResponse {
            namespaces,
            next_page_token: Vec::new(),
        })
    }
}
