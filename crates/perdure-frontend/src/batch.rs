//! The batch runner: each node drives the running batch jobs of the shards it leads, as
//! Temporal's per-namespace batcher worker runs its batch workflows' activity.
//!
//! Once a second (and at once when a job is started here) the runner asks history for the
//! running jobs of the shards this node leads and starts a driver for each it is not driving
//! yet. A driver does what the record says next (`BatchJob::next_work`): count the query's
//! targets, list a page of them (the same fan-out ListWorkflowExecutions uses), carry out the
//! operation on each target through this node's WorkflowService (so a target on another
//! node's shard is forwarded to its leader), and checkpoint progress through Raft every few
//! targets; a new leader resumes from the last checkpoint. Carrying out an operation twice is
//! harmless: a signal's request id is derived from the job and target (the run's signal dedup
//! drops a repeat), a cancel request's too, terminating a closed run answers NotFound, which
//! counts as done, as in Temporal's batcher, and a reset is skipped for a target reset since
//! the job started (`reset_during_job`).
//!
//! Before each operation the driver reads the job from this node's replica, so nothing is
//! carried out after a StopBatchOperation has been applied here. Once a minute the runner also
//! has history delete the closed jobs past their namespace's retention. This module never
//! writes a job but through history's batch operations.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use perdure_api::workflowservice::workflow_service_server::WorkflowService;
use perdure_batch::reset::{Point, WorkflowTaskScan};
use perdure_batch::{BatchJob, Kind, Work};
use perdure_storage::GroupId;
use temporalio_protos::temporal::api::batch::v1::BatchOperationReset;
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::workflowservice::v1::start_batch_operation_request::Operation;
use temporalio_protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, DeleteWorkflowExecutionRequest,
    DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryRequest,
    ListWorkflowExecutionsRequest, RequestCancelWorkflowExecutionRequest,
    ResetWorkflowExecutionRequest, SignalWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
};
use tokio::time::Instant;
use tonic::{Code, Request, Status};

use crate::server::Frontend;

/// How often the runner looks for jobs it should drive.
const SCAN_INTERVAL: Duration = Duration::from_secs(1);
/// Targets listed per page (Temporal lists 1000; a page is kept in the job record until done,
/// so it stays small).
const PAGE_SIZE: i32 = 100;
/// A checkpoint after this many targets or this long, whichever comes first.
const CHECKPOINT_TARGETS: u32 = 10;
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Tries of one operation that fails for a reason that may pass (Temporal's
/// defaultAttemptsOnRetryableError), and the pause between them.
const ATTEMPTS: u32 = 50;
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Pause before a driver that hit an error is started again.
const DRIVER_BACKOFF: Duration = Duration::from_secs(1);
/// How often closed jobs past their namespace's retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The identity Temporal's batcher terminates and cancels with: its SDK client's default,
/// `<pid>@<host>@`.
fn batcher_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{}@{host}@", std::process::id())
}

/// Runs until `stop` resolves; every driver ends with it.
pub async fn run(frontend: Frontend, stop: impl std::future::Future<Output = ()>) {
    let active: Arc<Mutex<HashSet<(String, String)>>> = Arc::default();
    let mut drivers = tokio::task::JoinSet::new();
    tokio::pin!(stop);
    let mut next_prune = Instant::now() + PRUNE_EVERY;
    loop {
        if Instant::now() >= next_prune {
            prune(&frontend).await;
            next_prune = Instant::now() + PRUNE_EVERY;
        }
        for s in 1..=frontend.history.shard_count() {
            let jobs = match frontend.history.running_batches(GroupId(s)) {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(shard = s, error = %e, "listing running batch jobs failed");
                    continue;
                }
            };
            for key in jobs {
                if !active
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key.clone())
                {
                    continue;
                }
                let (fe, active) = (frontend.clone(), active.clone());
                drivers.spawn(async move {
                    if let Err(e) = drive(&fe, &key.0, &key.1).await {
                        tracing::info!(job_id = %key.1, error = %e, "batch driver paused");
                        tokio::time::sleep(DRIVER_BACKOFF).await;
                    }
                    active
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&key);
                });
            }
        }
        while drivers.try_join_next().is_some() {}
        tokio::select! {
            _ = &mut stop => break,
            _ = frontend.batch_kick.notified() => {}
            _ = tokio::time::sleep(SCAN_INTERVAL) => {}
        }
    }
    drivers.shutdown().await;
}

