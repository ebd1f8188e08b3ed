"""The workflows whose histories are compared against goldens recorded from Temporal's dev server.

Owns: how each golden scenario is started (workflow, argument, options), shared by
test_history_golden.py and record_goldens.py so both run exactly the same thing.
Must never: wait without a timeout.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from temporalio.client import Client, WorkflowHandle

import workflows

RESULT_TIMEOUT_S = 60


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
