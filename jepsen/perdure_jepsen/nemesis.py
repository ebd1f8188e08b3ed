"""Nemeses: faults injected into the cluster under test, each with ``start`` (inject) and ``stop``
(heal), and a scheduler that alternates fault and heal intervals from a seed.

Every start and stop is one line of ``nemesis.jsonl`` (history.py's format)::

    {"time": <time.monotonic_ns()>, "kind": "isolate", "phase": "start", "detail": {...}}

``time`` is taken just before the fault is injected (start) and just after it is healed (stop),
so the interval a line pair spans always covers the fault. ``detail`` says what was done:
slots (hosts), the node ids running there, the partition as slot -> slots it cannot reach,
errors of a heal that did not fully succeed.

Faults (kind: what start does / what stop does):
    isolate          one random live slot cut off from every other node / heal
    isolate-leader   the slot leading most groups (its peers' view) cut off / heal
    halves           random split into a minority and a majority / heal
    majority-ring    each node sees a majority, no two the same one (with 3 nodes: a bridge,
                     one link cut, the node in the middle sees both) / heal
    kill             SIGKILL one live slot (random, or target="leader": the one leading most
                     groups) / restart it, wait for /health (bounded)
    pause            SIGSTOP one live slot (random or target="leader") / SIGCONT
    clock            (clock.py) move one live slot's wall clock by a seeded offset, through
                     libfaketime (random or target="leader") / every clock back to real time
    lazyfs           (lazyfs.py) SIGKILL one live slot, or every node at once (1 in 3), and
                     drop their unfsynced writes / restart them, wait for /health (bounded)
Clients in the root namespace always reach every node: partitions cut node-to-node links only.

Adding a fault is one class: subclass ``Nemesis``, set ``kind``, implement ``start(ctx)`` and
``stop(ctx)`` returning the detail dicts (the scheduler logs them), and list an instance in the
scheduler's ``nemeses``. ``stop`` must heal whatever ``start`` did, even a partial start, and
must be safe to call twice.

Owns: choosing targets (from ``Context.rng`` only, so a seed replays the same choices given the
same cluster answers) and recording. Must never: leave a fault in place when the scheduler ends
(its ``finally`` heals everything: network, paused and dead nodes), wait without a deadline, or
run two faults at once (one at a time keeps the record readable; overlapping is a later option).
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .net import Network
from .nodes import Cluster, NodeError

NEMESIS_FILE = "nemesis.jsonl"
#: How long a kill's stop waits for the restarted node's /health.
RESTART_HEALTHY_S = 60.0


class NemesisLog:
    """Appends nemesis.jsonl lines (thread-safe, flushed per line)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fh = open(self.path, "a", encoding="utf-8")

    def record(self, kind: str, phase: str, detail: Any, at_ns: int | None = None) -> dict:
        line = {
            "time": time.monotonic_ns() if at_ns is None else at_ns,
            "kind": kind,
            "phase": phase,
            "detail": detail,
        }
        with self._lock:
            self._fh.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")
            self._fh.flush()
        return line

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()


@dataclass
class Context:
    """What a nemesis acts on. ``rng`` is the only source of randomness for target choices."""

    net: Network
    cluster: Cluster
    rng: random.Random
    log: NemesisLog

    def ids(self, slots: Sequence[int]) -> dict[int, int]:
        """slot -> node id running there now (for details: views name node ids)."""
        return {s: self.cluster.node_id(s) for s in slots}


class Nemesis:
    """One kind of fault. Subclasses set ``kind`` and implement start/stop, returning details."""

    kind = "nemesis"

    def start(self, ctx: Context) -> dict:
        raise NotImplementedError

    def stop(self, ctx: Context) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind}>"


# --- partitions ------------------------------------------------------------------------------


def _grudge_json(grudge: dict[int, set[int] | frozenset[int] | list[int]]) -> dict[str, list[int]]:
    return {str(a): sorted(b) for a, b in sorted(grudge.items()) if b}


def _complement(slots: Sequence[int], keep: dict[int, set[int]]) -> dict[int, set[int]]:
    """From 'a sees these' to 'a cannot reach these'."""
    return {a: {b for b in slots if b != a and b not in keep[a]} for a in slots}


