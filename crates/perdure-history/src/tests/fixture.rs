//! A single-node history service on a temp dir, driven the way the frontend drives it, plus
//! builders for the requests and commands a worker would send. Every wait has a deadline.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use perdure_core::{duration_to_proto, transfer_task, TaskToken, TransferTask};
use perdure_raft::RaftNode;
use perdure_storage::{GroupId, ShardId, Store};
use temporalio_protos::temporal::api::command::v1::{
    command::Attributes as Cmd, Command, CompleteWorkflowExecutionCommandAttributes,
    ScheduleActivityTaskCommandAttributes, StartTimerCommandAttributes,
};
use temporalio_protos::temporal::api::common::v1::{
    ActivityType, Payload, Payloads, RetryPolicy, WorkflowExecution, WorkflowType,
};
use temporalio_protos::temporal::api::enums::v1::{CommandType, EventType};
use temporalio_protos::temporal::api::history::v1::HistoryEvent;
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, PollActivityTaskQueueResponse,
    PollWorkflowTaskQueueResponse, RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::{tables, DispatchTask, HistoryError, HistoryService, TaskSink, TimerWindow};

/// Upper bound for anything a test waits on; generous because the machine is shared.
pub const DEADLINE: Duration = Duration::from_secs(15);
pub const NS_ID: &str = "ns-id";
pub const NS: &str = "default";
pub const TQ: &str = "tq";
const SHARDS: u32 = 2;

/// The matching stand-in: records every dispatch in arrival order.
struct ChannelSink(mpsc::UnboundedSender<DispatchTask>);

impl TaskSink for ChannelSink {
    fn dispatch(&self, task: DispatchTask) {
        // The receiver lives as long as the node; after that dispatches are meaningless.
        let _ = self.0.send(task);
    }
}

/// One node: store, Raft groups 0..=2, and the history service over shards 1 and 2.
pub struct Node {
    pub path: PathBuf,
    pub raft: Arc<RaftNode>,
    pub history: Arc<HistoryService>,
    pub tasks: mpsc::UnboundedReceiver<DispatchTask>,
}

/// Opens the store, retrying while a previous instance in this process still releases it
/// (RocksDB's lock is held until the last handle drops, which happens in background tasks).
pub async fn open_store(path: &Path) -> Store {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match Store::open(path) {
            Ok(store) => return store,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "store still locked, retrying");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("store did not reopen within {DEADLINE:?}: {e}"),
        }
    }
}

/// A RaftNode over `store` whose groups 0..=2 this node leads.
pub async fn open_raft(store: &Store) -> Arc<RaftNode> {
    let groups = [GroupId(0), GroupId(1), GroupId(2)];
    let raft = RaftNode::open(store.clone(), 1, &groups).await.unwrap();
    raft.bootstrap_single_node("127.0.0.1:7233").await.unwrap();
    for g in groups {
        raft.group(g).unwrap().wait_leader(DEADLINE).await.unwrap();
    }
    raft
}

impl Node {
    pub async fn open(path: &Path) -> Node {
        Self::open_with(path, TimerWindow::default()).await
    }

    /// A node whose shard leaders hold only `timers` of their schedule in memory.
    pub async fn open_with(path: &Path, timers: TimerWindow) -> Node {
        let store = open_store(path).await;
        let raft = open_raft(&store).await;
        let (tx, tasks) = mpsc::unbounded_channel();
        let sink = Arc::new(ChannelSink(tx));
        let config = crate::HistoryConfig {
            timer_window: timers,
            ..Default::default()
        };
        let history = HistoryService::start_with(&raft, store, SHARDS, sink, config).unwrap();
        assert!(
            history.wait_serving(DEADLINE).await,
            "shards did not begin serving"
        );
        Node {
            path: path.to_path_buf(),
            raft,
            history,
            tasks,
        }
    }

    /// Stops Raft and drops everything of this node; the directory can then be reopened.
    pub async fn shutdown(self) -> PathBuf {
        self.raft.shutdown().await;
        self.path
    }

    pub async fn start(&self, workflow_id: &str, request_id: &str) -> Result<String, HistoryError> {
        let out = self
            .history
            .start_workflow(NS_ID, None, start_request(workflow_id, request_id))
            .await?;
        assert!(out.started, "a fresh start must start a run");
        Ok(out.run_id)
    }

