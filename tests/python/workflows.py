"""Workflow definitions used by the end-to-end tests.

Owns: the workflows only. Activities are called by name (strings), so this module imports nothing
but temporalio and the standard library, which keeps the SDK's workflow sandbox happy.
Must never: do I/O or read clocks outside ``workflow.*`` (workflow code must be deterministic).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

ACTIVITY_TIMEOUT = timedelta(seconds=10)


@workflow.defn
class OneActivity:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            "greet", name, start_to_close_timeout=ACTIVITY_TIMEOUT
        )


@workflow.defn
class SequentialActivities:
    @workflow.run
    async def run(self, count: int) -> int:
        total = 0
        for _ in range(count):
            total = await workflow.execute_activity(
                "add_one", total, start_to_close_timeout=ACTIVITY_TIMEOUT
            )
        return total


@workflow.defn
class DurableTimer:
    @workflow.run
    async def run(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "fired"


@workflow.defn
class RetryingActivity:
    """Calls an activity that fails on attempts 1 and 2; the server retries it."""

    @workflow.run
    async def run(self, key: str) -> int:
        return await workflow.execute_activity(
            "fail_twice",
            key,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100),
                backoff_coefficient=1.0,
                maximum_attempts=5,
            ),
        )


@workflow.defn
class TimingOutActivity:
    """Calls an activity whose first attempt outlives its 1 s start-to-close timeout."""

    @workflow.run
    async def run(self, key: str) -> int:
        return await workflow.execute_activity(
            "slow_first_attempt",
            key,
            start_to_close_timeout=timedelta(seconds=1),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100),
                backoff_coefficient=1.0,
                maximum_attempts=5,
            ),
        )


@workflow.defn
class FailingWorkflow:
    @workflow.run
    async def run(self, message: str) -> str:
        raise ApplicationError(message, type="PerdureTestFailure", non_retryable=True)


@workflow.defn
class FiveSteps:
    """Five ~200 ms activities in sequence; the crash test kills the server in the middle."""

    @workflow.run
    async def run(self, steps: int) -> list[str]:
        done = []
        for step in range(steps):
            done.append(
                await workflow.execute_activity(
                    "record_step",
                    step,
                    # Short enough that an attempt lost in the crash is retried quickly.
                    start_to_close_timeout=timedelta(seconds=5),
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(milliseconds=200),
                        backoff_coefficient=1.0,
                    ),
                )
            )
        return done


@workflow.defn
class SignalCollector:
    """Collects the values of its ``add`` signals and returns them once it has ``expected``."""

    def __init__(self) -> None:
        self.values: list[str] = []

    @workflow.signal
    def add(self, value: str) -> None:
        self.values.append(value)

    @workflow.run
    async def run(self, expected: int) -> list[str]:
        await workflow.wait_condition(lambda: len(self.values) >= expected)
        return self.values


@workflow.defn
class CancelCleanup:
    """Waits forever; a cancellation makes it clean up and complete normally."""

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.wait_condition(lambda: False)
        except asyncio.CancelledError:
            return "cleaned up"
        return "unreachable"


@workflow.defn
class CancelsItsActivity:
    """Starts an activity, cancels it after a second and waits for the cancellation to
    complete. With ``queue`` set, the activity goes to a queue nobody polls (it never starts)."""

    @workflow.run
    async def run(self, queue: str) -> str:
        handle = workflow.start_activity(
            "heartbeat_until_cancelled",
            task_queue=queue or None,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=2),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        await asyncio.sleep(1)
        handle.cancel()
        try:
            await handle
        except ActivityError as e:
            if isinstance(e.cause, CancelledError):
                return "activity cancelled"
            raise
        return "activity finished"


@workflow.defn
class CompletedElsewhere:
    """Runs an activity that a client completes (or fails) later by workflow and activity id."""

    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            "complete_later",
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


ALL = [
    SignalCollector,
    CompletedElsewhere,
    CancelsItsActivity,
    CancelCleanup,
    OneActivity,
    SequentialActivities,
    DurableTimer,
    RetryingActivity,
    TimingOutActivity,
    FailingWorkflow,
    FiveSteps,
]
