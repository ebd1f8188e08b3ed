//! ResetActivity and ResetActivityExecution (`temporal activity reset`): validation in
//! Temporal's order and wording, then the hand-off to history. The jitter is drawn here so the
//! applied change is deterministic. Without a workflow id, ResetActivityExecution targets a
//! standalone activity: Unimplemented, as in `pause_activity_execution`.

use perdure_core::{duration_from_proto, ActivitySelector, ResetActivityRequest as Reset};
use temporalio_protos::temporal::api::workflowservice::v1::{
    reset_activity_request, ResetActivityExecutionRequest, ResetActivityExecutionResponse,
    ResetActivityRequest, ResetActivityResponse,
};
use tonic::Status;

use super::pause_activity::{jitter_delay, operator_execution, ERR_ACTIVITY_NOT_SET};
use super::pause_activity_execution::{execution, ids, jitter, STANDALONE_DISABLED};
use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn reset_activity(
        &self,
        req: ResetActivityRequest,
    ) -> Result<ResetActivityResponse, Status> {
        let execution = operator_execution(req.execution.as_ref())?;
        let selector = match req.activity {
            Some(reset_activity_request::Activity::Id(id)) => ActivitySelector::Id(id),
            Some(reset_activity_request::Activity::Type(t)) => ActivitySelector::Type(t),
            Some(reset_activity_request::Activity::MatchAll(_)) => ActivitySelector::All,
            None => return Err(errors::invalid(ERR_ACTIVITY_NOT_SET)),
        };
        validate::identity(&req.identity)?;
        jitter(req.jitter.as_ref())?;
        let ns = self.namespaces.get(&req.namespace)?;
        let request = Reset {
            reset_heartbeat: req.reset_heartbeat,
            keep_paused: req.keep_paused,
            restore_original_options: req.restore_original_options,
            delay: jitter_delay(duration_from_proto(req.jitter.as_ref())),
        };
        self.history
            .reset_activity(ns.id(), &execution, &selector, &request)
            .await
            .map_err(errors::history)?;
        Ok(ResetActivityResponse::default())
    }

    pub(crate) async fn reset_activity_execution(
        &self,
        mut req: ResetActivityExecutionRequest,
    ) -> Result<ResetActivityExecutionResponse, Status> {
        if req.workflow_id.is_empty() {
            return Err(Status::unimplemented(STANDALONE_DISABLED));
        }
        ids(
            &mut req.request_id,
            &req.activity_id,
            &req.identity,
            &req.run_id,
        )?;
        jitter(req.jitter.as_ref())?;
        let ns = self.namespaces.get(&req.namespace)?;
        let execution = execution(&req.workflow_id, &req.run_id)?;
        let request = Reset {
            reset_heartbeat: req.reset_heartbeat,
            keep_paused: req.keep_paused,
            restore_original_options: req.restore_original_options,
            delay: jitter_delay(duration_from_proto(req.jitter.as_ref())),
        };
        self.history
            .reset_activity(
                ns.id(),
                &execution,
                &ActivitySelector::Id(req.activity_id),
                &request,
            )
            .await
            .map_err(errors::history)?;
        Ok(ResetActivityExecutionResponse::default())
    }
}
