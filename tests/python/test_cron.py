"""Cron workflows (a cron_schedule given at start) with the official Python SDK. Every test
passes against Temporal's dev server (PERDURE_TEST_SERVER=temporal; temporal CLI 1.9.1, server
1.32.0); the values noted in the comments are what it answered.

Temporal parses the schedule with robfig/cron's standard parser (five fields, descriptors such
as ``@hourly`` and ``@every <duration>``, an optional ``CRON_TZ=`` prefix). ``@every 1s`` and
``@every 2s`` are accepted, which keeps these tests to seconds. A backoff is the time from now
to the schedule's next time after the run's execution time, rounded up to whole seconds;
``@every`` delays under a second count as one second.

What they show: every run, the first included, is started with initiator CRON_SCHEDULE and waits
for its schedule time (first_workflow_task_backoff, no workflow task before it); a run that
completes or fails closes with new_execution_run_id naming the next run, which gets the last
completion result and, after a failure, the failure (the completion result from before the
failure carries on); terminate ends the chain, so does a cancellation the workflow lets through
(WorkflowExecutionCanceled), while a workflow that catches it and completes goes on; a cancel
request while the run waits for its schedule time schedules its workflow task at once; bad
schedules and a schedule with a start delay are refused with Temporal's codes and messages; the
client's ``result()`` follows the chain until it ends, and for this client Temporal's
CLOSE_EVENT history request answers a fake WorkflowExecutionContinuedAsNew for a run closed with
a new_execution_run_id (so ``result(follow_runs=False)`` raises WorkflowContinuedAsNewError).

Not covered here: a cron workflow that also has a retry policy (retries come first, the schedule
after), a run timeout on a cron run, signal-with-start of a cron workflow, a signal while the
run waits for its schedule time, the overlap of a run longer than the period (the next time
after now is taken, missed ones are skipped), Schedules (the separate ScheduleService).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import datetime, timedelta

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import (
    ContinueAsNewInitiator,
    EventType,
    HistoryEventFilterType,
    RetryState,
    WorkflowExecutionStatus,
)
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client, WorkflowContinuedAsNewError, WorkflowFailureError
from temporalio.exceptions import TerminatedError
from temporalio.service import RPCError, RPCStatusCode

import workflows
from harness import NAMESPACE
from history import (
    CLOCK_SLACK,
    assert_contiguous_ids,
    event_time,
    events_of,
    run_id_of,
    started_attributes,
    type_names,
)
from rpc import RESULT_TIMEOUT_S, json_values
from waiting import wait_until

EVERY_SECOND = "@every 1s"
STARTED = "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
ONE_TASK = [
    STARTED,
    "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    "EVENT_TYPE_WORKFLOW_TASK_STARTED",
    "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
]
CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


def next_run_id(close: HistoryEvent) -> str:
    if close.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        return close.workflow_execution_completed_event_attributes.new_execution_run_id
    if close.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        return close.workflow_execution_failed_event_attributes.new_execution_run_id
    raise AssertionError(f"no next run after {EventType.Name(close.event_type)}")


async def closed_history(client: Client, wf_id: str, run_id: str) -> list[HistoryEvent]:
    handle = client.get_workflow_handle(wf_id, run_id=run_id)

    async def closed():
        events = await events_of(handle)
        return events if events[-1].event_type in CLOSED else None

    events = await wait_until(closed, 30, f"run {run_id} to close")
    assert_contiguous_ids(events)
    return events


async def follow(client: Client, wf_id: str, first_run_id: str, count: int):
    """The histories of the first ``count`` runs of a cron chain once each has closed, and the
    history of the run after them as it is now."""
    runs = []
    run_id = first_run_id
    for _ in range(count):
        events = await closed_history(client, wf_id, run_id)
        assert run_id_of(events) == run_id
        runs.append(events)
        run_id = next_run_id(events[-1])
        assert run_id, "the chain ended"
    return runs, await events_of(client.get_workflow_handle(wf_id, run_id=run_id))


def cron_backoff_every(period: timedelta, scheduled: datetime, now: datetime) -> timedelta:
    """Temporal's backoff for ``@every <period>`` (a whole number of seconds): the first
    schedule time after ``now``, counted from ``scheduled`` truncated to the second, rounded up
    to whole seconds."""
    nxt = scheduled.replace(microsecond=0) + period
    while nxt < now:
        nxt += period
    return timedelta(seconds=math.ceil((nxt - now).total_seconds()))


async def terminate_quietly(client: Client, wf_id: str) -> None:
    """Ends a chain a test left running (cron workflows never end by themselves)."""
    try:
        await client.get_workflow_handle(wf_id).terminate(reason="cron test cleanup")
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            raise


async def start_cron(
    client: Client, wf_type, wf_id: str, task_queue: str, schedule: str, *args
):
    return await client.start_workflow(
        wf_type, args=list(args), id=wf_id, task_queue=task_queue, cron_schedule=schedule
    )


# ---- the chain of runs -------------------------------------------------------------------


async def test_a_cron_workflow_runs_on_schedule_each_run_chained_to_the_next(
    client, worker, wf_id
):
    handle = await start_cron(
        client, workflows.CronCounter.run, wf_id, worker.task_queue, EVERY_SECOND, 0
    )
    first_id = handle.first_execution_run_id
    try:
        runs, after = await asyncio.wait_for(follow(client, wf_id, first_id, 3), RESULT_TIMEOUT_S)
    finally:
        await terminate_quietly(client, wf_id)

    results = []
    for i, events in enumerate(runs):
        started = started_attributes(events)
        assert type_names(events) == ONE_TASK + ["EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"]
        # Every run, the first too, says CRON_SCHEDULE.
        assert started.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE
        assert started.cron_schedule == EVERY_SECOND
        assert started.first_execution_run_id == first_id
        assert started.attempt == 1
        assert started.workflow_type.name == "CronCounter"
        assert started.task_queue.name == worker.task_queue
        assert json_values(started.input) == [b"0"]
        # "@every 1s": always a whole second from now (rounded up).
        assert started.first_workflow_task_backoff.ToTimedelta() == timedelta(seconds=1)
        waited = event_time(events[1]) - event_time(events[0])
        assert waited >= timedelta(seconds=1) - CLOCK_SLACK, waited
        assert not started.HasField("continued_failure")
        if i == 0:
            assert started.continued_execution_run_id == ""
            assert not started.last_completion_result.payloads
        else:
            prev = runs[i - 1]
            assert started.continued_execution_run_id == run_id_of(prev)
            prev_done = prev[-1].workflow_execution_completed_event_attributes
            assert started.last_completion_result == prev_done.result
            # The next run starts as the previous closes (Temporal: 0.1 ms later).
            gap = event_time(events[0]) - event_time(prev[-1])
            assert timedelta(0) <= gap <= timedelta(milliseconds=100), gap

        done = events[-1].workflow_execution_completed_event_attributes
        assert done.new_execution_run_id == (run_id_of(runs[i + 1]) if i < 2 else run_id_of(after))
        assert done.workflow_task_completed_event_id == events[-2].event_id
        results.append(done)

    # What each run saw: the previous run's result through get_last_completion_result().
    decoded = [await client.data_converter.decode(d.result.payloads) for d in results]
    previous = None
    for i, [value] in enumerate(decoded):
        assert value == {
            "n": i + 1,
            "last": previous,
            "last_failure": None,
            "run_id": run_id_of(runs[i]),
            "cron_schedule": EVERY_SECOND,
        }
        previous = value

    # The fourth run was started the same way, then terminated: the chain ends there.
    fourth = started_attributes(after)
    assert fourth.continued_execution_run_id == run_id_of(runs[2])
    assert fourth.last_completion_result == results[2].result
    desc = await client.get_workflow_handle(wf_id).describe()
    assert desc.run_id == run_id_of(after)
    assert desc.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED


async def test_the_first_run_waits_for_the_first_schedule_time(client, worker, wf_id):
    schedule, period = "@every 2s", timedelta(seconds=2)
    handle = await start_cron(
        client, workflows.CronCounter.run, wf_id, worker.task_queue, schedule, 0
    )
    try:
        events = await events_of(handle)
        # Nothing but the started event until the schedule time.
        assert type_names(events) == [STARTED]
        started = started_attributes(events)
        assert started.cron_schedule == schedule
        assert started.first_workflow_task_backoff.ToTimedelta() == period
        desc = await handle.describe()
        assert desc.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
        assert abs(desc.execution_time - (desc.start_time + period)) <= timedelta(milliseconds=1)

        runs, after = await asyncio.wait_for(
            follow(client, wf_id, handle.first_execution_run_id, 1), RESULT_TIMEOUT_S
        )
    finally:
        await terminate_quietly(client, wf_id)
    first = runs[0]
    assert event_time(first[1]) - event_time(first[0]) >= period - CLOCK_SLACK
    # The second run's backoff counts from the first run's execution time (start + backoff):
    # the next "@every 2s" time after the close, rounded up to whole seconds.
    execution = event_time(first[0]) + period
    expected = cron_backoff_every(period, execution, event_time(first[-1]))
    assert started_attributes(after).first_workflow_task_backoff.ToTimedelta() == expected


async def test_a_failed_cron_run_is_followed_by_the_next_one(client, worker, wf_id):
    handle = await start_cron(
        client, workflows.CronCounter.run, wf_id, worker.task_queue, EVERY_SECOND, 2
    )
    first_id = handle.first_execution_run_id
    try:
        runs, after = await asyncio.wait_for(follow(client, wf_id, first_id, 3), RESULT_TIMEOUT_S)
    finally:
        await terminate_quietly(client, wf_id)
    first, second, third = runs
    assert type_names(second)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED"
    failed = second[-1].workflow_execution_failed_event_attributes
    assert failed.failure.message == "cron run 2 fails"
    assert failed.failure.application_failure_info.type == "CronRunFailure"
    # No retry policy: Temporal says so, and the schedule goes on.
    assert failed.retry_state == RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET
    assert failed.new_execution_run_id == run_id_of(third)

    first_result = first[-1].workflow_execution_completed_event_attributes.result
    after_failure = started_attributes(third)
    assert after_failure.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE
    assert after_failure.continued_execution_run_id == run_id_of(second)
    assert after_failure.continued_failure.message == "cron run 2 fails"
    assert after_failure.continued_failure.application_failure_info.type == "CronRunFailure"
    # The last completion result from before the failure carries on.
    assert after_failure.last_completion_result == first_result
    assert after_failure.first_workflow_task_backoff.ToTimedelta() == timedelta(seconds=1)
    [seen] = await client.data_converter.decode(
        third[-1].workflow_execution_completed_event_attributes.result.payloads
    )
    [first_value] = await client.data_converter.decode(first_result.payloads)
    assert seen["n"] == 2
    assert seen["last"] == first_value
    assert seen["last_failure"] == "cron run 2 fails"
    # After a completed run again: no failure, that run's result.
    fourth = started_attributes(after)
    assert not fourth.HasField("continued_failure")
    assert (
        fourth.last_completion_result
        == third[-1].workflow_execution_completed_event_attributes.result
    )

    # Temporal answers this client's CLOSE_EVENT request for the failed run with a fake
    # ContinuedAsNew carrying the failure and the next run id.
    [close] = await close_event_only(client, wf_id, run_id_of(second))
    assert close.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    fake = close.workflow_execution_continued_as_new_event_attributes
    assert fake.new_execution_run_id == run_id_of(third)
    assert fake.failure.message == "cron run 2 fails"


# ---- ending the chain --------------------------------------------------------------------


async def test_terminate_ends_the_chain(client, worker, wf_id):
    Q = workflows.QueryableCollector
    # Waiting for its first schedule time (up to an hour away).
    waiting = await start_cron(
        client, Q.run, f"{wf_id}-waiting", worker.task_queue, "@hourly", False
    )
    # Running: its first task completed, the workflow waits for a signal.
    running = await start_cron(
        client, Q.run, f"{wf_id}-running", worker.task_queue, EVERY_SECOND, False
    )
    try:
        assert await running.query(Q.values_so_far, rpc_timeout=timedelta(seconds=30)) == []
        for handle in (waiting, running):
            await handle.terminate(reason="cron test terminates")
        # One period of the running chain's schedule, for a next run to (wrongly) appear.
        await asyncio.sleep(1.5)
    finally:
        for handle in (waiting, running):
            await terminate_quietly(client, handle.id)
    for handle, expected in (
        (waiting, [STARTED]),
        (running, ONE_TASK),
    ):
        first_run = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        events = await events_of(first_run)
        assert type_names(events) == expected + ["EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"]
        assert events[-1].workflow_execution_terminated_event_attributes.reason == (
            "cron test terminates"
        )
        desc = await client.get_workflow_handle(handle.id).describe()
        assert desc.run_id == handle.first_execution_run_id, "a run after the terminated one"
        assert desc.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED
        with pytest.raises(WorkflowFailureError) as ended:
            await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
        assert isinstance(ended.value.cause, TerminatedError)
        assert ended.value.cause.message == "cron test terminates"


async def test_a_cancelled_cron_run_ends_the_chain_unless_the_workflow_completes(
    client, worker, wf_id
):
    Q = workflows.QueryableCollector
    # Cancelled while it waits for its first schedule time.
    waiting = await start_cron(
        client, Q.run, f"{wf_id}-waiting", worker.task_queue, "@hourly", False
    )
    # Cancelled while it runs; QueryableCollector lets the cancellation through.
    running = await start_cron(
        client, Q.run, f"{wf_id}-running", worker.task_queue, EVERY_SECOND, False
    )
    # CancelCleanup catches it and completes: the chain goes on.
    caught = await start_cron(
        client, workflows.CancelCleanup.run, f"{wf_id}-caught", worker.task_queue, EVERY_SECOND
    )
    handles = (waiting, running, caught)
    try:
        assert await running.query(Q.values_so_far, rpc_timeout=timedelta(seconds=30)) == []

        async def caught_started():
            events = await events_of(caught)
            return len(events) >= 4

        await wait_until(caught_started, 30, "the first task of the catching run")
        for handle in handles:
            await handle.cancel()
        histories = [
            await asyncio.wait_for(
                closed_history(client, h.id, h.first_execution_run_id), RESULT_TIMEOUT_S
            )
            for h in handles
        ]
        caught_next = next_run_id(histories[2][-1])
        caught_next_events = await events_of(
            client.get_workflow_handle(caught.id, run_id=caught_next)
        )
        # One period of the schedule, for a next run to (wrongly) appear.
        await asyncio.sleep(1.5)
        currents = [await client.get_workflow_handle(h.id).describe() for h in handles]
    finally:
        for handle in handles:
            await terminate_quietly(client, handle.id)

    # Temporal schedules the waiting run's workflow task at once on the cancel request instead
    # of waiting out the hour; the run sees the cancellation and is cancelled.
    events = histories[0]
    assert type_names(events) == [
        STARTED,
        "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED",
    ]
    assert started_attributes(events).first_workflow_task_backoff.ToTimedelta() > timedelta(0)
    assert event_time(events[2]) - event_time(events[0]) < timedelta(seconds=30)
    assert type_names(histories[1]) == ONE_TASK + [
        "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED",
    ]
    # A cancelled run has no next run.
    for handle, desc in zip(handles[:2], currents[:2]):
        assert desc.run_id == handle.first_execution_run_id
        assert desc.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED
    # The run that caught the cancellation completed and the schedule went on.
    done = histories[2][-1].workflow_execution_completed_event_attributes
    assert json_values(done.result) == [b'"cleaned up"']
    assert caught_next
    nxt = started_attributes(caught_next_events)
    assert nxt.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE
    assert nxt.last_completion_result == done.result
    # The cancel request does not carry over to the next run: it is still running.
    assert currents[2].run_id != caught.first_execution_run_id
    assert currents[2].status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING


# ---- schedules Temporal accepts and refuses ----------------------------------------------


async def test_bad_cron_schedules_are_refused(client, wf_id):
    cases = [
        ("not a cron", None, "invalid CronSchedule."),
        # Six fields (seconds) are not the standard parser's.
        ("* * * * * *", None, "invalid CronSchedule."),
        ("60 * * * *", None, "invalid CronSchedule."),
        ("@every 1s ", None, "invalid CronSchedule."),
        # Parses, but no time ever matches.
        ("0 0 30 2 *", None, "invalid CronSchedule, no time can be found to satisfy the schedule"),
        (
            EVERY_SECOND,
            timedelta(seconds=1),
            "CronSchedule and WorkflowStartDelay may not be used together.",
        ),
    ]
    for i, (schedule, delay, message) in enumerate(cases):
        with pytest.raises(RPCError) as refused:
            await client.start_workflow(
                workflows.CronCounter.run,
                0,
                id=f"{wf_id}-{i}",
                task_queue=f"nobody-{uuid.uuid4()}",
                cron_schedule=schedule,
                start_delay=delay,
            )
        # Temporal: INVALID_ARGUMENT with these messages.
        assert refused.value.status == RPCStatusCode.INVALID_ARGUMENT, (schedule, refused.value)
        assert refused.value.message == message, schedule
        # Nothing was started.
        with pytest.raises(RPCError) as missing:
            await client.get_workflow_handle(f"{wf_id}-{i}").describe()
        assert missing.value.status == RPCStatusCode.NOT_FOUND


def next_utc_minute(*minutes: int):
    """The first time after ``now`` at one of ``minutes`` (UTC), second 0."""

    def after(now: datetime) -> datetime:
        hour = now.replace(minute=0, second=0, microsecond=0)
        times = [hour + timedelta(hours=h, minutes=m) for h in (0, 1) for m in minutes]
        return min(t for t in times if t > now)

    return after


async def test_accepted_cron_schedules_and_their_first_backoff(client, wf_id):
    """On a queue nobody polls: each schedule's first backoff, from the started event. Either
    exact, or the time to the schedule's next time (a function of the start), rounded up."""
    cases = [
        ("@every 2s", timedelta(seconds=2)),
        # robfig/cron makes delays under a second one second, and truncates to whole seconds.
        ("@every 500ms", timedelta(seconds=1)),
        ("@every 1.5s", timedelta(seconds=1)),
        ("@hourly", next_utc_minute(0)),
        ("*/15 * * * *", next_utc_minute(0, 15, 30, 45)),
        # The zone of the prefix decides: minute 0 in Kolkata (UTC+05:30) is minute 30 in UTC.
        ("CRON_TZ=Asia/Kolkata 0 * * * *", next_utc_minute(30)),
    ]
    for i, (schedule, expected) in enumerate(cases):
        handle = await client.start_workflow(
            workflows.CronCounter.run,
            0,
            id=f"{wf_id}-{i}",
            task_queue=f"nobody-{uuid.uuid4()}",
            cron_schedule=schedule,
        )
        try:
            events = await events_of(handle)
        finally:
            await handle.terminate(reason="cron schedule test")
        assert type_names(events) == [STARTED], schedule
        started = started_attributes(events)
        assert started.cron_schedule == schedule
        assert started.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE
        backoff = started.first_workflow_task_backoff.ToTimedelta()
        if isinstance(expected, timedelta):
            assert backoff == expected, schedule
            continue
        start = event_time(events[0])
        until = expected(start) - start
        assert backoff.microseconds == 0, (schedule, backoff)
        assert timedelta(0) <= backoff - until < timedelta(seconds=1), (schedule, backoff, until)


