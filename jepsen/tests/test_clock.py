"""The clock nemesis (perdure_jepsen/clock.py): what a node under libfaketime stamps, and the
nemesis's choices.

- Unit tests (anywhere): offsets come from the seeded rng only (the same seed gives the same,
  recorded offsets and targets), ClockSkew sets one slot's offset file and stop takes it back,
  the final heal resets every clock, a cluster without the hook is recorded, not crashed on.
- ``test_a_node_stamps_event_times_shifted_by_its_offset`` (root, a perdure binary and
  libfaketime; skipped with the reason otherwise): a one-node cluster in a namespace under the
  ClockHook stamps WorkflowExecutionStarted at real time + the offset set, follows a change
  while it runs, keeps serving (a workflow with an activity completes under skew), comes back
  to real time on reset, and leaves no libfaketime shared memory behind. About 15 s.

The binary is PERDURE_BIN, else target/debug/perdure, else target/release/perdure.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from binaries import perdure_binary
from perdure_jepsen import clock as pjclock
from perdure_jepsen import net as pjnet
from perdure_jepsen.clock import (
    APPLY_S,
    LARGE_S,
    SMALL_S,
    ClockError,
    ClockHook,
    ClockSkew,
    format_offset,
    pick_offset,
)
from perdure_jepsen.nemesis import Context, heal_everything

REPO = Path(__file__).resolve().parents[2]


# --- the nemesis's choices (no root, no binary) -----------------------------------------------


class FakeCluster:
    """What ClockSkew and heal_everything ask of a cluster: live slots, node ids, leader
    counts, hooks; every node running and not paused."""

    def __init__(self, slots: list[int], hooks: list, leader_counts: dict[int, int] | None = None):
        self.slots = list(slots)
        self.members = list(slots)
        self.hooks = hooks
        self.counts = leader_counts or {s: 0 for s in slots}
        self.nodes = {s: SimpleNamespace(slot=s, paused=False, running=True) for s in slots}

    def hook(self, kind: type):
        return next((h for h in self.hooks if isinstance(h, kind)), None)

    def live(self, exclude=()):
        return [s for s in self.slots if s not in set(exclude)]

    def node(self, slot: int):
        return self.nodes[slot]

    def node_id(self, slot: int) -> int:
        return 10 + slot  # differs from the slot, so a detail that mixes them up shows

    def leader_counts(self, slots=None) -> dict[int, int]:
        return dict(self.counts)


def _ctx(tmp_path: Path, seed: int, hooks=None, counts=None) -> tuple[Context, ClockHook | None]:
    lib = tmp_path / "libfaketime.so.1"  # the hook only checks that the library exists
    lib.touch()
    hook = ClockHook(tmp_path, lib=lib, settle_s=0.0) if hooks is None else None
    cluster = FakeCluster([1, 2, 3], [hook] if hook else hooks, counts)
    net = SimpleNamespace(heal=lambda: None, slots=[1, 2, 3])
    return Context(net, cluster, random.Random(seed), log=None), hook  # type: ignore[arg-type]


def _file(tmp_path: Path, slot: int) -> str:
    return (tmp_path / f"n{slot}" / "faketime").read_text().strip()


def test_offsets_come_from_the_seeded_rng_small_and_large_both_ways():
    # Recorded: a change of pick_offset's draws changes these, and replays of old seeds.
    rng = random.Random(8)
    assert [pick_offset(rng) for _ in range(6)] == [
        -128.219, 1.388, 3.281, 327.291, -108.365, 204.054,
    ]  # fmt: skip
    many = [pick_offset(random.Random(1000 + i)) for i in range(400)]
    small = [o for o in many if SMALL_S[0] <= abs(o) <= SMALL_S[1]]
    large = [o for o in many if LARGE_S[0] <= abs(o) <= LARGE_S[1]]
    assert len(small) + len(large) == len(many)  # nothing outside the two ranges
    for kind in (small, large):
        assert 100 < len(kind) < 300, (len(small), len(large))
        assert any(o < 0 for o in kind) and any(o > 0 for o in kind)


def test_clock_skew_sets_a_recorded_offset_and_stop_takes_it_back(tmp_path):
    ctx, hook = _ctx(tmp_path, seed=7001)
    assert hook is not None
    for s in (1, 2, 3):  # what a cluster does before each start: every node at +0
        hook.before_spawn(SimpleNamespace(slot=s, dir=tmp_path / f"n{s}", proc=None))
    nemesis = ClockSkew()
    detail = nemesis.start(ctx)
    # Recorded for seed 7001: slot 1 (node id 11), 4.227 s behind.
    assert detail == {"slot": 1, "node_id": 11, "offset_s": -4.227, "target": "random"}
    assert _file(tmp_path, 1) == "-4.227" and _file(tmp_path, 2) == "+0.000"
    assert hook.offset(1) == -4.227 and hook.offsets() == {1: -4.227}
    # The same seed replays the same choice.
    (tmp_path / "again").mkdir()
    again, _ = _ctx(tmp_path / "again", seed=7001)
    assert ClockSkew().start(again) == detail

    assert nemesis.stop(ctx) == {"reset": {"1": -4.227}}
    assert _file(tmp_path, 1) == "+0.000" and hook.offsets() == {}
    assert nemesis.stop(ctx) == {}  # safe twice


def test_clock_skew_can_target_the_leader(tmp_path):
    ctx, hook = _ctx(tmp_path, seed=3, counts={1: 2, 2: 12, 3: 3})
    detail = ClockSkew(target="leader").start(ctx)
    assert detail["slot"] == 2 and detail["target"] == "leader", detail
    assert detail["leader_counts"] == {"1": 2, "2": 12, "3": 3}
    assert hook is not None and _file(tmp_path, 2) == format_offset(detail["offset_s"])


def test_the_final_heal_resets_every_clock(tmp_path):
    ctx, hook = _ctx(tmp_path, seed=1)
    assert hook is not None
    hook.set_offset(1, 120.0)
    hook.set_offset(3, -0.5)
    done = heal_everything(ctx)
    assert done["hooks"] == {"ClockHook": {"reset": {"1": 120.0, "3": -0.5}}}, done
    assert _file(tmp_path, 1) == _file(tmp_path, 3) == "+0.000" and hook.offsets() == {}


def test_without_the_hook_the_nemesis_records_that_it_did_nothing(tmp_path):
    ctx, _ = _ctx(tmp_path, seed=1, hooks=[])
    assert "skipped" in ClockSkew().start(ctx)
    assert "skipped" in ClockSkew().stop(ctx)
    assert "hooks" not in heal_everything(ctx)


def test_a_restarted_node_keeps_its_slots_offset_and_gets_the_environment(tmp_path):
    lib = tmp_path / "lib.so"
    lib.touch()
    hook = ClockHook(tmp_path, lib=lib)
    node = SimpleNamespace(slot=2, dir=tmp_path / "n2", proc=None)
    env = hook.env(node)  # type: ignore[arg-type]
    assert env == {
        "LD_PRELOAD": str(lib),
        "FAKETIME_TIMESTAMP_FILE": str(tmp_path / "n2" / "faketime"),
        "FAKETIME_CACHE_DURATION": "0",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "NO_FAKE_STAT": "1",
    }
    hook.before_spawn(node)  # type: ignore[arg-type]
    assert _file(tmp_path, 2) == "+0.000"
    hook.set_offset(2, 61.25)
    hook.before_spawn(node)  # type: ignore[arg-type]  # a restart of the same slot
    assert _file(tmp_path, 2) == "+61.250"
    assert not list((tmp_path / "n2").glob("*.tmp"))  # written by rename, nothing left over


def test_a_missing_libfaketime_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(pjclock, "LIB_GLOB", str(tmp_path / "nowhere" / "libfaketime.so.1"))
    with pytest.raises(ClockError, match="jepsen/setup.sh"):
        ClockHook(tmp_path)


# --- a real node under libfaketime (root, binary) ------------------------------------------


binary = perdure_binary


def _skip_reason() -> str | None:
    reason = pjnet.preflight()
    if reason:
        return reason
    if binary() is None:
        return "no perdure binary (PERDURE_BIN, or cargo build -p perdure-server)"
    try:
        pjclock.find_libfaketime()
    except ClockError as e:
        return str(e)
    return None


_SKIP = _skip_reason()
needs_root_and_libfaketime = pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")

#: Slack between the node's clock and ours beyond the call's own duration (the two read the same
#: host clock: only rounding and the stamp's position inside the call are left).
SLACK_S = 0.01


async def _stamp(client, offset: float) -> tuple[float, float, float]:
    """Starts a workflow (nobody runs it) and returns (our time before, the node's stamp of
    WorkflowExecutionStarted minus ``offset``, our time after)."""
    from temporalio.api.enums.v1 import EventType

    wid = f"clock-probe-{uuid.uuid4().hex[:10]}"
    before = time.time()
    handle = await client.start_workflow("NobodyRunsThis", id=wid, task_queue="nobody-polls")
    after = time.time()
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            return before, event.event_time.ToNanoseconds() / 1e9 - offset, after
    raise AssertionError(f"{wid}: no WorkflowExecutionStarted event")


async def _wait_stamps_at(client, offset: float, deadline_s: float) -> float:
    """Until a new workflow's start is stamped at real time + ``offset``: inside the call, up to
    SLACK_S. Returns how long that took; fails with the last stamp's error after the deadline."""
    t0 = time.monotonic()
    while True:
        before, stamped, after = await _stamp(client, offset)
        if before - SLACK_S <= stamped <= after + SLACK_S:
            return time.monotonic() - t0
        if time.monotonic() - t0 > deadline_s:
            raise AssertionError(
                f"offset {offset:+.3f}s: the node stamps {stamped - before:+.3f}s (from the call's "
                f"start; it took {after - before:.3f}s) off real time + offset, {deadline_s}s on"
            )
        await asyncio.sleep(0.1)


