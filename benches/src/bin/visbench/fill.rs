//! Filling a target: N workflows started with raw WorkflowService calls and no worker, every
//! one closed by the server (a one-second run timeout) or by the bench (terminate), with a
//! rare workflow type and a start-time boundary the queries can name.
//!
//! Owns: which workflow gets which id, type and status (so every query's answer is known in
//! advance), the two fill phases around the boundary, and waiting until Count shows every
//! workflow closed. Must never: wait without a deadline, or let a workflow of the second phase
//! start before the boundary (the time-window queries would then differ between targets).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{StreamExt, TryStreamExt};
use perdure_visibility::UnixNanos;
use temporalio_client::tonic::{Code, Request, Status};
use temporalio_client::Client;
use temporalio_common::protos::temporal::api::common::v1::{WorkflowExecution, WorkflowType};
use temporalio_common::protos::temporal::api::enums::v1::TaskQueueKind;
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, StartWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
};
use tokio::time::Instant;

use crate::args::Config;
use crate::VisError;

pub const NAMESPACE: &str = "default";
const TASK_QUEUE: &str = "visbench";
const IDENTITY: &str = "visbench";
/// One workflow in a hundred.
pub const RARE_TYPE: &str = "VisRare";
const COMMON_TYPES: [&str; 3] = ["VisCommonA", "VisCommonB", "VisCommonC"];
/// How long a workflow the server closes itself runs (nobody polls its task queue).
const RUN_TIMEOUT_SECS: i64 = 1;
/// How often the fill's completion is polled with Count.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// How a workflow of the fill ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    TimedOut,
    Terminated,
}

pub fn workflow_id(i: usize) -> String {
    format!("vis-{i}")
}

pub fn workflow_type(i: usize) -> &'static str {
    if i % 100 == 1 {
        RARE_TYPE
    } else {
        COMMON_TYPES[i % 3]
    }
}

pub fn end(i: usize) -> End {
    if i.is_multiple_of(3) {
        End::TimedOut
    } else {
        End::Terminated
    }
}

/// The first workflow of the second phase: the last 1% start after the boundary.
pub fn second_phase(workflows: usize) -> usize {
    workflows - workflows / 100
}

/// What a fill did.
#[derive(Debug, Clone)]
pub struct Filled {
    /// Every workflow of the first phase started (and closed) before this time, every one of
    /// the second after it.
    pub boundary: UnixNanos,
    /// From the first start call until the last call returned.
    pub calls: Duration,
    /// From the first start call until Count showed every workflow closed.
    pub visible: Duration,
}

pub async fn run(client: &Client, config: &Config) -> Result<Filled, VisError> {
    let n = config.workflows;
    let split = second_phase(n);
    let began = Instant::now();
    let deadline = began + config.fill_deadline;
    let mut calls = Duration::ZERO;

    let t = Instant::now();
    start_all(client, 0..split, config, deadline).await?;
    calls += t.elapsed();
    wait_closed(client, split, deadline).await?;
    // Clear of both phases by more than the servers' microsecond resolution.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let boundary = now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t = Instant::now();
    start_all(client, split..n, config, deadline).await?;
    calls += t.elapsed();
    wait_closed(client, n, deadline).await?;
    Ok(Filled {
        boundary,
        calls,
        visible: began.elapsed(),
    })
}

fn now() -> UnixNanos {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UnixNanos(d.as_nanos() as i64)
}

async fn start_all(
    client: &Client,
    range: std::ops::Range<usize>,
    config: &Config,
    deadline: Instant,
) -> Result<(), VisError> {
    let total = range.len();
    let step = (total / 10).max(1);
    let work = futures::stream::iter(range.map(|i| one(client.clone(), i)))
        .buffer_unordered(config.concurrency)
        .enumerate()
        .map(|(done, r)| {
            if (done + 1) % step == 0 {
                tracing::info!(done = done + 1, total, "filling");
            }
            r
        })
        .try_collect::<Vec<()>>();
    match tokio::time::timeout_at(deadline, work).await {
        Ok(r) => r.map(|_| ()),
        Err(_) => Err(VisError::FillDeadline {
            deadline: config.fill_deadline,
            seen: format!("still starting workflows ({total} in this phase)"),
        }),
    }
}

