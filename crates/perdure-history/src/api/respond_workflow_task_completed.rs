//! RespondWorkflowTaskCompleted: the worker's commands become history. A completion the core
//! rejects (malformed command attributes, UnhandledCommand) still writes what the core decided
//! (the failed task and its retry) before the rejection is returned to the worker. A
//! FailWorkflowExecution the retry policy retries also creates the next run in the same write.
//! Query answers the task carries go to their waiting callers (`crate::queries`).

use perdure_core::{BadSearchAttributes, TaskToken};
use temporalio_protos::temporal::api::workflowservice::v1::{
    RespondWorkflowTaskCompletedRequest, RespondWorkflowTaskCompletedResponse,
};

use crate::api::token_key;
use crate::errors::HistoryError;
use crate::HistoryService;

impl HistoryService {
    pub async fn respond_workflow_task_completed(
        &self,
        token: &TaskToken,
        request: &RespondWorkflowTaskCompletedRequest,
    ) -> Result<RespondWorkflowTaskCompletedResponse, HistoryError> {
        self.respond_workflow_task_completed_checked(token, request, &BadSearchAttributes::new())
            .await
    }

    /// With the commands whose search attributes the namespace refuses (the frontend checks
    /// them against the registry): the core fails the task when it reaches one.
    pub async fn respond_workflow_task_completed_checked(
        &self,
        token: &TaskToken,
        request: &RespondWorkflowTaskCompletedRequest,
        bad: &BadSearchAttributes,
    ) -> Result<RespondWorkflowTaskCompletedResponse, HistoryError> {
        let key = token_key(token);
        let shard = self.shard_for(&key.namespace_id, &key.workflow_id);
        // Answers to the queries this task carried hold whatever becomes of the commands: the
        // worker answered from the state the task showed it, which came after the queries.
        shard.queries.answer(&key, &request.query_results);
        // Used only if a FailWorkflowExecution command starts a retry.
        let next_run = shard.new_run_ids();
        let (rejection, reset_history_event_id) = shard
            .mutate(&key, |next, now| {
                // Read under the run's lock: no update can be admitted or delivered meanwhile.
                let pending = shard.updates.pending(&key);
                let done = next.complete_workflow_task_checked(
                    token, request, now, &next_run, &pending, bad,
                )?;
                Ok((done.mutation, (done.rejection, done.reset_history_event_id)))
            })
            .await?;
        match rejection {
            Some(e) => Err(e.into()),
            None => Ok(RespondWorkflowTaskCompletedResponse {
                reset_history_event_id,
                ..Default::default()
            }),
        }
    }
}