/// Deletes the closed jobs past their namespace's retention on the shards this node leads
/// (a job of a namespace no longer known is kept).
async fn prune(fe: &Frontend) {
    let retention = |ns_id: &str| {
        let ns = fe.namespaces.get_by_id(ns_id).ok()?;
        Some(crate::retention::of(&ns).unwrap_or(perdure_core::DEFAULT_RETENTION))
    };
    for s in 1..=fe.history.shard_count() {
        match fe.history.prune_batches(GroupId(s), retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                shard = s,
                jobs = n,
                "closed batch jobs past retention deleted"
            ),
            Err(e) => tracing::warn!(shard = s, error = %e, "pruning batch jobs failed"),
        }
    }
}

fn history_status(e: perdure_history::HistoryError) -> Status {
    crate::errors::history(e)
}

/// Drives one job until it closes, this node stops leading its shard, or an error.
async fn drive(fe: &Frontend, ns_id: &str, job_id: &str) -> Result<(), Status> {
    let interval = Duration::from_secs_f64(1.0 / f64::from(fe.history.config().batcher_rps.max(1)));
    let mut next_slot = Instant::now();
    loop {
        let job = fe
            .history
            .describe_batch(ns_id, job_id)
            .await
            .map_err(history_status)?;
        let namespace = job.request().namespace.clone();
        match job.next_work() {
            Work::Closed => return Ok(()),
            Work::Count { query } => {
                let counted = fe
                    .count_workflow_executions(CountWorkflowExecutionsRequest { namespace, query })
                    .await;
                match counted {
                    Ok(c) => progress(fe, ns_id, job_id, move |j| j.set_total(c.count)).await?,
                    Err(s) if s.code() == Code::InvalidArgument => {
                        fail(fe, ns_id, job_id, &s).await?
                    }
                    Err(s) => return Err(s),
                }
            }
            Work::List { query, token } => {
                let listed = fe
                    .list_workflow_executions(ListWorkflowExecutionsRequest {
                        namespace,
                        page_size: PAGE_SIZE,
                        next_page_token: token,
                        query,
                    })
                    .await;
                match listed {
                    Ok(page) => {
                        let targets: Vec<WorkflowExecution> = page
                            .executions
                            .into_iter()
                            .filter_map(|e| e.execution)
                            .collect();
                        let next = page.next_page_token;
                        progress(fe, ns_id, job_id, move |j| {
                            j.take_page(targets.clone(), next.clone())
                        })
                        .await?
                    }
                    Err(s) if s.code() == Code::InvalidArgument => {
                        fail(fe, ns_id, job_id, &s).await?
                    }
                    Err(s) => return Err(s),
                }
            }
            Work::Apply(targets) => {
                apply_page(fe, &job, ns_id, targets, interval, &mut next_slot).await?;
            }
            Work::Finish => {
                fe.history
                    .batch_progress(ns_id, job_id, |j, now| {
                        j.complete(now);
                        Ok(())
                    })
                    .await
                    .map_err(history_status)?;
                tracing::info!(job_id, "batch job completed");
                return Ok(());
            }
        }
    }
}

async fn progress(
    fe: &Frontend,
    ns_id: &str,
    job_id: &str,
    change: impl Fn(&mut BatchJob) + Send,
) -> Result<(), Status> {
    fe.history
        .batch_progress(ns_id, job_id, |j, _| {
            change(j);
            Ok(())
        })
        .await
        .map(|_| ())
        .map_err(history_status)
}

