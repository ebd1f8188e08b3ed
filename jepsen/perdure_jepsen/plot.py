"""The pictures of a run, as Jepsen draws them, with the nemesis intervals shaded:
latency-raw.png, every completed operation as a point (time of invoke, latency), coloured by
outcome, one marker per operation kind, log-scaled latency; and rate.png, the throughput of
completed operations per second by outcome.

Owns: the picture only. Must never: decide validity, or fail a run because matplotlib is
missing (the run is checked either way; the plot is for people).
"""

from __future__ import annotations

from pathlib import Path

from .history import (
    HISTORY_FILE,
    NEMESIS_FILE,
    nemesis_intervals,
    pair_operations,
    read_history,
    read_nemesis,
)

PLOT_FILE = "latency-raw.png"
RATE_FILE = "rate.png"
#: Width of one throughput bucket (seconds).
RATE_BUCKET_S = 1.0
COLOURS = {"ok": "#2a9d4b", "fail": "#d1495b", "info": "#f4a300"}
MARKERS = {"start": "^", "signal": "o", "read": "s", "finish": "D"}


def plot_run(run_dir: str | Path) -> Path | None:
    """Writes run_dir/latency-raw.png; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    run_dir = Path(run_dir)
    events = read_history(run_dir / HISTORY_FILE)
    ops = pair_operations(events)
    if not events:
        return None
    origin = events[0].time
    nemesis_path = run_dir / NEMESIS_FILE
    faults = nemesis_intervals(read_nemesis(nemesis_path)) if nemesis_path.exists() else []

    def shade(ax) -> None:
        for begin, end in faults:
            end = min(end, events[-1].time)
            ax.axvspan((begin - origin) / 1e9, (end - origin) / 1e9, color="#999999", alpha=0.2, lw=0)

    _plot_rate(plt, run_dir, ops, origin, shade)
    fig, ax = plt.subplots(figsize=(11, 5))
    shade(ax)
    for kind, colour in COLOURS.items():
        for f, marker in MARKERS.items():
            pts = [
                ((op.invoke.time - origin) / 1e9, max(op.latency_ns / 1e6, 0.01))
                for op in ops
                if op.f == f and op.completion is not None and op.type == kind
            ]
            if pts:
                xs, ys = zip(*pts)
                ax.scatter(xs, ys, s=8, c=colour, marker=marker, label=f"{f} {kind}", alpha=0.7, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel("time since the first operation (s); shaded: a fault is active")
    ax.set_ylabel("latency (ms)")
    ax.set_title(run_dir.name)
    ax.legend(fontsize=7, ncol=4, loc="upper right")
    fig.tight_layout()
    out = run_dir / PLOT_FILE
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _plot_rate(plt, run_dir: Path, ops, origin: int, shade) -> None:
    """rate.png: completed operations per RATE_BUCKET_S, one line per outcome."""
    buckets: dict[str, dict[int, int]] = {kind: {} for kind in COLOURS}
    last = 0
    for op in ops:
        if op.completion is None or op.type not in buckets:
            continue
        b = int((op.completion.time - origin) / 1e9 / RATE_BUCKET_S)
        buckets[op.type][b] = buckets[op.type].get(b, 0) + 1
        last = max(last, b)
    fig, ax = plt.subplots(figsize=(11, 3.5))
    shade(ax)
    xs = [b * RATE_BUCKET_S for b in range(last + 1)]
    for kind, colour in COLOURS.items():
        ys = [buckets[kind].get(b, 0) / RATE_BUCKET_S for b in range(last + 1)]
        ax.plot(xs, ys, color=colour, lw=1, label=kind)
    ax.set_xlabel("time since the first operation (s); shaded: a fault is active")
    ax.set_ylabel("completed operations / s")
    ax.set_title(f"{run_dir.name}: throughput")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(run_dir / RATE_FILE, dpi=110)
    plt.close(fig)
