"""ResetWorkflowExecution with the official Python SDK: a reset to a workflow task's finish
event makes a new run of the same workflow id whose history is the base's up to that task's
started event, then WorkflowTaskFailed (cause RESET_WORKFLOW, the reason as a
ResetWorkflowFailure, identity history-service, base and new run ids), the base's signals
received after that point re-applied, and a new WorkflowTaskScheduled; a worker replays it and
carries on. A running base is terminated by the resetter (reason, identity history-resetter).
Every test passes against Temporal's dev server (PERDURE_TEST_SERVER=temporal).

A reset of a run that is no longer current terminates the current run first; a retried reset
with the same request id is not deduplicated (Temporal compares it with the current run's
create request id, which a reset run inherits from the base's start).

Not covered here: resets with pending timers or children, updates re-applied, the reapply
exclusions other than signals, post-reset operations, and `temporal workflow reset` by type
(first/last workflow task). The core tests (perdure-core src/tests/reset.rs) cover timers and
pending activities.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import (
    EventType,
    ResetReapplyExcludeType,
    WorkflowExecutionStatus,
    WorkflowTaskFailedCause,
)
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    ResetWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

import workflows
from harness import NAMESPACE
from test_cli import cli
from history import events_of, type_names
from waiting import wait_until

REASON = "testing reset"


async def reset(
    client: Client, wf_id: str, run_id: str, event_id: int, request_id: str = "", **extra
) -> str:
    resp = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=NAMESPACE,
            workflow_execution=WorkflowExecution(workflow_id=wf_id, run_id=run_id),
            reason=REASON,
            workflow_task_finish_event_id=event_id,
            request_id=request_id or str(uuid.uuid4()),
            **extra,
        )
    )
    return resp.run_id


async def status_of(client: Client, wf_id: str, run_id: str) -> int:
    d = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=wf_id, run_id=run_id)
        )
    )
    return d.workflow_execution_info.status


async def waiting_for_signals(client: Client, worker, wf_id: str, expected: int):
    """A run that has completed its activity and waits for signals (history ends with the
    WorkflowTaskCompleted after the activity's outcome)."""
    handle = await client.start_workflow(
        workflows.GreetThenCollect.run,
        args=["bob", expected],
        id=wf_id,
        task_queue=worker.task_queue,
    )

    async def settled():
        names = type_names(await events_of(handle))
        done = names.count("EVENT_TYPE_WORKFLOW_TASK_COMPLETED") >= 2
        return done and names[-1] == "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"

    await wait_until(settled, 20, "the run to wait for signals")
    return handle


async def test_reset_to_the_first_task_replays_reapplies_signals_and_terminates_the_base(
    client, worker, wf_id
):
    handle = await waiting_for_signals(client, worker, wf_id, 2)
    await handle.signal(workflows.GreetThenCollect.add, "a")
    base_run = handle.result_run_id
    base_events = await wait_until(
        lambda: _with_signal(handle), 20, "the signal to be recorded and its task completed"
    )
    first_completed = next(
        e.event_id for e in base_events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    assert first_completed == 4

    new_run = await reset(client, wf_id, base_run, first_completed)
    assert new_run and new_run != base_run

    base = client.get_workflow_handle(wf_id, run_id=base_run)
    base_after = await events_of(base)
    last = base_after[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
    assert last.workflow_execution_terminated_event_attributes.reason == REASON
    assert last.workflow_execution_terminated_event_attributes.identity == "history-resetter"
    assert await status_of(client, wf_id, base_run) == (
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED
    )

    await client.get_workflow_handle(wf_id).signal(workflows.GreetThenCollect.add, "b")
    new_handle = client.get_workflow_handle(wf_id, run_id=new_run)
    assert await new_handle.result() == "Hello, bob!|a,b"

    events = await events_of(new_handle)
    names = type_names(events)
    assert names[:8] == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_FAILED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
    ]
    # The first three events are the base's, unchanged.
    for mine, theirs in zip(events[:3], base_events[:3]):
        assert mine.event_type == theirs.event_type
        assert mine.event_time == theirs.event_time
    started = events[0].workflow_execution_started_event_attributes
    assert started.original_execution_run_id == base_run
    assert started == base_events[0].workflow_execution_started_event_attributes
    assert (
        events[2].workflow_task_started_event_attributes.request_id
        == base_events[2].workflow_task_started_event_attributes.request_id
    )
    failed = events[3].workflow_task_failed_event_attributes
    assert failed.scheduled_event_id == 2
    assert failed.started_event_id == 3
    assert failed.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
    assert failed.failure.message == REASON
    assert failed.failure.HasField("reset_workflow_failure_info")
    assert failed.identity == "history-service"
    assert failed.base_run_id == base_run
    assert failed.new_run_id == new_run
    signaled = events[4].workflow_execution_signaled_event_attributes
    base_signal = next(
        e.workflow_execution_signaled_event_attributes
        for e in base_events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    )
    assert signaled.signal_name == "add"
    assert signaled.input == base_signal.input
    assert signaled.request_id == base_signal.request_id
    # The activity runs again in the new run.
    assert names.count("EVENT_TYPE_ACTIVITY_TASK_COMPLETED") == 1

    d = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=wf_id, run_id=new_run)
        )
    )
    info = d.workflow_execution_info
    assert info.first_run_id == base_run
    assert info.root_execution.run_id == new_run
    # The new run starts at the reset, not at the base's start.
    assert info.start_time.ToNanoseconds() > base_events[-1].event_time.ToNanoseconds()
    assert info.execution_time == info.start_time
    assert info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
    assert info.history_length == len(events)
    # Describe by workflow id alone finds the new run: it is current.
    current = await client.get_workflow_handle(wf_id).describe()
    assert current.run_id == new_run