/// Attempts per call while filling: the dev server under a fill sometimes drops a connection
/// (a transport error), and a retried start or terminate is harmless (the start has the same
/// request id; a terminate that already happened answers NotFound).
const ATTEMPTS: u32 = 5;

fn transient(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::Cancelled
            | Code::Unknown
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
    )
}

async fn one(client: Client, i: usize) -> Result<(), VisError> {
    let workflow_id = workflow_id(i);
    let end = end(i);
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut attempt = 0;
    let run_id = loop {
        attempt += 1;
        match start(&client, i, &workflow_id, end, &request_id).await {
            Ok(run_id) => break run_id,
            Err(e) if attempt < ATTEMPTS && transient(&e) => backoff(attempt).await,
            Err(e) => return Err(VisError::rpc("StartWorkflowExecution")(e)),
        }
    };
    if end != End::Terminated {
        return Ok(());
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match terminate(&client, &workflow_id, &run_id).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt > 1 && e.code() == Code::NotFound => return Ok(()),
            Err(e) if attempt < ATTEMPTS && transient(&e) => backoff(attempt).await,
            Err(e) => return Err(VisError::rpc("TerminateWorkflowExecution")(e)),
        }
    }
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
}

async fn start(
    client: &Client,
    i: usize,
    workflow_id: &str,
    end: End,
    request_id: &str,
) -> Result<String, Status> {
    let mut svc = client.connection().workflow_service();
    let started = svc
        .start_workflow_execution(Request::new(StartWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            workflow_id: workflow_id.into(),
            workflow_type: Some(WorkflowType {
                name: workflow_type(i).into(),
            }),
            task_queue: Some(TaskQueue {
                name: TASK_QUEUE.into(),
                kind: TaskQueueKind::Normal as i32,
                ..Default::default()
            }),
            workflow_run_timeout: (end == End::TimedOut).then_some(prost_wkt_types::Duration {
                seconds: RUN_TIMEOUT_SECS,
                nanos: 0,
            }),
            identity: IDENTITY.into(),
            request_id: request_id.into(),
            ..Default::default()
        }))
        .await?
        .into_inner();
    Ok(started.run_id)
}

async fn terminate(client: &Client, workflow_id: &str, run_id: &str) -> Result<(), Status> {
    client
        .connection()
        .workflow_service()
        .terminate_workflow_execution(Request::new(TerminateWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: workflow_id.into(),
                run_id: run_id.into(),
            }),
            reason: "visbench".into(),
            identity: IDENTITY.into(),
            ..Default::default()
        }))
        .await?;
    Ok(())
}

pub async fn count(client: &Client, query: &str) -> Result<i64, VisError> {
    let r = client
        .connection()
        .workflow_service()
        .count_workflow_executions(Request::new(CountWorkflowExecutionsRequest {
            namespace: NAMESPACE.into(),
            query: query.into(),
        }))
        .await
        .map_err(VisError::rpc("CountWorkflowExecutions"))?;
    Ok(r.into_inner().count)
}

/// Until Count sees `total` workflows and none of them running.
async fn wait_closed(client: &Client, total: usize, deadline: Instant) -> Result<(), VisError> {
    let started = Instant::now();
    let budget = deadline.saturating_duration_since(started);
    loop {
        let all = count(client, "").await?;
        let running = count(client, "ExecutionStatus = 'Running'").await?;
        if all == total as i64 && running == 0 {
            tracing::info!(total, waited = ?started.elapsed(), "every workflow closed");
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(VisError::FillDeadline {
                deadline: budget,
                seen: format!("{all} of {total} visible, {running} running"),
            });
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_in_a_hundred_is_rare_and_both_ends_occur_among_them() {
        let rare: Vec<usize> = (0..1000)
            .filter(|&i| workflow_type(i) == RARE_TYPE)
            .collect();
        assert_eq!(rare.len(), 10);
        assert!(rare.iter().any(|&i| end(i) == End::TimedOut));
        assert!(rare.iter().any(|&i| end(i) == End::Terminated));
        assert_eq!(second_phase(100_000), 99_000);
    }
}
