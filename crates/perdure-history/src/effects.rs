//! Effects of one run on others (Temporal's transfer-queue tasks that are not for matching):
//! starting a child workflow and recording it in the parent, telling a parent that its child
//! closed, applying a closing parent's close policy to its children, delivering a signal or
//! cancel request a workflow sent to another and telling it how that went.
//!
//! Each effect is a transfer row written with the change that causes it; the shard leader runs
//! it and deletes the row once it is done, so a crash or a leader change only runs it again.
//! Every step is therefore idempotent: the child's start carries a request id derived from the
//! parent run and initiated event id, and each record checks the parent's state first.
//! Runs may live on any shard of any node: every step goes through [`CrossShard`], which the
//! node wires to the local history or to the owner over the internal port.
//!
//! This module never writes a run's state itself; it only calls the operations that do.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use perdure_core::{
    transfer_task, ChildOutcome, ExternalRequest, ParentExecution, TransferTask,
    HISTORY_SERVICE_IDENTITY,
};
use prost::Message;
use temporalio_protos::temporal::api::common::v1::{Payloads, WorkflowExecution};
use temporalio_protos::temporal::api::enums::v1::{
    ParentClosePolicy, RetryState, StartChildWorkflowExecutionFailedCause, WorkflowExecutionStatus,
};
use temporalio_protos::temporal::api::failure::v1::Failure;
use temporalio_protos::temporal::api::workflowservice::v1::StartWorkflowExecutionRequest;
use tokio::sync::mpsc;

use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::shard::Shard;
use crate::tables;

/// Effects a shard leader runs at once; more wait in the channel.
const MAX_CONCURRENT_EFFECTS: usize = 64;

/// One step of an effect, addressed to the run it changes (routed by its workflow id).
#[derive(Clone, PartialEq, Message)]
pub struct CrossShardCall {
    #[prost(
        oneof = "cross_shard_call::Call",
        tags = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
    )]
    pub call: Option<cross_shard_call::Call>,
}

pub mod cross_shard_call {
    use super::*;

