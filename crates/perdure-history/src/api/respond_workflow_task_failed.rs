//! RespondWorkflowTaskFailed: the worker could not run the task (e.g. a nondeterminism error).
//! The core decides which events exist (only the first attempt's failure is written) and
//! schedules the retry.

use perdure_core::TaskToken;
use temporalio_protos::temporal::api::workflowservice::v1::RespondWorkflowTaskFailedRequest;

use crate::api::token_key;
use crate::errors::HistoryError;
use crate::HistoryService;

impl HistoryService {
    pub async fn respond_workflow_task_failed(
        &self,
        token: &TaskToken,
        request: &RespondWorkflowTaskFailedRequest,
    ) -> Result<(), HistoryError> {
        let key = token_key(token);
        let shard = self.shard_for(&key.namespace_id, &key.workflow_id);
        shard
            .mutate(&key, |next, now| {
                let mutation = next.fail_workflow_task(
                    token,
                    request.cause,
                    request.failure.clone(),
                    &request.identity,
                    now,
                )?;
                Ok((mutation, ()))
            })
            .await
    }
}
