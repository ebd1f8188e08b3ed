//! Reports reaching a schedule (steps of effects, over `CrossShard`): how a start went, and
//! that a run it started closed. A report about a start the schedule no longer waits for (a
//! repeated step) changes nothing and writes nothing.

use perdure_core::Time;
use temporalio_protos::temporal::api::common::v1::Payloads;
use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use temporalio_protos::temporal::api::failure::v1::Failure;

use crate::errors::HistoryError;
use crate::schedules::SchedStep;
use crate::HistoryService;

impl HistoryService {
    /// A start was carried out (`run_id`) or refused (empty `run_id`: the id was taken).
    pub async fn record_schedule_start(
        &self,
        namespace_id: &str,
        schedule_id: &str,
        seq: u64,
        run_id: &str,
    ) -> Result<(), HistoryError> {
        self.change_schedule(namespace_id, schedule_id, |s, now| {
            s.pending_start(seq)?;
            Some(if run_id.is_empty() {
                s.on_start_failed(seq, now)
            } else {
                s.on_started(seq, run_id, now)
            })
        })
        .await
    }

    /// A chain the schedule started closed.
    pub async fn record_schedule_run_closed(
        &self,
        namespace_id: &str,
        schedule_id: &str,
        workflow_id: &str,
        status: WorkflowExecutionStatus,
        failure: Option<Failure>,
        result: Option<Payloads>,
    ) -> Result<(), HistoryError> {
        self.change_schedule(namespace_id, schedule_id, |s, now| {
            Some(s.on_closed(workflow_id, status, failure.clone(), result.clone(), now))
        })
        .await
    }

    /// Applies `f` to the schedule (None from `f`: nothing to do); a schedule that is gone has
    /// nothing to record.
    async fn change_schedule(
        &self,
        namespace_id: &str,
        schedule_id: &str,
        f: impl Fn(&mut perdure_schedule::ScheduleState, Time) -> Option<Vec<perdure_schedule::Action>>,
    ) -> Result<(), HistoryError> {
        let wf = perdure_schedule::scheduler::scheduler_workflow_id(schedule_id);
        let shard = self.shard_for(namespace_id, &wf);
        shard
            .update_schedule(namespace_id, schedule_id, |existing, now| {
                let Some(s) = existing else {
                    return Ok(SchedStep::Skip(()));
                };
                let mut next = s.clone();
                match f(&mut next, now) {
                    Some(actions) if next != *s || !actions.is_empty() => {
                        Ok(SchedStep::write(next, actions, ()))
                    }
                    _ => Ok(SchedStep::Skip(())),
                }
            })
            .await
    }
}
