"""Namespace retention with the official Python SDK: a closed workflow run is deleted (describe
and history answer NotFound, the workflow id is free again) once its namespace's
``workflow_execution_retention_ttl`` has passed after it closed, also across a server restart.

RegisterNamespace follows Temporal's rule for local namespaces: a missing retention or one below
one hour is refused. Waiting an hour is no test, so the deletion test starts its own perdure
with ``PERDURE_MIN_NAMESPACE_RETENTION_SECS=1`` (perdure's stand-in for Temporal's
``system.namespaceMinRetentionLocal`` dynamic config, for tests only) and registers a namespace
with a two-second retention. That test is perdure-only; the refusal test runs against both.

Owns: its own server process, namespace and worker for the deletion test.
Must never: wait without a deadline, or leave its server running.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import pytest
import pytest_asyncio
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
    RegisterNamespaceRequest,
)
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

import workflows
from activities import Activities
from harness import ServerUnderTest, server_kind

MIN_RETENTION_ENV = "PERDURE_MIN_NAMESPACE_RETENTION_SECS"
RETENTION_S = 2
#: Deletion is due RETENTION_S after close; the timer wheel and a loaded machine add a little.
DELETE_DEADLINE_S = 30.0
RESULT_TIMEOUT_S = 30.0


async def _register(client: Client, namespace: str, retention: Duration | None) -> None:
    req = RegisterNamespaceRequest(namespace=namespace)
    if retention is not None:
        req.workflow_execution_retention_period.CopyFrom(retention)
    await client.workflow_service.register_namespace(req)


async def test_retention_below_the_minimum_is_refused(client: Client):
    for retention in (None, Duration(seconds=1), Duration(seconds=3599)):
        with pytest.raises(RPCError) as err:
            await _register(client, f"retention-bad-{uuid.uuid4().hex[:8]}", retention)
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT, retention
        assert "retention" in err.value.message.lower()
    # One hour is Temporal's floor for local namespaces, and accepted.
    await _register(client, f"retention-ok-{uuid.uuid4().hex[:8]}", Duration(seconds=3600))


@pytest_asyncio.fixture
async def short_retention_server():
    """A perdure of its own whose retention floor is one second."""
    if server_kind() != "perdure":
        pytest.skip("lowering the retention floor is perdure-only")
    srv = ServerUnderTest()
    previous = os.environ.get(MIN_RETENTION_ENV)
    os.environ[MIN_RETENTION_ENV] = "1"
    try:
        # The child inherits the environment at spawn (and again at a restart).
        await srv.start()
        yield srv
    except BaseException:
        print(srv.log_tail())
        raise
    finally:
        if previous is None:
            os.environ.pop(MIN_RETENTION_ENV, None)
        else:
            os.environ[MIN_RETENTION_ENV] = previous
        srv.stop(remove=not os.environ.get("PERDURE_KEEP_DATA"))


async def _describe_status(client: Client, workflow_id: str, run_id: str) -> int | None:
    """The run's status, or None once it is NotFound."""
    try:
        resp = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            )
        )
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return resp.workflow_execution_info.status


async def _wait_deleted(client: Client, workflow_id: str, run_id: str) -> float:
    """Seconds until describe answers NotFound; fails at the deadline."""
    started = time.monotonic()
    deadline = started + DELETE_DEADLINE_S
    while await _describe_status(client, workflow_id, run_id) is not None:
        assert time.monotonic() < deadline, f"{workflow_id}/{run_id} not deleted in time"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def _run_once(client: Client, task_queue: str, workflow_id: str) -> str:
    handle = await client.start_workflow(
        workflows.OneActivity.run, "retention", id=workflow_id, task_queue=task_queue
    )
    result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    assert result == "Hello, retention!"
    return handle.result_run_id or handle.first_execution_run_id or ""


async def test_completed_workflow_is_deleted_after_the_retention(short_retention_server):
    srv = short_retention_server
    admin = await asyncio.wait_for(Client.connect(srv.target, namespace="default"), 30)
    namespace = f"retention-{uuid.uuid4().hex[:8]}"
    await _register(admin, namespace, Duration(seconds=RETENTION_S))
    client = await asyncio.wait_for(Client.connect(srv.target, namespace=namespace), 30)
    task_queue = f"retention-{uuid.uuid4()}"
    workflow_id = f"retention-wf-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[workflows.OneActivity],
        activities=Activities().all(),
    )
    async with worker:
        run_id = await _run_once(client, task_queue, workflow_id)
        assert run_id
        waited = await _wait_deleted(client, workflow_id, run_id)
        # Kept until its retention has (nearly) passed: not deleted at close.
        assert waited > 0.5, waited
        with pytest.raises(RPCError) as err:
            await client.workflow_service.get_workflow_execution_history(
                GetWorkflowExecutionHistoryRequest(
                    namespace=namespace,
                    execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
                )
            )
        assert err.value.status == RPCStatusCode.NOT_FOUND
        # The current-run pointer went with it: no run id resolves either.
        assert await _describe_status(client, workflow_id, "") is None

        # The id starts again; this run survives a crash right after it closes and is
        # deleted by the restarted server from the timer it finds on disk.
        second = await _run_once(client, task_queue, workflow_id)
        assert second != run_id
    srv.kill()
    await srv.start()
    client = await asyncio.wait_for(Client.connect(srv.target, namespace=namespace), 30)
    await _wait_deleted(client, workflow_id, second)
    assert await _describe_status(client, workflow_id, "") is None
