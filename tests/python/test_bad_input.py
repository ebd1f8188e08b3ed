"""Bad requests get the gRPC status Temporal's server answers, and the server keeps serving.

The expected codes were observed against Temporal's dev server (temporal CLI 1.9.1, server
1.32.0); mostly only the codes and error-detail types the SDKs act on are compared, plus the
exact wording where a user sees it (payload size limits).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import Command, ScheduleActivityTaskCommandAttributes
from temporalio.api.common.v1 import (
    ActivityType,
    Payload,
    Payloads,
    WorkflowExecution,
    WorkflowType,
)
from temporalio.api.enums.v1 import CommandType, WorkflowTaskFailedCause
from temporalio.api.errordetails.v1 import NamespaceNotFoundFailure, NotFoundFailure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    PollActivityTaskQueueRequest,
    PollWorkflowTaskQueueRequest,
    RespondActivityTaskCompletedRequest,
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

import workflows
from harness import NAMESPACE, server_kind
from history import of_type
from rpc import POLL_TIMEOUT, RPC_TIMEOUT, detail_is

#: Temporal's default limit on workflow id length (dynamic config limit.maxIDLength).
MAX_ID_LENGTH = 1000


def start_request(workflow_id: str, namespace: str = NAMESPACE, task_queue: str = "unused"):
    return StartWorkflowExecutionRequest(
        namespace=namespace,
        workflow_id=workflow_id,
        workflow_type=WorkflowType(name="RawWorkflow"),
        task_queue=TaskQueue(name=task_queue),
        request_id=str(uuid.uuid4()),
        identity="perdure-e2e",
    )


async def expect_status(call, code: RPCStatusCode) -> RPCError:
    with pytest.raises(RPCError) as err:
        await asyncio.wait_for(call, RPC_TIMEOUT.total_seconds() + 5)
    assert err.value.status == code, f"got {err.value.status!r}: {err.value.message}"
    return err.value


async def raw_events(svc, wf_id: str) -> list[HistoryEvent]:
    """The current run's history from one GetWorkflowExecutionHistory call: no paging, these
    runs are a few events long."""
    history = await svc.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=wf_id)
        ),
        timeout=RPC_TIMEOUT,
    )
    return list(history.history.events)


async def assert_still_serves(client: Client, worker, wf_id: str) -> None:
    handle = await client.start_workflow(
        workflows.OneActivity.run, "still", id=f"{wf_id}-alive", task_queue=worker.task_queue
    )
    assert await asyncio.wait_for(handle.result(), 60) == "Hello, still!"


async def start_raw_and_poll(client: Client, wf_id: str):
    """Starts a workflow on a queue no SDK worker polls, and takes its first workflow task."""
    svc = client.workflow_service
    task_queue = f"raw-{uuid.uuid4()}"
    await svc.start_workflow_execution(
        start_request(wf_id, task_queue=task_queue), timeout=RPC_TIMEOUT
    )
    poll = await svc.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(
            namespace=NAMESPACE, task_queue=TaskQueue(name=task_queue), identity="perdure-e2e"
        ),
        timeout=POLL_TIMEOUT,
    )
    assert poll.task_token, "expected a workflow task, got an empty poll"
    assert poll.workflow_execution.workflow_id == wf_id
    return task_queue, poll


async def test_empty_workflow_id_is_invalid_argument(client, worker, wf_id):
    await expect_status(
        client.workflow_service.start_workflow_execution(start_request(""), timeout=RPC_TIMEOUT),
        RPCStatusCode.INVALID_ARGUMENT,
    )
    await assert_still_serves(client, worker, wf_id)


async def test_overlong_workflow_id_is_invalid_argument(client, worker, wf_id):
    await expect_status(
        client.workflow_service.start_workflow_execution(
            start_request("x" * (MAX_ID_LENGTH + 1)), timeout=RPC_TIMEOUT
        ),
        RPCStatusCode.INVALID_ARGUMENT,
    )
    await assert_still_serves(client, worker, wf_id)


async def test_workflow_id_at_the_length_limit_is_accepted(client):
    wf_id = "y" * MAX_ID_LENGTH
    resp = await client.workflow_service.start_workflow_execution(
        start_request(wf_id), timeout=RPC_TIMEOUT
    )
    assert resp.run_id
    await client.get_workflow_handle(wf_id).terminate("length-limit test done")


async def test_unknown_namespace_is_not_found(client, worker, wf_id):
    err = await expect_status(
        client.workflow_service.start_workflow_execution(
            start_request(wf_id, namespace=f"no-such-ns-{uuid.uuid4().hex[:8]}"),
            timeout=RPC_TIMEOUT,
        ),
        RPCStatusCode.NOT_FOUND,
    )
    assert detail_is(err, NamespaceNotFoundFailure), err.grpc_status
    await assert_still_serves(client, worker, wf_id)


async def test_garbage_task_token_is_invalid_argument(client, worker, wf_id):
    await expect_status(
        client.workflow_service.respond_activity_task_completed(
            RespondActivityTaskCompletedRequest(
                namespace=NAMESPACE, task_token=b"not-a-task-token", identity="perdure-e2e"
            ),
            timeout=RPC_TIMEOUT,
        ),
        RPCStatusCode.INVALID_ARGUMENT,
    )
    await assert_still_serves(client, worker, wf_id)


async def schedule_one_raw_activity(client: Client, task_queue: str, poll):
    """Answers the polled workflow task with one ScheduleActivityTask and polls that activity."""
    svc = client.workflow_service
    schedule = Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
            activity_id="1",
            activity_type=ActivityType(name="RawActivity"),
            task_queue=TaskQueue(name=task_queue),
            start_to_close_timeout=Duration(seconds=30),
        ),
    )
    await svc.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(
            namespace=NAMESPACE,
            task_token=poll.task_token,
            commands=[schedule],
            identity="perdure-e2e",
        ),
        timeout=RPC_TIMEOUT,
    )
    act = await svc.poll_activity_task_queue(
        PollActivityTaskQueueRequest(
            namespace=NAMESPACE, task_queue=TaskQueue(name=task_queue), identity="perdure-e2e"
        ),
        timeout=POLL_TIMEOUT,
    )
    assert act.task_token and act.activity_id == "1"
    return act


async def test_reused_activity_task_token_is_not_found(client, worker, wf_id):
    """A real token, already used: the activity no longer exists, so completing it again is
    NotFound (the SDK then drops the result), never a second ActivityTaskCompleted."""
    svc = client.workflow_service
    task_queue, poll = await start_raw_and_poll(client, wf_id)
    act = await schedule_one_raw_activity(client, task_queue, poll)
    complete = RespondActivityTaskCompletedRequest(
        namespace=NAMESPACE, task_token=act.task_token, identity="perdure-e2e"
    )
    await svc.respond_activity_task_completed(complete, timeout=RPC_TIMEOUT)
    err = await expect_status(
        svc.respond_activity_task_completed(complete, timeout=RPC_TIMEOUT),
        RPCStatusCode.NOT_FOUND,
    )
    assert detail_is(err, NotFoundFailure), err.grpc_status

    events = await raw_events(svc, wf_id)
    assert len(of_type(events, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")) == 1
    await client.get_workflow_handle(wf_id).terminate("raw test done")
    await assert_still_serves(client, worker, wf_id)


async def test_schedule_activity_without_type_is_invalid_argument(client, worker, wf_id):
    svc = client.workflow_service
    task_queue, poll = await start_raw_and_poll(client, wf_id)
    bad = Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
            activity_id="1",
            # activity_type deliberately missing
            task_queue=TaskQueue(name=task_queue),
            start_to_close_timeout=Duration(seconds=10),
        ),
    )
    await expect_status(
        svc.respond_workflow_task_completed(
            RespondWorkflowTaskCompletedRequest(
                namespace=NAMESPACE,
                task_token=poll.task_token,
                commands=[bad],
                identity="perdure-e2e",
            ),
            timeout=RPC_TIMEOUT,
        ),
        RPCStatusCode.INVALID_ARGUMENT,
    )

    # Temporal fails the workflow task (cause BAD_SCHEDULE_ACTIVITY_ATTRIBUTES) and schedules a
    # new attempt; the rejected token is then stale.
    events = await raw_events(svc, wf_id)
    assert [e.event_id for e in events] == list(range(1, len(events) + 1))
    [failed] = of_type(events, "EVENT_TYPE_WORKFLOW_TASK_FAILED")
    assert (
        failed.workflow_task_failed_event_attributes.cause
        == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES
    )
    assert not of_type(events, "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    await expect_status(
        svc.respond_workflow_task_completed(
            RespondWorkflowTaskCompletedRequest(
                namespace=NAMESPACE, task_token=poll.task_token, identity="perdure-e2e"
            ),
            timeout=RPC_TIMEOUT,
        ),
        RPCStatusCode.NOT_FOUND,
    )
    await client.get_workflow_handle(wf_id).terminate("raw test done")
    await assert_still_serves(client, worker, wf_id)


#: Temporal's default limit.blobSize.error: one payload set may be at most 2 MiB.
BLOB_SIZE_LIMIT = 2 * 1024 * 1024


def oversized_payloads() -> Payloads:
    # The limit applies to the encoded Payloads message; the data alone already exceeds it.
    payload = Payload(metadata={"encoding": b"binary/plain"}, data=b"x" * (BLOB_SIZE_LIMIT + 1))
    return Payloads(payloads=[payload])


async def test_oversized_workflow_input_is_invalid_argument(client, worker, wf_id):
    request = start_request(wf_id)
    request.input.CopyFrom(oversized_payloads())
    err = await expect_status(
        client.workflow_service.start_workflow_execution(request, timeout=RPC_TIMEOUT),
        RPCStatusCode.INVALID_ARGUMENT,
    )
    assert err.message == "Blob data size exceeds limit."
    # Nothing was started under that id.
    await expect_status(raw_events(client.workflow_service, wf_id), RPCStatusCode.NOT_FOUND)
    await assert_still_serves(client, worker, wf_id)


async def test_oversized_activity_result_fails_the_activity(client, worker, wf_id):
    """Temporal accepts the call but records a non-retryable server failure instead of the
    result, so the workflow sees ActivityTaskFailed (no retry despite the default policy)."""
    svc = client.workflow_service
    task_queue, poll = await start_raw_and_poll(client, wf_id)
    act = await schedule_one_raw_activity(client, task_queue, poll)
    await svc.respond_activity_task_completed(
        RespondActivityTaskCompletedRequest(
            namespace=NAMESPACE,
            task_token=act.task_token,
            result=oversized_payloads(),
            identity="perdure-e2e",
        ),
        timeout=RPC_TIMEOUT,
    )

    events = await raw_events(svc, wf_id)
    assert [e.event_id for e in events] == list(range(1, len(events) + 1))
    assert not of_type(events, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
    [started] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_STARTED")
    assert started.activity_task_started_event_attributes.attempt == 1
    [failed] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_FAILED")
    failure = failed.activity_task_failed_event_attributes.failure
    assert failure.message == "Complete result exceeds size limit."
    assert failure.HasField("server_failure_info")
    assert failure.server_failure_info.non_retryable
    await client.get_workflow_handle(wf_id).terminate("raw test done")
    await assert_still_serves(client, worker, wf_id)