async def _with_signal(handle):
    events = await events_of(handle)
    names = type_names(events)
    if "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED" not in names:
        return None
    return events if names[-1] == "EVENT_TYPE_WORKFLOW_TASK_COMPLETED" else None


async def test_excluded_signals_are_not_reapplied(client, worker, wf_id):
    handle = await waiting_for_signals(client, worker, wf_id, 2)
    await handle.signal(workflows.GreetThenCollect.add, "a")
    base_run = handle.result_run_id
    await wait_until(lambda: _with_signal(handle), 20, "the signal's task")
    new_run = await reset(
        client,
        wf_id,
        base_run,
        4,
        reset_reapply_exclude_types=[ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL],
    )
    names = type_names(await events_of(client.get_workflow_handle(wf_id, run_id=new_run)))
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED" not in names
    for value in ("y", "z"):
        await client.get_workflow_handle(wf_id).signal(workflows.GreetThenCollect.add, value)
    assert await client.get_workflow_handle(wf_id, run_id=new_run).result() == "Hello, bob!|y,z"


@pytest.mark.parametrize(
    "event_id,message",
    [
        (1, "Workflow task finish ID must be > 1 && <= workflow last event ID."),
        (999, "Workflow task finish ID must be > 1 && <= workflow last event ID."),
        (
            2,
            "StateRebuilder unable to Rebuild mutable state to event ID: 1, version: 0, "
            "this event must be at the boundary",
        ),
        (
            5,
            "StateRebuilder unable to Rebuild mutable state to event ID: 4, version: 0, "
            "this event must be at the boundary",
        ),
        (
            6,
            "Can only reset workflow to event ID in range "
            "[WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: 6",
        ),
    ],
)
async def test_a_bad_reset_point_is_refused_with_temporals_message(
    client, worker, wf_id, event_id, message
):
    handle = await waiting_for_signals(client, worker, wf_id, 1)
    with pytest.raises(RPCError) as err:
        await reset(client, wf_id, handle.result_run_id, event_id)
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert err.value.message == message
    assert await status_of(client, wf_id, handle.result_run_id) == (
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    )


async def test_a_reset_without_request_id_is_refused(client, worker, wf_id):
    handle = await waiting_for_signals(client, worker, wf_id, 1)
    with pytest.raises(RPCError) as err:
        await client.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=NAMESPACE,
                workflow_execution=WorkflowExecution(workflow_id=wf_id),
                reason=REASON,
                workflow_task_finish_event_id=4,
            )
        )
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert err.value.message == "RequestId is not set on request."


