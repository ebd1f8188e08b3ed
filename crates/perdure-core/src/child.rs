//! Child workflows, the parent's side: the StartChildWorkflowExecution command (event
//! StartChildWorkflowExecutionInitiated, a pending child, a StartChild transfer task), and the
//! outcomes the history layer reports back once it acted on that task or the child closed:
//! started, could not start, completed / failed / canceled / timed out / terminated. Each is
//! idempotent per initiated event id, because the history layer may report it more than once.
//!
//! The child's side is a run whose start names its parent (`ParentExecution`); when it closes
//! for good (no retry, continue-as-new or cron successor) it gets a RunClosed transfer task,
//! which reports to the parent and applies this run's parent close policies to its own
//! children (`MutableState::closed_run_effects`).

use temporalio_protos::temporal::api::{
    command::v1::command::Attributes as Cmd,
    common::v1::{Payloads, WorkflowExecution, WorkflowType},
    enums::v1::{
        EventType, ParentClosePolicy, RetryState, StartChildWorkflowExecutionFailedCause,
        WorkflowIdReusePolicy, WorkflowTaskFailedCause,
    },
    failure::v1::Failure,
    history::v1::{
        ChildWorkflowExecutionCanceledEventAttributes,
        ChildWorkflowExecutionCompletedEventAttributes,
        ChildWorkflowExecutionFailedEventAttributes, ChildWorkflowExecutionStartedEventAttributes,
        ChildWorkflowExecutionTerminatedEventAttributes,
        ChildWorkflowExecutionTimedOutEventAttributes,
        StartChildWorkflowExecutionFailedEventAttributes,
        StartChildWorkflowExecutionInitiatedEventAttributes,
    },
    workflowservice::v1::StartWorkflowExecutionRequest,
};

use crate::activity_options::{retry_policy_with_defaults, validate_retry_policy};
use crate::cron::CronSchedule;
use crate::errors::CoreError;
use crate::limits::{encoded_size, BLOB_SIZE_LIMIT_ERROR, MAX_ID_LENGTH, MEMO_SIZE_LIMIT_ERROR};
use crate::start::{DEFAULT_WORKFLOW_TASK_TIMEOUT, MAX_WORKFLOW_TASK_TIMEOUT};
use crate::state::{normal_task_queue, MutableState, BUFFERED_STARTED_EVENT_ID};
use crate::tasks::{transfer_task, Mutation};
use crate::time::{duration_from_proto, duration_to_proto, is_negative, Time};
use crate::workflow_task_completed::{fail, terminate, Rejected};

/// Children a run may have pending at once (Temporal's limit.numPendingChildExecutions.error).
pub const NUM_PENDING_CHILD_EXECUTIONS_LIMIT: usize = 2000;

/// A child started (or about to start) by this run, keyed by its initiated event id.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ChildInfo {
    #[prost(int64, tag = "1")]
    pub initiated_event_id: i64,
    #[prost(string, tag = "2")]
    pub namespace: String,
    #[prost(string, tag = "3")]
    pub namespace_id: String,
    #[prost(string, tag = "4")]
    pub workflow_id: String,
    #[prost(string, tag = "5")]
    pub workflow_type: String,
    /// The child's first run, once started (empty before).
    #[prost(string, tag = "6")]
    pub run_id: String,
    /// 0 until ChildWorkflowExecutionStarted is written.
    #[prost(int64, tag = "7")]
    pub started_event_id: i64,
    #[prost(enumeration = "ParentClosePolicy", tag = "8")]
    pub parent_close_policy: i32,
    /// The child's start request id: the same on every attempt to start it, so a repeated
    /// attempt finds the run the first one created.
    #[prost(string, tag = "9")]
    pub create_request_id: String,
    /// The StartWorkflowExecution request that starts the child (its namespace already
    /// resolved), kept so the start needs no history read.
    #[prost(message, optional, tag = "10")]
    pub request: Option<StartWorkflowExecutionRequest>,
    /// Copied into StartChildWorkflowExecutionFailed, as Temporal does.
    #[prost(string, tag = "11")]
    pub control: String,
    #[prost(int64, tag = "12")]
    pub workflow_task_completed_event_id: i64,
}

