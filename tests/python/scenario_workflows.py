"""Workflows for the everyday-scenario tests (test_scenarios.py, ``ALL``) and for the golden-history
scenarios of scenarios.py (``GOLDEN``, run by scenarios.golden_worker).

Owns: the workflow definitions only. Activities are called by name, so this module imports nothing
but temporalio and the standard library, which keeps the SDK's workflow sandbox happy.
Must never: do I/O, read clocks or keep state outside ``workflow.*`` (workflow code must replay
deterministically); anything that must differ between attempts lives in the activity layer.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    WorkflowAlreadyStartedError,
)
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


# ---- golden-history scenarios (scenarios.py) -------------------------------------------------
# Run by the golden scenarios' own workers (scenarios.golden_worker), never by test_scenarios.py:
# they call the activities of activities.Activities and scenarios.GoldenActivities by name.

#: A predefined search attribute (Temporal's dev server has no custom ones without registration).
GOLDEN_CHANGE_VERSION = SearchAttributeKey.for_keyword_list("TemporalChangeVersion")


@workflow.defn
class GoldenSignalsDuringTask:
    """Holds its first workflow task open on the local activity ``golden_gate`` (the scenario
    signals meanwhile, so the server must buffer the signals), then waits for ``expected``."""

    def __init__(self) -> None:
        self.values: list[str] = []

    @workflow.signal
    def add(self, value: str) -> None:
        self.values.append(value)

    @workflow.run
    async def run(self, expected: int) -> list[str]:
        await workflow.execute_local_activity(
            "golden_gate", start_to_close_timeout=timedelta(seconds=30)
        )
        await workflow.wait_condition(lambda: len(self.values) >= expected)
        return self.values


@workflow.defn
class GoldenFailFirstAttempt:
    """Fails (FailWorkflowExecution, retryable) on attempt 1 and succeeds on the retry."""

    @workflow.run
    async def run(self, name: str) -> str:
        attempt = workflow.info().attempt
        if attempt == 1:
            raise ApplicationError(f"attempt {attempt} of {name} fails", type="GoldenFlaky")
        return f"{name} succeeded on attempt {attempt}"


@workflow.defn
class GoldenLocalActivity:
    """One local activity (a MarkerRecorded event), then one regular activity."""

    @workflow.run
    async def run(self, name: str) -> list[str]:
        local = await workflow.execute_local_activity(
            "greet", name, start_to_close_timeout=ACTIVITY_TIMEOUT
        )
        remote = await workflow.execute_activity(
            "greet", local, start_to_close_timeout=ACTIVITY_TIMEOUT
        )
        return [local, remote]


@workflow.defn
class GoldenPatched:
    """Takes the patched branch (a patch marker, and whatever else the SDK records with it)."""

    @workflow.run
    async def run(self) -> str:
        if workflow.patched("golden-patch"):
            return "patched"
        return "unpatched"


@workflow.defn
class GoldenUpserts:
    """Upserts its memo (one key added, one removed: WorkflowPropertiesModified), then sleeps on a
    short timer so the upsert is followed by more history. (Search attributes cannot be upserted
    here: Temporal's dev server has no custom ones unless registered, and refuses the upsert of
    TemporalChangeVersion from workflow code; the patch of GoldenPatched upserts that one.)"""

    @workflow.run
    async def run(self) -> dict:
        workflow.upsert_memo({"stage": "upserted", "removed": None})
        await workflow.sleep(0.1)
        return {
            "memo": dict(workflow.memo()),
            "change_version": list(
                workflow.info().typed_search_attributes.get(GOLDEN_CHANGE_VERSION) or []
            ),
        }


@workflow.defn
class GoldenActivityFails:
    """An activity that fails on every attempt it gets (``fail_twice`` with 2 attempts): the
    ActivityTaskFailed event, then the workflow returns what it caught."""

    @workflow.run
    async def run(self, key: str) -> dict:
        try:
            await workflow.execute_activity(
                "fail_twice",
                key,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=100),
                    backoff_coefficient=1.0,
                    maximum_attempts=2,
                ),
            )
        except ActivityError as err:
            return {"message": str(err.cause), "retry_state": int(err.retry_state or 0)}
        return {"message": None}


@workflow.defn
class GoldenHeartbeatTimeout:
    """An activity that never heartbeats under a 1 s heartbeat timeout and one attempt: the
    server writes ActivityTaskTimedOut (HEARTBEAT)."""

    @workflow.run
    async def run(self, key: str) -> dict:
        try:
            await workflow.execute_activity(
                "slow_first_attempt",
                key,
                start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=timedelta(seconds=1),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError as err:
            cause = err.cause
            timeout_type = cause.type.name if isinstance(cause, ActivityTimeoutError) else None
            return {
                "timeout_type": timeout_type,
                "retry_state": int(err.retry_state or 0),
            }
        return {"timeout_type": None}


@workflow.defn
class GoldenFailFirstTask:
    """Raises a plain exception (a workflow task failure) on its first workflow task; the local
    activity ``golden_first_call`` says whether this is the first call for ``key``."""

    @workflow.run
    async def run(self, key: str) -> str:
        first = await workflow.execute_local_activity(
            "golden_first_call", key, start_to_close_timeout=ACTIVITY_TIMEOUT
        )
        if first:
            raise RuntimeError("deliberate workflow task failure")
        return "recovered"


@workflow.defn
class GoldenSummaries:
    """An activity and a timer, each with a summary (the events' userMetadata)."""

    @workflow.run
    async def run(self, name: str) -> str:
        greeting = await workflow.execute_activity(
            "greet", name, start_to_close_timeout=ACTIVITY_TIMEOUT, summary="greets once"
        )
        await workflow.sleep(0.1, summary="a short nap")
        return greeting


@workflow.defn
class GoldenChild:
    """The child of the golden child scenarios. Its first workflow task only waits, so what
    lands in its history next is what the scenario did: on the ``go`` signal it acts as
    ``mode`` says ("return": returns a value; "fail": raises an ApplicationError; "continue":
    continues as new once with mode "now"); mode "now" returns at once; mode "forever" waits
    until cancelled (then waits for ``go`` before it lets the cancellation end it) or
    terminated."""

    def __init__(self) -> None:
        self.proceed = False

    @workflow.signal
    def go(self) -> None:
        self.proceed = True

    @workflow.run
    async def run(self, mode: str, value: str) -> str:
        if mode == "now":
            return f"{value} (continued)"
        if mode == "forever":
            try:
                await workflow.wait_condition(lambda: False)
            except asyncio.CancelledError:
                await workflow.wait_condition(lambda: self.proceed)
                raise
        await workflow.wait_condition(lambda: self.proceed)
        if mode == "fail":
            raise ApplicationError(f"child {value} fails", "detail", type="GoldenChildFailure")
        if mode == "continue":
            workflow.continue_as_new(args=["now", value])
        return f"child got {value}"


@workflow.defn
class GoldenParent:
    """Starts one GoldenChild (id ``<own id>-child`` unless ``spec`` names one) with
    ``spec["mode"]`` and ``spec["value"]`` and ``spec.get("parent_close_policy")`` (a
    ParentClosePolicy member name), then as ``spec["then"]`` says:
    - "result": waits for the child's result (returns what it caught if the child failed);
    - "cancel": on the ``go`` signal cancels the child, then waits for it like "result";
    - "return": returns on the ``go`` signal, leaving the child to its parent close policy.
    A child that cannot start (its id is taken) makes it return what the start raised."""

    def __init__(self) -> None:
        self.proceed = False

    @workflow.signal
    def go(self) -> None:
        self.proceed = True

    @workflow.run
    async def run(self, spec: dict) -> dict:
        options: dict = {"id": spec.get("child_id") or f"{workflow.info().workflow_id}-child"}
        if spec.get("parent_close_policy"):
            options["parent_close_policy"] = workflow.ParentClosePolicy[
                spec["parent_close_policy"]
            ]
        try:
            child = await workflow.start_child_workflow(
                GoldenChild.run, args=[spec["mode"], spec["value"]], **options
            )
        except WorkflowAlreadyStartedError as err:
            return {"start_failed": type(err).__name__, "workflow_id": err.workflow_id}
        if spec["then"] in ("cancel", "return"):
            await workflow.wait_condition(lambda: self.proceed)
        if spec["then"] == "return":
            return {"left": child.id}
        if spec["then"] == "cancel":
            child.cancel()
        try:
            return {"result": await child}
        except ChildWorkflowError as err:
            cause = err.cause
            return {
                "error": type(err).__name__,
                "message": err.message,
                "retry_state": None if err.retry_state is None else int(err.retry_state),
                "cause": type(cause).__name__ if cause else None,
                "cause_message": getattr(cause, "message", str(cause)) if cause else None,
            }


@workflow.defn
class GoldenSignaller:
    """Signals ``add`` with "external" to ``target`` (SignalExternalWorkflowExecution, then
    ExternalWorkflowExecutionSignaled), then to ``missing``, which does not exist
    (SignalExternalWorkflowExecutionFailed); returns how each send went."""

    @workflow.run
    async def run(self, target: str, missing: str) -> list[str]:
        outcomes = []
        for workflow_id in (target, missing):
            try:
                await workflow.get_external_workflow_handle(workflow_id).signal(
                    "add", "external"
                )
                outcomes.append("sent")
            except Exception as err:  # the SDK raises when the target does not exist
                outcomes.append(f"{type(err).__name__}: {err}")
        return outcomes


GOLDEN = [
    GoldenChild,
    GoldenParent,
    GoldenSignaller,
    GoldenSummaries,
    GoldenSignalsDuringTask,
    GoldenFailFirstAttempt,
    GoldenLocalActivity,
    GoldenPatched,
    GoldenUpserts,
    GoldenActivityFails,
    GoldenHeartbeatTimeout,
    GoldenFailFirstTask,
]
