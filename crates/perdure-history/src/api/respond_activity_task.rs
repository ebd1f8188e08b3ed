//! RespondActivityTaskCompleted / Failed / Canceled: the outcome of one attempt. The core
//! decides between a server-side retry (no history) and the final outcome.

use perdure_core::TaskToken;
use temporalio_protos::temporal::api::workflowservice::v1::{
    RespondActivityTaskCanceledRequest, RespondActivityTaskCompletedRequest,
    RespondActivityTaskFailedRequest,
};

use crate::api::token_key;
use crate::errors::HistoryError;
use crate::HistoryService;

impl HistoryService {
    pub async fn respond_activity_task_completed(
        &self,
        token: &TaskToken,
        request: &RespondActivityTaskCompletedRequest,
    ) -> Result<(), HistoryError> {
        let key = token_key(token);
        let shard = self.shard_for(&key.namespace_id, &key.workflow_id);
        shard
            .mutate(&key, |next, now| {
                let result = request.result.clone();
                Ok((
                    next.complete_activity(token, result, &request.identity, now)?,
                    (),
                ))
            })
            .await
    }

    pub async fn respond_activity_task_failed(
        &self,
        token: &TaskToken,
        request: &RespondActivityTaskFailedRequest,
    ) -> Result<(), HistoryError> {
        let key = token_key(token);
        let shard = self.shard_for(&key.namespace_id, &key.workflow_id);
        shard
            .mutate(&key, |next, now| {
                let mutation = next.fail_activity(
                    token,
                    request.failure.clone(),
                    request.last_heartbeat_details.clone(),
                    &request.identity,
                    now,
                )?;
                Ok((mutation, ()))
            })
            .await
    }

    pub async fn respond_activity_task_canceled(
        &self,
        token: &TaskToken,
        request: &RespondActivityTaskCanceledRequest,
    ) -> Result<(), HistoryError> {
        let key = token_key(token);
        let shard = self.shard_for(&key.namespace_id, &key.workflow_id);
        shard
            .mutate(&key, |next, now| {
                let details = request.details.clone();
                Ok((
                    next.cancel_activity(token, details, &request.identity, now)?,
                    (),
                ))
            })
            .await
    }
}
