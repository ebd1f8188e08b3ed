"""A node of a 3-node cluster goes away under load and comes back: it catches up.

3. Follower loss and return: the node leading the fewest Raft groups is stopped (SIGTERM) for
   PERDURE_RECOVERY_DOWN_S (30) seconds while a client and a worker on the two other nodes keep
   starting and running workflows (PERDURE_RECOVERY_WORKFLOWS, 60, of PERDURE_CLUSTER_ACTIVITIES
   activities, started evenly over the down time). It is then started again on the same data
   directory. Every workflow must complete with each activity completion written once, and
   ``perdure cluster status --json`` must show every node serving and every group with 3
   healthy replicas and zero lag within PERDURE_RECOVERY_CATCH_UP_BOUND_S (30) of the last
   workflow's completion (printed as ``CATCH_UP_MS``, with the time since the restart).

A longer run:

    PERDURE_RECOVERY_DOWN_S=120 PERDURE_RECOVERY_WORKFLOWS=600 .venv/bin/python -m pytest \\
        tests/python/test_cluster_recovery.py -s -o timeout=1800

What this does not cover: a node that comes back with an empty disk (disk loss), or one that
was cut off while still running (cluster_partition.rs), or a follower that falls so far behind
that it needs a snapshot (the log is only compacted every 10 000 entries per group).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid

import pytest

import workflows
from cluster import Cluster, count_leaders
from harness import perdure_bin, server_kind
from history import assert_activities_completed_once, assert_contiguous_ids, events_of
from workers import running_worker


def _env_number(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


DOWN_S = _env_number("PERDURE_RECOVERY_DOWN_S", 30)
WORKFLOWS = int(_env_number("PERDURE_RECOVERY_WORKFLOWS", 60))
ACTIVITIES = int(_env_number("PERDURE_CLUSTER_ACTIVITIES", 5))
CATCH_UP_BOUND_S = _env_number("PERDURE_RECOVERY_CATCH_UP_BOUND_S", 30)
COMPLETE_DEADLINE_S = _env_number("PERDURE_CLUSTER_DEADLINE_S", 240)

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        server_kind() != "perdure", reason="a multi-node perdure cluster (perdure only)"
    ),
]


def cluster_status(cluster: Cluster) -> dict:
    """What an operator sees: ``perdure cluster status --json`` over every node's HTTP port."""
    http = ",".join(cluster.http_addr(i) for i in cluster.node_ids)
    out = subprocess.run(
        [str(perdure_bin()), "cluster", "status", "--http", http, "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(out.stdout)


def lagging_groups(status: dict, replicas: int) -> dict[int, object]:
    """Group -> what is wrong with it; empty when every group has ``replicas`` healthy
    replicas with zero lag and every node is reachable and serving."""
    wrong: dict[int, object] = {}
    for node in status["nodes"]:
        if not (node["reachable"] and node["serving"]):
            wrong[-1] = f"node {node['http']} reachable={node['reachable']} serving={node['serving']}"
    for g in status["groups"]:
        lags = g["lag"]
        if (
            g["leader"] is None
            or g["healthy_replicas"] != replicas
            or len(lags) != replicas
            or any(v != 0 for v in lags.values())
        ):
            wrong[g["group"]] = {"leader": g["leader"], "healthy": g["healthy_replicas"], "lag": lags}
    return wrong


async def wait_caught_up(cluster: Cluster, replicas: int, bound_s: float) -> float:
    """Seconds until ``cluster status`` shows every group fully replicated; fails after
    ``bound_s``."""
    started = time.monotonic()
    while True:
        status = await asyncio.to_thread(cluster_status, cluster)
        wrong = lagging_groups(status, replicas)
        if not wrong and len(status["groups"]) == len(cluster.groups):
            return time.monotonic() - started
        if time.monotonic() - started > bound_s:
            raise AssertionError(f"not caught up within {bound_s}s: {wrong}")
        await asyncio.sleep(0.2)


async def test_follower_stopped_under_load_catches_up_when_it_returns():
    async with Cluster(size=3) as cluster:
        await asyncio.wait_for(
            _follower_loss(cluster), timeout=DOWN_S + COMPLETE_DEADLINE_S + 180
        )


async def _follower_loss(cluster: Cluster) -> None:
    counts = count_leaders(await cluster.wait_all_groups_led(deadline=60), cluster.node_ids)
    victim = min(cluster.node_ids, key=lambda n: (counts[n], n))
    worker_node, client_node = [n for n in cluster.node_ids if n != victim]
    client = await cluster.client(client_node)
    ids = [f"recovery-{i}-{uuid.uuid4().hex[:6]}" for i in range(WORKFLOWS)]
    print(f"follower loss: leaders per node {counts}; stopping node {victim} for {DOWN_S}s")

    async with running_worker(
        await cluster.client(worker_node), prefix="recovery", max_concurrent_activities=300
    ) as w:
        await cluster.stop(victim)
        down_at = time.monotonic()
        # Starts spread evenly over the down time: the survivors write all along.
        for n, wf_id in enumerate(ids):
            await asyncio.sleep(max(0.0, down_at + n * DOWN_S / WORKFLOWS - time.monotonic()))
            await client.start_workflow(
                workflows.FiveSteps.run, ACTIVITIES, id=wf_id, task_queue=w.task_queue
            )
        await asyncio.sleep(max(0.0, down_at + DOWN_S - time.monotonic()))

        restarted_at = time.monotonic()
        await cluster.restart(victim)
        print(f"follower loss: node {victim} SERVING {time.monotonic() - restarted_at:.1f}s after restart")
        results = await asyncio.wait_for(
            asyncio.gather(*(client.get_workflow_handle(i).result() for i in ids)),
            timeout=COMPLETE_DEADLINE_S,
        )
        completed = list(w.activities.completed)

    caught_up = await wait_caught_up(cluster, 3, CATCH_UP_BOUND_S)
    since_restart = time.monotonic() - restarted_at
    print(f"CATCH_UP_MS after_load={round(caught_up * 1000)} since_restart={round(since_restart * 1000)}")

    for wf_id, result in zip(ids, results):
        assert result == [f"{wf_id}:{step}" for step in range(ACTIVITIES)]
    assert set(completed) == {(i, s) for i in ids for s in range(ACTIVITIES)}
    for wf_id in ids:
        events = await events_of(client.get_workflow_handle(wf_id))
        assert_contiguous_ids(events)
        assert_activities_completed_once(events, ACTIVITIES, wf_id)
    # Reads through the returned node are current.
    back = await cluster.client(victim)
    for wf_id in ids[-5:]:
        assert await back.get_workflow_handle(wf_id).result() == [
            f"{wf_id}:{s}" for s in range(ACTIVITIES)
        ]
