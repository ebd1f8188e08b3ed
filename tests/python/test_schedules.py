"""Schedules through the Python SDK (issue 8): create, the runs a spec starts, pause and unpause,
trigger, backfill, the overlap policies, limited actions, pause on failure, describe, update,
list, delete, ListScheduleMatchingTimes and the refusals of bad input.

Written against Temporal's dev server (PERDURE_TEST_SERVER=temporal; temporal CLI 1.9.1,
server 1.32.0), which is the specification. Timing: slots are 1–2 s apart; every wait has a
deadline; the only plain sleeps are the windows that show something did NOT happen (each
covers at least two slots). What is asserted is computed from nominal times (the workflow ids,
the slots between two observed states), never from how long a sleep lasted.

Temporal facts pinned here that are easy to get wrong (checked on the dev server and in
service/worker/scheduler): a run's id is ``<action id>-<nominal time to the second>`` and its
ScheduledStartTime the nominal time, while ``recent_actions[].scheduled_at`` and the future
times are the jittered (actual) times; a backfill's start AND end are inclusive, but
ListScheduleMatchingTimes' start is exclusive; BUFFER_ONE keeps the oldest overlapping slot;
a paused schedule drops its buffered scheduled starts (so BUFFER_ALL is drained with a spec
end time, not a pause), still lists ten future times, and does not catch up paused slots;
manual starts (trigger, backfill) ignore pause and remaining actions and do not consume them;
future times are capped by remaining actions; recent actions are the last ten in start order;
update_time is set by UpdateSchedule only (not at create, not by pause); a stale conflict
token makes an update a no-op.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable
from datetime import timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.schedule.v1 import Schedule as ScheduleProto
from temporalio.api.schedule.v1 import Range as RangeProto
from temporalio.api.schedule.v1 import ScheduleSpec as ScheduleSpecProto
from temporalio.api.schedule.v1 import StructuredCalendarSpec
from temporalio.api.workflowservice.v1 import (
    CreateScheduleRequest,
    DescribeScheduleRequest,
    ListScheduleMatchingTimesRequest,
    UpdateScheduleRequest,
)
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError, RPCStatusCode

from harness import NAMESPACE, ServerUnderTest, server_kind
from rpc import RPC_TIMEOUT
from schedules import (
    SCHEDULED_BY_ID,
    SCHEDULED_START_TIME,
    SLOTS_S,
    deleted_after,
    describe_until,
    floor_to,
    now_utc,
    quiet_window,
    schedule_id,
    schedule_with_worker,
    schedule_worker,
    scheduled_workflow_id,
    started_run,
)
from waiting import wait_until

ONE_S = timedelta(seconds=1)
TWO_S = timedelta(seconds=2)
#: Longer than two 1 s slots plus the scheduler's lag: a window that shows nothing started.
QUIET_S = 2.5


def start_action(workflow: str, sid: str, task_queue: str, arg: str = "payload"):
    """The action of every schedule here: the run's workflow id is ``<sid>-wf-<nominal>``."""
    return ScheduleActionStartWorkflow(
        workflow, arg, id=f"{sid}-wf", task_queue=task_queue
    )


def every(period: timedelta, offset: timedelta | None = None) -> ScheduleSpec:
    return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=period, offset=offset)])


def paused_echo(sid: str, spec: ScheduleSpec) -> Callable[[str], Schedule]:
    """A paused schedule of ScheduledEcho runs: only backfills and triggers start them."""
    return lambda task_queue: Schedule(
        action=start_action("ScheduledEcho", sid, task_queue),
        spec=spec,
        state=ScheduleState(paused=True),
    )


async def run_status(client: Client, workflow_id: str, run_id: str) -> WorkflowExecutionStatus:
    d = await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
    return d.status


async def release(client: Client, action) -> None:
    run = started_run(action)
    await client.get_workflow_handle(
        run.workflow_id, run_id=run.first_execution_run_id
    ).signal("release")


# ---- runs ------------------------------------------------------------------------------------


async def test_an_interval_schedule_starts_runs_named_for_their_nominal_times(client):
    sid = schedule_id("sched-interval")
    async with schedule_worker(client) as w:
        created = now_utc()
        handle = await client.create_schedule(
            sid, Schedule(action=start_action("ScheduledEcho", sid, w.task_queue), spec=every(TWO_S))
        )
        async with deleted_after(handle):
            d = await describe_until(handle, lambda d: d.info.num_actions >= 2, "two runs")
            recent = d.info.recent_actions
            assert len(recent) >= 2
            nominals = [a.scheduled_at for a in recent]
            # Slots are aligned to the interval since the epoch, one per slot, none before create.
            for t in nominals:
                assert t.timestamp() % 2 == 0, t
            assert nominals[0] > created - TWO_S
            for a, b in zip(nominals, nominals[1:]):
                assert b - a == TWO_S
            for a in recent[:2]:
                run = started_run(a)
                assert run.workflow_id == scheduled_workflow_id(f"{sid}-wf", a.scheduled_at)
                assert run.first_execution_run_id
                assert a.started_at >= a.scheduled_at
                result = await client.get_workflow_handle(
                    run.workflow_id, run_id=run.first_execution_run_id
                ).result()
                assert result == {
                    "arg": "payload",
                    "workflowId": run.workflow_id,
                    "scheduledById": sid,
                    "scheduledStartTime": a.scheduled_at.isoformat(),
                }
                described = await client.get_workflow_handle(run.workflow_id).describe()
                assert described.workflow_type == "ScheduledEcho"
                assert described.task_queue == w.task_queue
                attrs = described.typed_search_attributes
                assert attrs.get(SCHEDULED_BY_ID) == sid
                assert attrs.get(SCHEDULED_START_TIME) == a.scheduled_at


