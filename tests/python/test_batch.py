"""Batch operations (StartBatchOperation, Stop, Describe, List) against the server under test:
terminate, cancel, signal and delete jobs by query and by named executions, the CLI's `workflow
terminate|cancel|signal --query` and `batch list|describe|terminate`, validation in Temporal's
codes and words, the namespace's running-job limit, stop, and that jobs stay out of
ListWorkflowExecutions. Perdure only: a job resumes after a kill -9 without signalling anyone
twice, a job started through a non-leader node of a 3-node cluster reaches every shard, and a
job goes on, signalling nobody twice, when its shard's leader dies.

Written against Temporal's dev server (PERDURE_TEST_SERVER=temporal; CLI 1.9.1, server
1.32.0), which is what the assertions state. Targets are runs no worker polls (they stay
running); every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.request
import uuid
import zlib

import pytest
import pytest_asyncio
from temporalio.api.batch.v1 import (
    BatchOperationCancellation,
    BatchOperationDeletion,
    BatchOperationReset,
    BatchOperationSignal,
    BatchOperationTermination,
)
from temporalio.api.common.v1 import Execution, WorkflowExecution
from temporalio.api.workflow.v1 import PostResetOperation
from temporalio.api.enums.v1 import (
    BatchOperationState,
    BatchOperationType,
    EventType,
    ExecutionType,
    ResetType,
    WorkflowExecutionStatus,
)
from temporalio.api.workflowservice.v1 import (
    CountWorkflowExecutionsRequest,
    DeleteWorkflowExecutionRequest,
    DescribeNamespaceRequest,
    DescribeBatchOperationRequest,
    ListBatchOperationsRequest,
    ListWorkflowExecutionsRequest,
    StartBatchOperationRequest,
    StopBatchOperationRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from cluster import Cluster
from harness import NAMESPACE, ServerUnderTest, server_kind, temporal_bin
from rpc import json_payloads, json_values
from waiting import wait_until

#: One job carries out this many operations a second (worker.batcherRPS), so a job over a few
#: dozen runs is still running when the test looks, on both servers.
BATCHER_RPS = 5
#: Jobs a namespace may run at once (frontend.MaxConcurrentBatchOperationPerNamespace; 1 by
#: default): two, so that a second start of a running job's id meets the job, not the limit.
MAX_RUNNING_JOBS = 2
#: A job over a handful of runs at BATCHER_RPS ends well within this.
JOB_DEADLINE_S = 60

perdure_only = pytest.mark.skipif(server_kind() != "perdure", reason="perdure only")

#: Temporal's batcher terminates and cancels with its SDK client's identity: `<pid>@<host>@`.
BATCHER_IDENTITY = re.compile(r"^\d+@[^@]+@$")


@pytest_asyncio.fixture(scope="module")
async def batch_server():
    srv = ServerUnderTest(
        dynamic_config={
            "worker.batcherRPS": str(BATCHER_RPS),
            "frontend.MaxConcurrentBatchOperationPerNamespace": str(MAX_RUNNING_JOBS),
        }
    )
    try:
        await srv.start()
        yield srv
    except BaseException:
        print(srv.log_tail())
        raise
    finally:
        srv.stop()


@pytest_asyncio.fixture(scope="module")
async def bclient(batch_server: ServerUnderTest) -> Client:
    return await asyncio.wait_for(Client.connect(batch_server.target, namespace=NAMESPACE), 30)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def count(client: Client, query: str) -> int:
    r = await client.workflow_service.count_workflow_executions(
        CountWorkflowExecutionsRequest(namespace=NAMESPACE, query=query)
    )
    return r.count


async def start_targets(client: Client, task_queue: str, n: int) -> list[str]:
    """`n` running workflows on `task_queue` (nobody polls it), visible to List before return."""
    ids = [f"{task_queue}-{i}" for i in range(n)]
    for wf_id in ids:
        await client.start_workflow("BatchTarget", id=wf_id, task_queue=task_queue)
    query = f"TaskQueue = '{task_queue}'"
    await wait_until(
        lambda: _count_is(client, query, n), JOB_DEADLINE_S, f"{n} runs visible on {task_queue}"
    )
    return ids


async def _count_is(client: Client, query: str, n: int) -> bool:
    return await count(client, query) == n


async def start_batch(client: Client, **fields) -> str:
    fields.setdefault("namespace", NAMESPACE)
    fields.setdefault("job_id", unique("job"))
    fields.setdefault("reason", "batch test")
    await client.workflow_service.start_batch_operation(StartBatchOperationRequest(**fields))
    return fields["job_id"]


async def describe(client: Client, job_id: str):
    return await client.workflow_service.describe_batch_operation(
        DescribeBatchOperationRequest(namespace=NAMESPACE, job_id=job_id)
    )


async def wait_closed(client: Client, job_id: str, timeout_s: float = JOB_DEADLINE_S):
    async def closed():
        d = await describe(client, job_id)
        return d if d.state != BatchOperationState.BATCH_OPERATION_STATE_RUNNING else None

    return await wait_until(closed, timeout_s, f"batch job {job_id} to close")


async def events(client: Client, wf_id: str) -> list:
    return [e async for e in client.get_workflow_handle(wf_id).fetch_history_events()]


async def status_of(client: Client, wf_id: str) -> int:
    d = await client.get_workflow_handle(wf_id).describe()
    return d.raw_description.workflow_execution_info.status


async def refused(call) -> RPCError:
    with pytest.raises(RPCError) as e:
        await call
    return e.value


def assert_completed(d, total: int) -> None:
    assert d.state == BatchOperationState.BATCH_OPERATION_STATE_COMPLETED
    assert (d.total_operation_count, d.complete_operation_count, d.failure_operation_count) == (
        total,
        total,
        0,
    )
    assert d.close_time.ToNanoseconds() >= d.start_time.ToNanoseconds() > 0


async def test_terminate_by_query_terminates_exactly_the_matching_runs(bclient: Client):
    tq = unique("batch-term")
    targets = await start_targets(bclient, tq, 6)
    outsiders = await start_targets(bclient, unique("batch-outside"), 2)
    job = await start_batch(
        bclient,
        visibility_query=f"TaskQueue = '{tq}'",
        reason="cleanup by batch",
        termination_operation=BatchOperationTermination(identity="batch-tester"),
    )
    d = await wait_closed(bclient, job)
    assert_completed(d, 6)
    assert d.job_id == job
    assert d.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW
    assert (d.identity, d.reason, d.query) == ("batch-tester", "cleanup by batch", f"TaskQueue = '{tq}'")
    assert list(d.executions) == []
    for wf_id in targets:
        assert await status_of(bclient, wf_id) == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED
        last = (await events(bclient, wf_id))[-1]
        assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
        attrs = last.workflow_execution_terminated_event_attributes
        assert attrs.reason == "cleanup by batch"
        assert BATCHER_IDENTITY.match(attrs.identity), attrs.identity
    for wf_id in outsiders:
        assert await status_of(bclient, wf_id) == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING

    # The job is no workflow anyone can list, and a second job with its id is refused.
    assert await count(bclient, f"WorkflowId = '{job}'") == 0
    listed = await bclient.workflow_service.list_workflow_executions(
        ListWorkflowExecutionsRequest(namespace=NAMESPACE, page_size=1000)
    )
    assert job not in {e.execution.workflow_id for e in listed.executions}
    err = await refused(
        start_batch(
            bclient,
            job_id=job,
            visibility_query=f"TaskQueue = '{tq}'",
            termination_operation=BatchOperationTermination(),
        )
    )
    assert err.status == RPCStatusCode.ALREADY_EXISTS
    assert err.message.startswith(f"Workflow execution already finished. WorkflowId: {job}, RunId: ")
    assert err.message.endswith(". Workflow Id reuse policy: reject duplicate workflow Id.")


async def test_signal_batch_signals_each_target_once(bclient: Client):
    tq = unique("batch-sig")
    targets = await start_targets(bclient, tq, 4)
    job = await start_batch(
        bclient,
        visibility_query=f"TaskQueue = '{tq}'",
        signal_operation=BatchOperationSignal(
            signal="batch-signal", input=json_payloads('"hello"'), identity="signaller"
        ),
    )
    d = await wait_closed(bclient, job)
    assert_completed(d, 4)
    assert d.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_SIGNAL_WORKFLOW
    for wf_id in targets:
        signals = [
            e.workflow_execution_signaled_event_attributes
            for e in await events(bclient, wf_id)
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        ]
        assert len(signals) == 1, wf_id
        assert signals[0].signal_name == "batch-signal"
        assert json_values(signals[0].input) == [b'"hello"']
        assert signals[0].identity == "signaller"
        # Temporal derives the request id from the job and the target (a uuid v5).
        assert uuid.UUID(signals[0].request_id).version == 5


async def test_cancel_batch_requests_cancellation(bclient: Client):
    tq = unique("batch-cancel")
    targets = await start_targets(bclient, tq, 3)
    job = await start_batch(
        bclient,
        visibility_query=f"TaskQueue = '{tq}'",
        cancellation_operation=BatchOperationCancellation(identity="canceller"),
    )
    d = await wait_closed(bclient, job)
    assert_completed(d, 3)
    assert d.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_CANCEL_WORKFLOW
    assert d.identity == "canceller"
    for wf_id in targets:
        requested = [
            e.workflow_execution_cancel_requested_event_attributes
            for e in await events(bclient, wf_id)
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED
        ]
        assert len(requested) == 1, wf_id
        assert BATCHER_IDENTITY.match(requested[0].identity), requested[0].identity
        assert requested[0].cause == ""


async def test_delete_batch_deletes_open_and_closed_runs(bclient: Client):
    tq = unique("batch-delete")
    targets = await start_targets(bclient, tq, 3)
    await bclient.get_workflow_handle(targets[0]).terminate(reason="closed first")
    query = f"TaskQueue = '{tq}'"
    job = await start_batch(
        bclient, visibility_query=query, deletion_operation=BatchOperationDeletion(identity="deleter")
    )
    d = await wait_closed(bclient, job)
    # Delete takes the query as given: the closed run is a target too.
    assert_completed(d, 3)
    assert d.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_DELETE_WORKFLOW
    assert d.identity == "deleter"

    async def gone(wf_id: str) -> bool:
        try:
            await bclient.get_workflow_handle(wf_id).describe()
            return False
        except RPCError as e:
            assert e.status == RPCStatusCode.NOT_FOUND, e
            return True

    for wf_id in targets:
        await wait_until(lambda: gone(wf_id), JOB_DEADLINE_S, f"{wf_id} deleted")
    await wait_until(lambda: _count_is(bclient, query, 0), JOB_DEADLINE_S, "deleted runs out of List")
    err = await refused(
        bclient.workflow_service.delete_workflow_execution(DeleteWorkflowExecutionRequest(namespace=NAMESPACE))
    )
    assert (err.status, err.message) == (RPCStatusCode.INVALID_ARGUMENT, "Execution is not set on request.")


async def test_named_executions_count_missing_and_closed_runs_as_done(bclient: Client):
    tq = unique("batch-named")
    running, closed = await start_targets(bclient, tq, 2)
    await bclient.get_workflow_handle(closed).terminate(reason="closed before the batch")
    job = await start_batch(
        bclient,
        target_executions=[
            Execution(type=ExecutionType.EXECUTION_TYPE_WORKFLOW, business_id=wf_id)
            for wf_id in (running, closed, unique("never-started"))
        ],
        termination_operation=BatchOperationTermination(identity="named"),
    )
    d = await wait_closed(bclient, job)
    assert_completed(d, 3)
    assert d.query == ""
    assert [e.business_id for e in d.executions] == [running, closed, d.executions[2].business_id]
    assert await status_of(bclient, running) == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED
    # The run closed before the batch keeps its own termination.
    last = (await events(bclient, closed))[-1]
    assert last.workflow_execution_terminated_event_attributes.reason == "closed before the batch"


async def test_refusals_in_temporals_codes_and_words(bclient: Client):
    ok = dict(
        visibility_query="TaskQueue = 'nothing-here'",
        termination_operation=BatchOperationTermination(),
    )
    required = (
        "must provide required parameters: BatchType,Reason,Namespace, AND one of "
        "(Query OR Executions OR TargetExecutions)"
    )
    cases = [
        (dict(ok, reason=""), RPCStatusCode.INVALID_ARGUMENT, required),
        (dict(ok, job_id=""), RPCStatusCode.INVALID_ARGUMENT, "JobId is not set on request."),
        (dict(ok, visibility_query=""), RPCStatusCode.INVALID_ARGUMENT, required),
        ({"visibility_query": "TaskQueue = 'x'"}, RPCStatusCode.INVALID_ARGUMENT, required),
        (
            dict(ok, executions=[WorkflowExecution(workflow_id="x")]),
            RPCStatusCode.INVALID_ARGUMENT,
            "visibility query, executions, and target executions are mutually exclusive",
        ),
        (
            {"visibility_query": "TaskQueue = 'x'", "signal_operation": BatchOperationSignal()},
            RPCStatusCode.INVALID_ARGUMENT,
            "must provide signal name",
        ),
        (
            {"visibility_query": "TaskQueue = 'x'", "reset_operation": BatchOperationReset()},
            RPCStatusCode.INVALID_ARGUMENT,
            "unknown batch reset type Unspecified",
        ),
        (dict(ok, namespace=""), RPCStatusCode.INVALID_ARGUMENT, "Namespace is empty."),
        (
            dict(ok, namespace="no-such-namespace"),
            RPCStatusCode.NOT_FOUND,
            "Namespace no-such-namespace is not found.",
        ),
    ]
    for fields, code, message in cases:
        err = await refused(start_batch(bclient, **fields))
        assert (err.status, err.message) == (code, message), fields
    err = await refused(start_batch(bclient, **dict(ok, visibility_query="(")))
    assert err.status == RPCStatusCode.INVALID_ARGUMENT
    assert err.message.startswith("invalid visibility query: syntax error at position")

    if server_kind() == "perdure":
        # A batch reset asking for post-reset operations, which Perdure's reset does not carry
        # out, is refused at once rather than run without them (test_batch_reset.py: resets).
        err = await refused(
            start_batch(
                bclient,
                visibility_query="TaskQueue = 'x'",
                reset_operation=BatchOperationReset(
                    reset_type=ResetType.RESET_TYPE_FIRST_WORKFLOW_TASK,
                    post_reset_operations=[PostResetOperation()],
                ),
            )
        )
        assert (err.status, err.message) == (
            RPCStatusCode.UNIMPLEMENTED,
            "Post-reset operations are not supported by this server",
        )

    ws = bclient.workflow_service
    err = await refused(ws.describe_batch_operation(DescribeBatchOperationRequest(namespace=NAMESPACE)))
    assert (err.status, err.message) == (RPCStatusCode.INVALID_ARGUMENT, "JobId is not set on request.")
    missing = unique("no-such-job")
    err = await refused(describe(bclient, missing))
    assert (err.status, err.message) == (RPCStatusCode.NOT_FOUND, f"workflow not found for ID: {missing}")
    err = await refused(
        ws.stop_batch_operation(StopBatchOperationRequest(namespace=NAMESPACE, job_id=missing))
    )
    assert (err.status, err.message) == (RPCStatusCode.INVALID_ARGUMENT, "Reason is not set on request.")
    err = await refused(
        ws.stop_batch_operation(StopBatchOperationRequest(namespace=NAMESPACE, job_id=missing, reason="r"))
    )
    assert (err.status, err.message) == (RPCStatusCode.NOT_FOUND, f"workflow not found for ID: {missing}")


async def test_a_query_naming_an_unknown_attribute_starts_a_job_that_fails(bclient: Client):
    job = await start_batch(
        bclient,
        visibility_query="NoSuchAttribute = 'x'",
        termination_operation=BatchOperationTermination(),
    )
    d = await wait_closed(bclient, job)
    assert d.state == BatchOperationState.BATCH_OPERATION_STATE_FAILED
    assert d.close_time.ToNanoseconds() > 0


#: Targets of the jobs the stop test stops: several seconds of work at BATCHER_RPS.
TARGETS = 40


async def assert_holds(check, seconds: float, what: str) -> None:
    """Asks `check` again and again for `seconds`; it must hold every time."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert await check(), what
        await asyncio.sleep(0.1)