# ---- what the client sees ----------------------------------------------------------------


async def close_event_only(client: Client, wf_id: str, run_id: str) -> list[HistoryEvent]:
    response = await client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace=NAMESPACE,
            execution=WorkflowExecution(workflow_id=wf_id, run_id=run_id),
            history_event_filter_type=HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
        ),
        timeout=timedelta(seconds=10),
    )
    return list(response.history.events)


async def test_the_result_of_a_cron_workflow_follows_the_chain_until_it_ends(
    client, worker, wf_id
):
    handle = await start_cron(
        client, workflows.CronCounter.run, wf_id, worker.task_queue, EVERY_SECOND, 0
    )
    first_id = handle.first_execution_run_id
    following = asyncio.create_task(handle.result())
    try:
        runs, after = await asyncio.wait_for(follow(client, wf_id, first_id, 1), RESULT_TIMEOUT_S)
        second_id = run_id_of(after)
        # For this client (the Python SDK is not in Temporal's list of clients that follow
        # new_execution_run_id) the CLOSE_EVENT filter answers a fake ContinuedAsNew event with
        # the next run id and the result as last_completion_result; the full history says
        # Completed.
        [close] = await close_event_only(client, wf_id, first_id)
        assert close.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        assert close.event_id == runs[0][-1].event_id
        fake = close.workflow_execution_continued_as_new_event_attributes
        assert fake.new_execution_run_id == second_id
        done = runs[0][-1].workflow_execution_completed_event_attributes
        assert fake.last_completion_result == done.result
        # So the run's own result is not to be had: the SDK raises.
        with pytest.raises(WorkflowContinuedAsNewError) as continued:
            await asyncio.wait_for(handle.result(follow_runs=False), RESULT_TIMEOUT_S)
        assert continued.value.new_execution_run_id == second_id
        # Following the chain never ends while the schedule goes on.
        await asyncio.wait({following}, timeout=2.5)
        assert not following.done(), "result() of a running cron workflow returned"
        await handle.terminate(reason="end of the chain")
        with pytest.raises(WorkflowFailureError) as ended:
            await asyncio.wait_for(following, RESULT_TIMEOUT_S)
        assert isinstance(ended.value.cause, TerminatedError)
        assert ended.value.cause.message == "end of the chain"
    finally:
        following.cancel()
        await terminate_quietly(client, wf_id)
