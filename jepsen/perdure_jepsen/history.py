"""The recorded-run formats: what the workload writes and the checkers read.

Owns: the file formats of a run directory, their typed records, their validation, and pairing
each invocation with its completion. Must never: judge whether a run was correct (that is
checker.py), talk to a server, or guess at a malformed file -- a history that breaks the
contract raises HistoryError, because a checker that silently repairs its input can prove
anything.

A run directory holds:

history.jsonl -- one operation event per line, in the order they happened:

    {"index": 0, "time": 1234, "process": "c1", "type": "invoke", "f": "signal",
     "workflow": "wf-3", "value": 17}

- index: int, 0.., strictly increasing in file order. An operation is named by the index of
  its invoke event; anomalies list operations by that index.
- time: int, nanoseconds from a monotonic clock (time.monotonic_ns() on the runner host).
  nemesis.jsonl uses the same clock. Real-time order is strict: A precedes B only if A's
  completion time < B's invoke time; equal times count as concurrent.
- process: str, the client id. A process does one operation at a time: each invoke is followed,
  later in the file (maybe after other processes' events), by exactly one completion of the
  same process before that process invokes again.
- type: "invoke" | "ok" | "fail" | "info".
    ok   -- acknowledged: it happened.
    fail -- it definitely did not happen (the server said so before doing anything).
    info -- unknown (timeout, connection lost): it may happen, now or later, or never.
  An invoke with no completion by the end of the file is treated as info.
- f and workflow: str; a completion repeats its invoke's f and workflow.
- value, by f:
    start  -- invoke null; ok: the run id (str).
    signal -- invoke: an int to append to the workflow's list, unique per workflow across the
              whole history (a retry after info is a new operation with a new value, never the
              same value again); completion: null.
    read   -- invoke null; ok: the workflow's list of ints (query or update).
    finish -- signals the workflow to complete with its list; invoke and ok null.
  Other f values are counted in stats and otherwise ignored.

final.json -- the state read after the nemeses healed (and after every workflow with an
acknowledged finish has closed, or a deadline passed):

    {"workflows": {wf_id: {"status": "COMPLETED" | "RUNNING" | "FAILED" | ...,
                           "result": [ints] | null,
                           "signals": [ints],
                           "event_ids": [ints],
                           "activity_completions": {"5": 1}}},
     "replicas": {group_id: {node_id: checksum}},
     "activity_executions": {wf_id: {activity_id: times a worker executed it}}}

- workflows: every workflow id the history mentions is looked up; one the server says does not
  exist is absent. status is the WorkflowExecutionStatus name without its prefix.
- signals: the int payloads of the append signal's WorkflowExecutionSignaled events, in history
  order; the finish signal is not in it.
- event_ids: every event id of the history, in order.
- activity_completions: scheduled event id (as a string, JSON keys are) -> number of
  ActivityTaskCompleted events naming it.

nemesis.jsonl (optional) -- {"time": int, "kind": str, "phase": "start" | "stop", "detail": any}
per line; only for stats, never for validity.

run.json (optional) -- free-form run metadata; "seed" is shown by report.summarize.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

HISTORY_FILE = "history.jsonl"
FINAL_FILE = "final.json"
NEMESIS_FILE = "nemesis.jsonl"
RUN_FILE = "run.json"
RESULTS_FILE = "results.json"

EVENT_TYPES = ("invoke", "ok", "fail", "info")
COMPLETION_TYPES = ("ok", "fail", "info")


class HistoryError(ValueError):
    """The recorded run breaks the format contract above."""


def _is_int(x: Any) -> bool:
    # bool is an int subclass; true/false in a history is a workload bug, not a value.
    return isinstance(x, int) and not isinstance(x, bool)


def _is_int_list(x: Any) -> bool:
    return isinstance(x, list) and all(_is_int(v) for v in x)


@dataclass(frozen=True)
class Event:
    """One line of history.jsonl."""

    index: int
    time: int
    process: str
    type: str
    f: str
    workflow: str
    value: Any = None

    @staticmethod
    def from_json(obj: Any, where: str = "") -> Event:
        if not isinstance(obj, dict):
            raise HistoryError(f"{where}: expected an object, got {obj!r}")
        missing = {"index", "time", "process", "type", "f", "workflow"} - obj.keys()
        if missing:
            raise HistoryError(f"{where}: missing {sorted(missing)}")
        if not _is_int(obj["index"]) or not _is_int(obj["time"]):
            raise HistoryError(f"{where}: index and time must be ints")
        for key in ("process", "f", "workflow"):
            if not isinstance(obj[key], str):
                raise HistoryError(f"{where}: {key} must be a string, got {obj[key]!r}")
        if obj["type"] not in EVENT_TYPES:
            raise HistoryError(f"{where}: type must be one of {EVENT_TYPES}, got {obj['type']!r}")
        return Event(obj["index"], obj["time"], obj["process"], obj["type"], obj["f"],
                     obj["workflow"], obj.get("value"))

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Operation:
    """An invocation and its completion; completion is None if the history ended first."""

    invoke: Event
    completion: Event | None

    @property
    def index(self) -> int:
        return self.invoke.index

    @property
    def f(self) -> str:
        return self.invoke.f

    @property
    def workflow(self) -> str:
        return self.invoke.workflow

    @property
    def process(self) -> str:
        return self.invoke.process

    @property
    def type(self) -> str:
        # Never completed: it may still take effect, which is exactly what info means.
        return self.completion.type if self.completion else "info"

    @property
    def arg(self) -> Any:
        return self.invoke.value

    @property
    def result(self) -> Any:
        return self.completion.value if self.completion else None

    @property
    def latency_ns(self) -> int | None:
        return self.completion.time - self.invoke.time if self.completion else None


def precedes(a: Operation, b: Operation) -> bool:
    """a completed before b was invoked: the only order real time lets a checker rely on."""
    return a.completion is not None and a.completion.time < b.invoke.time


def pair_operations(events: Iterable[Event]) -> list[Operation]:
    """Pairs each invoke with its process's next completion, validating the contract."""
    pending: dict[str, Event] = {}
    ops: dict[int, Operation] = {}
    last_index = None
    for ev in events:
        if last_index is not None and ev.index <= last_index:
            raise HistoryError(f"event {ev.index}: index not increasing (after {last_index})")
        last_index = ev.index
        if ev.type == "invoke":
            if ev.process in pending:
                raise HistoryError(f"event {ev.index}: process {ev.process!r} invoked while "
                                   f"operation {pending[ev.process].index} is pending")
            pending[ev.process] = ev
            ops[ev.index] = Operation(ev, None)
            continue
        inv = pending.pop(ev.process, None)
        if inv is None:
            raise HistoryError(f"event {ev.index}: {ev.type} of process {ev.process!r} with no "
                               f"pending invoke")
        if (ev.f, ev.workflow) != (inv.f, inv.workflow):
            raise HistoryError(f"event {ev.index}: completes {inv.f} {inv.workflow} "
                               f"(event {inv.index}) but says {ev.f} {ev.workflow}")
        if ev.time < inv.time:
            raise HistoryError(f"event {ev.index}: completed before its invoke {inv.index}")
        ops[inv.index] = Operation(inv, ev)
    result = list(ops.values())
    _validate_values(result)
    return result