async def test_stop_ends_a_running_job_and_the_namespace_runs_a_limited_number(
    bclient: Client, batch_server
):
    tq, tq2 = unique("batch-stop"), unique("batch-stop2")
    await start_targets(bclient, tq, TARGETS)
    await start_targets(bclient, tq2, TARGETS)
    query = f"TaskQueue = '{tq}'"
    job = await start_batch(bclient, visibility_query=query, termination_operation=BatchOperationTermination())
    running_query = f"{query} AND ExecutionStatus = 'Running'"
    await wait_until(
        lambda: _count_below(bclient, running_query, TARGETS), JOB_DEADLINE_S, "a first target terminated"
    )
    # While it runs, Describe shows its total (Temporal: from the activity's heartbeat, whose
    # counts move when a whole page of 1000 is done; Perdure's at each checkpoint).
    async def progressing():
        d = await describe(bclient, job)
        assert d.state == BatchOperationState.BATCH_OPERATION_STATE_RUNNING
        assert d.close_time.ToNanoseconds() == 0
        return d.total_operation_count == TARGETS and d.complete_operation_count < TARGETS

    await wait_until(progressing, JOB_DEADLINE_S, "progress while running")
    # The id of a running job: its batch workflow is running.
    err = await refused(
        start_batch(bclient, job_id=job, visibility_query=query, termination_operation=BatchOperationTermination())
    )
    assert err.status == RPCStatusCode.ALREADY_EXISTS
    assert err.message.startswith(f"Workflow execution is already running. WorkflowId: {job}, RunId: ")
    second = await start_batch(
        bclient, visibility_query=f"TaskQueue = '{tq2}'", termination_operation=BatchOperationTermination()
    )
    # The namespace's limit (frontend.MaxConcurrentBatchOperationPerNamespace).
    err = await refused(
        start_batch(bclient, visibility_query=query, termination_operation=BatchOperationTermination())
    )
    assert (err.status, err.message) == (
        RPCStatusCode.RESOURCE_EXHAUSTED,
        "Max concurrent batch operations is reached",
    )
    listed = await bclient.workflow_service.list_batch_operations(ListBatchOperationsRequest(namespace=NAMESPACE))
    states = {o.job_id: o.state for o in listed.operation_info}
    running = BatchOperationState.BATCH_OPERATION_STATE_RUNNING
    assert (states[job], states[second]) == (running, running)
    # Running jobs come first, newest first.
    assert [o.job_id for o in listed.operation_info[:2]] == [second, job]

    await cli_ok(batch_server, "batch", "terminate", "--job-id", second, "--reason", "not this one")
    await cli_ok(batch_server, "batch", "terminate", "--job-id", job, "--reason", "enough")
    d = await describe(bclient, job)
    assert d.state == BatchOperationState.BATCH_OPERATION_STATE_FAILED
    assert d.close_time.ToNanoseconds() >= d.start_time.ToNanoseconds()
    # Describe keeps the progress as it was (Temporal: the activity's last heartbeat).
    assert d.total_operation_count == TARGETS
    assert d.complete_operation_count < TARGETS
    still_running = await count(bclient, running_query)
    assert still_running > 0, "the job ended before it could be stopped"
    if server_kind() == "perdure":
        # Perdure carries out nothing once the stop is answered (one call may have been in
        # flight). Temporal's batch activity goes on until it notices its workflow is gone.
        async def none_terminated_since():
            return await count(bclient, running_query) >= still_running - 1

        await assert_holds(none_terminated_since, 3.0, "targets terminated after the stop")
    err = await refused(
        bclient.workflow_service.stop_batch_operation(
            StopBatchOperationRequest(namespace=NAMESPACE, job_id=job, reason="again")
        )
    )
    assert (err.status, err.message) == (RPCStatusCode.NOT_FOUND, "workflow execution already completed")