/// The job cannot go on (its query is refused): FAILED, as Temporal's batch workflow fails.
async fn fail(fe: &Frontend, ns_id: &str, job_id: &str, why: &Status) -> Result<(), Status> {
    let message = why.message().to_string();
    fe.history
        .batch_progress(ns_id, job_id, |j, now| {
            j.fail(now, &message);
            Ok(())
        })
        .await
        .map(|_| ())
        .map_err(history_status)
}

/// Carries out the operation on the page's remaining targets, checkpointing as it goes.
async fn apply_page(
    fe: &Frontend,
    job: &BatchJob,
    ns_id: &str,
    targets: Vec<WorkflowExecution>,
    interval: Duration,
    next_slot: &mut Instant,
) -> Result<(), Status> {
    let job_id = job.job_id().to_string();
    let mut from = job.page_done;
    let (mut ok, mut failed) = (0u32, 0u32);
    let mut since = Instant::now();
    let identity = batcher_identity();
    for target in targets {
        // A stop applied here since the last look ends the job's work at once.
        match fe.history.local_batch(ns_id, &job_id) {
            Ok(Some(j)) if j.is_running() => {}
            _ => return Ok(()),
        }
        tokio::time::sleep_until(*next_slot).await;
        *next_slot = Instant::now().max(*next_slot) + interval;
        if apply_with_retries(fe, job, &target, &identity).await? {
            ok += 1;
        } else {
            failed += 1;
        }
        if ok + failed >= CHECKPOINT_TARGETS || since.elapsed() >= CHECKPOINT_EVERY {
            record(fe, ns_id, &job_id, from, ok, failed).await?;
            from += ok + failed;
            (ok, failed) = (0, 0);
            since = Instant::now();
        }
    }
    if ok + failed > 0 {
        record(fe, ns_id, &job_id, from, ok, failed).await?;
    }
    Ok(())
}

async fn record(
    fe: &Frontend,
    ns_id: &str,
    job_id: &str,
    from: u32,
    ok: u32,
    failed: u32,
) -> Result<(), Status> {
    fe.history
        .batch_progress(ns_id, job_id, |j, _| j.record(from, ok, failed))
        .await
        .map(|_| ())
        .map_err(history_status)
}

/// True when the operation is done for this target (NotFound included: the run is closed or
/// gone, as Temporal's batcher counts it), false when it failed for good. An error that may
/// pass is tried again; the driver's own trouble (lost leadership) ends the driver.
async fn apply_with_retries(
    fe: &Frontend,
    job: &BatchJob,
    target: &WorkflowExecution,
    identity: &str,
) -> Result<bool, Status> {
    for attempt in 1..=ATTEMPTS {
        match apply(fe, job, target, identity).await {
            Ok(()) => return Ok(true),
            Err(s) if s.code() == Code::NotFound => return Ok(true),
            Err(s) if transient(s.code()) && attempt < ATTEMPTS => {
                tracing::debug!(job_id = job.job_id(), workflow_id = %target.workflow_id, error = %s, "batch operation retried");
                tokio::time::sleep(RETRY_PAUSE).await;
                fe.history
                    .describe_batch(&job.namespace_id, job.job_id())
                    .await
                    .map_err(history_status)?;
            }
            Err(s) => {
                tracing::info!(job_id = job.job_id(), workflow_id = %target.workflow_id, error = %s, "batch operation failed");
                return Ok(false);
            }
        }
    }
    Ok(false)
}

fn transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Internal
            | Code::Unknown
            | Code::Cancelled
    )
}