class Partition(Nemesis):
    """Base of the partitions: ``grudge(ctx)`` picks slot -> slots it cannot reach among the
    cluster's members (a spare slot holds no node: cutting it off would be no fault); start
    installs it (iptables in the namespaces), stop heals every link."""

    def grudge(self, ctx: Context) -> tuple[dict[int, set[int]], dict]:
        """(grudge, extra detail)."""
        raise NotImplementedError

    def start(self, ctx: Context) -> dict:
        grudge, extra = self.grudge(ctx)
        ctx.net.set_grudge(grudge)
        full = {s: ctx.net.grudge.get(s, frozenset()) for s in ctx.net.slots}
        return {"grudge": _grudge_json(full), "node_ids": ctx.ids(ctx.net.slots), **extra}

    def stop(self, ctx: Context) -> dict:
        ctx.net.heal()
        return {}


class IsolateOne(Partition):
    kind = "isolate"

    def grudge(self, ctx):
        slots = ctx.cluster.members
        victim = ctx.rng.choice(slots)
        return {victim: set(slots) - {victim}}, {"isolated": victim}


class IsolateLeader(Partition):
    """Cuts off the live slot that leads the most groups, as the live nodes see it (ties broken
    by the rng; see pick_target). With no live slot, a random one."""

    kind = "isolate-leader"

    def grudge(self, ctx):
        slots = ctx.cluster.members
        victim, extra = pick_target(ctx, "leader")
        if victim is None:
            victim = ctx.rng.choice(slots)
        return {victim: set(slots) - {victim}}, {"isolated": victim, **extra}