async def test_pause_stops_runs_and_unpause_resumes_without_catching_up(client):
    sid = schedule_id("sched-pause")
    async with schedule_with_worker(
        client,
        sid,
        lambda task_queue: Schedule(
            action=start_action("ScheduledEcho", sid, task_queue), spec=every(ONE_S)
        ),
    ) as handle:
        await describe_until(handle, lambda d: d.info.num_actions >= 1, "a first run")
        await handle.pause(note="maintenance window")
        d = await describe_until(
            handle, lambda d: d.schedule.state.paused, "paused", timeout_s=10
        )
        paused_at = now_utc()
        assert d.schedule.state.note == "maintenance window"
        before = d.info.num_actions

        await quiet_window(QUIET_S)
        d = await handle.describe()
        assert d.schedule.state.paused
        assert d.info.num_actions == before, "a run started while paused"
        # A paused schedule still lists its next ten times (the spec's, not what will run).
        assert len(d.info.next_action_times) == 10

        unpause_sent = now_utc()
        await handle.unpause(note="back to work")
        d = await describe_until(
            handle,
            lambda d: not d.schedule.state.paused and d.info.num_actions > before,
            "unpaused and running again",
        )
        assert d.schedule.state.note == "back to work"
        # No slot of the paused window is run afterwards (no catch-up for paused time).
        for a in d.info.recent_actions:
            assert not (paused_at < a.scheduled_at < unpause_sent), a.scheduled_at


async def test_trigger_starts_a_run_now_even_while_paused(client):
    sid = schedule_id("sched-trigger")
    async with schedule_with_worker(
        client,
        sid,
        lambda task_queue: Schedule(
            action=start_action("ScheduledEcho", sid, task_queue),
            spec=every(timedelta(hours=1)),
            state=ScheduleState(paused=True, note="only by hand"),
        ),
    ) as handle:
        sent = now_utc()
        await handle.trigger()
        d = await describe_until(handle, lambda d: d.info.num_actions == 1, "the triggered run")
        (action,) = d.info.recent_actions
        assert sent - ONE_S <= action.scheduled_at <= now_utc()
        run = started_run(action)
        assert run.workflow_id == scheduled_workflow_id(f"{sid}-wf", action.scheduled_at)
        result = await client.get_workflow_handle(run.workflow_id).result()
        assert result["scheduledById"] == sid
        assert d.schedule.state.paused and d.schedule.state.note == "only by hand"


async def test_create_with_trigger_immediately_and_a_backfill(client):
    sid = schedule_id("sched-initial-patch")
    hour = timedelta(hours=1)
    async with schedule_worker(client) as w:
        top = floor_to(now_utc(), hour)
        past = [top - 3 * hour, top - 2 * hour]
        sent = now_utc()
        handle = await client.create_schedule(
            sid,
            Schedule(
                action=start_action("ScheduledEcho", sid, w.task_queue),
                spec=every(hour),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
                state=ScheduleState(paused=True),
            ),
            trigger_immediately=True,
            backfill=[ScheduleBackfill(start_at=past[0], end_at=past[1])],
        )
        async with deleted_after(handle):
            d = await describe_until(handle, lambda d: d.info.num_actions >= 3, "three runs")
            nominals = sorted(a.scheduled_at for a in d.info.recent_actions)
            assert nominals[:2] == past
            assert sent - ONE_S <= nominals[2] <= now_utc()
            for a in d.info.recent_actions:
                run = started_run(a)
                assert run.workflow_id == scheduled_workflow_id(f"{sid}-wf", a.scheduled_at)
            assert d.schedule.state.paused


async def test_backfill_starts_every_nominal_time_of_a_past_window(client):
    sid = schedule_id("sched-backfill")
    minute = timedelta(minutes=1)
    async with schedule_with_worker(client, sid, paused_echo(sid, every(minute))) as handle:
        top = floor_to(now_utc(), minute)
        # Both ends are slots and both are included (Temporal makes the start inclusive).
        start, end = top - 5 * minute, top - 2 * minute
        await handle.backfill(
            ScheduleBackfill(start_at=start, end_at=end, overlap=ScheduleOverlapPolicy.ALLOW_ALL)
        )
        expected = [start + i * minute for i in range(4)]
        d = await describe_until(handle, lambda d: d.info.num_actions >= 4, "four backfilled runs")
        await quiet_window(1.0)
        d = await handle.describe()
        assert d.info.num_actions == 4
        assert sorted(a.scheduled_at for a in d.info.recent_actions) == expected
        ids = sorted(started_run(a).workflow_id for a in d.info.recent_actions)
        assert ids == [scheduled_workflow_id(f"{sid}-wf", t) for t in expected]
        for t in expected:
            result = await client.get_workflow_handle(
                scheduled_workflow_id(f"{sid}-wf", t)
            ).result()
            assert result["scheduledStartTime"] == t.isoformat()
        assert d.schedule.state.paused


async def test_recent_actions_keep_the_last_ten(client):
    sid = schedule_id("sched-recent")
    minute = timedelta(minutes=1)
    async with schedule_with_worker(client, sid, paused_echo(sid, every(minute))) as handle:
        start = floor_to(now_utc(), minute) - 20 * minute
        await handle.backfill(
            ScheduleBackfill(
                start_at=start, end_at=start + 11 * minute, overlap=ScheduleOverlapPolicy.ALLOW_ALL
            )
        )
        d = await describe_until(handle, lambda d: d.info.num_actions >= 12, "twelve runs")
        assert d.info.num_actions == 12
        assert [a.scheduled_at for a in d.info.recent_actions] == [
            start + i * minute for i in range(2, 12)
        ]


