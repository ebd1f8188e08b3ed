//! QueryWorkflow, served by the run's shard leader. History decides: the reject condition,
//! waiting for the next workflow task to carry the query (events are pending that the answer
//! must reflect), or handing it to a worker now. A direct query goes to the run's sticky
//! worker first and, if that worker is gone or slow, to the normal queue (stickiness is reset,
//! as Temporal does), through whichever node owns the queue (`query_dispatch.rs`).
//!
//! The caller's deadline, at most [`MAX_QUERY_WAIT`], bounds everything; running out answers
//! DeadlineExceeded with Temporal's message.

use std::time::Duration;

use perdure_history::api::QueryStep;
use perdure_history::HistoryError;
use temporalio_protos::temporal::api::common::v1::{Payloads, WorkflowExecution};
use temporalio_protos::temporal::api::enums::v1::QueryResultType;
use temporalio_protos::temporal::api::failure::v1::Failure;
use temporalio_protos::temporal::api::query::v1::{QueryRejected, WorkflowQuery};
use temporalio_protos::temporal::api::workflowservice::v1::{
    QueryWorkflowRequest, QueryWorkflowResponse, RespondQueryTaskCompletedRequest,
};
use tokio::time::Instant;
use tonic::Status;

use perdure_core::{QueryTarget, Time};

use crate::query_dispatch::{Missed, QueryTask};
use crate::server::Frontend;
use crate::{errors, validate};

/// Longest a query waits for a worker when the caller set no deadline.
pub const MAX_QUERY_WAIT: Duration = Duration::from_secs(60);

fn timed_out() -> Status {
    Status::deadline_exceeded("query timed out before a worker could process it")
}

/// A worker's answer as the client gets it: the result, or QueryFailed.
fn answered(
    result_type: i32,
    answer: Option<Payloads>,
    error_message: String,
    failure: Option<Failure>,
) -> Result<QueryWorkflowResponse, Status> {
    match QueryResultType::try_from(result_type) {
        Ok(QueryResultType::Answered) => Ok(QueryWorkflowResponse {
            query_result: answer,
            ..Default::default()
        }),
        Ok(QueryResultType::Failed) => Err(errors::query_failed(error_message, failure)),
        _ => Err(Status::internal("unknown query completed type")),
    }
}

fn completed(a: RespondQueryTaskCompletedRequest) -> Result<QueryWorkflowResponse, Status> {
    answered(a.completed_type, a.query_result, a.error_message, a.failure)
}

impl Frontend {
    /// `deadline` is when we must answer; `client_deadline` the client's own (wall clock), None
    /// when it set none.
    pub(crate) async fn query_workflow(
        &self,
        req: QueryWorkflowRequest,
        deadline: Instant,
        client_deadline: Option<Time>,
    ) -> Result<QueryWorkflowResponse, Status> {
        validate::execution(req.execution.as_ref())?;
        let query = req
            .query
            .as_ref()
            .ok_or_else(|| errors::invalid("WorkflowQuery is not set on request."))?;
        if query.query_type.is_empty() {
            return Err(errors::invalid("QueryType is not set on request."));
        }
        validate::blob(query.query_args.as_ref())?;
        if req.namespace.is_empty() {
            // QueryWorkflow's own wording (other calls say "Namespace not set on request.").
            return Err(errors::invalid("Namespace is empty."));
        }
        let ns = self.namespaces.get(&req.namespace)?;
        let asked = self.history.query_workflow(ns.id(), &req, client_deadline);
        let step = tokio::time::timeout_at(deadline, asked)
            .await
            .map_err(|_| timed_out())?
            .map_err(errors::history)?;
        match step {
            QueryStep::Rejected(status) => Ok(QueryWorkflowResponse {
                query_rejected: Some(QueryRejected {
                    status: status as i32,
                }),
                ..Default::default()
            }),
            QueryStep::Answered(r) => answered(r.result_type, r.answer, r.error_message, r.failure),
            QueryStep::Direct { execution, target } => {
                self.query_directly(ns.id(), query, &execution, &target, deadline)
                    .await
            }
        }
    }

    async fn query_directly(
        &self,
        namespace_id: &str,
        query: &WorkflowQuery,
        execution: &WorkflowExecution,
        target: &QueryTarget,
        deadline: Instant,
    ) -> Result<QueryWorkflowResponse, Status> {
        let normal = &target.task_queue;
        if let Some((sticky, sticky_wait)) = &target.sticky {
            let wait = (*sticky_wait).min(deadline.saturating_duration_since(Instant::now()));
            match self
                .ask_worker(namespace_id, execution, query, sticky, normal, wait)
                .await?
            {
                Ok(answer) => return completed(answer),
                Err(missed) => {
                    tracing::debug!(?missed, %sticky, "query not answered on the sticky queue");
                    // The sticky worker is presumed gone: its run's next task must not wait
                    // for it either.
                    match self
                        .history
                        .reset_sticky_task_queue(namespace_id, execution)
                        .await
                    {
                        // Closed meanwhile: nothing to reset, the query still goes on.
                        Ok(()) | Err(HistoryError::Core(_)) => {}
                        Err(e) => return Err(errors::history(e)),
                    }
                }
            }
        }
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Err(timed_out());
            }
            match self
                .ask_worker(namespace_id, execution, query, normal, normal, wait)
                .await?
            {
                Ok(answer) => return completed(answer),
                // The queue's owner changed under the query: offer it to the new owner.
                Err(Missed::Dropped) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(Missed::TimedOut | Missed::StickyUnavailable) => return Err(timed_out()),
            }
        }
    }

    /// Builds the query's poll response (history as the queue's pollers need it) and offers it
    /// on `queue`, waiting up to `wait`.
    async fn ask_worker(
        &self,
        namespace_id: &str,
        execution: &WorkflowExecution,
        query: &WorkflowQuery,
        queue: &str,
        normal: &str,
        wait: Duration,
    ) -> Result<Result<RespondQueryTaskCompletedRequest, Missed>, Status> {
        let id = uuid::Uuid::new_v4().to_string();
        let sticky = queue != normal;
        let response = self
            .history
            .query_task(namespace_id, execution, &id, query, sticky)
            .await
            .map_err(errors::history)?;
        let task = QueryTask {
            id,
            response: Box::new(response),
        };
        self.send_query(namespace_id, queue, normal, task, wait)
            .await
    }
}
