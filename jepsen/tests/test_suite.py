"""The whole suite, end to end, as `.ci/run` runs it: a short smoke run under a partition and a
kill must be valid and leave nothing behind, the same run against a node started with a
deliberate bug (signals acknowledged before they are written) must be reported invalid, and a
run in which a node is added and another removed under load must be valid.

Root only (network namespaces); the server binary is PERDURE_BIN or target/debug/perdure (CI
builds one profile), else target/release/perdure.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from binaries import perdure_binary
from perdure_jepsen import net, run


def run_suite(tmp_path: Path, *args: str) -> tuple[int, dict, Path]:
    """One `jepsen/run` with ``args`` into a fresh store: (exit code, results.json, run dir).
    Skips without root, namespaces or a perdure binary."""
    problem = net.preflight()
    if problem:
        pytest.skip(problem)
    binary = perdure_binary()
    if binary is None:
        pytest.skip("no perdure binary: cargo build -p perdure-server")
    out = tmp_path / "store"
    code = run.main(["--binary", str(binary), "--out", str(out), *args])
    [results] = [json.loads(p.read_text()) for p in sorted(out.glob("*/results.json"))]
    [run_dir] = [p.parent for p in out.glob("*/results.json")]
    return code, results, run_dir


def test_smoke_run_under_a_partition_and_a_kill_is_valid(tmp_path):
    code, results, run_dir = run_suite(
        tmp_path,
        "--nodes", "3",
        "--nemesis", "partition,kill",
        "--sequence",
        "--time", "50",
        "--fault", "8", "10",
        "--heal", "6", "8",
        "--seed", "1",
    )  # fmt: skip
    assert code == 0 and results["valid"], json.dumps(results["anomalies"], indent=1)[:4000]
    stats = results["stats"]
    # The run did something under faults: acknowledged operations of every kind, and both
    # faults happened (the sequence is partition first, then kill).
    for f in ("start", "signal", "read", "finish"):
        assert stats["ops"][f]["ok"] > 0, stats["ops"]
    kinds = stats["nemesis"]["faults"]
    assert kinds.get("kill", 0) >= 1 and sum(kinds.values()) >= 2, kinds
    if importlib.util.find_spec("matplotlib") is not None:  # jepsen/setup.sh installs it
        for picture in ("latency-raw.png", "rate.png"):
            assert (run_dir / picture).stat().st_size > 10_000, picture
    assert net.leftovers() == {k: [] for k in net.leftovers()}, net.leftovers()


def test_a_server_that_acknowledges_signals_before_writing_them_is_caught(tmp_path):
    code, results, _ = run_suite(
        tmp_path,
        "--nodes", "3",
        "--nemesis", "kill",
        "--time", "25",
        "--fault", "5", "6",
        "--heal", "4", "5",
        "--seed", "2",
        "--break", "ack-signal-before-commit",
    )  # fmt: skip
    assert code == 1 and not results["valid"]
    kinds = {a["kind"] for a in results["anomalies"]}
    # Reads right after an acknowledged signal miss it; a kill in the window loses it; a later
    # signal can overtake it.
    assert kinds & {"stale-read", "lost-signal", "reordered-signal", "nonprefix-read"}, kinds


def test_a_node_added_and_another_removed_under_load_loses_nothing(tmp_path):
    code, results, run_dir = run_suite(
        tmp_path,
        "--nodes", "3",
        "--nemesis", "member",
        "--sequence",
        "--time", "30",
        "--fault", "6", "8",
        "--heal", "4", "5",
        "--seed", "3",
    )  # fmt: skip
    assert code == 0 and results["valid"], json.dumps(results["anomalies"], indent=1)[:4000]
    lines = [json.loads(x) for x in (run_dir / "nemesis.jsonl").read_text().splitlines()]
    start = next(x["detail"] for x in lines if x["kind"] == "member" and x["phase"] == "start")
    stop = next(x["detail"] for x in lines if x["kind"] == "member" and x["phase"] == "stop")
    # The spare slot 4 got a new node id, and one of the first three left for good while the
    # workload ran (and the run above still lost nothing).
    assert start["slot"] == 4 and start["node_id"] == 5 and "error" not in start, start
    assert not stop["errors"] and len(stop["removed"]) == 1, stop
    [removed] = stop["removed"]
    nodes = json.loads((run_dir / "nodes.json").read_text())
    assert nodes["retired_node_ids"][0] == removed["node_id"] <= 3, nodes
    members = [n["node_id"] for n in nodes["nodes"].values() if n["member"]]
    assert len(members) == 3 and removed["node_id"] not in members, nodes["nodes"]
    assert results["stats"]["ops"]["signal"]["ok"] > 0
    # The runner's own check of this run's namespaces, links, rules and processes.
    assert json.loads((run_dir / "run.json").read_text())["leftovers"] == {}