async def test_jitter_delays_a_run_but_its_id_keeps_the_nominal_time(client):
    sid = schedule_id("sched-jitter")
    async with schedule_with_worker(
        client,
        sid,
        lambda task_queue: Schedule(
            action=start_action("ScheduledEcho", sid, task_queue),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=TWO_S)], jitter=ONE_S),
        ),
    ) as handle:
        d = await describe_until(handle, lambda d: d.info.num_actions >= 2, "two runs")
        # Future and recent times are the jittered (actual) times, each within the jitter
        # after its nominal slot.
        for t in d.info.next_action_times:
            assert floor_to(t, TWO_S) <= t < floor_to(t, TWO_S) + ONE_S, t
        recent = d.info.recent_actions[:2]
        for a in recent:
            nominal = floor_to(a.scheduled_at, TWO_S)
            assert nominal <= a.scheduled_at < nominal + ONE_S
            run = started_run(a)
            assert run.workflow_id == scheduled_workflow_id(f"{sid}-wf", nominal)
            result = await client.get_workflow_handle(run.workflow_id).result()
            assert result["scheduledStartTime"] == nominal.isoformat()
        # Jitter is drawn per slot (deterministically from the schedule id and the time).
        times = [a.scheduled_at for a in recent] + list(d.info.next_action_times)
        assert any(t != floor_to(t, TWO_S) for t in times)


# ---- overlap policies ------------------------------------------------------------------------


def blocking_schedule(sid: str, task_queue: str, overlap: ScheduleOverlapPolicy, **policy):
    return Schedule(
        action=start_action("ScheduledBlocker", sid, task_queue),
        spec=every(ONE_S),
        policy=SchedulePolicy(overlap=overlap, **policy),
    )


async def test_overlap_skip_skips_slots_while_a_run_is_running(client):
    sid = schedule_id("sched-skip")
    async with schedule_with_worker(
        client,
        sid,
        lambda task_queue: blocking_schedule(sid, task_queue, ScheduleOverlapPolicy.SKIP),
    ) as handle:
        d = await describe_until(
            handle,
            lambda d: d.info.num_actions >= 1 and d.info.num_actions_skipped_overlap >= 2,
            "two slots skipped while the first run runs",
        )
        assert d.info.num_actions == 1
        (first,) = d.info.recent_actions
        assert [r.workflow_id for r in d.info.running_actions] == [started_run(first).workflow_id]
        skipped = d.info.num_actions_skipped_overlap
        await release(client, first)
        d = await describe_until(handle, lambda d: d.info.num_actions >= 2, "a second run")
        second = d.info.recent_actions[1]
        # The skipped slots are gone: the next run is for a slot after all of them.
        assert second.scheduled_at >= first.scheduled_at + (skipped + 1) * ONE_S
        assert d.info.num_actions_skipped_overlap >= skipped
        # Deleting a schedule leaves the runs it started alone.
        await handle.delete()
        run = started_run(second)
        status = await run_status(client, run.workflow_id, run.first_execution_run_id)
        assert status == WorkflowExecutionStatus.RUNNING
        await release(client, second)


async def test_overlap_buffer_one_runs_the_first_overlapping_slot_after_the_run_ends(client):
    sid = schedule_id("sched-buffer-one")
    async with schedule_with_worker(
        client,
        sid,
        lambda task_queue: blocking_schedule(sid, task_queue, ScheduleOverlapPolicy.BUFFER_ONE),
    ) as handle:
        d = await describe_until(
            handle,
            lambda d: d.info.num_actions >= 1 and d.info.num_actions_skipped_overlap >= 1,
            "one slot buffered and a later one skipped",
        )
        assert d.info.num_actions == 1
        assert d.raw_description.info.buffer_size == 1
        (first,) = d.info.recent_actions
        first_run = started_run(first)
        await release(client, first)
        d = await describe_until(handle, lambda d: d.info.num_actions >= 2, "the buffered run")
        second = d.info.recent_actions[1]
        # The buffered slot is the one right after the first run's (later ones were skipped).
        assert second.scheduled_at == first.scheduled_at + ONE_S
        # The closed run left the running list; the buffered one is in it.
        running = [r.workflow_id for r in d.info.running_actions]
        assert running == [started_run(second).workflow_id]
        closed = await client.get_workflow_handle(
            first_run.workflow_id, run_id=first_run.first_execution_run_id
        ).describe()
        assert closed.status == WorkflowExecutionStatus.COMPLETED
        assert second.started_at >= closed.close_time


async def test_overlap_buffer_all_runs_every_overlapping_slot_in_order(client):
    sid = schedule_id("sched-buffer-all")
    # A spec with an end: four slots, the first runs and blocks, the other three are buffered.
    # (Pausing would not do: a paused schedule drops its buffered scheduled starts.)
    first_slot = floor_to(now_utc(), ONE_S) + 3 * ONE_S
    slots = [first_slot + i * ONE_S for i in range(4)]

    def build(task_queue: str) -> Schedule:
        schedule = blocking_schedule(sid, task_queue, ScheduleOverlapPolicy.BUFFER_ALL)
        schedule.spec = ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=ONE_S)], start_at=slots[0], end_at=slots[-1]
        )
        return schedule

    async with schedule_with_worker(client, sid, build) as handle:
        d = await describe_until(
            handle,
            lambda d: d.info.num_actions == 1 and d.raw_description.info.buffer_size == 3,
            "three slots buffered behind the first run",
        )
        assert d.info.num_actions_skipped_overlap == 0
        assert d.info.next_action_times == []
        for n in range(1, 4):
            await release(client, d.info.recent_actions[-1])
            d = await describe_until(
                handle, lambda d, n=n: d.info.num_actions == n + 1, f"buffered run {n}"
            )
        assert [a.scheduled_at for a in d.info.recent_actions] == slots
        assert d.raw_description.info.buffer_size == 0
        assert d.info.num_actions_skipped_overlap == 0


