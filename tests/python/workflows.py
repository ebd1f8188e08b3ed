"""Workflow definitions used by the end-to-end tests.

Owns: the workflows only. Activities are called by name (strings), so this module imports nothing
but temporalio and the standard library, which keeps the SDK's workflow sandbox happy.
Must never: do I/O or read clocks outside ``workflow.*`` (workflow code must be deterministic).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import (
    RetryPolicy,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)
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


@workflow.defn
class QueryableCollector:
    """Collects its ``add`` signals until ``finish`` and answers queries about them. Started
    with ``fail_at_finish`` it fails (non-retryable) instead of returning the values."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.finished = False

    @workflow.signal
    def add(self, value: str) -> None:
        self.values.append(value)

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.query
    def values_so_far(self) -> list[str]:
        return list(self.values)

    @workflow.query
    def value_at(self, index: int) -> str:
        return self.values[index]

    @workflow.query
    def broken(self) -> str:
        raise ValueError(f"broken query after {len(self.values)} values")

    @workflow.run
    async def run(self, fail_at_finish: bool) -> list[str]:
        await workflow.wait_condition(lambda: self.finished)
        if fail_at_finish:
            raise ApplicationError(
                f"failed after {self.values}", type="PerdureTestFailure", non_retryable=True
            )
        return self.values


ALL.append(QueryableCollector)


# ---- continue-as-new (test_continue_as_new.py) -------------------------------------------


@workflow.defn
class ContinueAsNewCounter:
    """Continues as new with ``count + 1`` until ``count`` reaches ``target``, then returns it."""

    @workflow.run
    async def run(self, count: int, target: int) -> int:
        if count < target:
            workflow.continue_as_new(args=[count + 1, target])
        return count


#: A predefined search attribute a workflow may set (the dev server has no custom ones).
CHANGE_VERSION = SearchAttributeKey.for_keyword_list("TemporalChangeVersion")


def _run_snapshot(step: str) -> dict:
    """What the SDK tells a run about itself, as plain JSON."""
    info = workflow.info()
    policy = info.retry_policy
    return {
        "step": step,
        "run_id": info.run_id,
        "continued_run_id": info.continued_run_id,
        "workflow_type": info.workflow_type,
        "task_queue": info.task_queue,
        "memo": dict(workflow.memo()),
        "change_version": list(info.typed_search_attributes.get(CHANGE_VERSION) or []),
        "run_timeout": info.run_timeout.total_seconds() if info.run_timeout else None,
        "execution_timeout": (
            info.execution_timeout.total_seconds() if info.execution_timeout else None
        ),
        "task_timeout": info.task_timeout.total_seconds(),
        "retry": None
        if policy is None
        else [policy.maximum_attempts, policy.initial_interval.total_seconds()],
    }


@workflow.defn
class ContinueAsNewCarryOver:
    """A chain of runs that records what each run got: ``start`` continues giving nothing but
    the input (the SDK fills in the rest), ``defaults`` continues giving memo, search attributes,
    retry policy and timeouts, ``given`` continues as the workflow type
    ``ContinueAsNewCarryOverEnd`` on the same task queue, which moves to ``next_queue``."""

    @workflow.run
    async def run(self, step: str, seen: list, next_queue: str) -> list:
        seen = seen + [_run_snapshot(step)]
        if step == "start":
            workflow.continue_as_new(args=["defaults", seen, next_queue])
        if step == "defaults":
            workflow.continue_as_new(
                args=["given", seen, next_queue],
                memo={"m": "given", "extra": 1},
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(CHANGE_VERSION, ["given"])]
                ),
                retry_policy=RetryPolicy(
                    maximum_attempts=7, initial_interval=timedelta(seconds=2)
                ),
                run_timeout=timedelta(seconds=50),
                task_timeout=timedelta(seconds=7),
            )
        workflow.continue_as_new(
            args=["other type", seen, next_queue], workflow="ContinueAsNewCarryOverEnd"
        )


@workflow.defn(name="ContinueAsNewCarryOverEnd")
class ContinueAsNewCarryOverEnd:
    """The end of ContinueAsNewCarryOver's chain: moves once to ``next_queue``, then returns."""

    @workflow.run
    async def run(self, step: str, seen: list, next_queue: str) -> list:
        seen = seen + [_run_snapshot(step)]
        if next_queue:
            workflow.continue_as_new(args=["other queue", seen, ""], task_queue=next_queue)
        return seen


