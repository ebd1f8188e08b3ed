//! UpdateNamespace: what a namespace update may change and in which order it is checked, as
//! Temporal's namespace handler decides it for a local (non-global) namespace on a cluster
//! without archival. The write itself is `Namespaces::update` (compare-and-set in the meta
//! group); any node answers, forwarding to the meta leader like RegisterNamespace.
//!
//! What Perdure does not keep is refused or ignored the way Temporal's dev server shows it:
//! archival settings are ignored (no archival is configured), bad binaries are never recorded
//! (so deleting one is "doesn't exist"), and custom search attribute aliases are assigned by
//! AddSearchAttributes only, so setting them here is refused rather than silently dropped.
//! This module must never write anything itself.

use perdure_storage::GroupId;
use temporalio_protos::temporal::api::enums::v1::{NamespaceState, ReplicationState};
use temporalio_protos::temporal::api::workflowservice::v1::{
    UpdateNamespaceRequest, UpdateNamespaceResponse,
};
use tonic::{Request, Status};

use super::namespace::{describe, CLUSTER_NAME};
use crate::errors;
use crate::forward::Forwarded;
use crate::namespaces::NamespaceRecord;
use crate::server::Frontend;

impl Frontend {
    pub(crate) async fn update_namespace(
        &self,
        r: Request<UpdateNamespaceRequest>,
    ) -> Result<UpdateNamespaceResponse, Status> {
        let name = r.get_ref().namespace.clone();
        crate::namespaces::validate_name(&name)?;
        // NotFound, or a deleted namespace's invalid state, before anything else.
        self.namespaces.get(&name)?;
        let r = match self.remote_owner(Some(GroupId::META)).await? {
            Some((group, addr)) => match self
                .forward(group, &addr, r, |mut c, r| async move {
                    c.update_namespace(r).await
                })
                .await
            {
                Forwarded::Answer(answer) => {
                    let answer = answer?.into_inner();
                    self.namespaces
                        .wait_record_applied(&name, |stored| same_as_answer(stored, &answer))
                        .await;
                    return Ok(answer);
                }
                Forwarded::Local(r) => r,
            },
            None => r,
        };
        let req = r.into_inner();
        let min_retention = self.namespaces.min_retention();
        let record = self
            .namespaces
            .update(&name, |record| plan(record, &req, min_retention))
            .await?;
        let described = describe(record.clone(), self.column_aliases(&record)?);
        Ok(UpdateNamespaceResponse {
            namespace_info: described.namespace_info,
            config: described.config,
            replication_config: described.replication_config,
            failover_version: 0,
            is_global_namespace: false,
        })
    }
}

/// Applies `req` to `record`; answers whether anything changed (nothing is written if not).
fn plan(
    record: &mut NamespaceRecord,
    req: &UpdateNamespaceRequest,
    min_retention: std::time::Duration,
) -> Result<bool, Status> {
    let mut changed = false;
    let current_state = record.state();
    let info = record.info.get_or_insert_with(Default::default);
    if let Some(update) = &req.update_info {
        if !update.description.is_empty() {
            info.description = update.description.clone();
            changed = true;
        }
        if !update.owner_email.is_empty() {
            info.owner_email = update.owner_email.clone();
            changed = true;
        }
        if !update.data.is_empty() {
            // Merged, never replaced: a key can be changed but not removed.
            info.data.extend(update.data.clone());
            changed = true;
        }
        let wanted = NamespaceState::try_from(update.state).unwrap_or(NamespaceState::Unspecified);
        if wanted != NamespaceState::Unspecified && wanted != current_state {
            if !state_change_allowed(current_state, wanted) {
                return Err(errors::invalid("Invalid namespace state update."));
            }
            info.state = wanted as i32;
            changed = true;
        }
    }
    if let Some(config) = &req.config {
        if let Some(retention) = &config.workflow_execution_retention_ttl {
            let retention = crate::retention::validate(Some(retention), min_retention)?;
            record
                .config
                .get_or_insert_with(Default::default)
                .workflow_execution_retention_ttl = Some(retention);
            changed = true;
        }
        if !config.custom_search_attribute_aliases.is_empty() {
            return Err(errors::invalid(
                "Custom search attribute aliases are assigned by AddSearchAttributes on this \
                 server; UpdateNamespace cannot set them.",
            ));
        }
    }
    if !req.delete_bad_binary.is_empty() {
        return Err(errors::invalid(format!(
            "Bad binary checksum {} doesn't exists.",
            req.delete_bad_binary
        )));
    }
    if let Some(replication) = &req.replication_config {
        let wanted =
            ReplicationState::try_from(replication.state).unwrap_or(ReplicationState::Unspecified);
        if wanted != ReplicationState::Unspecified && wanted != ReplicationState::Normal {
            if current_state != NamespaceState::Registered {
                return Err(errors::invalid(format!(
                    "update ReplicationState is only supported when namespace is in {} state, \
                     current state: {}",
                    NamespaceState::Registered.as_str_name(),
                    current_state.as_str_name()
                )));
            }
            if wanted == ReplicationState::Handover {
                return Err(errors::invalid(
                    "Handover can only be set for global namespace",
                ));
            }
        }
        // A local namespace lives in this cluster only.
        let named = replication
            .clusters
            .iter()
            .map(|c| c.cluster_name.as_str())
            .chain(Some(replication.active_cluster_name.as_str()).filter(|n| !n.is_empty()));
        for cluster in named {
            if cluster != CLUSTER_NAME {
                return Err(errors::invalid(format!("Invalid cluster name: {cluster}")));
            }
        }
    }
    if req.promote_namespace {
        return Err(errors::invalid(format!(
            "global namespace is not enabled on this cluster, cannot update global namespace \
             or promote local namespace: {}",
            req.namespace
        )));
    }
    Ok(changed)
}