/// The run that started this one as its child.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ParentExecution {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub namespace_id: String,
    #[prost(string, tag = "3")]
    pub workflow_id: String,
    #[prost(string, tag = "4")]
    pub run_id: String,
    #[prost(int64, tag = "5")]
    pub initiated_event_id: i64,
    /// The top of the tree this run belongs to.
    #[prost(string, tag = "6")]
    pub root_workflow_id: String,
    #[prost(string, tag = "7")]
    pub root_run_id: String,
}

/// How a child ended, as reported to its parent.
// Built once per report and moved straight into an event; boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ChildOutcome {
    Completed(Option<Payloads>),
    Failed {
        failure: Option<Failure>,
        retry_state: RetryState,
    },
    Canceled(Option<Payloads>),
    TimedOut(RetryState),
    Terminated,
}

/// What a closed run must still do outside itself (see `transfer_task::Kind::RunClosed`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClosedRunEffects {
    /// Report the close to this parent.
    pub parent: Option<ParentExecution>,
    /// Children to terminate or cancel because of their parent close policy.
    pub children: Vec<ChildInfo>,
}

impl MutableState {
    /// The StartChildWorkflowExecution command. (Temporal deprecated the command's namespace
    /// and the control fields but still honours and copies them.)
    #[allow(deprecated)]
    pub(crate) fn start_child_command(
        &mut self,
        m: &mut Mutation,
        attrs: Option<&Cmd>,
        completed_id: i64,
        now: Time,
    ) -> Result<Option<i64>, Rejected> {
        use WorkflowTaskFailedCause as C;
        let Some(Cmd::StartChildWorkflowExecutionCommandAttributes(a)) = attrs else {
            return fail(C::BadStartChildExecutionAttributes, "StartChildWorkflowExecutionCommandAttributes is not set on StartChildWorkflowExecutionCommand.");
        };
        let bad = |detail: String| fail(C::BadStartChildExecutionAttributes, detail);
        if !a.namespace.is_empty() && a.namespace != self.namespace {
            return bad(format!(
                "child workflows in another namespace ({}) are not supported by this server",
                a.namespace
            ));
        }
        if a.workflow_id.is_empty() {
            return bad("Required field WorkflowId is not set on command.".into());
        }
        let type_name = a
            .workflow_type
            .as_ref()
            .map(|t| t.name.as_str())
            .unwrap_or("");
        if type_name.is_empty() {
            return bad("Required field WorkflowType is not set on command.".into());
        }
        for (what, value) in [
            ("WorkflowId", a.workflow_id.as_str()),
            ("WorkflowType", type_name),
        ] {
            if value.len() > MAX_ID_LENGTH {
                return bad(format!(
                    "{what} on StartChildWorkflowExecutionCommand exceeds length limit. WorkflowId={} Length={} Limit={MAX_ID_LENGTH} WorkflowType={type_name} Namespace={}",
                    a.workflow_id,
                    value.len(),
                    self.namespace
                ));
            }
        }
        for (d, name) in [
            (
                a.workflow_execution_timeout.as_ref(),
                "WorkflowExecutionTimeout",
            ),
            (a.workflow_run_timeout.as_ref(), "WorkflowRunTimeout"),
            (a.workflow_task_timeout.as_ref(), "WorkflowTaskTimeout"),
        ] {
            if is_negative(d) {
                return bad(format!(
                    "Invalid {name} on StartChildWorkflowExecutionCommand."
                ));
            }
        }
        let retry_policy = match a.retry_policy.as_ref() {
            Some(p) => {
                let p = retry_policy_with_defaults(Some(p));
                if let Err(e) = validate_retry_policy(&p) {
                    return bad(format!(
                        "invalid WorkflowRetryPolicy on StartChildWorkflowExecutionCommand: {e}"
                    ));
                }
                Some(p)
            }
            None => None,
        };
        if !a.cron_schedule.is_empty() && CronSchedule::parse(&a.cron_schedule, now).is_err() {
            return bad("invalid CronSchedule.".into());
        }
        if encoded_size(a.input.as_ref()) > BLOB_SIZE_LIMIT_ERROR {
            return terminate(
                C::BadStartChildExecutionAttributes,
                "StartChildWorkflowExecutionCommandAttributes.Input exceeds size limit.",
            );
        }
        if encoded_size(a.memo.as_ref()) > MEMO_SIZE_LIMIT_ERROR {
            return terminate(
                C::BadStartChildExecutionAttributes,
                "StartChildWorkflowExecutionCommandAttributes.Memo exceeds size limit.",
            );
        }
        if self.children.len() >= NUM_PENDING_CHILD_EXECUTIONS_LIMIT {
            return fail(C::PendingChildWorkflowsLimitExceeded, "");
        }
        // Temporal writes the timeouts as it will apply them: the run timeout bounded by the
        // execution timeout (zero when neither is set), the task timeout defaulted and capped.
        let execution = duration_from_proto(a.workflow_execution_timeout.as_ref());
        let mut run = duration_from_proto(a.workflow_run_timeout.as_ref());
        if !execution.is_zero() && (run.is_zero() || run > execution) {
            run = execution;
        }
        let mut task = duration_from_proto(a.workflow_task_timeout.as_ref());
        if task.is_zero() {
            task = DEFAULT_WORKFLOW_TASK_TIMEOUT;
        }
        task = task.min(MAX_WORKFLOW_TASK_TIMEOUT);
        if !run.is_zero() {
            task = task.min(run);
        }
        let (run_timeout, task_timeout) =
            (Some(duration_to_proto(run)), Some(duration_to_proto(task)));
        let queue = match a.task_queue.as_ref() {
            Some(q) if !q.name.is_empty() => q.name.clone(),
            _ => self.task_queue.clone(),
        };
        let task_queue = Some(normal_task_queue(&queue));
        let parent_close_policy = match ParentClosePolicy::try_from(a.parent_close_policy) {
            Ok(ParentClosePolicy::Unspecified) | Err(_) => ParentClosePolicy::Terminate,
            Ok(p) => p,
        };
        let reuse = match WorkflowIdReusePolicy::try_from(a.workflow_id_reuse_policy) {
            Ok(WorkflowIdReusePolicy::Unspecified) | Err(_) => {
                WorkflowIdReusePolicy::AllowDuplicate
            }
            Ok(p) => p,
        };
        // Temporal drops a memo without fields (FilterNilMemo) and defaults the priority.
        let memo = a.memo.clone().filter(|m| !m.fields.is_empty());
        let priority = Some(a.priority.clone().unwrap_or_default());
        let attrs = StartChildWorkflowExecutionInitiatedEventAttributes {
            namespace: self.namespace.clone(),
            namespace_id: self.namespace_id.clone(),
            workflow_id: a.workflow_id.clone(),
            workflow_type: a.workflow_type.clone(),
            task_queue: task_queue.clone(),
            input: a.input.clone(),
            workflow_execution_timeout: a.workflow_execution_timeout,
            workflow_run_timeout: run_timeout,
            workflow_task_timeout: task_timeout,
            parent_close_policy: parent_close_policy as i32,
            control: a.control.clone(),
            workflow_task_completed_event_id: completed_id,
            workflow_id_reuse_policy: reuse as i32,
            retry_policy: retry_policy.clone(),
            cron_schedule: a.cron_schedule.clone(),
            header: a.header.clone(),
            memo: memo.clone(),
            search_attributes: a.search_attributes.clone(),
            inherit_build_id: a.inherit_build_id,
            priority: priority.clone(),
            ..Default::default()
        };
        let event = self.new_event(EventType::StartChildWorkflowExecutionInitiated, now, attrs);
        let id = self.write(m, event);
        // Deterministic, so every attempt to start the child carries the same request id.
        let create_request_id = format!("{}:{}", self.run_id, id);
        let request = StartWorkflowExecutionRequest {
            namespace: self.namespace.clone(),
            workflow_id: a.workflow_id.clone(),
            workflow_type: a.workflow_type.clone(),
            task_queue,
            input: a.input.clone(),
            workflow_execution_timeout: a.workflow_execution_timeout,
            workflow_run_timeout: run_timeout,
            workflow_task_timeout: task_timeout,
            request_id: create_request_id.clone(),
            workflow_id_reuse_policy: reuse as i32,
            retry_policy,
            cron_schedule: a.cron_schedule.clone(),
            memo,
            search_attributes: a.search_attributes.clone(),
            header: a.header.clone(),
            priority,
            ..Default::default()
        };
        self.children.insert(
            id,
            ChildInfo {
                initiated_event_id: id,
                namespace: self.namespace.clone(),
                namespace_id: self.namespace_id.clone(),
                workflow_id: a.workflow_id.clone(),
                workflow_type: type_name.to_string(),
                parent_close_policy: parent_close_policy as i32,
                create_request_id,
                request: Some(request),
                control: a.control.clone(),
                workflow_task_completed_event_id: completed_id,
                ..Default::default()
            },
        );
        let task = self.transfer_task(
            String::new(),
            transfer_task::Kind::StartChild(transfer_task::ChildRef {
                initiated_event_id: id,
            }),
        );
        m.transfer_tasks.push(task);
        Ok(Some(id))
    }

