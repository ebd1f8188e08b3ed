"""Workflows for the everyday-scenario tests (test_scenarios.py).

Owns: the workflow definitions only. Activities are called by name, so this module imports nothing
but temporalio and the standard library, which keeps the SDK's workflow sandbox happy.
Must never: do I/O, read clocks or keep state outside ``workflow.*`` (workflow code must replay
deterministically); anything that must differ between attempts lives in the activity layer.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

ACTIVITY_TIMEOUT = timedelta(seconds=10)
#: Retries quick enough that a test never waits on the default 1 s backoff for long.
QUICK_RETRIES = RetryPolicy(
    initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0, maximum_attempts=5
)


@workflow.defn
class ParallelActivities:
    """Schedules ``count`` activities in one workflow task and waits for all of them."""

    @workflow.run
    async def run(self, count: int) -> list[int]:
        return list(
            await asyncio.gather(
                *(
                    workflow.execute_activity(
                        "double", i, start_to_close_timeout=ACTIVITY_TIMEOUT
                    )
                    for i in range(count)
                )
            )
        )


@workflow.defn
class NonRetryableActivityFailure:
    """Reports what the workflow saw when its activity raised a non-retryable error."""

    @workflow.run
    async def run(self, key: str) -> dict:
        try:
            await workflow.execute_activity(
                "fail_non_retryable",
                key,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=QUICK_RETRIES,
            )
        except ActivityError as err:
            cause = err.cause
            assert isinstance(cause, ApplicationError)
            return {
                "cause_class": type(cause).__name__,
                "type": cause.type,
                "message": cause.message,
                "non_retryable": cause.non_retryable,
                "retry_state": int(err.retry_state) if err.retry_state is not None else None,
            }
        return {"cause_class": None}


@workflow.defn
class ScheduleToCloseOnly:
    """One activity under a roomy schedule-to-close timeout, then one that outlives a 1 s one."""

    @workflow.run
    async def run(self, slow_seconds: float) -> dict:
        fast = await workflow.execute_activity(
            "double", 21, schedule_to_close_timeout=timedelta(seconds=10)
        )
        try:
            await workflow.execute_activity(
                "sleep_for", slow_seconds, schedule_to_close_timeout=timedelta(seconds=1)
            )
        except ActivityError as err:
            cause = err.cause
            return {
                "fast": fast,
                "cause_class": type(cause).__name__,
                "timeout_type": cause.type.name if isinstance(cause, ActivityTimeoutError) else None,
                "retry_state": int(err.retry_state) if err.retry_state is not None else None,
            }
        return {"fast": fast, "cause_class": None}


@workflow.defn
class Sleeper:
    """Sleeps on a durable timer; long values keep a run open for start/describe/terminate."""

    @workflow.run
    async def run(self, seconds: float) -> str:
        await workflow.sleep(seconds)
        return "woke"


@workflow.defn
class CancelledTimer:
    """Cancels a pending 60 s timer, either by a wait_for timeout or by cancelling its task."""

    @workflow.run
    async def run(self, mode: str) -> str:
        if mode == "wait_for":
            try:
                await asyncio.wait_for(workflow.sleep(60), timeout=1)
            except asyncio.TimeoutError:
                return "wait_for timed out"
            return "slept"
        sleeping = asyncio.create_task(workflow.sleep(60))
        await workflow.execute_activity("double", 1, start_to_close_timeout=ACTIVITY_TIMEOUT)
        sleeping.cancel()
        try:
            await sleeping
        except asyncio.CancelledError:
            return "task cancelled"
        return "slept"


@workflow.defn
class LocalActivities:
    """A short local activity, then one running longer than the workflow task timeout."""

    @workflow.run
    async def run(self, slow_seconds: float) -> list:
        short = await workflow.execute_local_activity(
            "double", 4, start_to_close_timeout=ACTIVITY_TIMEOUT
        )
        slow = await workflow.execute_local_activity(
            "sleep_for", slow_seconds, start_to_close_timeout=timedelta(seconds=30)
        )
        return [short, slow]


@workflow.defn
class FailFirstWorkflowTask:
    """Raises a plain exception (a workflow task failure, not a workflow failure) on its first
    workflow task: the local activity says whether this is the first call for ``key``. Its
    result is only recorded when a task completes, so the retried task asks again."""

    @workflow.run
    async def run(self, key: str) -> str:
        first = await workflow.execute_local_activity(
            "first_call", key, start_to_close_timeout=ACTIVITY_TIMEOUT
        )
        if first:
            raise RuntimeError("deliberate workflow task failure")
        return "recovered"


@workflow.defn
class Quick:
    @workflow.run
    async def run(self) -> str:
        return "done"


@workflow.defn
class Fails:
    @workflow.run
    async def run(self, message: str) -> str:
        raise ApplicationError(message, type="ScenarioFailure", non_retryable=True)


@workflow.defn
class ManySequential:
    @workflow.run
    async def run(self, count: int) -> int:
        total = 0
        for _ in range(count):
            total = await workflow.execute_activity(
                "increment", total, start_to_close_timeout=ACTIVITY_TIMEOUT
            )
        return total


@workflow.defn
class InfoProbe:
    """Reports what ``workflow.info()`` says about the run's timeouts and history size."""

    @workflow.run
    async def run(self) -> dict:
        info = workflow.info()

        def seconds(d: timedelta | None) -> float | None:
            return None if d is None else d.total_seconds()

        return {
            "execution_timeout": seconds(info.execution_timeout),
            "run_timeout": seconds(info.run_timeout),
            "task_timeout": seconds(info.task_timeout),
            "history_length": info.get_current_history_length(),
            "history_size": info.get_current_history_size(),
        }


ALL = [
    ParallelActivities,
    NonRetryableActivityFailure,
    ScheduleToCloseOnly,
    Sleeper,
    CancelledTimer,
    LocalActivities,
    FailFirstWorkflowTask,
    Quick,
    Fails,
    ManySequential,
    InfoProbe,
]