@workflow.defn
class ContinueAsNewWithSignals:
    """Collects ``add`` signals across runs. A run with ``gate`` first runs the local activity
    ``continue_as_new_gate`` (the test holds it, so signals sent meanwhile wait in the server),
    then continues as new with everything it has; a run with ``continue_after`` continues once
    it has that many signals of its own; otherwise it returns once ``expected`` values arrived
    (those carried in plus its own)."""

    def __init__(self) -> None:
        self.carried: list[str] = []
        self.values: list[str] = []

    @workflow.signal
    def add(self, value: str) -> None:
        self.values.append(value)

    @workflow.query
    def values_so_far(self) -> dict:
        return {"run_id": workflow.info().run_id, "values": self.carried + self.values}

    @workflow.run
    async def run(
        self, carried: list[str], expected: int, continue_after: int, gate: bool
    ) -> list[str]:
        self.carried = carried
        if gate:
            await workflow.execute_local_activity(
                "continue_as_new_gate", start_to_close_timeout=timedelta(seconds=30)
            )
            workflow.continue_as_new(args=[carried + self.values, expected, 0, False])
        if continue_after:
            await workflow.wait_condition(lambda: len(self.values) >= continue_after)
            workflow.continue_as_new(args=[carried + self.values, expected, 0, False])
        await workflow.wait_condition(lambda: len(carried) + len(self.values) >= expected)
        return carried + self.values


@workflow.defn
class ContinueAsNewWhenSuggested:
    """Starts ``timers`` half-second timers at once (two events each), then continues as new
    if the server suggests it. Returns [history length, suggested] as seen at each step."""

    @workflow.run
    async def run(self, timers: int, seen: list) -> list:
        info = workflow.info()
        seen = seen + [[info.get_current_history_length(), info.is_continue_as_new_suggested()]]
        if timers == 0:
            return seen
        await asyncio.gather(*(asyncio.sleep(0.5) for _ in range(timers)))
        seen.append([info.get_current_history_length(), info.is_continue_as_new_suggested()])
        if info.is_continue_as_new_suggested():
            workflow.continue_as_new(args=[0, seen])
        return seen


# ---- cron (test_cron.py) ---------------------------------------------------------------


@workflow.defn
class CronCounter:
    """One run of a cron chain: counts itself from the previous run's result (1 when there is
    none) and reports what it got from the server. The run numbered ``fail_on`` fails unless
    it follows a failure."""

    @workflow.run
    async def run(self, fail_on: int) -> dict:
        last = None
        if workflow.has_last_completion_result():
            last = workflow.get_last_completion_result()
        failure = workflow.get_last_failure()
        n = (last["n"] if last else 0) + 1
        if n == fail_on and failure is None:
            raise ApplicationError(f"cron run {n} fails", type="CronRunFailure")
        info = workflow.info()
        return {
            "n": n,
            "last": last,
            "last_failure": None if failure is None else failure.message,
            "run_id": info.run_id,
            "cron_schedule": info.cron_schedule,
        }


ALL.append(ContinueAsNewCounter)
ALL.append(ContinueAsNewCarryOver)
ALL.append(ContinueAsNewCarryOverEnd)
ALL.append(ContinueAsNewWithSignals)
ALL.append(ContinueAsNewWhenSuggested)
ALL.append(CronCounter)


# ---- child workflows (test_child_workflows.py) -------------------------------------------

from temporalio.common import WorkflowIDReusePolicy  # noqa: E402
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError  # noqa: E402


@workflow.defn
class ChildEcho:
    """A child that returns its input with what the SDK told it about itself and its parent."""

    @workflow.run
    async def run(self, value: str) -> dict:
        info = workflow.info()
        parent = info.parent
        return {
            "value": value,
            "workflow_id": info.workflow_id,
            "run_id": info.run_id,
            "task_queue": info.task_queue,
            "attempt": info.attempt,
            "parent": None
            if parent is None
            else [parent.namespace, parent.workflow_id, parent.run_id],
        }


@workflow.defn
class ChildDouble:
    """A child that returns twice its input."""

    @workflow.run
    async def run(self, n: int) -> int:
        return 2 * n


@workflow.defn
class ChildFailsFirstAttempt:
    """Fails (retryable) on attempt 1; returns its attempt and run id from attempt 2 on."""

    @workflow.run
    async def run(self) -> dict:
        info = workflow.info()
        if info.attempt == 1:
            raise ApplicationError("attempt 1 fails", type="ChildFlaky")
        return {"attempt": info.attempt, "run_id": info.run_id}


def _describe_child_error(e: BaseException) -> dict:
    """What a parent saw of its child's end (or failed start), as plain JSON."""
    out: dict = {"error": type(e).__name__}
    if isinstance(e, ChildWorkflowError):
        cause = e.cause
        out.update(
            message=e.message,
            namespace=e.namespace,
            workflow_id=e.workflow_id,
            run_id=e.run_id,
            workflow_type=e.workflow_type,
            initiated_event_id=e.initiated_event_id,
            started_event_id=e.started_event_id,
            retry_state=None if e.retry_state is None else int(e.retry_state),
            cause=None if cause is None else type(cause).__name__,
            cause_message=None if cause is None else getattr(cause, "message", str(cause)),
        )
    elif isinstance(e, WorkflowAlreadyStartedError):
        out.update(
            message=e.message,
            workflow_id=e.workflow_id,
            workflow_type=e.workflow_type,
            run_id=e.run_id,
        )
    else:
        out["message"] = str(e)
    return out


