"""Batch reset (StartBatchOperation with a ResetOperation, and `temporal workflow reset --query`)
against the server under test: runs a real worker took to a signal wait after an activity are
reset by query to their first or last workflow task; each base run is terminated by the
resetter, the new run is current with the base's history up to the reset point and a
WorkflowTaskFailed(RESET_WORKFLOW) naming the job's reason and the base run, and it completes
once signalled; named executions without run ids reset their current runs. A target with no
workflow task to reset to counts as a failure of a job that still completes. Perdure only: a job killed -9 midway resets no target twice.

Written against Temporal's dev server (PERDURE_TEST_SERVER=temporal); every wait has a deadline.
Reuses test_batch.py's server (batcher rate and job limit) and helpers.
"""

from __future__ import annotations

import re

import pytest
from temporalio.api.batch.v1 import BatchOperationReset
from temporalio.api.common.v1 import Execution, ResetOptions, WorkflowExecution
from temporalio.api.enums.v1 import (
    BatchOperationState,
    BatchOperationType,
    EventType,
    ExecutionType,
    ResetType,
    WorkflowExecutionStatus,
    WorkflowTaskFailedCause,
)
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    ListWorkflowExecutionsRequest,
)
from temporalio.client import Client

import workflows
from harness import NAMESPACE, ServerUnderTest
from history import type_names
from test_batch import (  # noqa: F401  (batch_server and bclient are fixtures)
    JOB_DEADLINE_S,
    batch_server,
    bclient,
    count,
    describe,
    perdure_only,
    start_batch,
    unique,
    wait_closed,
)
from test_cli import cli
from waiting import wait_until
from workers import running_worker

REASON = "batch reset test"

#: The history of a GreetThenCollect run waiting for its signal: the activity's outcome, then
#: the workflow task that completed after it.
WAITING = [
    "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
    "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    "EVENT_TYPE_WORKFLOW_TASK_STARTED",
    "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
    "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED",
    "EVENT_TYPE_ACTIVITY_TASK_STARTED",
    "EVENT_TYPE_ACTIVITY_TASK_COMPLETED",
    "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    "EVENT_TYPE_WORKFLOW_TASK_STARTED",
    "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
]
#: The reset point's event id: the first and the last WorkflowTaskCompleted of WAITING.
FIRST, LAST = 4, 10


async def history(client: Client, wf_id: str, run_id: str = "") -> list:
    h = client.get_workflow_handle(wf_id, run_id=run_id or None)
    return [e async for e in h.fetch_history_events()]


async def waiting_runs(client: Client, task_queue: str, prefix: str, n: int) -> dict[str, str]:
    """`n` GreetThenCollect runs the worker on `task_queue` took to their signal wait:
    workflow id -> run id."""
    runs = {}
    for i in range(n):
        h = await client.start_workflow(
            workflows.GreetThenCollect.run, args=["bob", 1], id=f"{prefix}-{i}", task_queue=task_queue
        )
        runs[h.id] = h.result_run_id

    async def all_waiting():
        for wf_id in runs:
            if type_names(await history(client, wf_id)) != WAITING:
                return False
        return True

    await wait_until(all_waiting, JOB_DEADLINE_S, "every run to wait for its signal")
    query = f"WorkflowId STARTS_WITH '{prefix}'"

    async def visible():
        r = await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace=NAMESPACE, query=query)
        )
        return len(r.executions) == n

    await wait_until(visible, JOB_DEADLINE_S, f"{n} runs listed by {query}")
    return runs


async def current_run(client: Client, wf_id: str) -> str:
    d = await client.get_workflow_handle(wf_id).describe()
    return d.run_id


async def runs_of(client: Client, wf_id: str) -> list:
    r = await client.workflow_service.list_workflow_executions(
        ListWorkflowExecutionsRequest(namespace=NAMESPACE, query=f"WorkflowId = '{wf_id}'")
    )
    return list(r.executions)