async def _drive(cluster, hook: ClockHook) -> dict[str, float]:
    from temporalio.client import Client

    from perdure_jepsen.workload import Appender, worker_for

    client = await Client.connect(cluster.node(1).api_addr, namespace="default")
    took = {"+0": await _wait_stamps_at(client, 0.0, APPLY_S + 10)}
    for offset in (95.5, -42.25):
        hook.set_offset(1, offset)
        took[format_offset(offset)] = await _wait_stamps_at(client, offset, APPLY_S + 10)
    # It still serves under skew: a workflow with an activity per appended value completes.
    worker = worker_for(client)
    async with worker:
        handle = await client.start_workflow(
            Appender.run, id=f"clock-wf-{uuid.uuid4().hex[:8]}", task_queue="jepsen"
        )
        await handle.signal(Appender.append, 7)
        await handle.signal(Appender.finish)
        assert await asyncio.wait_for(handle.result(), 30) == [7]
    assert hook.reset() == {"reset": {"1": -42.25}}
    took["reset"] = await _wait_stamps_at(client, 0.0, APPLY_S + 10)
    return took


@needs_root_and_libfaketime
def test_a_node_stamps_event_times_shifted_by_its_offset(tmp_path):
    from perdure_jepsen.nodes import Cluster

    hook = ClockHook(tmp_path)
    pids: list[int] = []
    with pjnet.Network(1) as net:
        with Cluster(net, tmp_path, shards=2, binary=binary(), hooks=[hook]) as cluster:
            cluster.wait_all_groups_led(deadline_s=30.0)
            pid = cluster.node(1).pid
            assert pid is not None
            pids.append(pid)
            took = asyncio.run(_drive(cluster, hook))
        print(f"seconds until a new offset showed in the stamps: {took}")
        # Seen within libfaketime's once-a-second re-read (plus a probe's round trip).
        assert all(t <= APPLY_S + 1.0 for t in took.values()), took
    # libfaketime's per-process shared memory went with the node.
    left = [p for p in Path("/dev/shm").glob("*faketime_*") if p.name.endswith(f"_{pids[0]}")]
    assert not left, left
    pjnet.assert_no_leftovers(net.tag)