@workflow.defn
class ChildParent:
    """Starts one child as ``spec`` says and reports how it ended.

    ``spec``: ``child`` (workflow type), ``args``, ``id``, and optionally ``task_queue``,
    ``execution_timeout``/``run_timeout``/``task_timeout`` (seconds), ``memo``,
    ``parent_close_policy`` and ``id_reuse_policy`` (enum member names), ``retry`` ([maximum
    attempts, initial interval in seconds]), and ``then``:
    - "result" (the default): waits for the child; returns {"result": ...} or, if the child
      failed or could not start, a description of the error (``_describe_child_error``);
    - "cancel": waits for the ``go`` signal, cancels the child (cancels its handle, the
      SDK's way), then waits for it like "result";
    - "return": once the child started and the ``go`` signal came, returns {"started": child's
      first run id} without waiting for the child (its parent close policy decides its fate).
    """

    def __init__(self) -> None:
        self.proceed = False

    @workflow.signal
    def go(self) -> None:
        self.proceed = True

    @workflow.run
    async def run(self, spec: dict) -> dict:
        options: dict = {"id": spec["id"]}
        if spec.get("task_queue"):
            options["task_queue"] = spec["task_queue"]
        for key in ("execution_timeout", "run_timeout", "task_timeout"):
            if spec.get(key):
                options[key] = timedelta(seconds=spec[key])
        if spec.get("memo"):
            options["memo"] = spec["memo"]
        if spec.get("parent_close_policy"):
            policy = spec["parent_close_policy"]
            options["parent_close_policy"] = workflow.ParentClosePolicy[policy]
        if spec.get("id_reuse_policy"):
            options["id_reuse_policy"] = WorkflowIDReusePolicy[spec["id_reuse_policy"]]
        if spec.get("retry"):
            attempts, interval = spec["retry"]
            options["retry_policy"] = RetryPolicy(
                maximum_attempts=attempts,
                initial_interval=timedelta(seconds=interval),
                backoff_coefficient=1.0,
            )
        then = spec.get("then", "result")
        try:
            handle = await workflow.start_child_workflow(
                spec["child"], args=spec.get("args", []), **options
            )
        except Exception as e:
            return _describe_child_error(e)
        if then in ("return", "cancel"):
            await workflow.wait_condition(lambda: self.proceed)
        if then == "return":
            return {"started": handle.first_execution_run_id}
        if then == "cancel":
            handle.cancel()
        try:
            return {"result": await handle}
        except Exception as e:
            return _describe_child_error(e)


@workflow.defn
class ChildFanOut:
    """Starts ``count`` ChildDouble children at once (ids ``<own id>-child-<i>``) and returns
    the sum of their results."""

    @workflow.run
    async def run(self, count: int) -> int:
        own = workflow.info().workflow_id
        results = await asyncio.gather(
            *(
                workflow.execute_child_workflow(ChildDouble.run, i, id=f"{own}-child-{i}")
                for i in range(count)
            )
        )
        return sum(results)


ALL.append(ChildEcho)
ALL.append(ChildDouble)
ALL.append(ChildFailsFirstAttempt)
ALL.append(ChildParent)
ALL.append(ChildFanOut)


@workflow.defn
class SignalsAnother:
    """Signals workflow ``target`` with each value, then reports how each send went."""

    @workflow.run
    async def run(self, target: str, values: list[str]) -> list[str]:
        handle = workflow.get_external_workflow_handle(target)
        outcomes = []
        for value in values:
            try:
                await handle.signal(SignalCollector.add, value)
                outcomes.append("sent")
            except Exception as e:  # the SDK raises when the target does not exist
                outcomes.append(f"{type(e).__name__}: {e}")
        return outcomes


ALL.append(SignalsAnother)


# ---- updates (test_updates.py, test_cli.py) ----------------------------------------------


