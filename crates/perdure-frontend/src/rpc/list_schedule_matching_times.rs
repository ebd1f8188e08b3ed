//! ListScheduleMatchingTimes: the schedule is read from its shard's leader, the times are
//! computed here (pure).

use perdure_core::Time;
use temporalio_protos::temporal::api::workflowservice::v1::{
    ListScheduleMatchingTimesRequest, ListScheduleMatchingTimesResponse,
};
use tonic::Status;

use crate::errors;
use crate::server::Frontend;

impl Frontend {
    pub(crate) async fn list_schedule_matching_times(
        &self,
        req: ListScheduleMatchingTimesRequest,
    ) -> Result<ListScheduleMatchingTimesResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        let (Some(start), Some(end)) = (req.start_time.as_ref(), req.end_time.as_ref()) else {
            return Err(errors::invalid("missing or invalid query"));
        };
        let state = self
            .history
            .schedule_state(ns.id(), &req.schedule_id)
            .await
            .map_err(errors::history)?;
        Ok(ListScheduleMatchingTimesResponse {
            start_time: state
                .matching_times(Time::from_timestamp(start), Time::from_timestamp(end)),
        })
    }
}
