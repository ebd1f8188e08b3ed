//! RespondWorkflowTaskCompleted: turns the worker's commands into history. Writes
//! WorkflowTaskCompleted, then one event per command in order, then flushes buffered events
//! and schedules the next workflow task when needed. A command with bad attributes fails
//! the task instead (the failure is persisted *and* reported to the worker), and a command
//! type this server does not implement rejects the whole request without any change.

use temporalio_protos::temporal::api::{
    command::v1::{command::Attributes as Cmd, Command},
    common::v1::{Payload, SearchAttributes},
    enums::v1::{
        CommandType, ContinueAsNewInitiator, EventType, WorkflowExecutionStatus,
        WorkflowTaskFailedCause,
    },
    failure::v1::{failure::FailureInfo, Failure, ServerFailureInfo},
    history::v1::{
        history_event::Attributes, ActivityTaskScheduledEventAttributes,
        MarkerRecordedEventAttributes, TimerCanceledEventAttributes, TimerStartedEventAttributes,
        UpsertWorkflowSearchAttributesEventAttributes, WorkflowExecutionCompletedEventAttributes,
        WorkflowPropertiesModifiedEventAttributes, WorkflowTaskCompletedEventAttributes,
    },
    workflowservice::v1::RespondWorkflowTaskCompletedRequest,
};

use crate::activity_options::normalize_activity;
use crate::errors::CoreError;
use crate::limits::{
    encoded_size, payload_map_size, payloads_map_size, BLOB_SIZE_LIMIT_ERROR,
    FAILURE_REASON_HISTORY_COUNT_EXCEEDS_LIMIT, FAILURE_REASON_HISTORY_SIZE_EXCEEDS_LIMIT,
    HISTORY_COUNT_LIMIT_ERROR, HISTORY_SIZE_LIMIT_ERROR, MAX_ID_LENGTH, MEMO_SIZE_LIMIT_ERROR,
    NUM_PENDING_ACTIVITIES_LIMIT,
};
use crate::state::{ActivityInfo, MutableState, TimerInfo};
use crate::tasks::{timer_task, transfer_task, Mutation, TaskRef, TaskTimeout, UserTimer};
use crate::time::{duration_from_proto, is_negative, Time};
use crate::token::TaskToken;
use crate::update::{Messages, PendingUpdates};
use crate::workflow_retry::{Chain, NewRunIds, RunFailure};
use crate::workflow_task_failed::HISTORY_SERVICE_IDENTITY;

use temporalio_protos::temporal::api::enums::v1::TimeoutType;

/// Outcome of a completion. When `rejection` is set the mutation (WorkflowTaskFailed and
/// a new workflow task) must still be persisted before the error is returned to the worker.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowTaskCompletion {
    pub mutation: Mutation,
    pub rejection: Option<CoreError>,
    /// Set when a speculative task was discarded: the worker rolls its history back to this
    /// event (RespondWorkflowTaskCompletedResponse.reset_history_event_id).
    pub reset_history_event_id: i64,
}

/// Why a command failed the workflow task.
pub(crate) struct TaskFailure {
    cause: WorkflowTaskFailedCause,
    message: String,
}

impl TaskFailure {
    fn new(cause: WorkflowTaskFailedCause, detail: impl Into<String>) -> TaskFailure {
        // Temporal's wording: "<Cause>: <detail>", or just "<Cause>".
        let detail = detail.into();
        let name = camel_case(cause.as_str_name(), "WORKFLOW_TASK_FAILED_CAUSE_");
        let message = if detail.is_empty() {
            name
        } else {
            format!("{name}: {detail}")
        };
        TaskFailure { cause, message }
    }
}

/// Commands (by index in the completion) whose search attributes the namespace refuses, with
/// the message to fail the task with. [`RUN_TASK_QUEUE`] and [`RUN_WORKFLOW_TYPE`] in a
/// message stand for the run's, which the caller may not know (a continue-as-new names them
/// when its command leaves them to the run's).
pub type BadSearchAttributes = std::collections::BTreeMap<usize, String>;

/// See [`BadSearchAttributes`].
pub const RUN_TASK_QUEUE: &str = "\u{0}run-task-queue\u{0}";
/// See [`BadSearchAttributes`].
pub const RUN_WORKFLOW_TYPE: &str = "\u{0}run-workflow-type\u{0}";

