//! PatchSchedule: trigger, backfill, pause, unpause.

use temporalio_protos::temporal::api::workflowservice::v1::{
    PatchScheduleRequest, PatchScheduleResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

/// Temporal's ScheduleNotesSizeLimit (bytes).
const NOTES_LIMIT: usize = 1000;

impl Frontend {
    pub(crate) async fn patch_schedule(
        &self,
        req: PatchScheduleRequest,
    ) -> Result<PatchScheduleResponse, Status> {
        let Some(patch) = req.patch.clone() else {
            return Err(errors::invalid("Patch is not set on request."));
        };
        let ns = self.namespaces.get(&req.namespace)?;
        validate::request_id(&req.request_id)?;
        validate::identity(&req.identity)?;
        if patch.pause.len() > NOTES_LIMIT || patch.unpause.len() > NOTES_LIMIT {
            return Err(errors::invalid("Schedule notes exceeds limit."));
        }
        self.history
            .patch_schedule(ns.id(), &req.schedule_id, &patch, &req.request_id)
            .await
            .map_err(errors::history)?;
        Ok(PatchScheduleResponse::default())
    }
}
