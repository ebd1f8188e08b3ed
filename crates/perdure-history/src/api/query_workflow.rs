//! QueryWorkflow on the run's shard leader: decides where the query goes (`perdure-core`'s
//! `route_query`), waits for the next workflow task when events are pending, and builds the
//! poll response a worker gets for a query handed to it directly. Handing it over (matching,
//! possibly on another node) is the frontend's job. Never writes.

use perdure_core::{QueryRoute, QueryTarget, TaskKind, TaskToken, Time};
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::enums::v1::{
    QueryRejectCondition, TaskQueueKind, WorkflowExecutionStatus,
};
use temporalio_protos::temporal::api::history::v1::History;
use temporalio_protos::temporal::api::query::v1::{WorkflowQuery, WorkflowQueryResult};
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflowservice::v1::{
    PollWorkflowTaskQueueResponse, QueryWorkflowRequest,
};

use crate::api::record_workflow_task_started::history_page;
use crate::api::run_not_found;
use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::queries::{Buffered, QueryRegistry};
use crate::HistoryService;

/// What the frontend does with a query after the shard leader has looked at the run.
#[derive(Debug)]
pub enum QueryStep {
    /// The caller's reject condition matched: answer QueryRejected with this status.
    Rejected(WorkflowExecutionStatus),
    /// A workflow task carried the query and its worker answered.
    Answered(Box<WorkflowQueryResult>),
    /// Hand the query to a worker of these queues now.
    Direct {
        execution: WorkflowExecution,
        target: QueryTarget,
    },
}

/// Withdraws a buffered query when its caller stops waiting, however that happens.
struct Withdraw<'a> {
    registry: &'a QueryRegistry,
    key: ExecKey,
    id: String,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.registry.remove(&self.key, &self.id);
    }
}

impl HistoryService {
    /// Decides where `req`'s query goes; when it must ride on the next workflow task, waits for
    /// that (bounded by the caller dropping this future at its deadline). `deadline` is the
    /// client's own (wall clock), None when it set none.
    pub async fn query_workflow(
        &self,
        namespace_id: &str,
        req: &QueryWorkflowRequest,
        deadline: Option<Time>,
    ) -> Result<QueryStep, HistoryError> {
        let execution = req.execution.clone().unwrap_or_default();
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, &execution.run_id)
            .await?;
        let shard = self.shard_for(namespace_id, &execution.workflow_id);
        let reject = QueryRejectCondition::try_from(req.query_reject_condition)
            .unwrap_or(QueryRejectCondition::None);
        let resolved = WorkflowExecution {
            workflow_id: key.workflow_id.clone(),
            run_id: key.run_id.clone(),
        };
        let id = uuid::Uuid::new_v4().to_string();
        let query = req.query.clone().unwrap_or_default();
        let waiting = shard
            .inspect(&key, |state| {
                let state = state.ok_or_else(|| HistoryError::from(run_not_found(&key)))?;
                match state.route_query(reject, deadline)? {
                    QueryRoute::Rejected { status } => Ok(Err(QueryStep::Rejected(status))),
                    QueryRoute::Direct(target) => Ok(Err(QueryStep::Direct {
                        execution: resolved.clone(),
                        target,
                    })),
                    QueryRoute::Buffer => shard
                        .queries
                        .buffer(&key, &id, query)
                        .map(Ok)
                        .map_err(|_| HistoryError::QueryBufferFull),
                }
            })
            .await?;
        let rx = match waiting {
            Ok(rx) => rx,
            Err(step) => return Ok(step),
        };
        let _withdraw = Withdraw {
            registry: &shard.queries,
            key: key.clone(),
            id,
        };
        match rx.await {
            Ok(Buffered::Answered(result)) => Ok(QueryStep::Answered(result)),
            // No task is pending any more: every event is one a worker has seen.
            Ok(Buffered::Unblocked) => {
                let target = shard
                    .inspect(&key, |state| {
                        let state = state.ok_or_else(|| HistoryError::from(run_not_found(&key)))?;
                        state.check_queryable_when_closed()?;
                        Ok(state.query_target())
                    })
                    .await?;
                Ok(QueryStep::Direct {
                    execution: resolved,
                    target,
                })
            }
            // The registry was cleared: this node stopped leading the shard.
            Err(_) => Err(HistoryError::NotLeader { shard: shard.id.0 }),
        }
    }

    /// The poll response that hands `query` to a worker outside a workflow task. A worker
    /// polling the run's sticky queue has it cached and gets no history; any other worker gets
    /// the whole history (its first page) to replay. `task_queue` is the run's normal queue,
    /// which the answer is routed by.
    pub async fn query_task(
        &self,
        namespace_id: &str,
        execution: &WorkflowExecution,
        query_id: &str,
        query: &WorkflowQuery,
        sticky: bool,
    ) -> Result<PollWorkflowTaskQueueResponse, HistoryError> {
        let key = ExecKey::new(namespace_id, &execution.workflow_id, &execution.run_id);
        let shard = self.shard_for(namespace_id, &execution.workflow_id);
        let state = shard
            .read_state(&key)
            .await?
            .ok_or_else(|| HistoryError::from(run_not_found(&key)))?;
        let (events, next_page_token) = if sticky {
            (Vec::new(), Vec::new())
        } else {
            history_page(shard, &key, 1, state.next_event_id)?
        };
        let token = TaskToken {
            namespace_id: namespace_id.to_string(),
            workflow_id: key.workflow_id.clone(),
            run_id: key.run_id.clone(),
            kind: TaskKind::Query as i32,
            query_id: query_id.to_string(),
            task_queue: state.task_queue.clone(),
            ..Default::default()
        };
        Ok(PollWorkflowTaskQueueResponse {
            task_token: token.encode(),
            workflow_execution: Some(execution.clone()),
            workflow_type: Some(state.workflow_type.clone().unwrap_or_default()),
            previous_started_event_id: state.last_completed_workflow_task_started_event_id,
            started_event_id: 0,
            attempt: 1,
            history: Some(History { events }),
            next_page_token,
            query: Some(query.clone()),
            workflow_execution_task_queue: Some(TaskQueue {
                name: state.task_queue.clone(),
                kind: TaskQueueKind::Normal as i32,
                normal_name: String::new(),
            }),
            ..Default::default()
        })
    }
}
