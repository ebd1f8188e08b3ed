"""Activity heartbeats with the official Python SDK: a heartbeating attempt outlives its
heartbeat timeout, a silent one is timed out and retried with the last details, describe shows
the details while the activity runs, RecordActivityTaskHeartbeatById works from a client, and
oversized details fail the activity as Temporal does.

Owns: its own activities and worker (heartbeat_workflows.py holds the workflow), on a unique
task queue per test. Must never: wait without a deadline.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.api.enums.v1 import PendingActivityState, TimeoutType
from temporalio.client import (
    AsyncActivityCancelledError,
    Client,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import ActivityError, ServerError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

import heartbeat_workflows
from history import assert_contiguous_ids, events_of, of_type

RESULT_TIMEOUT_S = 60
DESCRIBE_DEADLINE_S = 20
#: How long a live attempt keeps heartbeating: three heartbeat timeouts.
ALIVE_S = 3.0


class HeartbeatActivities:
    """One instance per test; activities report what they saw here."""

    def __init__(self) -> None:
        self.attempts: dict[str, list[int]] = defaultdict(list)
        #: `activity.info().heartbeat_details` seen by each attempt, per key
        self.resumed_from: dict[str, list[list]] = defaultdict(list)
        #: set by a test to let a waiting activity finish
        self.release: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    @activity.defn(name="heartbeat_steadily")
    async def heartbeat_steadily(self, key: str) -> int:
        self.attempts[key].append(activity.info().attempt)
        beats = 0
        deadline = time.monotonic() + ALIVE_S
        while time.monotonic() < deadline:
            beats += 1
            activity.heartbeat(beats)
            await asyncio.sleep(0.1)
        return beats

    @activity.defn(name="go_silent_on_first_attempt")
    async def go_silent_on_first_attempt(self, key: str) -> list:
        info = activity.info()
        self.attempts[key].append(info.attempt)
        self.resumed_from[key].append(list(info.heartbeat_details))
        if info.attempt == 1:
            activity.heartbeat("checkpoint-1")
            await asyncio.sleep(0.1)
            # Throttled by the SDK, sent at the end of its interval: the last details.
            activity.heartbeat("checkpoint-2")
            # Three heartbeat timeouts without a heartbeat: the server times the attempt out.
            await asyncio.sleep(3)
            return ["attempt 1 should have been timed out"]
        return list(info.heartbeat_details)

    @activity.defn(name="heartbeat_until_released")
    async def heartbeat_until_released(self, key: str) -> str:
        self.attempts[key].append(activity.info().attempt)
        release = self.release[key]
        while not release.is_set():
            activity.heartbeat(f"alive-{key}")
            try:
                await asyncio.wait_for(release.wait(), 0.2)
            except asyncio.TimeoutError:
                pass
        return "released"

    @activity.defn(name="heartbeat_once_then_wait")
    async def heartbeat_once_then_wait(self, key: str) -> str:
        self.attempts[key].append(activity.info().attempt)
        activity.heartbeat("inside")
        # Others heartbeat for this attempt by id meanwhile; no timeout may fire.
        await asyncio.wait_for(self.release[key].wait(), RESULT_TIMEOUT_S)
        return "released"

    def all(self) -> list:
        return [
            self.heartbeat_steadily,
            self.go_silent_on_first_attempt,
            self.heartbeat_until_released,
            self.heartbeat_once_then_wait,
        ]


@pytest_asyncio.fixture
async def hb_worker(client: Client):
    acts = HeartbeatActivities()
    task_queue = f"e2e-hb-{uuid.uuid4()}"
    w = Worker(
        client,
        task_queue=task_queue,
        workflows=heartbeat_workflows.ALL,
        activities=acts.all(),
    )
    async with w:
        yield task_queue, acts


async def start(client: Client, task_queue: str, name: str, key: str) -> WorkflowHandle:
    return await client.start_workflow(
        heartbeat_workflows.HeartbeatingActivity.run,
        args=[name, key],
        id=key,
        task_queue=task_queue,
    )


async def describe_until(client: Client, handle: WorkflowHandle, want: list) -> None:
    """Polls describe until the pending activity's heartbeat details decode to `want`."""
    deadline = time.monotonic() + DESCRIBE_DEADLINE_S
    seen = None
    while time.monotonic() < deadline:
        desc = await handle.describe()
        pending = list(desc.raw_description.pending_activities)
        if pending and pending[0].HasField("heartbeat_details"):
            seen = await client.data_converter.decode(
                list(pending[0].heartbeat_details.payloads)
            )
            if seen == want:
                assert pending[0].activity_id == "hb"
                assert pending[0].state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                assert pending[0].HasField("last_heartbeat_time")
                return
        await asyncio.sleep(0.1)
    pytest.fail(f"describe never showed heartbeat details {want!r}; last seen {seen!r}")


