//! TerminateWorkflowExecution: closes a run at once with WorkflowExecutionTerminated.

use std::sync::Arc;

use perdure_core::{CoreError, HISTORY_SERVICE_IDENTITY};
use temporalio_protos::temporal::api::common::v1::{Payload, Payloads};
use temporalio_protos::temporal::api::workflowservice::v1::TerminateWorkflowExecutionRequest;

use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::shard::Shard;
use crate::HistoryService;

/// The reason Temporal writes when a start with TERMINATE_EXISTING replaces a running run.
const TERMINATE_EXISTING_REASON: &str = "TerminateIfRunning WorkflowIdReusePolicy";

impl HistoryService {
    pub async fn terminate(
        &self,
        namespace_id: &str,
        request: &TerminateWorkflowExecutionRequest,
    ) -> Result<(), HistoryError> {
        let execution = request.workflow_execution.clone().unwrap_or_default();
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, &execution.run_id)
            .await?;
        let shard = self.shard_for(namespace_id, &execution.workflow_id);
        shard
            .mutate(&key, |next, now| {
                Ok((
                    next.terminate(
                        &request.reason,
                        request.details.clone(),
                        &request.identity,
                        now,
                    )?,
                    (),
                ))
            })
            .await
    }

    /// Used by a start with the TerminateExisting policy. Temporal's reason, identity and
    /// details (a JSON string naming the new run), which clients show as the TerminatedError.
    pub(crate) async fn terminate_run(
        &self,
        shard: &Arc<Shard>,
        key: &ExecKey,
        new_run_id: &str,
    ) -> Result<(), HistoryError> {
        // A uuid needs no JSON escaping.
        let details = Payloads {
            payloads: vec![Payload {
                metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
                data: format!("\"terminated by new runID: {new_run_id}\"").into_bytes(),
                ..Default::default()
            }],
        };
        shard
            .mutate(key, |next, now| {
                Ok((
                    next.terminate(
                        TERMINATE_EXISTING_REASON,
                        Some(details.clone()),
                        HISTORY_SERVICE_IDENTITY,
                        now,
                    )?,
                    (),
                ))
            })
            .await
    }

    /// The run a request names: the given run id, or the workflow id's current run.
    pub(crate) async fn resolve_run(
        &self,
        namespace_id: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<ExecKey, HistoryError> {
        if !run_id.is_empty() {
            return Ok(ExecKey::new(namespace_id, workflow_id, run_id));
        }
        let shard = self.shard_for(namespace_id, workflow_id);
        shard.read_barrier().await?;
        match crate::tables::load_current(&shard.store, shard.id, namespace_id, workflow_id)? {
            Some((current, _)) => Ok(ExecKey::new(namespace_id, workflow_id, &current.run_id)),
            // Temporal's wording when a workflow id has no current run.
            None => {
                Err(CoreError::NotFound(format!("workflow not found for ID: {workflow_id}")).into())
            }
        }
    }
}