async def _count_below(client: Client, query: str, n: int) -> bool:
    return await count(client, query) < n


async def cli_ok(server, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        temporal_bin(), *args, "--address", server.target, "--namespace", NAMESPACE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, f"temporal {' '.join(args)} failed: {err.decode()}"
    return out.decode()


JOB_ID_LINE = re.compile(r"Started batch for job ID: (\S+)")


async def cli_job_done(server, job: str) -> dict:
    async def done():
        d = json.loads(await cli_ok(server, "batch", "describe", "--job-id", job, "-o", "json"))
        return d if d.get("state") != "BATCH_OPERATION_STATE_RUNNING" else None

    return await wait_until(done, JOB_DEADLINE_S, f"batch {job} to close (cli)")


async def test_cli_batches_by_query(bclient: Client, batch_server):
    tq = unique("batch-cli")
    targets = await start_targets(bclient, tq, 3)
    query = f"TaskQueue = '{tq}'"

    out = await cli_ok(
        batch_server, "workflow", "signal", "--query", query, "--name", "cli-signal",
        "--input", '"from cli"', "--reason", "cli signal", "--yes",
    )
    job = JOB_ID_LINE.search(out).group(1)
    d = await cli_job_done(batch_server, job)
    assert d["state"] == "BATCH_OPERATION_STATE_COMPLETED"
    assert (d["totalOperationCount"], d["completeOperationCount"]) == ("3", "3")
    assert d["operationType"] == "BATCH_OPERATION_TYPE_SIGNAL_WORKFLOW"
    assert d["reason"] == "cli signal"

    out = await cli_ok(batch_server, "workflow", "cancel", "--query", query, "--reason", "cli cancel", "--yes")
    job = JOB_ID_LINE.search(out).group(1)
    d = await cli_job_done(batch_server, job)
    assert (d["state"], d["operationType"]) == (
        "BATCH_OPERATION_STATE_COMPLETED",
        "BATCH_OPERATION_TYPE_CANCEL_WORKFLOW",
    )

    out = await cli_ok(
        batch_server, "workflow", "terminate", "--query", query, "--reason", "cli terminate", "--yes"
    )
    job = JOB_ID_LINE.search(out).group(1)
    d = await cli_job_done(batch_server, job)
    assert d["state"] == "BATCH_OPERATION_STATE_COMPLETED"
    assert (d["totalOperationCount"], d["completeOperationCount"]) == ("3", "3")
    assert d["query"] == query
    for wf_id in targets:
        evs = await events(bclient, wf_id)
        kinds = [e.event_type for e in evs]
        assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) == 1
        assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED) == 1
        assert evs[-1].workflow_execution_terminated_event_attributes.reason == "cli terminate"

    listed = json.loads(await cli_ok(batch_server, "batch", "list", "-o", "json"))
    by_id = {o["jobId"]: o for o in listed}
    assert by_id[job]["state"] == "BATCH_OPERATION_STATE_COMPLETED"
    assert by_id[job]["operationType"] == "BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW"
    # Newest first, as Temporal lists closed batch workflows.
    closes = [o["closeTime"] for o in listed if "closeTime" in o]
    assert closes == sorted(closes, reverse=True)

    out = await cli_ok(batch_server, "workflow", "delete", "--query", query, "--reason", "cli delete", "--yes")
    job = JOB_ID_LINE.search(out).group(1)
    d = await cli_job_done(batch_server, job)
    assert (d["state"], d["operationType"]) == (
        "BATCH_OPERATION_STATE_COMPLETED",
        "BATCH_OPERATION_TYPE_DELETE_WORKFLOW",
    )
    assert (d["totalOperationCount"], d["completeOperationCount"]) == ("3", "3")
    await wait_until(lambda: _count_is(bclient, query, 0), JOB_DEADLINE_S, "deleted runs out of List")


