//! CreateSchedule: the schedule's first record. A create repeating the request id of the one
//! that made the schedule succeeds again (Temporal dedups its scheduler workflow's start by
//! request id); any other create of an existing id is refused.

use std::time::Duration;

use perdure_schedule::{ScheduleError, ScheduleState};
use temporalio_protos::temporal::api::workflowservice::v1::CreateScheduleRequest;

use crate::errors::{HistoryError, ScheduleRefusal};
use crate::schedules::SchedStep;
use crate::HistoryService;

impl HistoryService {
    /// Returns the new schedule's conflict token.
    pub async fn create_schedule(
        &self,
        namespace_id: &str,
        retention: Option<Duration>,
        req: &CreateScheduleRequest,
    ) -> Result<i64, HistoryError> {
        let wf = perdure_schedule::scheduler::scheduler_workflow_id(&req.schedule_id);
        let shard = self.shard_for(namespace_id, &wf);
        shard
            .update_schedule(namespace_id, &req.schedule_id, |existing, now| {
                if let Some(s) = existing {
                    if s.request_id == req.request_id {
                        return Ok(SchedStep::Reply(s.conflict_token));
                    }
                    return Err(ScheduleRefusal::AlreadyRegistered(req.schedule_id.clone()).into());
                }
                let (mut state, actions) = ScheduleState::create(
                    &req.namespace,
                    namespace_id,
                    &req.schedule_id,
                    req.schedule.clone().unwrap_or_default(),
                    req.initial_patch.as_ref(),
                    req.memo.clone(),
                    req.search_attributes.clone(),
                    &req.request_id,
                    now,
                )
                .map_err(refusal)?;
                state.retention_secs = retention.map_or(0, |r| r.as_secs());
                let token = state.conflict_token;
                Ok(SchedStep::write(state, actions, token))
            })
            .await
    }
}

pub(crate) fn refusal(e: ScheduleError) -> HistoryError {
    match e {
        ScheduleError::Spec(s) => ScheduleRefusal::InvalidSpec(s.to_string()).into(),
        // Only updates carry a token; callers answer a conflict themselves.
        ScheduleError::Conflict => HistoryError::Conflict,
    }
}
