"""A schedule takes every slot exactly once across crashes and leader changes.

A schedule firing every second (ALLOW_ALL, so every slot starts a run whatever runs) is left
running while the server is SIGKILLed twice (single node), or while the leader of the
schedule's shard is SIGKILLed (3 nodes). Afterwards the runs it started are read back from
visibility (``TemporalScheduledById = <id>``): every nominal second from the first run to the
last has exactly one run (no gap: the slots missed while down are caught up, the default
catch-up window being a year; no slot twice), and the schedule's action count is that number.

Runs against perdure only (``crash`` marker), like test_crash.py.
"""

from __future__ import annotations

import asyncio
import os
import zlib
from collections import Counter
from datetime import datetime, timedelta

import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from cluster import Cluster
from harness import NAMESPACE, ServerUnderTest, server_kind
from schedules import describe_until, now_utc, parse_rfc3339, schedule_id, schedule_worker
from waiting import wait_until

ONE_S = timedelta(seconds=1)
#: How long the server stays down: long enough for at least two slots to come due meanwhile.
DOWN_S = 2.5

pytestmark = pytest.mark.crash


def _skip_unless_perdure() -> None:
    if server_kind() != "perdure" and not os.environ.get("PERDURE_CRASH_ON_TEMPORAL"):
        pytest.skip("crash test runs against perdure only")


def every_second(sid: str, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow("ScheduledEcho", "x", id=f"{sid}-wf", task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=ONE_S)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
    )


async def runs_of(client: Client, sid: str) -> list[tuple[str, str]]:
    """(workflow id, run id) of every run the schedule started, from visibility."""
    out = []
    async for wf in client.list_workflows(f"TemporalScheduledById = '{sid}'"):
        out.append((wf.id, wf.run_id))
    return out


def nominal_of(sid: str, workflow_id: str) -> datetime:
    prefix = f"{sid}-wf-"
    assert workflow_id.startswith(prefix), workflow_id
    return parse_rfc3339(workflow_id[len(prefix) :])


async def assert_every_slot_once(client: Client, handle: ScheduleHandle, sid: str) -> int:
    """Pauses the schedule, then checks its runs: one per nominal second, no gap. Returns how
    many slots that is."""
    await handle.pause(note="count")
    d = await describe_until(handle, lambda d: d.schedule.state.paused, "paused", 10)
    # Starts handed out before the pause may still be on their way: wait until the count the
    # schedule reports is what visibility shows.
    async def settled():
        d = await handle.describe()
        runs = await runs_of(client, sid)
        return (d, runs) if len(runs) == d.info.num_actions else None

    d, runs = await wait_until(settled, 30, "every recorded start to be visible")
    per_id = Counter(wid for wid, _ in runs)
    assert all(n == 1 for n in per_id.values()), f"a slot ran twice: {per_id.most_common(3)}"
    nominals = sorted(nominal_of(sid, wid) for wid in per_id)
    first, last = nominals[0], nominals[-1]
    expected = [first + i * ONE_S for i in range(int((last - first) / ONE_S) + 1)]
    missing = sorted(set(expected) - set(nominals))
    assert not missing, f"slots never run: {missing}"
    assert d.info.num_actions == len(expected)
    assert d.info.num_actions_missed_catchup_window == 0
    return len(expected)


async def test_every_slot_runs_once_across_two_kill_9s():
    _skip_unless_perdure()
    srv = ServerUnderTest()
    try:
        client = await srv.start()
        sid = schedule_id("sched-durable")
        async with schedule_worker(client) as w:
            handle = await client.create_schedule(sid, every_second(sid, w.task_queue))
            await describe_until(handle, lambda d: d.info.num_actions >= 3, "three runs")
            srv.kill()
            await asyncio.sleep(DOWN_S)  # downtime on purpose: slots come due meanwhile
            await srv.start()
            # Killed again right after the restart: the catch-up's starts are in flight.
            await describe_until(handle, lambda d: d.info.num_actions >= 5, "catch-up starts")
            srv.kill()
            await srv.start()
            restarted = now_utc()
            await describe_until(
                handle,
                lambda d: bool(d.info.recent_actions)
                and d.info.recent_actions[-1].scheduled_at > restarted + 2 * ONE_S,
                "runs after the second restart",
                timeout_s=60,
            )
            slots = await assert_every_slot_once(client, handle, sid)
            assert slots >= 8, slots
            await handle.delete()
    except BaseException:
        print(srv.log_tail(80))
        raise
    finally:
        srv.stop(remove=not os.environ.get("PERDURE_KEEP_DATA"))


def shard_of(namespace_id: str, workflow_id: str, shards: int) -> int:
    """perdure-history's routing.rs: crc32 of (namespace id length, namespace id, workflow id)."""
    data = len(namespace_id.encode()).to_bytes(4, "big") + namespace_id.encode() + workflow_id.encode()
    return 1 + zlib.crc32(data) % shards


async def test_every_slot_runs_once_when_the_schedules_shard_leader_is_killed():
    _skip_unless_perdure()
    async with Cluster(3) as cluster:
        client = await cluster.client(1)
        ns = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=NAMESPACE))
        sid = schedule_id("sched-failover")
        group = shard_of(ns.namespace_info.id, f"temporal-sys-scheduler:{sid}", cluster.shards)
        leaders = await cluster.wait_all_groups_led()
        victim = leaders[group]
        survivor = next(i for i in cluster.node_ids if i != victim)
        client = await cluster.client(survivor)
        async with schedule_worker(client) as w:
            handle = await client.create_schedule(sid, every_second(sid, w.task_queue))
            await describe_until(handle, lambda d: d.info.num_actions >= 3, "three runs", 30)
            cluster.kill(victim)
            killed = now_utc()
            new = await cluster.wait_all_groups_led(exclude=[victim])
            assert new[group] != victim
            await describe_until(
                handle,
                lambda d: bool(d.info.recent_actions)
                and d.info.recent_actions[-1].scheduled_at > killed + 3 * ONE_S,
                "runs after the failover",
                timeout_s=60,
            )
            await assert_every_slot_once(client, handle, sid)
            # ListSchedules asks every shard's leader, here and on the other live node.
            for node in cluster.live():
                c = await cluster.client(node)
                listed = [e.id async for e in await c.list_schedules()]
                assert sid in listed, (node, listed)
            await handle.delete()
