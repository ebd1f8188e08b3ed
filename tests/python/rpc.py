"""Talking to the server below the SDK, for the tests that check its API call by call.

Owns: the deadlines those tests share, JSON payloads built and read by hand, recognising an
RPCError by its detail message or as the caller's own timeout, checking that a call stays
unanswered while nobody can serve it, ending the collecting workflows of the query and update
tests, and ``RawRun``: one workflow on a task queue only its test polls, whose tasks the test
answers itself. Must never: retry a call or hide a status the server answered (a test asserts
on codes and messages exactly as they came), wait for a poll, an answer or a result without a
deadline, or assert anything a test's own assertions should say (a helper checks only what its
name promises).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import TaskQueueKind
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollWorkflowTaskQueueRequest,
    PollWorkflowTaskQueueResponse,
    SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from harness import NAMESPACE
from history import events_of, type_names

RESULT_TIMEOUT_S = 60
#: Deadline of a call that must be answered; generous, an answer takes milliseconds.
ANSWER = timedelta(seconds=30)
RPC_TIMEOUT = timedelta(seconds=10)
#: How long a call must stay unanswered while nobody can run what it waits for.
BLOCKED_S = 1.0
#: A workflow task poll's deadline, and the test's own bound in case the call ignores it.
POLL_TIMEOUT = timedelta(seconds=30)
POLL_BOUND_S = 40


# ---- payloads --------------------------------------------------------------------------------


def json_payload(text: str) -> Payload:
    """``text`` (already JSON) as the SDK's default converter encodes it."""
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


def json_payloads(*texts: str) -> Payloads:
    return Payloads(payloads=[json_payload(t) for t in texts])


def json_values(payloads: Payloads) -> list[bytes]:
    """The data of each payload, which must all be JSON."""
    assert all(p.metadata["encoding"] == b"json/plain" for p in payloads.payloads)
    return [p.data for p in payloads.payloads]


# ---- errors and waiting ----------------------------------------------------------------------


def detail_is(err: RPCError, message_type) -> bool:
    """``err`` carries a detail of ``message_type`` (an errordetails.v1 message), the part of a
    refusal clients act on besides the code."""
    details = err.grpc_status.details if err.grpc_status else []
    return any(d.Is(message_type.DESCRIPTOR) for d in details)


def is_timeout(err: RPCError) -> bool:
    """The caller's own deadline: the SDK's client timer fires first ("Timeout expired",
    CANCELLED) or the transport reports DEADLINE_EXCEEDED; Temporal answered both ways."""
    return err.status in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED)


async def assert_blocked(task: asyncio.Task, what: str) -> None:
    """``task`` has no answer after BLOCKED_S: nobody can run what it waits for."""
    done, _ = await asyncio.wait({task}, timeout=BLOCKED_S)
    if done:
        outcome = task.exception() or task.result()
        pytest.fail(f"{what}: finished while nobody could answer it: {outcome!r}")


async def finish(handle: WorkflowHandle) -> Any:
    """Ends a collecting workflow and returns its result. workflows.QueryableCollector and
    workflows.Updatable both return once their ``finish`` signal came, so the signal goes by
    that name (what reaches the server is the same as for a method reference)."""
    await handle.signal("finish")
    return await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)


# ---- a workflow driven RPC by RPC --------------------------------------------------------------


class RawRun:
    """One workflow on a queue only this test polls, driven RPC by RPC (each call bounded).

    A subclass names the workflow type (no worker registers it: the test is the worker), the
    queue's prefix and the identities the server records, and completes workflow tasks with
    what its protocol needs (query results, update messages). The identities are part of what
    the tests compare in histories, so each subclass keeps its own.
    """

    workflow_type: str
    queue_prefix: str
    #: Who starts the run (the identity of WorkflowExecutionStarted).
    starter_identity: str
    #: Who polls and completes its workflow tasks.
    worker_identity: str
    #: Who signals it.
    signaller_identity = "raw"

    def __init__(self, client: Client, wf_id: str) -> None:
        self.client = client
        self.svc = client.workflow_service
        self.wf_id = wf_id
        self.task_queue = TaskQueue(
            name=f"{self.queue_prefix}-{uuid.uuid4()}", kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL
        )
        self.run_id = ""

    async def start(self) -> StartWorkflowExecutionResponse:
        """Starts the run; its first workflow task waits for ``poll``."""
        started = await self.svc.start_workflow_execution(
            StartWorkflowExecutionRequest(
                namespace=NAMESPACE,
                workflow_id=self.wf_id,
                workflow_type=WorkflowType(name=self.workflow_type),
                task_queue=self.task_queue,
                request_id=str(uuid.uuid4()),
                identity=self.starter_identity,
            ),
            timeout=RPC_TIMEOUT,
        )
        self.run_id = started.run_id
        return started

    async def poll(self) -> PollWorkflowTaskQueueResponse:
        response = await asyncio.wait_for(
            self.svc.poll_workflow_task_queue(
                PollWorkflowTaskQueueRequest(
                    namespace=NAMESPACE, task_queue=self.task_queue, identity=self.worker_identity
                ),
                timeout=POLL_TIMEOUT,
            ),
            POLL_BOUND_S,
        )
        assert response.task_token, "empty poll"
        assert response.workflow_execution.workflow_id == self.wf_id
        return response

    async def signal(self, value: str) -> None:
        """Signals ``add`` with ``value`` (a JSON string), by workflow id only."""
        await self.svc.signal_workflow_execution(
            SignalWorkflowExecutionRequest(
                namespace=NAMESPACE,
                workflow_execution=WorkflowExecution(workflow_id=self.wf_id),
                signal_name="add",
                input=json_payloads(f'"{value}"'),
                identity=self.signaller_identity,
                request_id=str(uuid.uuid4()),
            ),
            timeout=RPC_TIMEOUT,
        )

    @property
    def handle(self) -> WorkflowHandle:
        return self.client.get_workflow_handle(self.wf_id)

    async def events(self) -> list[HistoryEvent]:
        return await events_of(self.handle)

    async def event_types(self) -> list[str]:
        return type_names(await self.events())