async def test_heartbeating_activity_outlives_its_heartbeat_timeout(client, hb_worker, wf_id):
    task_queue, acts = hb_worker
    handle = await start(client, task_queue, "heartbeat_steadily", wf_id)
    beats = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    assert beats >= 10
    assert acts.attempts[wf_id] == [1], "a heartbeating attempt must not time out"
    events = await events_of(handle)
    assert_contiguous_ids(events)
    [started] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_STARTED")
    assert started.activity_task_started_event_attributes.attempt == 1
    assert len(of_type(events, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")) == 1
    assert not of_type(events, "EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT")


async def test_silent_activity_times_out_and_retries_with_last_details(client, hb_worker, wf_id):
    task_queue, acts = hb_worker
    handle = await start(client, task_queue, "go_silent_on_first_attempt", wf_id)
    result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    assert result == ["checkpoint-2"], "attempt 2 resumes from attempt 1's last heartbeat"
    assert acts.attempts[wf_id][:2] == [1, 2]
    assert acts.resumed_from[wf_id][0] == []

    events = await events_of(handle)
    assert_contiguous_ids(events)
    [started] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_STARTED")
    attrs = started.activity_task_started_event_attributes
    assert attrs.attempt == 2
    assert attrs.last_failure.HasField("timeout_failure_info")
    assert attrs.last_failure.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_HEARTBEAT
    assert len(of_type(events, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")) == 1


async def test_describe_shows_heartbeat_details_while_running(client, hb_worker, wf_id):
    task_queue, acts = hb_worker
    handle = await start(client, task_queue, "heartbeat_until_released", wf_id)
    await describe_until(client, handle, [f"alive-{wf_id}"])
    acts.release[wf_id].set()
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == "released"


async def test_heartbeat_by_id_from_a_client(client, hb_worker, wf_id):
    task_queue, acts = hb_worker
    handle = await start(client, task_queue, "heartbeat_once_then_wait", wf_id)
    await describe_until(client, handle, ["inside"])

    by_id = client.get_async_activity_handle(workflow_id=wf_id, run_id=None, activity_id="hb")
    # Keep it alive from outside for longer than the heartbeat timeout, with new details.
    alive_until = time.monotonic() + 2.0
    while time.monotonic() < alive_until:
        await by_id.heartbeat("outside")
        await asyncio.sleep(0.2)
    await describe_until(client, handle, ["outside"])

    unknown = client.get_async_activity_handle(
        workflow_id=wf_id, run_id=handle.result_run_id, activity_id="no-such-activity"
    )
    with pytest.raises(RPCError) as err:
        await unknown.heartbeat("x")
    assert err.value.status == RPCStatusCode.NOT_FOUND

    acts.release[wf_id].set()
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == "released"
    assert acts.attempts[wf_id] == [1], "heartbeats by id kept the attempt alive"


async def test_oversized_heartbeat_fails_the_activity(client, hb_worker, wf_id):
    task_queue, acts = hb_worker
    handle = await start(client, task_queue, "heartbeat_once_then_wait", wf_id)
    try:
        await describe_until(client, handle, ["inside"])
        by_id = client.get_async_activity_handle(workflow_id=wf_id, run_id=None, activity_id="hb")
        # Over the 2 MiB blob limit: not rejected, the activity is failed and told to stop.
        with pytest.raises(AsyncActivityCancelledError):
            await by_id.heartbeat("x" * (2 * 1024 * 1024 + 1))
        with pytest.raises(WorkflowFailureError) as err:
            await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
        assert isinstance(err.value.cause, ActivityError)
        assert isinstance(err.value.cause.cause, ServerError)
        assert err.value.cause.cause.message == "Heartbeat details exceed size limit."
        assert err.value.cause.cause.non_retryable
    finally:
        acts.release[wf_id].set()