    // One call per effect step, encoded straight away: boxing would only add allocations.
    #[allow(clippy::large_enum_variant)]
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Call {
        #[prost(message, tag = "1")]
        StartChild(StartChild),
        #[prost(message, tag = "2")]
        ChildStarted(ChildStarted),
        #[prost(message, tag = "3")]
        ChildStartFailed(ChildStarted),
        #[prost(message, tag = "4")]
        ChildClosed(ChildClosed),
        #[prost(message, tag = "5")]
        CloseChild(CloseChild),
        /// Deliver a signal or cancel request to its target.
        #[prost(message, tag = "6")]
        Deliver(Deliver),
        /// Tell the sender how its external request went.
        #[prost(message, tag = "7")]
        ExternalOutcome(ExternalOutcome),
        /// Start a schedule's run (routed by the run's workflow id).
        #[prost(message, tag = "8")]
        StartScheduled(StartScheduled),
        /// Tell a schedule how its start went (routed by its scheduler workflow id).
        #[prost(message, tag = "9")]
        ScheduleStarted(ScheduleStarted),
        /// Tell a schedule that a chain it started closed.
        #[prost(message, tag = "10")]
        ScheduleRunClosed(ScheduleRunClosed),
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct StartScheduled {
    #[prost(string, tag = "1")]
    pub namespace_id: String,
    #[prost(string, tag = "2")]
    pub schedule_id: String,
    #[prost(message, optional, tag = "3")]
    pub request: Option<StartWorkflowExecutionRequest>,
    #[prost(uint64, tag = "4")]
    pub retention_secs: u64,
}

#[derive(Clone, PartialEq, Message)]
pub struct ScheduleStarted {
    #[prost(string, tag = "1")]
    pub namespace_id: String,
    #[prost(string, tag = "2")]
    pub schedule_id: String,
    #[prost(uint64, tag = "3")]
    pub seq: u64,
    /// Empty: the start was refused (the workflow id was taken).
    #[prost(string, tag = "4")]
    pub run_id: String,
    /// The schedule's scheduler workflow id: routes the call.
    #[prost(string, tag = "5")]
    pub route: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct ScheduleRunClosed {
    #[prost(string, tag = "1")]
    pub namespace_id: String,
    #[prost(string, tag = "2")]
    pub schedule_id: String,
    #[prost(string, tag = "3")]
    pub workflow_id: String,
    #[prost(enumeration = "WorkflowExecutionStatus", tag = "4")]
    pub status: i32,
    #[prost(message, optional, tag = "5")]
    pub failure: Option<Failure>,
    #[prost(message, optional, tag = "6")]
    pub result: Option<Payloads>,
    /// The schedule's scheduler workflow id: routes the call.
    #[prost(string, tag = "7")]
    pub route: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct StartChild {
    #[prost(string, tag = "1")]
    pub namespace_id: String,
    #[prost(message, optional, tag = "2")]
    pub request: Option<StartWorkflowExecutionRequest>,
    #[prost(message, optional, tag = "3")]
    pub parent: Option<ParentExecution>,
    /// The parent's retention (same namespace), in seconds.
    #[prost(uint64, tag = "4")]
    pub retention_secs: u64,
}

/// Addresses a parent's pending child: ChildStarted (with the child's run id) or
/// ChildStartFailed (the id was taken).
#[derive(Clone, PartialEq, Message)]
pub struct ChildStarted {
    #[prost(message, optional, tag = "1")]
    pub parent: Option<ParentExecution>,
    #[prost(string, tag = "2")]
    pub child_run_id: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct ChildClosed {
    #[prost(message, optional, tag = "1")]
    pub parent: Option<ParentExecution>,
    /// The child run that closed.
    #[prost(message, optional, tag = "2")]
    pub child: Option<WorkflowExecution>,
    #[prost(enumeration = "WorkflowExecutionStatus", tag = "3")]
    pub status: i32,
    #[prost(message, optional, tag = "4")]
    pub result: Option<Payloads>,
    #[prost(message, optional, tag = "5")]
    pub failure: Option<Failure>,
    #[prost(enumeration = "RetryState", tag = "6")]
    pub retry_state: i32,
}

/// Terminates or cancels the current run of the chain a child started as `first_run_id`.
#[derive(Clone, PartialEq, Message)]
pub struct CloseChild {
    #[prost(string, tag = "1")]
    pub namespace_id: String,
    #[prost(string, tag = "2")]
    pub workflow_id: String,
    #[prost(string, tag = "3")]
    pub first_run_id: String,
    #[prost(bool, tag = "4")]
    pub terminate: bool,
    /// The closing parent, named in the child's cancel request.
    #[prost(message, optional, tag = "5")]
    pub parent: Option<WorkflowExecution>,
    /// Termination or cancellation reason and identity (empty: a parent close policy's).
    #[prost(string, tag = "6")]
    pub reason: String,
    #[prost(string, tag = "7")]
    pub identity: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Deliver {
    #[prost(message, optional, tag = "1")]
    pub request: Option<ExternalRequest>,
    /// The sending run.
    #[prost(message, optional, tag = "2")]
    pub sender: Option<WorkflowExecution>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ExternalOutcome {
    #[prost(string, tag = "1")]
    pub namespace_id: String,
    #[prost(message, optional, tag = "2")]
    pub sender: Option<WorkflowExecution>,
    #[prost(int64, tag = "3")]
    pub initiated_event_id: i64,
    #[prost(bool, tag = "4")]
    pub delivered: bool,
}

/// What a step answered.
#[derive(Clone, PartialEq, Message)]
pub struct CrossShardAnswer {
    /// StartChild: the child's run (empty: the workflow id was taken).
    #[prost(string, tag = "1")]
    pub started_run_id: String,
    /// Deliver: the target exists (false: it was not found).
    #[prost(bool, tag = "2")]
    pub delivered: bool,
}

/// How the history layer reaches the leader of any shard, here or on another node.
pub trait CrossShard: Send + Sync + 'static {
    fn call(
        &self,
        call: CrossShardCall,
    ) -> Pin<Box<dyn Future<Output = Result<CrossShardAnswer, HistoryError>> + Send + 'static>>;
}

impl CrossShardCall {
    /// The (namespace id, workflow id) of the run this step changes: it routes the call.
    pub fn target(&self) -> (&str, &str) {
        use cross_shard_call::Call;
        fn parent(p: &Option<ParentExecution>) -> (&str, &str) {
            p.as_ref().map_or(("", ""), |p| {
                (p.namespace_id.as_str(), p.workflow_id.as_str())
            })
        }
        match &self.call {
            Some(Call::StartChild(s)) => (
                s.namespace_id.as_str(),
                s.request.as_ref().map_or("", |r| r.workflow_id.as_str()),
            ),
            Some(Call::ChildStarted(c)) | Some(Call::ChildStartFailed(c)) => parent(&c.parent),
            Some(Call::ChildClosed(c)) => parent(&c.parent),
            Some(Call::CloseChild(c)) => (c.namespace_id.as_str(), c.workflow_id.as_str()),
            Some(Call::Deliver(d)) => d.request.as_ref().map_or(("", ""), |r| {
                (r.namespace_id.as_str(), r.workflow_id.as_str())
            }),
            Some(Call::ExternalOutcome(o)) => (
                o.namespace_id.as_str(),
                o.sender.as_ref().map_or("", |s| s.workflow_id.as_str()),
            ),
            Some(Call::StartScheduled(s)) => (
                s.namespace_id.as_str(),
                s.request.as_ref().map_or("", |r| r.workflow_id.as_str()),
            ),
            Some(Call::ScheduleStarted(s)) => (s.namespace_id.as_str(), s.route.as_str()),
            Some(Call::ScheduleRunClosed(s)) => (s.namespace_id.as_str(), s.route.as_str()),
            None => ("", ""),
        }
    }
}

fn call(c: cross_shard_call::Call) -> CrossShardCall {
    CrossShardCall { call: Some(c) }
}

impl ChildClosed {
    pub fn outcome(&self) -> ChildOutcome {
        let retry_state = RetryState::try_from(self.retry_state).unwrap_or(RetryState::Unspecified);
        match WorkflowExecutionStatus::try_from(self.status) {
            Ok(WorkflowExecutionStatus::Completed) => ChildOutcome::Completed(self.result.clone()),
            Ok(WorkflowExecutionStatus::Failed) => ChildOutcome::Failed {
                failure: self.failure.clone(),
                retry_state,
            },
            Ok(WorkflowExecutionStatus::Canceled) => ChildOutcome::Canceled(self.result.clone()),
            Ok(WorkflowExecutionStatus::TimedOut) => ChildOutcome::TimedOut(retry_state),
            _ => ChildOutcome::Terminated,
        }
    }

    fn from_outcome(parent: ParentExecution, child: WorkflowExecution, o: ChildOutcome) -> Self {
        let mut c = ChildClosed {
            parent: Some(parent),
            child: Some(child),
            ..Default::default()
        };
        match o {
            ChildOutcome::Completed(r) => {
                c.status = WorkflowExecutionStatus::Completed as i32;
                c.result = r;
            }
            ChildOutcome::Failed {
                failure,
                retry_state,
            } => {
                c.status = WorkflowExecutionStatus::Failed as i32;
                c.failure = failure;
                c.retry_state = retry_state as i32;
            }
            ChildOutcome::Canceled(d) => {
                c.status = WorkflowExecutionStatus::Canceled as i32;
                c.result = d;
            }
            ChildOutcome::TimedOut(rs) => {
                c.status = WorkflowExecutionStatus::TimedOut as i32;
                c.retry_state = rs as i32;
            }
            ChildOutcome::Terminated => c.status = WorkflowExecutionStatus::Terminated as i32,
        }
        c
    }
}

/// Runs the effect rows of one leadership term; rows already running are not started twice.
pub(crate) async fn run(shard: Arc<Shard>, mut rx: mpsc::UnboundedReceiver<(u64, TransferTask)>) {
    let running: Arc<Mutex<HashSet<u64>>> = Arc::default();
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_EFFECTS));
    while let Some((id, task)) = rx.recv().await {
        if !running.lock().unwrap_or_else(|e| e.into_inner()).insert(id) {
            continue;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (shard, running) = (shard.clone(), running.clone());
        tokio::spawn(async move {
            let outcome = execute(&shard, &task).await;
            let done = match outcome {
                Ok(()) => shard.delete_transfer_task(id).await,
                Err(e) => Err(e),
            };
            if let Err(e) = done {
                // The row stays; the leader offers it again after a while.
                tracing::debug!(shard = %shard.id, task_id = id, error = %e, "effect not done yet");
            }
            running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            drop(permit);
        });
    }
}

pub(crate) async fn execute(shard: &Arc<Shard>, task: &TransferTask) -> Result<(), HistoryError> {
    let Some(cross) = shard.cross_shard() else {
        return Err(HistoryError::NotLeader { shard: shard.id.0 });
    };
    let key = ExecKey::new(&task.namespace_id, &task.workflow_id, &task.run_id);
    match &task.kind {
        Some(transfer_task::Kind::StartChild(c)) => {
            start_child(shard, cross.as_ref(), &key, c.initiated_event_id).await
        }
        Some(transfer_task::Kind::RunClosed(r)) => {
            run_closed(
                shard,
                cross.as_ref(),
                &key,
                r.notify_parent,
                r.notify_schedule,
            )
            .await
        }
        Some(transfer_task::Kind::External(e)) => {
            external(shard, cross.as_ref(), &key, e.initiated_event_id).await
        }
        Some(transfer_task::Kind::ScheduleAction(a)) => {
            schedule_action(shard, cross.as_ref(), task, a).await
        }
        _ => Ok(()),
    }
}

/// StartChild: start the child (once), then record the outcome in the parent.
async fn start_child(
    shard: &Arc<Shard>,
    cross: &dyn CrossShard,
    parent_key: &ExecKey,
    initiated_event_id: i64,
) -> Result<(), HistoryError> {
    let pending = shard
        .inspect(parent_key, |state| {
            Ok(state.and_then(|s| {
                let child = s.child_to_start(initiated_event_id)?;
                Some((
                    child.request.clone().unwrap_or_default(),
                    s.as_parent(initiated_event_id),
                    s.retention(),
                ))
            }))
        })
        .await?;
    // Started already, failed, or the parent closed: nothing left to do.
    let Some((request, parent, retention)) = pending else {
        return Ok(());
    };
    let started = cross
        .call(call(cross_shard_call::Call::StartChild(StartChild {
            namespace_id: parent.namespace_id.clone(),
            request: Some(request),
            parent: Some(parent.clone()),
            retention_secs: retention.as_secs(),
        })))
        .await?;
    let record = ChildStarted {
        parent: Some(parent),
        child_run_id: started.started_run_id.clone(),
    };
    let step = if started.started_run_id.is_empty() {
        cross_shard_call::Call::ChildStartFailed(record)
    } else {
        cross_shard_call::Call::ChildStarted(record)
    };
    cross.call(call(step)).await.map(|_| ())
}

/// External: deliver a signal or cancel request, then tell the sender how it went.
async fn external(
    shard: &Arc<Shard>,
    cross: &dyn CrossShard,
    key: &ExecKey,
    initiated_event_id: i64,
) -> Result<(), HistoryError> {
    let pending = shard
        .inspect(key, |state| {
            Ok(state.and_then(|s| s.external_request(initiated_event_id).cloned()))
        })
        .await?;
    let Some(request) = pending else {
        return Ok(());
    };
    let sender = WorkflowExecution {
        workflow_id: key.workflow_id.clone(),
        run_id: key.run_id.clone(),
    };
    let answer = cross
        .call(call(cross_shard_call::Call::Deliver(Deliver {
            request: Some(request),
            sender: Some(sender.clone()),
        })))
        .await?;
    let outcome = ExternalOutcome {
        namespace_id: key.namespace_id.clone(),
        sender: Some(sender),
        initiated_event_id,
        delivered: answer.delivered,
    };
    cross
        .call(call(cross_shard_call::Call::ExternalOutcome(outcome)))
        .await
        .map(|_| ())
}

/// RunClosed: tell the parent how this run ended, and close the children its policy names.
async fn run_closed(
    shard: &Arc<Shard>,
    cross: &dyn CrossShard,
    key: &ExecKey,
    notify_parent: bool,
    notify_schedule: bool,
) -> Result<(), HistoryError> {
    let effects = shard
        .inspect(key, |state| {
            Ok(state.map(|s| {
                let schedule = s
                    .scheduled_by
                    .clone()
                    .filter(|_| notify_schedule && !s.is_running());
                (
                    s.closed_run_effects(notify_parent),
                    s.completion_event_id,
                    schedule,
                    s.status,
                )
            }))
        })
        .await?;
    let Some((effects, close_event_id, schedule, status)) = effects else {
        return Ok(());
    };
    // How the run ended, as its close event says: told to the schedule that started it and to
    // its parent.
    let close_outcome = || -> Result<Option<ChildOutcome>, HistoryError> {
        let events = tables::read_events(
            &shard.store,
            shard.id,
            key,
            close_event_id,
            close_event_id + 1,
            1,
        )?;
        Ok(events
            .first()
            .and_then(perdure_core::MutableState::child_outcome))
    };
    if let Some(by) = schedule {
        let (failure, result) = match close_outcome()? {
            Some(ChildOutcome::Completed(r)) => (None, r),
            Some(ChildOutcome::Failed { failure, .. }) => (failure, None),
            _ => (None, None),
        };
        let closed = ScheduleRunClosed {
            namespace_id: key.namespace_id.clone(),
            schedule_id: by.schedule_id.clone(),
            workflow_id: key.workflow_id.clone(),
            status,
            failure,
            result,
            route: perdure_schedule::scheduler::scheduler_workflow_id(&by.schedule_id),
        };
        cross
            .call(call(cross_shard_call::Call::ScheduleRunClosed(closed)))
            .await?;
    }
    if let Some(parent) = effects.parent {
        let outcome = close_outcome()?.unwrap_or(ChildOutcome::Terminated);
        let child = WorkflowExecution {
            workflow_id: key.workflow_id.clone(),
            run_id: key.run_id.clone(),
        };
        let closed = ChildClosed::from_outcome(parent, child, outcome);
        cross
            .call(call(cross_shard_call::Call::ChildClosed(closed)))
            .await?;
    }
    for child in effects.children {
        let terminate = child.parent_close_policy == ParentClosePolicy::Terminate as i32;
        let step = CloseChild {
            namespace_id: child.namespace_id.clone(),
            workflow_id: child.workflow_id.clone(),
            first_run_id: child.run_id.clone(),
            terminate,
            parent: Some(WorkflowExecution {
                workflow_id: key.workflow_id.clone(),
                run_id: key.run_id.clone(),
            }),
            ..Default::default()
        };
        cross
            .call(call(cross_shard_call::Call::CloseChild(step)))
            .await?;
    }
    Ok(())
}

/// ScheduleAction: start a schedule's run (once) and report the outcome to the schedule, or
/// cancel / terminate a run it started.
async fn schedule_action(
    shard: &Arc<Shard>,
    cross: &dyn CrossShard,
    task: &TransferTask,
    a: &transfer_task::ScheduleActionRef,
) -> Result<(), HistoryError> {
    let namespace_id = task.namespace_id.as_str();
    let Some(schedule_id) = task
        .workflow_id
        .strip_prefix(perdure_schedule::scheduler::SCHEDULER_WORKFLOW_ID_PREFIX)
    else {
        return Ok(());
    };
    // The schedule is gone: nothing left to do.
    let Some(state) = shard.read_schedule(namespace_id, schedule_id).await? else {
        return Ok(());
    };
    if a.op != 0 {
        let running = state
            .info
            .as_ref()
            .map(|i| i.running_workflows.clone())
            .unwrap_or_default();
        for ex in running {
            let step = CloseChild {
                namespace_id: namespace_id.to_string(),
                workflow_id: ex.workflow_id,
                first_run_id: ex.run_id,
                terminate: a.op == 2,
                parent: None,
                reason: if a.op == 2 {
                    SCHEDULE_TERMINATE_REASON
                } else {
                    SCHEDULE_CANCEL_REASON
                }
                .to_string(),
                identity: state.identity(),
            };
            cross
                .call(call(cross_shard_call::Call::CloseChild(step)))
                .await?;
        }
        return Ok(());
    }
    // Reported already: nothing left to do.
    let Some(request) = state.pending_start(a.start_seq).cloned() else {
        return Ok(());
    };
    let started = cross
        .call(call(cross_shard_call::Call::StartScheduled(
            StartScheduled {
                namespace_id: namespace_id.to_string(),
                schedule_id: schedule_id.to_string(),
                request: Some(request),
                retention_secs: state.retention_secs,
            },
        )))
        .await?;
    let report = ScheduleStarted {
        namespace_id: namespace_id.to_string(),
        schedule_id: schedule_id.to_string(),
        seq: a.start_seq,
        run_id: started.started_run_id,
        route: task.workflow_id.clone(),
    };
    cross
        .call(call(cross_shard_call::Call::ScheduleStarted(report)))
        .await
        .map(|_| ())
}

/// The reasons a schedule's TERMINATE_OTHER and CANCEL_OTHER give their victim (Temporal's).
const SCHEDULE_TERMINATE_REASON: &str = "terminated by schedule overlap policy";
const SCHEDULE_CANCEL_REASON: &str = "cancelled by schedule overlap policy";

/// A start step's answer: the run it started, or an empty run id when the workflow id is taken
/// (the caller reads that as a refused start: a child's start failed, a schedule's start dropped).
fn started_answer(
    started: Result<crate::api::StartOutcome, HistoryError>,
) -> Result<CrossShardAnswer, HistoryError> {
    match started {
        Ok(outcome) => Ok(CrossShardAnswer {
            started_run_id: outcome.run_id,
            ..CrossShardAnswer::default()
        }),
        Err(HistoryError::Core(perdure_core::CoreError::AlreadyStarted { .. })) => {
            Ok(CrossShardAnswer::default())
        }
        Err(e) => Err(e),
    }
}

impl crate::HistoryService {
    /// Serves one step of an effect on this node (the caller routed it to the leader of its
    /// target's shard).
    pub async fn serve_cross_shard(
        &self,
        c: CrossShardCall,
    ) -> Result<CrossShardAnswer, HistoryError> {
        use cross_shard_call::Call;
        let none = CrossShardAnswer::default();
        match c.call {
            Some(Call::StartChild(s)) => {
                let request = s.request.unwrap_or_default();
                let parent = s.parent.unwrap_or_default();
                let retention = Some(Duration::from_secs(s.retention_secs));
                started_answer(
                    self.start_child(&s.namespace_id, retention, request, parent)
                        .await,
                )
            }
            Some(Call::ChildStarted(c)) => {
                let p = c.parent.unwrap_or_default();
                self.mutate_parent(&p, |s, now| {
                    s.record_child_started(p.initiated_event_id, &c.child_run_id, now)
                })
                .await
                .map(|_| none)
            }
            Some(Call::ChildStartFailed(c)) => {
                let p = c.parent.unwrap_or_default();
                self.mutate_parent(&p, |s, now| {
                    s.record_start_child_failed(
                        p.initiated_event_id,
                        StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
                        now,
                    )
                })
                .await
                .map(|_| none)
            }
            Some(Call::ChildClosed(c)) => {
                let p = c.parent.clone().unwrap_or_default();
                let child = c.child.clone().unwrap_or_default();
                let outcome = c.outcome();
                self.mutate_parent(&p, |s, now| {
                    s.record_child_closed(p.initiated_event_id, &child, outcome.clone(), now)
                })
                .await
                .map(|_| none)
            }
            Some(Call::CloseChild(c)) => self.close_child(&c).await.map(|_| none),
            Some(Call::StartScheduled(s)) => {
                let request = s.request.unwrap_or_default();
                let retention =
                    (s.retention_secs > 0).then(|| Duration::from_secs(s.retention_secs));
                let by = perdure_core::ScheduledBy {
                    schedule_id: s.schedule_id.clone(),
                };
                started_answer(
                    self.start_scheduled(&s.namespace_id, retention, request, by)
                        .await,
                )
            }
            Some(Call::ScheduleStarted(s)) => self
                .record_schedule_start(&s.namespace_id, &s.schedule_id, s.seq, &s.run_id)
                .await
                .map(|_| none),
            Some(Call::ScheduleRunClosed(c)) => {
                let status = WorkflowExecutionStatus::try_from(c.status)
                    .unwrap_or(WorkflowExecutionStatus::Terminated);
                self.record_schedule_run_closed(
                    &c.namespace_id,
                    &c.schedule_id,
                    &c.workflow_id,
                    status,
                    c.failure,
                    c.result,
                )
                .await
                .map(|_| none)
            }
            Some(Call::Deliver(d)) => {
                let delivered = self.deliver(&d).await?;
                Ok(CrossShardAnswer { delivered, ..none })
            }
            Some(Call::ExternalOutcome(o)) => {
                let sender = o.sender.clone().unwrap_or_default();
                let key = ExecKey::new(&o.namespace_id, &sender.workflow_id, &sender.run_id);
                self.mutate_run(&key, |s, now| {
                    s.record_external_outcome(o.initiated_event_id, o.delivered, now)
                })
                .await
                .map(|_| none)
            }
            None => Ok(none),
        }
    }

    /// Changes a parent run; a parent that no longer exists has nothing to record.
    async fn mutate_parent(
        &self,
        p: &ParentExecution,
        op: impl Fn(
            &mut perdure_core::MutableState,
            perdure_core::Time,
        ) -> Result<perdure_core::Mutation, perdure_core::CoreError>,
    ) -> Result<(), HistoryError> {
        let key = ExecKey::new(&p.namespace_id, &p.workflow_id, &p.run_id);
        self.mutate_run(&key, op).await
    }

    /// Records a report in the run `key` names; a run that no longer exists has nothing to
    /// record, and a repeated report that changes nothing writes nothing.
    async fn mutate_run(
        &self,
        key: &ExecKey,
        op: impl Fn(
            &mut perdure_core::MutableState,
            perdure_core::Time,
        ) -> Result<perdure_core::Mutation, perdure_core::CoreError>,
    ) -> Result<(), HistoryError> {
        let shard = self.shard_for(&key.namespace_id, &key.workflow_id);
        shard
            .update(key, |state, now| {
                let Some(state) = state else {
                    return Ok(crate::shard::Step::Skip(()));
                };
                let mut next = state.clone();
                let m = op(&mut next, now)?;
                if m.is_empty() && next == *state {
                    return Ok(crate::shard::Step::Reply(()));
                }
                Ok(crate::shard::Step::Write(crate::shard::Plan::new(
                    next,
                    m,
                    (),
                )))
            })
            .await
    }

    /// Delivers a signal or cancel request; false when the target does not exist (or, for a
    /// request meant for a child only, is not the sender's child).
    async fn deliver(&self, d: &Deliver) -> Result<bool, HistoryError> {
        let r = d.request.clone().unwrap_or_default();
        let sender = d.sender.clone().unwrap_or_default();
        let key = match self
            .resolve_run(&r.namespace_id, &r.workflow_id, &r.run_id)
            .await
        {
            Ok(key) => key,
            Err(HistoryError::Core(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        let shard = self.shard_for(&r.namespace_id, &r.workflow_id);
        let request_id = r.request_id(&sender.run_id);
        shard
            .update(&key, |state, now| {
                let Some(state) = state else {
                    return Ok(crate::shard::Step::Skip(false));
                };
                if r.child_workflow_only && state.parent_workflow_id != sender.workflow_id {
                    return Ok(crate::shard::Step::Reply(false));
                }
                let mut next = state.clone();
                let m = if r.signal {
                    let signal = perdure_core::Signal {
                        name: r.signal_name.clone(),
                        input: r.input.clone(),
                        header: r.header.clone(),
                        identity: HISTORY_SERVICE_IDENTITY.into(),
                        request_id: request_id.clone(),
                        external: Some(sender.clone()),
                    };
                    match next.signal(&signal, now) {
                        Ok(m) => m,
                        // A closed target counts as not found, as in Temporal.
                        Err(perdure_core::CoreError::WorkflowCompleted) => {
                            return Ok(crate::shard::Step::Reply(false))
                        }
                        Err(e) => return Err(e.into()),
                    }
                } else {
                    next.request_cancel(
                        &perdure_core::CancelRequest {
                            reason: r.reason.clone(),
                            identity: HISTORY_SERVICE_IDENTITY.into(),
                            external: Some(sender.clone()),
                            external_initiated_event_id: r.initiated_event_id,
                            ..Default::default()
                        },
                        now,
                    )?
                };
                if m.is_empty() && next == *state {
                    return Ok(crate::shard::Step::Reply(true));
                }
                Ok(crate::shard::Step::Write(crate::shard::Plan::new(
                    next, m, true,
                )))
            })
            .await
    }

    /// A parent close policy reaching a child: terminate it, or ask it to cancel, if the
    /// child's chain is still the one the parent started.
    async fn close_child(&self, c: &CloseChild) -> Result<(), HistoryError> {
        let key = match self.resolve_run(&c.namespace_id, &c.workflow_id, "").await {
            Ok(key) => key,
            Err(HistoryError::Core(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let shard = self.shard_for(&c.namespace_id, &c.workflow_id);
        shard
            .update(&key, |state, now| {
                let Some(state) =
                    state.filter(|s| s.is_running() && s.first_execution_run_id == c.first_run_id)
                else {
                    return Ok(crate::shard::Step::Skip(()));
                };
                let mut next = state.clone();
                let m = if c.terminate {
                    let reason = if c.reason.is_empty() {
                        "by parent close policy"
                    } else {
                        c.reason.as_str()
                    };
                    let identity = if c.identity.is_empty() {
                        HISTORY_SERVICE_IDENTITY
                    } else {
                        c.identity.as_str()
                    };
                    next.terminate(reason, None, identity, now)?
                } else {
                    let identity = if c.identity.is_empty() {
                        HISTORY_SERVICE_IDENTITY
                    } else {
                        c.identity.as_str()
                    };
                    next.request_cancel(
                        &perdure_core::CancelRequest {
                            identity: identity.into(),
                            reason: c.reason.clone(),
                            external: c.parent.clone(),
                            ..Default::default()
                        },
                        now,
                    )?
                };
                Ok(crate::shard::Step::Write(crate::shard::Plan::new(
                    next,
                    m,
                    (),
                )))
            })
            .await
    }
}
