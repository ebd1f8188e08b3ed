"""The workload: real Python SDK clients and workers driving list-append workflows through the
nodes of the cluster under test, recording every operation for the checkers.

Each workflow (``JepsenAppender``) keeps a list of ints: the ``append`` signal adds one (and the
workflow runs an activity for it, so activity executions and completions can be counted), the
``read`` query (or the ``read_update`` update) returns the list, the ``finish`` signal makes it
return the list. Client
processes (one operation at a time each, on a client of one node) start workflows, append
unique values, read and finish, and write every invoke and completion to ``history.jsonl`` in
the format of ``history.py``. Workers poll on every node. After the run, ``read_final`` looks
every workflow up and writes what the checkers compare against.

Owns: the workflow and activity definitions, the choice of operations (seeded), classifying a
call's outcome as ok / fail (definitely did not happen) / info (unknown), and reading the final
state. Must never: classify an outcome as fail unless the server said the operation did not and
will not happen (a timeout or an unavailable node is info), retry an operation under the same
value, or wait without a deadline.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from .history import FINAL_FILE, HISTORY_FILE

TASK_QUEUE = "jepsen"
#: Deadline of one operation: past it, the outcome is unknown (info).
OP_TIMEOUT = timedelta(seconds=5)
#: Values appended to one workflow at most, so a history stays small.
MAX_APPENDS = 40


# ---- the workflow under test ----------------------------------------------------------------


@activity.defn(name="jepsen_note")
async def note(value: int) -> int:
    """Records that a worker executed this activity (re-executions are counted, not hidden)."""
    info = activity.info()
    EXECUTIONS[info.workflow_id][info.activity_id] += 1
    return value


#: workflow id -> activity id -> executions, by the workers of this process.
EXECUTIONS: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))


@workflow.defn(name="JepsenAppender")
class Appender:
    def __init__(self) -> None:
        self.values: list[int] = []
        self.unnoted: list[int] = []
        self.done = False

    @workflow.run
    async def run(self) -> list[int]:
        while True:
            await workflow.wait_condition(lambda: bool(self.unnoted) or self.done)
            while self.unnoted:
                await workflow.execute_activity(
                    note,
                    self.unnoted.pop(0),
                    start_to_close_timeout=timedelta(seconds=10),
                )
            if self.done and not self.unnoted:
                return self.values

    @workflow.signal
    def append(self, value: int) -> None:
        self.values.append(value)
        self.unnoted.append(value)

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.query
    def read(self) -> list[int]:
        return list(self.values)

    @workflow.update
    def read_update(self) -> list[int]:
        """The same read, as an update: it goes through history (and the update path)."""
        return list(self.values)


# ---- recording ------------------------------------------------------------------------------


class Recorder:
    """history.jsonl, written as operations happen (line-buffered: a crash keeps what was seen)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("w", buffering=1)
        self._index = 0

    def event(self, process: str, kind: str, f: str, wf: str, value: Any) -> int:
        index = self._index
        self._index += 1
        line = {
            "index": index,
            "time": time.monotonic_ns(),
            "process": process,
            "type": kind,
            "f": f,
            "workflow": wf,
            "value": value,
        }
        self._file.write(json.dumps(line) + "\n")
        return index

    def close(self) -> None:
        self._file.close()


#: Status codes that mean the server refused before doing anything: the call did not and will
#: not happen. Everything else (deadline, unavailable, internal, cancelled) is unknown.
DEFINITE_FAILURES = {
    RPCStatusCode.NOT_FOUND,
    RPCStatusCode.INVALID_ARGUMENT,
    RPCStatusCode.ALREADY_EXISTS,
    RPCStatusCode.FAILED_PRECONDITION,
}


def outcome_of(err: BaseException, mutating: bool) -> str:
    if not mutating:
        # A read changes nothing: any error just means it saw nothing.
        return "fail"
    if isinstance(err, RPCError) and err.status in DEFINITE_FAILURES:
        return "fail"
    return "info"


# ---- clients --------------------------------------------------------------------------------


@dataclass
class Shared:
    """What the client processes share: the workflows, and the next value to append."""

    rng: random.Random
    prefix: str
    open: list[str] = field(default_factory=list)
    appends: dict[str, int] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    next_value: int = 0
    next_workflow: int = 0


async def client_process(
    name: str,
    client: Client,
    shared: Shared,
    recorder: Recorder,
    until: float,
    rate: float,
    max_open: int,
) -> None:
    """One client: operations one at a time until `until` (monotonic seconds), about `rate` per
    second."""
    while time.monotonic() < until:
        began = time.monotonic()
        await one_operation(name, client, shared, recorder, max_open)
        pause = 1.0 / rate - (time.monotonic() - began)
        if pause > 0:
            await asyncio.sleep(pause)


async def one_operation(
    name: str, client: Client, shared: Shared, recorder: Recorder, max_open: int
) -> None:
    rng = shared.rng
    if len(shared.open) < max_open and (not shared.open or rng.random() < 0.1):
        wf = f"{shared.prefix}-{shared.next_workflow}"
        shared.next_workflow += 1
        shared.started.append(wf)
        await start(name, client, wf, recorder)
        shared.open.append(wf)
        shared.appends[wf] = 0
        return
    wf = rng.choice(shared.open)
    roll = rng.random()
    if shared.appends[wf] >= MAX_APPENDS or roll < 0.04:
        shared.open.remove(wf)
        await finish(name, client, wf, recorder)
    elif roll < 0.7:
        value = shared.next_value
        shared.next_value += 1
        shared.appends[wf] += 1
        await append(name, client, wf, value, recorder)
    else:
        await read(name, client, wf, recorder, by_update=roll >= 0.85)


