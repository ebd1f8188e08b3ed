//! DescribeSchedule: the schedule as stored, with its future action times computed from it.

use temporalio_protos::temporal::api::workflowservice::v1::DescribeScheduleResponse;

use crate::errors::{HistoryError, ScheduleRefusal};
use crate::HistoryService;

impl HistoryService {
    pub async fn describe_schedule(
        &self,
        namespace_id: &str,
        schedule_id: &str,
    ) -> Result<DescribeScheduleResponse, HistoryError> {
        let state = self.schedule_state(namespace_id, schedule_id).await?;
        Ok(state.describe())
    }

    /// The stored schedule (NotFound when there is none), read behind a read barrier.
    pub async fn schedule_state(
        &self,
        namespace_id: &str,
        schedule_id: &str,
    ) -> Result<perdure_schedule::ScheduleState, HistoryError> {
        let wf = perdure_schedule::scheduler::scheduler_workflow_id(schedule_id);
        let shard = self.shard_for(namespace_id, &wf);
        shard
            .read_schedule(namespace_id, schedule_id)
            .await?
            .ok_or_else(|| ScheduleRefusal::NotFound(schedule_id.to_string()).into())
    }
}
