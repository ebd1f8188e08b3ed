//! PauseActivity and UnpauseActivity (`temporal activity pause|unpause`): validation in
//! Temporal's order and wording, then the hand-off to history. UnpauseActivity's jitter is drawn
//! here so the applied change is deterministic.

use std::time::Duration;

use perdure_core::limits::BLOB_SIZE_LIMIT_ERROR;
use perdure_core::{duration_from_proto, ActivitySelector, PauseRequest, UnpauseRequest};
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::workflowservice::v1::{
    pause_activity_request, unpause_activity_request, PauseActivityRequest, PauseActivityResponse,
    UnpauseActivityRequest, UnpauseActivityResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

pub(crate) const ERR_ACTIVITY_NOT_SET: &str =
    "Either Activity.Id or Activity.Type should be set on request.";

impl Frontend {
    pub(crate) async fn pause_activity(
        &self,
        req: PauseActivityRequest,
    ) -> Result<PauseActivityResponse, Status> {
        let execution = operator_execution(req.execution.as_ref())?;
        let selector = match req.activity {
            Some(pause_activity_request::Activity::Id(id)) => ActivitySelector::Id(id),
            Some(pause_activity_request::Activity::Type(t)) => ActivitySelector::Type(t),
            None => return Err(errors::invalid(ERR_ACTIVITY_NOT_SET)),
        };
        validate::identity(&req.identity)?;
        validate::request_id(&req.request_id)?;
        reason(&req.reason)?;
        let ns = self.namespaces.get(&req.namespace)?;
        let request = PauseRequest {
            identity: req.identity,
            reason: req.reason,
            request_id: req.request_id,
        };
        self.history
            .pause_activity(ns.id(), &execution, &selector, &request)
            .await
            .map_err(errors::history)?;
        Ok(PauseActivityResponse::default())
    }

    pub(crate) async fn unpause_activity(
        &self,
        req: UnpauseActivityRequest,
    ) -> Result<UnpauseActivityResponse, Status> {
        let execution = operator_execution(req.execution.as_ref())?;
        let selector = match req.activity {
            Some(unpause_activity_request::Activity::Id(id)) => ActivitySelector::Id(id),
            Some(unpause_activity_request::Activity::Type(t)) => ActivitySelector::Type(t),
            Some(unpause_activity_request::Activity::UnpauseAll(_)) => ActivitySelector::All,
            None => return Err(errors::invalid(ERR_ACTIVITY_NOT_SET)),
        };
        validate::identity(&req.identity)?;
        super::pause_activity_execution::jitter(req.jitter.as_ref())?;
        let ns = self.namespaces.get(&req.namespace)?;
        let request = UnpauseRequest {
            reset_attempts: req.reset_attempts,
            reset_heartbeat: req.reset_heartbeat,
            delay: jitter_delay(duration_from_proto(req.jitter.as_ref())),
        };
        self.history
            .unpause_activity(ns.id(), &execution, &selector, &request)
            .await
            .map_err(errors::history)?;
        Ok(UnpauseActivityResponse::default())
    }
}

/// The execution an activity operator command names: Temporal checks only the workflow id
/// before the namespace; a malformed run id is refused like elsewhere.
pub(crate) fn operator_execution(
    e: Option<&WorkflowExecution>,
) -> Result<WorkflowExecution, Status> {
    let e = e.cloned().unwrap_or_default();
    if e.workflow_id.is_empty() {
        return Err(errors::invalid("WorkflowId is not set on request."));
    }
    validate::execution(Some(&e))?;
    Ok(e)
}

/// A pause reason is bounded by the blob size limit (Temporal's PauseActivityExecution bound
/// and wording; its PauseActivity has none, Perdure bounds both).
pub(crate) fn reason(reason: &str) -> Result<(), Status> {
    if reason.len() > BLOB_SIZE_LIMIT_ERROR {
        return Err(errors::invalid("reason exceeds length limit"));
    }
    Ok(())
}

/// A uniformly random delay below `jitter` (zero when there is none), as Temporal draws it.
pub(crate) fn jitter_delay(jitter: Duration) -> Duration {
    let nanos = jitter.as_nanos();
    if nanos == 0 {
        return Duration::ZERO;
    }
    let r = uuid::Uuid::new_v4().as_u128() % nanos;
    Duration::from_nanos(r.min(u64::MAX as u128) as u64)
}
