"""Everyday Python SDK scenarios within what Perdure implements: parallel activities, failures
and timeouts, cancelled timers, local activities, workflow task failures, start policies,
describe, terminate and history paging. Every test here passes against Temporal's dev server
(PERDURE_TEST_SERVER=temporal); a divergence of Perdure is marked xfail(strict) with what each
server does.

Owns: its activities (ScenarioActivities) and worker; the workflows live in scenario_workflows.py
so the SDK's workflow sandbox imports nothing else. Must never: wait without a deadline.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import (
    ApplicationError,
    RetryState,
    TerminatedError,
    TimeoutError as TemporalTimeoutError,
    WorkflowAlreadyStartedError,
)
from temporalio.worker import Worker

import scenario_workflows as wfs
from harness import server_kind
from history import assert_contiguous_ids, events_of, of_type, type_names

RESULT_TIMEOUT_S = 60
ON_PERDURE = server_kind() == "perdure"
DESCRIBE_DEADLINE_S = 20
#: Long enough that a run stays open for the whole test; every such run is terminated.
FOREVER_S = 3600.0


class ScenarioActivities:
    """One instance per test; activities record their attempts here."""

    def __init__(self) -> None:
        self.attempts: dict[str, list[int]] = defaultdict(list)
        self.calls: dict[str, int] = defaultdict(int)

    @activity.defn(name="double")
    async def double(self, value: int) -> int:
        return value * 2

    @activity.defn(name="increment")
    async def increment(self, value: int) -> int:
        return value + 1

    @activity.defn(name="fail_non_retryable")
    async def fail_non_retryable(self, key: str) -> None:
        self.attempts[key].append(activity.info().attempt)
        raise ApplicationError(f"no point retrying {key}", type="Unfixable", non_retryable=True)

    @activity.defn(name="sleep_for")
    async def sleep_for(self, seconds: float) -> float:
        self.attempts[activity.info().workflow_id].append(activity.info().attempt)
        await asyncio.sleep(seconds)
        return seconds

    @activity.defn(name="first_call")
    async def first_call(self, key: str) -> bool:
        self.calls[key] += 1
        return self.calls[key] == 1

    def all(self) -> list:
        return [
            self.double,
            self.increment,
            self.fail_non_retryable,
            self.sleep_for,
            self.first_call,
        ]


class ScenarioWorker:
    def __init__(self, task_queue: str, acts: ScenarioActivities) -> None:
        self.task_queue = task_queue
        self.acts = acts


@pytest_asyncio.fixture
async def sc_worker(client: Client):
    acts = ScenarioActivities()
    task_queue = f"e2e-sc-{uuid.uuid4()}"
    w = Worker(client, task_queue=task_queue, workflows=wfs.ALL, activities=acts.all())
    async with w:
        yield ScenarioWorker(task_queue, acts)


async def result_of(handle: WorkflowHandle):
    return await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)


async def describe_until(handle: WorkflowHandle, ok, what: str):
    """Polls describe until ``ok(description)``; fails with the last description otherwise."""
    deadline = time.monotonic() + DESCRIBE_DEADLINE_S
    desc = None
    while time.monotonic() < deadline:
        desc = await handle.describe()
        if ok(desc):
            return desc
        await asyncio.sleep(0.1)
    pytest.fail(f"describe never showed {what}; last: {desc.status if desc else None}, "
                f"history_length={desc.history_length if desc else None}")


async def terminate_quietly(handle: WorkflowHandle) -> None:
    try:
        await handle.terminate(reason="test cleanup")
    except Exception:
        pass


# 1 ----------------------------------------------------------------------------------------------


async def test_five_parallel_activities_complete(client, sc_worker, wf_id):
    handle = await client.start_workflow(
        wfs.ParallelActivities.run, 5, id=wf_id, task_queue=sc_worker.task_queue
    )
    assert await result_of(handle) == [0, 2, 4, 6, 8]

    events = await events_of(handle)
    assert_contiguous_ids(events)
    scheduled = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    completed = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
    started = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_STARTED")
    assert len(scheduled) == len(started) == len(completed) == 5
    # All five come from the first workflow task's commands, in command order.
    [first_wft_completed] = [
        e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ][:1]
    assert [s.event_id for s in scheduled] == list(
        range(first_wft_completed.event_id + 1, first_wft_completed.event_id + 6)
    )
    for s in scheduled:
        attrs = s.activity_task_scheduled_event_attributes
        assert attrs.workflow_task_completed_event_id == first_wft_completed.event_id
    by_scheduled = {s.event_id for s in scheduled}
    assert {
        c.activity_task_completed_event_attributes.scheduled_event_id for c in completed
    } == by_scheduled
    assert {st.activity_task_started_event_attributes.scheduled_event_id for st in started} == (
        by_scheduled
    )
    for c in completed:
        attrs = c.activity_task_completed_event_attributes
        [st] = [e for e in started if e.event_id == attrs.started_event_id]
        assert st.activity_task_started_event_attributes.scheduled_event_id == (
            attrs.scheduled_event_id
        )
    assert type_names(events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"


# 2 ----------------------------------------------------------------------------------------------


async def test_non_retryable_activity_error_fails_on_first_attempt(client, sc_worker, wf_id):
    handle = await client.start_workflow(
        wfs.NonRetryableActivityFailure.run, wf_id, id=wf_id, task_queue=sc_worker.task_queue
    )
    seen = await result_of(handle)
    assert seen == {
        "cause_class": "ApplicationError",
        "type": "Unfixable",
        "message": f"no point retrying {wf_id}",
        "non_retryable": True,
        "retry_state": int(RetryState.NON_RETRYABLE_FAILURE),
    }
    assert sc_worker.acts.attempts[wf_id] == [1]

    events = await events_of(handle)
    assert_contiguous_ids(events)
    [started] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_STARTED")
    [failed] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_FAILED")
    assert started.activity_task_started_event_attributes.attempt == 1
    attrs = failed.activity_task_failed_event_attributes
    assert attrs.started_event_id == started.event_id
    assert attrs.retry_state == RetryState.NON_RETRYABLE_FAILURE
    assert attrs.failure.message == f"no point retrying {wf_id}"
    assert attrs.failure.application_failure_info.type == "Unfixable"
    assert attrs.failure.application_failure_info.non_retryable


# 3 ----------------------------------------------------------------------------------------------


async def test_schedule_to_close_only(client, sc_worker, wf_id):
    handle = await client.start_workflow(
        wfs.ScheduleToCloseOnly.run, 3.0, id=wf_id, task_queue=sc_worker.task_queue
    )
    seen = await result_of(handle)
    assert seen == {
        "fast": 42,
        "cause_class": "TimeoutError",
        "timeout_type": "SCHEDULE_TO_CLOSE",
        "retry_state": int(RetryState.TIMEOUT),
    }

    events = await events_of(handle)
    assert_contiguous_ids(events)
    first, slow = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    first_attrs = first.activity_task_scheduled_event_attributes
    # The server fills start-to-close from schedule-to-close when only the latter is given.
    assert first_attrs.schedule_to_close_timeout.ToTimedelta() == timedelta(seconds=10)
    assert first_attrs.start_to_close_timeout.ToTimedelta() == timedelta(seconds=10)
    assert first_attrs.schedule_to_start_timeout.ToTimedelta() == timedelta(seconds=10)
    [timed_out] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT")
    attrs = timed_out.activity_task_timed_out_event_attributes
    assert attrs.scheduled_event_id == slow.event_id
    assert (
        attrs.failure.timeout_failure_info.timeout_type
        == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE
    )
    assert type_names(events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"


# 4 ----------------------------------------------------------------------------------------------


async def test_workflow_execution_timeout(client, sc_worker, wf_id):
    started_at = time.monotonic()
    handle = await client.start_workflow(
        wfs.Sleeper.run,
        10.0,
        id=wf_id,
        task_queue=sc_worker.task_queue,
        execution_timeout=timedelta(seconds=2),
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await result_of(handle)
    elapsed = time.monotonic() - started_at
    assert 2.0 <= elapsed < 9.0, f"timed out after {elapsed:.2f}s"
    cause = failure.value.cause
    assert isinstance(cause, TemporalTimeoutError)

    events = await events_of(handle)
    assert_contiguous_ids(events)
    assert type_names(events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT"
    assert (
        events[-1].workflow_execution_timed_out_event_attributes.retry_state
        == RetryState.TIMEOUT
    )
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.TIMED_OUT


# 5 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["wait_for", "task_cancel"])
async def test_cancelled_timer(client, sc_worker, wf_id, mode):
    handle = await client.start_workflow(
        wfs.CancelledTimer.run, mode, id=wf_id, task_queue=sc_worker.task_queue
    )
    expected = "wait_for timed out" if mode == "wait_for" else "task cancelled"
    assert await result_of(handle) == expected

    events = await events_of(handle)
    assert_contiguous_ids(events)
    timers = {
        e.timer_started_event_attributes.timer_id: e
        for e in of_type(events, "EVENT_TYPE_TIMER_STARTED")
    }
    long_timers = [
        t
        for t in timers.values()
        if t.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        == timedelta(seconds=60)
    ]
    [long_timer] = long_timers
    [canceled] = of_type(events, "EVENT_TYPE_TIMER_CANCELED")
    attrs = canceled.timer_canceled_event_attributes
    assert attrs.timer_id == long_timer.timer_started_event_attributes.timer_id
    assert attrs.started_event_id == long_timer.event_id
    assert attrs.workflow_task_completed_event_id > 0
    assert not [
        f
        for f in of_type(events, "EVENT_TYPE_TIMER_FIRED")
        if f.timer_fired_event_attributes.timer_id == attrs.timer_id
    ]
    assert type_names(events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"


# 6 ----------------------------------------------------------------------------------------------


async def test_local_activities_short_and_longer_than_the_task_timeout(client, sc_worker, wf_id):
    handle = await client.start_workflow(
        wfs.LocalActivities.run,
        5.0,
        id=wf_id,
        task_queue=sc_worker.task_queue,
        task_timeout=timedelta(seconds=2),
    )
    assert await result_of(handle) == [8, 5.0]

    events = await events_of(handle)
    assert_contiguous_ids(events)
    markers = of_type(events, "EVENT_TYPE_MARKER_RECORDED")
    assert len(markers) == 2
    assert all(m.marker_recorded_event_attributes.marker_name == "core_local_activity"
               for m in markers)
    # The SDK keeps the workflow task alive across the 5 s local activity by completing it
    # early and asking for a new one; no workflow task may have timed out or failed.
    assert not of_type(events, "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT")
    assert not of_type(events, "EVENT_TYPE_WORKFLOW_TASK_FAILED")
    assert len(of_type(events, "EVENT_TYPE_WORKFLOW_TASK_COMPLETED")) >= 3
    assert type_names(events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"


# 7 ----------------------------------------------------------------------------------------------


async def test_workflow_task_failure_is_retried(client, sc_worker, wf_id):
    handle = await client.start_workflow(
        wfs.FailFirstWorkflowTask.run, wf_id, id=wf_id, task_queue=sc_worker.task_queue
    )
    assert await result_of(handle) == "recovered"
    assert sc_worker.acts.calls[wf_id] == 2

    events = await events_of(handle)
    assert_contiguous_ids(events)
    [failed] = of_type(events, "EVENT_TYPE_WORKFLOW_TASK_FAILED")
    attrs = failed.workflow_task_failed_event_attributes
    assert "deliberate workflow task failure" in attrs.failure.message
    assert events[failed.event_id - 2].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    assert attrs.started_event_id == failed.event_id - 1
    # The retry is the next workflow task, attempt 2.
    retry = events[failed.event_id]
    assert retry.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
    assert retry.workflow_task_scheduled_event_attributes.attempt == 2
    assert len(of_type(events, "EVENT_TYPE_MARKER_RECORDED")) == 1
    assert type_names(events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"


# 8 ----------------------------------------------------------------------------------------------


async def test_second_start_while_running_is_rejected(client, sc_worker, wf_id):
    first = await client.start_workflow(
        wfs.Sleeper.run, FOREVER_S, id=wf_id, task_queue=sc_worker.task_queue
    )
    try:
        with pytest.raises(WorkflowAlreadyStartedError) as err:
            await client.start_workflow(
                wfs.Sleeper.run, FOREVER_S, id=wf_id, task_queue=sc_worker.task_queue
            )
        assert err.value.run_id == first.result_run_id
        # The default reuse policy does not matter while a run is open: conflict policy FAIL.
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.start_workflow(
                wfs.Quick.run,
                id=wf_id,
                task_queue=sc_worker.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
    finally:
        await terminate_quietly(first)


async def test_reject_duplicate_after_completion(client, sc_worker, wf_id):
    done = await client.start_workflow(wfs.Quick.run, id=wf_id, task_queue=sc_worker.task_queue)
    assert await result_of(done) == "done"
    with pytest.raises(WorkflowAlreadyStartedError):
        await client.start_workflow(
            wfs.Quick.run,
            id=wf_id,
            task_queue=sc_worker.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    # A completed run does not count as failed.
    with pytest.raises(WorkflowAlreadyStartedError):
        await client.start_workflow(
            wfs.Quick.run,
            id=wf_id,
            task_queue=sc_worker.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    # The default (ALLOW_DUPLICATE) starts a new run.
    again = await client.start_workflow(wfs.Quick.run, id=wf_id, task_queue=sc_worker.task_queue)
    assert again.result_run_id != done.result_run_id
    assert await result_of(again) == "done"


async def test_allow_duplicate_failed_only_after_failure_and_termination(
    client, sc_worker, wf_id
):
    failing = await client.start_workflow(
        wfs.Fails.run, "first run fails", id=wf_id, task_queue=sc_worker.task_queue
    )
    with pytest.raises(WorkflowFailureError):
        await result_of(failing)
    second = await client.start_workflow(
        wfs.Sleeper.run,
        FOREVER_S,
        id=wf_id,
        task_queue=sc_worker.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    )
    assert second.result_run_id != failing.result_run_id
    # A terminated run counts as failed too.
    await second.terminate(reason="make room")
    third = await client.start_workflow(
        wfs.Quick.run,
        id=wf_id,
        task_queue=sc_worker.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    )
    assert await result_of(third) == "done"


async def test_conflict_policy_use_existing(client, sc_worker, wf_id):
    first = await client.start_workflow(
        wfs.Sleeper.run, FOREVER_S, id=wf_id, task_queue=sc_worker.task_queue
    )
    try:
        existing = await client.start_workflow(
            wfs.Sleeper.run,
            FOREVER_S,
            id=wf_id,
            task_queue=sc_worker.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        assert existing.result_run_id == first.result_run_id
        desc = await first.describe()
        assert desc.status == WorkflowExecutionStatus.RUNNING
    finally:
        await terminate_quietly(first)


async def test_conflict_policy_terminate_existing(client, sc_worker, wf_id):
    first = await client.start_workflow(
        wfs.Sleeper.run, FOREVER_S, id=wf_id, task_queue=sc_worker.task_queue
    )
    replacement = await client.start_workflow(
        wfs.Quick.run,
        id=wf_id,
        task_queue=sc_worker.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
    )
    assert replacement.result_run_id != first.result_run_id
    assert await result_of(replacement) == "done"

    old = client.get_workflow_handle(wf_id, run_id=first.result_run_id)
    desc = await old.describe()
    assert desc.status == WorkflowExecutionStatus.TERMINATED
    events = await events_of(old)
    assert_contiguous_ids(events)
    assert type_names(events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"
    with pytest.raises(WorkflowFailureError) as failure:
        await result_of(old)
    cause = failure.value.cause
    assert isinstance(cause, TerminatedError)
    # Temporal's wording, and the run that replaced it in the details.
    assert cause.message == "TerminateIfRunning WorkflowIdReusePolicy"
    assert list(cause.details) == [f"terminated by new runID: {replacement.result_run_id}"]


# 9 ----------------------------------------------------------------------------------------------


async def test_describe_running_and_completed(client, sc_worker, wf_id):
    handle = await client.start_workflow(
        wfs.Sleeper.run, 3.0, id=wf_id, task_queue=sc_worker.task_queue
    )
    # Started, WorkflowTaskScheduled/Started/Completed, TimerStarted.
    running = await describe_until(
        handle, lambda d: d.history_length >= 5, "the timer started while running"
    )
    assert running.status == WorkflowExecutionStatus.RUNNING
    assert running.history_length == 5
    assert running.task_queue == sc_worker.task_queue
    assert running.workflow_type == "Sleeper"
    assert running.id == wf_id
    assert running.run_id == handle.result_run_id
    assert running.close_time is None
    assert running.raw_description.workflow_execution_info.history_length == 5

    assert await result_of(handle) == "woke"
    closed = await handle.describe()
    assert closed.status == WorkflowExecutionStatus.COMPLETED
    events = await events_of(handle)
    assert closed.history_length == len(events) == 10
    assert closed.task_queue == sc_worker.task_queue
    assert closed.close_time is not None
    assert closed.close_time >= closed.start_time


async def test_terminate_with_reason(client, sc_worker, wf_id):
    handle = await client.start_workflow(
        wfs.Sleeper.run, FOREVER_S, id=wf_id, task_queue=sc_worker.task_queue
    )
    await describe_until(handle, lambda d: d.history_length >= 5, "the timer started")
    await handle.terminate("detail-1", reason="enough sleeping")

    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.TERMINATED
    assert desc.close_time is not None
    with pytest.raises(WorkflowFailureError) as failure:
        await result_of(handle)
    cause = failure.value.cause
    assert isinstance(cause, TerminatedError)
    assert cause.message == "enough sleeping"

    events = await events_of(handle)
    assert_contiguous_ids(events)
    assert desc.history_length == len(events)
    last = events[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
    assert last.workflow_execution_terminated_event_attributes.reason == "enough sleeping"
    details = await client.data_converter.decode(
        list(last.workflow_execution_terminated_event_attributes.details.payloads)
    )
    assert details == ["detail-1"]


# 10 ---------------------------------------------------------------------------------------------


async def test_two_hundred_sequential_activities_page_through_history(client, sc_worker, wf_id):
    count = 200
    handle = await client.start_workflow(
        wfs.ManySequential.run, count, id=wf_id, task_queue=sc_worker.task_queue
    )
    assert await asyncio.wait_for(handle.result(), 240) == count

    whole = await events_of(handle)
    assert len(whole) > 800
    assert_contiguous_ids(whole)
    assert len(of_type(whole, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")) == count

    paged = [e async for e in handle.fetch_history_events(page_size=50)]
    assert [e.event_id for e in paged] == [e.event_id for e in whole]

    # The raw RPC, page by page until the token runs out. Temporal counts maximum_page_size in
    # stored batches of events (one per write), not in events, so a page may hold more.
    ids: list[int] = []
    pages = 0
    token = b""
    while True:
        resp = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=wf_id, run_id=handle.result_run_id),
                maximum_page_size=100,
                next_page_token=token,
            ),
            timeout=timedelta(seconds=30),
        )
        pages += 1
        ids.extend(e.event_id for e in resp.history.events)
        token = resp.next_page_token
        if not token:
            break
        assert pages < 100, "paging does not end"
    assert ids == list(range(1, len(whole) + 1))
    assert pages > 1, "a history this long must come in more than one page"


async def test_worker_without_cache_pages_long_histories_from_the_poll(client, wf_id):
    """No workflow cache means no stickiness: every workflow task carries the whole history, which
    here grows past one page (Temporal sends at most 256 events in a poll response and the worker
    fetches the rest with GetWorkflowExecutionHistory and the poll's next_page_token)."""
    acts = ScenarioActivities()
    task_queue = f"nocache-{uuid.uuid4()}"
    count = 60  # ~6 events per activity: the last tasks replay more than 256 events
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=wfs.ALL,
        activities=acts.all(),
        max_cached_workflows=0,
    ):
        handle = await client.start_workflow(
            wfs.ManySequential.run, count, id=wf_id, task_queue=task_queue
        )
        assert await asyncio.wait_for(handle.result(), 240) == count
    events = await events_of(handle)
    assert len(events) > 300
    assert_contiguous_ids(events)
    assert len(of_type(events, "EVENT_TYPE_WORKFLOW_TASK_FAILED")) == 0


