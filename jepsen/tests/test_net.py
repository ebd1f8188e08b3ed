"""The cluster-under-test harness: a 3-node Perdure cluster, each node in its own network
namespace, survives an isolated node, a kill -9 and a pause, and the suite leaves nothing behind.

Root only (namespaces, veth, bridge, iptables); skipped with the reason otherwise. Needs the
release binary (target/release/perdure, or PERDURE_BIN). About a minute:

    cd /work/main && .venv/bin/python -m pytest jepsen/tests/test_net.py -q -s

The run directory (node logs, nemesis.jsonl, nodes.json) is removed after a pass and kept (its
path printed) after a failure, or always with PJ_KEEP_RUN=1.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from perdure_jepsen import net as pjnet
from perdure_jepsen.nemesis import (
    Context,
    IsolateLeader,
    IsolateOne,
    Kill,
    MajorityRing,
    NemesisLog,
    Pause,
    RandomHalves,
    Scheduler,
    majority_ring,
)
from perdure_jepsen.nodes import Cluster, NodeError, NodeView, perdure_bin

SHARDS = 8
#: A new leader is elected after 1-2 s of silence (cluster_config); generous for a 2-core box.
ELECTION_BOUND_S = 20.0
HEALTHY_BOUND_S = 45.0
SEED = 7
#: Its first faults are majority-ring, pause, kill (one of each family) with these intervals.
SCHED_SEED = 21


def _skip_reason() -> str | None:
    reason = pjnet.preflight()
    if reason:
        return reason
    if not perdure_bin().exists():
        return f"{perdure_bin()} not built (cargo build --release -p perdure-server)"
    return None


_SKIP = _skip_reason()
needs_root_netns = pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")


def test_majority_ring_gives_every_node_a_different_majority():
    for n in range(3, 10):
        slots = list(range(1, n + 1))
        sees = majority_ring(slots)
        for a in slots:
            assert a in sees[a] and len(sees[a]) > n // 2, (n, a, sees)
            for b in sees[a]:
                assert a in sees[b], f"n={n}: {a} sees {b} but not the reverse"
        if n > 3:
            assert len({frozenset(v) for v in sees.values()}) == n, (n, sees)


class Phases:
    def __init__(self):
        self.t0 = self.last = time.monotonic()

    def done(self, what: str) -> None:
        now = time.monotonic()
        print(f"  [{now - self.t0:6.2f}s] {what} ({now - self.last:.2f}s)", flush=True)
        self.last = now


_CRASHING_RUN = """
import os, signal, subprocess, sys
sys.path.insert(0, sys.argv[1])
from perdure_jepsen import net
n = net.Network(2).create()
n.cut([1], [2])
quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # the parent reads stdout
procs = [n.popen(s, ["sleep", "300"], **quiet) for s in n.slots]
os.kill(procs[0].pid, signal.SIGSTOP)
print(n.tag, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no handler: everything stays behind
"""


@needs_root_netns
def test_cleanup_all_removes_a_crashed_run_and_spares_a_live_one():
    """A run killed with SIGKILL leaves its namespaces, links, rules and processes (a stopped one
    too); cleanup_all() removes them and nothing of a run whose process still runs (here: this
    one; on a shared machine: a parallel run); the check then finds nothing of the crashed run."""
    live = pjnet.Network(1).create()
    try:
        out = subprocess.run(
            [sys.executable, "-c", _CRASHING_RUN, str(Path(__file__).resolve().parents[1])],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == -9, out
        crashed = out.stdout.strip()
        left = pjnet.leftovers(crashed)
        assert left["namespaces"] and left["links"] and left["rules"], left
        assert len(left["processes"]) == 2, left
        assert pjnet.run_owner_alive(live.tag) and not pjnet.run_owner_alive(crashed)
        removed = pjnet.cleanup_all()
        print(f"cleanup_all() removed: {removed}")
        pjnet.assert_no_leftovers(crashed)
        assert pjnet.leftovers(live.tag)["namespaces"] == [live.ns(1)], "a live run was touched"
    finally:
        live.teardown()
    pjnet.assert_no_leftovers(live.tag)


def _others(cluster: Cluster, slot: int) -> list[int]:
    return [s for s in cluster.slots if s != slot]


def _assert_only_own_subnet_routes(net: pjnet.Network) -> None:
    """Nothing in a node's namespace can send anywhere but the suite's /24."""
    for s in net.slots:
        routes = net.exec(s, ["ip", "-4", "route", "show", "table", "all"]).stdout
        non_local = [r for r in routes.splitlines() if not r.startswith(("local ", "broadcast "))]
        own = f"{net.subnet} dev {net.ns_veth(s)} "
        assert len(non_local) == 1 and non_local[0].startswith(own), routes


def _wait_isolated_superseded(cluster: Cluster, victim: int) -> NodeView:
    """Until the isolated slot is NOT_SERVING and every leadership it still claims (openraft 0.9
    does not step down) has a leader with a later term on the majority side; its last view."""
    others = _others(cluster, victim)
    deadline = time.monotonic() + ELECTION_BOUND_S
    while True:
        iso_view = cluster.view(victim)
        majority = cluster.views(others)
        stale = {}
        for g, gv in iso_view.led().items():
            newer = [v.groups[g].term for v in majority.values() if v.groups[g].leader in others]
            if not newer or max(newer) <= gv.term:
                stale[g] = (gv.term, newer)
        health = cluster.health(victim)
        if not stale and iso_view.serving is False and health[0] == 503:
            return iso_view
        assert time.monotonic() < deadline, (
            f"isolated slot {victim}: serving={iso_view.serving} /health={health}; claims not "
            f"superseded (group: (its term, majority terms)): {stale}\n{iso_view.summary()}"
        )
        time.sleep(0.2)


@needs_root_netns
def test_cluster_in_namespaces_survives_isolation_kill_and_pause():
    phases = Phases()
    run_dir = Path(tempfile.mkdtemp(prefix="pj-test-net-"))
    passed = False
    net = pjnet.Network(3)
    cluster: Cluster | None = None
    try:
        net.create()
        phases.done(f"network {net.tag} {net.subnet} up")
        _assert_only_own_subnet_routes(net)
        cluster = Cluster(net, run_dir, shards=SHARDS)
        cluster.start()
        phases.done("3 nodes healthy")
        leaders = cluster.wait_all_groups_led(deadline_s=ELECTION_BOUND_S)
        phases.done(f"every group led: {leaders}")
        log = NemesisLog(run_dir / "nemesis.jsonl")
        ctx = Context(net, cluster, random.Random(SEED), log)

        # -- isolate the node leading most groups ---------------------------------------------
        iso = IsolateLeader()
        detail = iso.start(ctx)
        log.record(iso.kind, "start", detail)
        victim = detail["isolated"]
        cut_at = time.monotonic()
        led = cluster.wait_all_groups_led(_others(cluster, victim), ELECTION_BOUND_S)
        phases.done(
            f"isolated slot {victim} (leader counts {detail['leader_counts']}); "
            f"the majority leads all: {led}"
        )
        iso_view = _wait_isolated_superseded(cluster, victim)
        claims = {
            g: (v.term, v.state, v.millis_since_quorum_ack) for g, v in iso_view.led().items()
        }
        phases.done(
            f"isolated slot {victim} NOT_SERVING; still claims (group: term, state, ms since "
            f"quorum ack) {claims}, all superseded; {time.monotonic() - cut_at:.1f}s after the cut"
        )
        log.record(iso.kind, "stop", iso.stop(ctx))
        cluster.wait_healthy(cluster.slots, HEALTHY_BOUND_S)
        cluster.wait_all_groups_led(deadline_s=ELECTION_BOUND_S)
        phases.done(f"healed: all healthy, every group led; leaders {cluster.leader_counts()}")

        # -- kill -9 and restart -----------------------------------------------------------------
        kill = Kill(target="leader", healthy_deadline_s=HEALTHY_BOUND_S)
        detail = kill.start(ctx)
        log.record(kill.kind, "start", detail)
        dead = detail["slot"]
        assert not cluster.node(dead).running and detail["leader_counts"][str(dead)] > 0, detail
        cluster.wait_all_groups_led(among=_others(cluster, dead), deadline_s=ELECTION_BOUND_S)
        phases.done(f"killed slot {dead} (leaders {detail['leader_counts']}); others lead all")
        detail = kill.stop(ctx)
        log.record(kill.kind, "stop", detail)
        assert detail["restarted"] == [dead] and not detail["errors"], detail
        cluster.wait_all_groups_led(deadline_s=ELECTION_BOUND_S)
        phases.done(f"restarted slot {dead}: healthy after {detail['healthy_after_s']}")

        # -- a node that joined (its disk was wiped) is killed and restarts -----------------------
        # Regression: a restart gave it --peers, which does not list its new id, and it exited.
        rejoined = _others(cluster, dead)[0]
        new_id = cluster.wipe_and_rejoin(rejoined, deadline_s=HEALTHY_BOUND_S)
        cluster.kill(rejoined)
        cluster.restart(rejoined, deadline_s=HEALTHY_BOUND_S)
        assert cluster.node_id(rejoined) == new_id and "--join" in cluster.node(rejoined).command
        cluster.wait_all_groups_led(deadline_s=ELECTION_BOUND_S)
        phases.done(f"slot {rejoined} rejoined as node {new_id}, killed, restarted with --join")

        # -- SIGSTOP / SIGCONT -------------------------------------------------------------------
        pause = Pause(target="leader")
        detail = pause.start(ctx)
        log.record(pause.kind, "start", detail)
        frozen = detail["slot"]
        cluster.wait_all_groups_led(among=_others(cluster, frozen), deadline_s=ELECTION_BOUND_S)
        with pytest.raises(NodeError):
            cluster.view(frozen, timeout=1.0)  # accepted by the kernel, never answered
        phases.done(f"paused slot {frozen} (leaders {detail['leader_counts']}); others lead all")
        log.record(pause.kind, "stop", pause.stop(ctx))
        cluster.wait_healthy(cluster.slots, HEALTHY_BOUND_S)
        cluster.wait_all_groups_led(deadline_s=ELECTION_BOUND_S)
        phases.done(f"resumed slot {frozen}: all healthy")

        # -- the other partitions install and heal ---------------------------------------------
        for nemesis in (RandomHalves(), MajorityRing()):
            detail = nemesis.start(ctx)
            log.record(nemesis.kind, "start", detail)
            drops = sum(len(net.rules(s)) - 1 for s in net.slots)  # minus each chain's -N line
            assert drops == 2 * sum(len(v) for v in detail["grudge"].values()), (drops, detail)
            log.record(nemesis.kind, "stop", nemesis.stop(ctx))
            assert all(net.rules(s) == [f"-N {net.chain}"] for s in net.slots)
        log.close()
        cluster.wait_healthy(cluster.slots, HEALTHY_BOUND_S)
        phases.done("halves and majority-ring installed and healed")

        # -- a short seeded scheduler run -----------------------------------------------------
        sched = Scheduler(
            net,
            cluster,
            run_dir / "sched",
            seed=SCHED_SEED,
            total_s=14.0,
            fault_s=(2.0, 3.0),
            heal_s=(1.0, 2.0),
            nemeses=[
                Kill(healthy_deadline_s=HEALTHY_BOUND_S),
                Pause(),
                MajorityRing(),
                IsolateOne(),
            ],
        ).start()
        records = sched.join()
        kinds = [(r["kind"], r["phase"]) for r in records]
        starts = [k for k, p in kinds if p == "start"]
        stops = [k for k, p in kinds if p == "stop" and k != "heal-all"]
        assert starts and starts == stops and kinds[-1] == ("heal-all", "stop"), kinds
        assert all(a["time"] <= b["time"] for a, b in zip(records, records[1:])), "time order"
        text = (run_dir / "sched" / "nemesis.jsonl").read_text()
        lines = [json.loads(line) for line in text.splitlines()]
        assert [(x["kind"], x["phase"]) for x in lines] == kinds
        assert all(set(x) == {"time", "kind", "phase", "detail"} for x in lines)
        cluster.wait_healthy(cluster.slots, HEALTHY_BOUND_S)
        phases.done(f"scheduler (seed {SCHED_SEED}): {starts}, all healed")

        sums = cluster.wait_identical_replicas(deadline_s=30)
        phases.done(f"replicas identical in {len(sums)} groups")
        passed = True
    finally:
        if cluster is not None:
            if not passed:
                print(cluster.log_tails(30))
            cluster.close()
        removed = net.teardown()
        phases.done(f"torn down ({len(removed)} objects)")
        if not passed or os.environ.get("PJ_KEEP_RUN"):
            print(f"run directory kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    pjnet.assert_no_leftovers(net.tag)
    phases.done("no namespaces, links, rules or processes left")
