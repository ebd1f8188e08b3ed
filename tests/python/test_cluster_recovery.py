"""Nodes of a cluster go away and come back, lose their disk, join and leave, under load.

3. Follower loss and return: the node leading the fewest Raft groups is stopped (SIGTERM) for
   PERDURE_RECOVERY_DOWN_S (30) seconds while a client and a worker on the two other nodes keep
   starting and running workflows (PERDURE_RECOVERY_WORKFLOWS, 60, of PERDURE_CLUSTER_ACTIVITIES
   activities, started evenly over the down time). It is then started again on the same data
   directory. Every workflow must complete with each activity completion written once, and
   ``perdure cluster status --json`` must show every node serving and every group with 3
   healthy replicas and zero lag within PERDURE_RECOVERY_CATCH_UP_BOUND_S (30) of the last
   workflow's completion (printed as ``CATCH_UP_MS``, with the time since the restart); then
   the leaderships spread evenly again, the returned node included.

4. Disk loss: on a cluster that snapshots every 100 entries, workflows run until every shard
   leader has compacted its log (batches of 20, at most 8); then node 3 is
   killed and its data directory wiped. Started again under id 3 it must refuse to start (it
   would vote with a forgotten log); after ``perdure cluster remove 3`` it comes back as node 4
   with ``--join``, is restored by snapshot (``perdure_raft_snapshots_installed_total`` on it
   counts at least one per compacted group), and then every group's replicas hold identical
   state (``/cluster/checksums`` of every member agree at the same applied index).
5. Membership: under a steady load of workflows, 3 nodes grow to 4 and 5 (``--join``) and
   shrink back to 3 (``perdure cluster remove 1``, then ``2``); no workflow is lost or runs an
   activity completion twice, and at the end every node leads within one of the same number
   of groups.

A longer run:

    PERDURE_RECOVERY_DOWN_S=120 PERDURE_RECOVERY_WORKFLOWS=600 .venv/bin/python -m pytest \\
        tests/python/test_cluster_recovery.py -s -o timeout=1800

What this does not cover: a node that was cut off while still running (cluster_partition.rs),
a removal interrupted by a crash of the meta leader, or a disk that loses unfsynced writes
(kill -9 keeps the page cache).
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
from history import assert_steps_done_once
from workers import running_worker


def perdure_cli(*args: str, timeout: float = 200) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(perdure_bin()), *args], capture_output=True, text=True, timeout=timeout
    )


def remove_node(cluster: Cluster, node: int, via: int) -> None:
    """``perdure cluster remove`` through node ``via``'s internal port."""
    out = perdure_cli(
        "cluster", "remove", str(node),
        "--via", cluster.node(via).internal_addr,
        "--cluster-secret", cluster.secret,
    )  # fmt: skip
    assert out.returncode == 0, f"cluster remove {node} failed: {out.stdout}{out.stderr}"


