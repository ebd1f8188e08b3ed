//! A namespace's custom search attributes: registered in the meta group (group 0) next to the
//! namespace record (`keys::namespace_search_attributes`, by namespace id), read from this
//! node's applied meta state and cached per namespace.
//!
//! The cache entry remembers the meta group's applied index it was read at and is used only
//! while that index has not moved, so a node never answers from a registration older than its
//! own replica: an Add/Remove this node proposed (it was the meta leader) is applied here
//! before it returns, and one forwarded to the leader waits until this node has applied it
//! (`wait_applied`). Writes run one at a time on the meta leader and are compare-and-set on
//! the stored bytes, so concurrent Adds (through any node, or across a leader change) never
//! lose one another. This module must never decide what may be
//! registered (`rules.rs`) nor how a value is checked (`payloads.rs`).

pub(crate) mod payloads;
pub(crate) mod rules;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use perdure_storage::{keys, ApplyOutcome, Cf, Check, Expect, Op, WriteBatch};
use perdure_visibility::{IndexedValueType, SearchAttributes};
use prost::Message;
use tonic::Status;

use crate::errors;
use crate::namespaces::Namespaces;
use rules::Custom;

/// What the meta group stores per namespace.
#[derive(Clone, PartialEq, Message)]
pub struct CustomSearchAttributesRecord {
    /// Name -> `IndexedValueType` number.
    #[prost(btree_map = "string, int32", tag = "1")]
    pub types: std::collections::BTreeMap<String, i32>,
}

/// Compare-and-set attempts before a write under contention gives up (Unavailable).
const CAS_ATTEMPTS: usize = 5;
/// How long a node that forwarded a write waits to apply it itself.
const APPLY_WAIT: Duration = Duration::from_secs(5);

/// Serializes this node's registry writes.
pub(crate) type WriteLock = tokio::sync::Mutex<()>;

/// The cache: namespace id -> (meta applied index when read, attributes).
pub(crate) type Cache = std::sync::RwLock<HashMap<String, (Option<u64>, Arc<SearchAttributes>)>>;

impl Namespaces {
    /// The stored bytes (None: nothing registered) and what they hold.
    fn read_custom(&self, namespace_id: &str) -> Result<(Option<Vec<u8>>, Custom), Status> {
        let bytes = self
            .store()
            .get(
                Cf::Namespaces,
                &keys::namespace_search_attributes(namespace_id),
            )
            .map_err(errors::storage)?;
        let custom = match &bytes {
            None => Custom::new(),
            Some(b) => CustomSearchAttributesRecord::decode(b.as_slice())
                .map_err(|e| Status::data_loss(format!("undecodable search attributes: {e}")))?
                .types
                .into_iter()
                .filter_map(|(n, t)| Some((n, IndexedValueType::from_proto(t)?)))
                .collect(),
        };
        Ok((bytes, custom))
    }

    /// Every attribute `namespace_id`'s queries and writes may name, as this node's replica of
    /// the meta group has them now.
    pub(crate) fn search_attributes(
        &self,
        namespace_id: &str,
    ) -> Result<Arc<SearchAttributes>, Status> {
        let applied = self.meta_applied();
        if let Some((at, attrs)) = self
            .sa_cache()
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(namespace_id)
        {
            if *at == applied && applied.is_some() {
                return Ok(attrs.clone());
            }
        }
        // Read after taking the index: what we cache is at least as new as the index says.
        let (_, custom) = self.read_custom(namespace_id)?;
        let attrs = Arc::new(SearchAttributes::with_custom(custom));
        self.sa_cache()
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(namespace_id.to_string(), (applied, attrs.clone()));
        Ok(attrs)
    }

    /// Applies `plan` (the new registration from the current one, None: nothing to change)
    /// on the meta leader, retrying when another write got there first.
    pub(crate) async fn update_search_attributes(
        &self,
        namespace_id: &str,
        plan: impl Fn(&Custom) -> Result<Option<Custom>, Status>,
    ) -> Result<(), Status> {
        // One write at a time on this node (every write is made by the meta leader), so
        // concurrent Adds queue instead of failing their compare-and-set; the check still
        // guards against a write made under an earlier leader.
        let _one_at_a_time = self.sa_write().lock().await;
        for _ in 0..CAS_ATTEMPTS {
            let (bytes, current) = self.read_custom(namespace_id)?;
            let Some(next) = plan(&current)? else {
                return Ok(());
            };
            let key = keys::namespace_search_attributes(namespace_id);
            let record = CustomSearchAttributesRecord {
                types: next
                    .iter()
                    .map(|(n, t)| (n.clone(), t.to_proto()))
                    .collect(),
            };
            let batch = WriteBatch {
                checks: vec![Check {
                    cf: Cf::Namespaces,
                    key: key.clone(),
                    expect: match bytes {
                        None => Expect::Absent,
                        Some(b) => Expect::Equals(b),
                    },
                }],
                ops: vec![Op::Put {
                    cf: Cf::Namespaces,
                    key,
                    value: record.encode_to_vec(),
                }],
            };
            match self.meta().propose(batch).await {
                Ok(ApplyOutcome::Applied) => return Ok(()),
                Ok(ApplyOutcome::Rejected { .. }) => continue,
                Err(e) => return Err(Status::unavailable(e.to_string())),
            }
        }
        Err(Status::unavailable(
            "Generated search attributes mapping unavailable.",
        ))
    }

