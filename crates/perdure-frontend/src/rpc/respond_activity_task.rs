//! RespondActivityTaskCompleted and RespondActivityTaskFailed.

use temporalio_protos::temporal::api::workflowservice::v1::{
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
        validate::blob(req.result.as_ref())?;
        if !token.is_activity() {
            return Err(errors::invalid("Task token is not for an activity task."));
        }
        self.history
            .respond_activity_task_completed(&token, &req)
            .await
            .map_err(errors::history)?;
        Ok(RespondActivityTaskCompletedResponse::default())
    }

    pub(crate) async fn respond_activity_task_failed(
        &self,
        req: RespondActivityTaskFailedRequest,
    ) -> Result<RespondActivityTaskFailedResponse, Status> {
        let (token, _) = self.token_in(&req.task_token, &req.namespace)?;
        validate::identity(&req.identity)?;
        validate::blob(req.last_heartbeat_details.as_ref())?;
        if !token.is_activity() {
            return Err(errors::invalid("Task token is not for an activity task."));
        }
        self.history
            .respond_activity_task_failed(&token, &req)
            .await
            .map_err(errors::history)?;
        Ok(RespondActivityTaskFailedResponse::default())
    }
}
