//! GetWorkflowExecutionHistory (paging, long poll, CLOSE_EVENT filter live in history), and
//! the close event as clients that cannot follow a chain of runs must see it.

use temporalio_protos::temporal::api::enums::v1::{EventType, HistoryEventFilterType};
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_protos::temporal::api::history::v1::{
    HistoryEvent, WorkflowExecutionContinuedAsNewEventAttributes,
};
use temporalio_protos::temporal::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, GetWorkflowExecutionHistoryResponse,
};
use tokio::time::Instant;
use tonic::metadata::MetadataMap;
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn get_workflow_execution_history(
        &self,
        req: GetWorkflowExecutionHistoryRequest,
        deadline: Instant,
    ) -> Result<GetWorkflowExecutionHistoryResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        validate::execution(req.execution.as_ref())?;
        self.history
            .get_history(ns.id(), &req, deadline)
            .await
            .map_err(errors::history)
    }
}

/// The `supported-features` value of clients that follow `new_execution_run_id` themselves.
const FOLLOWS_NEXT_RUN_ID: &str = "follows-next-run-id";

/// True when a client asking only for the close event cannot follow the next run named by a
/// Completed, Failed or TimedOut event (it does not send `follows-next-run-id` in its
/// `supported-features` header; the Python SDK does not), so it must get the close event as
/// Temporal rewrites it for such clients: see [`follow_next_run_for_old_clients`].
pub(crate) fn wants_legacy_close_event(
    metadata: &MetadataMap,
    req: &GetWorkflowExecutionHistoryRequest,
) -> bool {
    let supported = metadata
        .get("supported-features")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|f| f == FOLLOWS_NEXT_RUN_ID));
    req.history_event_filter_type == HistoryEventFilterType::CloseEvent as i32 && !supported
}

/// Temporal's FixFollowEvents: a close event that names a next run (a retry or a cron
/// schedule) becomes a WorkflowExecutionContinuedAsNew carrying that run id and the result or
/// failure, which every client follows.
pub(crate) fn follow_next_run_for_old_clients(resp: &mut GetWorkflowExecutionHistoryResponse) {
    let Some(last) = resp.history.as_mut().and_then(|h| h.events.last_mut()) else {
        return;
    };
    let attrs = match &last.attributes {
        Some(Attributes::WorkflowExecutionCompletedEventAttributes(a))
            if !a.new_execution_run_id.is_empty() =>
        {
            WorkflowExecutionContinuedAsNewEventAttributes {
                new_execution_run_id: a.new_execution_run_id.clone(),
                last_completion_result: a.result.clone(),
                ..Default::default()
            }
        }
        #[allow(deprecated)]
        Some(Attributes::WorkflowExecutionFailedEventAttributes(a))
            if !a.new_execution_run_id.is_empty() =>
        {
            WorkflowExecutionContinuedAsNewEventAttributes {
                new_execution_run_id: a.new_execution_run_id.clone(),
                failure: a.failure.clone(),
                ..Default::default()
            }
        }
        #[allow(deprecated)]
        Some(Attributes::WorkflowExecutionTimedOutEventAttributes(a))
            if !a.new_execution_run_id.is_empty() =>
        {
            WorkflowExecutionContinuedAsNewEventAttributes {
                new_execution_run_id: a.new_execution_run_id.clone(),
                failure: Some(perdure_core::run_timeout_failure()),
                ..Default::default()
            }
        }
        _ => return,
    };
    *last = HistoryEvent {
        event_id: last.event_id,
        event_time: last.event_time,
        event_type: EventType::WorkflowExecutionContinuedAsNew as i32,
        version: last.version,
        task_id: last.task_id,
        attributes: Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(
            attrs,
        )),
        ..Default::default()
    };
}
