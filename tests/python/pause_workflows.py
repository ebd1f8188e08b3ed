"""Workflows for the activity pause tests (test_activity_pause.py).

Owns: one workflow running a named activity with id "a" under quick, unlimited retries. Kept
apart from the test module so the SDK's workflow sandbox imports nothing but temporalio and
the standard library. Must never: do I/O or read clocks outside ``workflow.*``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

#: Short enough that an unpaused failing activity is retried many times within a test's
#: observation window.
RETRY_INTERVAL = timedelta(milliseconds=200)


@workflow.defn
class RunsPausableActivity:
    """Runs activity ``name`` with ``key`` as activity id "a", retrying every 200 ms."""

    @workflow.run
    async def run(self, name: str, key: str) -> Any:
        return await workflow.execute_activity(
            name,
            key,
            activity_id="a",
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(
                initial_interval=RETRY_INTERVAL,
                backoff_coefficient=1.0,
            ),
        )


ALL = [RunsPausableActivity]