    /// Checks the search attributes a start sets (unregistered names, wrong types, sizes: see
    /// `payloads::check`) and types their payloads; InvalidArgument as Temporal answers.
    pub(crate) fn check_search_attributes(
        &self,
        namespace: &crate::namespaces::NamespaceRecord,
        sa: &mut Option<temporalio_protos::temporal::api::common::v1::SearchAttributes>,
    ) -> Result<(), Status> {
        let Some(sa) = sa.as_mut().filter(|s| !s.indexed_fields.is_empty()) else {
            return Ok(());
        };
        let attrs = self.search_attributes(namespace.id())?;
        payloads::check(&attrs, namespace.name(), sa).map_err(|e| errors::invalid(e.to_string()))
    }

    /// Checks the search attributes of a workflow task's commands that set them (upsert, child
    /// start, continue-as-new) and types those that pass; the refused ones, by command index,
    /// fail the task in the core (BadSearchAttributes). A child in another namespace is
    /// checked against that namespace's registry.
    #[allow(deprecated)] // A child's namespace is deprecated in the proto, still honoured.
    pub(crate) fn check_command_search_attributes(
        &self,
        namespace: &crate::namespaces::NamespaceRecord,
        commands: &mut [temporalio_protos::temporal::api::command::v1::Command],
    ) -> Result<perdure_core::BadSearchAttributes, Status> {
        use temporalio_protos::temporal::api::command::v1::command::Attributes as A;
        let mut bad = perdure_core::BadSearchAttributes::new();
        for (i, c) in commands.iter_mut().enumerate() {
            // What Temporal appends to a refused value of a child start or continue-as-new.
            let (target, context, sa) = match c.attributes.as_mut() {
                Some(A::UpsertWorkflowSearchAttributesCommandAttributes(a)) => {
                    (None, None, &mut a.search_attributes)
                }
                Some(A::ContinueAsNewWorkflowExecutionCommandAttributes(a)) => {
                    let context = format!(
                        "ContinueAsNewWorkflowExecutionCommand: {{}}. WorkflowType={} TaskQueue=name:\"{}\"  kind:TASK_QUEUE_KIND_NORMAL",
                        a.workflow_type
                            .as_ref()
                            .map(|t| t.name.as_str())
                            .filter(|t| !t.is_empty())
                            .unwrap_or(perdure_core::RUN_WORKFLOW_TYPE),
                        a.task_queue
                            .as_ref()
                            .map(|q| q.name.as_str())
                            .filter(|q| !q.is_empty())
                            .unwrap_or(perdure_core::RUN_TASK_QUEUE),
                    );
                    (None, Some(context), &mut a.search_attributes)
                }
                Some(A::StartChildWorkflowExecutionCommandAttributes(a)) => {
                    let context = format!(
                        "StartChildWorkflowCommand: {{}}. WorkflowId={} WorkflowType={} Namespace={}",
                        a.workflow_id,
                        a.workflow_type.as_ref().map_or("", |t| t.name.as_str()),
                        a.namespace,
                    );
                    (
                        Some(a.namespace.clone())
                            .filter(|n| !n.is_empty() && n != namespace.name()),
                        Some(context),
                        &mut a.search_attributes,
                    )
                }
                _ => continue,
            };
            let Some(sa) = sa.as_mut().filter(|s| !s.indexed_fields.is_empty()) else {
                continue;
            };
            let other;
            let ns = match target {
                None => namespace,
                Some(name) => match self.get(&name) {
                    Ok(r) => {
                        other = r;
                        &other
                    }
                    // The core refuses a child in an unknown namespace itself.
                    Err(_) => continue,
                },
            };
            let attrs = self.search_attributes(ns.id())?;
            match (payloads::check(&attrs, ns.name(), sa), context) {
                (Ok(()), _) => {}
                (Err(payloads::Refused::Invalid(m)), Some(context)) => {
                    let wrapped = format!(
                        "invalid SearchAttributes on {}",
                        context.replacen("{}", &m, 1)
                    );
                    bad.insert(i, wrapped);
                }
                (Err(e), _) => {
                    bad.insert(i, e.to_string());
                }
            }
        }
        Ok(bad)
    }

    /// After a write the meta leader made for us: waits until this node's replica shows it
    /// (`done` holds), so this node's next answer already sees it. Gives up after a few
    /// seconds (a lagging replica catches up on its own; the write is committed anyway).
    pub(crate) async fn wait_applied(&self, namespace_id: &str, done: impl Fn(&Custom) -> bool) {
        let deadline = tokio::time::Instant::now() + APPLY_WAIT;
        while tokio::time::Instant::now() < deadline {
            if self
                .read_custom(namespace_id)
                .map(|(_, c)| done(&c))
                .unwrap_or(false)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