def metric(text: str, name: str) -> float:
    """The value of an unlabelled Prometheus metric in ``text`` (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def run_workflows(client, task_queue: str, ids: list[str]) -> list:
    await asyncio.gather(
        *(
            client.start_workflow(workflows.FiveSteps.run, ACTIVITIES, id=i, task_queue=task_queue)
            for i in ids
        )
    )
    return await asyncio.wait_for(
        asyncio.gather(*(client.get_workflow_handle(i).result() for i in ids)),
        timeout=COMPLETE_DEADLINE_S,
    )


async def wait_identical_replicas(cluster: Cluster, bound_s: float) -> dict:
    """Until every group's checksum is the same on every live node (at the same applied
    index); returns group -> (applied, pairs, crc32)."""
    deadline = time.monotonic() + bound_s
    while True:
        sums = {n: await cluster.checksums(n) for n in cluster.live()}
        groups = set().union(*(s.keys() for s in sums.values()))
        differing = {
            g: {n: s.get(g) for n, s in sums.items()}
            for g in groups
            if len({s.get(g) for s in sums.values()}) != 1
        }
        if not differing:
            return next(iter(sums.values()))
        if time.monotonic() > deadline:
            raise AssertionError(f"replicas differ after {bound_s}s: {differing}")
        await asyncio.sleep(0.5)


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
    # The returned node gets its share of the leaderships back.
    counts = await wait_leaders_even(cluster, 60)
    assert counts[victim] > 0, counts
    print(f"follower loss: leaders per node after the return {counts}")

    for wf_id, result in zip(ids, results):
        assert result == [f"{wf_id}:{step}" for step in range(ACTIVITIES)]
    await assert_steps_done_once(client, ids, ACTIVITIES, completed)
    # Reads through the returned node are current.
    back = await cluster.client(victim)
    for wf_id in ids[-5:]:
        assert await back.get_workflow_handle(wf_id).result() == [
            f"{wf_id}:{s}" for s in range(ACTIVITIES)
        ]


async def test_lost_disk_is_refused_under_its_id_and_rejoins_as_a_new_node_by_snapshot():
    async with Cluster(size=3, shards=4, extra_args=("--snapshot-every", "100")) as cluster:
        await asyncio.wait_for(_disk_loss(cluster), timeout=COMPLETE_DEADLINE_S + 300)


async def _disk_loss(cluster: Cluster) -> None:
    client = await cluster.client(1)
    async with running_worker(await cluster.client(2), prefix="disk-loss") as w:
        # Work until every shard's leader has compacted its log behind a snapshot (ids hash
        # unevenly over shards, so the amount needed varies); bounded.
        first: list[str] = []
        compacted: dict[int, int] = {}
        for batch in range(8):
            ids = [f"disk-loss-a{batch}-{i}-{uuid.uuid4().hex[:6]}" for i in range(20)]
            await run_workflows(client, w.task_queue, ids)
            first += ids
            views = await cluster.views()
            compacted = {
                g: v.purged_index
                for view in views.values()
                for g, v in view.led().items()
                if g != 0 and v.purged_index
            }
            if len(compacted) == cluster.shards:
                break
        assert len(compacted) == cluster.shards, f"shards with a compacted log: {compacted}"

        cluster.kill(3)
        cluster.wipe(3)
        await cluster.restart(3, wait=False)
        code = await cluster.wait_exit(3)
        assert code != 0, "a wiped node started under its old id"
        last_start = cluster.node(3).log_path.read_text(errors="replace").rsplit("===== start #", 1)[-1]
        assert "perdure cluster remove 3" in last_start, last_start[-3000:]

        remove_node(cluster, 3, via=1)
        cluster.forget(3)
        new = await cluster.add_node(via=1)
        # SERVING only means every group's leader is known; the learner catches up after.
        # Every compacted group has to send it a snapshot (its log no longer starts at 1).
        deadline = time.monotonic() + CATCH_UP_BOUND_S
        while True:
            _, text = await asyncio.to_thread(cluster.node(new).get, "/metrics")
            installed = metric(text, "perdure_raft_snapshots_installed_total")
            if installed >= len(compacted) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        print(f"disk loss: node {new} installed {installed:.0f} snapshots; compacted {compacted}")
        assert installed >= len(compacted), text

        # The new node serves, and the work goes on through it.
        second = [f"disk-loss-b-{i}-{uuid.uuid4().hex[:6]}" for i in range(10)]
        await run_workflows(await cluster.client(new), w.task_queue, second)
        completed = list(w.activities.completed)
    await wait_caught_up(cluster, 3, CATCH_UP_BOUND_S)
    sums = await wait_identical_replicas(cluster, CATCH_UP_BOUND_S)
    print(f"disk loss: identical replicas, per group (applied, pairs, crc32): {sums}")
    await assert_steps_done_once(client, first + second, ACTIVITIES, completed)


async def test_membership_grows_to_five_and_shrinks_to_three_under_load():
    async with Cluster(size=3, shards=8) as cluster:
        await asyncio.wait_for(_membership(cluster), timeout=COMPLETE_DEADLINE_S + 600)


async def _membership(cluster: Cluster) -> None:
    # Worker and client stay on node 3, which the shrink keeps.
    client = await cluster.client(3)
    ids: list[str] = []
    stop = asyncio.Event()
    async with running_worker(await cluster.client(3), prefix="membership") as w:

        async def load() -> None:
            while not stop.is_set() and len(ids) < WORKFLOWS * 5:
                wf_id = f"membership-{len(ids)}-{uuid.uuid4().hex[:6]}"
                await client.start_workflow(
                    workflows.FiveSteps.run, ACTIVITIES, id=wf_id, task_queue=w.task_queue
                )
                ids.append(wf_id)
                await asyncio.sleep(0.1)

        loader = asyncio.create_task(load())
        steps = []
        for _ in range(2):
            started = time.monotonic()
            node = await cluster.add_node(via=3)
            await wait_voting(cluster, node)
            steps.append(f"+{node} {time.monotonic() - started:.1f}s")
        for gone in (1, 2):
            started = time.monotonic()
            await asyncio.to_thread(remove_node, cluster, gone, 3)
            await cluster.stop(gone)
            cluster.forget(gone)
            steps.append(f"-{gone} {time.monotonic() - started:.1f}s")
        stop.set()
        await loader
        await asyncio.wait_for(
            asyncio.gather(*(client.get_workflow_handle(i).result() for i in ids)),
            timeout=COMPLETE_DEADLINE_S,
        )
        completed = list(w.activities.completed)
    print(f"membership: {' '.join(steps)}; {len(ids)} workflows through the changes")
    assert ids, "no load ran"
    await assert_steps_done_once(client, ids, ACTIVITIES, completed)
    await wait_caught_up(cluster, 3, CATCH_UP_BOUND_S)
    counts = await wait_leaders_even(cluster, 60)
    print(f"membership: leaders per node at the end {counts}")


async def wait_voting(cluster: Cluster, node: int, bound_s: float = 120) -> None:
    """Until ``node`` votes in some group and every group has 3 voters."""
    deadline = time.monotonic() + bound_s
    while True:
        views = await cluster.views()
        groups = {g: v for view in views.values() for g, v in view.led().items()}
        if (
            len(groups) == len(cluster.groups)
            and all(len(v.voters) == 3 for v in groups.values())
            and any(node in v.voters for v in groups.values())
        ):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"node {node} not voting within {bound_s}s: {groups}")
        await asyncio.sleep(0.2)


async def wait_leaders_even(cluster: Cluster, bound_s: float) -> dict[int, int]:
    deadline = time.monotonic() + bound_s
    while True:
        counts = await cluster.leader_counts()
        total = sum(counts.values())
        if total == len(cluster.groups) and max(counts.values()) - min(counts.values()) <= 1:
            return counts
        if time.monotonic() > deadline:
            raise AssertionError(f"leaders not within one of even after {bound_s}s: {counts}")
        await asyncio.sleep(0.2)
