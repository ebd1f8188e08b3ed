"""The workflows whose histories are compared against goldens recorded from Temporal's dev server.

Owns: how each golden scenario is started and driven (workflow, argument, options, signals,
cancellations), shared by test_history_golden.py and record_goldens.py so both run exactly the
same thing; the worker of the scenarios that bring their own (``golden_worker``) and the
activities only they use (``GoldenActivities``).
Must never: wait without a timeout, or depend on timing for the shape of a history (a scenario
waits for the event it needs before its next step).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import AsyncIterator, Awaitable, Callable

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import (
    RetryPolicy,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import ServiceClient
from temporalio.worker import Worker

import scenario_workflows
import workflows
from activities import Activities
from history import chain_of

RESULT_TIMEOUT_S = 60
#: How long the workflow of ``sticky_worker_shutdown`` sleeps while its first worker stops.
SHUTDOWN_TIMER_S = 3.0
#: Long enough that a run is still waiting when the scenario cancels or terminates it.
FOREVER_S = 3600.0

#: A scenario: (client, the task queue of the test's worker, workflow id) -> the handle of the run
#: it started (its first run, when it continues into others).
Scenario = Callable[[Client, str, str], Awaitable[WorkflowHandle]]


async def _run(client: Client, workflow, arg, task_queue: str, wf_id: str) -> WorkflowHandle:
    handle = await client.start_workflow(workflow.run, arg, id=wf_id, task_queue=task_queue)
    await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    return handle


async def one_activity(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    return await _run(client, workflows.OneActivity, "golden", task_queue, wf_id)


async def timer(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    return await _run(client, workflows.DurableTimer, 1.0, task_queue, wf_id)


async def retry(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    return await _run(client, workflows.RetryingActivity, wf_id, task_queue, wf_id)


async def signal_with_start(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """SignalWithStart of a new run: Started, Signaled and the first task's scheduling together."""
    handle = await client.start_workflow(
        workflows.SignalCollector.run,
        1,
        id=wf_id,
        task_queue=task_queue,
        start_signal="add",
        start_signal_args=["golden"],
    )
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == ["golden"]
    return handle


async def _expect_failure(handle: WorkflowHandle) -> None:
    try:
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    except WorkflowFailureError:
        return
    raise AssertionError(f"{handle.id} did not fail")


