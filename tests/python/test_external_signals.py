"""Workflows signalling other workflows (the SignalExternalWorkflowExecution command). Both
servers must pass (PERDURE_TEST_SERVER=temporal).

What they show: the target receives the signals once each, in order, recorded as coming from
the history service; the sender's history records each send's initiated event and its
ExternalWorkflowExecutionSignaled report; a send to a workflow that does not exist comes back
as a failure the workflow code sees (SignalExternalWorkflowExecutionFailed, NOT_FOUND).

Not covered: a send to another namespace, a send limited to the sender's children
(child_workflow_only), cancel requests to non-children (test_child_workflows.py covers a
parent cancelling its child).
"""

from __future__ import annotations

import asyncio

from temporalio.api.enums.v1 import EventType, SignalExternalWorkflowExecutionFailedCause

import workflows
from history import events_of, of_type

RESULT_TIMEOUT_S = 60


async def test_a_workflow_signals_another_once_per_send_in_order(client, worker, wf_id):
    target = await client.start_workflow(
        workflows.SignalCollector.run, 3, id=f"{wf_id}-target", task_queue=worker.task_queue
    )
    sender = await client.start_workflow(
        workflows.SignalsAnother.run,
        args=[f"{wf_id}-target", ["a", "b", "c"]],
        id=f"{wf_id}-sender",
        task_queue=worker.task_queue,
    )
    assert await asyncio.wait_for(sender.result(), RESULT_TIMEOUT_S) == ["sent"] * 3
    assert await asyncio.wait_for(target.result(), RESULT_TIMEOUT_S) == ["a", "b", "c"]

    sent = await events_of(sender)
    initiated = of_type(sent, "EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED")
    signaled = of_type(sent, "EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED")
    assert len(initiated) == 3 and len(signaled) == 3
    a = initiated[0].signal_external_workflow_execution_initiated_event_attributes
    assert a.workflow_execution.workflow_id == f"{wf_id}-target"
    assert a.signal_name == "add"
    assert a.input.payloads[0].data == b'"a"'
    s = signaled[0].external_workflow_execution_signaled_event_attributes
    assert s.initiated_event_id == initiated[0].event_id
    assert s.workflow_execution.workflow_id == f"{wf_id}-target"

    received = of_type(await events_of(target), "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED")
    assert [e.workflow_execution_signaled_event_attributes.input.payloads[0].data for e in received] == [
        b'"a"',
        b'"b"',
        b'"c"',
    ]
    first = received[0].workflow_execution_signaled_event_attributes
    # Temporal: sent by the history service on behalf of the sender, which the event names.
    assert first.identity == "history-service"
    assert first.external_workflow_execution.workflow_id == f"{wf_id}-sender"
    assert first.external_workflow_execution.run_id == sender.result_run_id


async def test_a_signal_to_a_missing_workflow_fails_in_the_sender(client, worker, wf_id):
    sender = await client.start_workflow(
        workflows.SignalsAnother.run,
        args=[f"{wf_id}-nobody", ["x"]],
        id=wf_id,
        task_queue=worker.task_queue,
    )
    [outcome] = await asyncio.wait_for(sender.result(), RESULT_TIMEOUT_S)
    assert outcome != "sent", outcome
    [failed] = of_type(
        await events_of(sender), "EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED"
    )
    f = failed.signal_external_workflow_execution_failed_event_attributes
    assert (
        f.cause
        == SignalExternalWorkflowExecutionFailedCause.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND
    )
    assert f.workflow_execution.workflow_id == f"{wf_id}-nobody"
    assert EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED in [
        e.event_type for e in await events_of(sender)
    ]
