"""The runner: `jepsen/run` builds the network, starts the cluster, drives the workload under the
nemeses, heals, reads the final state, checks it, and writes one directory per run.

A run directory holds history.jsonl, nemesis.jsonl, final.json, results.json, run.json (the
command, seed and machine) and every node's data and log (nodes.py). After the last run a
summary table of all runs is printed and written to `<out>/summary.md`.

Owns: the order of a run's phases and their deadlines, and the check that nothing of the run
was left behind (namespaces, links, iptables rules, processes). Must never: start a run without
cleaning up leftovers of an earlier one, or report a run valid whose checks did not all run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from temporalio.client import Client

from . import checker, plot, report
from .clock import ClockHook, ClockSkew
from .lazyfs import LazyFsHook, LoseUnfsynced
from .leaders import LeaderSampler, leaderless_by_fault
from .net import Network, cleanup_all, preflight
from .nemesis import (
    IsolateLeader,
    IsolateOne,
    Kill,
    MajorityRing,
    Pause,
    RandomHalves,
    Scheduler,
    WipeDisk,
)
from .membership import MemberChange
from .nodes import Cluster, NodeError, NodeHook
from .workload import (
    Recorder,
    Shared,
    client_process,
    finish_all,
    read_final,
    wait_closed,
    worker_for,
)

#: --nemesis names and the faults each stands for.
NEMESES = {
    "partition": [IsolateOne, IsolateLeader, RandomHalves, MajorityRing],
    "kill": [Kill],
    "pause": [Pause],
    "disk": [WipeDisk],
    "clock": [ClockSkew, lambda: ClockSkew(target="leader")],
    "member": [MemberChange, lambda: MemberChange(target="leader")],
    "lazyfs": [LoseUnfsynced],
}
#: --nemesis names that need spare slots (an address with no node yet) in the network.
SPARES = {"member": 1}
#: --nemesis names whose faults need every node wrapped (nodes.NodeHook): name -> a factory
#: taking the run directory. One hook per name per run, shared by its nemeses (they find it
#: with ``ctx.cluster.hook(kind)``).
HOOKS: dict[str, Callable[[Path], NodeHook]] = {"clock": ClockHook, "lazyfs": LazyFsHook}
#: Named in the issue, not built yet: refused with a clear message rather than ignored.
NOT_BUILT: set[str] = set()
#: After the workload: how long the cluster may take to heal, finish every workflow and agree.
HEAL_DEADLINE_S = 90.0
FINISH_DEADLINE_S = 90.0
REPLICAS_DEADLINE_S = 60.0
#: Workflows open at once.
MAX_OPEN = 12


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="jepsen/run", description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=3, choices=[3, 5])
    p.add_argument("--nemesis", default="partition,kill,pause",
                   help="comma-separated: " + ", ".join(NEMESES))
    p.add_argument("--time", type=float, default=60.0, help="seconds of workload per run")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--seed", type=int, default=None, help="first run's seed (then +1 per run)")
    p.add_argument("--rate", type=float, default=10.0, help="operations per second per client")
    p.add_argument("--clients", type=int, default=None, help="client processes (default 2 per node)")
    p.add_argument("--out", type=Path, default=Path("jepsen/store"))
    p.add_argument("--binary", type=Path, default=None, help="perdure binary (default target/release/perdure)")
    p.add_argument("--fault", type=float, nargs=2, default=(5.0, 15.0), metavar=("MIN", "MAX"),
                   help="seconds a fault is held")
    p.add_argument("--heal", type=float, nargs=2, default=(5.0, 10.0), metavar=("MIN", "MAX"),
                   help="seconds between faults")
    p.add_argument("--sequence", action="store_true",
                   help="faults in the order --nemesis lists them (cycling), not at random")
    p.add_argument("--break", dest="test_break", default=None, metavar="BUG",
                   help="start the nodes with a deliberate bug (PERDURE_TEST_BREAK), to show the "
                        "checkers catch it: ack-signal-before-commit")
    args = p.parse_args(argv)
    args.argv = list(argv)
    names = [n.strip() for n in args.nemesis.split(",") if n.strip()]
    unknown = [n for n in names if n not in NEMESES]
    if unknown:
        later = [n for n in unknown if n in NOT_BUILT]
        p.error(f"unknown nemesis {unknown}" + (f" ({later}: not built yet)" if later else ""))
    args.nemeses = names
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2**31)
    return args


def nemeses_for(names: list[str], sequence: bool):
    """Every fault the names stand for; in a sequence, one per name (for "partition", cutting
    off the node that leads most groups: the partition that forces the most elections)."""
    if sequence:
        return [(IsolateLeader if name == "partition" else NEMESES[name][0])() for name in names]
    return [cls() for name in names for cls in NEMESES[name]]


async def drive(args, net: Network, cluster: Cluster, run_dir: Path, seed: int) -> dict:
    """The workload under the nemeses, then healing and the final read. Returns run facts."""
    addrs = cluster.api_addrs()
    clients = {s: await Client.connect(a, namespace="default") for s, a in addrs.items()}
    workers = [worker_for(c) for c in clients.values()]
    worker_tasks = [asyncio.create_task(w.run()) for w in workers]
    recorder = Recorder(run_dir / "history.jsonl")
    shared = Shared(rng=random.Random(seed), prefix=f"wf-{seed}")
    n_clients = args.clients or 2 * len(clients)
    slots = sorted(clients)
    sampler = LeaderSampler(cluster, run_dir).start()
    scheduler = Scheduler(
        net,
        cluster,
        run_dir,
        seed=seed,
        total_s=args.time,
        nemeses=nemeses_for(args.nemeses, args.sequence),
        fault_s=tuple(args.fault),
        heal_s=tuple(args.heal),
        sequence=args.sequence,
    ).start()
    facts: dict = {}
    try:
        until = time.monotonic() + args.time
        await asyncio.gather(
            *(
                client_process(
                    f"c{i}", clients[slots[i % len(slots)]], shared, recorder, until, args.rate, MAX_OPEN
                )
                for i in range(n_clients)
            )
        )
        # Healing (the scheduler's own finally) may take a restart's worth of time.
        await asyncio.to_thread(scheduler.join)
        await asyncio.to_thread(cluster.wait_all_groups_led, None, HEAL_DEADLINE_S)
        sampler.stop()
        # Through a node that is a member now: the node a client was made for at the start may
        # have been removed (membership changes), and its address may hold nobody.
        live = cluster.live()
        if not live:
            raise NodeError("no live node after healing")
        first = clients.get(live[0]) or await Client.connect(
            cluster.node(live[0]).api_addr, namespace="default"
        )
        await finish_all("final", first, shared, recorder, FINISH_DEADLINE_S)
        await wait_closed(first, shared.started, FINISH_DEADLINE_S)
        replicas = await replica_checksums(cluster, facts)
        await read_final(first, shared.started, replicas, run_dir)
    finally:
        scheduler.stop()
        sampler.stop()
        recorder.close()
        for w in workers:
            try:
                await asyncio.wait_for(w.shutdown(), 30)
            except Exception:  # noqa: BLE001 - a worker on a dead node may not shut down cleanly
                pass
        for t in worker_tasks:
            t.cancel()
    facts["workflows"] = len(shared.started)
    return facts


async def replica_checksums(cluster: Cluster, facts: dict) -> dict[str, dict[str, str]]:
    """Every group's checksum on every live node, once they agree (bounded wait). The snapshot
    that agreed is the one recorded: sampling again could catch a replica one entry behind (a new
    leader's blank entry, say) and call it diverged. If they never agree, each node's own
    answer is recorded and the checker reports the groups that differ."""
    def fmt(c) -> str:
        applied, pairs, crc = c
        return f"{applied}/{pairs}/{crc}"

    live = cluster.live()
    try:
        sums = await asyncio.to_thread(cluster.wait_identical_replicas, REPLICAS_DEADLINE_S, live)
        facts["replicas_identical"] = True
        return {str(g): {str(cluster.node_id(s)): fmt(c) for s in live} for g, c in sums.items()}
    except NodeError as e:
        facts["replicas_identical"] = False
        facts["replicas_error"] = str(e)[:2000]
    replicas: dict[str, dict[str, str]] = {}
    for s in live:
        for g, c in (await asyncio.to_thread(cluster.checksums, s)).items():
            replicas.setdefault(str(g), {})[str(cluster.node_id(s))] = fmt(c)
    return replicas


def one_run(args, index: int) -> Path:
    seed = args.seed + index
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = (args.out / f"{stamp}-s{seed}").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "seed": seed,
        "nodes": args.nodes,
        "nemesis": args.nemeses,
        "time_s": args.time,
        "rate": args.rate,
        "command": " ".join(["jepsen/run", *args.argv]),
        "break": args.test_break,
        "machine": {"host": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release()},
        "started": stamp,
    }
    # One suite per machine: whatever an earlier, interrupted run left goes first.
    cleanup_all()
    spares = max((SPARES.get(name, 0) for name in args.nemeses), default=0)
    net = Network(args.nodes + spares)
    with net:
        env = {"PERDURE_TEST_BREAK": args.test_break} if args.test_break else None
        hooks = [HOOKS[name](run_dir) for name in args.nemeses if name in HOOKS]
        with Cluster(
            net, run_dir, binary=args.binary, env=env, hooks=hooks, spares=spares
        ) as cluster:
            try:
                cluster.wait_all_groups_led(deadline_s=60.0)
                meta.update(asyncio.run(drive(args, net, cluster, run_dir, seed)))
            except Exception as e:  # noqa: BLE001 - reported as this run's result; the next runs go on
                meta["error"] = f"{type(e).__name__}: {str(e)[:2000]}"
                meta["traceback"] = traceback.format_exc()[-6000:]
    left = net.leftovers()
    meta["leftovers"] = {k: v for k, v in left.items() if v}
    (run_dir / "run.json").write_text(json.dumps(meta, indent=1))
    if "error" in meta:
        # Nothing can be concluded without the final read: invalid, never silently valid.
        results = {
            "valid": False,
            "anomalies": [{"kind": "run-error", "detail": meta["error"]}],
            "stats": {},
        }
    else:
        results = checker.check_run_dir(run_dir)
    if meta["leftovers"]:
        results["valid"] = False
        results["anomalies"].append({"kind": "leftovers", "detail": meta["leftovers"]})
    results["stats"]["leaderless_s"] = leaderless_by_fault(run_dir)
    line = report.write_results(run_dir, results)
    plot.plot_run(run_dir)
    print(f"{run_dir.name}: {line}", flush=True)
    return run_dir


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    problem = preflight()
    if problem:
        print(f"jepsen/run: {problem}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    dirs = [one_run(args, i) for i in range(args.runs)]
    table = report.summarize(dirs)
    (args.out / "summary.md").write_text(table)
    print(table)
    valid = all(json.loads((d / "results.json").read_text())["valid"] for d in dirs)
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
