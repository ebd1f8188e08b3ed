//! The namespace registry, replicated in the meta group (group 0).
//!
//! Namespaces are written through Raft like everything else and read from the applied state.
//! A small in-memory map caches lookups by name and id because every RPC resolves one; the
//! cache is filled on read and on this node's own registrations.
//! TODO(multi-node): another node's registration is seen here only after a cache miss.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use perdure_raft::Group;
use perdure_storage::{keys, ApplyOutcome, Cf, Check, Expect, Op, Store, WriteBatch};
use prost::Message;
use temporalio_protos::temporal::api::enums::v1::NamespaceState;
use temporalio_protos::temporal::api::namespace::v1::{NamespaceConfig, NamespaceInfo};
use tonic::Status;

use crate::errors;

/// The retention of a namespace created without one (only `default`, at startup: the RPC
/// requires one). The same value the core assumes for runs that predate per-run retention.
pub const DEFAULT_RETENTION: Duration = perdure_core::DEFAULT_RETENTION;
/// Temporal rejects namespace names longer than this.
pub const MAX_NAME_LEN: usize = 1000;

/// What the registry stores per namespace.
#[derive(Clone, PartialEq, Message)]
pub struct NamespaceRecord {
    #[prost(message, optional, tag = "1")]
    pub info: Option<NamespaceInfo>,
    #[prost(message, optional, tag = "2")]
    pub config: Option<NamespaceConfig>,
}

impl NamespaceRecord {
    pub fn id(&self) -> &str {
        self.info.as_ref().map_or("", |i| i.id.as_str())
    }
    pub fn name(&self) -> &str {
        self.info.as_ref().map_or("", |i| i.name.as_str())
    }
}

/// Temporal checks a new namespace's name before anything else in the request.
pub(crate) fn validate_name(name: &str) -> Result<(), Status> {
    if name.is_empty() {
        return Err(errors::invalid("Namespace not set on request."));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(errors::invalid("Namespace length exceeds limit."));
    }
    Ok(())
}

pub struct Namespaces {
    store: Store,
    meta: Arc<Group>,
    by_name: RwLock<HashMap<String, NamespaceRecord>>,
    /// Custom search attributes per namespace id (`crate::search_attributes`).
    sa_cache: crate::search_attributes::Cache,
    sa_write: crate::search_attributes::WriteLock,
    /// The lowest retention RegisterNamespace accepts (see `crate::retention`).
    min_retention: Duration,
}

impl Namespaces {
    /// The retention floor is Temporal's one hour unless `PERDURE_MIN_NAMESPACE_RETENTION_SECS`
    /// lowers it (tests only).
    pub fn new(store: Store, meta: Arc<Group>) -> Self {
        Self {
            store,
            meta,
            by_name: RwLock::new(HashMap::new()),
            sa_cache: Default::default(),
            sa_write: Default::default(),
            min_retention: crate::retention::min_retention_from_env(),
        }
    }

    /// This node's store (meta group state included: the cluster registry and id).
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn meta(&self) -> &Group {
        &self.meta
    }

    pub(crate) fn sa_cache(&self) -> &crate::search_attributes::Cache {
        &self.sa_cache
    }

    pub(crate) fn sa_write(&self) -> &crate::search_attributes::WriteLock {
        &self.sa_write
    }

    pub fn min_retention(&self) -> Duration {
        self.min_retention
    }

    /// Resolves a namespace by name, answering NamespaceNotFound as Temporal does.
    pub fn get(&self, name: &str) -> Result<NamespaceRecord, Status> {
        if name.is_empty() {
            return Err(errors::invalid("Namespace not set on request."));
        }
        if let Some(r) = self
            .by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(r.clone());
        }
        let bytes = self
            .store
            .get(Cf::Namespaces, &keys::namespace_by_name(name))
            .map_err(errors::storage)?
            .ok_or_else(|| errors::namespace_not_found(name))?;
        let record = NamespaceRecord::decode(bytes.as_slice())
            .map_err(|e| Status::data_loss(format!("undecodable namespace record: {e}")))?;
        self.by_name
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), record.clone());
        Ok(record)
    }

    pub fn get_by_id(&self, id: &str) -> Result<NamespaceRecord, Status> {
        let name = self
            .store
            .get(Cf::Namespaces, &keys::namespace_by_id(id))
            .map_err(errors::storage)?
            .ok_or_else(|| errors::namespace_not_found(id))?;
        let name = String::from_utf8(name)
            .map_err(|_| Status::data_loss("namespace id index holds a non-UTF-8 name"))?;
        self.get(&name)
    }

    pub fn list(&self) -> Result<Vec<NamespaceRecord>, Status> {
        let rows = self
            .store
            .scan_prefix(
                Cf::Namespaces,
                &keys::namespace_by_name_prefix(),
                None,
                usize::MAX,
            )
            .map_err(errors::storage)?;
        rows.into_iter()
            .map(|(_, v)| {
                NamespaceRecord::decode(v.as_slice())
                    .map_err(|e| Status::data_loss(format!("undecodable namespace record: {e}")))
            })
            .collect()
    }

    /// Registers a namespace; AlreadyExists if the name is taken. `retention` is stored as
    /// given (the RPC validates it first); `None` means [`DEFAULT_RETENTION`].
    pub async fn register(
        &self,
        name: &str,
        description: &str,
        owner_email: &str,
        retention: Option<prost_wkt_types::Duration>,
        data: HashMap<String, String>,
    ) -> Result<NamespaceRecord, Status> {
        validate_name(name)?;
        let record = NamespaceRecord {
            info: Some(NamespaceInfo {
                name: name.to_string(),
                state: NamespaceState::Registered as i32,
                description: description.to_string(),
                owner_email: owner_email.to_string(),
                data,
                id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            }),
            config: Some(NamespaceConfig {
                workflow_execution_retention_ttl: Some(retention.unwrap_or(
                    prost_wkt_types::Duration {
                        seconds: DEFAULT_RETENTION.as_secs() as i64,
                        nanos: 0,
                    },
                )),
                ..Default::default()
            }),
        };
        let by_name = keys::namespace_by_name(name);
        let batch = WriteBatch {
            checks: vec![Check {
                cf: Cf::Namespaces,
                key: by_name.clone(),
                expect: Expect::Absent,
            }],
            ops: vec![
                Op::Put {
                    cf: Cf::Namespaces,
                    key: by_name,
                    value: record.encode_to_vec(),
                },
                Op::Put {
                    cf: Cf::Namespaces,
                    key: keys::namespace_by_id(record.id()),
                    value: name.as_bytes().to_vec(),
                },
            ],
        };
        match self.meta.propose(batch).await {
            Ok(ApplyOutcome::Applied) => Ok(record),
            Ok(ApplyOutcome::Rejected { .. }) => Err(errors::namespace_already_exists()),
            Err(e) => Err(Status::unavailable(e.to_string())),
        }
    }

    /// Makes sure `name` exists (used at start for `default`).
    pub async fn ensure(&self, name: &str) -> Result<(), Status> {
        if self.get(name).is_ok() {
            return Ok(());
        }
        match self.register(name, "", "", None, HashMap::new()).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::AlreadyExists => Ok(()),
            Err(s) => Err(s),
        }
    }
}
