//! StartWorkflowExecution and SignalWithStartWorkflowExecution: id reuse/conflict policies,
//! request-id dedup, and the first write of a run (its history, state, first workflow task and
//! the workflow id's current-run pointer), or the signal to the run the policies keep; and
//! update-with-start, whose update a new run admits in the same step.

use std::time::Duration;

use perdure_core::{
    decide_start, signal_with_start, start_workflow, CoreError, CurrentExecution, ParentExecution,
    Signal, StartDecision, StartParams, StartPolicyInput,
};
use perdure_storage::{keys, Cf, Check, Expect, Op};
use prost::Message;
use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use temporalio_protos::temporal::api::update::v1::Request;
use temporalio_protos::temporal::api::workflowservice::v1::StartWorkflowExecutionRequest;
use tokio::sync::watch;

use crate::api::{UpdateHandle, UpdateTarget};
use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::shard::{Plan, Step};
use crate::updates::UpdateState;
use crate::{tables, HistoryService};

/// How often a start re-reads the current run after losing a race for it.
const START_ATTEMPTS: usize = 4;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartOutcome {
    pub run_id: String,
    /// The first run of `run_id`'s chain (itself for a run this start created).
    pub first_execution_run_id: String,
    /// True when this start created the run, or an earlier start with the same request id did
    /// (Temporal answers a retried start as it answered the first); false when an existing
    /// run was kept (USE_EXISTING, or the run a SignalWithStart signalled).
    pub started: bool,
    /// The run's status as the start found or left it (a WorkflowExecutionStatus).
    pub status: i32,
}

/// What a start does besides starting: nothing, record a signal (SignalWithStart), or admit an
/// update that rides on the new run's first workflow task (update-with-start).
enum Also<'a> {
    Nothing,
    Signal(Signal),
    Update {
        id: &'a str,
        request: &'a Request,
    },
    /// A schedule's start: the run (and its chain) remembers the schedule.
    Scheduled(perdure_core::ScheduledBy),
}

impl HistoryService {
    /// `retention` is the namespace's workflow_execution_retention_ttl: the new run is deleted
    /// this long after it closes (`None`: perdure-core's `DEFAULT_RETENTION`).
    pub async fn start_workflow(
        &self,
        namespace_id: &str,
        retention: Option<Duration>,
        request: StartWorkflowExecutionRequest,
    ) -> Result<StartOutcome, HistoryError> {
        self.start_or_signal(namespace_id, retention, request, Also::Nothing, None)
            .await
            .map(|(o, _)| o)
    }

    /// Update-with-start (ExecuteMultiOperation): starts the run as `start` says (or finds the
    /// one its conflict policy keeps) and admits the update to it. A new run has the update
    /// admitted before its first workflow task can be polled, so that task carries it.
    pub async fn update_with_start(
        &self,
        namespace_id: &str,
        retention: Option<Duration>,
        start: StartWorkflowExecutionRequest,
        update_id: &str,
        update: &Request,
    ) -> Result<(StartOutcome, UpdateHandle), HistoryError> {
        let workflow_id = start.workflow_id.clone();
        let also = Also::Update {
            id: update_id,
            request: update,
        };
        let (outcome, admitted) = self
            .start_or_signal(namespace_id, retention, start, also, None)
            .await?;
        let handle = match admitted {
            Some(rx) => UpdateHandle::admitted(&outcome.run_id, rx),
            None => {
                let target = UpdateTarget {
                    namespace_id,
                    workflow_id: &workflow_id,
                    run_id: &outcome.run_id,
                    first_execution_run_id: "",
                };
                self.update_workflow(target, update_id, update).await?
            }
        };
        Ok((outcome, handle))
    }

    /// Starts a schedule's run (the ScheduleAction effect). The request id is the schedule's
    /// deterministic one, so a repeated attempt finds the run the first one created.
    pub async fn start_scheduled(
        &self,
        namespace_id: &str,
        retention: Option<Duration>,
        request: StartWorkflowExecutionRequest,
        by: perdure_core::ScheduledBy,
    ) -> Result<StartOutcome, HistoryError> {
        self.start_or_signal(namespace_id, retention, request, Also::Scheduled(by), None)
            .await
            .map(|(o, _)| o)
    }

