//! PauseActivityExecution and UnpauseActivityExecution, the forms `temporal activity
//! pause|unpause` sends. With a workflow id they are PauseActivity/UnpauseActivity on that
//! workflow's activity (as Temporal's activity handler forwards them); without one they target
//! a standalone activity, which Perdure does not have, answered as Temporal does when standalone
//! activities are disabled. Validation follows Temporal's activity validator.

use perdure_core::limits::MAX_ID_LENGTH;
use perdure_core::{duration_from_proto, ActivitySelector, PauseRequest, UnpauseRequest};
use prost_wkt_types::Duration as ProtoDuration;
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::workflowservice::v1::{
    PauseActivityExecutionRequest, PauseActivityExecutionResponse, UnpauseActivityExecutionRequest,
    UnpauseActivityExecutionResponse,
};
use tonic::Status;

use super::pause_activity::{jitter_delay, reason};
use crate::server::Frontend;
use crate::{errors, validate};

pub(crate) const STANDALONE_DISABLED: &str = "Standalone activity is disabled";

impl Frontend {
    pub(crate) async fn pause_activity_execution(
        &self,
        mut req: PauseActivityExecutionRequest,
    ) -> Result<PauseActivityExecutionResponse, Status> {
        if req.workflow_id.is_empty() {
            return Err(Status::unimplemented(STANDALONE_DISABLED));
        }
        ids(
            &mut req.request_id,
            &req.activity_id,
            &req.identity,
            &req.run_id,
        )?;
        reason(&req.reason)?;
        let ns = self.namespaces.get(&req.namespace)?;
        let execution = execution(&req.workflow_id, &req.run_id)?;
        let request = PauseRequest {
            identity: req.identity,
            reason: req.reason,
            request_id: req.request_id,
        };
        self.history
            .pause_activity(
                ns.id(),
                &execution,
                &ActivitySelector::Id(req.activity_id),
                &request,
            )
            .await
            .map_err(errors::history)?;
        Ok(PauseActivityExecutionResponse::default())
    }

    pub(crate) async fn unpause_activity_execution(
        &self,
        mut req: UnpauseActivityExecutionRequest,
    ) -> Result<UnpauseActivityExecutionResponse, Status> {
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
        let request = UnpauseRequest {
            delay: jitter_delay(duration_from_proto(req.jitter.as_ref())),
            ..Default::default()
        };
        self.history
            .unpause_activity(
                ns.id(),
                &execution,
                &ActivitySelector::Id(req.activity_id),
                &request,
            )
            .await
            .map_err(errors::history)?;
        Ok(UnpauseActivityExecutionResponse::default())
    }
}

/// Temporal's checks of the ids every activity-execution request carries; an empty request id
/// gets a fresh one.
pub(crate) fn ids(
    request_id: &mut String,
    activity_id: &str,
    identity: &str,
    run_id: &str,
) -> Result<(), Status> {
    if request_id.is_empty() {
        *request_id = uuid::Uuid::new_v4().to_string();
    }
    if request_id.len() > MAX_ID_LENGTH {
        return Err(errors::invalid(format!(
            "request ID exceeds length limit. Length={} Limit={MAX_ID_LENGTH}",
            request_id.len()
        )));
    }
    if activity_id.is_empty() {
        return Err(errors::invalid("activity ID is required"));
    }
    if activity_id.len() > MAX_ID_LENGTH {
        return Err(errors::invalid(format!(
            "activity ID exceeds length limit. Length={} Limit={MAX_ID_LENGTH}",
            activity_id.len()
        )));
    }
    if identity.len() > MAX_ID_LENGTH {
        return Err(errors::invalid(format!(
            "identity exceeds length limit. Length={} Limit={MAX_ID_LENGTH}",
            identity.len()
        )));
    }
    if !run_id.is_empty() && uuid::Uuid::parse_str(run_id).is_err() {
        return Err(errors::invalid("invalid run id: must be a valid UUID"));
    }
    Ok(())
}

pub(crate) fn jitter(d: Option<&ProtoDuration>) -> Result<(), Status> {
    let Some(d) = d else { return Ok(()) };
    if (d.seconds > 0 && d.nanos < 0) || (d.seconds < 0 && d.nanos > 0) {
        return Err(errors::invalid(
            "invalid jitter: duration has seconds and nanos with different signs",
        ));
    }
    if d.seconds < 0 || d.nanos < 0 {
        return Err(errors::invalid("invalid jitter: negative duration"));
    }
    Ok(())
}

pub(crate) fn execution(workflow_id: &str, run_id: &str) -> Result<WorkflowExecution, Status> {
    let e = WorkflowExecution {
        workflow_id: workflow_id.to_string(),
        run_id: run_id.to_string(),
    };
    validate::execution(Some(&e))?;
    Ok(e)
}
