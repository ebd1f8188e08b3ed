"""The workflows whose histories are compared against goldens recorded from Temporal's dev server.

Owns: how each golden scenario is started (workflow, argument, options), shared by
test_history_golden.py and record_goldens.py so both run exactly the same thing.
Must never: wait without a timeout.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

import workflows
from activities import Activities

RESULT_TIMEOUT_S = 60
#: How long the workflow of ``sticky_worker_shutdown`` sleeps while its first worker stops.
SHUTDOWN_TIMER_S = 3.0


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


GOLDEN_SCENARIOS: dict[str, Callable[[Client, str, str], Awaitable[WorkflowHandle]]] = {
    "one_activity": one_activity,
    "timer": timer,
    "retry": retry,
}


async def wait_for_event(handle: WorkflowHandle, event_type: int, deadline_s: float = 30) -> None:
    """Polls the history until an event of ``event_type`` is in it, or fails at the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        history = await handle.fetch_history()
        if any(e.event_type == event_type for e in history.events):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {EventType.Name(event_type)} within {deadline_s}s")
        await asyncio.sleep(0.05)


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


#: Scenarios that run their own workers (the recorder and the tests call them the same way).
OWN_WORKER_SCENARIOS: dict[str, Callable[[Client, str, str], Awaitable[WorkflowHandle]]] = {
    "sticky_worker_shutdown": sticky_worker_shutdown,
    "signal_before_worker": signal_before_worker,
}
