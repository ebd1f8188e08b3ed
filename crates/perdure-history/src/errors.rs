//! Errors of the history layer. The frontend maps each variant to one gRPC status; this module
//! only classifies, it never formats wire errors.

use perdure_core::CoreError;
use perdure_raft::ProposeError;
use perdure_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The state machine refused the request (not found, invalid argument, already started...).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Disk trouble, including a value that failed its checksum.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored record that passed its checksum but does not decode: a bug or an incompatible
    /// format, reported like corruption.
    #[error("undecodable {what} record: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: prost::DecodeError,
    },
    /// A stored record that decodes but breaks an invariant (e.g. a gap in event ids).
    #[error("malformed {what} record: {detail}")]
    Malformed {
        what: &'static str,
        detail: &'static str,
    },
    /// This node does not lead the shard (or lost leadership mid-request): retry elsewhere/later.
    #[error("shard {shard} is not led by this node")]
    NotLeader { shard: u32 },
    /// Raft could not commit the write; nothing was acknowledged. Boxed: openraft's errors are
    /// hundreds of bytes and would otherwise bloat every `Result` of this crate.
    #[error("write not committed: {0}")]
    Propose(Box<ProposeError>),
    /// The write lost a race with another write to the same record; nothing was applied.
    #[error("concurrent update to the same execution, retry")]
    Conflict,
    #[error("workflow execution not found: {0}")]
    ExecutionNotFound(String),
    #[error("invalid page token")]
    BadPageToken,
    /// A step sent to another node failed (unreachable, refused, or its own error): retried.
    #[error("remote shard: {0}")]
    Remote(String),
    /// The run already has as many queries waiting for its next workflow task as allowed.
    #[error("consistent query buffer is full")]
    QueryBufferFull,
    /// The run already has as many updates waiting for a worker as allowed.
    #[error("limit on number of concurrent in-flight updates has been reached")]
    TooManyUpdates,
    /// A schedule operation refused (see [`ScheduleRefusal`]).
    #[error(transparent)]
    Schedule(#[from] ScheduleRefusal),
    /// A batch operation refused (see [`BatchRefusal`]).
    #[error(transparent)]
    Batch(#[from] BatchRefusal),
}

/// Why a batch operation was refused; worded as Temporal words the same refusal of its batch
/// workflow, and given Temporal's status by the frontend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchRefusal {
    #[error("workflow not found for ID: {0}")]
    NotFound(String),
    /// Stop of a job that is no longer running.
    #[error("workflow execution already completed")]
    Closed,
    /// Start with the id of a running job (only reachable when more than one job may run).
    #[error("Workflow execution is already running. WorkflowId: {job_id}, RunId: {run_id}.")]
    Running { job_id: String, run_id: String },
    /// Start with the id of a closed job (the batch workflow's REJECT_DUPLICATE policy).
    #[error("Workflow execution already finished. WorkflowId: {job_id}, RunId: {run_id}. Workflow Id reuse policy: reject duplicate workflow Id.")]
    Finished { job_id: String, run_id: String },
    /// The driver's view of the job is older than the record.
    #[error("batch job progress moved on")]
    Stale,
}

/// Why a schedule operation was refused; the frontend gives each Temporal's status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleRefusal {
    /// Worded as Temporal's dev server (its workflow-backed scheduler) words it.
    #[error("workflow not found for ID: temporal-sys-scheduler:{0}")]
    NotFound(String),
    /// Another create (different request id) made this schedule id.
    #[error("schedule {0:?} is already registered")]
    AlreadyRegistered(String),
    /// The spec does not compile: the spec's own message ("Invalid schedule spec: ...").
    #[error("{0}")]
    InvalidSpec(String),
}

impl From<ProposeError> for HistoryError {
    fn from(e: ProposeError) -> Self {
        HistoryError::Propose(Box::new(e))
    }
}

impl HistoryError {
    pub(crate) fn decode(what: &'static str) -> impl FnOnce(prost::DecodeError) -> HistoryError {
        move |source| HistoryError::Decode { what, source }
    }

    /// True for failures that are the server's problem and safe for a client to retry.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            HistoryError::NotLeader { .. } | HistoryError::Propose(_) | HistoryError::Conflict
        )
    }
}
