//! RecordWorkflowTaskStarted: a poller took a workflow task from matching. Appends
//! WorkflowTaskStarted (or prepares a transient attempt), deletes the dispatch row in the same
//! batch, and builds the poll response with the run's history.
//!
//! Dispatch is at-least-once; this is where duplicates die: the same poll request id gets the
//! same answer, any other poller gets TaskAlreadyStarted, and a task the run no longer has is
//! NotFound. In both failure cases the dispatch row is stale and is deleted.

use perdure_core::{transfer_task, CoreError, EventId};
use prost::Message;
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::enums::v1::TaskQueueKind;
use temporalio_protos::temporal::api::history::v1::{History, HistoryEvent};
use temporalio_protos::temporal::api::protocol::v1::{message, Message as ProtocolMessage};
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::update::v1::Request;
use temporalio_protos::temporal::api::workflowservice::v1::PollWorkflowTaskQueueResponse;

use crate::api::{run_not_found, HistoryPageToken};
use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::shard::Shard;
use crate::shard::{Plan, Step};
use crate::{tables, DispatchTask, HistoryService};

/// Events in a poll response at most: Temporal's default history page size.
const POLL_HISTORY_PAGE: usize = 256;

impl HistoryService {
    pub async fn record_workflow_task_started(
        &self,
        task: &DispatchTask,
        poll_queue: &TaskQueue,
        request_id: &str,
        identity: &str,
    ) -> Result<PollWorkflowTaskQueueResponse, HistoryError> {
        let Some(transfer_task::Kind::WorkflowTask(task_ref)) = &task.task.kind else {
            return Err(CoreError::InvalidArgument("not a workflow task".into()).into());
        };
        let t = &task.task;
        let d = self.dispatched(task)?;
        let (shard, key) = (d.shard, &d.key);
        let result = shard
            .update(key, |state, now| {
                let Some(state) = state else {
                    return Err(run_not_found(key).into());
                };
                let mut next = state.clone();
                let (mutation, dispatch) = next.record_workflow_task_started(
                    EventId(task_ref.scheduled_event_id),
                    poll_queue,
                    request_id,
                    identity,
                    now,
                )?;
                let reply = (
                    dispatch,
                    next.workflow_type.clone(),
                    next.task_queue.clone(),
                );
                if mutation.is_empty() && next == *state {
                    return Ok(Step::Reply(reply));
                }
                let mut plan = Plan::new(next, mutation, reply);
                plan.extra_ops.push(d.delete_row.clone());
                Ok(Step::Write(plan))
            })
            .await;
        let (dispatch, workflow_type, task_queue) = d.drop_if_stale(task, result).await?;
        // A sticky worker has the run cached up to its last completed task: send only what
        // came after (Temporal does the same; the SDK fetches the rest itself on a cache miss).
        let first_event_id = if dispatch.sticky_execution_enabled {
            dispatch.previous_started_event_id.0 + 1
        } else {
            1
        };
        // Like Temporal, the poll carries at most one page of history; the worker fetches the
        // rest with GetWorkflowExecutionHistory and the token. Transient events go on the last
        // page, here or there.
        let (mut events, next_page_token) = history_page(
            shard,
            key,
            first_event_id,
            dispatch.next_event_id_for_history.0,
        )?;
        if next_page_token.is_empty() {
            events.extend(dispatch.transient_events.iter().cloned());
        }
        // Queries waiting for this run's next task ride on this one, and so do updates no
        // worker has accepted yet, each as a Request message sequenced after the event just
        // before WorkflowTaskStarted (what the worker must have applied before handling it).
        let queries = shard.queries.attached(key);
        let messages = update_messages(shard.updates.deliver(key), dispatch.started_event_id.0 - 1);
        Ok(PollWorkflowTaskQueueResponse {
            task_token: dispatch.token.encode(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: t.workflow_id.clone(),
                run_id: t.run_id.clone(),
            }),
            workflow_type,
            previous_started_event_id: dispatch.previous_started_event_id.0,
            started_event_id: dispatch.started_event_id.0,
            attempt: dispatch.attempt,
            history: Some(History { events }),
            next_page_token,
            workflow_execution_task_queue: Some(TaskQueue {
                name: task_queue,
                kind: TaskQueueKind::Normal as i32,
                normal_name: String::new(),
            }),
            scheduled_time: dispatch.scheduled_time.to_timestamp_opt(),
            started_time: dispatch.started_time.to_timestamp_opt(),
            queries,
            messages,
            ..Default::default()
        })
    }
}

fn update_messages(updates: Vec<(String, Request)>, event_id: i64) -> Vec<ProtocolMessage> {
    updates
        .into_iter()
        .map(|(id, request)| ProtocolMessage {
            id: perdure_core::request_message_id(&id),
            protocol_instance_id: id,
            body: Some(prost_wkt_types::Any {
                type_url: perdure_core::REQUEST_TYPE_URL.to_string(),
                value: request.encode_to_vec(),
            }),
            sequencing_id: Some(message::SequencingId::EventId(event_id)),
        })
        .collect()
}

/// Events `first..end` of a run, at most one poll page of them, and the token to fetch the
/// rest with GetWorkflowExecutionHistory (empty when the page reaches `end`).
pub(crate) fn history_page(
    shard: &Shard,
    key: &ExecKey,
    first: i64,
    end: i64,
) -> Result<(Vec<HistoryEvent>, Vec<u8>), HistoryError> {
    let events = tables::read_events(&shard.store, shard.id, key, first, end, POLL_HISTORY_PAGE)?;
    let next = first + events.len() as i64;
    let token = if next < end {
        HistoryPageToken {
            run_id: key.run_id.clone(),
            next_event_id: next,
        }
        .encode_to_vec()
    } else {
        Vec::new()
    };
    Ok((events, token))
}
