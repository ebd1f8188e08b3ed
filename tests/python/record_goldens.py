"""Re-records golden/*.json from Temporal's own dev server.

Usage (from the repository root, after `scripts/setup.sh`):
    .venv/bin/python tests/python/record_goldens.py [SCENARIO ...]

Starts `temporal server start-dev` on a free port, runs every scenario of scenarios.py (or the
named ones) with a Python SDK worker (scenarios in OWN_WORKER_SCENARIOS bring their own workers),
and writes, for each, the histories of its runs in the normalised form of
history.normalise_runs (plus the event-type sequence of the first run, and the runs of the other
workflows listed in scenarios.OTHER_WORKFLOWS, under "other_workflows"). Review the diff before
committing: a change means Temporal's history changed, and Perdure must follow it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

from temporalio.worker import Worker

import workflows
from activities import Activities
from harness import ServerUnderTest
from history import assert_contiguous_ids, runs_of, write_golden
from scenarios import ALL_SCENARIOS, GOLDEN_SCENARIOS, other_runs, runs_compared


def temporal_version() -> str:
    from harness import temporal_bin

    out = subprocess.run([temporal_bin(), "--version"], capture_output=True, text=True)
    return out.stdout.strip()


async def main(names: list[str]) -> None:
    unknown = set(names) - set(ALL_SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {sorted(unknown)}")
    server = ServerUnderTest(kind="temporal")
    try:
        client = await server.start()
        source = temporal_version()
        for name in sorted(names or ALL_SCENARIOS):
            # A fresh queue and worker per scenario, as the test's `worker` fixture gives it.
            task_queue = f"golden-{uuid.uuid4()}"
            wf_id = f"golden-{name}-{uuid.uuid4().hex[:8]}"
            async with Worker(
                client,
                task_queue=task_queue,
                workflows=workflows.ALL,
                activities=Activities().all(),
            ):
                handle = await ALL_SCENARIOS[name](client, task_queue, wf_id)
                runs = await runs_of(client, handle, runs_compared(name))
                others = await other_runs(client, name, wf_id)
            for events in [*runs, *(r for chain in others.values() for r in chain)]:
                assert_contiguous_ids(events)
            path = write_golden(name, runs, wf_id, source, others)
            kind = "" if name in GOLDEN_SCENARIOS else " (own worker)"
            more = "".join(f" + {[len(r) for r in chain]}" for chain in others.values())
            print(f"{name}{kind}: {[len(r) for r in runs]}{more} events -> {path}")
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
