//! PatchSchedule: trigger now, backfill, pause or unpause with a note. A repeated request id
//! is answered OK and not applied again (Temporal dedups the patch signal).

use temporalio_protos::temporal::api::schedule::v1::SchedulePatch;

use crate::errors::{HistoryError, ScheduleRefusal};
use crate::schedules::SchedStep;
use crate::HistoryService;

impl HistoryService {
    pub async fn patch_schedule(
        &self,
        namespace_id: &str,
        schedule_id: &str,
        patch: &SchedulePatch,
        request_id: &str,
    ) -> Result<(), HistoryError> {
        let wf = perdure_schedule::scheduler::scheduler_workflow_id(schedule_id);
        let shard = self.shard_for(namespace_id, &wf);
        shard
            .update_schedule(namespace_id, schedule_id, |existing, now| {
                let Some(s) = existing else {
                    return Err(ScheduleRefusal::NotFound(schedule_id.to_string()).into());
                };
                let mut next = s.clone();
                if next.repeated_request(request_id) {
                    return Ok(SchedStep::Reply(()));
                }
                let actions = next.patch(patch, now);
                Ok(SchedStep::write(next, actions, ()))
            })
            .await
    }
}
