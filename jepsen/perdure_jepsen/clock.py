"""Clock skew: a node's wall clock (CLOCK_REALTIME) is moved while it runs, as an NTP step or a
badly synchronised host would move it, through Debian's libfaketime preloaded into every node.

``ClockHook`` (a ``nodes.NodeHook``) starts every node process with::

    LD_PRELOAD=/usr/lib/<arch>/faketime/libfaketime.so.1
    FAKETIME_TIMESTAMP_FILE=<run_dir>/n<slot>/faketime     "+0" at first; "+30.000", "-120.500"
    FAKETIME_CACHE_DURATION=0                               re-read it at most once a second
    FAKETIME_DONT_FAKE_MONOTONIC=1                          only the wall clock moves
    NO_FAKE_STAT=1                                          file times are left alone

and ``set_offset(slot, seconds)`` rewrites that file; the node follows within a second (see
``APPLY_S``; ``reset`` returns only after that bound, so a stop recorded in nemesis.jsonl comes
after every clock is back). ``ClockSkew`` is the nemesis: it gives one live node (random, or the
one leading most groups) an offset drawn from the scheduler's seeded rng, and takes it back to 0
on stop. The ``ip netns exec`` that starts a node execs it in place: the preload is in the node
process from its first instruction, and in nothing else.

Why these variables (libfaketime 0.9.10, Debian bookworm):
- The offset file, not ``FAKETIME``: the environment is fixed at exec, a file can change while
  the node runs. Offsets are relative ("+<seconds>"): the node's clock keeps running, shifted.
- ``FAKETIME_CACHE_DURATION=0``: libfaketime re-reads the file when the real second has
  changed since its last read (its test is ``now_s - last_read_s > duration``), so 0 means at
  most one read a second and a change seen within a second; the default (10) would hold an
  offset up to 11 s after the nemesis took it back. ``FAKETIME_NO_CACHE=1`` would read the file
  on every clock call: a file read per timestamp is a different, slower server.
- ``FAKETIME_DONT_FAKE_MONOTONIC=1`` (the old name ``DONT_FAKE_MONOTONIC`` is read too): a real
  clock step (settimeofday, an NTP step) moves CLOCK_REALTIME only. Raft election and heartbeat
  timers, tokio's timers and every ``Instant`` use CLOCK_MONOTONIC and must keep running
  undisturbed; faking it would test a fault no host has.
- ``NO_FAKE_STAT=1``: otherwise every stat() of RocksDB goes through libfaketime's stat lock
  and gets its times shifted; file times are not what this nemesis is about.

libfaketime also creates a POSIX semaphore and shared memory per process
(``/dev/shm/sem.faketime_sem_<pid>``, ``/dev/shm/faketime_shm_<pid>``) and removes them only
on a clean exit; a node started through ``ip netns exec`` (which execs the node in place, same
pid) never removes them, and SIGKILL never does. The hook removes those of every node process
it started once the process is gone (before the slot's next spawn, and on ``close``).

Known limitation of that libfaketime version (and why only perdure gets the preload, never the
suite's Python): with FAKETIME_DONT_FAKE_MONOTONIC, ``clock_nanosleep(CLOCK_MONOTONIC,
TIMER_ABSTIME)`` fails with EINVAL (libfaketime issue #426; Python >= 3.11's time.sleep uses
it). The perdure binary does not call it (its intercepted imports are clock_gettime,
epoll_wait, poll, getrandom; RocksDB's timed waits are on CLOCK_REALTIME condition variables,
which libfaketime converts).

Owns: each node's offset file and the environment that makes a node read it; the choice of
offsets (``pick_offset``, from the seeded rng only). Must never: move the monotonic clock,
preload libfaketime into anything but a node process, change the host's clock, or leave a
skew in place after ``reset`` / the scheduler's final heal.
"""

from __future__ import annotations

import glob
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from .nemesis import Context, Nemesis, pick_target
from .nodes import Node, NodeHook

