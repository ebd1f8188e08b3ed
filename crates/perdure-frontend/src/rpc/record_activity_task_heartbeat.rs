//! RecordActivityTaskHeartbeat and RecordActivityTaskHeartbeatById. The ById form names the
//! activity by (workflow id, run id, activity id); it is turned into a token without a
//! scheduled event id, which history resolves to the pending activity with that id.
//!
//! As in Temporal, oversized details are not rejected: the activity is failed (non-retryable
//! server failure) and the worker is told `cancel_requested` so it stops. This module validates
//! and forwards; it never decides whether the activity still exists.

use perdure_core::limits::FAILURE_REASON_HEARTBEAT_EXCEEDS_LIMIT;
use perdure_core::{TaskKind, TaskToken};
use temporalio_protos::temporal::api::common::v1::Payloads;
use temporalio_protos::temporal::api::workflowservice::v1::{
    RecordActivityTaskHeartbeatByIdRequest, RecordActivityTaskHeartbeatByIdResponse,
    RecordActivityTaskHeartbeatRequest, RecordActivityTaskHeartbeatResponse,
    RespondActivityTaskFailedRequest,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn record_activity_task_heartbeat(
        &self,
        req: RecordActivityTaskHeartbeatRequest,
    ) -> Result<RecordActivityTaskHeartbeatResponse, Status> {
        let (token, _) = self.token_in(&req.task_token, &req.namespace)?;
        if !token.is_activity() {
            return Err(errors::invalid("Task token is not for an activity task."));
        }
        self.heartbeat(token, req.details, &req.identity, &req.namespace)
            .await
    }

    pub(crate) async fn record_activity_task_heartbeat_by_id(
        &self,
        req: RecordActivityTaskHeartbeatByIdRequest,
    ) -> Result<RecordActivityTaskHeartbeatByIdResponse, Status> {
        let token = self
            .activity_token_by_id(&req.namespace, req.workflow_id, req.run_id, req.activity_id)
            .await?;
        let reply = self
            .heartbeat(token, req.details, &req.identity, &req.namespace)
            .await?;
        Ok(RecordActivityTaskHeartbeatByIdResponse {
            cancel_requested: reply.cancel_requested,
            activity_paused: reply.activity_paused,
            activity_reset: reply.activity_reset,
        })
    }

    async fn heartbeat(
        &self,
        token: TaskToken,
        details: Option<Payloads>,
        identity: &str,
        namespace: &str,
    ) -> Result<RecordActivityTaskHeartbeatResponse, Status> {
        if !validate::blob_fits(details.as_ref()) {
            tracing::warn!(
                workflow_id = %token.workflow_id,
                activity_id = %token.activity_id,
                "heartbeat details exceed the blob size limit; failing the activity"
            );
            let failed = RespondActivityTaskFailedRequest {
                namespace: namespace.to_string(),
                task_token: token.encode(),
                failure: Some(validate::server_failure(
                    FAILURE_REASON_HEARTBEAT_EXCEEDS_LIMIT,
                )),
                identity: identity.to_string(),
                ..Default::default()
            };
            self.history
                .respond_activity_task_failed(&token, &failed)
                .await
                .map_err(errors::history)?;
            return Ok(RecordActivityTaskHeartbeatResponse {
                cancel_requested: true,
                ..Default::default()
            });
        }
        self.history
            .record_activity_heartbeat(&token, details)
            .await
            .map_err(errors::history)
    }

    /// The token a ById call stands for: the activity `activity_id` of the workflow's run
    /// (its current run when `run_id` is empty), pinned to that run, with no scheduled event
    /// id (history then finds the pending activity by its id, whatever its attempt).
    pub(crate) async fn activity_token_by_id(
        &self,
        namespace: &str,
        workflow_id: String,
        run_id: String,
        activity_id: String,
    ) -> Result<TaskToken, Status> {
        let ns = self.namespaces.get(namespace)?;
        if activity_id.is_empty() {
            return Err(errors::invalid("ActivityId is not set on request."));
        }
        if workflow_id.is_empty() {
            return Err(errors::invalid("WorkflowId is not set on request."));
        }
        let token = TaskToken {
            namespace_id: ns.id().to_string(),
            workflow_id,
            run_id,
            scheduled_event_id: 0,
            started_event_id: 0,
            attempt: 1,
            activity_id,
            kind: TaskKind::Activity as i32,
            stamp: 0,
            ..Default::default()
        };
        self.history
            .with_current_run(token)
            .await
            .map_err(errors::history)
    }
}
