//! UpdateSchedule: replaces spec, action, policies and state. An update whose conflict token
//! is stale is answered OK and not applied, as Temporal's workflow-backed scheduler does (it
//! drops such a signal).

use perdure_schedule::ScheduleError;
use temporalio_protos::temporal::api::workflowservice::v1::UpdateScheduleRequest;

use crate::api::create_schedule::refusal;
use crate::errors::{HistoryError, ScheduleRefusal};
use crate::schedules::SchedStep;
use crate::HistoryService;

impl HistoryService {
    pub async fn update_schedule(
        &self,
        namespace_id: &str,
        req: &UpdateScheduleRequest,
    ) -> Result<(), HistoryError> {
        let wf = perdure_schedule::scheduler::scheduler_workflow_id(&req.schedule_id);
        let shard = self.shard_for(namespace_id, &wf);
        let token = match req.conflict_token.as_slice().get(..8) {
            Some(b) => i64::from_be_bytes(b.try_into().unwrap_or_default()),
            None => 0,
        };
        shard
            .update_schedule(namespace_id, &req.schedule_id, |existing, now| {
                let Some(s) = existing else {
                    return Err(ScheduleRefusal::NotFound(req.schedule_id.to_string()).into());
                };
                let mut next = s.clone();
                if next.repeated_request(&req.request_id) {
                    return Ok(SchedStep::Reply(()));
                }
                match next.update(
                    req.schedule.clone().unwrap_or_default(),
                    req.search_attributes.clone(),
                    token,
                    now,
                ) {
                    Ok(actions) => Ok(SchedStep::write(next, actions, ())),
                    Err(ScheduleError::Conflict) => Ok(SchedStep::Reply(())),
                    Err(e) => Err(refusal(e)),
                }
            })
            .await
    }
}