/// Resets one target as Temporal's batcher does: its reset point from its history (or its
/// auto reset points for a build id, which may name an earlier run of its chain), the job's
/// reason, the operation's identity, and a request id derived from the job and the run, which
/// history remembers on the base run: a repeat after a crash answers the run the first reset
/// made instead of resetting again.
async fn reset(
    fe: &Frontend,
    job: &BatchJob,
    target: &WorkflowExecution,
    op: &BatchOperationReset,
) -> Result<(), Status> {
    let req = job.request();
    let namespace = req.namespace.clone();
    let plan =
        perdure_batch::reset::plan(op).map_err(|e| Status::invalid_argument(e.to_string()))?;
    if reset_during_job(fe, job, &namespace, target).await {
        tracing::info!(job_id = job.job_id(), workflow_id = %target.workflow_id, run_id = %target.run_id, "batch reset target was reset since the job started: not reset again");
        return Ok(());
    }
    let mut execution = target.clone();
    let event_id = match &plan.point {
        Point::FirstWorkflowTask => workflow_task_event(fe, &namespace, target, false).await?,
        Point::LastWorkflowTask => workflow_task_event(fe, &namespace, target, true).await?,
        Point::EventId(id) => *id,
        Point::BuildId {
            build_id,
            current_run_only,
        } => {
            let described = WorkflowService::describe_workflow_execution(
                fe,
                Request::new(DescribeWorkflowExecutionRequest {
                    namespace: namespace.clone(),
                    execution: Some(target.clone()),
                }),
            )
            .await?
            .into_inner();
            let points = described
                .workflow_execution_info
                .and_then(|i| i.auto_reset_points)
                .map(|p| p.points)
                .unwrap_or_default();
            let (run_id, event_id) = perdure_batch::reset::build_id_point(
                &points,
                build_id,
                *current_run_only,
                &target.run_id,
                wall_clock(),
            )
            .map_err(|e| Status::failed_precondition(e.to_string()))?;
            execution.run_id = run_id;
            event_id
        }
    };
    WorkflowService::reset_workflow_execution(
        fe,
        Request::new(ResetWorkflowExecutionRequest {
            namespace,
            request_id: perdure_batch::job::reset_request_id(job.job_id(), &execution),
            workflow_execution: Some(execution),
            reason: req.reason.clone(),
            workflow_task_finish_event_id: event_id,
            #[allow(deprecated)]
            reset_reapply_type: plan.reapply_type,
            reset_reapply_exclude_types: plan.reapply_exclude_types.clone(),
            post_reset_operations: op.post_reset_operations.clone(),
            identity: op.identity.clone(),
        }),
    )
    .await?;
    Ok(())
}

/// True when the target was already reset since the job started: a repeat after a crash (or
/// a lost checkpoint) that must not reset it again. Temporal's batcher has no such check (its
/// reset request id is not deduplicated once the reset run inherits the base's start request
/// id); here the base's ResetRunId names the run a reset made, and a reset run starts when it
/// is made. A target named without a run id is the current run: one started by a reset
/// (started later than its history's start) since the job started is that repeat. When in
/// doubt (a describe fails), the reset goes ahead as in Temporal.
async fn reset_during_job(
    fe: &Frontend,
    job: &BatchJob,
    namespace: &str,
    target: &WorkflowExecution,
) -> bool {
    let describe = |execution: WorkflowExecution| async move {
        WorkflowService::describe_workflow_execution(
            fe,
            Request::new(DescribeWorkflowExecutionRequest {
                namespace: namespace.to_string(),
                execution: Some(execution),
            }),
        )
        .await
        .ok()
        .map(|r| r.into_inner())
    };
    let nanos = |t: Option<&prost_wkt_types::Timestamp>| {
        t.map_or(0, |t| perdure_core::Time::from_timestamp(t).0)
    };
    let Some(d) = describe(target.clone()).await else {
        return false;
    };
    let ext = d.workflow_extended_info.unwrap_or_default();
    if !ext.reset_run_id.is_empty() {
        let made = WorkflowExecution {
            workflow_id: target.workflow_id.clone(),
            run_id: ext.reset_run_id.clone(),
        };
        let Some(made) = describe(made).await else {
            return false;
        };
        let started = made.workflow_execution_info.and_then(|i| i.start_time);
        return nanos(started.as_ref()) >= job.start_time;
    }
    if target.run_id.is_empty() {
        let started = nanos(
            d.workflow_execution_info
                .and_then(|i| i.start_time)
                .as_ref(),
        );
        return started >= job.start_time && started > nanos(ext.original_start_time.as_ref());
    }
    false
}

