"""ListSchedules' and CountSchedules' query as Temporal validates it for schedules: ScheduleId
and TemporalSchedulePaused may be named, other system and Temporal attributes are refused with
Temporal's message, and a count takes no GROUP BY."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.api.workflowservice.v1 import CountSchedulesRequest
from temporalio.service import RPCError, RPCStatusCode

from harness import NAMESPACE
from rpc import RPC_TIMEOUT

from schedules import SLOTS_S, schedule_id
from waiting import wait_until


async def test_schedule_id_filters_and_reserved_fields_are_refused(client: Client):
    prefix = schedule_id("sched-lq")
    ids = [f"{prefix}-a", f"{prefix}-b"]
    handles = [
        await client.create_schedule(
            sid,
            Schedule(
                action=ScheduleActionStartWorkflow("T", id=f"{sid}-wf", task_queue=f"q-{sid}"),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
                state=ScheduleState(paused=True),
            ),
        )
        for sid in ids
    ]
    try:

        async def listed(query: str, want: int = 1):
            found = sorted([s.id async for s in await client.list_schedules(query=query)])
            return found if len(found) >= want else None

        # Visibility is eventually consistent on the dev server: wait for the rows.
        assert await wait_until(lambda: listed(f"ScheduleId = '{ids[1]}'"), SLOTS_S, "by id") == [ids[1]]
        got = await wait_until(
            lambda: listed(f"ScheduleId STARTS_WITH '{prefix}' AND TemporalSchedulePaused = true", 2),
            SLOTS_S,
            "by prefix",
        )
        assert got == ids
        for field, value in (
            ("WorkflowType", "x"),
            ("ExecutionStatus", "Running"),
            ("TemporalScheduledById", "x"),
        ):
            with pytest.raises(RPCError) as err:
                [s async for s in await client.list_schedules(query=f"{field} = '{value}'")]
            assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
            assert err.value.message == (
                f'invalid query filter for schedules: cannot filter on "{field}"'
            )
    finally:
        for h in handles:
            await h.delete()


async def test_count_schedules(client: Client):
    prefix = schedule_id("sched-count")
    ids = [f"{prefix}-{n}" for n in range(3)]
    handles = [
        await client.create_schedule(
            sid,
            Schedule(
                action=ScheduleActionStartWorkflow("T", id=f"{sid}-wf", task_queue=f"q-{sid}"),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
                state=ScheduleState(paused=(n == 0)),
            ),
        )
        for n, sid in enumerate(ids)
    ]

    async def count(query: str) -> int:
        got = await client.workflow_service.count_schedules(
            CountSchedulesRequest(namespace=NAMESPACE, query=query), timeout=RPC_TIMEOUT
        )
        assert not got.groups
        return got.count

    try:
        mine = f"ScheduleId STARTS_WITH '{prefix}'"
        # Visibility is eventually consistent on the dev server: wait for the rows.
        assert await wait_until(lambda: _equals(count(mine), 3), SLOTS_S, "all three counted")
        assert await count(f"{mine} AND TemporalSchedulePaused = true") == 1
        assert await count(f"{mine} AND TemporalSchedulePaused = false") == 2
        assert await count(f"ScheduleId = '{prefix}-missing'") == 0
        for query, message in (
            (
                "GROUP BY TemporalSchedulePaused",
                "invalid query: operation is not supported: 'GROUP BY' clause is not supported "
                "for search attribute TemporalSchedulePaused",
            ),
            (
                "GROUP BY ExecutionStatus",
                'invalid query filter for schedules: cannot filter on "ExecutionStatus"',
            ),
        ):
            with pytest.raises(RPCError) as err:
                await count(query)
            assert (err.value.status, err.value.message) == (
                RPCStatusCode.INVALID_ARGUMENT, message
            )
    finally:
        for h in handles:
            await h.delete()


async def _equals(value, want) -> bool:
    return await value == want
