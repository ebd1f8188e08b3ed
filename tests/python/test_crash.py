"""kill -9 in the middle of a run loses nothing and duplicates nothing.

50 workflows x 5 activities (~200 ms each) run on their own server; once some but not all
activities have completed, the server is SIGKILLed and restarted on the same data dir and port.
Every workflow must then complete with a clean history: contiguous ids and exactly five
ActivityTaskCompleted events, one per scheduled activity.

Runs only against perdure: Temporal's dev server is not what this suite is checking for
durability (set PERDURE_CRASH_ON_TEMPORAL=1 to run it there anyway, e.g. to check the test).
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

import workflows
from activities import Activities
from harness import ServerUnderTest, server_kind
from history import assert_activities_completed_once, assert_contiguous_ids, events_of
from waiting import wait_until

WORKFLOWS = 50
STEPS = 5
TOTAL = WORKFLOWS * STEPS


@pytest.mark.crash
async def test_kill_9_mid_run_then_restart_completes_everything():
    if server_kind() != "perdure" and not os.environ.get("PERDURE_CRASH_ON_TEMPORAL"):
        pytest.skip("crash test runs against perdure only")
    server = ServerUnderTest()
    try:
        await asyncio.wait_for(_crash_and_recover(server), timeout=300)
    except BaseException:
        print(server.log_tail(80))
        raise
    finally:
        server.stop(remove=not os.environ.get("PERDURE_KEEP_DATA"))


async def _crash_and_recover(server: ServerUnderTest) -> None:
    client = await server.start()
    acts = Activities()
    task_queue = f"crash-{uuid.uuid4()}"
    ids = [f"crash-{i}-{uuid.uuid4().hex[:6]}" for i in range(WORKFLOWS)]

    async with Worker(
        client,
        task_queue=task_queue,
        workflows=workflows.ALL,
        activities=acts.all(),
        max_concurrent_activities=TOTAL,
    ):
        await asyncio.gather(
            *(
                client.start_workflow(
                    workflows.FiveSteps.run, STEPS, id=wf_id, task_queue=task_queue
                )
                for wf_id in ids
            )
        )
        # Kill once real progress exists but well before the end (each workflow needs >= 1 s).
        await wait_until(lambda: len(acts.completed) >= TOTAL // 10, 120, "first completions")
        done_before_kill = len(set(acts.completed))
        server.kill()
        assert done_before_kill < TOTAL, "everything finished before the kill; test proves nothing"

        # The worker and client are left running: they must reconnect by themselves.
        await server.start()
        results = await asyncio.wait_for(
            asyncio.gather(*(client.get_workflow_handle(w).result() for w in ids)), timeout=240
        )

    print(
        f"crash test: {done_before_kill}/{TOTAL} steps done at the kill, "
        f"{len(acts.completed) - len(set(acts.completed))} steps re-run after it"
    )
    for wf_id, result in zip(ids, results):
        assert result == [f"{wf_id}:{step}" for step in range(STEPS)]

    # Every step ran at least once on the worker (more than once is allowed: at-least-once).
    assert set(acts.completed) == {(w, s) for w in ids for s in range(STEPS)}

    fresh = await Client.connect(server.target)
    for wf_id in ids:
        events = await events_of(fresh.get_workflow_handle(wf_id))
        assert_contiguous_ids(events)
        assert_activities_completed_once(events, STEPS, wf_id)
        assert events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
