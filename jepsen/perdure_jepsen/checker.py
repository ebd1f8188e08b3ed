"""Checkers: prove from a recorded run that nothing acknowledged was lost, applied twice or
reordered, and that every read was consistent with one order of appends.

Owns: one function per check, each taking the paired operations and/or the final state and
returning a list of Anomaly; check_all, which runs them all and adds stats. Must never: read
the nemesis log for validity (faults explain anomalies, they never excuse them), call a
server, or flag what the client could not know -- an info operation may have happened at any
time after its invocation or not at all, a fail one never, and only real-time-ordered pairs
(history.precedes) constrain order.

The model (Elle's list-append idea, one list per workflow): each workflow's final `signals` is
the single order in which its appends took effect. Every acknowledged signal must be in it
exactly once, every read must be a prefix of it, and real time must agree with it.

Anomaly.ops names operations by the index of their invoke event; the anomaly's subject comes
first (the read for read anomalies, the earlier op for order anomalies).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from .history import (
    FINAL_FILE, HISTORY_FILE, NEMESIS_FILE, Event, FinalState, NemesisEvent, Operation,
    nemesis_intervals, pair_operations, precedes, read_final, read_history, read_nemesis,
)

# Every kind this module can report, in the order check_all reports them.
KINDS = (
    "lost-start",
    "lost-signal",
    "failed-signal-applied",
    "unexpected-signal",
    "duplicate-signal",
    "reordered-signal",
    "nonprefix-read",
    "stale-read",
    "future-read",
    "non-monotonic-read",
    "result-mismatch",
    "lost-finish",
    "duplicate-completion",
    "event-id-gap",
    "diverged-replica",
)


@dataclass
class Anomaly:
    kind: str
    workflow: str | None  # None for anomalies of no one workflow (diverged-replica)
    detail: str
    ops: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def _by_workflow(ops: Iterable[Operation], f: str) -> dict[str, list[Operation]]:
    out: dict[str, list[Operation]] = defaultdict(list)
    for op in ops:
        if op.f == f:
            out[op.workflow].append(op)
    return out


def _final_signals(final: FinalState, workflow: str) -> list[int]:
    # A workflow missing from the final state has no appends: everything it acked was lost.
    wf = final.workflows.get(workflow)
    return wf.signals if wf else []


# --- starts and signals ---------------------------------------------------------------------

def check_lost_starts(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    return [
        Anomaly("lost-start", op.workflow,
                f"start acknowledged (run {op.result}) but the workflow is not in the final state",
                [op.index])
        for op in ops
        if op.f == "start" and op.type == "ok" and op.workflow not in final.workflows
    ]


def check_lost_signals(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    out = []
    for op in ops:
        if op.f == "signal" and op.type == "ok" and op.arg not in _final_signals(final, op.workflow):
            where = "" if op.workflow in final.workflows else " (workflow missing)"
            out.append(Anomaly("lost-signal", op.workflow,
                               f"signal {op.arg} acknowledged but not in final signals{where}",
                               [op.index]))
    return out


def check_failed_signals_applied(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    return [
        Anomaly("failed-signal-applied", op.workflow,
                f"signal {op.arg} failed but is in final signals", [op.index])
        for op in ops
        if op.f == "signal" and op.type == "fail" and op.arg in _final_signals(final, op.workflow)
    ]


def check_unexpected_signals(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    """A value nobody sent: corruption, or another run's data."""
    sent = {(op.workflow, op.arg) for op in ops if op.f == "signal"}
    out = []
    for wf_id, wf in final.workflows.items():
        for value in dict.fromkeys(wf.signals):
            if (wf_id, value) not in sent:
                out.append(Anomaly("unexpected-signal", wf_id,
                                   f"final signals contain {value}, which no operation sent"))
    return out


