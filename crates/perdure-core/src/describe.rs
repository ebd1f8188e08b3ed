//! DescribeWorkflowExecution from mutable state alone (no history reads). Never changes the
//! state.

use temporalio_protos::temporal::api::{
    activity::v1::ActivityOptions,
    common::v1::WorkflowExecution,
    enums::v1::{EventType, PendingActivityState, PendingWorkflowTaskState},
    taskqueue::v1::TaskQueue,
    workflow::v1::{
        pending_activity_info, PendingActivityInfo, PendingChildExecutionInfo,
        PendingWorkflowTaskInfo, RequestIdInfo, WorkflowExecutionConfig,
        WorkflowExecutionExtendedInfo, WorkflowExecutionInfo,
    },
    workflowservice::v1::DescribeWorkflowExecutionResponse,
};

use prost_wkt_types::Timestamp;

use crate::state::{normal_task_queue, ActivityInfo, ActivityPauseInfo, MutableState};
use crate::time::{duration_from_proto, Time};

/// Go's zero `time.Time` as a protobuf timestamp (0001-01-01T00:00:00Z), out of `Time`'s range.
/// Temporal reports it as the run expiration time of a run without a run timeout, so clients
/// see the same here.
const GO_ZERO_TIMESTAMP: Timestamp = Timestamp {
    seconds: -62_135_596_800,
    nanos: 0,
};

impl MutableState {
    /// When the run times out: its run timeout counted from when its first workflow task was
    /// due, but never after the execution deadline (Temporal's WorkflowRunExpirationTime).
    /// `None` when the run has no run timeout.
    pub fn run_expiration_time(&self) -> Option<Time> {
        let run_timeout = duration_from_proto(self.run_timeout.as_ref());
        if run_timeout.is_zero() {
            return None;
        }
        let fire = self.execution_time().add(run_timeout);
        let execution_expiration = Time(self.execution_expiration_time);
        Some(if execution_expiration.is_unset() {
            fire
        } else {
            fire.min(execution_expiration)
        })
    }

