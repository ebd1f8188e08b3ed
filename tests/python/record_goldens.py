"""Re-records golden/*.json from Temporal's own dev server.

Usage (from the repository root, after `scripts/setup.sh`):
    .venv/bin/python tests/python/record_goldens.py

Starts `temporal server start-dev` on a free port, runs every scenario in scenarios.py with a
Python SDK worker (scenarios in OWN_WORKER_SCENARIOS bring their own workers), and writes the
event-type sequence of each history. Review the diff before
committing: a change means Temporal's history shape changed, and Perdure must follow it.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid

from temporalio.worker import Worker

import workflows
from activities import Activities
from harness import ServerUnderTest
from history import assert_contiguous_ids, events_of, write_golden
from scenarios import GOLDEN_SCENARIOS, OWN_WORKER_SCENARIOS


def temporal_version() -> str:
    from harness import temporal_bin

    out = subprocess.run([temporal_bin(), "--version"], capture_output=True, text=True)
    return out.stdout.strip()


async def main() -> None:
    server = ServerUnderTest(kind="temporal")
    try:
        client = await server.start()
        acts = Activities()
        task_queue = f"golden-{uuid.uuid4()}"
        source = temporal_version()
        async with Worker(
            client, task_queue=task_queue, workflows=workflows.ALL, activities=acts.all()
        ):
            for name, scenario in sorted(GOLDEN_SCENARIOS.items()):
                handle = await scenario(client, task_queue, f"golden-{name}-{uuid.uuid4().hex[:8]}")
                events = await events_of(handle)
                assert_contiguous_ids(events)
                print(f"{name}: {len(events)} events -> {write_golden(name, events, source)}")
        for name, scenario in sorted(OWN_WORKER_SCENARIOS.items()):
            handle = await scenario(client, task_queue, f"golden-{name}-{uuid.uuid4().hex[:8]}")
            events = await events_of(handle)
            assert_contiguous_ids(events)
            print(f"{name}: {len(events)} events -> {write_golden(name, events, source)}")
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