def _validate_values(ops: list[Operation]) -> None:
    seen_signal: dict[tuple[str, int], int] = {}
    for op in ops:
        if op.f == "signal":
            if not _is_int(op.arg):
                raise HistoryError(f"operation {op.index}: signal value must be an int")
            key = (op.workflow, op.arg)
            if key in seen_signal:
                # Checkers map a value back to the one operation that sent it.
                raise HistoryError(f"operation {op.index}: signal value {op.arg} to "
                                   f"{op.workflow} already sent by operation {seen_signal[key]}")
            seen_signal[key] = op.index
        elif op.f == "read" and op.type == "ok" and not _is_int_list(op.result):
            raise HistoryError(f"operation {op.index}: ok read must return a list of ints")


def read_history(path: str | Path) -> list[Event]:
    events = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise HistoryError(f"{where}: {e}") from None
            events.append(Event.from_json(obj, where))
    return events


def write_history(path: str | Path, events: Iterable[Event]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for ev in events:
            fh.write(json.dumps(ev.to_json(), separators=(",", ":")) + "\n")


@dataclass
class WorkflowFinal:
    status: str
    result: list[int] | None = None
    signals: list[int] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)
    activity_completions: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def from_json(obj: Any, where: str) -> WorkflowFinal:
        if not isinstance(obj, dict) or not isinstance(obj.get("status"), str):
            raise HistoryError(f"{where}: needs a string status")
        wf = WorkflowFinal(
            status=obj["status"],
            result=obj.get("result"),
            signals=obj.get("signals", []),
            event_ids=obj.get("event_ids", []),
            activity_completions=obj.get("activity_completions", {}),
        )
        if not (wf.result is None or _is_int_list(wf.result)):
            raise HistoryError(f"{where}: result must be null or a list of ints")
        if not _is_int_list(wf.signals) or not _is_int_list(wf.event_ids):
            raise HistoryError(f"{where}: signals and event_ids must be lists of ints")
        if not isinstance(wf.activity_completions, dict) or not all(
                _is_int(n) for n in wf.activity_completions.values()):
            raise HistoryError(f"{where}: activity_completions must map ids to ints")
        return wf


