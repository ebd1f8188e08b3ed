"""Shared pieces of the schedule tests (test_schedules.py through the SDK, test_schedule_cli.py
through the `temporal` CLI): the workflows a schedule starts, a worker that runs them on a fresh
task queue (alone or with a schedule created for it), unique schedule ids, the workflow id a
scheduled run gets, and bounded waits on a schedule's description.

Owns: those helpers and the three schedule workflows. Must never: wait without a deadline,
assert anything a test's own assertions should say, or share a schedule id or task queue
between two tests.

Facts from Temporal's scheduler these helpers encode (service/worker/scheduler/workflow.go):
a run started by a schedule has the workflow id ``<action workflow id>-<nominal time, UTC,
second precision, RFC 3339>`` (AlwaysAppendTimestamp is on by default) and carries the search
attributes TemporalScheduledById (the schedule id) and TemporalScheduledStartTime (the nominal
time).
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator, Callable

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionResult,
    ScheduleDescription,
    ScheduleHandle,
)
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from harness import temporal_bin
from waiting import wait_until

SCHEDULED_BY_ID = SearchAttributeKey.for_keyword("TemporalScheduledById")
SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")

#: Deadline for something a schedule does within a few of its (1–2 s) slots; generous because
#: Temporal's scheduler may lag a slot by a second or so on a loaded machine.
SLOTS_S = 20


# ---- the workflows a schedule starts ---------------------------------------------------------


@workflow.defn
class ScheduledEcho:
    """Returns what it was started with, as the run itself sees it."""

    @workflow.run
    async def run(self, arg: str) -> dict:
        info = workflow.info()
        attrs = info.typed_search_attributes
        start = attrs.get(SCHEDULED_START_TIME)
        return {
            "arg": arg,
            "workflowId": info.workflow_id,
            "scheduledById": attrs.get(SCHEDULED_BY_ID),
            "scheduledStartTime": start.astimezone(timezone.utc).isoformat() if start else None,
        }


@workflow.defn
class ScheduledBlocker:
    """Runs until signalled ``release`` (so a schedule's next slots overlap it); a cancel
    request ends it as canceled."""

    def __init__(self) -> None:
        self.released = False

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.run
    async def run(self, arg: str) -> str:
        await workflow.wait_condition(lambda: self.released)
        return f"released {workflow.info().workflow_id}"


@workflow.defn
class ScheduledFailure:
    """Fails at once (not retried: workflows have no retry policy unless given one)."""

    @workflow.run
    async def run(self, arg: str) -> str:
        raise ApplicationError(f"scheduled failure: {arg}", non_retryable=True)


SCHEDULE_WORKFLOWS = [ScheduledEcho, ScheduledBlocker, ScheduledFailure]


@dataclass
class ScheduleWorker:
    task_queue: str
    worker: Worker


@asynccontextmanager
async def schedule_worker(client: Client) -> AsyncIterator[ScheduleWorker]:
    """A worker for the schedule workflows on a fresh task queue, for the body of the
    ``async with``. Unsandboxed: these workflows read nothing but ``workflow.info()``."""
    task_queue = f"sched-{uuid.uuid4()}"
    w = Worker(
        client,
        task_queue=task_queue,
        workflows=SCHEDULE_WORKFLOWS,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with w:
        yield ScheduleWorker(task_queue=task_queue, worker=w)


# ---- ids and times ---------------------------------------------------------------------------


def schedule_id(prefix: str) -> str:
    """A schedule id unique to this test run (its runs' workflow ids derive from it)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def rfc3339(t: datetime) -> str:
    """``t`` as Temporal's scheduler appends it to a workflow id: UTC, whole seconds, ``Z``."""
    return t.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduled_workflow_id(action_workflow_id: str, nominal: datetime) -> str:
    return f"{action_workflow_id}-{rfc3339(nominal)}"


def parse_rfc3339(text: str) -> datetime:
    """A protojson timestamp (``2026-01-01T00:00:00Z``, maybe with fractional seconds)."""
    text = text.replace("Z", "+00:00")
    if "." in text:
        head, frac = text.split(".", 1)
        digits = frac[: frac.index("+")] if "+" in frac else frac
        text = f"{head}.{(digits + '000000')[:6]}+00:00"
    return datetime.fromisoformat(text)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def floor_to(t: datetime, step: timedelta) -> datetime:
    """``t`` rounded down to a multiple of ``step`` since the Unix epoch (how Temporal aligns
    an interval with no phase)."""
    s = step.total_seconds()
    return datetime.fromtimestamp((t.timestamp() // s) * s, timezone.utc)


def started_run(action: ScheduleActionResult) -> ScheduleActionExecutionStartWorkflow:
    assert isinstance(action.action, ScheduleActionExecutionStartWorkflow), action
    return action.action


# ---- waiting on a schedule -------------------------------------------------------------------


async def describe_until(
    handle: ScheduleHandle,
    check: Callable[[ScheduleDescription], bool],
    what: str,
    timeout_s: float = SLOTS_S,
) -> ScheduleDescription:
    """Describes the schedule until ``check`` holds for the description, and returns it."""

    async def described() -> ScheduleDescription | None:
        d = await handle.describe()
        return d if check(d) else None

    return await wait_until(described, timeout_s, f"schedule {handle.id}: {what}")


async def quiet_window(seconds: float) -> None:
    """Lets ``seconds`` of schedule time pass: used only to show that something did NOT
    happen across a window long enough to contain at least two slots."""
    await asyncio.sleep(seconds)


@asynccontextmanager
async def deleted_after(handle: ScheduleHandle) -> AsyncIterator[ScheduleHandle]:
    """Deletes the schedule when the test is done with it, so it stops starting runs."""
    try:
        yield handle
    finally:
        try:
            await handle.delete()
        except RPCError:
            pass  # the test deleted it itself, or the server is gone


@asynccontextmanager
async def schedule_with_worker(
    client: Client, sid: str, build: Callable[[str], Schedule], **create
) -> AsyncIterator[ScheduleHandle]:
    """A worker on a fresh task queue and the schedule ``build(task_queue)`` created as ``sid``
    (``create``: create_schedule's other arguments), deleted when the body is done."""
    async with schedule_worker(client) as w:
        handle = await client.create_schedule(sid, build(w.task_queue), **create)
        async with deleted_after(handle):
            yield handle


# ---- the CLI ---------------------------------------------------------------------------------


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


async def cli_result(server, *args: str, timeout_s: float = 60) -> CliResult:
    """Runs ``temporal <args> --address ... --namespace default`` and returns what it did,
    success or not (test_cli.cli asserts success; this is for the refusals)."""
    proc = await asyncio.create_subprocess_exec(
        temporal_bin(),
        *args,
        "--address",
        server.target,
        "--namespace",
        "default",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    return CliResult(proc.returncode, out.decode(), err.decode())
