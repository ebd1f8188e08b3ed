"""An SDK worker with every test workflow and activity, on a fresh task queue.

Owns: building that worker, for the single-node ``worker`` fixture and for tests that choose
their own client (the cluster tests put the worker and the client on different nodes).
Must never: reuse a task queue, or share an ``Activities`` record between two workers.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator

from temporalio.client import Client
from temporalio.worker import Worker

import workflows
from activities import Activities


@dataclass
class RunningWorker:
    task_queue: str
    activities: Activities
    worker: Worker


@asynccontextmanager
async def running_worker(
    client: Client,
    prefix: str = "e2e",
    max_concurrent_activities: int = 300,
    task_queue: str | None = None,
) -> AsyncIterator[RunningWorker]:
    """Runs the worker for the body of the ``async with``; shuts it down on the way out.
    ``task_queue`` picks the queue (a fresh one by default)."""
    acts = Activities()
    task_queue = task_queue or f"{prefix}-{uuid.uuid4()}"
    w = Worker(
        client,
        task_queue=task_queue,
        workflows=workflows.ALL,
        activities=acts.all(),
        max_concurrent_activities=max_concurrent_activities,
    )
    async with w:
        yield RunningWorker(task_queue=task_queue, activities=acts, worker=w)