#: Where Debian installs the library (the architecture directory varies).
LIB_GLOB = "/usr/lib/*/faketime/libfaketime.so.1"
#: The offset file in each node's directory (next to node.log).
OFFSET_FILE = "faketime"
#: See the module docstring: re-read at most once a second.
CACHE_DURATION_S = 0
#: A node follows a new offset within this (one second of libfaketime's cache, plus margin).
APPLY_S = 1.5
#: pick_offset's ranges (seconds), each taken with either sign. Small: around Raft's election
#: timeout and the workload's short timeouts (sticky queue 2 s, activity and workflow task
#: 10 s): one node's event times disagree with its peers' by a few seconds, as with a bad NTP
#: sync. Large: 1 to 10 minutes, beyond every timeout of the workload: a leader running ahead
#: fires every timer and timeout it holds at once; one running behind holds them for minutes.
#: (A run written by a leader running ahead keeps that future time after the skew: Perdure
#: never stamps a run's event earlier than its newest one, ``MutableState::event_clock``, and
#: arms its timeouts from that stamp, so they come late until real time catches up.)
SMALL_S = (0.2, 5.0)
LARGE_S = (60.0, 600.0)
#: How often pick_offset takes a large offset.
LARGE_CHANCE = 0.5


class ClockError(RuntimeError):
    """libfaketime is missing, or an offset file could not be written."""


def find_libfaketime() -> Path:
    """The preload library, found at runtime (``jepsen/setup.sh`` installs it)."""
    found = sorted(glob.glob(LIB_GLOB))
    if not found:
        raise ClockError(
            f"libfaketime not installed (no {LIB_GLOB}): run jepsen/setup.sh "
            "(it installs Debian's `faketime`, which pulls `libfaketime`)"
        )
    return Path(found[0])


def format_offset(seconds: float) -> str:
    """libfaketime's relative-offset syntax: a signed number of seconds (fractions allowed)."""
    return f"{seconds:+.3f}"


def pick_offset(rng: random.Random) -> float:
    """An offset (seconds, ms precision) from the seeded rng: small or large (LARGE_CHANCE),
    ahead or behind with equal chance. Always three draws, so the rng's sequence does not
    depend on which kind came out."""
    large = rng.random() < LARGE_CHANCE
    sign = 1.0 if rng.random() < 0.5 else -1.0
    magnitude = rng.uniform(*(LARGE_S if large else SMALL_S))
    return round(sign * magnitude, 3)


