"""Workflow cancellation (issue 6): RequestCancelWorkflowExecution and the
CancelWorkflowExecution command, as the Python SDK uses them. Every test passes against
Temporal's dev server too (PERDURE_TEST_SERVER=temporal).

What they show: a cancelled workflow that lets the cancellation through closes Canceled with
WorkflowExecutionCancelRequested (reason and identity kept) then WorkflowExecutionCanceled; one
that catches it completes normally; a second request changes nothing; a request for a closed
run succeeds without changing it; an unknown workflow is NotFound.

Not covered yet: activity cancellation (RequestCancelActivityTask), cancelling external
workflows and children.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import RequestCancelWorkflowExecutionRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import CancelledError
from temporalio.service import RPCError, RPCStatusCode

import workflows
from harness import NAMESPACE
from history import assert_contiguous_ids, events_of, of_type, type_names
from scenarios import wait_for_event

RESULT_TIMEOUT_S = 60


async def _cancel(client: Client, wf_id: str, reason: str = "test says stop") -> None:
    await client.workflow_service.request_cancel_workflow_execution(
        RequestCancelWorkflowExecutionRequest(
            namespace=NAMESPACE,
            workflow_execution=WorkflowExecution(workflow_id=wf_id),
            identity="cancel test",
            request_id=str(uuid.uuid4()),
            reason=reason,
        )
    )


async def test_a_cancelled_workflow_closes_canceled(client, worker, wf_id):
    handle = await client.start_workflow(
        workflows.SignalCollector.run, 1, id=wf_id, task_queue=worker.task_queue
    )
    # The first task completed: the workflow is waiting.
    await wait_for_event(handle, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    await _cancel(client, wf_id)
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    assert isinstance(failed.value.cause, CancelledError), failed.value.cause
    events = await events_of(handle)
    assert_contiguous_ids(events)
    [requested] = of_type(events, "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED")
    attrs = requested.workflow_execution_cancel_requested_event_attributes
    assert (attrs.cause, attrs.identity) == ("test says stop", "cancel test")
    assert type_names(events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED"
    [canceled] = of_type(events, "EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED")
    completed_id = canceled.workflow_execution_canceled_event_attributes.workflow_task_completed_event_id
    assert events[completed_id - 1].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    described = await handle.describe()
    assert described.status is not None
    assert described.status.value == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED


async def test_a_workflow_that_catches_the_cancellation_completes(client, worker, wf_id):
    handle = await client.start_workflow(
        workflows.CancelCleanup.run, id=wf_id, task_queue=worker.task_queue
    )
    await wait_for_event(handle, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    await handle.cancel()
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == "cleaned up"
    # The second request changes nothing.
    await _cancel(client, wf_id, "again")
    events = await events_of(handle)
    assert len(of_type(events, "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED")) == 1
    assert type_names(events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"


async def test_cancel_requests_twice_closed_and_unknown(client, worker, wf_id):
    handle = await client.start_workflow(
        workflows.SignalCollector.run, 1, id=wf_id, task_queue=worker.task_queue
    )
    await wait_for_event(handle, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    await _cancel(client, wf_id, "first")
    await _cancel(client, wf_id, "second")
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    events = await events_of(handle)
    [requested] = of_type(events, "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED")
    assert requested.workflow_execution_cancel_requested_event_attributes.cause == "first"
    before = len(events)
    # A closed run: the request succeeds and changes nothing.
    await _cancel(client, wf_id, "too late")
    assert len(await events_of(handle)) == before
    with pytest.raises(RPCError) as unknown:
        await _cancel(client, f"{wf_id}-never-started")
    assert unknown.value.status == RPCStatusCode.NOT_FOUND, unknown.value
