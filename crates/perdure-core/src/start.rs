//! Starting a run: normalizing the request the way Temporal does, writing
//! WorkflowExecutionStarted + the first WorkflowTaskScheduled (or the backoff timer before it,
//! for a retry: `create_run` is shared with `workflow_retry`), and deciding what a start
//! request means when the workflow id is already in use (`decide_start`).

use std::time::Duration;

use temporalio_protos::temporal::api::{
    common::v1::{Link, WorkflowExecution},
    enums::v1::{
        ContinueAsNewInitiator, EventType, WorkflowExecutionStatus, WorkflowIdConflictPolicy,
        WorkflowIdReusePolicy,
    },
    history::v1::WorkflowExecutionStartedEventAttributes,
    sdk::v1::UserMetadata,
    workflowservice::v1::StartWorkflowExecutionRequest,
};

use crate::activity_options::{retry_policy_with_defaults, validate_retry_policy};
use crate::child::ParentExecution;
use crate::cron::CronSchedule;
use crate::errors::CoreError;
use crate::retention::DEFAULT_RETENTION;
use crate::signal::Signal;
use crate::state::{normal_task_queue, MutableState};
use crate::tasks::{timer_task, Mutation, RunTimeout};
use crate::time::{duration_from_proto, duration_to_proto, is_negative, Time};

/// Temporal's namespace default for the workflow task timeout.
pub const DEFAULT_WORKFLOW_TASK_TIMEOUT: Duration = Duration::from_secs(10);
/// Temporal caps workflow task timeouts at two minutes.
pub const MAX_WORKFLOW_TASK_TIMEOUT: Duration = Duration::from_secs(120);

/// A start request plus the ids the caller allocated for the new run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartParams {
    pub request: StartWorkflowExecutionRequest,
    pub namespace_id: String,
    pub run_id: String,
    /// Empty means "this run is the first of its chain" (= run_id).
    pub first_execution_run_id: String,
    /// 0 is treated as 1.
    pub attempt: i32,
    /// The namespace's workflow_execution_retention_ttl: the run is deleted this long after
    /// it closes. `None` means `DEFAULT_RETENTION`.
    pub retention: Option<Duration>,
    /// Set when a parent workflow starts this run as its child.
    pub parent: Option<ParentExecution>,
}

/// The current run of a workflow id, as the history layer's index remembers it.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CurrentExecution {
    #[prost(string, tag = "1")]
    pub run_id: String,
    #[prost(string, tag = "2")]
    pub start_request_id: String,
    /// RUNNING, or the close status.
    #[prost(enumeration = "WorkflowExecutionStatus", tag = "3")]
    pub status: i32,
    /// The first run of the current run's chain (continue-as-new, retries, cron), which starts
    /// answer and AlreadyStarted names. Empty in pointers written before it was kept: the
    /// history layer then reads it from the run.
    #[prost(string, tag = "4")]
    pub first_execution_run_id: String,
}

/// The parts of a start request that decide how to treat an existing run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartPolicyInput {
    /// Named in the error when the start is refused.
    pub workflow_id: String,
    pub request_id: String,
    /// `WorkflowIdReusePolicy` as i32.
    pub reuse_policy: i32,
    /// `WorkflowIdConflictPolicy` as i32.
    pub conflict_policy: i32,
}