@workflow.defn
class Updatable:
    """Holds a list of values that updates change, until ``finish``.

    Updates: ``add`` appends its value and returns the list so far (its validator rejects
    values starting with "bad", naming the value); ``add_when_released`` accepts, then waits
    for the ``release`` signal before appending; ``fail`` raises a non-retryable
    ApplicationError (type "UpdateFailure", the value as its detail), which fails the update and
    not the workflow. ``initial`` (given to ``__init__`` too, so an update on the first task
    sees it) starts the list; ``run`` returns the values once ``finish`` came and every handler
    is done.
    """

    @workflow.init
    def __init__(self, initial: list[str]) -> None:
        self.values: list[str] = list(initial)
        self.released = False
        self.finished = False

    @workflow.update
    def add(self, value: str) -> list[str]:
        self.values.append(value)
        return list(self.values)

    @add.validator
    def validate_add(self, value: str) -> None:
        if value.startswith("bad"):
            raise ValueError(f"rejected {value!r}")

    @workflow.update
    async def add_when_released(self, value: str) -> list[str]:
        await workflow.wait_condition(lambda: self.released)
        self.values.append(value)
        return list(self.values)

    @workflow.update
    def fail(self, value: str) -> str:
        raise ApplicationError(
            f"update failed on {value!r}", value, type="UpdateFailure", non_retryable=True
        )

    @workflow.signal
    def add_signal(self, value: str) -> None:
        self.values.append(value)

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.query
    def values_so_far(self) -> list[str]:
        return list(self.values)

    @workflow.run
    async def run(self, initial: list[str]) -> list[str]:
        await workflow.wait_condition(lambda: self.finished and workflow.all_handlers_finished())
        return self.values


ALL.append(Updatable)


# ---- visibility (test_visibility.py) -------------------------------------------------------


@workflow.defn
class UpsertsMemo:
    """Upserts its memo (``stage`` set, ``gone`` removed), then waits for a ``finish`` signal."""

    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        workflow.upsert_memo({"stage": "upserted", "gone": None})
        await workflow.wait_condition(lambda: self.done)
        return "done"

    @workflow.signal
    def finish(self) -> None:
        self.done = True


ALL.append(UpsertsMemo)


# ---- custom search attributes (test_search_attributes.py, test_visibility_differential.py) --


def _search_attribute_update(name: str, kind: str, value):
    """One typed upsert: ``kind`` is the attribute's type name, ``value`` its JSON form (a
    Datetime as an RFC 3339 string)."""
    from datetime import datetime

    if kind == "Keyword":
        return SearchAttributeKey.for_keyword(name).value_set(value)
    if kind == "Text":
        return SearchAttributeKey.for_text(name).value_set(value)
    if kind == "Int":
        return SearchAttributeKey.for_int(name).value_set(value)
    if kind == "Double":
        return SearchAttributeKey.for_float(name).value_set(value)
    if kind == "Bool":
        return SearchAttributeKey.for_bool(name).value_set(value)
    if kind == "Datetime":
        return SearchAttributeKey.for_datetime(name).value_set(
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        )
    return SearchAttributeKey.for_keyword_list(name).value_set(value)


@workflow.defn
class UpsertsSearchAttributes:
    """Upserts ``[name, type, value]`` triples one command each, then completes (or, with
    ``wait``, waits for a ``finish`` signal first)."""

    def __init__(self) -> None:
        self.done = False

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.run
    async def run(self, upserts: list, wait: bool) -> str:
        for name, kind, value in upserts:
            workflow.upsert_search_attributes([_search_attribute_update(name, kind, value)])
        if wait:
            await workflow.wait_condition(lambda: self.done)
        return "upserted"


ALL.append(UpsertsSearchAttributes)


@workflow.defn
class SetsSearchAttributesOnCommands:
    """Starts a child (``how == "child"``) or continues as new (``"continue"``) with the search
    attribute ``[name, type, value]``; the test expects the command to be refused."""

    @workflow.run
    async def run(self, how: str, attr: list) -> str:
        name, kind, value = attr
        update = _search_attribute_update(name, kind, value)
        attrs = TypedSearchAttributes([SearchAttributePair(update.key, update.value)])
        if how == "child":
            return await workflow.execute_child_workflow(
                UpsertsSearchAttributes.run, args=[[], False],
                id=workflow.info().workflow_id + "-child", search_attributes=attrs,
            )
        workflow.continue_as_new(args=[how, attr], search_attributes=attrs)


ALL.append(SetsSearchAttributesOnCommands)


# ---- reset (test_reset.py) ---------------------------------------------------------------


@workflow.defn
class GreetThenCollect:
    """Runs ``greet``, waits for ``expected`` ``add`` signals, returns the greeting and them."""

    def __init__(self) -> None:
        self.values: list[str] = []

    @workflow.signal
    def add(self, value: str) -> None:
        self.values.append(value)

    @workflow.run
    async def run(self, name: str, expected: int) -> str:
        greeting = await workflow.execute_activity(
            "greet", name, start_to_close_timeout=ACTIVITY_TIMEOUT
        )
        await workflow.wait_condition(lambda: len(self.values) >= expected)
        return greeting + "|" + ",".join(self.values)


ALL.append(GreetThenCollect)
