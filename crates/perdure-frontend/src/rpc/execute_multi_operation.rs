//! ExecuteMultiOperation: update-with-start, the one combination Temporal allows ([Start,
//! Update] on one workflow id). The start follows its own policies; the update then goes to the
//! run the start created (admitted before that run's first task can be polled, so the task
//! carries it) or kept. A start the policies refuse fails the whole call with a
//! MultiOperationExecutionFailure that holds each operation's status, as Temporal answers.

use prost::Message;
use temporalio_protos::google::rpc::Status as RpcStatus;
use temporalio_protos::temporal::api::errordetails::v1::multi_operation_execution_failure::OperationStatus;
use temporalio_protos::temporal::api::errordetails::v1::MultiOperationExecutionFailure;
use temporalio_protos::temporal::api::failure::v1::MultiOperationExecutionAborted;
use temporalio_protos::temporal::api::workflowservice::v1::execute_multi_operation_request::operation::Operation as Op;
use temporalio_protos::temporal::api::workflowservice::v1::execute_multi_operation_response::{
    response::Response as Answer, Response,
};
use temporalio_protos::temporal::api::workflowservice::v1::{
    ExecuteMultiOperationRequest, ExecuteMultiOperationResponse, StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse, UpdateWorkflowExecutionRequest,
};
use tonic::{Code, Status};

use super::start_workflow_execution::validate_start;
use super::update_workflow_execution::{prepare_update, update_response, UpdateDeadline};
use crate::server::Frontend;
use crate::{errors, validate};

const FAILED: &str = "Update-with-Start could not be executed.";

impl Frontend {
    pub(crate) async fn execute_multi_operation(
        &self,
        req: ExecuteMultiOperationRequest,
        deadline: UpdateDeadline,
    ) -> Result<ExecuteMultiOperationResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        let (mut start, mut update) = start_and_update(req.operations)?;
        // Each operation is checked on its own; one bad operation fails the call and the other
        // is reported aborted.
        let checked_start = check_start(&mut start, &req.namespace).and_then(|()| {
            self.namespaces
                .check_search_attributes(&ns, &mut start.search_attributes)
        });
        let checked_update = check_update(&mut update, &req.namespace);
        let asked = match (checked_start, checked_update) {
            (Ok(()), Ok(asked)) if asked.execution.workflow_id != start.workflow_id => {
                return Err(multi_failure(
                    aborted(),
                    errors::invalid("WorkflowId is not consistent with previous operation(s)."),
                ))
            }
            (Ok(()), Ok(asked)) => asked,
            (Err(e), Ok(_)) => return Err(multi_failure(e, aborted())),
            (Ok(()), Err(e)) => return Err(multi_failure(aborted(), e)),
            (Err(a), Err(b)) => return Err(multi_failure(a, b)),
        };
        let request = update.request.clone().unwrap_or_default();
        let started = self.history.update_with_start(
            ns.id(),
            crate::retention::of(&ns),
            start.clone(),
            &asked.update_id,
            &request,
        );
        let (outcome, handle) = match tokio::time::timeout_at(deadline.at, started).await {
            Err(_) => return Err(Status::deadline_exceeded("update-with-start timed out")),
            Ok(Err(e)) => {
                let status = errors::history(e);
                return Err(match status.code() {
                    // The start was refused (a conflict policy): the update never ran.
                    Code::AlreadyExists | Code::InvalidArgument | Code::FailedPrecondition => {
                        multi_failure(status, aborted())
                    }
                    _ => status,
                });
            }
            Ok(Ok(r)) => r,
        };
        let start_answer = StartWorkflowExecutionResponse {
            run_id: outcome.run_id.clone(),
            started: outcome.started,
            first_execution_run_id: outcome.first_execution_run_id.clone(),
            status: outcome.status,
            link: Some(crate::links::started_event(
                &req.namespace,
                &start.workflow_id,
                &outcome.run_id,
            )),
            ..Default::default()
        };
        let update_answer = update_response(handle, &asked, &req.namespace, &deadline).await?;
        Ok(ExecuteMultiOperationResponse {
            responses: vec![
                Response {
                    response: Some(Answer::StartWorkflow(start_answer)),
                },
                Response {
                    response: Some(Answer::UpdateWorkflow(update_answer)),
                },
            ],
        })
    }
}

/// The operations must be exactly [Start, Update].
fn start_and_update(
    operations: Vec<
        temporalio_protos::temporal::api::workflowservice::v1::execute_multi_operation_request::Operation,
    >,
) -> Result<
    (
        StartWorkflowExecutionRequest,
        UpdateWorkflowExecutionRequest,
    ),
    Status,
> {
    let not_start_and_update = || errors::invalid("Operations have to be exactly [Start, Update].");
    let [first, second]: [_; 2] = operations.try_into().map_err(|_| not_start_and_update())?;
    match (first.operation, second.operation) {
        (Some(Op::StartWorkflow(s)), Some(Op::UpdateWorkflow(u))) => Ok((s, u)),
        _ => Err(not_start_and_update()),
    }
}

fn check_start(start: &mut StartWorkflowExecutionRequest, namespace: &str) -> Result<(), Status> {
    if !start.namespace.is_empty() && start.namespace != namespace {
        return Err(errors::invalid(
            "Operation namespace did not match request's namespace.",
        ));
    }
    validate_start(start)?;
    if !start.cron_schedule.is_empty() {
        return Err(errors::invalid("CronSchedule is not allowed."));
    }
    if start.request_eager_execution {
        return Err(errors::invalid("RequestEagerExecution is not supported."));
    }
    if start
        .workflow_start_delay
        .as_ref()
        .is_some_and(|d| d.seconds > 0 || d.nanos > 0)
    {
        return Err(errors::invalid("WorkflowStartDelay is not supported."));
    }
    Ok(())
}

fn check_update(
    update: &mut UpdateWorkflowExecutionRequest,
    namespace: &str,
) -> Result<super::update_workflow_execution::AskedUpdate, Status> {
    if !update.namespace.is_empty() && update.namespace != namespace {
        return Err(errors::invalid(
            "Operation namespace did not match request's namespace.",
        ));
    }
    let asked = prepare_update(update)?;
    if !update.first_execution_run_id.is_empty() {
        return Err(errors::invalid("FirstExecutionRunId is not allowed."));
    }
    if !asked.execution.run_id.is_empty() {
        return Err(errors::invalid("RunId is not allowed."));
    }
    validate::workflow_id(&asked.execution.workflow_id)?;
    Ok(asked)
}

fn aborted() -> Status {
    errors::with_detail(
        Code::Aborted,
        "Operation was aborted.",
        MultiOperationExecutionAborted::default(),
    )
}

/// Temporal's error for a refused update-with-start: each operation's status, with its
/// details; the call's own code is that of the operation that failed (not the aborted one).
fn multi_failure(start: Status, update: Status) -> Status {
    let code = [&start, &update]
        .iter()
        .map(|s| s.code())
        .find(|c| *c != Code::Aborted)
        .unwrap_or(Code::Aborted);
    let statuses = [start, update].iter().map(operation_status).collect();
    errors::with_detail(code, FAILED, MultiOperationExecutionFailure { statuses })
}

fn operation_status(s: &Status) -> OperationStatus {
    let details = RpcStatus::decode(s.details())
        .map(|rpc| rpc.details)
        .unwrap_or_default();
    OperationStatus {
        code: s.code() as i32,
        message: s.message().to_string(),
        details,
    }
}
