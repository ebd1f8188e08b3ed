"""Reporting: results.json, a one-line summary per run, a markdown table across runs.

Owns: presenting checker results. Must never: decide validity (checker.py does) or change a
run's recorded files other than results.json.

    python -m perdure_jepsen.report RUN_DIR...   # checks each run, writes its results.json,
                                                  # prints summaries and the table; exit 1 if
                                                  # any run is invalid, 2 if one is malformed
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .checker import check_run_dir
from .history import RESULTS_FILE, HistoryError, read_run_meta


def summary_line(results: dict) -> str:
    ops = results.get("stats", {}).get("ops", {})
    totals = {t: sum(c.get(t, 0) for c in ops.values()) for t in ("ok", "fail", "info")}
    op_text = (f"{sum(totals.values())} ops (ok {totals['ok']}, fail {totals['fail']}, "
               f"info {totals['info']})")
    if results["valid"]:
        return f"VALID: {op_text}, no anomalies"
    return f"INVALID: {op_text}, {len(results['anomalies'])} anomalies ({_kinds(results)})"


def _kinds(results: dict) -> str:
    counts: dict[str, int] = {}
    for a in results["anomalies"]:
        counts[a["kind"]] = counts.get(a["kind"], 0) + 1
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))


def write_results(run_dir: str | Path, results: dict) -> str:
    """Writes run_dir/results.json; returns the summary line."""
    with open(Path(run_dir) / RESULTS_FILE, "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1)
        fh.write("\n")
    return summary_line(results)


def _load_results(run_dir: Path) -> dict:
    path = run_dir / RESULTS_FILE
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    # Summarizing must not write: check afresh without saving.
    return check_run_dir(run_dir)


def summarize(run_dirs: list[str | Path]) -> str:
    """A markdown table, one row per run: valid, anomalies by kind, operations, seed."""
    rows = ["| run | seed | valid | anomalies | ops ok/fail/info |",
            "|---|---|---|---|---|"]
    for run_dir in map(Path, run_dirs):
        seed = read_run_meta(run_dir).get("seed", "")
        try:
            results = _load_results(run_dir)
        except (HistoryError, OSError) as e:
            rows.append(f"| {run_dir.name} | {seed} | error | {_cell(str(e))} | |")
            continue
        ops = results.get("stats", {}).get("ops", {})
        counts = "/".join(str(sum(c.get(t, 0) for c in ops.values()))
                          for t in ("ok", "fail", "info"))
        valid = "yes" if results["valid"] else "**no**"
        rows.append(f"| {run_dir.name} | {seed} | {valid} | {_kinds(results) or '-'} | {counts} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m perdure_jepsen.report RUN_DIR...", file=sys.stderr)
        return 2
    status = 0
    for run_dir in argv:
        try:
            line = write_results(run_dir, check_run_dir(run_dir))
        except (HistoryError, OSError) as e:
            print(f"{run_dir}: ERROR: {e}")
            status = 2
            continue
        print(f"{run_dir}: {line}")
        if line.startswith("INVALID") and status == 0:
            status = 1
    print()
    print(summarize(argv))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
