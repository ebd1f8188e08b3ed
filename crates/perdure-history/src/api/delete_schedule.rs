//! DeleteSchedule: removes the record. Runs it started keep running (as in Temporal); its
//! pending effect rows and wake timer find no schedule and do nothing.

use crate::errors::{HistoryError, ScheduleRefusal};
use crate::schedules::SchedStep;
use crate::HistoryService;

impl HistoryService {
    pub async fn delete_schedule(
        &self,
        namespace_id: &str,
        schedule_id: &str,
    ) -> Result<(), HistoryError> {
        let wf = perdure_schedule::scheduler::scheduler_workflow_id(schedule_id);
        let shard = self.shard_for(namespace_id, &wf);
        shard
            .update_schedule(namespace_id, schedule_id, |existing, _| {
                if existing.is_none() {
                    return Err(ScheduleRefusal::NotFound(schedule_id.to_string()).into());
                }
                Ok(SchedStep::Write {
                    state: None,
                    actions: Vec::new(),
                    extra_ops: Vec::new(),
                    reply: (),
                })
            })
            .await
    }
}