    /// The next dispatch that `pred` accepts; others (e.g. duplicates of earlier tasks) are
    /// skipped.
    pub async fn next_task(&mut self, pred: impl Fn(&DispatchTask) -> bool) -> DispatchTask {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let got = tokio::time::timeout_at(deadline, self.tasks.recv())
                .await
                .expect("no matching dispatch before the deadline")
                .expect("sink closed");
            if pred(&got) {
                return got;
            }
        }
    }

    /// The next workflow task dispatched for `run_id`, whose scheduled event is `scheduled`.
    pub async fn next_workflow_task(&mut self, run_id: &str, scheduled: i64) -> DispatchTask {
        self.next_task(|t| {
            t.task.run_id == run_id
                && matches!(&t.task.kind, Some(transfer_task::Kind::WorkflowTask(r)) if r.scheduled_event_id == scheduled)
        })
        .await
    }

    /// The next activity task dispatched for `run_id` with this attempt.
    pub async fn next_activity_task(&mut self, run_id: &str, attempt: i32) -> DispatchTask {
        self.next_task(|t| {
            t.task.run_id == run_id
                && matches!(&t.task.kind, Some(transfer_task::Kind::ActivityTask(r)) if r.attempt == attempt)
        })
        .await
    }

    pub async fn poll_workflow_task(
        &self,
        task: &DispatchTask,
        request_id: &str,
    ) -> PollWorkflowTaskQueueResponse {
        self.history
            .record_workflow_task_started(task, &Default::default(), request_id, "worker")
            .await
            .unwrap()
    }

    pub async fn poll_activity_task(
        &self,
        task: &DispatchTask,
        request_id: &str,
    ) -> PollActivityTaskQueueResponse {
        self.history
            .record_activity_task_started(task, request_id, "aworker", NS)
            .await
            .unwrap()
    }

    pub async fn complete_workflow_task(&self, token: &[u8], commands: Vec<Command>) {
        let request = RespondWorkflowTaskCompletedRequest {
            task_token: token.to_vec(),
            commands,
            identity: "worker".into(),
            namespace: NS.into(),
            ..Default::default()
        };
        let token = TaskToken::decode(token).unwrap();
        self.history
            .respond_workflow_task_completed(&token, &request)
            .await
            .unwrap();
    }

    /// The run's whole persisted history, read as a client would (no long poll).
    pub async fn history(&self, workflow_id: &str, run_id: &str) -> Vec<HistoryEvent> {
        let request = history_request(workflow_id, run_id);
        let response = self
            .history
            .get_history(NS_ID, &request, Instant::now())
            .await
            .unwrap();
        assert!(
            response.next_page_token.is_empty(),
            "one page holds the whole test history"
        );
        response.history.unwrap_or_default().events
    }

    /// Ids of the durable transfer rows of `shard`.
    pub fn transfer_rows(&self, shard: ShardId) -> Vec<(u64, TransferTask)> {
        let shard = self.history.shard(shard).unwrap();
        tables::load_transfer_tasks(&shard.store, shard.id).unwrap()
    }
}

pub fn start_request(workflow_id: &str, request_id: &str) -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest {
        namespace: NS.into(),
        workflow_id: workflow_id.into(),
        workflow_type: Some(WorkflowType { name: "Wf".into() }),
        task_queue: Some(TaskQueue {
            name: TQ.into(),
            ..Default::default()
        }),
        input: Some(payloads("in")),
        identity: "client".into(),
        request_id: request_id.into(),
        ..Default::default()
    }
}

pub fn history_request(workflow_id: &str, run_id: &str) -> GetWorkflowExecutionHistoryRequest {
    GetWorkflowExecutionHistoryRequest {
        namespace: NS.into(),
        execution: Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: run_id.into(),
        }),
        ..Default::default()
    }
}

pub fn payloads(s: &str) -> Payloads {
    Payloads {
        payloads: vec![Payload {
            data: s.as_bytes().to_vec(),
            ..Default::default()
        }],
    }
}

fn command(command_type: CommandType, attributes: Cmd) -> Command {
    Command {
        command_type: command_type as i32,
        attributes: Some(attributes),
        ..Default::default()
    }
}

pub fn schedule_activity(activity_id: &str, retry_policy: Option<RetryPolicy>) -> Command {
    command(
        CommandType::ScheduleActivityTask,
        Cmd::ScheduleActivityTaskCommandAttributes(ScheduleActivityTaskCommandAttributes {
            activity_id: activity_id.into(),
            activity_type: Some(ActivityType {
                name: "bang".into(),
            }),
            task_queue: Some(TaskQueue {
                name: TQ.into(),
                ..Default::default()
            }),
            start_to_close_timeout: Some(duration_to_proto(Duration::from_secs(10))),
            input: Some(payloads("act-in")),
            retry_policy,
            ..Default::default()
        }),
    )
}

pub fn start_timer(timer_id: &str, after: Duration) -> Command {
    command(
        CommandType::StartTimer,
        Cmd::StartTimerCommandAttributes(StartTimerCommandAttributes {
            timer_id: timer_id.into(),
            start_to_fire_timeout: Some(duration_to_proto(after)),
        }),
    )
}

pub fn complete_workflow(result: &str) -> Command {
    command(
        CommandType::CompleteWorkflowExecution,
        Cmd::CompleteWorkflowExecutionCommandAttributes(
            CompleteWorkflowExecutionCommandAttributes {
                result: Some(payloads(result)),
            },
        ),
    )
}

pub fn types(events: &[HistoryEvent]) -> Vec<EventType> {
    events
        .iter()
        .map(|e| EventType::try_from(e.event_type).unwrap_or(EventType::Unspecified))
        .collect()
}

/// Ids run 1, 2, 3... without gaps.
pub fn assert_contiguous(events: &[HistoryEvent]) {
    let ids: Vec<i64> = events.iter().map(|e| e.event_id).collect();
    let expected: Vec<i64> = (1..=events.len() as i64).collect();
    assert_eq!(ids, expected, "event ids must be contiguous from 1");
}

/// Unix nanos of an event's time.
pub fn event_nanos(event: &HistoryEvent) -> i64 {
    let t = event.event_time.as_ref().expect("every event has a time");
    t.seconds * 1_000_000_000 + t.nanos as i64
}
