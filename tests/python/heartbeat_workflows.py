"""Workflows for the heartbeat tests (test_heartbeat.py).

Owns: one workflow that runs a named activity under a short heartbeat timeout. Kept apart from
the test module so the SDK's workflow sandbox imports nothing but temporalio and the standard
library. Must never: do I/O or read clocks outside ``workflow.*``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

#: Short enough that a silent attempt times out within a test, long enough for the SDK's
#: heartbeat throttling (0.8 × timeout) to keep a live attempt alive.
HEARTBEAT_TIMEOUT = timedelta(seconds=1)


@workflow.defn
class HeartbeatingActivity:
    """Runs activity ``name`` with ``key``, a 1 s heartbeat timeout and quick retries."""

    @workflow.run
    async def run(self, name: str, key: str) -> Any:
        return await workflow.execute_activity(
            name,
            key,
            activity_id="hb",
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100),
                backoff_coefficient=1.0,
                maximum_attempts=3,
            ),
        )


ALL = [HeartbeatingActivity]
