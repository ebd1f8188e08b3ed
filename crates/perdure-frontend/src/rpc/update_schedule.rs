//! UpdateSchedule: the new schedule is validated like a created one; a stale conflict token
//! is accepted and the update dropped (Temporal's workflow-backed scheduler).

use temporalio_protos::temporal::api::workflowservice::v1::{
    UpdateScheduleRequest, UpdateScheduleResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn update_schedule(
        &self,
        req: UpdateScheduleRequest,
    ) -> Result<UpdateScheduleResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        validate::request_id(&req.request_id)?;
        validate::identity(&req.identity)?;
        super::create_schedule::validate_action(req.schedule.as_ref())?;
        super::create_schedule::validate_spec(req.schedule.as_ref())?;
        if req.memo.is_some() {
            return Err(Status::failed_precondition(
                "memo updates are not supported on workflow-backed schedules",
            ));
        }
        self.history
            .update_schedule(ns.id(), &req)
            .await
            .map_err(errors::history)?;
        Ok(UpdateScheduleResponse::default())
    }
}