async def assert_reset(client: Client, wf_id: str, base_run: str, point: int, reason: str = REASON):
    """The base is terminated by the resetter; the current run is a reset of it to `point`."""
    base = await history(client, wf_id, base_run)
    assert type_names(base) == WAITING + ["EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"], wf_id
    term = base[-1].workflow_execution_terminated_event_attributes
    assert (term.reason, term.identity) == (reason, "history-resetter")
    d = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=wf_id, run_id=base_run)
        )
    )
    assert d.workflow_execution_info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED
    new_run = await current_run(client, wf_id)
    assert new_run != base_run
    assert d.workflow_extended_info.reset_run_id == new_run
    new = await history(client, wf_id, new_run)
    # The base's history up to the reset point's started event, then the task failed.
    assert type_names(new)[: point - 1] == WAITING[: point - 1]
    for mine, theirs in zip(new[: point - 1], base[: point - 1]):
        assert (mine.event_id, mine.event_time) == (theirs.event_id, theirs.event_time)
    failed = new[point - 1]
    assert failed.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    a = failed.workflow_task_failed_event_attributes
    assert a.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
    assert a.failure.message == reason
    assert a.failure.HasField("reset_workflow_failure_info")
    assert (a.base_run_id, a.new_run_id) == (base_run, new_run)
    assert new[point].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
    return new_run


async def finish(client: Client, wf_ids) -> None:
    """The new runs carry on: signalled, each completes with its greeting and the signal."""
    for wf_id in wf_ids:
        h = client.get_workflow_handle(wf_id)
        await h.signal(workflows.GreetThenCollect.add, "after-reset")
    for wf_id in wf_ids:
        assert await client.get_workflow_handle(wf_id).result() == "Hello, bob!|after-reset"


@pytest.mark.parametrize(
    "target, point",
    [
        (ResetOptions(first_workflow_task={}), FIRST),
        (ResetOptions(last_workflow_task={}), LAST),
    ],
    ids=["first", "last"],
)
async def test_batch_reset_by_query_resets_each_run_to_its_point(bclient: Client, target, point):
    async with running_worker(bclient, prefix="breset") as w:
        prefix = unique("breset")
        runs = await waiting_runs(bclient, w.task_queue, prefix, 3)
        job = await start_batch(
            bclient,
            reason=REASON,
            visibility_query=f"WorkflowId STARTS_WITH '{prefix}'",
            reset_operation=BatchOperationReset(identity="reset-tester", options=target),
        )
        d = await wait_closed(bclient, job)
        assert d.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_RESET_WORKFLOW
        assert (d.total_operation_count, d.complete_operation_count, d.failure_operation_count) == (3, 3, 0)
        assert d.state == BatchOperationState.BATCH_OPERATION_STATE_COMPLETED
        for wf_id, base_run in runs.items():
            await assert_reset(bclient, wf_id, base_run, point)
        await finish(bclient, runs)