    pub fn describe(&self) -> DescribeWorkflowExecutionResponse {
        let start = Time(self.start_time);
        let close = Time(self.close_time);
        let info = WorkflowExecutionInfo {
            execution: Some(self.execution()),
            r#type: self.workflow_type.clone(),
            start_time: start.to_timestamp_opt(),
            close_time: close.to_timestamp_opt(),
            status: self.status,
            history_length: self.history_length(),
            execution_time: self.execution_time().to_timestamp_opt(),
            memo: self.memo.clone(),
            search_attributes: self.search_attributes.clone(),
            task_queue: self.task_queue.clone(),
            execution_duration: if close.is_unset() {
                None
            } else {
                // Like Temporal: from when the first workflow task was due (after a retry's
                // backoff), not from the start.
                Some(crate::time::duration_to_proto(
                    close.since(self.execution_time()),
                ))
            },
            first_run_id: self.first_execution_run_id.clone(),
            auto_reset_points: self.auto_reset_points.clone(),
            parent_namespace_id: self.parent_namespace_id.clone(),
            parent_execution: self.parent().map(|p| WorkflowExecution {
                workflow_id: p.workflow_id,
                run_id: p.run_id,
            }),
            // A run without a parent is the root of its tree (a retried run too: Temporal
            // carries the root over only from a parent).
            root_execution: Some(if self.root_workflow_id.is_empty() {
                self.execution()
            } else {
                WorkflowExecution {
                    workflow_id: self.root_workflow_id.clone(),
                    run_id: self.root_run_id.clone(),
                }
            }),
            history_size_bytes: self.history_size_bytes,
            state_transition_count: self.state_transition_count,
            ..Default::default()
        };
        let extended = WorkflowExecutionExtendedInfo {
            execution_expiration_time: Time(self.execution_expiration_time).to_timestamp_opt(),
            run_expiration_time: Some(
                self.run_expiration_time()
                    .map_or(GO_ZERO_TIMESTAMP, Time::to_timestamp),
            ),
            // The WorkflowExecutionStarted event's time.
            original_start_time: start.to_timestamp_opt(),
            reset_run_id: self.reset_run_id.clone(),
            // The request ids that wrote events of this run: Temporal keeps the start's and
            // those attached by a USE_EXISTING start or an update request, neither of which
            // Perdure attaches, so only the start's.
            request_id_infos: (!self.start_request_id.is_empty())
                .then(|| {
                    (
                        self.start_request_id.clone(),
                        RequestIdInfo {
                            event_type: EventType::WorkflowExecutionStarted as i32,
                            event_id: 1,
                            buffered: false,
                        },
                    )
                })
                .into_iter()
                .collect(),
            ..Default::default()
        };
        let pending_activities = self
            .activities
            .values()
            .map(|a| {
                // A paused activity still running on a worker is PAUSE_REQUESTED.
                let state = match (a.is_started(), a.paused && !a.cancel_requested) {
                    (true, true) => PendingActivityState::PauseRequested,
                    (true, false) => PendingActivityState::Started,
                    (false, true) => PendingActivityState::Paused,
                    (false, false) => PendingActivityState::Scheduled,
                };
                let policy = a.retry_policy.clone().unwrap_or_default();
                let s2c = duration_from_proto(a.schedule_to_close_timeout.as_ref());
                PendingActivityInfo {
                    activity_id: a.activity_id.clone(),
                    activity_type: a.activity_type.clone(),
                    state: state as i32,
                    heartbeat_details: a.last_heartbeat_details.clone(),
                    last_heartbeat_time: Time(a.last_heartbeat_time).to_timestamp_opt(),
                    last_started_time: Time(a.started_time).to_timestamp_opt(),
                    attempt: a.attempt,
                    maximum_attempts: policy.maximum_attempts,
                    scheduled_time: Time(a.scheduled_time).to_timestamp_opt(),
                    expiration_time: if s2c.is_zero() {
                        None
                    } else {
                        Some(Time(a.first_scheduled_time).add(s2c).to_timestamp())
                    },
                    last_failure: a.last_failure.clone(),
                    last_worker_identity: a.last_worker_identity.clone(),
                    last_attempt_complete_time: Time(a.last_attempt_complete_time)
                        .to_timestamp_opt(),
                    paused: a.paused,
                    pause_info: a.pause_info.as_ref().map(pause_info),
                    activity_options: Some(activity_options(a)),
                    next_attempt_schedule_time: if a.backing_off && !a.paused {
                        Time(a.scheduled_time).to_timestamp_opt()
                    } else {
                        None
                    },
                    ..Default::default()
                }
            })
            .collect();
        let pending_workflow_task = self
            .workflow_task
            .as_ref()
            .map(|w| PendingWorkflowTaskInfo {
                state: if w.is_started() {
                    PendingWorkflowTaskState::Started as i32
                } else {
                    PendingWorkflowTaskState::Scheduled as i32
                },
                scheduled_time: Time(w.scheduled_time).to_timestamp_opt(),
                original_scheduled_time: Time(w.original_scheduled_time).to_timestamp_opt(),
                started_time: Time(w.started_time).to_timestamp_opt(),
                attempt: w.attempt,
            });
        let pending_children = self
            .children
            .values()
            .map(|c| PendingChildExecutionInfo {
                workflow_id: c.workflow_id.clone(),
                run_id: c.run_id.clone(),
                workflow_type_name: c.workflow_type.clone(),
                initiated_id: c.initiated_event_id,
                parent_close_policy: c.parent_close_policy,
            })
            .collect();
        DescribeWorkflowExecutionResponse {
            pending_children,
            execution_config: Some(WorkflowExecutionConfig {
                task_queue: Some(normal_task_queue(&self.task_queue)),
                workflow_execution_timeout: self.execution_timeout,
                workflow_run_timeout: self.run_timeout,
                default_workflow_task_timeout: self.task_timeout,
                user_metadata: None,
            }),
            workflow_execution_info: Some(info),
            workflow_extended_info: Some(extended),
            pending_activities,
            pending_workflow_task,
            ..Default::default()
        }
    }
}

fn pause_info(p: &ActivityPauseInfo) -> pending_activity_info::PauseInfo {
    use pending_activity_info::pause_info::{Manual, PausedBy};
    pending_activity_info::PauseInfo {
        pause_time: Time(p.pause_time).to_timestamp_opt(),
        paused_by: Some(PausedBy::Manual(Manual {
            identity: p.identity.clone(),
            reason: p.reason.clone(),
        })),
    }
}

/// The options the activity runs with now (UpdateActivityOptions may have changed them).
pub(crate) fn activity_options(a: &ActivityInfo) -> ActivityOptions {
    ActivityOptions {
        // Name and normal name only, as Temporal's GetPendingActivityInfo fills it.
        task_queue: Some(TaskQueue {
            name: a.task_queue.clone(),
            normal_name: a.task_queue.clone(),
            ..Default::default()
        }),
        schedule_to_close_timeout: a.schedule_to_close_timeout,
        schedule_to_start_timeout: a.schedule_to_start_timeout,
        start_to_close_timeout: a.start_to_close_timeout,
        heartbeat_timeout: a.heartbeat_timeout,
        retry_policy: a.retry_policy.clone(),
        ..Default::default()
    }
}
