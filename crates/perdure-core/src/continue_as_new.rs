//! The ContinueAsNewWorkflowExecution command: the run closes ContinuedAsNew and its successor,
//! a new run of the same workflow id, is created in the same write (Temporal's
//! AddContinueAsNewEvent). Unset attributes default to the closing run's (type, task queue,
//! run and task timeouts); input, header, memo, search attributes, retry policy and cron
//! schedule are the command's; the execution timeout and deadline, the first run id and the
//! links of the original start carry over.
//!
//! Like every close command it is refused with UnhandledCommand while events are buffered.

use temporalio_protos::temporal::api::{
    command::v1::{command::Attributes as Cmd, ContinueAsNewWorkflowExecutionCommandAttributes},
    common::v1::WorkflowType,
    enums::v1::{
        ContinueAsNewInitiator, EventType, WorkflowExecutionStatus, WorkflowTaskFailedCause,
    },
    history::v1::{
        history_event::Attributes, WorkflowExecutionContinuedAsNewEventAttributes,
        WorkflowExecutionStartedEventAttributes,
    },
};

use crate::activity_options::{retry_policy_with_defaults, validate_retry_policy};
use crate::limits::{encoded_size, BLOB_SIZE_LIMIT_ERROR, MAX_ID_LENGTH, MEMO_SIZE_LIMIT_ERROR};
use crate::start::{DEFAULT_WORKFLOW_TASK_TIMEOUT, MAX_WORKFLOW_TASK_TIMEOUT};
use crate::state::{normal_task_queue, MutableState};
use crate::tasks::{Mutation, NewRun};
use crate::time::{duration_from_proto, duration_to_proto, is_negative, Time};
use crate::workflow_retry::NewRunIds;
use crate::workflow_task_completed::{fail, terminate, Rejected};

const CAUSE: WorkflowTaskFailedCause = WorkflowTaskFailedCause::BadContinueAsNewAttributes;

impl MutableState {
    /// Applies the command: writes WorkflowExecutionContinuedAsNew, closes this run and puts
    /// its successor (named by `next_run`) in `m.new_run`.
    pub(crate) fn continue_as_new_command(
        &mut self,
        m: &mut Mutation,
        attrs: Option<&Cmd>,
        completed_id: i64,
        now: Time,
        next_run: &NewRunIds,
    ) -> Result<Option<i64>, Rejected> {
        if !self.buffered_events.is_empty() {
            return fail(WorkflowTaskFailedCause::UnhandledCommand, "");
        }
        let Some(Cmd::ContinueAsNewWorkflowExecutionCommandAttributes(a)) = attrs else {
            return fail(CAUSE, "ContinueAsNewWorkflowExecutionCommandAttributes is not set on ContinueAsNewWorkflowExecutionCommand.");
        };
        let a = self.continue_as_new_defaults(a)?;
        if encoded_size(a.input.as_ref()) > BLOB_SIZE_LIMIT_ERROR {
            return terminate(
                CAUSE,
                "ContinueAsNewWorkflowExecutionCommandAttributes. Input exceeds size limit.",
            );
        }
        if encoded_size(a.memo.as_ref()) > MEMO_SIZE_LIMIT_ERROR {
            return terminate(
                CAUSE,
                "ContinueAsNewWorkflowExecutionCommandAttributes. Memo exceeds size limit.",
            );
        }
        if next_run.run_id.is_empty() {
            return Err(Rejected::Request(crate::CoreError::InvalidArgument(
                "Invalid RunId.".into(),
            )));
        }
        // Deprecated fields Temporal still fills (SDKs read the failure from here).
        #[allow(deprecated)]
        let legacy = WorkflowExecutionContinuedAsNewEventAttributes {
            failure: a.failure.clone(),
            inherit_build_id: a.inherit_build_id,
            ..Default::default()
        };
        let event = self.new_event(
            EventType::WorkflowExecutionContinuedAsNew,
            now,
            WorkflowExecutionContinuedAsNewEventAttributes {
                new_execution_run_id: next_run.run_id.clone(),
                workflow_type: a.workflow_type.clone(),
                task_queue: a.task_queue.clone(),
                input: a.input.clone(),
                workflow_run_timeout: a.workflow_run_timeout,
                workflow_task_timeout: a.workflow_task_timeout,
                workflow_task_completed_event_id: completed_id,
                backoff_start_interval: a.backoff_start_interval,
                initiator: a.initiator,
                last_completion_result: a.last_completion_result.clone(),
                header: a.header.clone(),
                memo: a.memo.clone(),
                search_attributes: a.search_attributes.clone(),
                ..legacy
            },
        );
        self.close(m, WorkflowExecutionStatus::ContinuedAsNew, event, now);
        let (state, mutation) = self.successor(&a, now, next_run);
        m.new_run = Some(Box::new(NewRun { state, mutation }));
        Ok(Some(self.completion_event_id))
    }