async def _timeout_after_skew(cluster, hook: ClockHook, skew_s: float) -> tuple[float, list]:
    """A workflow started while the node's clock is ``skew_s`` ahead (so its history holds a
    stamp from the future); then the clock is right again and a workflow task with a 1 s
    timeout is started. Returns how long after the poll the task timed out, and the events."""
    from datetime import timedelta

    from temporalio.api.enums.v1 import EventType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import PollWorkflowTaskQueueRequest
    from temporalio.client import Client

    client = await Client.connect(cluster.node(1).api_addr, namespace="default")
    queue = f"clock-q-{uuid.uuid4().hex[:8]}"
    hook.set_offset(1, skew_s)
    await _wait_stamps_at(client, skew_s, APPLY_S + 10)
    handle = await client.start_workflow(
        "NobodyAnswers", id=f"clock-late-{uuid.uuid4().hex[:8]}", task_queue=queue,
        task_timeout=timedelta(seconds=1),
    )  # fmt: skip
    hook.reset()
    await _wait_stamps_at(client, 0.0, APPLY_S + 10)
    polled = time.monotonic()
    await client.workflow_service.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(
            namespace="default", task_queue=TaskQueue(name=queue), identity="never-answers"
        )
    )
    deadline = polled + skew_s / 2
    while True:
        events = [e async for e in handle.fetch_history_events()]
        if any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT for e in events):
            return time.monotonic() - polled, events
        if time.monotonic() > deadline:
            return time.monotonic() - polled, events
        await asyncio.sleep(0.2)


@needs_root_and_libfaketime
def test_a_clock_that_was_ahead_does_not_delay_later_timeouts(tmp_path):
    """Regression: the history stamps events no earlier than the run's newest event, and the
    server once computed deadlines from that clamped stamp, so after a leader's clock had been
    ahead by Δ every later timeout of the run came up to Δ late (found by the clock nemesis)."""
    from perdure_jepsen.nodes import Cluster

    skew_s = 60.0
    hook = ClockHook(tmp_path)
    with pjnet.Network(1) as net:
        with Cluster(net, tmp_path, shards=2, binary=binary(), hooks=[hook]) as cluster:
            cluster.wait_all_groups_led(deadline_s=30.0)
            took, events = asyncio.run(_timeout_after_skew(cluster, hook, skew_s))
    kinds = [e.event_type for e in events]
    from temporalio.api.enums.v1 import EventType

    assert EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT in kinds, (took, kinds)
    # 1 s timeout plus the timer wheel's and the poll's own latency; with the bug, ~60 s.
    assert took < 10.0, took
    # The history still never goes back in time: the task's events carry the future stamp.
    stamps = [e.event_time.ToNanoseconds() for e in events]
    assert stamps == sorted(stamps), stamps
    pjnet.assert_no_leftovers(net.tag)
