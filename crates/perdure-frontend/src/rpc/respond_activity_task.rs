//! RespondActivityTaskCompleted, RespondActivityTaskFailed and RespondActivityTaskCanceled. Oversized payloads are not
//! rejected, as in Temporal: a too-large result fails the activity (non-retryable), a too-large
//! failure or heartbeat is replaced by a server failure saying so.

use perdure_core::limits::{
    FAILURE_REASON_COMPLETE_RESULT_EXCEEDS_LIMIT, FAILURE_REASON_HEARTBEAT_EXCEEDS_LIMIT,
};
use temporalio_protos::temporal::api::workflowservice::v1::{
    RespondActivityTaskCanceledRequest, RespondActivityTaskCanceledResponse,
    RespondActivityTaskCompletedRequest, RespondActivityTaskCompletedResponse,
    RespondActivityTaskFailedRequest, RespondActivityTaskFailedResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn respond_activity_task_completed(
        &self,
        req: RespondActivityTaskCompletedRequest,
    ) -> Result<RespondActivityTaskCompletedResponse, Status> {
        let (token, _) = self.token_in(&req.task_token, &req.namespace)?;
        validate::identity(&req.identity)?;
        if !token.is_activity() {
            return Err(errors::invalid("Task token is not for an activity task."));
        }
        if !validate::blob_fits(req.result.as_ref()) {
            let failed = RespondActivityTaskFailedRequest {
                namespace: req.namespace.clone(),
                task_token: req.task_token.clone(),
                failure: Some(validate::server_failure(
                    FAILURE_REASON_COMPLETE_RESULT_EXCEEDS_LIMIT,
                )),
                identity: req.identity.clone(),
                ..Default::default()
            };
            tracing::warn!(
                workflow_id = %token.workflow_id,
                "activity result exceeds the blob size limit; failing the activity"
            );
            self.history
                .respond_activity_task_failed(&token, &failed)
                .await
                .map_err(errors::history)?;
            return Ok(RespondActivityTaskCompletedResponse::default());
        }
        self.history
            .respond_activity_task_completed(&token, &req)
            .await
            .map_err(errors::history)?;
        Ok(RespondActivityTaskCompletedResponse::default())
    }

    pub(crate) async fn respond_activity_task_failed(
        &self,
        mut req: RespondActivityTaskFailedRequest,
    ) -> Result<RespondActivityTaskFailedResponse, Status> {
        let (token, _) = self.token_in(&req.task_token, &req.namespace)?;
        validate::activity_failure(req.failure.as_ref())?;
        validate::identity(&req.identity)?;
        if !token.is_activity() {
            return Err(errors::invalid("Task token is not for an activity task."));
        }
        // The worker learns what the server recorded instead of what it sent.
        let mut response = RespondActivityTaskFailedResponse::default();
        if req.last_heartbeat_details.is_some()
            && !validate::blob_fits(req.last_heartbeat_details.as_ref())
        {
            response.failures.push(validate::server_failure(
                FAILURE_REASON_HEARTBEAT_EXCEEDS_LIMIT,
            ));
            req.last_heartbeat_details = None;
        }
        if let Some(replacement) = validate::replace_oversized_failure(req.failure.as_ref()) {
            response.failures.push(replacement.clone());
            req.failure = Some(replacement);
        }
        self.history
            .respond_activity_task_failed(&token, &req)
            .await
            .map_err(errors::history)?;
        Ok(response)
    }

    pub(crate) async fn respond_activity_task_canceled(
        &self,
        req: RespondActivityTaskCanceledRequest,
    ) -> Result<RespondActivityTaskCanceledResponse, Status> {
        let (token, _) = self.token_in(&req.task_token, &req.namespace)?;
        validate::identity(&req.identity)?;
        if !token.is_activity() {
            return Err(errors::invalid("Task token is not for an activity task."));
        }
        validate::blob(req.details.as_ref())?;
        self.history
            .respond_activity_task_canceled(&token, &req)
            .await
            .map_err(errors::history)?;
        Ok(RespondActivityTaskCanceledResponse::default())
    }
}