class ClockHook(NodeHook):
    """Every node of the cluster runs under libfaketime with its own offset file. Offsets belong
    to slots (hosts): a restarted or wiped-and-rejoined node keeps its slot's offset, as a
    process restarted on a host with a wrong clock would."""

    def __init__(
        self, run_dir: Path | str, lib: Path | str | None = None, settle_s: float = APPLY_S
    ) -> None:
        self.run_dir = Path(run_dir)
        #: How long ``reset`` waits after writing, so that what it returns to (the scheduler
        #: records a stop when it returns) is after every node has followed: nemesis.jsonl's
        #: intervals must cover the fault. No node says which offset it uses; this is the bound.
        self.settle_s = settle_s
        # Raises here, when the run is set up, rather than at the first node's start.
        self.lib = Path(lib) if lib else find_libfaketime()
        if not self.lib.exists():
            raise ClockError(f"{self.lib} does not exist")
        # Reentrant: set_offset and reset hold it across a write and the record of it, so the
        # nemesis thread and a spawn (cluster lock) never interleave a file and its record.
        self._lock = threading.RLock()
        self._nodes: dict[int, Node] = {}
        self._offsets: dict[int, float] = {}
        #: pids of node processes started under the preload whose /dev/shm objects are not
        #: removed yet (see the module docstring).
        self._pids: set[int] = set()

    # -- NodeHook ------------------------------------------------------------------------------

    def env(self, node: Node) -> dict[str, str]:
        with self._lock:
            self._nodes[node.slot] = node
        return {
            "LD_PRELOAD": str(self.lib),
            "FAKETIME_TIMESTAMP_FILE": str(self.path(node.slot)),
            "FAKETIME_CACHE_DURATION": str(CACHE_DURATION_S),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "NO_FAKE_STAT": "1",
        }

    def before_spawn(self, node: Node) -> None:
        with self._lock:
            self._nodes[node.slot] = node
            # The slot's previous process (if any) is dead: its shared memory can go. The new
            # process is remembered by its pid the next time we look (it has none yet).
            self._collect(node)
            # Written before every start (the slot's offset, 0 at first): the node reads it
            # the first time it asks the time.
            self._write(node.slot, self._offsets.get(node.slot, 0.0))

    def close(self) -> None:
        """Every node is dead: removes their shared memory. The offset files stay in the run
        directory (a record of the last offsets; nothing outside the run reads them)."""
        with self._lock:
            nodes = list(self._nodes.values())
        for node in nodes:
            self._collect(node)

    # -- offsets -------------------------------------------------------------------------------

    def path(self, slot: int) -> Path:
        """The slot's offset file: in its node's directory (nodes.py's ``<run_dir>/n<slot>``)."""
        with self._lock:
            node = self._nodes.get(slot)
        return (node.dir if node is not None else self.run_dir / f"n{slot}") / OFFSET_FILE

    def set_offset(self, node_or_slot: Node | int, seconds: float) -> None:
        """Moves that slot's wall clock to real time + ``seconds`` (its running node follows
        within ``APPLY_S``; a node started later starts with it). 0 takes it back."""
        slot = node_or_slot.slot if isinstance(node_or_slot, Node) else int(node_or_slot)
        with self._lock:
            self._write(slot, seconds)
            if seconds:
                self._offsets[slot] = float(seconds)
            else:
                self._offsets.pop(slot, None)

    def offset(self, slot: int) -> float:
        """The offset set for ``slot`` (0.0 if none)."""
        with self._lock:
            return self._offsets.get(slot, 0.0)

    def offsets(self) -> dict[int, float]:
        """slot -> offset, for every slot whose offset is not 0."""
        with self._lock:
            return dict(self._offsets)

    def reset(self) -> dict[str, Any]:
        """Every skewed slot back to 0 (``nemesis.heal_everything`` calls this on every hook
        that has it). Returns slot -> the offset it had; a slot whose file could not be
        written is reported under "errors" and stays recorded as skewed."""
        done: dict[str, Any] = {}
        for slot, was in sorted(self.offsets().items()):
            try:
                self.set_offset(slot, 0.0)
                done.setdefault("reset", {})[str(slot)] = was
            except (OSError, ClockError) as e:
                done.setdefault("errors", {})[str(slot)] = str(e)
        if done.get("reset") and self.settle_s > 0:
            time.sleep(self.settle_s)  # a bound, not a guess: libfaketime re-reads once a second
        return done

    # -- files ---------------------------------------------------------------------------------

    def _write(self, slot: int, seconds: float) -> None:
        """Atomically (a rename): libfaketime must never read a half-written offset."""
        path = self.path(slot)
        tmp = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(format_offset(seconds) + "\n")
            os.replace(tmp, path)
        except OSError as e:
            raise ClockError(f"cannot write {path}: {e}") from None

    def _collect(self, node: Node) -> None:
        """Remembers the pid of ``node``'s current process, and removes the shared memory of
        every remembered process that is gone."""
        with self._lock:
            if node.proc is not None:
                self._pids.add(node.proc.pid)
            gone = {pid for pid in self._pids if not _alive(pid)}
        self._remove_shm(gone)

    def _remove_shm(self, pids: set[int]) -> None:
        for pid in pids:
            if _alive(pid):
                continue  # still running (or the pid is someone else's now): not ours to touch
            for name in (f"sem.faketime_sem_{pid}", f"faketime_shm_{pid}"):
                try:
                    os.unlink(f"/dev/shm/{name}")
                except FileNotFoundError:
                    pass
                except OSError:
                    continue
            with self._lock:
                self._pids.discard(pid)


def _alive(pid: int) -> bool:
    # A reaped child's pid is free; /proc/<pid> existing means it runs (or was reused).
    return os.path.exists(f"/proc/{pid}")


class ClockSkew(Nemesis):
    """Moves one live node's wall clock (``target``: "random" or "leader", see
    nemesis.pick_target) by an offset from ``pick_offset``; stop takes every skewed node back
    to 0. Needs the cluster's ClockHook (``--nemesis clock`` adds it); without one, start and
    stop record that they did nothing."""

    kind = "clock"

    def __init__(self, target: str = "random") -> None:
        self.target = target

    def start(self, ctx: Context) -> dict:
        hook = ctx.cluster.hook(ClockHook)
        if hook is None:
            return {"skipped": "the cluster has no ClockHook (nodes not under libfaketime)"}
        victim, extra = pick_target(ctx, self.target)
        if victim is None:
            return extra
        offset = pick_offset(ctx.rng)
        hook.set_offset(victim, offset)
        return {
            "slot": victim,
            "node_id": ctx.cluster.node_id(victim),
            "offset_s": offset,
            "target": self.target,
            **extra,
        }

    def stop(self, ctx: Context) -> dict:
        hook = ctx.cluster.hook(ClockHook)
        if hook is None:
            return {"skipped": "the cluster has no ClockHook"}
        return hook.reset()

    def __repr__(self) -> str:
        return f"<ClockSkew {self.kind} target={self.target}>"
