//! DeleteSchedule: the schedule's runs keep running.

use temporalio_protos::temporal::api::workflowservice::v1::{
    DeleteScheduleRequest, DeleteScheduleResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn delete_schedule(
        &self,
        req: DeleteScheduleRequest,
    ) -> Result<DeleteScheduleResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        validate::identity(&req.identity)?;
        self.history
            .delete_schedule(ns.id(), &req.schedule_id)
            .await
            .map_err(errors::history)?;
        Ok(DeleteScheduleResponse::default())
    }
}
