"""Acceptance tests: the official Python SDK's everyday paths against the server under test.

Each test runs its own worker on its own task queue and bounds every wait with a timeout.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import TimeoutType
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

import workflows
from history import assert_contiguous_ids, events_of, of_type, type_names

RESULT_TIMEOUT_S = 60


async def run_to_result(client: Client, workflow, arg, worker, wf_id: str):
    handle = await client.start_workflow(
        workflow.run, arg, id=wf_id, task_queue=worker.task_queue
    )
    result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    return handle, result


async def test_one_activity_returns_its_result(client, worker, wf_id):
    handle, result = await run_to_result(client, workflows.OneActivity, "Perdure", worker, wf_id)
    assert result == "Hello, Perdure!"
    events = await events_of(handle)
    assert_contiguous_ids(events)
    [completed] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
    [scheduled] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    assert completed.activity_task_completed_event_attributes.scheduled_event_id == scheduled.event_id
    assert type_names(events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"


async def test_ten_sequential_activities(client, worker, wf_id):
    handle, result = await run_to_result(client, workflows.SequentialActivities, 10, worker, wf_id)
    assert result == 10
    events = await events_of(handle)
    assert_contiguous_ids(events)
    scheduled = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    completed = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
    assert len(scheduled) == len(completed) == 10
    assert [c.activity_task_completed_event_attributes.scheduled_event_id for c in completed] == [
        s.event_id for s in scheduled
    ]


async def test_durable_timer_fires_after_its_duration(client, worker, wf_id):
    started = time.monotonic()
    handle = await client.start_workflow(
        workflows.DurableTimer.run, 2.0, id=wf_id, task_queue=worker.task_queue
    )
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == "fired"
    elapsed = time.monotonic() - started
    assert elapsed >= 2.0, f"2 s timer completed after {elapsed:.3f}s"

    events = await events_of(handle)
    assert_contiguous_ids(events)
    [timer_started] = of_type(events, "EVENT_TYPE_TIMER_STARTED")
    [timer_fired] = of_type(events, "EVENT_TYPE_TIMER_FIRED")
    started_attrs = timer_started.timer_started_event_attributes
    fired_attrs = timer_fired.timer_fired_event_attributes
    assert started_attrs.start_to_fire_timeout.ToTimedelta() == timedelta(seconds=2)
    assert fired_attrs.timer_id == started_attrs.timer_id
    assert fired_attrs.started_event_id == timer_started.event_id
    fired_after = timer_fired.event_time.ToDatetime() - timer_started.event_time.ToDatetime()
    assert fired_after >= timedelta(seconds=2), f"TimerFired only {fired_after} after TimerStarted"


async def test_activity_retried_until_third_attempt_succeeds(client, worker, wf_id):
    handle, result = await run_to_result(client, workflows.RetryingActivity, wf_id, worker, wf_id)
    assert result == 3, "activity.info().attempt on the successful try"
    assert worker.activities.attempts[wf_id] == [1, 2, 3]

    events = await events_of(handle)
    assert_contiguous_ids(events)
    # Server-side retries write nothing until the final outcome.
    [started] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_STARTED")
    [completed] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
    assert not of_type(events, "EVENT_TYPE_ACTIVITY_TASK_FAILED")
    assert started.activity_task_started_event_attributes.attempt == 3
    last_failure = started.activity_task_started_event_attributes.last_failure
    assert "deliberate failure on attempt 2" in last_failure.message
    assert completed.activity_task_completed_event_attributes.started_event_id == started.event_id


async def test_activity_start_to_close_timeout_is_retried(client, worker, wf_id):
    handle, result = await run_to_result(client, workflows.TimingOutActivity, wf_id, worker, wf_id)
    assert result == 2
    assert worker.activities.attempts[wf_id] == [1, 2]

    events = await events_of(handle)
    assert_contiguous_ids(events)
    [started] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_STARTED")
    assert len(of_type(events, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")) == 1
    assert not of_type(events, "EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT")
    attrs = started.activity_task_started_event_attributes
    assert attrs.attempt == 2
    assert (
        attrs.last_failure.timeout_failure_info.timeout_type
        == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
    )


async def test_workflow_application_error_reaches_the_client(client, worker, wf_id):
    handle = await client.start_workflow(
        workflows.FailingWorkflow.run, "it broke", id=wf_id, task_queue=worker.task_queue
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message == "it broke"
    assert cause.type == "PerdureTestFailure"
    assert cause.non_retryable

    events = await events_of(handle)
    assert_contiguous_ids(events)
    assert type_names(events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED"


async def test_two_hundred_concurrent_workflows_complete(client, worker, wf_id):
    count = 200

    async def one(i: int):
        handle = await client.start_workflow(
            workflows.OneActivity.run, f"n{i}", id=f"{wf_id}-{i}", task_queue=worker.task_queue
        )
        return await handle.result()

    results = await asyncio.wait_for(
        asyncio.gather(*(one(i) for i in range(count))), timeout=180
    )
    assert results == [f"Hello, n{i}!" for i in range(count)]
