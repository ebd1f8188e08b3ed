"""The availability measure: the longest time one group stayed leaderless within a window, from
leader samples, and its attribution to the faults of nemesis.jsonl."""

from __future__ import annotations

import json

from perdure_jepsen.leaders import (
    LEADERS_FILE,
    leaderless_by_fault,
    longest_leaderless,
    summarize_leaderless,
)

S = 1_000_000_000


def samples(*rows):
    return [(int(t * S), set(groups)) for t, groups in rows]


def test_one_group_leaderless_for_consecutive_samples():
    rows = samples((0, []), (1, [3]), (2, [3]), (3, [3, 4]), (4, []), (5, []))
    # Group 3 leaderless from t=1 until the sample at t=4 saw it led: 3 s.
    assert longest_leaderless(rows, 0, 6 * S) == 3.0


def test_different_groups_in_turn_are_not_added_up():
    rows = samples((0, [1]), (1, [2]), (2, [1]), (3, []))
    assert longest_leaderless(rows, 0, 4 * S) == 1.0


def test_only_the_window_counts():
    rows = samples((0, [1]), (1, [1]), (2, [1]), (3, []))
    assert longest_leaderless(rows, 2 * S, 4 * S) == 1.0
    assert longest_leaderless(rows, 3 * S, 4 * S) == 0.0


def test_faults_get_the_leaderless_time_until_the_next_fault(tmp_path):
    rows = [(0, []), (1, [2]), (2, [2]), (3, []), (10, []), (11, [5]), (12, [])]
    with (tmp_path / LEADERS_FILE).open("w") as f:
        for t, g in rows:
            f.write(json.dumps({"time": t * S, "leaderless": g}) + "\n")
    with (tmp_path / "nemesis.jsonl").open("w") as f:
        for t, kind, phase in [(0.5, "kill", "start"), (5, "kill", "stop"),
                               (10.5, "isolate", "start"), (11.5, "isolate", "stop")]:
            f.write(json.dumps({"time": int(t * S), "kind": kind, "phase": phase, "detail": {}}) + "\n")
    by_fault = leaderless_by_fault(tmp_path)
    assert by_fault == {"kill": [2.0], "isolate": [1.0]}
    summary = summarize_leaderless([by_fault, {"kill": [4.0]}])
    assert summary["kill"] == {"faults": 2, "median_s": 3.0, "max_s": 4.0}
