//! The namespace registry, replicated in the meta group (group 0).
//!
//! Namespaces are written through Raft like everything else and read from the applied state.
//! A small in-memory map caches lookups by name because every RPC resolves one. An entry
//! remembers the meta group's applied index it was read at and is used only while that index
//! has not moved, so an update made through any node is seen by every node as soon as its
//! replica has applied it (Temporal's registry refreshes every few seconds instead).
//!
//! Updates are compare-and-set on the stored record (`update`); what an update may change is
//! decided in `rpc/update_namespace.rs`, never here.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use perdure_raft::Group;
use perdure_storage::{keys, ApplyOutcome, Cf, Check, Expect, Op, Store, WriteBatch};
use prost::Message;
use temporalio_protos::temporal::api::enums::v1::NamespaceState;
use temporalio_protos::temporal::api::namespace::v1::{NamespaceConfig, NamespaceInfo};
use tokio::sync::Mutex;
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

/// The states most calls accept (Temporal's default): a deleted namespace answers only
/// DescribeNamespace.
pub(crate) const USABLE: &[NamespaceState] =
    &[NamespaceState::Registered, NamespaceState::Deprecated];
/// The states that take new runs (StartWorkflowExecution, SignalWithStart).
pub(crate) const STARTABLE: &[NamespaceState] = &[NamespaceState::Registered];

/// Compare-and-set attempts before an update under contention gives up (Unavailable).
const CAS_ATTEMPTS: usize = 5;

impl NamespaceRecord {
    pub fn state(&self) -> NamespaceState {
        self.info
            .as_ref()
            .and_then(|i| NamespaceState::try_from(i.state).ok())
            .unwrap_or(NamespaceState::Registered)
    }

    /// FailedPrecondition (NamespaceInvalidState) unless the namespace is in one of `allowed`.
    pub(crate) fn require(&self, allowed: &[NamespaceState]) -> Result<(), Status> {
        let state = self.state();
        if allowed.contains(&state) {
            return Ok(());
        }
        Err(errors::namespace_invalid_state(self.name(), state, allowed))
    }
}

pub struct Namespaces {
    store: Store,
    meta: Arc<Group>,
    /// Name -> (meta applied index when read, record).
    by_name: RwLock<HashMap<String, (Option<u64>, NamespaceRecord)>>,
    /// Serializes this node's namespace updates (they are made on the meta leader).
    update_lock: Mutex<()>,
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
            update_lock: Mutex::new(()),
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

    /// The meta group's last applied index on this node (None before the first apply).
    pub(crate) fn meta_applied(&self) -> Option<u64> {
        self.meta
            .raft()
            .metrics()
            .borrow()
            .last_applied
            .as_ref()
            .map(|l| l.index)
    }

    /// Resolves a namespace by name for a call, answering NamespaceNotFound as Temporal does,
    /// and NamespaceInvalidState for a deleted namespace.
    pub fn get(&self, name: &str) -> Result<NamespaceRecord, Status> {
        let record = self.lookup(name)?;
        record.require(USABLE)?;
        Ok(record)
    }

    /// Resolves a namespace by name whatever its state (DescribeNamespace, start-up).
    pub fn lookup(&self, name: &str) -> Result<NamespaceRecord, Status> {
        if name.is_empty() {
            return Err(errors::invalid("Namespace not set on request."));
        }
        let applied = self.meta_applied();
        if let Some((at, r)) = self
            .by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            if *at == applied && applied.is_some() {
                return Ok(r.clone());
            }
        }
        // Read after taking the index: what we cache is at least as new as the index says.
        let record = self
            .read(name)?
            .ok_or_else(|| errors::namespace_not_found(name))?
            .1;
        self.by_name
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), (applied, record.clone()));
        Ok(record)
    }

    /// The stored bytes of `name`'s record and what they hold, from this node's replica.
    fn read(&self, name: &str) -> Result<Option<(Vec<u8>, NamespaceRecord)>, Status> {
        let Some(bytes) = self
            .store
            .get(Cf::Namespaces, &keys::namespace_by_name(name))
            .map_err(errors::storage)?
        else {
            return Ok(None);
        };
        let record = NamespaceRecord::decode(bytes.as_slice())
            .map_err(|e| Status::data_loss(format!("undecodable namespace record: {e}")))?;
        Ok(Some((bytes, record)))
    }

    /// Applies `change` to `name`'s record on the meta leader and returns the stored result;
    /// `change` answers false when there is nothing to write. Retries when another write got
    /// there first, so concurrent updates never lose one another.
    pub(crate) async fn update(
        &self,
        name: &str,
        change: impl Fn(&mut NamespaceRecord) -> Result<bool, Status>,
    ) -> Result<NamespaceRecord, Status> {
        let _one_at_a_time = self.update_lock.lock().await;
        for _ in 0..CAS_ATTEMPTS {
            let (bytes, mut record) = self
                .read(name)?
                .ok_or_else(|| errors::namespace_not_found(name))?;
            if !change(&mut record)? {
                return Ok(record);
            }
            let key = keys::namespace_by_name(name);
            let batch = WriteBatch {
                checks: vec![Check {
                    cf: Cf::Namespaces,
                    key: key.clone(),
                    expect: Expect::Equals(bytes),
                }],
                ops: vec![Op::Put {
                    cf: Cf::Namespaces,
                    key,
                    value: record.encode_to_vec(),
                }],
            };
            match self.meta.propose(batch).await {
                Ok(ApplyOutcome::Applied) => return Ok(record),
                Ok(ApplyOutcome::Rejected { .. }) => continue,
                Err(e) => return Err(Status::unavailable(e.to_string())),
            }
        }
        Err(Status::unavailable(
            "the namespace kept changing under this update; try again",
        ))
    }

    /// After an update the meta leader made for us: waits until this node's replica shows
    /// `name` as `done` says, so this node's next answer already sees it. Gives up after a
    /// few seconds (a lagging replica catches up on its own; the write is committed anyway).
    pub(crate) async fn wait_record_applied(
        &self,
        name: &str,
        done: impl Fn(&NamespaceRecord) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline {
            if matches!(self.read(name), Ok(Some((_, r))) if done(&r)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn get_by_id(&self, id: &str) -> Result<NamespaceRecord, Status> {
        let name = self
            .store
            .get(Cf::Namespaces, &keys::namespace_by_id(id))
            .map_err(errors::storage)?
            .ok_or_else(|| errors::namespace_not_found(id))?;
        let name = String::from_utf8(name)
            .map_err(|_| Status::data_loss("namespace id index holds a non-UTF-8 name"))?;
        self.lookup(&name)
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
        if self.lookup(name).is_ok() {
            return Ok(());
        }
        match self.register(name, "", "", None, HashMap::new()).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::AlreadyExists => Ok(()),
            Err(s) => Err(s),
        }
    }
}