# Beyond the list: what workflow code and describe see of a run's configuration. ----------------


async def test_workflow_info_with_timeouts(client, sc_worker, wf_id):
    handle = await client.start_workflow(
        wfs.InfoProbe.run,
        id=wf_id,
        task_queue=sc_worker.task_queue,
        execution_timeout=timedelta(seconds=60),
        task_timeout=timedelta(seconds=7),
    )
    info = await result_of(handle)
    assert info["execution_timeout"] == 60.0
    assert info["run_timeout"] == 60.0, "the run timeout defaults to the execution timeout"
    assert info["task_timeout"] == 7.0
    assert info["history_length"] == 3


async def test_workflow_info_without_timeouts(client, sc_worker, wf_id):
    handle = await client.start_workflow(
        wfs.InfoProbe.run, id=wf_id, task_queue=sc_worker.task_queue
    )
    info = await result_of(handle)
    assert info["task_timeout"] == 10.0
    assert info["execution_timeout"] is None
    assert info["run_timeout"] is None
    desc = await handle.describe()
    config = desc.raw_description.execution_config
    assert not config.HasField("workflow_execution_timeout")
    assert not config.HasField("workflow_run_timeout")


async def test_workflow_info_history_size(client, sc_worker, wf_id):
    handle = await client.start_workflow(
        wfs.InfoProbe.run, id=wf_id, task_queue=sc_worker.task_queue
    )
    info = await result_of(handle)
    assert info["history_size"] > 0
    events = await events_of(handle)
    [wft_started] = of_type(events, "EVENT_TYPE_WORKFLOW_TASK_STARTED")
    assert wft_started.workflow_task_started_event_attributes.history_size_bytes > 0