async def test_reset_of_a_completed_run_leaves_it_completed(client, worker, wf_id):
    handle = await waiting_for_signals(client, worker, wf_id, 1)
    await handle.signal(workflows.GreetThenCollect.add, "a")
    assert await handle.result() == "Hello, bob!|a"
    base_run = handle.result_run_id
    new_run = await reset(client, wf_id, base_run, 4)
    assert new_run != base_run
    new_handle = client.get_workflow_handle(wf_id, run_id=new_run)
    # The signal came after the reset point: re-applied, so the new run completes alone.
    assert await new_handle.result() == "Hello, bob!|a"
    assert await status_of(client, wf_id, base_run) == (
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
    )
    names = type_names(await events_of(client.get_workflow_handle(wf_id, run_id=base_run)))
    assert names[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"


async def test_reset_to_the_last_task_keeps_the_activity_done(client, worker, wf_id):
    handle = await waiting_for_signals(client, worker, wf_id, 1)
    base_events = await events_of(handle)
    last_completed = base_events[-1].event_id
    new_run = await reset(client, wf_id, handle.result_run_id, last_completed)
    new_handle = client.get_workflow_handle(wf_id, run_id=new_run)
    events = await events_of(new_handle)
    assert type_names(events)[: last_completed + 1] == type_names(base_events)[: last_completed - 1] + [
        "EVENT_TYPE_WORKFLOW_TASK_FAILED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    ]
    await client.get_workflow_handle(wf_id).signal(workflows.GreetThenCollect.add, "x")
    assert await new_handle.result() == "Hello, bob!|x"
    names = type_names(await events_of(new_handle))
    assert names.count("EVENT_TYPE_ACTIVITY_TASK_SCHEDULED") == 1


async def test_cli_reset_by_event_id(server, client, worker, wf_id):
    handle = await waiting_for_signals(client, worker, wf_id, 1)
    base_run = handle.result_run_id
    out = await cli(
        server, "workflow", "reset", "--workflow-id", wf_id, "--event-id", "4",
        "--reason", REASON, "--yes",
    )
    current = await client.get_workflow_handle(wf_id).describe()
    assert current.run_id != base_run
    assert out == f"Resetting workflow {wf_id} to event ID 4\n"
    assert await status_of(client, wf_id, base_run) == (
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED
    )
    await client.get_workflow_handle(wf_id).signal(workflows.GreetThenCollect.add, "c")
    new_handle = client.get_workflow_handle(wf_id, run_id=current.run_id)
    assert await new_handle.result() == "Hello, bob!|c"


async def test_a_second_reset_of_the_same_base_terminates_the_first_reset_run(
    client, worker, wf_id
):
    # A request id names the reset for Temporal's dedup only while it created the current
    # run, which a reset run never did (it keeps the base's start request id): a second
    # reset of the same base makes another run.
    handle = await waiting_for_signals(client, worker, wf_id, 2)
    await handle.signal(workflows.GreetThenCollect.add, "a")
    await wait_until(lambda: _with_signal(handle), 20, "the signal's task")
    base_run = handle.result_run_id
    request_id = str(uuid.uuid4())
    first = await reset(client, wf_id, base_run, 4, request_id)
    second = await reset(client, wf_id, base_run, 4, request_id)
    assert len({base_run, first, second}) == 3
    first_events = await events_of(client.get_workflow_handle(wf_id, run_id=first))
    last = first_events[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
    assert last.workflow_execution_terminated_event_attributes.reason == REASON
    assert last.workflow_execution_terminated_event_attributes.identity == "history-resetter"
    current = await client.get_workflow_handle(wf_id).describe()
    assert current.run_id == second
    # The base's signal is re-applied once, from the base.
    await client.get_workflow_handle(wf_id).signal(workflows.GreetThenCollect.add, "b")
    assert await client.get_workflow_handle(wf_id, run_id=second).result() == "Hello, bob!|a,b"


async def test_reset_over_the_http_api_as_the_web_ui_sends_it(server, client, worker, wf_id):
    handle = await waiting_for_signals(client, worker, wf_id, 1)
    base_run = handle.result_run_id
    body = json.dumps(
        {
            "workflowExecution": {"workflowId": wf_id, "runId": base_run},
            "reason": REASON,
            "workflowTaskFinishEventId": "4",
            "requestId": str(uuid.uuid4()),
        }
    ).encode()
    url = f"{server.http_base}/api/v1/namespaces/{NAMESPACE}/workflows/{wf_id}/reset"
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    reply = await asyncio.to_thread(
        lambda: json.loads(urllib.request.urlopen(req, timeout=30).read())
    )
    new_run = reply["runId"]
    assert new_run and new_run != base_run
    current = await client.get_workflow_handle(wf_id).describe()
    assert current.run_id == new_run