    /// Starts a child workflow for `parent` (the StartChild effect). The request id is the
    /// parent's deterministic one, so a repeated attempt finds the run the first one created.
    pub async fn start_child(
        &self,
        namespace_id: &str,
        retention: Option<Duration>,
        request: StartWorkflowExecutionRequest,
        parent: ParentExecution,
    ) -> Result<StartOutcome, HistoryError> {
        self.start_or_signal(
            namespace_id,
            retention,
            request,
            Also::Nothing,
            Some(parent),
        )
        .await
        .map(|(o, _)| o)
    }

    /// SignalWithStartWorkflowExecution: `request` carries the start (its conflict policy
    /// already defaulted to USE_EXISTING by the frontend, as Temporal does). An existing run
    /// the policies keep gets the signal; otherwise a new run starts with the signal recorded
    /// before its first workflow task.
    pub async fn signal_with_start(
        &self,
        namespace_id: &str,
        retention: Option<Duration>,
        request: StartWorkflowExecutionRequest,
        signal: Signal,
    ) -> Result<StartOutcome, HistoryError> {
        self.start_or_signal(namespace_id, retention, request, Also::Signal(signal), None)
            .await
            .map(|(o, _)| o)
    }

    /// Returns the update admitted with a new run (update-with-start); an existing run's
    /// update is the caller's to admit.
    async fn start_or_signal(
        &self,
        namespace_id: &str,
        retention: Option<Duration>,
        request: StartWorkflowExecutionRequest,
        also: Also<'_>,
        parent: Option<ParentExecution>,
    ) -> Result<(StartOutcome, Option<watch::Receiver<UpdateState>>), HistoryError> {
        let signal = match &also {
            Also::Signal(s) => Some(s.clone()),
            _ => None,
        };
        let shard = self.shard_for(namespace_id, &request.workflow_id);
        // Dedup and conflicts are decided from the current-run pointer on disk, which only the
        // serving leader knows to be complete: a follower could answer from stale state.
        shard.settle().await;
        shard.ensure_leader()?;
        let wf = request.workflow_id.clone();
        // Starts of one workflow id queue behind each other; everything else runs in parallel.
        let _current = shard.cache.lock(&ExecKey::current(namespace_id, &wf)).await;
        let policy = StartPolicyInput::from_request(&request);
        // Chosen before the loop: a TerminateExisting start names its successor in the
        // terminated run's details, as Temporal does.
        let new_run_id = uuid::Uuid::new_v4().to_string();
        for _ in 0..START_ATTEMPTS {
            let current = tables::load_current(&shard.store, shard.id, namespace_id, &wf)?
                .map(|(c, raw)| {
                    Ok::<_, HistoryError>((with_first_run(shard, namespace_id, &wf, c)?, raw))
                })
                .transpose()?;
            match decide_start(current.as_ref().map(|(c, _)| c), &policy) {
                StartDecision::Start => {}
                StartDecision::ReturnExisting { run_id } => {
                    match &signal {
                        Some(signal) => {
                            let key = ExecKey::new(namespace_id, &wf, &run_id);
                            let signalled = shard
                                .mutate(&key, |next, now| {
                                    Ok((next.signal_with_start_existing(signal, now)?, ()))
                                })
                                .await;
                            match signalled {
                                // It closed meanwhile: decide again (a new run may start).
                                Err(HistoryError::Core(CoreError::WorkflowCompleted)) => continue,
                                other => other?,
                            }
                        }
                        None => shard.read_barrier().await?,
                    }
                    let (status, first_execution_run_id, deduped) =
                        current
                            .as_ref()
                            .map_or((0, String::new(), false), |(c, _)| {
                                let deduped = c.start_request_id == request.request_id;
                                (c.status, c.first_execution_run_id.clone(), deduped)
                            });
                    return Ok((
                        StartOutcome {
                            run_id,
                            first_execution_run_id,
                            started: deduped && signal.is_none(),
                            status,
                        },
                        None,
                    ));
                }
                StartDecision::Fail(e) => {
                    shard.read_barrier().await?;
                    return Err(e.into());
                }
                StartDecision::TerminateExistingThenStart { run_id } => {
                    let key = ExecKey::new(namespace_id, &wf, &run_id);
                    match self.terminate_run(shard, &key, &new_run_id).await {
                        // It closed on its own meanwhile (completed, retried...): re-read the
                        // pointer and decide again.
                        Ok(()) | Err(HistoryError::Core(CoreError::WorkflowCompleted)) => continue,
                        Err(e) => return Err(e),
                    }
                }
            }
            let run_id = new_run_id.clone();
            let key = ExecKey::new(namespace_id, &wf, &run_id);
            let current_key = keys::current_execution(shard.id, namespace_id, &wf);
            let expect = match &current {
                Some((_, raw)) => Expect::Equals(raw.clone()),
                None => Expect::Absent,
            };
            let pointer = CurrentExecution {
                run_id: run_id.clone(),
                start_request_id: request.request_id.clone(),
                status: WorkflowExecutionStatus::Running as i32,
                first_execution_run_id: run_id.clone(),
            }
            .encode_to_vec();
            let written = shard
                .update(&key, |existing, now| {
                    if existing.is_some() {
                        return Err(HistoryError::Conflict);
                    }
                    let params = StartParams {
                        request: request.clone(),
                        namespace_id: namespace_id.to_string(),
                        run_id: run_id.clone(),
                        first_execution_run_id: run_id.clone(),
                        attempt: 1,
                        retention,
                        parent: parent.clone(),
                    };
                    let (mut state, mutation) = match &signal {
                        Some(signal) => signal_with_start(params, signal, now)?,
                        None => start_workflow(params, now)?,
                    };
                    if let Also::Scheduled(by) = &also {
                        state.scheduled_by = Some(by.clone());
                    }
                    // Admitted under the new run's lock, before its first task is dispatched.
                    let admitted = match &also {
                        Also::Update { id, request } => Some(
                            shard
                                .updates
                                .admit(&key, id, request)
                                .map_err(|_| HistoryError::TooManyUpdates)?,
                        ),
                        _ => None,
                    };
                    let mut plan = Plan::new(state, mutation, admitted);
                    plan.extra_checks.push(Check {
                        cf: Cf::CurrentExecutions,
                        key: current_key.clone(),
                        expect: expect.clone(),
                    });
                    plan.extra_ops.push(Op::Put {
                        cf: Cf::CurrentExecutions,
                        key: current_key.clone(),
                        value: pointer.clone(),
                    });
                    Ok(Step::Write(plan))
                })
                .await;
            match written {
                Ok(admitted) => {
                    return Ok((
                        StartOutcome {
                            first_execution_run_id: run_id.clone(),
                            run_id,
                            started: true,
                            status: WorkflowExecutionStatus::Running as i32,
                        },
                        admitted,
                    ))
                }
                Err(HistoryError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(HistoryError::Conflict)
    }
}

/// `current` with its chain's first run filled in: a pointer written before the pointer kept
/// it names only the current run, whose state knows (a read only for such old pointers).
fn with_first_run(
    shard: &crate::shard::Shard,
    namespace_id: &str,
    workflow_id: &str,
    mut current: CurrentExecution,
) -> Result<CurrentExecution, HistoryError> {
    if current.first_execution_run_id.is_empty() {
        let key = ExecKey::new(namespace_id, workflow_id, &current.run_id);
        current.first_execution_run_id = tables::load_execution(&shard.store, shard.id, &key)?
            .map(|(state, _)| state.first_execution_run_id)
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| current.run_id.clone());
    }
    Ok(current)
}
