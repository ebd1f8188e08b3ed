//! RecordActivityTaskStarted: a poller took an activity attempt. No history is written (the
//! Started event comes with the final outcome); the attempt's timeouts are armed and the
//! dispatch row is deleted in the same batch. Duplicates die here as for workflow tasks.

use perdure_core::{transfer_task, CoreError, EventId};
use temporalio_protos::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse;

use crate::api::run_not_found;
use crate::errors::HistoryError;
use crate::shard::{Plan, Step};
use crate::{DispatchTask, HistoryService};

impl HistoryService {
    pub async fn record_activity_task_started(
        &self,
        task: &DispatchTask,
        request_id: &str,
        identity: &str,
        namespace: &str,
    ) -> Result<PollActivityTaskQueueResponse, HistoryError> {
        let Some(transfer_task::Kind::ActivityTask(task_ref)) = &task.task.kind else {
            return Err(CoreError::InvalidArgument("not an activity task".into()).into());
        };
        let d = self.dispatched(task)?;
        let result = d
            .shard
            .update(&d.key, |state, now| {
                let Some(state) = state else {
                    return Err(run_not_found(&d.key).into());
                };
                let mut next = state.clone();
                let (mutation, dispatch) = next.record_activity_task_started(
                    EventId(task_ref.scheduled_event_id),
                    task_ref.attempt,
                    request_id,
                    identity,
                    now,
                )?;
                if mutation.is_empty() && next == *state {
                    return Ok(Step::Reply(dispatch));
                }
                let mut plan = Plan::new(next, mutation, dispatch);
                plan.extra_ops.push(d.delete_row.clone());
                Ok(Step::Write(plan))
            })
            .await;
        let mut response = d.drop_if_stale(task, result).await?.response;
        if response.workflow_namespace.is_empty() {
            response.workflow_namespace = namespace.to_string();
        }
        Ok(response)
    }
}