@dataclass
class FinalState:
    workflows: dict[str, WorkflowFinal] = field(default_factory=dict)
    replicas: dict[str, dict[str, str]] = field(default_factory=dict)
    activity_executions: dict[str, dict[str, int]] = field(default_factory=dict)

    @staticmethod
    def from_json(obj: Any, where: str = "final.json") -> FinalState:
        if not isinstance(obj, dict):
            raise HistoryError(f"{where}: expected an object")
        workflows = obj.get("workflows", {})
        replicas = obj.get("replicas", {})
        executions = obj.get("activity_executions", {})

        def objects(*xs):
            return all(isinstance(x, dict) for x in xs)

        if not (objects(workflows, replicas, executions) and objects(*replicas.values())
                and objects(*executions.values())):
            raise HistoryError(f"{where}: workflows, replicas (group -> node -> checksum) and "
                               f"activity_executions (workflow -> activity -> count) are objects")
        return FinalState(
            workflows={wf: WorkflowFinal.from_json(v, f"{where} workflow {wf}")
                       for wf, v in workflows.items()},
            replicas={str(g): {str(n): str(c) for n, c in nodes.items()}
                      for g, nodes in replicas.items()},
            activity_executions={wf: dict(acts) for wf, acts in executions.items()},
        )

    def to_json(self) -> dict:
        return asdict(self)


def read_final(path: str | Path) -> FinalState:
    with open(path, encoding="utf-8") as fh:
        try:
            obj = json.load(fh)
        except json.JSONDecodeError as e:
            raise HistoryError(f"{path}: {e}") from None
    return FinalState.from_json(obj, str(path))


def write_final(path: str | Path, final: FinalState) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(final.to_json(), fh, indent=1)


@dataclass(frozen=True)
class NemesisEvent:
    time: int
    kind: str
    phase: str
    detail: Any = None

    def to_json(self) -> dict:
        return asdict(self)


def read_nemesis(path: str | Path) -> list[NemesisEvent]:
    events = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise HistoryError(f"{path}:{lineno}: {e}") from None
            if not isinstance(obj, dict) or not _is_int(obj.get("time")) or obj.get("phase") not in ("start", "stop"):
                raise HistoryError(f"{path}:{lineno}: needs an int time and phase start|stop")
            events.append(NemesisEvent(obj["time"], str(obj.get("kind", "")), obj["phase"],
                                       obj.get("detail")))
    return events


def write_nemesis(path: str | Path, events: Iterable[NemesisEvent]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for ev in events:
            fh.write(json.dumps(ev.to_json(), separators=(",", ":")) + "\n")


def nemesis_intervals(events: Iterable[NemesisEvent]) -> list[tuple[int, float]]:
    """The periods during which at least one nemesis was active, as (start, end) times.

    Counting starts and stops rather than pairing them by kind: overlapping faults of one kind
    need no matching rule. A fault never stopped lasts forever (end = inf)."""
    intervals: list[tuple[int, float]] = []
    active, opened = 0, 0
    for ev in sorted(events, key=lambda e: e.time):
        if ev.phase == "start":
            if active == 0:
                opened = ev.time
            active += 1
        elif active > 0:
            # A stop with nothing active (e.g. a defensive heal at the end) changes nothing.
            active -= 1
            if active == 0:
                intervals.append((opened, ev.time))
    if active > 0:
        intervals.append((opened, float("inf")))
    return intervals


def read_run_meta(run_dir: str | Path) -> dict:
    path = Path(run_dir) / RUN_FILE
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
