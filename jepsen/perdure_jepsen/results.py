"""RESULTS.md from stores of runs: `python -m perdure_jepsen.results jepsen/store [more stores...]`
(one aggregate over every run directory of every store given).

Aggregates every run directory under the store: the commands and seeds, the machine, how many
runs were valid, anomalies by kind, faults by kind, the longest leaderless time per fault kind
(median and max, when the run sampled leaders), operations by outcome, and activity
re-executions. Then the per-run table of report.summarize.

Owns: the published summary. Must never: count a run whose results.json is missing as valid.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from .leaders import summarize_leaderless
from .report import summarize


def run_dirs(store: Path) -> list[Path]:
    return sorted(p.parent for p in store.glob("*/run.json"))


def aggregate(dirs: list[Path]) -> str:
    metas = [json.loads((d / "run.json").read_text()) for d in dirs]
    results = [
        json.loads((d / "results.json").read_text()) if (d / "results.json").exists() else None
        for d in dirs
    ]
    valid = sum(1 for r in results if r and r.get("valid"))
    anomalies: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    runs_with: Counter[str] = Counter()
    ops: Counter[str] = Counter()
    executions = completions = re_executions = 0
    leaderless = []
    for r in results:
        if not r:
            continue
        anomalies.update(a["kind"] for a in r.get("anomalies", []))
        stats = r.get("stats", {})
        run_faults = stats.get("nemesis", {}).get("faults", {})
        faults.update(run_faults)
        runs_with.update(k for k, n in run_faults.items() if n)
        for f, by_type in stats.get("ops", {}).items():
            for t, n in by_type.items():
                ops[f"{f} {t}"] += n
        acts = stats.get("activities", {})
        executions += acts.get("executions", 0)
        completions += acts.get("completions", 0)
        re_executions += acts.get("re-executions", 0)
        leaderless.append(stats.get("leaderless_s", {}))
    commands = sorted({m.get("command", "?") for m in metas})
    seeds = sorted(m.get("seed") for m in metas if m.get("seed") is not None)
    machines = sorted({json.dumps(m.get("machine", {}), sort_keys=True) for m in metas})
    lines = [
        f"- Runs: {len(dirs)}, valid: {valid}, invalid or unchecked: {len(dirs) - valid}.",
        f"- Commands: " + "; ".join(f"`{c}`" for c in commands),
        f"- Seeds: {seeds[0]}–{seeds[-1]}" if seeds else "- Seeds: none recorded",
        f"- Machine: " + "; ".join(machines),
        "- Anomalies: "
        + (", ".join(f"{k} {n}" for k, n in sorted(anomalies.items())) if anomalies else "none"),
        "- Faults (injected, in how many runs): "
        + ", ".join(f"{k} {n} in {runs_with[k]}" for k, n in sorted(faults.items())),
        "- Operations: " + ", ".join(f"{k} {n}" for k, n in sorted(ops.items())),
        f"- Activities: {executions} executions for {completions} completions "
        f"({re_executions} re-executed, each recorded once in history).",
        "",
        "Longest time any Raft group had no leader acknowledged by a quorum, per fault (from its "
        "start until the next fault; recovery after the heal included):",
        "",
        "| fault | faults | median (s) | max (s) |",
        "|---|---|---|---|",
    ]
    for kind, s in summarize_leaderless(leaderless).items():
        lines.append(f"| {kind} | {s['faults']} | {s['median_s']} | {s['max_s']} |")
    lines += ["", "Per run:", "", summarize(dirs)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    stores = [Path(a) for a in argv] or [Path("jepsen/store")]
    dirs = sorted((d for store in stores for d in run_dirs(store)), key=lambda d: d.name)
    if not dirs:
        print(f"no runs under {', '.join(map(str, stores))}", file=sys.stderr)
        return 2
    sys.stdout.write(aggregate(dirs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