async def cancel_workflow(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """A cancellation request the workflow does not catch: the SDK cancels its timer and sends
    CancelWorkflowExecution (WorkflowExecutionCanceled)."""
    handle = await client.start_workflow(
        workflows.DurableTimer.run, FOREVER_S, id=wf_id, task_queue=task_queue
    )
    await wait_for_event(handle, EventType.EVENT_TYPE_TIMER_STARTED)
    await handle.cancel()
    await _expect_failure(handle)
    return handle


async def cancel_handled(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """A cancellation request the workflow catches, cleans up after and completes normally."""
    handle = await client.start_workflow(
        workflows.CancelCleanup.run, id=wf_id, task_queue=task_queue
    )
    await wait_for_event(handle, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    await handle.cancel()
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == "cleaned up"
    return handle


async def activity_cancel(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """RequestCancelActivityTask for a started, heartbeating activity that reports its
    cancellation (ActivityTaskCancelRequested, then ActivityTaskCanceled)."""
    handle = await client.start_workflow(
        workflows.CancelsItsActivity.run, "", id=wf_id, task_queue=task_queue
    )
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == "activity cancelled"
    return handle


async def _terminate_waiting_run(
    client: Client, task_queue: str, wf_id: str, *details, reason: str | None
) -> WorkflowHandle:
    handle = await client.start_workflow(
        workflows.DurableTimer.run, FOREVER_S, id=wf_id, task_queue=task_queue
    )
    await wait_for_event(handle, EventType.EVENT_TYPE_TIMER_STARTED)
    await handle.terminate(*details, reason=reason)
    await _expect_failure(handle)
    return handle


async def terminate(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """Terminate with a reason and details (WorkflowExecutionTerminated)."""
    return await _terminate_waiting_run(
        client, task_queue, wf_id, "with", "details", reason="golden terminate"
    )


async def terminate_without_reason(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """Terminate with neither reason nor details: the reason the server writes by itself."""
    return await _terminate_waiting_run(client, task_queue, wf_id, reason=None)


async def workflow_fails(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """FailWorkflowExecution with a non-retryable application error."""
    handle = await client.start_workflow(
        workflows.FailingWorkflow.run, "golden failure", id=wf_id, task_queue=task_queue
    )
    await _expect_failure(handle)
    return handle


async def workflow_run_timeout(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """A run that outlives its 1 s run timeout (WorkflowExecutionTimedOut)."""
    handle = await client.start_workflow(
        workflows.DurableTimer.run,
        FOREVER_S,
        id=wf_id,
        task_queue=task_queue,
        run_timeout=timedelta(seconds=1),
    )
    await _expect_failure(handle)
    return handle


async def continue_as_new(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """A run that continues as new once; the second run returns. Both runs are compared."""
    handle = await client.start_workflow(
        workflows.ContinueAsNewCounter.run, args=[0, 1], id=wf_id, task_queue=task_queue
    )
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == 1
    return handle


async def query(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """Queries between workflow tasks write nothing: the history is that of the signals alone."""
    handle = await client.start_workflow(
        workflows.QueryableCollector.run, False, id=wf_id, task_queue=task_queue
    )
    completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    await wait_for_event(handle, completed)
    assert await handle.query(workflows.QueryableCollector.values_so_far) == []
    await handle.signal(workflows.QueryableCollector.add, "a")
    await wait_for_event(handle, completed, count=2)
    assert await handle.query(workflows.QueryableCollector.values_so_far) == ["a"]
    assert await handle.query(workflows.QueryableCollector.value_at, 0) == "a"
    await handle.signal(workflows.QueryableCollector.finish)
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == ["a"]
    return handle


async def activity_start_to_close_retry(
    client: Client, task_queue: str, wf_id: str
) -> WorkflowHandle:
    """The first attempt outlives its 1 s start-to-close timeout; the retry completes (the
    timeout shows as lastFailure of ActivityTaskStarted)."""
    return await _run(client, workflows.TimingOutActivity, wf_id, task_queue, wf_id)


async def cron(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """The first run of an ``@every 2s`` cron chain (only that run is compared); the chain is
    terminated once the first run completed."""
    handle = await client.start_workflow(
        workflows.CronCounter.run,
        0,
        id=wf_id,
        task_queue=task_queue,
        cron_schedule="@every 2s",
    )
    first_run = client.get_workflow_handle(wf_id, run_id=handle.result_run_id)
    try:
        # (result(follow_runs=False) raises for a run that a cron run follows.)
        await wait_for_event(
            first_run, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, RESULT_TIMEOUT_S
        )
    finally:
        await client.get_workflow_handle(wf_id).terminate("golden cron done")
    return handle


# ---- workflow updates (workflows.Updatable) -----------------------------------------------
# Each update waits for its outcome (or, for ACCEPTED, its acceptance) before the next step, and
# each update starts on an idle workflow (its previous workflow task completed), so every update
# rides on a workflow task of its own and the history has one shape. Update ids are fixed: they
# are in the history (protocolInstanceId, acceptedRequestMessageId, meta.updateId). The updates
# are sent by a client of their own identity (UPDATE_CALLER), not the one the worker shares with
# the test's client, so the golden shows whose identity each update event carries.

U = workflows.Updatable
UPDATE_CALLER = "golden update caller"


async def _update_caller(client: Client) -> Client:
    """A client like ``client`` (same server, namespace, converter) of identity UPDATE_CALLER."""
    config = dataclasses.replace(client.service_client.config, identity=UPDATE_CALLER)
    service = await asyncio.wait_for(ServiceClient.connect(config), RESULT_TIMEOUT_S)
    return Client(service, namespace=client.namespace, data_converter=client.data_converter)


async def _idle_updatable(
    client: Client, task_queue: str, wf_id: str
) -> tuple[WorkflowHandle, WorkflowHandle]:
    """An Updatable (initial values ["init"]) whose first workflow task completed, so that the
    next update lands on an idle workflow (a speculative workflow task of its own): its handle,
    and the UPDATE_CALLER's handle of it."""
    handle = await client.start_workflow(U.run, ["init"], id=wf_id, task_queue=task_queue)
    await wait_for_event(handle, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    values = await asyncio.wait_for(handle.query(U.values_so_far), RESULT_TIMEOUT_S)
    assert values == ["init"], values
    caller = await _update_caller(client)
    return handle, caller.get_workflow_handle(wf_id, run_id=handle.result_run_id)


async def _update(handle: WorkflowHandle, update, arg: str, update_id: str):
    return await asyncio.wait_for(
        handle.execute_update(update, arg, id=update_id), RESULT_TIMEOUT_S
    )


async def _update_fails(handle: WorkflowHandle, update, arg: str, update_id: str) -> str:
    """Runs an update that must fail (rejected by the validator, or its handler raised); the
    message of the failure's cause."""
    try:
        await _update(handle, update, arg, update_id)
    except WorkflowUpdateFailedError as err:
        return err.cause.message
    raise AssertionError(f"update {update_id} of {handle.id} did not fail")


async def _finish(handle: WorkflowHandle, expected: list[str]) -> None:
    await handle.signal(U.finish)
    result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    assert result == expected, result


async def update_accepted(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """Two updates on an idle workflow, whose handler returns at once: each is carried by a
    (speculative) workflow task that the acceptance writes, followed by
    WorkflowExecutionUpdateAccepted and WorkflowExecutionUpdateCompleted."""
    handle, caller = await _idle_updatable(client, task_queue, wf_id)
    assert await _update(caller, U.add, "x", "add-1") == ["init", "x"]
    assert await _update(caller, U.add, "y", "add-2") == ["init", "x", "y"]
    await _finish(handle, ["init", "x", "y"])
    return handle


async def update_rejected_then_accepted(
    client: Client, task_queue: str, wf_id: str
) -> WorkflowHandle:
    """An update the validator rejects writes nothing (its speculative workflow task is
    discarded); the accepted update after it is written as usual."""
    handle, caller = await _idle_updatable(client, task_queue, wf_id)
    message = await _update_fails(caller, U.add, "bad-x", "bad-1")
    assert message == "rejected 'bad-x'", message
    assert await _update(caller, U.add, "x", "add-1") == ["init", "x"]
    await _finish(handle, ["init", "x"])
    return handle


async def update_handler_fails(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """An accepted update whose handler raises: WorkflowExecutionUpdateCompleted with
    outcome.failure; the workflow goes on and completes."""
    handle, caller = await _idle_updatable(client, task_queue, wf_id)
    message = await _update_fails(caller, U.fail, "boom", "fail-1")
    assert message == "update failed on 'boom'", message
    await _finish(handle, ["init"])
    return handle


async def update_waits_for_signal(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """An update accepted in one workflow task whose handler waits for the ``release`` signal:
    WorkflowExecutionUpdateCompleted comes in the task that delivers the signal."""
    handle, caller = await _idle_updatable(client, task_queue, wf_id)
    held = await asyncio.wait_for(
        caller.start_update(
            U.add_when_released, "held", id="held", wait_for_stage=WorkflowUpdateStage.ACCEPTED
        ),
        RESULT_TIMEOUT_S,
    )
    await wait_for_event(handle, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    await handle.signal(U.release)
    assert await asyncio.wait_for(held.result(), RESULT_TIMEOUT_S) == ["init", "held"]
    await _finish(handle, ["init", "held"])
    return handle


async def update_with_start(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """Update-with-start (USE_EXISTING) of a new workflow: the update rides on the first
    workflow task (no WorkflowExecutionUpdateAdmitted); then update-with-start of the running
    workflow, an update like any other. The UPDATE_CALLER starts the workflow too."""
    caller = await _update_caller(client)

    def start_op() -> WithStartWorkflowOperation:
        return WithStartWorkflowOperation(
            U.run,
            ["init"],
            id=wf_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def execute(op: WithStartWorkflowOperation, arg: str, update_id: str):
        return await asyncio.wait_for(
            caller.execute_update_with_start_workflow(
                U.add, arg, start_workflow_operation=op, id=update_id
            ),
            RESULT_TIMEOUT_S,
        )

    first = start_op()
    assert await execute(first, "first", "uws-1") == ["init", "first"]
    handle = await asyncio.wait_for(first.workflow_handle(), RESULT_TIMEOUT_S)
    existing = start_op()
    assert await execute(existing, "second", "uws-2") == ["init", "first", "second"]
    again = await asyncio.wait_for(existing.workflow_handle(), RESULT_TIMEOUT_S)
    assert again.result_run_id == handle.result_run_id, (again.result_run_id, handle.result_run_id)
    # Finished through the test's client, as the other update scenarios are.
    handle = client.get_workflow_handle(wf_id, run_id=handle.result_run_id)
    await _finish(handle, ["init", "first", "second"])
    return handle


GOLDEN_SCENARIOS: dict[str, Scenario] = {
    "one_activity": one_activity,
    "timer": timer,
    "retry": retry,
    "signal_with_start": signal_with_start,
    "cancel_workflow": cancel_workflow,
    "cancel_handled": cancel_handled,
    "activity_cancel": activity_cancel,
    "terminate": terminate,
    "terminate_without_reason": terminate_without_reason,
    "workflow_fails": workflow_fails,
    "workflow_run_timeout": workflow_run_timeout,
    "continue_as_new": continue_as_new,
    "query": query,
    "activity_start_to_close_retry": activity_start_to_close_retry,
    "cron": cron,
    "update_accepted": update_accepted,
    "update_rejected_then_accepted": update_rejected_then_accepted,
    "update_handler_fails": update_handler_fails,
    "update_waits_for_signal": update_waits_for_signal,
    "update_with_start": update_with_start,
}

#: How many runs of a scenario's chain are compared (default: every run up to MAX_RUNS). A
#: cron chain never ends: only its first run is.
RUNS_COMPARED: dict[str, int] = {"cron": 1}
MAX_RUNS = 5


async def wait_for_event(
    handle: WorkflowHandle, event_type: int, deadline_s: float = 30, count: int = 1
) -> None:
    """Polls the history until it holds ``count`` events of ``event_type``, or fails at the
    deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        history = await handle.fetch_history()
        if sum(e.event_type == event_type for e in history.events) >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {count} x {EventType.Name(event_type)} within {deadline_s}s")
        await asyncio.sleep(0.05)


class GoldenActivities:
    """Activities only the own-worker golden scenarios use; one instance per worker."""

    def __init__(self) -> None:
        #: set when ``golden_gate`` runs; the gate opens when the scenario sets ``gate_open``
        self.gate_entered = asyncio.Event()
        self.gate_open = asyncio.Event()
        self.first_calls: set[str] = set()

    @activity.defn(name="golden_gate")
    async def golden_gate(self) -> str:
        self.gate_entered.set()
        await asyncio.wait_for(self.gate_open.wait(), RESULT_TIMEOUT_S)
        return "opened"

    @activity.defn(name="golden_first_call")
    async def golden_first_call(self, key: str) -> bool:
        first = key not in self.first_calls
        self.first_calls.add(key)
        return first

    def all(self) -> list:
        return [self.golden_gate, self.golden_first_call]


@asynccontextmanager
async def golden_worker(
    client: Client, task_queue: str, acts: GoldenActivities | None = None
) -> AsyncIterator[GoldenActivities]:
    """A worker with every workflow of workflows.ALL and scenario_workflows.GOLDEN and the
    activities of both activity sets, for the body of the ``async with``."""
    acts = acts or GoldenActivities()
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[*workflows.ALL, *scenario_workflows.GOLDEN],
        activities=[*Activities().all(), *acts.all()],
    ):
        yield acts


async def _run_own(
    client: Client, workflow, arg, task_queue: str, wf_id: str, **options
) -> WorkflowHandle:
    """Runs ``workflow`` with ``arg`` to its end on a golden worker of its own queue."""
    own_queue = f"{task_queue}-own"
    async with golden_worker(client, own_queue):
        handle = await client.start_workflow(
            workflow.run, arg, id=wf_id, task_queue=own_queue, **options
        )
        try:
            await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
        except WorkflowFailureError:
            pass  # every one of these should succeed; the history comparison shows how it did not
    return handle


async def sticky_worker_shutdown(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """Worker "A" starts a timer workflow and shuts down (the SDK then calls ShutdownWorker with
    its sticky queue); worker "B" on the same task queue finishes it. Brings its own workers, on
    a task queue of its own, so a worker already polling ``task_queue`` cannot interfere."""
    own_queue = f"{task_queue}-handover"
    acts = Activities()

    def worker(identity: str) -> Worker:
        return Worker(
            client,
            task_queue=own_queue,
            workflows=workflows.ALL,
            activities=acts.all(),
            identity=identity,
        )

    async with worker("A"):
        handle = await client.start_workflow(
            workflows.DurableTimer.run, SHUTDOWN_TIMER_S, id=wf_id, task_queue=own_queue
        )
        await wait_for_event(handle, EventType.EVENT_TYPE_TIMER_STARTED)
    async with worker("B"):
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    return handle


async def signal_before_worker(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """A signal that arrives before any worker polls: it lands between the first workflow
    task's scheduling and its start, and that one task delivers it."""
    own_queue = f"{task_queue}-signal"
    handle = await client.start_workflow(
        workflows.SignalCollector.run, 1, id=wf_id, task_queue=own_queue
    )
    await handle.signal(workflows.SignalCollector.add, "golden")
    async with Worker(
        client, task_queue=own_queue, workflows=workflows.ALL, activities=Activities().all()
    ):
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    return handle


async def signals_during_task(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """Two signals arrive while the first workflow task is started (held open by a local
    activity): the server buffers them and writes them after the task's completion."""
    own_queue = f"{task_queue}-own"
    async with golden_worker(client, own_queue) as acts:
        handle = await client.start_workflow(
            scenario_workflows.GoldenSignalsDuringTask.run, 2, id=wf_id, task_queue=own_queue
        )
        await asyncio.wait_for(acts.gate_entered.wait(), RESULT_TIMEOUT_S)
        await handle.signal(scenario_workflows.GoldenSignalsDuringTask.add, "one")
        await handle.signal(scenario_workflows.GoldenSignalsDuringTask.add, "two")
        acts.gate_open.set()
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == ["one", "two"]
    return handle


async def workflow_retry(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """A retry policy on the workflow: attempt 1 fails, attempt 2 (a new run) succeeds. Both
    runs are compared."""
    return await _run_own(
        client,
        scenario_workflows.GoldenFailFirstAttempt,
        "golden",
        task_queue,
        wf_id,
        retry_policy=RetryPolicy(
            initial_interval=timedelta(seconds=1), backoff_coefficient=1.0, maximum_attempts=3
        ),
    )


async def local_activity(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    return await _run_own(
        client, scenario_workflows.GoldenLocalActivity, "local", task_queue, wf_id
    )


async def patched(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    own_queue = f"{task_queue}-own"
    async with golden_worker(client, own_queue):
        handle = await client.start_workflow(
            scenario_workflows.GoldenPatched.run, id=wf_id, task_queue=own_queue
        )
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == "patched"
    return handle


async def upsert_memo(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """Started with a memo and a (predefined) search attribute, upserts the memo (one key added,
    one removed): WorkflowPropertiesModified."""
    own_queue = f"{task_queue}-own"
    async with golden_worker(client, own_queue):
        handle = await client.start_workflow(
            scenario_workflows.GoldenUpserts.run,
            id=wf_id,
            task_queue=own_queue,
            memo={"origin": "client", "removed": "soon"},
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(scenario_workflows.GOLDEN_CHANGE_VERSION, ["golden-v1"])]
            ),
        )
        result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    assert result == {
        "memo": {"origin": "client", "stage": "upserted"},
        "change_version": ["golden-v1"],
    }, result
    return handle


async def activity_fails(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """An activity fails on its last allowed attempt: ActivityTaskFailed."""
    return await _run_own(client, scenario_workflows.GoldenActivityFails, wf_id, task_queue, wf_id)


async def activity_heartbeat_timeout(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """An activity that never heartbeats under a 1 s heartbeat timeout: ActivityTaskTimedOut."""
    return await _run_own(
        client, scenario_workflows.GoldenHeartbeatTimeout, wf_id, task_queue, wf_id
    )


async def workflow_task_failure(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """The first workflow task fails (WorkflowTaskFailed); its retry completes the workflow."""
    return await _run_own(client, scenario_workflows.GoldenFailFirstTask, wf_id, task_queue, wf_id)


async def user_metadata(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """A start with a static summary and details, an activity and a timer with summaries: the
    event-level userMetadata the server keeps as the client and worker sent it."""
    return await _run_own(
        client,
        scenario_workflows.GoldenSummaries,
        "summaries",
        task_queue,
        wf_id,
        static_summary="golden summary",
        static_details="golden details, *markdown*",
    )


# ---- children and external signals -------------------------------------------------------
# Two workflows whose events depend on each other: each step waits until the workflow it
# affects is quiet (every workflow task it was given completed), so no event of one lands
# while the other has a task in flight, and both histories have one shape.


async def wait_until_quiet(
    handle: WorkflowHandle, event_type: int, deadline_s: float = 30
) -> None:
    """Polls the history until it holds an ``event_type`` event and no workflow task is
    outstanding (as many WorkflowTaskCompleted as WorkflowTaskScheduled), or fails at the
    deadline."""
    deadline = time.monotonic() + deadline_s
    scheduled = EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
    completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    while True:
        types = [e.event_type for e in (await handle.fetch_history()).events]
        if event_type in types and types.count(scheduled) == types.count(completed):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{handle.id}: no quiet {EventType.Name(event_type)} within {deadline_s}s"
            )
        await asyncio.sleep(0.05)


def _child_id(wf_id: str) -> str:
    return f"{wf_id}-child"


async def _parent_and_child(
    client: Client, task_queue: str, wf_id: str, spec: dict, drive
) -> WorkflowHandle:
    """Starts GoldenParent with ``spec`` on a golden worker of its own queue, waits until the
    parent has handled ChildWorkflowExecutionStarted and the child its first workflow task,
    then lets ``drive(parent, child)`` take it from there."""
    own_queue = f"{task_queue}-own"
    async with golden_worker(client, own_queue):
        parent = await client.start_workflow(
            scenario_workflows.GoldenParent.run, spec, id=wf_id, task_queue=own_queue
        )
        await wait_until_quiet(parent, EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED)
        child = client.get_workflow_handle(_child_id(wf_id))
        await wait_until_quiet(child, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
        await drive(parent, child)
    return parent


async def _child_result(
    client: Client, task_queue: str, wf_id: str, mode: str, expected: dict
) -> WorkflowHandle:
    """The child acts (``mode``) on the test's signal; the parent returns what it got (which
    must hold the items of ``expected``; the golden holds all of it)."""

    async def drive(parent: WorkflowHandle, child: WorkflowHandle) -> None:
        await child.signal(scenario_workflows.GoldenChild.go)
        result = await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S)
        assert expected.items() <= result.items(), result

    spec = {"mode": mode, "value": "golden", "then": "result"}
    return await _parent_and_child(client, task_queue, wf_id, spec, drive)


async def child_completes(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """A child that returns a value: StartChildWorkflowExecutionInitiated,
    ChildWorkflowExecutionStarted/Completed in the parent; the child's own history too."""
    return await _child_result(
        client, task_queue, wf_id, "return", {"result": "child got golden"}
    )


async def child_fails(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """A child that raises ApplicationError (ChildWorkflowExecutionFailed); the parent catches
    the ChildWorkflowError and returns."""
    return await _child_result(
        client,
        task_queue,
        wf_id,
        "fail",
        {"error": "ChildWorkflowError", "cause": "ApplicationError"},
    )


async def child_continues_as_new(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """A child that continues as new once; its second run returns to the parent. Both of the
    child's runs are compared."""
    return await _child_result(
        client, task_queue, wf_id, "continue", {"result": "golden (continued)"}
    )


async def child_cancelled_by_parent(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """On the test's signal the parent cancels its child (RequestCancelExternalWorkflowExecution
    Initiated, ExternalWorkflowExecutionCancelRequested); the child, once the parent handled
    that, lets the cancellation end it (ChildWorkflowExecutionCanceled)."""

    async def drive(parent: WorkflowHandle, child: WorkflowHandle) -> None:
        await parent.signal(scenario_workflows.GoldenParent.go)
        await wait_until_quiet(
            parent, EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED
        )
        await wait_until_quiet(child, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED)
        await child.signal(scenario_workflows.GoldenChild.go)
        result = await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S)
        assert result.get("cause") == "CancelledError", result

    spec = {"mode": "forever", "value": "golden", "then": "cancel"}
    return await _parent_and_child(client, task_queue, wf_id, spec, drive)


async def parent_close_terminate(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """The parent completes while its child (parent close policy TERMINATE) waits: the server
    terminates the child."""

    async def drive(parent: WorkflowHandle, child: WorkflowHandle) -> None:
        await parent.signal(scenario_workflows.GoldenParent.go)
        await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S)
        await wait_for_event(child, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED)

    spec = {
        "mode": "forever",
        "value": "golden",
        "then": "return",
        "parent_close_policy": "TERMINATE",
    }
    return await _parent_and_child(client, task_queue, wf_id, spec, drive)


async def child_id_taken(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """The child's id belongs to a running workflow: StartChildWorkflowExecutionFailed
    (WORKFLOW_ALREADY_EXISTS). The running one waits on a queue nobody polls, and is
    terminated afterwards (its history is not compared)."""
    own_queue = f"{task_queue}-own"
    blocker = await client.start_workflow(
        scenario_workflows.GoldenChild.run,
        args=["forever", "blocker"],
        id=_child_id(wf_id),
        task_queue=f"{task_queue}-nobody",
    )
    try:
        async with golden_worker(client, own_queue):
            parent = await client.start_workflow(
                scenario_workflows.GoldenParent.run,
                {"mode": "return", "value": "golden", "then": "result"},
                id=wf_id,
                task_queue=own_queue,
            )
            result = await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S)
        assert result == {
            "start_failed": "WorkflowAlreadyStartedError",
            "workflow_id": _child_id(wf_id),
        }, result
    finally:
        await blocker.terminate("golden child_id_taken done")
    return parent


async def signal_external(client: Client, task_queue: str, wf_id: str) -> WorkflowHandle:
    """A workflow signals another (SignalExternalWorkflowExecutionInitiated,
    ExternalWorkflowExecutionSignaled; WorkflowExecutionSignaled in the target), then a workflow
    that does not exist (SignalExternalWorkflowExecutionFailed). Both histories are compared."""
    own_queue = f"{task_queue}-own"
    async with golden_worker(client, own_queue):
        target = await client.start_workflow(
            workflows.SignalCollector.run, 1, id=f"{wf_id}-target", task_queue=own_queue
        )
        await wait_until_quiet(target, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
        handle = await client.start_workflow(
            scenario_workflows.GoldenSignaller.run,
            args=[f"{wf_id}-target", f"{wf_id}-missing"],
            id=wf_id,
            task_queue=own_queue,
        )
        outcomes = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
        assert outcomes[0] == "sent" and outcomes[1] != "sent", outcomes
        assert await asyncio.wait_for(target.result(), RESULT_TIMEOUT_S) == ["external"]
    return handle


#: Scenarios that run their own workers (the recorder and the tests call them the same way).
OWN_WORKER_SCENARIOS: dict[str, Scenario] = {
    "sticky_worker_shutdown": sticky_worker_shutdown,
    "signal_before_worker": signal_before_worker,
    "signals_during_task": signals_during_task,
    "workflow_retry": workflow_retry,
    "local_activity": local_activity,
    "patched": patched,
    "upsert_memo": upsert_memo,
    "activity_fails": activity_fails,
    "activity_heartbeat_timeout": activity_heartbeat_timeout,
    "workflow_task_failure": workflow_task_failure,
    "user_metadata": user_metadata,
    "child_completes": child_completes,
    "child_fails": child_fails,
    "child_cancelled_by_parent": child_cancelled_by_parent,
    "parent_close_terminate": parent_close_terminate,
    "child_id_taken": child_id_taken,
    "signal_external": signal_external,
    "child_continues_as_new": child_continues_as_new,
}

#: The other workflows (ids: the scenario's workflow id + suffix) whose histories a scenario
#: compares too, every run of their chains (at most MAX_RUNS).
OTHER_WORKFLOWS: dict[str, tuple[str, ...]] = {
    "child_completes": ("-child",),
    "child_fails": ("-child",),
    "child_cancelled_by_parent": ("-child",),
    "parent_close_terminate": ("-child",),
    "signal_external": ("-target",),
    "child_continues_as_new": ("-child",),
}

#: Every golden scenario, by name.
ALL_SCENARIOS: dict[str, Scenario] = {**GOLDEN_SCENARIOS, **OWN_WORKER_SCENARIOS}
assert len(ALL_SCENARIOS) == len(GOLDEN_SCENARIOS) + len(OWN_WORKER_SCENARIOS)


def runs_compared(name: str) -> int:
    return RUNS_COMPARED.get(name, MAX_RUNS)


async def other_runs(
    client: Client, name: str, wf_id: str
) -> dict[str, list[list[HistoryEvent]]]:
    """The runs of the other workflows scenario ``name`` compares (OTHER_WORKFLOWS), by id."""
    return {
        f"{wf_id}{suffix}": await chain_of(client, f"{wf_id}{suffix}", MAX_RUNS)
        for suffix in OTHER_WORKFLOWS.get(name, ())
    }
