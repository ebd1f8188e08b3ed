"""Async activity completion (issue 6, "odds and ends"): a client completes, fails or reports
the cancellation of an activity by workflow id and activity id
(RespondActivityTask{Completed,Failed,Canceled}ById). Passes against Temporal's dev server too.
"""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError, RPCStatusCode

import workflows
from history import events_of, of_type
from waiting import wait_until

RESULT_TIMEOUT_S = 60


async def _started(client, worker, wf_id):
    handle = await client.start_workflow(
        workflows.CompletedElsewhere.run, id=wf_id, task_queue=worker.task_queue
    )
    started = worker.activities.async_started
    await wait_until(lambda: any(w == wf_id for w, _ in started), 30, "the activity to start")
    activity_id = next(a for w, a in started if w == wf_id)
    return handle, client.get_async_activity_handle(workflow_id=wf_id, run_id=None, activity_id=activity_id)


async def test_an_activity_completed_by_id_returns_its_result(client, worker, wf_id):
    handle, activity = await _started(client, worker, wf_id)
    await activity.complete("done elsewhere")
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == "done elsewhere"
    [completed] = of_type(await events_of(handle), "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
    assert completed.activity_task_completed_event_attributes.result.payloads[0].data == b'"done elsewhere"'
    # A second completion finds nothing pending.
    with pytest.raises(RPCError) as again:
        await activity.complete("twice")
    assert again.value.status == RPCStatusCode.NOT_FOUND, again.value


async def test_an_activity_failed_by_id_fails_the_workflow(client, worker, wf_id):
    handle, activity = await _started(client, worker, wf_id)
    await activity.fail(ApplicationError("broke elsewhere", non_retryable=True))
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    cause = failed.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
    assert cause.cause.message == "broke elsewhere"


async def test_reporting_a_cancellation_nobody_asked_for_is_refused(client, worker, wf_id):
    handle, activity = await _started(client, worker, wf_id)
    with pytest.raises(RPCError) as refused:
        await activity.report_cancellation("stopped elsewhere")
    assert refused.value.status == RPCStatusCode.INVALID_ARGUMENT, refused.value
    assert "without activity being request canceled first" in refused.value.message
    await activity.complete("finished after all")
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == "finished after all"