/// `COMMAND_TYPE_START_TIMER` -> `StartTimer`, matching Go's enum `String()`.
pub(crate) fn camel_case(proto_name: &str, prefix: &str) -> String {
    proto_name
        .strip_prefix(prefix)
        .unwrap_or(proto_name)
        .split('_')
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &cs.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

fn command_type_name(t: i32) -> String {
    match CommandType::try_from(t) {
        Ok(ct) => camel_case(ct.as_str_name(), "COMMAND_TYPE_"),
        Err(_) => t.to_string(),
    }
}

impl MutableState {
    pub(crate) fn check_workflow_token(&self, token: &TaskToken) -> Result<(), CoreError> {
        let ok = self.is_running()
            && self.workflow_task.as_ref().is_some_and(|w| {
                w.is_started()
                    && w.scheduled_event_id == token.scheduled_event_id
                    && (token.started_event_id == 0 || w.started_event_id == token.started_event_id)
                    && w.attempt == token.attempt
            });
        if ok {
            Ok(())
        } else {
            Err(CoreError::workflow_task_not_found())
        }
    }

    /// `next_run` names the run a FailWorkflowExecution command starts if the retry policy
    /// allows another attempt (see `Mutation::new_run`); `pending` is the leader's view of the
    /// updates no worker has accepted yet.
    pub fn complete_workflow_task(
        &mut self,
        token: &TaskToken,
        req: &RespondWorkflowTaskCompletedRequest,
        now: Time,
        next_run: &NewRunIds,
        pending: &PendingUpdates,
    ) -> Result<WorkflowTaskCompletion, CoreError> {
        let none = BadSearchAttributes::new();
        self.complete_workflow_task_checked(token, req, now, next_run, pending, &none)
    }

    /// [`Self::complete_workflow_task`], where `bad` names the commands (by index) whose search
    /// attributes the namespace's registry refuses, with Temporal's message: reaching one fails
    /// the task with BadSearchAttributes, as any other malformed command does. The registry
    /// lives outside the core, so the caller checks them.
    pub fn complete_workflow_task_checked(
        &mut self,
        token: &TaskToken,
        req: &RespondWorkflowTaskCompletedRequest,
        now: Time,
        next_run: &NewRunIds,
        pending: &PendingUpdates,
        bad: &BadSearchAttributes,
    ) -> Result<WorkflowTaskCompletion, CoreError> {
        self.check_workflow_token(token)?;
        validate_command_sequence(&req.commands)?;
        if let Some(done) = self.discard_speculative(req, now, pending) {
            return Ok(done);
        }

        let mut next = self.clone();
        let mut m = Mutation::default();
        let (f, terminate) = match next.apply_completion(&mut m, req, now, next_run, pending, bad) {
            Ok(()) => match self.history_limit_after(&next) {
                None => {
                    *self = next;
                    return Ok(WorkflowTaskCompletion {
                        mutation: m,
                        rejection: None,
                        reset_history_event_id: 0,
                    });
                }
                Some(reason) => {
                    // Like Temporal: discard the completion, terminate from the stored state.
                    let m = self.terminate(reason, None, HISTORY_SERVICE_IDENTITY, now)?;
                    return Ok(WorkflowTaskCompletion {
                        mutation: m,
                        rejection: Some(CoreError::InvalidArgument(reason.to_string())),
                        reset_history_event_id: 0,
                    });
                }
            },
            Err(Rejected::Request(e)) => return Err(e),
            Err(Rejected::FailTask(f)) => (f, false),
            Err(Rejected::Terminate(f)) => (f, true),
        };
        let attempt = self.workflow_task.as_ref().map_or(1, |w| w.attempt);
        if attempt > 1 && f.cause != WorkflowTaskFailedCause::UnhandledCommand {
            // Temporal drops a failing transient attempt and lets it time out.
            return Err(CoreError::InvalidArgument(f.message));
        }
        let failure = Failure {
            message: f.message.clone(),
            source: String::new(),
            failure_info: Some(FailureInfo::ServerFailureInfo(ServerFailureInfo {
                non_retryable: false,
            })),
            ..Default::default()
        };
        let mut m = Mutation::default();
        if terminate {
            self.record_workflow_task_failed(&mut m, f.cause, Some(failure), &req.identity, now);
            let closed = self.terminate(&f.message, None, HISTORY_SERVICE_IDENTITY, now)?;
            m.events.extend(closed.events);
            m.transfer_tasks.extend(closed.transfer_tasks);
            m.timer_tasks.extend(closed.timer_tasks);
            m.closed = closed.closed;
        } else {
            self.fail_started_workflow_task(&mut m, f.cause, Some(failure), &req.identity, now);
        }
        let rejection = if f.cause == WorkflowTaskFailedCause::UnhandledCommand {
            CoreError::UnhandledCommand
        } else {
            CoreError::InvalidArgument(f.message)
        };
        Ok(WorkflowTaskCompletion {
            mutation: m,
            rejection: Some(rejection),
            reset_history_event_id: 0,
        })
    }

    /// A speculative task whose worker only rejected updates leaves no trace in history: the
    /// task is dropped and the worker told where to roll back to. None when it must be written.
    fn discard_speculative(
        &mut self,
        req: &RespondWorkflowTaskCompletedRequest,
        now: Time,
        pending: &PendingUpdates,
    ) -> Option<WorkflowTaskCompletion> {
        let with_events = req
            .capabilities
            .as_ref()
            .is_some_and(|c| c.discard_speculative_workflow_task_with_events);
        if !self.may_discard_speculative(
            req.commands.len(),
            req.force_create_new_workflow_task,
            &req.messages,
            with_events,
            pending,
        ) {
            return None;
        }
        let mut next = self.clone();
        let mut m = Mutation::default();
        next.workflow_task = None;
        next.apply_sticky_attributes(req);
        for message in &req.messages {
            // A malformed rejection fails the task, which is then written like any other.
            next.apply_update_message(&mut m, message, pending, now)
                .ok()?;
        }
        next.reject_unprocessed(&mut m, pending);
        let reset = next.last_completed_workflow_task_started_event_id;
        *self = next;
        Some(WorkflowTaskCompletion {
            mutation: m,
            rejection: None,
            reset_history_event_id: reset,
        })
    }

    /// The worker says where it wants the next task: its own sticky queue, or (no attributes)
    /// the normal queue. A failure later clears stickiness again.
    fn apply_sticky_attributes(&mut self, req: &RespondWorkflowTaskCompletedRequest) {
        match req
            .sticky_attributes
            .as_ref()
            .and_then(|a| a.worker_task_queue.as_ref().map(|q| (q, a)))
        {
            Some((queue, attrs)) if !queue.name.is_empty() => {
                self.sticky_task_queue = queue.name.clone();
                self.sticky_schedule_to_start_timeout = attrs.schedule_to_start_timeout;
            }
            _ => {
                self.clear_sticky();
            }
        }
    }

    /// Temporal checks the history limits when it persists a change: the stored size, and the
    /// event count including the events about to be written. Only a run still running after
    /// the change is terminated.
    fn history_limit_after(&self, next: &MutableState) -> Option<&'static str> {
        if !next.is_running() {
            return None;
        }
        if self.history_size_bytes > HISTORY_SIZE_LIMIT_ERROR {
            return Some(FAILURE_REASON_HISTORY_SIZE_EXCEEDS_LIMIT);
        }
        if next.history_length() > HISTORY_COUNT_LIMIT_ERROR {
            return Some(FAILURE_REASON_HISTORY_COUNT_EXCEEDS_LIMIT);
        }
        None
    }

    // Deprecated fields are copied on purpose: older SDKs still send them.
    #[allow(deprecated)]
    fn apply_completion(
        &mut self,
        m: &mut Mutation,
        req: &RespondWorkflowTaskCompletedRequest,
        now: Time,
        next_run: &NewRunIds,
        pending: &PendingUpdates,
        bad: &BadSearchAttributes,
    ) -> Result<(), Rejected> {
        let Some(wft) = self.workflow_task.take() else {
            return Err(Rejected::Request(CoreError::workflow_task_not_found()));
        };
        // A transient attempt's events become real only now.
        for event in self.transient_events(&wft) {
            self.write(m, event);
        }
        let completed = self.new_event(
            EventType::WorkflowTaskCompleted,
            now,
            WorkflowTaskCompletedEventAttributes {
                scheduled_event_id: wft.scheduled_event_id,
                started_event_id: wft.started_event_id,
                identity: req.identity.clone(),
                binary_checksum: req.binary_checksum.clone(),
                worker_version: req.worker_version_stamp.clone(),
                sdk_metadata: req.sdk_metadata.clone(),
                metering_metadata: req.metering_metadata,
                deployment: req.deployment.clone(),
                versioning_behavior: req.versioning_behavior,
                ..Default::default()
            },
        );
        let completed_id = self.write(m, completed);
        self.last_completed_workflow_task_started_event_id = wft.started_event_id;
        let build_id = match req.deployment.as_ref() {
            Some(d) => d.build_id.as_str(),
            None => req
                .worker_version_stamp
                .as_ref()
                .map_or("", |v| v.build_id.as_str()),
        };
        let added = self.add_reset_point(&req.binary_checksum, build_id, completed_id, now);
        // Temporal's own search attributes, before the commands (which may upsert others).
        self.record_build_id(req.worker_version_stamp.as_ref());
        if added {
            self.record_binary_checksums(&req.binary_checksum);
        }
        self.apply_sticky_attributes(req);

        let mut messages = Messages::new(&req.messages);
        for (i, command) in req.commands.iter().enumerate() {
            if !self.is_running() {
                // Temporal ignores anything after the first close command.
                break;
            }
            if let Some(message) = bad.get(&i) {
                let run_type = self.workflow_type.as_ref().map_or("", |t| t.name.as_str());
                let message = message
                    .replace(RUN_TASK_QUEUE, &self.task_queue)
                    .replace(RUN_WORKFLOW_TYPE, run_type);
                return fail(WorkflowTaskFailedCause::BadSearchAttributes, message);
            }
            if command.command_type == CommandType::ProtocolMessage as i32 {
                // The message it names is handled here, in command order.
                let Some(Cmd::ProtocolMessageCommandAttributes(a)) = command.attributes.as_ref()
                else {
                    return fail(
                        WorkflowTaskFailedCause::BadUpdateWorkflowExecutionMessage,
                        "ProtocolMessageCommandAttributes is not set on ProtocolMessageCommand.",
                    );
                };
                let Some(message) = messages.take(&a.message_id) else {
                    return fail(
                        WorkflowTaskFailedCause::BadUpdateWorkflowExecutionMessage,
                        format!(
                            "ProtocolMessageCommand referenced absent message ID {}",
                            a.message_id
                        ),
                    );
                };
                self.apply_update_message(m, message, pending, now)?;
                continue;
            }
            let event =
                self.apply_command(m, command, completed_id, &req.identity, now, next_run)?;
            if let (Some(id), Some(meta)) = (event, command.user_metadata.as_ref()) {
                if let Some(e) = m.events.iter_mut().rev().find(|e| e.event_id == id) {
                    e.user_metadata = Some(meta.clone());
                }
            }
        }

        if self.is_running() {
            // Messages no command named, in the order sent; then what the worker ignored.
            for message in messages.take_remaining() {
                self.apply_update_message(m, message, pending, now)?;
            }
            self.reject_unprocessed(m, pending);
        }

        // An activity canceled before it started is news for the workflow code.
        let canceled_unstarted = m.events.iter().any(|e| {
            e.event_id > completed_id && e.event_type == EventType::ActivityTaskCanceled as i32
        });
        if self.is_running()
            && (!self.buffered_events.is_empty()
                || req.force_create_new_workflow_task
                || canceled_unstarted
                || pending.waiting)
        {
            self.schedule_workflow_task(m, now, 1);
        }
        Ok(())
    }

    /// Returns the id of the event the command wrote, if any.
    #[allow(deprecated)]
    fn apply_command(
        &mut self,
        m: &mut Mutation,
        command: &Command,
        completed_id: i64,
        identity: &str,
        now: Time,
        next_run: &NewRunIds,
    ) -> Result<Option<i64>, Rejected> {
        use WorkflowTaskFailedCause as C;
        let unsupported = || {
            Err(Rejected::Request(CoreError::InvalidArgument(format!(
                "Unknown command type: {}",
                command_type_name(command.command_type)
            ))))
        };
        let ct = CommandType::try_from(command.command_type).unwrap_or(CommandType::Unspecified);
        let attrs = command.attributes.as_ref();
        match ct {
            CommandType::ScheduleActivityTask => {
                let Some(Cmd::ScheduleActivityTaskCommandAttributes(a)) = attrs else {
                    return fail(C::BadScheduleActivityAttributes, "ScheduleActivityTaskCommandAttributes is not set on ScheduleActivityTaskCommand.");
                };
                let run_timeout = duration_from_proto(self.run_timeout.as_ref());
                let n = normalize_activity(a, &self.task_queue, run_timeout).map_err(|e| {
                    Rejected::FailTask(TaskFailure::new(C::BadScheduleActivityAttributes, e))
                })?;
                if encoded_size(a.input.as_ref()) > BLOB_SIZE_LIMIT_ERROR {
                    return terminate(
                        C::BadScheduleActivityAttributes,
                        "ScheduleActivityTaskCommandAttributes.Input exceeds size limit.",
                    );
                }
                let pending = self.activities.len();
                if pending >= NUM_PENDING_ACTIVITIES_LIMIT {
                    return fail(
                        C::PendingActivitiesLimitExceeded,
                        format!("the number of pending activities, {pending}, has reached the per-workflow limit of {NUM_PENDING_ACTIVITIES_LIMIT}"),
                    );
                }
                if self.activity_by_id(&a.activity_id).is_some() {
                    return fail(
                        C::ScheduleActivityDuplicateId,
                        format!("Activity ID already exists. ActivityId={}", a.activity_id),
                    );
                }
                let event = self.new_event(
                    EventType::ActivityTaskScheduled,
                    now,
                    ActivityTaskScheduledEventAttributes {
                        activity_id: a.activity_id.clone(),
                        activity_type: a.activity_type.clone(),
                        task_queue: Some(crate::state::normal_task_queue(&n.task_queue)),
                        header: a.header.clone(),
                        input: a.input.clone(),
                        schedule_to_close_timeout: Some(n.schedule_to_close),
                        schedule_to_start_timeout: Some(n.schedule_to_start),
                        start_to_close_timeout: Some(n.start_to_close),
                        heartbeat_timeout: Some(n.heartbeat),
                        workflow_task_completed_event_id: completed_id,
                        retry_policy: Some(n.retry_policy.clone()),
                        use_workflow_build_id: a.use_workflow_build_id,
                        priority: a.priority.clone(),
                    },
                );
                let id = self.write(m, event);
                let info = ActivityInfo {
                    scheduled_event_id: id,
                    activity_id: a.activity_id.clone(),
                    activity_type: a.activity_type.clone(),
                    input: a.input.clone(),
                    header: a.header.clone(),
                    task_queue: n.task_queue.clone(),
                    schedule_to_close_timeout: Some(n.schedule_to_close),
                    schedule_to_start_timeout: Some(n.schedule_to_start),
                    start_to_close_timeout: Some(n.start_to_close),
                    heartbeat_timeout: Some(n.heartbeat),
                    retry_policy: Some(n.retry_policy.clone()),
                    attempt: 1,
                    scheduled_time: now.0,
                    first_scheduled_time: now.0,
                    stamp: 1,
                    workflow_task_completed_event_id: completed_id,
                    ..Default::default()
                };
                self.schedule_activity(m, info, now);
                Ok(Some(id))
            }
            CommandType::StartTimer => {
                let Some(Cmd::StartTimerCommandAttributes(a)) = attrs else {
                    return fail(
                        C::BadStartTimerAttributes,
                        "StartTimerCommandAttributes is not set on StartTimerCommand.",
                    );
                };
                if a.timer_id.is_empty() {
                    return fail(
                        C::BadStartTimerAttributes,
                        "TimerId is not set on StartTimerCommand.",
                    );
                }
                if a.timer_id.len() > MAX_ID_LENGTH {
                    return fail(
                        C::BadStartTimerAttributes,
                        format!("TimerId on StartTimerCommand exceeds length limit. TimerId={} Length={} Limit={MAX_ID_LENGTH}", a.timer_id, a.timer_id.len()),
                    );
                }
                if is_negative(a.start_to_fire_timeout.as_ref()) {
                    return fail(
                        C::BadStartTimerAttributes,
                        format!("An invalid StartToFireTimeout is set on StartTimerCommand: negative duration. TimerId={}", a.timer_id),
                    );
                }
                if self.timers.contains_key(&a.timer_id) {
                    return fail(
                        C::StartTimerDuplicateId,
                        format!("invalid history builder state for action: add-timer-started-event, TimerId={}", a.timer_id),
                    );
                }
                let event = self.new_event(
                    EventType::TimerStarted,
                    now,
                    TimerStartedEventAttributes {
                        timer_id: a.timer_id.clone(),
                        start_to_fire_timeout: a.start_to_fire_timeout,
                        workflow_task_completed_event_id: completed_id,
                    },
                );
                let id = self.write(m, event);
                let expiry = now.add(duration_from_proto(a.start_to_fire_timeout.as_ref()));
                self.timers.insert(
                    a.timer_id.clone(),
                    TimerInfo {
                        timer_id: a.timer_id.clone(),
                        started_event_id: id,
                        expiry_time: expiry.0,
                    },
                );
                let t = self.timer_task(
                    expiry,
                    timer_task::Kind::UserTimer(UserTimer {
                        timer_id: a.timer_id.clone(),
                        started_event_id: id,
                    }),
                );
                m.timer_tasks.push(t);
                Ok(Some(id))
            }
            CommandType::CancelTimer => {
                let Some(Cmd::CancelTimerCommandAttributes(a)) = attrs else {
                    return fail(
                        C::BadCancelTimerAttributes,
                        "CancelTimerCommandAttributes is not set on CancelTimerCommand.",
                    );
                };
                if a.timer_id.is_empty() {
                    return fail(
                        C::BadCancelTimerAttributes,
                        "TimerId is not set on CancelTimerCommand.",
                    );
                }
                if a.timer_id.len() > MAX_ID_LENGTH {
                    return fail(
                        C::BadCancelTimerAttributes,
                        format!("TimerId on CancelTimerCommand exceeds length limit. TimerId={} Length={} Limit={MAX_ID_LENGTH}", a.timer_id, a.timer_id.len()),
                    );
                }
                let started_event_id = if let Some(t) = self.timers.remove(&a.timer_id) {
                    t.started_event_id
                } else if let Some(pos) = self.buffered_timer_fired(&a.timer_id) {
                    // Fired while this task ran: the cancel wins and the TimerFired is dropped.
                    let ev = self.buffered_events.remove(pos);
                    match ev.attributes {
                        Some(Attributes::TimerFiredEventAttributes(f)) => f.started_event_id,
                        _ => 0,
                    }
                } else {
                    return fail(
                        C::BadCancelTimerAttributes,
                        format!("invalid history builder state for action: add-timer-canceled-event, TimerId={}", a.timer_id),
                    );
                };
                let event = self.new_event(
                    EventType::TimerCanceled,
                    now,
                    TimerCanceledEventAttributes {
                        timer_id: a.timer_id.clone(),
                        started_event_id,
                        workflow_task_completed_event_id: completed_id,
                        identity: identity.to_string(),
                    },
                );
                Ok(Some(self.write(m, event)))
            }
            CommandType::RecordMarker => {
                let Some(Cmd::RecordMarkerCommandAttributes(a)) = attrs else {
                    return fail(
                        C::BadRecordMarkerAttributes,
                        "RecordMarkerCommandAttributes is not set on RecordMarkerCommand.",
                    );
                };
                if a.marker_name.is_empty() {
                    return fail(
                        C::BadRecordMarkerAttributes,
                        "MarkerName is not set on RecordMarkerCommand.",
                    );
                }
                if a.marker_name.len() > MAX_ID_LENGTH {
                    return fail(
                        C::BadRecordMarkerAttributes,
                        format!("MarkerName on RecordMarkerCommand exceeds length limit. MarkerName={} Length={} Limit={MAX_ID_LENGTH}", a.marker_name, a.marker_name.len()),
                    );
                }
                if payloads_map_size(&a.details) > BLOB_SIZE_LIMIT_ERROR {
                    return terminate(
                        C::BadRecordMarkerAttributes,
                        "RecordMarkerCommandAttributes.Details exceeds size limit.",
                    );
                }
                let event = self.new_event(
                    EventType::MarkerRecorded,
                    now,
                    MarkerRecordedEventAttributes {
                        marker_name: a.marker_name.clone(),
                        details: a.details.clone(),
                        workflow_task_completed_event_id: completed_id,
                        header: a.header.clone(),
                        failure: a.failure.clone(),
                    },
                );
                Ok(Some(self.write(m, event)))
            }
            CommandType::CompleteWorkflowExecution => {
                if !self.buffered_events.is_empty() {
                    return fail(C::UnhandledCommand, "");
                }
                let Some(Cmd::CompleteWorkflowExecutionCommandAttributes(a)) = attrs else {
                    return fail(C::BadCompleteWorkflowExecutionAttributes, "CompleteWorkflowExecutionCommandAttributes is not set on CompleteWorkflowExecutionCommand.");
                };
                if encoded_size(a.result.as_ref()) > BLOB_SIZE_LIMIT_ERROR {
                    // Temporal reports this cause for an oversized result; keep its wording.
                    return terminate(
                        C::BadScheduleActivityAttributes,
                        "CompleteWorkflowExecutionCommandAttributes.Result exceeds size limit.",
                    );
                }
                // A cron schedule starts its next run, which sees this result.
                let cron = self.cron_backoff(now);
                if cron.is_some() && next_run.run_id.is_empty() {
                    return Err(Rejected::Request(CoreError::InvalidArgument(
                        "Invalid RunId.".into(),
                    )));
                }
                let event = self.new_event(
                    EventType::WorkflowExecutionCompleted,
                    now,
                    WorkflowExecutionCompletedEventAttributes {
                        result: a.result.clone(),
                        workflow_task_completed_event_id: completed_id,
                        new_execution_run_id: cron
                            .map(|_| next_run.run_id.clone())
                            .unwrap_or_default(),
                    },
                );
                self.close(m, WorkflowExecutionStatus::Completed, event, now);
                if let Some(backoff) = cron {
                    let chain = Chain {
                        initiator: ContinueAsNewInitiator::CronSchedule,
                        continued_failure: None,
                        last_completion_result: a.result.clone(),
                        backoff,
                    };
                    self.start_next_run(m, chain, now, next_run);
                }
                Ok(Some(self.completion_event_id))
            }
            CommandType::FailWorkflowExecution => {
                if !self.buffered_events.is_empty() {
                    return fail(C::UnhandledCommand, "");
                }
                let Some(Cmd::FailWorkflowExecutionCommandAttributes(a)) = attrs else {
                    return fail(C::BadFailWorkflowExecutionAttributes, "FailWorkflowExecutionCommandAttributes is not set on FailWorkflowExecutionCommand.");
                };
                if a.failure.is_none() {
                    return fail(
                        C::BadFailWorkflowExecutionAttributes,
                        "Failure is not set on FailWorkflowExecutionCommand.",
                    );
                }
                if encoded_size(a.failure.as_ref()) > BLOB_SIZE_LIMIT_ERROR {
                    return terminate(
                        C::BadFailWorkflowExecutionAttributes,
                        "FailWorkflowExecutionCommandAttributes.Failure exceeds size limit.",
                    );
                }
                // The retry policy decides whether this also starts the next attempt.
                let failure = RunFailure::Failed {
                    failure: a.failure.clone().unwrap_or_default(),
                    workflow_task_completed_event_id: completed_id,
                };
                self.close_failed(m, failure, now, next_run)
                    .map_err(Rejected::Request)?;
                Ok(Some(self.completion_event_id))
            }
            CommandType::RequestCancelActivityTask => {
                self.request_cancel_activity_command(m, attrs, completed_id, now)
            }
            CommandType::CancelWorkflowExecution => {
                self.cancel_workflow_command(m, attrs, completed_id, now)
            }
            CommandType::ContinueAsNewWorkflowExecution => {
                self.continue_as_new_command(m, attrs, completed_id, now, next_run)
            }
            CommandType::StartChildWorkflowExecution => {
                self.start_child_command(m, attrs, completed_id, now)
            }
            CommandType::SignalExternalWorkflowExecution
            | CommandType::RequestCancelExternalWorkflowExecution => {
                self.external_command(m, attrs, completed_id, now)
            }
            CommandType::UpsertWorkflowSearchAttributes => {
                let Some(Cmd::UpsertWorkflowSearchAttributesCommandAttributes(a)) = attrs else {
                    return fail(C::BadSearchAttributes, "UpsertWorkflowSearchAttributesCommandAttributes is not set on UpsertWorkflowSearchAttributesCommand.");
                };
                let upsert = a.search_attributes.clone().unwrap_or_default();
                if payload_map_size(&upsert.indexed_fields) > BLOB_SIZE_LIMIT_ERROR {
                    return terminate(
                        C::BadSearchAttributes,
                        "UpsertWorkflowSearchAttributesCommandAttributes exceeds size limit.",
                    );
                }
                let merged = self
                    .search_attributes
                    .get_or_insert_with(SearchAttributes::default);
                merge_payloads(&mut merged.indexed_fields, &upsert.indexed_fields);
                let event = self.new_event(
                    EventType::UpsertWorkflowSearchAttributes,
                    now,
                    UpsertWorkflowSearchAttributesEventAttributes {
                        workflow_task_completed_event_id: completed_id,
                        search_attributes: Some(upsert),
                    },
                );
                Ok(Some(self.write(m, event)))
            }
            CommandType::ModifyWorkflowProperties => {
                let Some(Cmd::ModifyWorkflowPropertiesCommandAttributes(a)) = attrs else {
                    return fail(C::BadModifyWorkflowPropertiesAttributes, "ModifyWorkflowPropertiesCommandAttributes is not set on ModifyWorkflowPropertiesCommand.");
                };
                if let Some(upsert) = &a.upserted_memo {
                    if payload_map_size(&upsert.fields) > BLOB_SIZE_LIMIT_ERROR {
                        return terminate(
                            C::BadModifyWorkflowPropertiesAttributes,
                            "ModifyWorkflowPropertiesCommandAttributes exceeds size limit.",
                        );
                    }
                    let mut memo = self.memo.clone().unwrap_or_default();
                    merge_payloads(&mut memo.fields, &upsert.fields);
                    if encoded_size(Some(&memo)) > MEMO_SIZE_LIMIT_ERROR {
                        return terminate(
                            C::BadModifyWorkflowPropertiesAttributes,
                            "ModifyWorkflowPropertiesCommandAttributes. Memo exceeds size limit.",
                        );
                    }
                    self.memo = Some(memo);
                }
                let event = self.new_event(
                    EventType::WorkflowPropertiesModified,
                    now,
                    WorkflowPropertiesModifiedEventAttributes {
                        workflow_task_completed_event_id: completed_id,
                        upserted_memo: a.upserted_memo.clone(),
                    },
                );
                Ok(Some(self.write(m, event)))
            }
            _ => unsupported(),
        }
    }

    fn buffered_timer_fired(&self, timer_id: &str) -> Option<usize> {
        self.buffered_events.iter().position(|e| {
            matches!(&e.attributes, Some(Attributes::TimerFiredEventAttributes(f)) if f.timer_id == timer_id)
        })
    }

    /// Hands the current attempt of an activity to matching and arms its schedule-to-start
    /// timeout.
    /// Dispatches a scheduled activity's attempt, arms its schedule-to-close timeout (which
    /// spans every attempt) and keeps it as pending.
    pub(crate) fn schedule_activity(&mut self, m: &mut Mutation, info: ActivityInfo, now: Time) {
        self.dispatch_activity_attempt(m, &info, now);
        let s2c = duration_from_proto(info.schedule_to_close_timeout.as_ref());
        if !s2c.is_zero() {
            let t = self.timer_task(
                now.add(s2c),
                timer_task::Kind::ActivityTimeout(TaskTimeout {
                    scheduled_event_id: info.scheduled_event_id,
                    attempt: info.attempt,
                    stamp: info.stamp,
                    timeout_type: TimeoutType::ScheduleToClose as i32,
                }),
            );
            m.timer_tasks.push(t);
        }
        self.activities.insert(info.scheduled_event_id, info);
    }

    pub(crate) fn dispatch_activity_attempt(
        &self,
        m: &mut Mutation,
        info: &ActivityInfo,
        now: Time,
    ) {
        let task = self.transfer_task(
            info.task_queue.clone(),
            transfer_task::Kind::ActivityTask(TaskRef {
                scheduled_event_id: info.scheduled_event_id,
                attempt: info.attempt,
                stamp: info.stamp,
            }),
        );
        m.transfer_tasks.push(task);
        let s2s = duration_from_proto(info.schedule_to_start_timeout.as_ref());
        if !s2s.is_zero() {
            let t = self.timer_task(
                now.add(s2s),
                timer_task::Kind::ActivityTimeout(TaskTimeout {
                    scheduled_event_id: info.scheduled_event_id,
                    attempt: info.attempt,
                    stamp: info.stamp,
                    timeout_type: TimeoutType::ScheduleToStart as i32,
                }),
            );
            m.timer_tasks.push(t);
        }
    }
}