async def test_overlap_allow_all_runs_slots_side_by_side(client):
    sid = schedule_id("sched-allow-all")
    async with schedule_with_worker(
        client,
        sid,
        lambda task_queue: blocking_schedule(sid, task_queue, ScheduleOverlapPolicy.ALLOW_ALL),
    ) as handle:
        d = await describe_until(handle, lambda d: d.info.num_actions >= 3, "three runs")
        await handle.pause()
        recent = d.info.recent_actions[:3]
        assert d.info.num_actions_skipped_overlap == 0
        for a, b in zip(recent, recent[1:]):
            assert b.scheduled_at - a.scheduled_at == ONE_S
        for a in recent:
            run = started_run(a)
            assert run.workflow_id == scheduled_workflow_id(f"{sid}-wf", a.scheduled_at)
            status = await run_status(client, run.workflow_id, run.first_execution_run_id)
            assert status == WorkflowExecutionStatus.RUNNING
        for a in d.info.recent_actions:
            await release(client, a)


@pytest.mark.parametrize(
    "overlap,ended",
    [
        (ScheduleOverlapPolicy.CANCEL_OTHER, WorkflowExecutionStatus.CANCELED),
        (ScheduleOverlapPolicy.TERMINATE_OTHER, WorkflowExecutionStatus.TERMINATED),
    ],
    ids=["cancel_other", "terminate_other"],
)
async def test_overlap_cancel_or_terminate_other_ends_the_running_run(client, overlap, ended):
    sid = schedule_id(f"sched-{overlap.name.lower().replace('_', '-')}")
    async with schedule_with_worker(
        client, sid, lambda task_queue: blocking_schedule(sid, task_queue, overlap)
    ) as handle:
        d = await describe_until(handle, lambda d: d.info.num_actions >= 2, "a second run")
        first, second = d.info.recent_actions[:2]
        first_run = started_run(first)
        closed = await client.get_workflow_handle(
            first_run.workflow_id, run_id=first_run.first_execution_run_id
        ).describe()
        assert closed.status == ended
        assert second.scheduled_at > first.scheduled_at
        # The next run starts only once the one it ended has closed.
        assert second.started_at >= closed.close_time
        assert d.info.num_actions_skipped_overlap == 0


async def test_a_trigger_follows_its_overlap_policy(client):
    sid = schedule_id("sched-trigger-overlap")
    async with schedule_with_worker(
        client,
        sid,
        lambda task_queue: Schedule(
            action=start_action("ScheduledBlocker", sid, task_queue),
            spec=every(timedelta(hours=1)),
            state=ScheduleState(paused=True),
        ),
    ) as handle:
        await handle.trigger()
        d = await describe_until(handle, lambda d: d.info.num_actions == 1, "the first run")
        first = d.info.recent_actions[0]
        # The schedule's policy (SKIP) applies to a trigger that names none.
        await handle.trigger()
        d = await describe_until(
            handle, lambda d: d.info.num_actions_skipped_overlap == 1, "the trigger skipped"
        )
        assert d.info.num_actions == 1
        # A trigger's own policy overrides it. (A later second: the run's id is the trigger
        # time to the second, and the first run still holds the id of its own second.)
        await wait_until(
            lambda: now_utc().replace(microsecond=0) > first.scheduled_at, 5, "a new second"
        )
        await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
        d = await describe_until(handle, lambda d: d.info.num_actions == 2, "the second run")
        for a in d.info.recent_actions:
            run = started_run(a)
            status = await run_status(client, run.workflow_id, run.first_execution_run_id)
            assert status == WorkflowExecutionStatus.RUNNING
            await release(client, a)


# ---- state and policies ----------------------------------------------------------------------


async def test_limited_actions_stop_after_the_last_one(client):
    sid = schedule_id("sched-limited")
    async with schedule_with_worker(
        client,
        sid,
        lambda task_queue: Schedule(
            action=start_action("ScheduledEcho", sid, task_queue),
            spec=every(ONE_S),
            state=ScheduleState(limited_actions=True, remaining_actions=2),
        ),
    ) as handle:
        d = await describe_until(
            handle,
            lambda d: d.info.num_actions >= 2 and d.schedule.state.remaining_actions == 0,
            "both actions used",
        )
        assert d.info.num_actions == 2
        assert d.schedule.state.limited_actions
        await quiet_window(QUIET_S)
        d = await handle.describe()
        assert d.info.num_actions == 2
        assert d.schedule.state.remaining_actions == 0
        assert d.info.next_action_times == []  # no more than the remaining actions
        # A manual trigger is not limited by remaining actions.
        await handle.trigger()
        d = await describe_until(handle, lambda d: d.info.num_actions == 3, "the triggered run")
        assert d.schedule.state.remaining_actions == 0


async def test_pause_on_failure_pauses_the_schedule_after_a_failed_run(client):
    sid = schedule_id("sched-pause-on-failure")
    async with schedule_with_worker(
        client,
        sid,
        lambda task_queue: Schedule(
            action=start_action("ScheduledFailure", sid, task_queue, arg="boom"),
            spec=every(ONE_S),
            policy=SchedulePolicy(pause_on_failure=True),
        ),
    ) as handle:
        d = await describe_until(handle, lambda d: d.schedule.state.paused, "paused by a failure")
        note = d.schedule.state.note
        prefix = f"paused due to workflow failure: {sid}-wf-"
        assert note.startswith(prefix), note
        failed_id, _, message = note[len("paused due to workflow failure: "):].partition(": ")
        assert message == "scheduled failure: boom"
        assert failed_id in [started_run(a).workflow_id for a in d.info.recent_actions]
        failed = await client.get_workflow_handle(failed_id).describe()
        assert failed.status == WorkflowExecutionStatus.FAILED
        count = d.info.num_actions
        await quiet_window(QUIET_S)
        d = await handle.describe()
        assert d.schedule.state.paused and d.info.num_actions == count


# ---- describe, update, list, delete ----------------------------------------------------------