async def start(name: str, client: Client, wf: str, recorder: Recorder) -> None:
    recorder.event(name, "invoke", "start", wf, None)
    try:
        handle = await client.start_workflow(
            Appender.run, id=wf, task_queue=TASK_QUEUE, rpc_timeout=OP_TIMEOUT
        )
    except Exception as err:  # noqa: BLE001 - every failure is recorded, none is fatal
        recorder.event(name, outcome_of(err, True), "start", wf, None)
        return
    recorder.event(name, "ok", "start", wf, handle.result_run_id)


async def append(name: str, client: Client, wf: str, value: int, recorder: Recorder) -> None:
    await signal_op(name, client, wf, "signal", Appender.append, value, recorder)


async def finish(name: str, client: Client, wf: str, recorder: Recorder) -> None:
    await signal_op(name, client, wf, "finish", Appender.finish, None, recorder)


async def signal_op(name, client, wf, f, signal, value, recorder) -> None:
    recorder.event(name, "invoke", f, wf, value)
    try:
        handle = client.get_workflow_handle(wf)
        if value is None:
            await handle.signal(signal, rpc_timeout=OP_TIMEOUT)
        else:
            await handle.signal(signal, value, rpc_timeout=OP_TIMEOUT)
    except Exception as err:  # noqa: BLE001
        recorder.event(name, outcome_of(err, True), f, wf, None)
        return
    recorder.event(name, "ok", f, wf, None)


async def read(
    name: str, client: Client, wf: str, recorder: Recorder, by_update: bool = False
) -> None:
    """Reads the list with a query, or with an update (`by_update`). Either way a read changes
    no value, so any error means it saw nothing (fail)."""
    recorder.event(name, "invoke", "read", wf, None)
    handle = client.get_workflow_handle(wf)
    try:
        if by_update:
            values = await handle.execute_update(Appender.read_update, rpc_timeout=OP_TIMEOUT)
        else:
            values = await handle.query(Appender.read, rpc_timeout=OP_TIMEOUT)
    except Exception as err:  # noqa: BLE001
        recorder.event(name, outcome_of(err, False), "read", wf, None)
        return
    recorder.event(name, "ok", "read", wf, list(values))


# ---- workers --------------------------------------------------------------------------------


def worker_for(client: Client) -> Worker:
    return Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[Appender],
        activities=[note],
        # Short so a worker on a node that vanished gives its cached runs back quickly.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=2),
    )


# ---- the final state ------------------------------------------------------------------------


async def finish_all(
    name: str, client: Client, shared: Shared, recorder: Recorder, deadline_s: float
) -> None:
    """Finishes every workflow still open (recorded like any operation), retrying an unknown
    outcome with a new operation until it is acknowledged or the deadline passes."""
    until = time.monotonic() + deadline_s
    pending = list(dict.fromkeys(shared.open))
    shared.open.clear()
    while pending and time.monotonic() < until:
        wf = pending.pop(0)
        recorder.event(name, "invoke", "finish", wf, None)
        try:
            await client.get_workflow_handle(wf).signal(Appender.finish, rpc_timeout=OP_TIMEOUT)
        except Exception as err:  # noqa: BLE001
            kind = outcome_of(err, True)
            recorder.event(name, kind, "finish", wf, None)
            if kind == "info":
                pending.append(wf)
            continue
        recorder.event(name, "ok", "finish", wf, None)


async def wait_closed(client: Client, workflows: list[str], deadline_s: float) -> None:
    until = time.monotonic() + deadline_s
    for wf in workflows:
        while time.monotonic() < until:
            try:
                desc = await client.get_workflow_handle(wf).describe(rpc_timeout=OP_TIMEOUT)
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    break
                await asyncio.sleep(0.2)
                continue
            if desc.status != WorkflowExecutionStatus.RUNNING:
                break
            await asyncio.sleep(0.2)


async def read_workflow(client: Client, wf: str) -> dict[str, Any] | None:
    handle = client.get_workflow_handle(wf)
    try:
        desc = await handle.describe(rpc_timeout=OP_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    events = [e async for e in handle.fetch_history_events()]
    signals: list[int] = []
    completions: dict[str, int] = defaultdict(int)
    result = None
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            a = e.workflow_execution_signaled_event_attributes
            if a.signal_name == "append":
                signals.append(json.loads(a.input.payloads[0].data))
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completions[str(e.activity_task_completed_event_attributes.scheduled_event_id)] += 1
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            payloads = e.workflow_execution_completed_event_attributes.result.payloads
            result = json.loads(payloads[0].data) if payloads else None
    return {
        "status": WorkflowExecutionStatus(desc.status).name,
        "result": result,
        "signals": signals,
        "event_ids": [e.event_id for e in events],
        "activity_completions": dict(completions),
    }


async def read_final(
    client: Client, workflows: list[str], replicas: dict[str, dict[str, str]], run_dir: Path
) -> dict[str, Any]:
    final: dict[str, Any] = {"workflows": {}, "replicas": replicas}
    for wf in workflows:
        found = await read_workflow(client, wf)
        if found is not None:
            final["workflows"][wf] = found
    final["activity_executions"] = {
        wf: dict(acts) for wf, acts in EXECUTIONS.items() if wf in set(workflows)
    }
    (run_dir / FINAL_FILE).write_text(json.dumps(final, indent=1, sort_keys=True))
    return final


__all__ = [
    "Appender",
    "HISTORY_FILE",
    "Recorder",
    "Shared",
    "TASK_QUEUE",
    "client_process",
    "finish_all",
    "note",
    "read_final",
    "wait_closed",
    "worker_for",
]