fn wall_clock() -> perdure_core::Time {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    perdure_core::Time(since.as_nanos() as i64)
}

/// The first or last workflow task's event id, read from the target's history page by page.
/// A history that cannot be read is an error the batcher tries again, and a history with no
/// workflow task one it does not (here: a failed precondition, not tried again).
async fn workflow_task_event(
    fe: &Frontend,
    namespace: &str,
    target: &WorkflowExecution,
    last: bool,
) -> Result<i64, Status> {
    let mut scan = WorkflowTaskScan::new(last);
    let mut token = Vec::new();
    loop {
        let page = WorkflowService::get_workflow_execution_history(
            fe,
            Request::new(GetWorkflowExecutionHistoryRequest {
                namespace: namespace.to_string(),
                execution: Some(target.clone()),
                maximum_page_size: 1000,
                next_page_token: token,
                ..Default::default()
            }),
        )
        .await
        .map_err(|s| {
            tracing::info!(workflow_id = %target.workflow_id, error = %s, "reading a batch reset target's history failed");
            Status::unknown("failed to get workflow execution history")
        })?
        .into_inner();
        let events = page.history.map(|h| h.events).unwrap_or_default();
        if events.iter().any(|e| scan.observe(e)) || page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    scan.finish()
        .map_err(|e| Status::failed_precondition(e.to_string()))
}

/// One operation on one target, through this node's WorkflowService (forwarded to the
/// target's shard leader when that is another node).
async fn apply(
    fe: &Frontend,
    job: &BatchJob,
    target: &WorkflowExecution,
    identity: &str,
) -> Result<(), Status> {
    let req = job.request();
    let namespace = req.namespace.clone();
    let execution = Some(target.clone());
    match (job.kind(), req.operation.as_ref()) {
        (Some(Kind::Terminate), _) => {
            WorkflowService::terminate_workflow_execution(
                fe,
                Request::new(TerminateWorkflowExecutionRequest {
                    namespace,
                    workflow_execution: execution,
                    reason: req.reason.clone(),
                    identity: identity.to_string(),
                    ..Default::default()
                }),
            )
            .await?;
        }
        (Some(Kind::Cancel), _) => {
            WorkflowService::request_cancel_workflow_execution(
                fe,
                Request::new(RequestCancelWorkflowExecutionRequest {
                    namespace,
                    workflow_execution: execution,
                    identity: identity.to_string(),
                    request_id: perdure_batch::job::derived_request_id(
                        job.job_id(),
                        "cancel",
                        target,
                    ),
                    ..Default::default()
                }),
            )
            .await?;
        }
        (Some(Kind::Signal), Some(Operation::SignalOperation(op))) => {
            WorkflowService::signal_workflow_execution(
                fe,
                Request::new(SignalWorkflowExecutionRequest {
                    namespace,
                    workflow_execution: execution,
                    signal_name: op.signal.clone(),
                    input: op.input.clone(),
                    identity: op.identity.clone(),
                    request_id: perdure_batch::signal_request_id(job.job_id(), target, &op.signal),
                    ..Default::default()
                }),
            )
            .await?;
        }
        (Some(Kind::Reset), Some(Operation::ResetOperation(op))) => {
            reset(fe, job, target, op).await?;
        }
        (Some(Kind::Delete), _) => {
            WorkflowService::delete_workflow_execution(
                fe,
                Request::new(DeleteWorkflowExecutionRequest {
                    namespace,
                    workflow_execution: execution,
                }),
            )
            .await?;
        }
        _ => {
            return Err(Status::unimplemented(format!(
                "batch operation {:?} is not carried out by this server",
                job.operation_type()
            )))
        }
    }
    Ok(())
}
