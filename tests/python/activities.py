"""Activity implementations used by the end-to-end tests.

Owns: the activities and the worker-side record of what they did (``Activities.completed``),
which tests compare with the server's history.
Must never: be imported by workflows.py (workflows call activities by name).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from temporalio import activity


class Activities:
    """One instance per worker, so each test sees only its own activity calls."""

    def __init__(self) -> None:
        #: attempts seen per key by the flaky activities
        self.attempts: dict[str, list[int]] = defaultdict(list)
        #: (workflow_id, step) for every record_step attempt that returned
        self.completed: list[tuple[str, int]] = []
        #: workflow ids whose heartbeating activity saw its cancellation
        self.cancelled: list[str] = []
        #: (workflow id, activity id) of every complete_later attempt, left to the test
        self.async_started: list[tuple[str, str]] = []

    @activity.defn(name="greet")
    async def greet(self, name: str) -> str:
        return f"Hello, {name}!"

    @activity.defn(name="add_one")
    async def add_one(self, value: int) -> int:
        return value + 1

    @activity.defn(name="fail_twice")
    async def fail_twice(self, key: str) -> int:
        attempt = activity.info().attempt
        self.attempts[key].append(attempt)
        if attempt < 3:
            raise RuntimeError(f"deliberate failure on attempt {attempt}")
        return attempt

    @activity.defn(name="slow_first_attempt")
    async def slow_first_attempt(self, key: str) -> int:
        attempt = activity.info().attempt
        self.attempts[key].append(attempt)
        if attempt == 1:
            # Longer than the 1 s start-to-close timeout: the server must time it out and retry.
            await asyncio.sleep(3)
        return attempt

    @activity.defn(name="record_step")
    async def record_step(self, step: int) -> str:
        await asyncio.sleep(0.2)
        info = activity.info()
        self.completed.append((info.workflow_id, step))
        return f"{info.workflow_id}:{step}"

    @activity.defn(name="heartbeat_until_cancelled")
    async def heartbeat_until_cancelled(self) -> str:
        try:
            while True:
                activity.heartbeat()
                await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            self.cancelled.append(activity.info().workflow_id)
            raise

    @activity.defn(name="complete_later")
    async def complete_later(self) -> str:
        info = activity.info()
        self.async_started.append((info.workflow_id, info.activity_id))
        activity.raise_complete_async()

    def all(self) -> list:
        return [
            self.greet,
            self.add_one,
            self.fail_twice,
            self.slow_first_attempt,
            self.record_step,
            self.heartbeat_until_cancelled,
            self.complete_later,
        ]