    /// Who this run's parent is, as a child run started from it needs to know.
    pub fn as_parent(&self, initiated_event_id: i64) -> ParentExecution {
        let (root_workflow_id, root_run_id) = if self.root_workflow_id.is_empty() {
            (self.workflow_id.clone(), self.run_id.clone())
        } else {
            (self.root_workflow_id.clone(), self.root_run_id.clone())
        };
        ParentExecution {
            namespace: self.namespace.clone(),
            namespace_id: self.namespace_id.clone(),
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
            initiated_event_id,
            root_workflow_id,
            root_run_id,
        }
    }

    /// The pending child `initiated_event_id` that still needs starting (None: started already,
    /// or gone, or this run closed: then nothing is to be done).
    pub fn child_to_start(&self, initiated_event_id: i64) -> Option<&ChildInfo> {
        if !self.is_running() {
            return None;
        }
        self.children
            .get(&initiated_event_id)
            .filter(|c| c.started_event_id == 0)
    }

    /// The child started as run `run_id`: ChildWorkflowExecutionStarted. A repeat is a no-op.
    pub fn record_child_started(
        &mut self,
        initiated_event_id: i64,
        run_id: &str,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        let mut m = Mutation::default();
        if !self.is_running() {
            return Ok(m);
        }
        let Some(child) = self.children.get(&initiated_event_id).cloned() else {
            return Ok(m);
        };
        if child.started_event_id != 0 {
            return Ok(m);
        }
        let header = child.request.as_ref().and_then(|r| r.header.clone());
        let event = self.new_event(
            EventType::ChildWorkflowExecutionStarted,
            now,
            ChildWorkflowExecutionStartedEventAttributes {
                namespace: child.namespace.clone(),
                namespace_id: child.namespace_id.clone(),
                initiated_event_id,
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: child.workflow_id.clone(),
                    run_id: run_id.to_string(),
                }),
                workflow_type: Some(WorkflowType {
                    name: child.workflow_type.clone(),
                }),
                header,
            },
        );
        // A buffered event gets its id on flush (which fixes the placeholder up).
        let started_event_id = if self.has_started_workflow_task() {
            BUFFERED_STARTED_EVENT_ID
        } else {
            self.next_event_id
        };
        self.write_or_buffer(&mut m, event);
        if let Some(c) = self.children.get_mut(&initiated_event_id) {
            c.run_id = run_id.to_string();
            c.started_event_id = started_event_id;
            c.request = None;
        }
        self.ensure_workflow_task(&mut m, now);
        Ok(m)
    }

    /// The child could not start (its workflow id is taken): StartChildWorkflowExecutionFailed.
    #[allow(deprecated)]
    pub fn record_start_child_failed(
        &mut self,
        initiated_event_id: i64,
        cause: StartChildWorkflowExecutionFailedCause,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        let mut m = Mutation::default();
        if !self.is_running() {
            return Ok(m);
        }
        let Some(child) = self.children.get(&initiated_event_id).cloned() else {
            return Ok(m);
        };
        if child.started_event_id != 0 {
            return Ok(m);
        }
        let event = self.new_event(
            EventType::StartChildWorkflowExecutionFailed,
            now,
            StartChildWorkflowExecutionFailedEventAttributes {
                namespace: child.namespace.clone(),
                namespace_id: child.namespace_id.clone(),
                workflow_id: child.workflow_id.clone(),
                workflow_type: Some(WorkflowType {
                    name: child.workflow_type.clone(),
                }),
                cause: cause as i32,
                control: child.control.clone(),
                initiated_event_id,
                // Temporal leaves it unset here.
                workflow_task_completed_event_id: 0,
            },
        );
        self.write_or_buffer(&mut m, event);
        self.children.remove(&initiated_event_id);
        self.ensure_workflow_task(&mut m, now);
        Ok(m)
    }

    /// The child `initiated_event_id` (workflow `workflow_id`) closed. NotReady while its start
    /// is not recorded yet (the report comes again); a no-op when the parent no longer waits.
    pub fn record_child_closed(
        &mut self,
        initiated_event_id: i64,
        closed: &WorkflowExecution,
        outcome: ChildOutcome,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        let mut m = Mutation::default();
        if !self.is_running() {
            return Ok(m);
        }
        let Some(child) = self.children.get(&initiated_event_id).cloned() else {
            return Ok(m);
        };
        if child.workflow_id != closed.workflow_id {
            return Ok(m);
        }
        if child.started_event_id == 0 {
            return Err(CoreError::WorkflowNotReady(
                "child workflow start not recorded yet".into(),
            ));
        }
        let started_event_id = self.child_started_event_id(initiated_event_id);
        let namespace = child.namespace.clone();
        let namespace_id = child.namespace_id.clone();
        let workflow_execution = Some(closed.clone());
        let workflow_type = Some(WorkflowType {
            name: child.workflow_type.clone(),
        });
        let event = match outcome {
            ChildOutcome::Completed(result) => self.new_event(
                EventType::ChildWorkflowExecutionCompleted,
                now,
                ChildWorkflowExecutionCompletedEventAttributes {
                    result,
                    namespace,
                    namespace_id,
                    workflow_execution,
                    workflow_type,
                    initiated_event_id,
                    started_event_id,
                },
            ),
            ChildOutcome::Failed {
                failure,
                retry_state,
            } => self.new_event(
                EventType::ChildWorkflowExecutionFailed,
                now,
                ChildWorkflowExecutionFailedEventAttributes {
                    failure,
                    namespace,
                    namespace_id,
                    workflow_execution,
                    workflow_type,
                    initiated_event_id,
                    started_event_id,
                    retry_state: retry_state as i32,
                },
            ),
            ChildOutcome::Canceled(details) => self.new_event(
                EventType::ChildWorkflowExecutionCanceled,
                now,
                ChildWorkflowExecutionCanceledEventAttributes {
                    details,
                    namespace,
                    namespace_id,
                    workflow_execution,
                    workflow_type,
                    initiated_event_id,
                    started_event_id,
                },
            ),
            ChildOutcome::TimedOut(retry_state) => self.new_event(
                EventType::ChildWorkflowExecutionTimedOut,
                now,
                ChildWorkflowExecutionTimedOutEventAttributes {
                    namespace,
                    namespace_id,
                    workflow_execution,
                    workflow_type,
                    initiated_event_id,
                    started_event_id,
                    retry_state: retry_state as i32,
                },
            ),
            ChildOutcome::Terminated => self.new_event(
                EventType::ChildWorkflowExecutionTerminated,
                now,
                ChildWorkflowExecutionTerminatedEventAttributes {
                    namespace,
                    namespace_id,
                    workflow_execution,
                    workflow_type,
                    initiated_event_id,
                    started_event_id,
                },
            ),
        };
        self.write_or_buffer(&mut m, event);
        self.children.remove(&initiated_event_id);
        self.ensure_workflow_task(&mut m, now);
        Ok(m)
    }

    /// The started event id a child's close event names (the buffered placeholder when the
    /// start is still buffered; the flush patches it).
    fn child_started_event_id(&self, initiated_event_id: i64) -> i64 {
        self.children
            .get(&initiated_event_id)
            .map_or(0, |c| c.started_event_id)
    }

    /// The RunClosed transfer task a closing mutation needs, if any: when this run has a
    /// parent to tell (and no successor takes the parent over) or children whose parent close
    /// policy must be applied.
    pub fn run_closed_task(&self, has_successor: bool) -> Option<crate::tasks::TransferTask> {
        let notify_parent = !self.parent_workflow_id.is_empty() && !has_successor;
        let notify_schedule = self.scheduled_by.is_some() && !has_successor;
        let policies = self
            .children
            .values()
            .any(|c| c.parent_close_policy != ParentClosePolicy::Abandon as i32);
        (notify_parent || notify_schedule || policies).then(|| {
            self.transfer_task(
                String::new(),
                transfer_task::Kind::RunClosed(transfer_task::RunClosedRef {
                    notify_parent,
                    notify_schedule,
                }),
            )
        })
    }

    /// How this closed run ended, for its parent.
    pub fn child_outcome(
        close_event: &temporalio_protos::temporal::api::history::v1::HistoryEvent,
    ) -> Option<ChildOutcome> {
        use temporalio_protos::temporal::api::history::v1::history_event::Attributes as A;
        Some(match close_event.attributes.as_ref()? {
            A::WorkflowExecutionCompletedEventAttributes(a) => {
                ChildOutcome::Completed(a.result.clone())
            }
            A::WorkflowExecutionFailedEventAttributes(a) => ChildOutcome::Failed {
                failure: a.failure.clone(),
                retry_state: a.retry_state(),
            },
            A::WorkflowExecutionCanceledEventAttributes(a) => {
                ChildOutcome::Canceled(a.details.clone())
            }
            A::WorkflowExecutionTimedOutEventAttributes(a) => {
                ChildOutcome::TimedOut(a.retry_state())
            }
            A::WorkflowExecutionTerminatedEventAttributes(_) => ChildOutcome::Terminated,
            _ => return None,
        })
    }

    /// The parent and children a closed run must still notify (see `ClosedRunEffects`).
    pub fn closed_run_effects(&self, notify_parent: bool) -> ClosedRunEffects {
        if self.is_running() {
            return ClosedRunEffects::default();
        }
        let parent = self.parent().filter(|_| notify_parent);
        let children = self
            .children
            .values()
            .filter(|c| {
                c.started_event_id != 0
                    && c.parent_close_policy != ParentClosePolicy::Abandon as i32
            })
            .cloned()
            .collect();
        ClosedRunEffects { parent, children }
    }
}