class RandomHalves(Partition):
    """A random minority (floor(n/2) slots) cut off from the majority."""

    kind = "halves"

    def grudge(self, ctx):
        slots = list(ctx.cluster.members)
        ctx.rng.shuffle(slots)
        minority, majority = sorted(slots[: len(slots) // 2]), sorted(slots[len(slots) // 2 :])
        return {a: set(majority) for a in minority}, {"minority": minority, "majority": majority}


def majority_ring(slots: Sequence[int]) -> dict[int, set[int]]:
    """slot -> the slots it sees (itself included) such that each sees a majority and no two
    see the same one, for links that are cut both ways. Slots in the given order form a ring;
    each keeps its nearest neighbours on both sides until it sees a majority. With 3 slots no
    symmetric layout gives three different majorities: one link is cut (a bridge), the middle
    slot sees all."""
    n = len(slots)
    majority = n // 2 + 1
    if n < 3:
        return {s: set(slots) for s in slots}
    if n == 3:
        a, b, c = slots
        return {a: {a, b}, b: {a, b, c}, c: {b, c}}
    sees: dict[int, set[int]] = {}
    k = majority // 2  # neighbours on each side: 2k >= majority - 1 others
    for i, s in enumerate(slots):
        sees[s] = {slots[(i + d) % n] for d in range(-k, k + 1)}
    return sees


class MajorityRing(Partition):
    kind = "majority-ring"

    def grudge(self, ctx):
        ring = list(ctx.cluster.members)
        ctx.rng.shuffle(ring)
        sees = majority_ring(ring)
        shown = {str(s): sorted(v) for s, v in sees.items()}
        return _complement(ring, sees), {"ring": ring, "sees": shown}


# --- processes --------------------------------------------------------------------------------


def pick_target(ctx: Context, target: str) -> tuple[int | None, dict]:
    """A live slot: ``"random"``, or ``"leader"``, the one leading most groups as the live nodes
    see it (ties and an unanswered view fall back to the rng). (slot or None, detail)."""
    live = ctx.cluster.live()
    if not live:
        return None, {"skipped": "no live slot"}
    if target == "random":
        return ctx.rng.choice(live), {}
    if target != "leader":
        raise ValueError(f"target must be 'random' or 'leader', not {target!r}")
    try:
        counts = ctx.cluster.leader_counts()
    except NodeError as e:
        return ctx.rng.choice(live), {"fallback": f"no leader view ({e}); random slot"}
    best = max(counts[s] for s in live)
    return ctx.rng.choice([s for s in live if counts[s] == best]), {
        "leader_counts": {str(s): c for s, c in counts.items()}
    }


class Kill(Nemesis):
    """SIGKILL one live slot (``target``: "random" or "leader", see pick_target); stop restarts
    it on the same data directory and waits for its /health (bounded: a node that is not healthy
    in time is recorded, not raised)."""

    kind = "kill"

    def __init__(self, target: str = "random", healthy_deadline_s: float = RESTART_HEALTHY_S):
        self.target = target
        self.healthy_deadline_s = healthy_deadline_s
        self.victims: list[int] = []

    def start(self, ctx):
        victim, extra = pick_target(ctx, self.target)
        if victim is None:
            return extra
        self.victims.append(victim)
        detail = {
            "slot": victim,
            "node_id": ctx.cluster.node_id(victim),
            "pid": ctx.cluster.node(victim).pid,
            **extra,
        }
        ctx.cluster.kill(victim)
        return detail

    def stop(self, ctx):
        detail: dict[str, Any] = {"restarted": [], "errors": {}}
        for victim in self.victims:
            t0 = time.monotonic()
            try:
                ctx.cluster.restart(victim, wait=False)
                detail["restarted"].append(victim)
                ctx.cluster.wait_healthy([victim], self.healthy_deadline_s)
                took = round(time.monotonic() - t0, 3)
                detail.setdefault("healthy_after_s", {})[str(victim)] = took
            except NodeError as e:
                detail["errors"][str(victim)] = str(e).splitlines()[0]
        self.victims = []
        return detail


class WipeDisk(Nemesis):
    """A node loses its disk: start SIGKILLs one live slot; stop deletes its data directory,
    removes its node id from the cluster and starts the slot again under a new node id that
    joins and is restored by snapshot (``Cluster.wipe_and_rejoin``), waiting (bounded) for its
    /health. Nothing acknowledged may be lost: every group keeps a majority of its replicas."""

    kind = "wipe"

    def __init__(self, healthy_deadline_s: float = RESTART_HEALTHY_S):
        self.healthy_deadline_s = healthy_deadline_s
        self.victims: list[int] = []

    def start(self, ctx):
        victim, extra = pick_target(ctx, "random")
        if victim is None:
            return extra
        self.victims.append(victim)
        detail = {"slot": victim, "node_id": ctx.cluster.node_id(victim), **extra}
        ctx.cluster.kill(victim)
        return detail

    def stop(self, ctx):
        detail: dict[str, Any] = {"rejoined": {}, "errors": {}}
        for victim in self.victims:
            t0 = time.monotonic()
            try:
                new_id = ctx.cluster.wipe_and_rejoin(
                    victim, wait=True, deadline_s=self.healthy_deadline_s
                )
                detail["rejoined"][str(victim)] = {
                    "node_id": new_id,
                    "healthy_after_s": round(time.monotonic() - t0, 3),
                }
            except NodeError as e:
                detail["errors"][str(victim)] = str(e).splitlines()[0]
        self.victims = []
        return detail


class Pause(Nemesis):
    """SIGSTOP one live slot (``target`` as for Kill; the process keeps its sockets: peers see
    a node that accepts connections and never answers); stop sends SIGCONT."""

    kind = "pause"

    def __init__(self, target: str = "random"):
        self.target = target
        self.victims: list[int] = []

    def start(self, ctx):
        victim, extra = pick_target(ctx, self.target)
        if victim is None:
            return extra
        self.victims.append(victim)
        ctx.cluster.pause(victim)
        return {"slot": victim, "node_id": ctx.cluster.node_id(victim), **extra}

    def stop(self, ctx):
        resumed = []
        for victim in self.victims:
            ctx.cluster.resume(victim)
            resumed.append(victim)
        self.victims = []
        return {"resumed": resumed}


def default_nemeses() -> list[Nemesis]:
    return [
        IsolateOne(), IsolateLeader(), RandomHalves(), MajorityRing(),
        Kill(), Kill(target="leader"), Pause(), Pause(target="leader"),
    ]  # fmt: skip


# --- scheduling --------------------------------------------------------------------------------


def heal_everything(ctx: Context, healthy_deadline_s: float = RESTART_HEALTHY_S) -> dict:
    """Whatever state the faults left: every link back, every paused node resumed, every
    hook's fault undone (a hook with a ``reset()`` method, e.g. clock.ClockHook: every clock
    back to real time), every dead node restarted (bounded wait for its /health). Returns
    what it did."""
    done: dict[str, Any] = {}
    try:
        ctx.net.heal()
    except Exception as e:  # noqa: BLE001 - keep healing the rest
        done["heal_error"] = str(e)
    # Found by method, not by type: nemesis.py must not import the hook modules (they import
    # it), and a hook with nothing to undo simply has no reset().
    for hook in getattr(ctx.cluster, "hooks", ()):
        reset = getattr(hook, "reset", None)
        if callable(reset):
            try:
                done.setdefault("hooks", {})[type(hook).__name__] = reset()
            except Exception as e:  # noqa: BLE001 - keep healing the rest
                done.setdefault("hook_errors", {})[type(hook).__name__] = str(e)
    resumed = [s for s in ctx.cluster.slots if ctx.cluster.node(s).paused]
    for s in resumed:
        ctx.cluster.resume(s)
    restarted = [s for s in ctx.cluster.members if not ctx.cluster.node(s).running]
    for s in restarted:
        try:
            ctx.cluster.restart(s, wait=False)
        except NodeError as e:
            done.setdefault("restart_errors", {})[str(s)] = str(e).splitlines()[0]
    if restarted:
        try:
            ctx.cluster.wait_healthy(restarted, healthy_deadline_s)
        except NodeError as e:
            done["not_healthy"] = str(e).splitlines()[0]
    done.update({"resumed": resumed, "restarted": restarted})
    return done


@dataclass
class Scheduler:
    """Alternates heal and fault intervals for at most ``total_s`` seconds: a heal interval
    first (the workload warms up), then a nemesis picked at random (``weights`` or uniform)
    from ``nemeses`` is started, held for a fault interval, stopped; repeat. Interval lengths
    are uniform in ``fault_s`` / ``heal_s``. Ends early when ``stop_event`` is set. Always
    ends healed (``heal_everything``, recorded as kind "heal-all", phase "stop").

    ``run()`` blocks; ``start()`` runs it in a daemon thread and ``join()`` waits for it.
    The same seed gives the same sequence of kinds and durations; targets also come from the
    seeded rng but depend on what the cluster answers (e.g. who leads most groups).
    """

    net: Network
    cluster: Cluster
    run_dir: Path
    seed: int
    total_s: float
    nemeses: list[Nemesis] = field(default_factory=default_nemeses)
    fault_s: tuple[float, float] = (5.0, 15.0)
    heal_s: tuple[float, float] = (5.0, 10.0)
    weights: list[float] | None = None
    #: Take the nemeses in the order listed (cycling) instead of at random: a short run that
    #: must see each fault once (the CI smoke run) sets this.
    sequence: bool = False
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        if not self.nemeses:
            raise ValueError("no nemeses to schedule")
        self.rng = random.Random(self.seed)
        self.log = NemesisLog(Path(self.run_dir) / NEMESIS_FILE)
        self.ctx = Context(self.net, self.cluster, self.rng, self.log)
        self.records: list[dict] = []
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def _wait(self, seconds: float, until: float) -> bool:
        """Sleeps ``seconds`` (clipped to the end of the run) unless stopped; True if the run
        should go on."""
        seconds = min(seconds, until - time.monotonic())
        if seconds > 0 and self.stop_event.wait(seconds):
            return False
        return time.monotonic() < until and not self.stop_event.is_set()

    def run(self) -> list[dict]:
        until = time.monotonic() + self.total_s
        active: Nemesis | None = None
        started = 0
        try:
            while True:
                if not self._wait(self.rng.uniform(*self.heal_s), until):
                    break
                if self.sequence:
                    nemesis = self.nemeses[started % len(self.nemeses)]
                else:
                    nemesis = self.rng.choices(self.nemeses, weights=self.weights)[0]
                started += 1
                fault_for = self.rng.uniform(*self.fault_s)
                if until - time.monotonic() < fault_for:
                    break  # not enough time left to hold and heal this fault
                at = time.monotonic_ns()
                active = nemesis
                try:
                    detail = nemesis.start(self.ctx)
                except Exception as e:  # noqa: BLE001 - record, heal, go on
                    detail = {"error": f"{type(e).__name__}: {e}"}
                detail["planned_s"] = round(fault_for, 3)
                self.records.append(self.log.record(nemesis.kind, "start", detail, at_ns=at))
                self._wait(fault_for, until + 1)  # a fault is always held or stopped early
                self._stop(nemesis)
                active = None
        except BaseException as e:
            self.error = e
            raise
        finally:
            if active is not None:
                self._stop(active)
            final = heal_everything(self.ctx)
            self.records.append(self.log.record("heal-all", "stop", final))
            self.log.close()
        return self.records

    def _stop(self, nemesis: Nemesis) -> None:
        try:
            detail = nemesis.stop(self.ctx)
        except Exception as e:  # noqa: BLE001 - heal_everything runs at the end anyway
            detail = {"error": f"{type(e).__name__}: {e}"}
        self.records.append(self.log.record(nemesis.kind, "stop", detail))

    def start(self) -> "Scheduler":
        def body():
            try:
                self.run()
            except BaseException:  # noqa: BLE001 - kept in self.error, re-raised by join
                pass

        self._thread = threading.Thread(target=body, name="pj-nemesis", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> list[dict]:
        """Waits for the run (``timeout`` defaults to the run's length plus healing time)."""
        assert self._thread is not None, "not started"
        self._thread.join(self.total_s + 2 * RESTART_HEALTHY_S + 30 if timeout is None else timeout)
        if self._thread.is_alive():
            raise TimeoutError("the nemesis scheduler did not finish in time")
        if self.error is not None:
            raise self.error
        return self.records

    def stop(self) -> None:
        """Ends the run early (the active fault is healed)."""
        self.stop_event.set()