    /// The command's attributes with Temporal's defaults filled in and checked
    /// (ValidateContinueAsNewWorkflowExecutionAttributes); these also go into the event.
    fn continue_as_new_defaults(
        &self,
        a: &ContinueAsNewWorkflowExecutionCommandAttributes,
    ) -> Result<ContinueAsNewWorkflowExecutionCommandAttributes, Rejected> {
        let mut a = a.clone();
        if a.workflow_type.as_ref().is_none_or(|t| t.name.is_empty()) {
            a.workflow_type = Some(self.workflow_type.clone().unwrap_or_default());
        }
        let type_name = a
            .workflow_type
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default();
        if type_name.len() > MAX_ID_LENGTH {
            return fail(
                CAUSE,
                format!(
                    "WorkflowType on ContinueAsNewWorkflowExecutionCommand exceeds length limit. WorkflowType={type_name} Length={} Limit={MAX_ID_LENGTH}",
                    type_name.len()
                ),
            );
        }
        let queue = match a.task_queue.as_ref().map(|q| q.name.as_str()) {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => self.task_queue.clone(),
        };
        if queue.len() > MAX_ID_LENGTH {
            return fail(CAUSE, "TaskQueue length exceeds limit.");
        }
        a.task_queue = Some(normal_task_queue(&queue));
        for (value, name) in [
            (a.workflow_run_timeout.as_ref(), "WorkflowRunTimeout"),
            (a.workflow_task_timeout.as_ref(), "WorkflowTaskTimeout"),
            (a.backoff_start_interval.as_ref(), "BackoffStartInterval"),
        ] {
            if is_negative(value) {
                return fail(
                    CAUSE,
                    format!("Invalid {name} on ContinueAsNewWorkflowExecutionCommand: negative duration. WorkflowType={type_name} TaskQueue={queue}"),
                );
            }
        }
        let mut run_timeout = duration_from_proto(a.workflow_run_timeout.as_ref());
        if run_timeout.is_zero() {
            run_timeout = duration_from_proto(self.run_timeout.as_ref());
        }
        let execution_timeout = duration_from_proto(self.execution_timeout.as_ref());
        if !execution_timeout.is_zero()
            && (run_timeout.is_zero() || run_timeout > execution_timeout)
        {
            run_timeout = execution_timeout;
        }
        let mut task_timeout = duration_from_proto(a.workflow_task_timeout.as_ref());
        if task_timeout.is_zero() {
            task_timeout = duration_from_proto(self.task_timeout.as_ref());
        }
        if task_timeout.is_zero() {
            task_timeout = DEFAULT_WORKFLOW_TASK_TIMEOUT;
        }
        task_timeout = task_timeout.min(MAX_WORKFLOW_TASK_TIMEOUT);
        if !run_timeout.is_zero() {
            task_timeout = task_timeout.min(run_timeout);
        }
        a.workflow_run_timeout = Some(duration_to_proto(run_timeout));
        a.workflow_task_timeout = Some(duration_to_proto(task_timeout));
        if let Some(policy) = a.retry_policy.as_ref() {
            let policy = retry_policy_with_defaults(Some(policy));
            if let Err(e) = validate_retry_policy(&policy) {
                return fail(
                    CAUSE,
                    format!("invalid WorkflowRetryPolicy on ContinueAsNewWorkflowExecutionCommand: {e}. WorkflowType={type_name} TaskQueue={queue}"),
                );
            }
            a.retry_policy = Some(policy);
        }
        Ok(a)
    }

    /// The new run, as Temporal's addWorkflowExecutionStartedEventForContinueAsNew builds it.
    fn successor(
        &self,
        a: &ContinueAsNewWorkflowExecutionCommandAttributes,
        now: Time,
        ids: &NewRunIds,
    ) -> (MutableState, Mutation) {
        let (links, priority) = match self.started_event.as_ref() {
            Some(e) => match &e.attributes {
                Some(Attributes::WorkflowExecutionStartedEventAttributes(s)) => {
                    (e.links.clone(), s.priority.clone())
                }
                _ => (e.links.clone(), None),
            },
            None => (Vec::new(), None),
        };
        let initiator = match ContinueAsNewInitiator::try_from(a.initiator) {
            Ok(ContinueAsNewInitiator::Unspecified) | Err(_) => ContinueAsNewInitiator::Workflow,
            Ok(i) => i,
        };
        let attempt = if initiator == ContinueAsNewInitiator::Retry {
            self.attempt.max(1) + 1
        } else {
            1
        };
        let backoff = self.spaced_backoff(
            duration_from_proto(a.backoff_start_interval.as_ref()),
            now,
            ids.min_interval,
        );
        let expiration = Time(self.execution_expiration_time);
        let started = WorkflowExecutionStartedEventAttributes {
            workflow_type: a
                .workflow_type
                .clone()
                .or_else(|| Some(WorkflowType::default())),
            task_queue: a.task_queue.clone(),
            input: a.input.clone(),
            header: a.header.clone(),
            workflow_execution_timeout: self.execution_timeout,
            workflow_run_timeout: a.workflow_run_timeout,
            workflow_task_timeout: a.workflow_task_timeout,
            continued_execution_run_id: self.run_id.clone(),
            initiator: initiator as i32,
            continued_failure: a.failure.clone(),
            last_completion_result: a.last_completion_result.clone(),
            original_execution_run_id: ids.run_id.clone(),
            first_execution_run_id: self.first_execution_run_id.clone(),
            retry_policy: a.retry_policy.clone(),
            attempt,
            workflow_execution_expiration_time: expiration.to_timestamp_opt(),
            cron_schedule: a.cron_schedule.clone(),
            first_workflow_task_backoff: Some(duration_to_proto(backoff)),
            memo: a.memo.clone(),
            search_attributes: a.search_attributes.clone(),
            workflow_id: self.workflow_id.clone(),
            // Temporal copies the run's priority, an empty message when none was set.
            priority: Some(priority.unwrap_or_default()),
            ..Default::default()
        };
        self.create_successor(started, links, backoff, now, ids)
    }
}