def check_duplicate_signals(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    """One anomaly per duplicated value, whether in signals, result or both."""
    sender = {(op.workflow, op.arg): op.index for op in ops if op.f == "signal"}
    out = []
    for wf_id, wf in final.workflows.items():
        lists = {"signals": Counter(wf.signals), "result": Counter(wf.result or [])}
        duplicated = {v for counts in lists.values() for v, n in counts.items() if n > 1}
        for value in sorted(duplicated):
            where = ", ".join(f"{counts[value]}x in {name}" for name, counts in lists.items()
                              if counts[value] > 1)
            ops_involved = [sender[(wf_id, value)]] if (wf_id, value) in sender else []
            out.append(Anomaly("duplicate-signal", wf_id, f"value {value} appears {where}",
                               ops_involved))
    return out


def check_signal_order(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    """If signal a was acknowledged before signal b was invoked, a must precede b in signals.

    b may be ok or info (an info signal that took effect did so after its invoke); a must be
    ok, since an info a may have taken effect arbitrarily late."""
    out = []
    for wf_id, signals in _by_workflow(ops, "signal").items():
        position = {v: i for i, v in enumerate(_final_signals(final, wf_id))}
        # A failed signal that was applied anyway is failed-signal-applied, not an order issue.
        present = [s for s in signals if s.arg in position and s.type != "fail"]
        for a in present:
            for b in present:
                if a.type == "ok" and precedes(a, b) and position[a.arg] > position[b.arg]:
                    out.append(Anomaly(
                        "reordered-signal", wf_id,
                        f"signal {a.arg} was acknowledged before signal {b.arg} was invoked, "
                        f"but comes after it in final signals", [a.index, b.index]))
    return out


# --- reads ----------------------------------------------------------------------------------

def _ok_reads(ops: list[Operation]) -> dict[str, list[Operation]]:
    return {wf: [r for r in reads if r.type == "ok"]
            for wf, reads in _by_workflow(ops, "read").items()}


def check_nonprefix_reads(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    """A read not a prefix of the one append order saw appends in another order, or phantoms."""
    out = []
    for wf_id, reads in _ok_reads(ops).items():
        signals = _final_signals(final, wf_id)
        for r in reads:
            if signals[:len(r.result)] != r.result:
                out.append(Anomaly("nonprefix-read", wf_id,
                                   f"read {r.result} is not a prefix of final signals {signals}",
                                   [r.index]))
    return out


def check_stale_reads(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    """A read must see every signal acknowledged before it was invoked."""
    signals = _by_workflow(ops, "signal")
    out = []
    for wf_id, reads in _ok_reads(ops).items():
        for r in reads:
            for s in signals.get(wf_id, []):
                if s.type == "ok" and precedes(s, r) and s.arg not in r.result:
                    out.append(Anomaly("stale-read", wf_id,
                                       f"read {r.result} misses signal {s.arg}, acknowledged "
                                       f"before the read was invoked", [r.index, s.index]))
    return out


def check_future_reads(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    """A read must not see a signal invoked only after the read completed."""
    signals = _by_workflow(ops, "signal")
    out = []
    for wf_id, reads in _ok_reads(ops).items():
        for r in reads:
            for s in signals.get(wf_id, []):
                if precedes(r, s) and s.arg in r.result:
                    out.append(Anomaly("future-read", wf_id,
                                       f"read {r.result} contains signal {s.arg}, invoked after "
                                       f"the read completed", [r.index, s.index]))
    return out


def check_monotonic_reads(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    """A read completed before another was invoked must be a prefix of it: lists only grow."""
    out = []
    for wf_id, reads in _ok_reads(ops).items():
        for r1 in reads:
            for r2 in reads:
                if precedes(r1, r2) and r2.result[:len(r1.result)] != r1.result:
                    out.append(Anomaly("non-monotonic-read", wf_id,
                                       f"read {r1.result} is not a prefix of the later read "
                                       f"{r2.result}", [r1.index, r2.index]))
    return out


# --- completion -----------------------------------------------------------------------------

def check_results(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    """The workflow returns the list it built, so a completed one's result is its signals."""
    return [
        Anomaly("result-mismatch", wf_id,
                f"completed with result {wf.result} but its signals are {wf.signals}")
        for wf_id, wf in final.workflows.items()
        if wf.status == "COMPLETED" and wf.result != wf.signals
    ]


def check_lost_finishes(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    """An acknowledged finish must close the workflow; final.json is taken after waiting."""
    out = []
    for op in ops:
        if op.f != "finish" or op.type != "ok":
            continue
        wf = final.workflows.get(op.workflow)
        if wf is None or wf.status == "RUNNING":
            state = "is missing" if wf is None else "is still RUNNING"
            out.append(Anomaly("lost-finish", op.workflow,
                               f"finish acknowledged but the workflow {state}", [op.index]))
    return out


# --- server state ---------------------------------------------------------------------------

def check_duplicate_completions(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    return [
        Anomaly("duplicate-completion", wf_id,
                f"activity scheduled at event {sched} completed {n} times")
        for wf_id, wf in final.workflows.items()
        for sched, n in wf.activity_completions.items()
        if n > 1
    ]


def check_event_ids(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    out = []
    for wf_id, wf in final.workflows.items():
        expected = list(range(1, len(wf.event_ids) + 1))
        if not wf.event_ids:
            # Every existing workflow has event 1; an empty list means the reader broke.
            out.append(Anomaly("event-id-gap", wf_id, "no event ids"))
        elif wf.event_ids != expected:
            at = next(i for i, (got, want) in enumerate(zip(wf.event_ids, expected)) if got != want)
            out.append(Anomaly("event-id-gap", wf_id,
                               f"event ids are not 1..{len(expected)}: position {at} has "
                               f"{wf.event_ids[at]}, expected {expected[at]}"))
    return out


def check_replicas(ops: list[Operation], final: FinalState) -> list[Anomaly]:
    out = []
    for group, nodes in final.replicas.items():
        if len(set(nodes.values())) > 1:
            listing = ", ".join(f"{n}={c}" for n, c in sorted(nodes.items()))
            out.append(Anomaly("diverged-replica", None, f"group {group} diverged: {listing}"))
    return out


CHECKS = (
    check_lost_starts,
    check_lost_signals,
    check_failed_signals_applied,
    check_unexpected_signals,
    check_duplicate_signals,
    check_signal_order,
    check_nonprefix_reads,
    check_stale_reads,
    check_future_reads,
    check_monotonic_reads,
    check_results,
    check_lost_finishes,
    check_duplicate_completions,
    check_event_ids,
    check_replicas,
)


# --- stats (never validity) -----------------------------------------------------------------

def percentiles(values_ns: list[int]) -> dict:
    """Nearest-rank percentiles in milliseconds."""
    if not values_ns:
        return {"count": 0}
    xs = sorted(values_ns)

    def at(p: float) -> float:
        return round(xs[max(0, math.ceil(p / 100 * len(xs)) - 1)] / 1e6, 3)

    return {"count": len(xs), "p50": at(50), "p90": at(90), "p99": at(99), "max": at(100)}


def _op_counts(ops: Iterable[Operation]) -> dict:
    counts: dict[str, Counter] = defaultdict(Counter)
    for op in ops:
        counts[op.f][op.type] += 1
    return {f: {t: c[t] for t in ("ok", "fail", "info")} for f, c in sorted(counts.items())}


def _latencies(ops: Iterable[Operation]) -> dict:
    ok = [op for op in ops if op.type == "ok"]
    out = {"all": percentiles([op.latency_ns for op in ok])}
    for f in sorted({op.f for op in ok}):
        out[f] = percentiles([op.latency_ns for op in ok if op.f == f])
    return out


def _activity_stats(final: FinalState) -> dict:
    executions = [n for acts in final.activity_executions.values() for n in acts.values()]
    return {
        "activities": len(executions),
        "executions": sum(executions),
        # Re-running an activity after a fault is allowed; recording it twice is not.
        "re-executions": sum(max(0, n - 1) for n in executions),
        "completions": sum(n for wf in final.workflows.values()
                           for n in wf.activity_completions.values()),
    }


def _nemesis_stats(ops: list[Operation], events: list[Event],
                   nemesis: list[NemesisEvent]) -> dict:
    intervals = nemesis_intervals(nemesis)

    def during(op: Operation) -> bool:
        end = op.completion.time if op.completion else op.invoke.time
        return any(op.invoke.time < stop and end > start for start, stop in intervals)

    inside = [op for op in ops if during(op)]
    outside = [op for op in ops if not during(op)]
    t0 = min((e.time for e in events), default=0)
    t1 = max((e.time for e in events), default=0)
    ok_per_second = [0] * ((t1 - t0) // 1_000_000_000 + 1)
    for op in ops:
        if op.type == "ok":
            ok_per_second[(op.completion.time - t0) // 1_000_000_000] += 1
    return {
        "faults": dict(Counter(ev.kind for ev in nemesis if ev.phase == "start")),
        "intervals_s": [[(s - t0) / 1e9, None if e == math.inf else (e - t0) / 1e9]
                        for s, e in intervals],
        "ok_per_second": ok_per_second,
        "ops": {"during": _op_counts(inside), "outside": _op_counts(outside)},
        "latency_ms": {"during": _latencies(inside), "outside": _latencies(outside)},
    }


def stats(ops: list[Operation], final: FinalState, anomalies: list[Anomaly],
          events: list[Event], nemesis: list[NemesisEvent] | None = None) -> dict:
    out = {
        "anomalies": dict(Counter(a.kind for a in anomalies)),
        "ops": _op_counts(ops),
        "workflows": len(final.workflows),
        "activities": _activity_stats(final),
        "latency_ms": _latencies(ops),
    }
    if nemesis is not None:
        out["nemesis"] = _nemesis_stats(ops, events, nemesis)
    return out


def check_all(events: list[Event], final: FinalState,
              nemesis: list[NemesisEvent] | None = None) -> dict:
    """Runs every check; the dict is what results.json holds. Raises HistoryError if the
    history breaks its format contract (a malformed run proves nothing either way)."""
    ops = pair_operations(events)
    anomalies = [a for check in CHECKS for a in check(ops, final)]
    return {
        "valid": not anomalies,
        "anomalies": [a.to_json() for a in anomalies],
        "stats": stats(ops, final, anomalies, events, nemesis),
    }


def check_run_dir(run_dir: str | Path) -> dict:
    run_dir = Path(run_dir)
    nemesis_path = run_dir / NEMESIS_FILE
    return check_all(
        read_history(run_dir / HISTORY_FILE),
        read_final(run_dir / FINAL_FILE),
        read_nemesis(nemesis_path) if nemesis_path.exists() else None,
    )