async def test_describe_shows_future_times_and_create_and_update_times(client):
    sid = schedule_id("sched-describe")
    hour = timedelta(hours=1)
    offset = timedelta(minutes=17, seconds=5)
    before = now_utc()
    handle = await client.create_schedule(
        sid,
        Schedule(
            action=start_action("ScheduledEcho", sid, f"sched-{sid}"),
            spec=every(hour, offset),
            state=ScheduleState(paused=False, note="created"),
        ),
        memo={"owner": "team-a", "tier": 2},
    )
    after = now_utc()
    async with deleted_after(handle):
        d = await handle.describe()
        assert d.id == sid
        assert before - ONE_S <= d.info.created_at <= after + ONE_S
        assert d.info.last_updated_at is None
        future = d.info.next_action_times
        assert len(future) == 10
        assert future[0] > before
        assert future[0] - before <= hour
        for t in future:
            assert (t - floor_to(t, hour)) == offset, t
        for a, b in zip(future, future[1:]):
            assert b - a == hour
        assert d.schedule.spec.intervals == [ScheduleIntervalSpec(every=hour, offset=offset)]
        assert d.schedule.state.note == "created" and not d.schedule.state.paused
        assert d.info.num_actions == 0 and d.info.recent_actions == []
        assert d.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        assert isinstance(d.schedule.action, ScheduleActionStartWorkflow)
        assert d.schedule.action.workflow == "ScheduledEcho"
        assert d.schedule.action.id == f"{sid}-wf"
        assert d.schedule.action.task_queue == f"sched-{sid}"
        assert await d.memo() == {"owner": "team-a", "tier": 2}
        # (update_time is set by an update: see the update test; Temporal's workflow-backed
        # scheduler leaves it unset on pause/unpause, so that is not asserted either way.)


async def test_a_cron_string_comes_back_as_a_structured_calendar(client):
    sid = schedule_id("sched-cron")
    handle = await client.create_schedule(
        sid,
        Schedule(
            action=start_action("ScheduledEcho", sid, f"sched-{sid}"),
            spec=ScheduleSpec(cron_expressions=["30 9 * * MON-FRI"]),
            state=ScheduleState(paused=True),
        ),
    )
    async with deleted_after(handle):
        d = await handle.describe()
        spec = d.raw_description.schedule.spec
        assert list(spec.cron_string) == []
        assert list(spec.calendar) == []
        assert d.schedule.spec.cron_expressions == []
        # Canonical form: every field a list of ranges with end and step filled in (end = start
        # for a single value, step 1), year empty (any), no comment.
        r = lambda start, end: RangeProto(start=start, end=end, step=1)  # noqa: E731
        assert list(spec.structured_calendar) == [
            StructuredCalendarSpec(
                second=[r(0, 0)],
                minute=[r(30, 30)],
                hour=[r(9, 9)],
                day_of_month=[r(1, 31)],
                month=[r(1, 12)],
                day_of_week=[r(1, 5)],
            )
        ]
        (cal,) = d.schedule.spec.calendars
        assert cal.minute == (ScheduleRange(30, 30, 1),)
        assert cal.day_of_week == (ScheduleRange(1, 5, 1),)
        future = d.info.next_action_times
        assert len(future) == 10
        for t in future:
            assert (t.hour, t.minute, t.second) == (9, 30, 0) and t.weekday() < 5, t


async def test_update_replaces_the_spec_and_action_and_a_stale_update_is_not_applied(client):
    sid = schedule_id("sched-update")
    hour = timedelta(hours=1)
    handle = await client.create_schedule(
        sid,
        Schedule(
            action=start_action("ScheduledEcho", sid, f"sched-{sid}"),
            spec=every(hour),
            state=ScheduleState(paused=True, note="v1"),
        ),
    )
    async with deleted_after(handle):
        d0 = await handle.describe()
        stale_token = d0.raw_description.conflict_token

        def to_v2(inp: ScheduleUpdateInput) -> ScheduleUpdate:
            s = inp.description.schedule
            assert isinstance(s.action, ScheduleActionStartWorkflow)
            s.action.workflow = "ScheduledBlocker"
            s.spec = every(2 * hour)
            s.state.note = "v2"
            return ScheduleUpdate(schedule=s)

        await handle.update(to_v2)
        d = await describe_until(handle, lambda d: d.schedule.state.note == "v2", "the update")
        assert d.schedule.spec.intervals == [ScheduleIntervalSpec(every=2 * hour)]
        assert d.schedule.action.workflow == "ScheduledBlocker"
        assert d.schedule.state.paused
        assert d.info.last_updated_at is not None and d.info.last_updated_at >= d.info.created_at
        assert d.raw_description.conflict_token != stale_token
        for t in d.info.next_action_times:
            assert t.timestamp() % 7200 == 0, t

        # An update carrying the token read before the last update must not be applied: Temporal's
        # workflow-backed scheduler drops it after answering OK (its newer CHASM scheduler refuses
        # it with FailedPrecondition); either way the schedule keeps v2.
        stale = d0.raw_description.schedule
        stale_schedule = ScheduleProto()
        stale_schedule.CopyFrom(stale)
        stale_schedule.spec.CopyFrom(
            ScheduleSpecProto(interval=[every(3 * hour).intervals[0]._to_proto()])
        )
        stale_schedule.state.notes = "stale"
        try:
            await client.workflow_service.update_schedule(
                UpdateScheduleRequest(
                    namespace=NAMESPACE,
                    schedule_id=sid,
                    schedule=stale_schedule,
                    conflict_token=stale_token,
                    request_id=f"stale-{sid}",
                ),
                timeout=RPC_TIMEOUT,
            )
        except RPCError as e:
            assert e.status == RPCStatusCode.FAILED_PRECONDITION, e
        # Updates are applied in order: once a later update is visible, the stale one had its turn.
        await handle.update(lambda inp: ScheduleUpdate(
            schedule=dataclasses.replace(
                inp.description.schedule,
                state=dataclasses.replace(inp.description.schedule.state, note="v3"),
            )
        ))
        d = await describe_until(handle, lambda d: d.schedule.state.note == "v3", "the v3 update")
        assert d.schedule.spec.intervals == [ScheduleIntervalSpec(every=2 * hour)]