async def test_deprecated_reset_type_and_a_run_with_no_task_to_reset_to(bclient: Client):
    """The deprecated reset_type picks the point when there are no options; a run whose only
    workflow task never started has nothing to reset to: a failure, and the job completes."""
    async with running_worker(bclient, prefix="breset") as w:
        prefix = unique("breset-old")
        runs = await waiting_runs(bclient, w.task_queue, prefix, 2)
        stuck = f"{prefix}-stuck"
        await bclient.start_workflow("Nobody", id=stuck, task_queue=unique("nobody-polls"))
        query = f"WorkflowId STARTS_WITH '{prefix}'"

        async def listed():
            r = await bclient.workflow_service.list_workflow_executions(
                ListWorkflowExecutionsRequest(namespace=NAMESPACE, query=query)
            )
            return len(r.executions) == 3

        await wait_until(listed, JOB_DEADLINE_S, "the stuck run listed too")
        job = await start_batch(
            bclient,
            reason=REASON,
            visibility_query=query,
            reset_operation=BatchOperationReset(reset_type=ResetType.RESET_TYPE_LAST_WORKFLOW_TASK),
        )
        d = await wait_closed(bclient, job, 120)
        assert d.state == BatchOperationState.BATCH_OPERATION_STATE_COMPLETED
        assert (d.total_operation_count, d.complete_operation_count, d.failure_operation_count) == (3, 2, 1)
        for wf_id, base_run in runs.items():
            await assert_reset(bclient, wf_id, base_run, LAST)
        # The stuck run is untouched.
        assert len(await runs_of(bclient, stuck)) == 1
        assert type_names(await history(bclient, stuck)) == [
            "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
            "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        ]
        await finish(bclient, runs)


async def test_named_executions_without_run_ids_reset_their_current_runs(bclient: Client):
    async with running_worker(bclient, prefix="breset") as w:
        prefix = unique("breset-named")
        runs = await waiting_runs(bclient, w.task_queue, prefix, 2)
        job = await start_batch(
            bclient,
            reason=REASON,
            target_executions=[
                Execution(type=ExecutionType.EXECUTION_TYPE_WORKFLOW, business_id=wf_id)
                for wf_id in runs
            ],
            reset_operation=BatchOperationReset(options=ResetOptions(first_workflow_task={})),
        )
        d = await wait_closed(bclient, job)
        assert (d.total_operation_count, d.complete_operation_count, d.failure_operation_count) == (2, 2, 0)
        for wf_id, base_run in runs.items():
            await assert_reset(bclient, wf_id, base_run, FIRST)
            assert len(await runs_of(bclient, wf_id)) == 2
        await finish(bclient, runs)


async def test_cli_workflow_reset_by_query(bclient: Client, batch_server):
    async with running_worker(bclient, prefix="breset") as w:
        prefix = unique("breset-cli")
        runs = await waiting_runs(bclient, w.task_queue, prefix, 2)
        out = await cli(
            batch_server, "workflow", "reset", "--query", f"WorkflowId STARTS_WITH '{prefix}'",
            "--type", "FirstWorkflowTask", "--reason", "cli batch reset", "--yes",
        )
        job = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out)
        assert job, out
        d = await wait_closed(bclient, job.group(0))
        assert (d.total_operation_count, d.complete_operation_count, d.failure_operation_count) == (2, 2, 0)
        assert d.reason == "cli batch reset"
        for wf_id, base_run in runs.items():
            await assert_reset(bclient, wf_id, base_run, FIRST, reason="cli batch reset")
        await finish(bclient, runs)


@perdure_only
@pytest.mark.crash
async def test_a_reset_job_killed_midway_resets_no_run_twice():
    srv = ServerUnderTest(dynamic_config={"worker.batcherRPS": "2"})
    try:
        client = await srv.start()
        prefix = unique("breset-crash")
        n = 10
        async with running_worker(client, prefix="breset") as w:
            runs = await waiting_runs(client, w.task_queue, prefix, n)
        job = await start_batch(
            client,
            reason=REASON,
            visibility_query=f"WorkflowId STARTS_WITH '{prefix}'",
            reset_operation=BatchOperationReset(options=ResetOptions(last_workflow_task={})),
        )

        async def reset_but_not_checkpointed():
            # More runs reset than the job's checkpoint counts: a kill now makes the job
            # carry those targets out again after the restart.
            made = await count(client, f"WorkflowId STARTS_WITH '{prefix}'") - n
            d = await describe(client, job)
            return 0 < d.complete_operation_count < made < n

        await wait_until(
            reset_but_not_checkpointed, JOB_DEADLINE_S, "a reset done past the job's checkpoint"
        )
        client = await srv.restart()
        d = await wait_closed(client, job)
        assert (d.state, d.total_operation_count, d.complete_operation_count) == (
            BatchOperationState.BATCH_OPERATION_STATE_COMPLETED, n, n
        )
        for wf_id, base_run in runs.items():
            # One reset run per base: the base and the run its reset made, no third.
            async def both_listed():
                return len(await runs_of(client, wf_id)) == 2

            await wait_until(both_listed, JOB_DEADLINE_S, f"{wf_id}'s two runs listed")
            await assert_reset(client, wf_id, base_run, LAST)
        # The restarted job did meet a target it had reset, and left it alone.
        assert "not reset again" in srv.log_path.read_text(errors="replace")
    except BaseException:
        print(srv.log_tail(80))
        raise
    finally:
        srv.stop()
