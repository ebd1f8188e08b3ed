"""Availability: how long each fault left Raft groups without a working leader.

A sampler asks every reachable node for its `/cluster` view twice a second during a run and
writes `leaders.jsonl`: `{"time": monotonic ns, "leaderless": [group ids]}`, a group counting as
led only if some node says it leads it *and* a quorum acknowledged that node within
`QUORUM_FRESH_MS` (an isolated old leader keeps saying it leads; it is not serving). After the
run, `leaderless_by_fault` measures, for every fault of `nemesis.jsonl`, the longest time any
group stayed leaderless from the fault's start until the next fault started (so recovery after
the heal counts too).

Owns: sampling and that measure. Must never: affect validity (availability is reported, not
judged), or slow the run down (a sample that takes long is simply late).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from statistics import median

from .history import read_nemesis
from .nodes import Cluster

LEADERS_FILE = "leaders.jsonl"
SAMPLE_S = 0.5
#: A leader whose quorum last answered longer ago than this is not counted (a few heartbeats).
QUORUM_FRESH_MS = 1500


class LeaderSampler:
    def __init__(self, cluster: Cluster, run_dir: Path) -> None:
        self.cluster = cluster
        self.path = Path(run_dir) / LEADERS_FILE
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pj-leaders", daemon=True)

    def start(self) -> "LeaderSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with self.path.open("w", buffering=1) as out:
            while not self._stop.is_set():
                at = time.monotonic_ns()
                try:
                    views = self.cluster.views(timeout=1.0)
                except Exception:  # noqa: BLE001 - a sample that fails is just missing
                    views = {}
                led = set()
                for view in views.values():
                    led.update(view.led_with_quorum(QUORUM_FRESH_MS))
                leaderless = [g for g in self.cluster.groups if g not in led]
                out.write(json.dumps({"time": at, "leaderless": leaderless}) + "\n")
                self._stop.wait(SAMPLE_S)


def read_samples(path: Path) -> list[tuple[int, set[int]]]:
    samples = []
    for line in path.read_text().splitlines():
        if line.strip():
            doc = json.loads(line)
            samples.append((doc["time"], set(doc["leaderless"])))
    return samples


def longest_leaderless(samples: list[tuple[int, set[int]]], begin: int, end: int) -> float:
    """The longest run of consecutive samples in [begin, end) in which one group stayed
    leaderless, in seconds (a group leaderless in one sample counts for that sample's span)."""
    window = [(t, g) for t, g in samples if begin <= t < end]
    longest = 0.0
    since: dict[int, int] = {}
    for i, (t, groups) in enumerate(window):
        nxt = window[i + 1][0] if i + 1 < len(window) else t + int(SAMPLE_S * 1e9)
        for g in list(since):
            if g not in groups:
                del since[g]
        for g in groups:
            since.setdefault(g, t)
            longest = max(longest, (nxt - since[g]) / 1e9)
    return longest


def leaderless_by_fault(run_dir: Path) -> dict[str, list[float]]:
    """Fault kind -> the longest leaderless time of each of its occurrences in this run."""
    run_dir = Path(run_dir)
    samples_path = run_dir / LEADERS_FILE
    nemesis_path = run_dir / "nemesis.jsonl"
    if not samples_path.exists() or not nemesis_path.exists():
        return {}
    samples = read_samples(samples_path)
    starts = [e for e in read_nemesis(nemesis_path) if e.phase == "start"]
    end_of_run = samples[-1][0] + 1 if samples else 0
    out: dict[str, list[float]] = {}
    for i, ev in enumerate(starts):
        until = starts[i + 1].time if i + 1 < len(starts) else end_of_run
        out.setdefault(ev.kind, []).append(round(longest_leaderless(samples, ev.time, until), 2))
    return out


def summarize_leaderless(per_run: list[dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    """Fault kind -> count, median and max of the longest leaderless time, over runs."""
    merged: dict[str, list[float]] = {}
    for run in per_run:
        for kind, values in run.items():
            merged.setdefault(kind, []).extend(values)
    return {
        kind: {"faults": len(v), "median_s": round(median(v), 2), "max_s": round(max(v), 2)}
        for kind, v in sorted(merged.items())
        if v
    }