async def test_list_schedules_shows_every_created_schedule(client):
    prefix = schedule_id("sched-list")
    ids = [f"{prefix}-{i}" for i in range(3)]
    handles = []
    for i, sid in enumerate(ids):
        handles.append(
            await client.create_schedule(
                sid,
                Schedule(
                    action=start_action("ScheduledEcho", sid, f"sched-{sid}"),
                    spec=every(timedelta(hours=1)),
                    state=ScheduleState(paused=True, note=f"note {i}"),
                ),
            )
        )
    try:
        # The dev server's list is read from visibility, which is eventually consistent.
        async def listed():
            found = {}
            # One per page: the SDK follows next_page_token through every page.
            async for s in await client.list_schedules(page_size=1):
                if s.id in ids:
                    found[s.id] = s
            return found if len(found) == len(ids) else None

        found = await wait_until(listed, SLOTS_S, "all three schedules listed")
        for i, sid in enumerate(ids):
            entry = found[sid].schedule
            assert entry is not None
            assert entry.action.workflow == "ScheduledEcho"
            assert entry.spec.intervals == [ScheduleIntervalSpec(every=timedelta(hours=1))]
            assert entry.state.paused and entry.state.note == f"note {i}"
    finally:
        for h in handles:
            await h.delete()


async def test_delete_then_describe_is_not_found(client):
    sid = schedule_id("sched-delete")
    handle = await client.create_schedule(
        sid,
        Schedule(
            action=start_action("ScheduledEcho", sid, f"sched-{sid}"),
            spec=every(timedelta(hours=1)),
        ),
    )
    await handle.describe()
    await handle.delete()
    async def gone():
        try:
            await handle.describe()
            return False
        except RPCError as e:
            assert e.status == RPCStatusCode.NOT_FOUND, e
            return True
    await wait_until(gone, 10, "the deleted schedule to be gone")
    with pytest.raises(RPCError) as err:
        await handle.delete()
    assert err.value.status == RPCStatusCode.NOT_FOUND


# ---- ListScheduleMatchingTimes -------------------------------------------------------------


def ts(t) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(t)
    return out


async def test_list_schedule_matching_times_over_a_window(client):
    sid = schedule_id("sched-matching")
    minute = timedelta(minutes=1)
    handle = await client.create_schedule(
        sid,
        Schedule(
            action=start_action("ScheduledEcho", sid, f"sched-{sid}"),
            spec=every(10 * minute, offset=3 * minute),
            state=ScheduleState(paused=True),
        ),
    )
    async with deleted_after(handle):
        base = floor_to(now_utc(), timedelta(hours=1)) + timedelta(hours=2)
        # The window's start (03) and end (43) are both slots: the start is exclusive and the end
        # inclusive (unlike a backfill, whose start Temporal makes inclusive).
        start, end = base + 3 * minute, base + 43 * minute
        resp = await client.workflow_service.list_schedule_matching_times(
            ListScheduleMatchingTimesRequest(
                namespace=NAMESPACE, schedule_id=sid, start_time=ts(start), end_time=ts(end)
            ),
            timeout=RPC_TIMEOUT,
        )
        got = [t.ToDatetime().replace(tzinfo=start.tzinfo) for t in resp.start_time]
        expected = [base + (13 + 10 * i) * minute for i in range(4)]
        assert got == expected


# ---- bad input -------------------------------------------------------------------------------


async def test_creating_an_existing_schedule_id_is_already_exists(client):
    sid = schedule_id("sched-dup")
    schedule = Schedule(
        action=start_action("ScheduledEcho", sid, f"sched-{sid}"),
        spec=every(timedelta(hours=1)),
        state=ScheduleState(paused=True),
    )
    handle = await client.create_schedule(sid, schedule)
    async with deleted_after(handle):
        with pytest.raises(ScheduleAlreadyRunningError):
            await client.create_schedule(sid, schedule)
        with pytest.raises(RPCError) as err:
            await client.workflow_service.create_schedule(
                CreateScheduleRequest(
                    namespace=NAMESPACE,
                    schedule_id=sid,
                    schedule=await schedule._to_proto(client),
                    request_id=f"dup-{sid}",
                ),
                timeout=RPC_TIMEOUT,
            )
        assert err.value.status == RPCStatusCode.ALREADY_EXISTS
        assert err.value.message == f'schedule "{sid}" is already registered'


async def test_describe_of_an_unknown_schedule_is_not_found(client):
    sid = schedule_id("sched-unknown")
    with pytest.raises(RPCError) as err:
        await client.workflow_service.describe_schedule(
            DescribeScheduleRequest(namespace=NAMESPACE, schedule_id=sid),
            timeout=RPC_TIMEOUT,
        )
    assert err.value.status == RPCStatusCode.NOT_FOUND
    # The workflow-backed scheduler (the dev server) names its internal workflow; Temporal's
    # CHASM scheduler answers "schedule not found". Either is Temporal's answer.
    assert err.value.message in (
        "schedule not found",
        f"workflow not found for ID: temporal-sys-scheduler:{sid}",
    ), err.value.message


def _interval(every: timedelta, offset: timedelta | None = None) -> ScheduleSpec:
    return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every, offset=offset)])