async def test_list_pages_with_the_page_size(bclient: Client):
    ws = bclient.workflow_service
    for _ in range(3):
        job = await start_batch(
            bclient,
            executions=[WorkflowExecution(workflow_id=unique("never-started"))],
            termination_operation=BatchOperationTermination(),
        )
        await wait_closed(bclient, job)
    everything = await ws.list_batch_operations(ListBatchOperationsRequest(namespace=NAMESPACE))
    all_ids = [o.job_id for o in everything.operation_info]
    assert len(all_ids) >= 3
    paged, token = [], b""
    while True:
        page = await ws.list_batch_operations(
            ListBatchOperationsRequest(namespace=NAMESPACE, page_size=2, next_page_token=token)
        )
        assert len(page.operation_info) <= 2
        paged += [o.job_id for o in page.operation_info]
        token = page.next_page_token
        if not token:
            break
    assert paged == all_ids


def http_json(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


async def test_batch_terminate_over_the_http_api_as_the_web_ui_sends_it(bclient: Client, batch_server):
    tq = unique("batch-http")
    targets = await start_targets(bclient, tq, 3)
    job = unique("http-job")
    base = f"{batch_server.http_base}/api/v1/namespaces/{NAMESPACE}/batch-operations"
    status, body = await asyncio.to_thread(
        http_json,
        "POST",
        f"{base}/{job}",
        {"visibilityQuery": f"TaskQueue = '{tq}'", "reason": "from the ui", "terminationOperation": {"identity": "webui"}},
    )
    assert (status, body) == (200, {})

    async def closed():
        status, d = await asyncio.to_thread(http_json, "GET", f"{base}/{job}")
        assert status == 200, d
        return d if d["state"] != "BATCH_OPERATION_STATE_RUNNING" else None

    d = await wait_until(closed, JOB_DEADLINE_S, f"batch {job} to close (http)")
    assert d["state"] == "BATCH_OPERATION_STATE_COMPLETED"
    assert (d["totalOperationCount"], d["completeOperationCount"]) == ("3", "3")
    assert (d["identity"], d["reason"]) == ("webui", "from the ui")
    for wf_id in targets:
        assert await status_of(bclient, wf_id) == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED
    status, listed = await asyncio.to_thread(http_json, "GET", base)
    assert status == 200
    assert job in {o["jobId"] for o in listed["operationInfo"]}
    status, body = await asyncio.to_thread(http_json, "POST", f"{base}/{job}/stop", {"reason": "late"})
    assert (status, body["message"]) == (404, "workflow execution already completed")


# -- Perdure only: durability and a cluster ----------------------------------------------------


@perdure_only
@pytest.mark.crash
async def test_a_job_resumes_after_a_crash_and_signals_nobody_twice():
    srv = ServerUnderTest(dynamic_config={"worker.batcherRPS": "2"})
    try:
        client = await srv.start()
        tq = unique("batch-crash")
        targets = await start_targets(client, tq, 12)
        job = await start_batch(
            client,
            visibility_query=f"TaskQueue = '{tq}'",
            signal_operation=BatchOperationSignal(signal="once", identity="crash-test"),
        )

        async def midway():
            d = await describe(client, job)
            return 0 < d.complete_operation_count < 12 and d.state == BatchOperationState.BATCH_OPERATION_STATE_RUNNING

        await wait_until(midway, JOB_DEADLINE_S, "the job checkpointed part of its targets")
        client = await srv.restart()
        d = await wait_closed(client, job)
        assert_completed(d, 12)
        for wf_id in targets:
            signals = [
                e for e in await events(client, wf_id)
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            ]
            assert len(signals) == 1, f"{wf_id} got {len(signals)} signals"
    except BaseException:
        print(srv.log_tail(80))
        raise
    finally:
        srv.stop()


@perdure_only
@pytest.mark.cluster
async def test_a_job_through_any_node_of_a_cluster_reaches_every_shard():
    async with Cluster(size=3) as cluster:
        c1, c2, c3 = [await cluster.client(i) for i in (1, 2, 3)]
        tq = unique("batch-cluster")
        targets = await start_targets(c1, tq, 12)
        query = f"TaskQueue = '{tq}'"
        # Started through two different nodes: at least one is not the job shard's leader.
        sig = await start_batch(
            c2,
            visibility_query=query,
            signal_operation=BatchOperationSignal(signal="cluster-signal", identity="cluster"),
        )
        assert_completed(await wait_closed(c1, sig), 12)
        term = await start_batch(
            c3, visibility_query=query, reason="cluster terminate", termination_operation=BatchOperationTermination()
        )
        assert_completed(await wait_closed(c2, term), 12)
        for wf_id in targets:
            evs = await events(c1, wf_id)
            kinds = [e.event_type for e in evs]
            assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) == 1, wf_id
            assert evs[-1].workflow_execution_terminated_event_attributes.reason == "cluster terminate"
        listed = await c3.workflow_service.list_batch_operations(ListBatchOperationsRequest(namespace=NAMESPACE))
        assert {sig, term} <= {o.job_id for o in listed.operation_info}


