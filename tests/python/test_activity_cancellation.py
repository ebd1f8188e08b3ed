"""Activity cancellation (issue 6): the RequestCancelActivityTask command, cancel_requested in
the heartbeat response, RespondActivityTaskCanceled. Passes against Temporal's dev server too.

A started activity that heartbeats learns of the cancellation from a heartbeat and reports it;
an activity that never started is canceled by the command itself. Histories carry
ActivityTaskCancelRequested and ActivityTaskCanceled pointing at the right events.

Not covered: RespondActivityTaskCanceledById, cancellation of an activity between retries.
"""

from __future__ import annotations

import asyncio
import uuid

import workflows
from history import assert_contiguous_ids, events_of, of_type

RESULT_TIMEOUT_S = 60


async def test_a_heartbeating_activity_is_cancelled_through_its_heartbeat(client, worker, wf_id):
    handle = await client.start_workflow(
        workflows.CancelsItsActivity.run, "", id=wf_id, task_queue=worker.task_queue
    )
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == "activity cancelled"
    assert worker.activities.cancelled == [wf_id]
    events = await events_of(handle)
    assert_contiguous_ids(events)
    [scheduled] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    [requested] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED")
    [started] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_STARTED")
    [canceled] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_CANCELED")
    r = requested.activity_task_cancel_requested_event_attributes
    assert r.scheduled_event_id == scheduled.event_id
    c = canceled.activity_task_canceled_event_attributes
    assert (c.scheduled_event_id, c.started_event_id, c.latest_cancel_requested_event_id) == (
        scheduled.event_id,
        started.event_id,
        requested.event_id,
    )
    assert started.event_id < canceled.event_id


async def test_an_activity_that_never_started_is_cancelled_by_the_command(client, worker, wf_id):
    nobody = f"nobody-polls-{uuid.uuid4()}"
    handle = await client.start_workflow(
        workflows.CancelsItsActivity.run, nobody, id=wf_id, task_queue=worker.task_queue
    )
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == "activity cancelled"
    events = await events_of(handle)
    assert_contiguous_ids(events)
    assert not of_type(events, "EVENT_TYPE_ACTIVITY_TASK_STARTED")
    [requested] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED")
    [canceled] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_CANCELED")
    assert canceled.event_id == requested.event_id + 1
    c = canceled.activity_task_canceled_event_attributes
    assert (c.started_event_id, c.latest_cancel_requested_event_id) == (0, requested.event_id)