@pytest.mark.parametrize(
    "spec,message",
    [
        (ScheduleSpec(cron_expressions=["not a cron"]), "CronString does not have 5-7 fields"),
        (ScheduleSpec(cron_expressions=["61 * * * *"]), "Minute is not in range [0-59]"),
        (
            ScheduleSpec(
                intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))],
                time_zone_name="Mars/Olympus_Mons",
            ),
            "unknown time zone Mars/Olympus_Mons",
        ),
        (_interval(timedelta(0)), "interval is too small"),
        (_interval(timedelta(milliseconds=500)), "interval is too small"),
        (_interval(timedelta(hours=1), timedelta(hours=2)), "phase cannot be greater than Interval"),
    ],
    ids=[
        "garbage-cron",
        "minute-61",
        "unknown-time-zone",
        "zero-interval",
        "sub-second-interval",
        "phase-past-interval",
    ],
)
async def test_invalid_specs_are_invalid_argument(client, spec, message):
    sid = schedule_id("sched-bad")
    with pytest.raises(RPCError) as err:
        await client.create_schedule(
            sid,
            Schedule(action=start_action("ScheduledEcho", sid, f"sched-{sid}"), spec=spec),
        )
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert err.value.message == f"Invalid schedule spec: {message}"
    with pytest.raises(RPCError) as err:
        await client.get_schedule_handle(sid).describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND


def _bad_action(change) -> Callable[[str], ScheduleProto]:
    """A schedule whose start-workflow action ``change`` spoils."""

    def build(sid: str) -> ScheduleProto:
        hourly = every(timedelta(hours=1)).intervals[0]._to_proto()
        proto = ScheduleProto(spec=ScheduleSpecProto(interval=[hourly]))
        start = proto.action.start_workflow
        start.workflow_id = f"{sid}-wf"
        start.workflow_type.name = "ScheduledEcho"
        start.task_queue.name = f"sched-{sid}"
        change(start)
        return proto

    return build


@pytest.mark.parametrize(
    "build,message",
    [
        (_bad_action(lambda s: s.ClearField("workflow_type")), "WorkflowType is not set on request."),
        (_bad_action(lambda s: s.task_queue.ClearField("name")), "missing task queue name"),
        (
            _bad_action(lambda s: setattr(s, "cron_schedule", "* * * * *")),
            "Scheduled workflow must not contain CronSchedule",
        ),
        # Only ALLOW_DUPLICATE (or unset) is allowed; 3 is REJECT_DUPLICATE.
        (
            _bad_action(lambda s: setattr(s, "workflow_id_reuse_policy", 3)),
            "Scheduled workflow must not contain WorkflowIDReusePolicy",
        ),
        # The id is checked with a timestamp appended (21 more characters), as a run's id would be.
        (
            _bad_action(lambda s: setattr(s, "workflow_id", "x" * 1000)),
            "WorkflowId exceeds maximum allowed length (1021/1000)",
        ),
    ],
    ids=["no-workflow-type", "no-task-queue", "cron-in-action", "reuse-policy", "long-workflow-id"],
)
async def test_invalid_actions_are_invalid_argument(client, build, message):
    sid = schedule_id("sched-bad-action")
    with pytest.raises(RPCError) as err:
        await client.workflow_service.create_schedule(
            CreateScheduleRequest(
                namespace=NAMESPACE, schedule_id=sid, schedule=build(sid), request_id=f"bad-{sid}"
            ),
            timeout=RPC_TIMEOUT,
        )
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert err.value.message == message


async def test_list_schedules_with_a_query_on_paused(client):
    prefix = schedule_id("sched-list-query")
    paused, running = f"{prefix}-paused", f"{prefix}-running"
    handles = []
    for sid, is_paused in ((paused, True), (running, False)):
        handles.append(
            await client.create_schedule(
                sid,
                Schedule(
                    action=start_action("ScheduledEcho", sid, f"sched-{sid}"),
                    spec=every(timedelta(hours=1)),
                    state=ScheduleState(paused=is_paused),
                ),
            )
        )
    try:

        async def listed():
            found = [
                s.id
                async for s in await client.list_schedules(query="TemporalSchedulePaused = true")
                if s.id.startswith(prefix)
            ]
            return found if found == [paused] else None

        await wait_until(listed, SLOTS_S, "only the paused schedule listed by the query")
    finally:
        for h in handles:
            await h.delete()


async def test_operations_on_an_unknown_schedule_are_not_found(client):
    sid = schedule_id("sched-nobody")
    handle = client.get_schedule_handle(sid)
    now = now_utc()
    valid = Schedule(
        action=start_action("ScheduledEcho", sid, f"sched-{sid}"), spec=every(timedelta(hours=1))
    )
    valid_proto = await valid._to_proto(client)
    calls = {
        "delete": lambda: handle.delete(),
        "pause": lambda: handle.pause(note="x"),
        "unpause": lambda: handle.unpause(note="x"),
        "trigger": lambda: handle.trigger(),
        "backfill": lambda: handle.backfill(
            ScheduleBackfill(start_at=now - timedelta(hours=2), end_at=now)
        ),
        "update": lambda: client.workflow_service.update_schedule(
            UpdateScheduleRequest(
                namespace=NAMESPACE,
                schedule_id=sid,
                schedule=valid_proto,
                request_id=f"update-{sid}",
            ),
            timeout=RPC_TIMEOUT,
        ),
        "matching-times": lambda: client.workflow_service.list_schedule_matching_times(
            ListScheduleMatchingTimesRequest(
                namespace=NAMESPACE,
                schedule_id=sid,
                start_time=ts(now),
                end_time=ts(now + timedelta(hours=3)),
            ),
            timeout=RPC_TIMEOUT,
        ),
    }
    for name, call in calls.items():
        with pytest.raises(RPCError) as err:
            await call()
        assert err.value.status == RPCStatusCode.NOT_FOUND, (name, err.value)
        # Same two Temporal answers as describe (see test_describe_of_an_unknown_schedule...).
        assert err.value.message in (
            "schedule not found",
            f"workflow not found for ID: temporal-sys-scheduler:{sid}",
        ), (name, err.value.message)