impl StartPolicyInput {
    pub fn from_request(req: &StartWorkflowExecutionRequest) -> StartPolicyInput {
        StartPolicyInput {
            workflow_id: req.workflow_id.clone(),
            request_id: req.request_id.clone(),
            reuse_policy: req.workflow_id_reuse_policy,
            conflict_policy: req.workflow_id_conflict_policy,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StartDecision {
    Start,
    /// Answer with the existing run (same request id, or USE_EXISTING).
    ReturnExisting {
        run_id: String,
    },
    Fail(CoreError),
    /// Terminate `run_id` (see `MutableState::terminate`), then start.
    TerminateExistingThenStart {
        run_id: String,
    },
}

/// Applies Temporal's request-id dedup, then the conflict policy for a running workflow or
/// the reuse policy for a closed one (history/api/workflow_id_dedup.go).
#[allow(deprecated)] // TERMINATE_IF_RUNNING is deprecated but clients still send it.
pub fn decide_start(current: Option<&CurrentExecution>, req: &StartPolicyInput) -> StartDecision {
    let Some(current) = current else {
        return StartDecision::Start;
    };
    if !req.request_id.is_empty() && req.request_id == current.start_request_id {
        return StartDecision::ReturnExisting {
            run_id: current.run_id.clone(),
        };
    }
    let already_started = || {
        StartDecision::Fail(CoreError::AlreadyStarted {
            workflow_id: req.workflow_id.clone(),
            run_id: current.run_id.clone(),
            request_id: current.start_request_id.clone(),
            first_execution_run_id: current.first_execution_run_id.clone(),
        })
    };
    let mut reuse = WorkflowIdReusePolicy::try_from(req.reuse_policy)
        .unwrap_or(WorkflowIdReusePolicy::Unspecified);
    let mut conflict = WorkflowIdConflictPolicy::try_from(req.conflict_policy)
        .unwrap_or(WorkflowIdConflictPolicy::Unspecified);
    if reuse == WorkflowIdReusePolicy::TerminateIfRunning {
        if conflict != WorkflowIdConflictPolicy::Unspecified {
            return StartDecision::Fail(CoreError::InvalidArgument(
                "Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING cannot be used together with a WorkflowIDConflictPolicy.".into(),
            ));
        }
        // The frontend rewrites this legacy policy the same way.
        reuse = WorkflowIdReusePolicy::AllowDuplicate;
        conflict = WorkflowIdConflictPolicy::TerminateExisting;
    }
    if reuse == WorkflowIdReusePolicy::Unspecified {
        reuse = WorkflowIdReusePolicy::AllowDuplicate;
    }
    if conflict == WorkflowIdConflictPolicy::Unspecified {
        conflict = WorkflowIdConflictPolicy::Fail;
    }

    if current.status == WorkflowExecutionStatus::Running as i32 {
        return match conflict {
            WorkflowIdConflictPolicy::UseExisting => StartDecision::ReturnExisting {
                run_id: current.run_id.clone(),
            },
            WorkflowIdConflictPolicy::TerminateExisting => {
                StartDecision::TerminateExistingThenStart {
                    run_id: current.run_id.clone(),
                }
            }
            _ => already_started(),
        };
    }
    match reuse {
        WorkflowIdReusePolicy::RejectDuplicate => already_started(),
        WorkflowIdReusePolicy::AllowDuplicateFailedOnly => {
            let failed = [
                WorkflowExecutionStatus::Failed,
                WorkflowExecutionStatus::Canceled,
                WorkflowExecutionStatus::Terminated,
                WorkflowExecutionStatus::TimedOut,
            ]
            .iter()
            .any(|s| *s as i32 == current.status);
            if failed {
                StartDecision::Start
            } else {
                already_started()
            }
        }
        _ => StartDecision::Start,
    }
}

/// Creates a run. Returns the fresh state and its first mutation (Started, Scheduled, a
/// workflow task for matching and the run/execution timeout timers).
pub fn start_workflow(p: StartParams, now: Time) -> Result<(MutableState, Mutation), CoreError> {
    start_run(p, None, now)
}

/// SignalWithStartWorkflowExecution's new run: like [`start_workflow`], with the signal
/// recorded right after WorkflowExecutionStarted, before the first workflow task is scheduled
/// (so that task delivers it), as Temporal writes it.
pub fn signal_with_start(
    p: StartParams,
    signal: &Signal,
    now: Time,
) -> Result<(MutableState, Mutation), CoreError> {
    start_run(p, Some(signal), now)
}

fn start_run(
    p: StartParams,
    signal: Option<&Signal>,
    now: Time,
) -> Result<(MutableState, Mutation), CoreError> {
    let req = &p.request;
    validate(req)?;
    if p.run_id.is_empty() {
        return Err(CoreError::InvalidArgument("Invalid RunId.".into()));
    }
    // Like Temporal's frontend: an explicit policy gets the defaults for its unset fields.
    let retry_policy = match req.retry_policy.as_ref() {
        Some(policy) => {
            let policy = retry_policy_with_defaults(Some(policy));
            validate_retry_policy(&policy).map_err(CoreError::InvalidArgument)?;
            Some(policy)
        }
        None => None,
    };

    // The first workflow task waits out the start delay, or until the cron schedule's first
    // fire time (a backoff timer schedules it).
    let start_delay = duration_from_proto(req.workflow_start_delay.as_ref());
    let first_task_backoff = if req.cron_schedule.is_empty() {
        start_delay
    } else {
        CronSchedule::parse(&req.cron_schedule, now)
            .map_err(|e| CoreError::InvalidArgument(e.to_string()))?
            .backoff(now, now)
            .unwrap_or(Duration::ZERO)
    };
    let execution_timeout = duration_from_proto(req.workflow_execution_timeout.as_ref());
    let mut run_timeout = duration_from_proto(req.workflow_run_timeout.as_ref());
    if !execution_timeout.is_zero() {
        run_timeout = if run_timeout.is_zero() {
            execution_timeout
        } else {
            run_timeout.min(execution_timeout)
        };
    }
    // Like Temporal, the event gets the timeouts as sent (an absent one stays absent, so
    // workflow code sees None), except a run timeout the execution timeout changed.
    let written_run_timeout =
        if run_timeout == duration_from_proto(req.workflow_run_timeout.as_ref()) {
            req.workflow_run_timeout
        } else {
            Some(duration_to_proto(run_timeout))
        };
    let mut task_timeout = duration_from_proto(req.workflow_task_timeout.as_ref());
    if task_timeout.is_zero() {
        task_timeout = DEFAULT_WORKFLOW_TASK_TIMEOUT;
    }
    task_timeout = task_timeout.min(MAX_WORKFLOW_TASK_TIMEOUT);
    if !run_timeout.is_zero() {
        task_timeout = task_timeout.min(run_timeout);
    }

    let first_execution_run_id = if p.first_execution_run_id.is_empty() {
        p.run_id.clone()
    } else {
        p.first_execution_run_id.clone()
    };
    let task_queue = req
        .task_queue
        .as_ref()
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let execution_expiration = if execution_timeout.is_zero() {
        Time(0)
    } else {
        now.add(execution_timeout)
    };

    let started = WorkflowExecutionStartedEventAttributes {
        workflow_type: req.workflow_type.clone(),
        task_queue: Some(normal_task_queue(&task_queue)),
        input: req.input.clone(),
        workflow_execution_timeout: req.workflow_execution_timeout,
        workflow_run_timeout: written_run_timeout,
        workflow_task_timeout: Some(duration_to_proto(task_timeout)),
        continued_failure: req.continued_failure.clone(),
        last_completion_result: req.last_completion_result.clone(),
        original_execution_run_id: p.run_id.clone(),
        identity: req.identity.clone(),
        first_execution_run_id,
        retry_policy,
        attempt: p.attempt.max(1),
        workflow_execution_expiration_time: execution_expiration.to_timestamp_opt(),
        cron_schedule: req.cron_schedule.clone(),
        first_workflow_task_backoff: Some(duration_to_proto(first_task_backoff)),
        // Temporal marks every run of a cron schedule, the first one included.
        initiator: if req.cron_schedule.is_empty() {
            ContinueAsNewInitiator::Unspecified as i32
        } else {
            ContinueAsNewInitiator::CronSchedule as i32
        },
        memo: req.memo.clone(),
        search_attributes: req.search_attributes.clone(),
        header: req.header.clone(),
        workflow_id: req.workflow_id.clone(),
        priority: req.priority.clone(),
        ..Default::default()
    };
    let mut started = started;
    if let Some(parent) = &p.parent {
        set_parent(&mut started, parent);
    }
    Ok(create_run(
        RunSpec {
            namespace: req.namespace.clone(),
            namespace_id: p.namespace_id.clone(),
            run_id: p.run_id.clone(),
            request_id: req.request_id.clone(),
            started,
            user_metadata: req.user_metadata.clone(),
            links: req.links.clone(),
            execution_expiration,
            first_task_backoff,
            retention: p.retention.unwrap_or(DEFAULT_RETENTION),
            signal: signal.cloned(),
        },
        now,
    ))
}

/// Names `parent` as the parent of the run `started` starts (Temporal's parent and root
/// execution attributes).
pub(crate) fn set_parent(
    started: &mut WorkflowExecutionStartedEventAttributes,
    parent: &ParentExecution,
) {
    started.parent_workflow_namespace = parent.namespace.clone();
    started.parent_workflow_namespace_id = parent.namespace_id.clone();
    started.parent_workflow_execution = Some(WorkflowExecution {
        workflow_id: parent.workflow_id.clone(),
        run_id: parent.run_id.clone(),
    });
    started.parent_initiated_event_id = parent.initiated_event_id;
    started.root_workflow_execution = Some(WorkflowExecution {
        workflow_id: parent.root_workflow_id.clone(),
        run_id: parent.root_run_id.clone(),
    });
}

impl MutableState {
    /// This run's parent, for a successor of its chain to carry (None: a top-level run).
    pub(crate) fn parent(&self) -> Option<ParentExecution> {
        (!self.parent_workflow_id.is_empty()).then(|| ParentExecution {
            namespace: self.parent_namespace.clone(),
            namespace_id: self.parent_namespace_id.clone(),
            workflow_id: self.parent_workflow_id.clone(),
            run_id: self.parent_run_id.clone(),
            initiated_event_id: self.parent_initiated_event_id,
            root_workflow_id: self.root_workflow_id.clone(),
            root_run_id: self.root_run_id.clone(),
        })
    }
}

/// Everything a new run is made of, already validated and normalized: the attributes of its
/// WorkflowExecutionStarted event and the ids around it.
pub(crate) struct RunSpec {
    pub namespace: String,
    pub namespace_id: String,
    pub run_id: String,
    pub request_id: String,
    /// Its timeouts are the normalized ones; `attempt` is >= 1.
    pub started: WorkflowExecutionStartedEventAttributes,
    pub user_metadata: Option<UserMetadata>,
    pub links: Vec<Link>,
    /// Unset: no execution timeout.
    pub execution_expiration: Time,
    /// Zero schedules the first workflow task at once; otherwise a WorkflowBackoff timer does.
    pub first_task_backoff: Duration,
    /// How long the run is kept once closed.
    pub retention: Duration,
    /// A signal that arrives with the start (SignalWithStart), written before the first task.
    pub signal: Option<Signal>,
}

/// Writes WorkflowExecutionStarted, then either the first workflow task or the backoff timer
/// before it, and the run/execution timeout timers (Temporal's AddWorkflowExecutionStartedEvent
/// + AddFirstWorkflowTaskScheduled).
pub(crate) fn create_run(spec: RunSpec, now: Time) -> (MutableState, Mutation) {
    let a = &spec.started;
    let run_timeout = duration_from_proto(a.workflow_run_timeout.as_ref());
    let mut ms = MutableState {
        namespace: spec.namespace,
        namespace_id: spec.namespace_id,
        workflow_id: a.workflow_id.clone(),
        run_id: spec.run_id,
        first_execution_run_id: a.first_execution_run_id.clone(),
        workflow_type: a.workflow_type.clone(),
        task_queue: a
            .task_queue
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        input: a.input.clone(),
        header: a.header.clone(),
        memo: a.memo.clone(),
        search_attributes: a.search_attributes.clone(),
        retry_policy: a.retry_policy.clone(),
        attempt: a.attempt.max(1),
        execution_timeout: a.workflow_execution_timeout,
        run_timeout: a.workflow_run_timeout,
        task_timeout: a.workflow_task_timeout,
        start_time: now.0,
        execution_time: now.add(spec.first_task_backoff).0,
        execution_expiration_time: spec.execution_expiration.0,
        status: WorkflowExecutionStatus::Running as i32,
        start_request_id: spec.request_id,
        identity: a.identity.clone(),
        next_event_id: 1,
        ..Default::default()
    };
    ms.set_retention(spec.retention);
    ms.auto_reset_points = a.prev_auto_reset_points.clone();
    if let Some(parent) = &a.parent_workflow_execution {
        ms.parent_namespace = a.parent_workflow_namespace.clone();
        ms.parent_namespace_id = a.parent_workflow_namespace_id.clone();
        ms.parent_workflow_id = parent.workflow_id.clone();
        ms.parent_run_id = parent.run_id.clone();
        ms.parent_initiated_event_id = a.parent_initiated_event_id;
    }
    if let Some(root) = &a.root_workflow_execution {
        ms.root_workflow_id = root.workflow_id.clone();
        ms.root_run_id = root.run_id.clone();
    }

    let has_cron = !a.cron_schedule.is_empty();
    let mut m = Mutation::default();
    let mut started = ms.new_event(EventType::WorkflowExecutionStarted, now, spec.started);
    started.user_metadata = spec.user_metadata;
    started.links = spec.links;
    let id = ms.write(&mut m, started);
    // A retry or the next cron run is built from this run's start (see workflow_retry.rs).
    if ms.retry_policy.is_some() || has_cron {
        ms.started_event = m.events.iter().find(|e| e.event_id == id).cloned();
    }
    if let Some(signal) = &spec.signal {
        ms.record_signal(&mut m, signal, now);
    }
    if spec.first_task_backoff.is_zero() {
        ms.schedule_workflow_task(&mut m, now, 1);
    } else {
        let t = ms.timer_task(
            ms.execution_time(),
            timer_task::Kind::WorkflowBackoff(RunTimeout {}),
        );
        m.timer_tasks.push(t);
    }

    let execution_expiration = spec.execution_expiration;
    if !run_timeout.is_zero() {
        // The run's clock starts when its first workflow task is due.
        let fire = ms.execution_time().add(run_timeout);
        // The execution deadline covers this run too when it is not later.
        if execution_expiration.is_unset() || fire < execution_expiration {
            let t = ms.timer_task(fire, timer_task::Kind::WorkflowRunTimeout(RunTimeout {}));
            m.timer_tasks.push(t);
        }
    }
    if !execution_expiration.is_unset() {
        let t = ms.timer_task(
            execution_expiration,
            timer_task::Kind::WorkflowExecutionTimeout(RunTimeout {}),
        );
        m.timer_tasks.push(t);
    }
    (ms, m)
}

fn validate(req: &StartWorkflowExecutionRequest) -> Result<(), CoreError> {
    let invalid = |s: &str| Err(CoreError::InvalidArgument(s.to_string()));
    if req.workflow_id.is_empty() {
        return invalid("WorkflowId is not set on request.");
    }
    if req.workflow_type.as_ref().is_none_or(|t| t.name.is_empty()) {
        return invalid("WorkflowType is not set on request.");
    }
    if req.task_queue.as_ref().is_none_or(|t| t.name.is_empty()) {
        return invalid("TaskQueue is not set on request.");
    }
    if is_negative(req.workflow_execution_timeout.as_ref()) {
        return invalid("Invalid WorkflowExecutionTimeoutSeconds.");
    }
    if is_negative(req.workflow_run_timeout.as_ref()) {
        return invalid("Invalid WorkflowRunTimeoutSeconds.");
    }
    if is_negative(req.workflow_task_timeout.as_ref()) {
        return invalid("Invalid WorkflowTaskTimeoutSeconds.");
    }
    if !req.cron_schedule.is_empty() && req.workflow_start_delay.is_some() {
        return invalid("CronSchedule and WorkflowStartDelay may not be used together.");
    }
    if is_negative(req.workflow_start_delay.as_ref()) {
        return invalid("An invalid WorkflowStartDelaySeconds is set on request.");
    }
    Ok(())
}
