//! RespondActivityTaskCompletedById / FailedById / CanceledById: the same outcomes as their
//! token forms (same validation, same limits), for callers that name the activity by workflow
//! and activity id instead (async activity completion).

use temporalio_protos::temporal::api::workflowservice::v1::{
    RespondActivityTaskCanceledByIdRequest, RespondActivityTaskCanceledByIdResponse,
    RespondActivityTaskCanceledRequest, RespondActivityTaskCompletedByIdRequest,
    RespondActivityTaskCompletedByIdResponse, RespondActivityTaskCompletedRequest,
    RespondActivityTaskFailedByIdRequest, RespondActivityTaskFailedByIdResponse,
    RespondActivityTaskFailedRequest,
};
use tonic::Status;

use crate::server::Frontend;

impl Frontend {
    pub(crate) async fn respond_activity_task_completed_by_id(
        &self,
        req: RespondActivityTaskCompletedByIdRequest,
    ) -> Result<RespondActivityTaskCompletedByIdResponse, Status> {
        let token = self
            .activity_token_by_id(&req.namespace, req.workflow_id, req.run_id, req.activity_id)
            .await?;
        self.respond_activity_task_completed(RespondActivityTaskCompletedRequest {
            namespace: req.namespace,
            task_token: token.encode(),
            result: req.result,
            identity: req.identity,
            ..Default::default()
        })
        .await?;
        Ok(RespondActivityTaskCompletedByIdResponse::default())
    }

    pub(crate) async fn respond_activity_task_failed_by_id(
        &self,
        req: RespondActivityTaskFailedByIdRequest,
    ) -> Result<RespondActivityTaskFailedByIdResponse, Status> {
        let token = self
            .activity_token_by_id(&req.namespace, req.workflow_id, req.run_id, req.activity_id)
            .await?;
        self.respond_activity_task_failed(RespondActivityTaskFailedRequest {
            namespace: req.namespace,
            task_token: token.encode(),
            failure: req.failure,
            identity: req.identity,
            last_heartbeat_details: req.last_heartbeat_details,
            ..Default::default()
        })
        .await?;
        Ok(RespondActivityTaskFailedByIdResponse::default())
    }

    pub(crate) async fn respond_activity_task_canceled_by_id(
        &self,
        req: RespondActivityTaskCanceledByIdRequest,
    ) -> Result<RespondActivityTaskCanceledByIdResponse, Status> {
        let token = self
            .activity_token_by_id(&req.namespace, req.workflow_id, req.run_id, req.activity_id)
            .await?;
        self.respond_activity_task_canceled(RespondActivityTaskCanceledRequest {
            namespace: req.namespace,
            task_token: token.encode(),
            details: req.details,
            identity: req.identity,
            ..Default::default()
        })
        .await?;
        Ok(RespondActivityTaskCanceledByIdResponse::default())
    }
}
