//! DescribeSchedule: served by the leader of the schedule's shard.

use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeScheduleRequest, DescribeScheduleResponse,
};
use tonic::Status;

use crate::errors;
use crate::server::Frontend;

impl Frontend {
    pub(crate) async fn describe_schedule(
        &self,
        req: DescribeScheduleRequest,
    ) -> Result<DescribeScheduleResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        self.history
            .describe_schedule(ns.id(), &req.schedule_id)
            .await
            .map_err(errors::history)
    }
}