def shard_of(namespace_id: str, workflow_id: str, shards: int) -> int:
    """perdure-history's routing (crates/perdure-history/src/routing.rs)."""
    key = len(namespace_id).to_bytes(4, "big") + namespace_id.encode() + workflow_id.encode()
    return 1 + zlib.crc32(key) % shards


@perdure_only
@pytest.mark.cluster
async def test_a_job_goes_on_when_its_shard_leader_dies():
    rps = ("--dynamic-config-value", "worker.batcherRPS=2")
    async with Cluster(size=3, extra_args=rps) as cluster:
        leaders = await cluster.wait_all_groups_led(deadline=60)
        c1 = await cluster.client(1)
        ns = await c1.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=NAMESPACE))
        ns_id = ns.namespace_info.id
        # A job whose shard another node than node 1 (where the client stays) leads.
        for i in range(1000):
            job = f"failover-{i}-{uuid.uuid4().hex[:6]}"
            victim = leaders.get(shard_of(ns_id, f"temporal-sys-batcher:{job}", cluster.shards))
            if victim not in (None, 1):
                break
        else:
            raise AssertionError(f"no job id routes to a shard led elsewhere than node 1: {leaders}")
        tq = unique("batch-failover")
        targets = await start_targets(c1, tq, 12)
        await start_batch(
            c1,
            job_id=job,
            visibility_query=f"TaskQueue = '{tq}'",
            signal_operation=BatchOperationSignal(signal="failover", identity="failover"),
        )

        async def midway():
            d = await describe(c1, job)
            return 0 < d.complete_operation_count < 12

        await wait_until(midway, JOB_DEADLINE_S, "the job checkpointed part of its targets")
        assert (await cluster.status(victim)).led(), f"node {victim} leads nothing; the test proves nothing"
        cluster.kill(victim)

        async def closed():
            try:
                d = await describe(c1, job)
            except RPCError as e:
                # Until the shard has a new leader, node 1 cannot reach the job's.
                assert e.status == RPCStatusCode.UNAVAILABLE, e
                return None
            return d if d.state != BatchOperationState.BATCH_OPERATION_STATE_RUNNING else None

        d = await wait_until(closed, 120, f"batch job {job} to close after its leader died")
        assert_completed(d, 12)
        for wf_id in targets:
            signals = [
                e for e in await events(c1, wf_id)
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            ]
            assert len(signals) == 1, f"{wf_id} got {len(signals)} signals"
