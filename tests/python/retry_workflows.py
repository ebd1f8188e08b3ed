"""Workflows for the workflow-retry tests (test_workflow_retry.py).

Owns: workflows whose outcome depends on ``workflow.info().attempt``, so a server-side retry
policy decides whether the client sees a result or a failure. Kept apart from the test module so
the SDK's workflow sandbox imports nothing but temporalio and the standard library.
Must never: do I/O or read clocks outside ``workflow.*``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError


@workflow.defn
class FailUntilAttempt:
    """Fails (FailWorkflowExecution) on every attempt before ``succeed_on``; 0 means never succeed."""

    @workflow.run
    async def run(self, succeed_on: int) -> str:
        attempt = workflow.info().attempt
        if succeed_on == 0 or attempt < succeed_on:
            raise ApplicationError(f"attempt {attempt} failed", type="Flaky")
        return f"succeeded on attempt {attempt}"


@workflow.defn
class FailNonRetryable:
    """Fails with an error the retry policy must not retry."""

    @workflow.run
    async def run(self, how: str) -> str:
        if how == "flag":
            raise ApplicationError("not worth retrying", type="Whatever", non_retryable=True)
        raise ApplicationError("listed as non-retryable", type="Fatal")


@workflow.defn
class SleepOnFirstAttempt:
    """Outlives its run timeout on attempt 1 (the server times the run out), returns after."""

    @workflow.run
    async def run(self) -> str:
        attempt = workflow.info().attempt
        if attempt == 1:
            await workflow.sleep(timedelta(seconds=30))
        return f"attempt {attempt} in time"


ALL = [FailUntilAttempt, FailNonRetryable, SleepOnFirstAttempt]