@pytest.mark.parametrize("sid", ["", "s" * 1001], ids=["empty", "too-long"])
async def test_bad_schedule_ids_are_invalid_argument(client, sid):
    # Temporal's messages here name its scheduler workflow ("WorkflowId not set", a length that
    # counts its "temporal-sys-scheduler:" prefix), so only the status is asserted.
    with pytest.raises(RPCError) as err:
        await client.create_schedule(
            sid,
            Schedule(action=start_action("ScheduledEcho", "x", "sched-x"), spec=every(ONE_S)),
        )
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT, err.value


async def test_matching_times_of_a_reversed_window_are_empty(client):
    sid = schedule_id("sched-matching-reversed")
    handle = await client.create_schedule(
        sid,
        Schedule(
            action=start_action("ScheduledEcho", sid, f"sched-{sid}"),
            spec=every(timedelta(minutes=1)),
            state=ScheduleState(paused=True),
        ),
    )
    async with deleted_after(handle):
        now = now_utc()
        resp = await client.workflow_service.list_schedule_matching_times(
            ListScheduleMatchingTimesRequest(
                namespace=NAMESPACE,
                schedule_id=sid,
                start_time=ts(now + timedelta(hours=3)),
                end_time=ts(now),
            ),
            timeout=RPC_TIMEOUT,
        )
        assert list(resp.start_time) == []


# ---- durability ------------------------------------------------------------------------------


@pytest.mark.crash
async def test_a_schedule_runs_every_slot_once_across_a_server_crash():
    """SIGKILL the server while an ALLOW_ALL schedule runs, restart it on the same data: the
    slots missed while it was down are caught up (the default catch-up window is a year) and
    no slot is run twice. Runs against perdure only, like test_crash.py, unless
    PERDURE_CRASH_ON_TEMPORAL is set (validated on Temporal's dev server that way)."""
    if server_kind() != "perdure" and not os.environ.get("PERDURE_CRASH_ON_TEMPORAL"):
        pytest.skip("crash test runs against perdure only")
    srv = ServerUnderTest()
    try:
        client = await srv.start()
        sid = schedule_id("sched-crash")
        async with schedule_worker(client) as w:
            handle = await client.create_schedule(
                sid,
                Schedule(
                    action=start_action("ScheduledEcho", sid, w.task_queue),
                    spec=every(ONE_S),
                    policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
                ),
            )
            d = await describe_until(handle, lambda d: d.info.num_actions >= 2, "two runs")
            first = d.info.recent_actions[0].scheduled_at
            srv.kill()
            await quiet_window(QUIET_S)  # down for at least two slots
            await srv.start()
            restarted = now_utc()
            # The worker and client reconnect by themselves.
            await describe_until(
                handle,
                lambda d: d.info.recent_actions[-1].scheduled_at > restarted + ONE_S,
                "runs after the restart",
                timeout_s=60,
            )
            await handle.pause(note="count")
            d = await describe_until(handle, lambda d: d.schedule.state.paused, "paused", 10)
            last = max(a.scheduled_at for a in d.info.recent_actions)
            slots = int((last - first) / ONE_S) + 1
            assert d.info.num_actions == slots
            assert d.info.num_actions_missed_catchup_window == 0
            for i in range(slots):
                wid = scheduled_workflow_id(f"{sid}-wf", first + i * ONE_S)
                result = await client.get_workflow_handle(wid).result()
                assert result["scheduledById"] == sid
            await handle.delete()
    except BaseException:
        print(srv.log_tail(80))
        raise
    finally:
        srv.stop(remove=not os.environ.get("PERDURE_KEEP_DATA"))


@pytest.mark.crash
async def test_slots_older_than_the_catchup_window_are_missed_after_a_crash():
    """Down for longer than the catch-up window (10 s, Temporal's minimum): on restart each slot
    of the downtime is either run (if within the window of the moment the scheduler looks) or
    counted as missed; nothing is lost and nothing is doubled. Perdure only, like the test
    above, unless PERDURE_CRASH_ON_TEMPORAL is set."""
    if server_kind() != "perdure" and not os.environ.get("PERDURE_CRASH_ON_TEMPORAL"):
        pytest.skip("crash test runs against perdure only")
    srv = ServerUnderTest()
    try:
        client = await srv.start()
        sid = schedule_id("sched-catchup")
        async with schedule_worker(client) as w:
            handle = await client.create_schedule(
                sid,
                Schedule(
                    action=start_action("ScheduledEcho", sid, w.task_queue),
                    spec=every(ONE_S),
                    policy=SchedulePolicy(
                        overlap=ScheduleOverlapPolicy.ALLOW_ALL,
                        catchup_window=timedelta(seconds=10),
                    ),
                ),
            )
            d = await describe_until(handle, lambda d: d.info.num_actions >= 2, "two runs")
            first = d.info.recent_actions[0].scheduled_at
            srv.kill()
            await quiet_window(13)  # longer than the catch-up window
            await srv.start()
            restarted = now_utc()
            await describe_until(
                handle,
                lambda d: d.info.recent_actions[-1].scheduled_at > restarted + ONE_S,
                "runs after the restart",
                timeout_s=60,
            )
            await handle.pause(note="count")
            d = await describe_until(handle, lambda d: d.schedule.state.paused, "paused", 10)
            last = max(a.scheduled_at for a in d.info.recent_actions)
            slots = int((last - first) / ONE_S) + 1
            missed = d.info.num_actions_missed_catchup_window
            assert missed >= 1
            assert d.info.num_actions + missed == slots
            await handle.delete()
    except BaseException:
        print(srv.log_tail(80))
        raise
    finally:
        srv.stop(remove=not os.environ.get("PERDURE_KEEP_DATA"))