/// Temporal's namespace life cycle: Registered -> Deprecated -> Deleted, never back.
fn state_change_allowed(from: NamespaceState, to: NamespaceState) -> bool {
    matches!(
        (from, to),
        (
            NamespaceState::Registered,
            NamespaceState::Deprecated | NamespaceState::Deleted
        ) | (NamespaceState::Deprecated, NamespaceState::Deleted)
    )
}

/// Whether this node's stored record already shows what the meta leader answered.
fn same_as_answer(stored: &NamespaceRecord, answer: &UpdateNamespaceResponse) -> bool {
    let (Some(ours), Some(theirs)) = (&stored.info, &answer.namespace_info) else {
        return false;
    };
    let retention = |c: Option<
        &temporalio_protos::temporal::api::namespace::v1::NamespaceConfig,
    >| { c.and_then(|c| c.workflow_execution_retention_ttl) };
    ours.state == theirs.state
        && ours.description == theirs.description
        && ours.owner_email == theirs.owner_email
        && ours.data == theirs.data
        && retention(stored.config.as_ref()) == retention(answer.config.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use temporalio_protos::temporal::api::namespace::v1::{
        NamespaceConfig, NamespaceInfo, UpdateNamespaceInfo,
    };
    use temporalio_protos::temporal::api::replication::v1::{
        ClusterReplicationConfig, NamespaceReplicationConfig,
    };

    const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

    fn record(state: NamespaceState) -> NamespaceRecord {
        NamespaceRecord {
            info: Some(NamespaceInfo {
                name: "ns".into(),
                state: state as i32,
                description: "d0".into(),
                owner_email: "o0".into(),
                data: HashMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]),
                id: "id".into(),
                ..Default::default()
            }),
            config: Some(NamespaceConfig {
                workflow_execution_retention_ttl: Some(prost_wkt_types::Duration {
                    seconds: 86400,
                    nanos: 0,
                }),
                ..Default::default()
            }),
        }
    }

    fn request(f: impl FnOnce(&mut UpdateNamespaceRequest)) -> UpdateNamespaceRequest {
        let mut r = UpdateNamespaceRequest {
            namespace: "ns".into(),
            ..Default::default()
        };
        f(&mut r);
        r
    }

    fn message(r: Result<bool, Status>) -> String {
        r.expect_err("refused").message().to_string()
    }

    #[test]
    fn empty_fields_change_nothing_and_data_is_merged() {
        let mut rec = record(NamespaceState::Registered);
        let noop = request(|r| r.update_info = Some(UpdateNamespaceInfo::default()));
        assert!(!plan(&mut rec, &noop, HOUR).unwrap());
        assert_eq!(rec, record(NamespaceState::Registered));

        let req = request(|r| {
            r.update_info = Some(UpdateNamespaceInfo {
                owner_email: "o1".into(),
                data: HashMap::from([("b".into(), "3".into()), ("c".into(), "4".into())]),
                ..Default::default()
            })
        });
        assert!(plan(&mut rec, &req, HOUR).unwrap());
        let info = rec.info.unwrap();
        assert_eq!(
            info.description, "d0",
            "an empty description keeps the old one"
        );
        assert_eq!(info.owner_email, "o1");
        assert_eq!(
            info.data,
            HashMap::from([
                ("a".into(), "1".into()),
                ("b".into(), "3".into()),
                ("c".into(), "4".into())
            ])
        );
    }

    #[test]
    fn states_only_move_forward() {
        use NamespaceState::*;
        for (from, to, ok) in [
            (Registered, Deprecated, true),
            (Registered, Deleted, true),
            (Deprecated, Deleted, true),
            (Deprecated, Registered, false),
            (Deleted, Registered, false),
            (Deleted, Deprecated, false),
        ] {
            let mut rec = record(from);
            let req = request(|r| {
                r.update_info = Some(UpdateNamespaceInfo {
                    state: to as i32,
                    ..Default::default()
                })
            });
            let got = plan(&mut rec, &req, HOUR);
            if ok {
                assert!(got.unwrap(), "{from:?} -> {to:?}");
                assert_eq!(rec.state(), to);
            } else {
                assert_eq!(message(got), "Invalid namespace state update.");
            }
        }
        // Asking for the state it already has is no change at all.
        let mut rec = record(Deprecated);
        let same = request(|r| {
            r.update_info = Some(UpdateNamespaceInfo {
                state: Deprecated as i32,
                ..Default::default()
            })
        });
        assert!(!plan(&mut rec, &same, HOUR).unwrap());
    }

    #[test]
    fn retention_is_validated_like_registration() {
        let mut rec = record(NamespaceState::Registered);
        let short = request(|r| {
            r.config = Some(NamespaceConfig {
                workflow_execution_retention_ttl: Some(prost_wkt_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                ..Default::default()
            })
        });
        assert_eq!(
            message(plan(&mut rec, &short, HOUR)),
            "A valid retention period is not set on request."
        );
        let two_days = request(|r| {
            r.config = Some(NamespaceConfig {
                workflow_execution_retention_ttl: Some(prost_wkt_types::Duration {
                    seconds: 2 * 86400,
                    nanos: 0,
                }),
                ..Default::default()
            })
        });
        assert!(plan(&mut rec, &two_days, HOUR).unwrap());
        let ttl = rec
            .config
            .unwrap()
            .workflow_execution_retention_ttl
            .unwrap();
        assert_eq!(ttl.seconds, 2 * 86400);
    }

    #[test]
    fn other_clusters_global_namespaces_and_bad_binaries_are_refused() {
        let mut rec = record(NamespaceState::Registered);
        let other = request(|r| {
            r.replication_config = Some(NamespaceReplicationConfig {
                clusters: vec![ClusterReplicationConfig {
                    cluster_name: "other".into(),
                    ..Default::default()
                }],
                ..Default::default()
            })
        });
        assert_eq!(
            message(plan(&mut rec, &other, HOUR)),
            "Invalid cluster name: other"
        );
        let same = request(|r| {
            r.replication_config = Some(NamespaceReplicationConfig {
                active_cluster_name: CLUSTER_NAME.into(),
                ..Default::default()
            })
        });
        assert!(!plan(&mut rec, &same, HOUR).unwrap());
        let handover = request(|r| {
            r.replication_config = Some(NamespaceReplicationConfig {
                state: ReplicationState::Handover as i32,
                ..Default::default()
            })
        });
        assert_eq!(
            message(plan(&mut rec, &handover, HOUR)),
            "Handover can only be set for global namespace"
        );
        let promote = request(|r| r.promote_namespace = true);
        assert!(message(plan(&mut rec, &promote, HOUR)).starts_with("global namespace is not"));
        let delete = request(|r| r.delete_bad_binary = "chk".into());
        assert_eq!(
            message(plan(&mut rec, &delete, HOUR)),
            "Bad binary checksum chk doesn't exists."
        );
        assert_eq!(rec, record(NamespaceState::Registered), "nothing changed");
    }
}
