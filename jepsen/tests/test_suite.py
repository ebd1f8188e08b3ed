"""The whole suite, end to end, as `.ci/run` runs it: a short smoke run under a partition and a
kill must be valid and leave nothing behind, and the same run against a node started with a
deliberate bug (signals acknowledged before they are written) must be reported invalid.

Root only (network namespaces); the server binary is PERDURE_BIN or target/debug/perdure (CI
builds one profile), else target/release/perdure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from perdure_jepsen import net, run

REPO = Path(__file__).resolve().parents[2]


def binary() -> Path:
    for candidate in (
        os.environ.get("PERDURE_BIN"),
        REPO / "target" / "debug" / "perdure",
        REPO / "target" / "release" / "perdure",
    ):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    pytest.skip("no perdure binary: cargo build -p perdure-server")


def usable() -> None:
    problem = net.preflight()
    if problem:
        pytest.skip(problem)


def results_of(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/results.json"))]


def test_smoke_run_under_a_partition_and_a_kill_is_valid(tmp_path):
    usable()
    out = tmp_path / "store"
    code = run.main(
        [
            "--binary", str(binary()),
            "--nodes", "3",
            "--nemesis", "partition,kill",
            "--sequence",
            "--time", "50",
            "--fault", "8", "10",
            "--heal", "6", "8",
            "--seed", "1",
            "--out", str(out),
        ]
    )
    [results] = results_of(out)
    assert code == 0 and results["valid"], json.dumps(results["anomalies"], indent=1)[:4000]
    stats = results["stats"]
    # The run did something under faults: acknowledged operations of every kind, and both
    # faults happened (the sequence is partition first, then kill).
    for f in ("start", "signal", "read", "finish"):
        assert stats["ops"][f]["ok"] > 0, stats["ops"]
    kinds = stats["nemesis"]["faults"]
    assert kinds.get("kill", 0) >= 1 and sum(kinds.values()) >= 2, kinds
    assert net.leftovers() == {k: [] for k in net.leftovers()}, net.leftovers()


def test_a_server_that_acknowledges_signals_before_writing_them_is_caught(tmp_path):
    usable()
    out = tmp_path / "store"
    code = run.main(
        [
            "--binary", str(binary()),
            "--nodes", "3",
            "--nemesis", "kill",
            "--time", "25",
            "--fault", "5", "6",
            "--heal", "4", "5",
            "--seed", "2",
            "--break", "ack-signal-before-commit",
            "--out", str(out),
        ]
    )
    [results] = results_of(out)
    assert code == 1 and not results["valid"]
    kinds = {a["kind"] for a in results["anomalies"]}
    # Reads right after an acknowledged signal miss it; a kill in the window loses it; a later
    # signal can overtake it.
    assert kinds & {"stale-read", "lost-signal", "reordered-signal", "nonprefix-read"}, kinds
