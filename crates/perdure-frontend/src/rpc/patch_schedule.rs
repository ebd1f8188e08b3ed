//! PatchSchedule: trigger, backfill, pause, unpause.

use temporalio_protos::temporal::api::workflowservice::v1::{
    PatchScheduleRequest, PatchScheduleResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn patch_schedule(
        &self,
        req: PatchScheduleRequest,
    ) -> Result<PatchScheduleResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        validate::request_id(&req.request_id)?;
        validate::identity(&req.identity)?;
        let patch = req.patch.clone().unwrap_or_default();
        self.history
            .patch_schedule(ns.id(), &req.schedule_id, &patch)
            .await
            .map_err(errors::history)?;
        Ok(PatchScheduleResponse::default())
    }
}