async def test_describe_root_execution_and_expiration(client, sc_worker, wf_id):
    handle = await client.start_workflow(
        wfs.Sleeper.run,
        FOREVER_S,
        id=wf_id,
        task_queue=sc_worker.task_queue,
        execution_timeout=timedelta(seconds=120),
    )
    try:
        desc = await describe_until(handle, lambda d: d.history_length >= 5, "the timer started")
        assert desc.root_id == wf_id
        assert desc.root_run_id == handle.result_run_id
        raw = desc.raw_description
        assert raw.workflow_execution_info.history_size_bytes > 0
        extended = raw.workflow_extended_info
        expires = extended.execution_expiration_time.ToDatetime(tzinfo=desc.start_time.tzinfo)
        assert timedelta(seconds=119) <= expires - desc.start_time <= timedelta(seconds=121)
        run_expires = extended.run_expiration_time.ToDatetime(tzinfo=desc.start_time.tzinfo)
        assert timedelta(seconds=119) <= run_expires - desc.start_time <= timedelta(seconds=121)
    finally:
        await terminate_quietly(handle)


async def test_activity_timeout_failure_source_is_server(client, sc_worker, wf_id):
    handle = await client.start_workflow(
        wfs.ScheduleToCloseOnly.run, 3.0, id=wf_id, task_queue=sc_worker.task_queue
    )
    await result_of(handle)
    events = await events_of(handle)
    [timed_out] = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT")
    failure = timed_out.activity_task_timed_out_event_attributes.failure
    assert failure.source == "Server"