pub(crate) enum Rejected {
    /// Reject the request; persist nothing.
    Request(CoreError),
    /// Fail the workflow task (persisted) and report the error.
    FailTask(TaskFailure),
    /// Fail the workflow task, then terminate the run with the failure's message (Temporal's
    /// answer to payloads over the size limit), and report the error.
    Terminate(TaskFailure),
}

pub(crate) fn fail<T>(
    cause: WorkflowTaskFailedCause,
    detail: impl Into<String>,
) -> Result<T, Rejected> {
    Err(Rejected::FailTask(TaskFailure::new(cause, detail)))
}

pub(crate) fn terminate<T>(
    cause: WorkflowTaskFailedCause,
    detail: impl Into<String>,
) -> Result<T, Rejected> {
    Err(Rejected::Terminate(TaskFailure::new(cause, detail)))
}

/// Close commands must be last and every command type must be known (Temporal's
/// ValidateCommandSequence); violations reject the request without failing the task.
fn validate_command_sequence(commands: &[Command]) -> Result<(), CoreError> {
    let mut close: Option<i32> = None;
    for c in commands {
        if let Some(close) = close {
            let names: Vec<String> = commands
                .iter()
                .map(|c| command_type_name(c.command_type))
                .collect();
            return Err(CoreError::InvalidArgument(format!(
                "invalid command sequence: [{}], command {} must be the last command.",
                names.join(", "),
                command_type_name(close)
            )));
        }
        match CommandType::try_from(c.command_type) {
            Ok(CommandType::CompleteWorkflowExecution)
            | Ok(CommandType::FailWorkflowExecution)
            | Ok(CommandType::CancelWorkflowExecution)
            | Ok(CommandType::ContinueAsNewWorkflowExecution) => close = Some(c.command_type),
            Ok(CommandType::Unspecified) | Err(_) => {
                return Err(CoreError::InvalidArgument(format!(
                    "unknown command type: {}",
                    command_type_name(c.command_type)
                )))
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// Temporal's `payload.MergeMapOfPayload`, how search attribute and memo upserts apply: a key
/// upserted with a null value (`binary/null`, no data) or an empty JSON list is removed, any
/// other value replaces the old one.
fn merge_payloads(
    into: &mut std::collections::HashMap<String, Payload>,
    upsert: &std::collections::HashMap<String, Payload>,
) {
    for (k, v) in upsert {
        if is_nil_or_empty_list(v) {
            into.remove(k);
        } else {
            into.insert(k.clone(), v.clone());
        }
    }
}

fn is_nil_or_empty_list(p: &Payload) -> bool {
    let only_encoding = |encoding: &[u8]| {
        p.metadata.len() == 1 && p.metadata.get("encoding").map(Vec::as_slice) == Some(encoding)
    };
    (only_encoding(b"binary/null") && p.data.is_empty())
        || (only_encoding(b"json/plain") && p.data == b"[]")
}

#[cfg(test)]
mod merge_tests {
    use std::collections::HashMap;

    use super::*;

    fn payload(encoding: &str, data: &[u8]) -> Payload {
        Payload {
            metadata: HashMap::from([("encoding".to_string(), encoding.as_bytes().to_vec())]),
            data: data.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn an_upserted_null_or_empty_list_removes_the_key() {
        let mut into = HashMap::from([
            ("a".to_string(), payload("json/plain", b"1")),
            ("b".to_string(), payload("json/plain", b"2")),
            ("c".to_string(), payload("json/plain", b"3")),
        ]);
        let upsert = HashMap::from([
            ("a".to_string(), payload("binary/null", b"")),
            ("b".to_string(), payload("json/plain", b"[]")),
            ("c".to_string(), payload("json/plain", b"4")),
            ("d".to_string(), payload("json/plain", b"null")),
        ]);
        merge_payloads(&mut into, &upsert);
        let mut keys: Vec<_> = into.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["c", "d"]);
        assert_eq!(into["c"].data, b"4");
    }
}
