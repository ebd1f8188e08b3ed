"""A schedule call repeated with the same request id is applied once: CreateSchedule answers
the first call's conflict token again, and a second PatchSchedule with the request id of the
first is acknowledged and dropped (Temporal turns a patch into a signal, which it dedups)."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.schedule.v1 import (
    IntervalSpec,
    Schedule,
    ScheduleAction,
    SchedulePatch,
    ScheduleSpec,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import NewWorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    CreateScheduleRequest,
    DeleteScheduleRequest,
    DescribeScheduleRequest,
    PatchScheduleRequest,
)
from temporalio.client import Client

from harness import NAMESPACE
from rpc import RPC_TIMEOUT
from schedules import schedule_id


async def test_a_repeated_request_id_is_applied_once(client: Client):
    sid = schedule_id("sched-dedup")
    svc = client.workflow_service
    create = CreateScheduleRequest(
        namespace=NAMESPACE,
        schedule_id=sid,
        request_id=f"create-{sid}",
        schedule=Schedule(
            spec=ScheduleSpec(interval=[IntervalSpec(interval=Duration(seconds=3600))]),
            action=ScheduleAction(
                start_workflow=NewWorkflowExecutionInfo(
                    workflow_id=f"{sid}-wf",
                    workflow_type=WorkflowType(name="T"),
                    task_queue=TaskQueue(name=f"q-{sid}"),
                )
            ),
        ),
    )
    first = await svc.create_schedule(create, timeout=RPC_TIMEOUT)
    again = await svc.create_schedule(create, timeout=RPC_TIMEOUT)
    assert again.conflict_token == first.conflict_token
    try:
        for note in ("first", "second"):
            await svc.patch_schedule(
                PatchScheduleRequest(
                    namespace=NAMESPACE,
                    schedule_id=sid,
                    request_id=f"pause-{sid}",
                    patch=SchedulePatch(pause=note),
                ),
                timeout=RPC_TIMEOUT,
            )
        d = await svc.describe_schedule(
            DescribeScheduleRequest(namespace=NAMESPACE, schedule_id=sid), timeout=RPC_TIMEOUT
        )
        assert d.schedule.state.paused and d.schedule.state.notes == "first"
        # One applied patch: the token moved from 1 to 2, not 3.
        assert int.from_bytes(d.conflict_token, "big") == 2
    finally:
        await svc.delete_schedule(
            DeleteScheduleRequest(namespace=NAMESPACE, schedule_id=sid), timeout=RPC_TIMEOUT
        )
