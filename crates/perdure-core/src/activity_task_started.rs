//! RecordActivityTaskStarted: a poller took an activity attempt. No history event is
//! written (ActivityTaskStarted is written only with the final outcome); the attempt's
//! start-to-close and heartbeat timeouts are armed. Idempotent per poll request id.

use temporalio_protos::temporal::api::{
    enums::v1::TimeoutType, workflowservice::v1::PollActivityTaskQueueResponse,
};

use crate::errors::CoreError;
use crate::ids::EventId;
use crate::state::{ActivityInfo, MutableState};
use crate::tasks::{timer_task, Mutation, TaskTimeout};
use crate::time::{duration_from_proto, Time};
use crate::token::{TaskKind, TaskToken};

/// Everything PollActivityTaskQueue answers with (`response.task_token` is filled in).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityDispatch {
    pub token: TaskToken,
    pub response: PollActivityTaskQueueResponse,
}

impl MutableState {
    pub fn record_activity_task_started(
        &mut self,
        scheduled_event_id: EventId,
        attempt: i32,
        request_id: &str,
        identity: &str,
        now: Time,
    ) -> Result<(Mutation, ActivityDispatch), CoreError> {
        if !self.is_running() {
            return Err(CoreError::WorkflowCompleted);
        }
        let Some(ai) = self.activities.get(&scheduled_event_id.0).cloned() else {
            return Err(CoreError::activity_task_not_found());
        };
        if ai.attempt != attempt || ai.backing_off || (ai.paused && !ai.is_started()) {
            return Err(CoreError::activity_task_not_found());
        }
        if ai.is_started() {
            if ai.request_id == request_id {
                return Ok((Mutation::default(), self.activity_dispatch(&ai)));
            }
            return Err(CoreError::TaskAlreadyStarted);
        }
        let mut ai = ai;
        ai.started_time = now.0;
        ai.request_id = request_id.to_string();
        ai.started_identity = identity.to_string();
        ai.last_worker_identity = identity.to_string();
        ai.last_heartbeat_time = 0;

        let mut m = Mutation::default();
        let stc = duration_from_proto(ai.start_to_close_timeout.as_ref());
        let hb = duration_from_proto(ai.heartbeat_timeout.as_ref());
        for (d, ty) in [
            (stc, TimeoutType::StartToClose),
            (hb, TimeoutType::Heartbeat),
        ] {
            if d.is_zero() {
                continue;
            }
            let t = self.timer_task(
                now.add(d),
                timer_task::Kind::ActivityTimeout(TaskTimeout {
                    scheduled_event_id: ai.scheduled_event_id,
                    attempt: ai.attempt,
                    stamp: ai.stamp,
                    timeout_type: ty as i32,
                }),
            );
            m.timer_tasks.push(t);
        }
        let dispatch = self.activity_dispatch(&ai);
        self.activities.insert(ai.scheduled_event_id, ai);
        Ok((m, dispatch))
    }

    fn activity_dispatch(&self, ai: &ActivityInfo) -> ActivityDispatch {
        let token = TaskToken {
            namespace_id: self.namespace_id.clone(),
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
            scheduled_event_id: ai.scheduled_event_id,
            started_event_id: 0,
            attempt: ai.attempt,
            activity_id: ai.activity_id.clone(),
            kind: TaskKind::Activity as i32,
            stamp: ai.stamp,
            ..Default::default()
        };
        let response = PollActivityTaskQueueResponse {
            task_token: token.encode(),
            workflow_namespace: self.namespace.clone(),
            workflow_type: self.workflow_type.clone(),
            workflow_execution: Some(self.execution()),
            activity_type: ai.activity_type.clone(),
            activity_id: ai.activity_id.clone(),
            header: ai.header.clone(),
            input: ai.input.clone(),
            heartbeat_details: ai.last_heartbeat_details.clone(),
            scheduled_time: Time(ai.first_scheduled_time).to_timestamp_opt(),
            current_attempt_scheduled_time: Time(ai.scheduled_time).to_timestamp_opt(),
            started_time: Time(ai.started_time).to_timestamp_opt(),
            attempt: ai.attempt,
            schedule_to_close_timeout: ai.schedule_to_close_timeout,
            start_to_close_timeout: ai.start_to_close_timeout,
            heartbeat_timeout: ai.heartbeat_timeout,
            retry_policy: ai.retry_policy.clone(),
            ..Default::default()
        };
        ActivityDispatch { token, response }
    }
}
