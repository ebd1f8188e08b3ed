//! The one error type of the core. Each variant maps to exactly one gRPC status in the
//! history layer; the messages follow Temporal's wording because SDKs and CLIs show them.

/// Errors returned by state-machine operations.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreError {
    /// gRPC NOT_FOUND (stale task, unknown activity...).
    #[error("{0}")]
    NotFound(String),
    /// gRPC INVALID_ARGUMENT.
    #[error("{0}")]
    InvalidArgument(String),
    /// gRPC FAILED_PRECONDITION (e.g. pausing an activity that is already paused).
    #[error("{0}")]
    FailedPrecondition(String),
    /// Another poller already started this task: the dispatch must be dropped.
    #[error("Task already started.")]
    TaskAlreadyStarted,
    /// gRPC NOT_FOUND "workflow execution already completed".
    #[error("workflow execution already completed")]
    WorkflowCompleted,
    /// gRPC INVALID_ARGUMENT with exactly this message; the SDK handles it quietly.
    #[error("UnhandledCommand")]
    UnhandledCommand,
    /// gRPC FAILED_PRECONDITION with WorkflowNotReadyFailure: the run cannot take this request
    /// yet (a query before its first workflow task, or while its task keeps failing).
    #[error("{0}")]
    WorkflowNotReady(String),
    /// gRPC ALREADY_EXISTS with WorkflowExecutionAlreadyStartedFailure{start_request_id,
    /// run_id, first_execution_run_id}.
    #[error("Workflow execution is already running. WorkflowId: {workflow_id}, RunId: {run_id}.")]
    AlreadyStarted {
        workflow_id: String,
        run_id: String,
        request_id: String,
        first_execution_run_id: String,
    },
}

impl CoreError {
    pub(crate) fn workflow_task_not_found() -> CoreError {
        CoreError::NotFound("Workflow task not found.".to_string())
    }

    /// Temporal's ErrActivityNotFound, for operator commands naming no pending activity.
    pub(crate) fn pending_activity_not_found() -> CoreError {
        CoreError::NotFound(
            "Can't find pending activity with such ID. Invalid activityID or activity already completed"
                .to_string(),
        )
    }

    pub(crate) fn activity_task_not_found() -> CoreError {
        CoreError::NotFound(
            "invalid activityID or activity already timed out or invoking workflow is completed"
                .to_string(),
        )
    }
}
