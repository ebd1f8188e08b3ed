"""Sticky task queues, as the Python SDK uses them: after its first workflow task a caching
worker asks for its own queue, a worker that shuts down hands its runs back at once, and a
worker without a cache never asks for stickiness.

Each expectation was checked against Temporal's dev server (PERDURE_TEST_SERVER=temporal); the
history of the hand-over scenario is the golden golden/sticky_worker_shutdown.json.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import (
    Command,
    CompleteWorkflowExecutionCommandAttributes,
    StartTimerCommandAttributes,
)
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import CommandType, TaskQueueKind
from temporalio.api.taskqueue.v1 import StickyExecutionAttributes, TaskQueue
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    PollWorkflowTaskQueueRequest,
    RespondWorkflowTaskCompletedRequest,
    ResetStickyTaskQueueRequest,
    ShutdownWorkerRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

import workflows
from activities import Activities
from harness import NAMESPACE
from history import assert_contiguous_ids, events_of, load_golden, of_type, type_names
from scenarios import SHUTDOWN_TIMER_S, sticky_worker_shutdown

RESULT_TIMEOUT_S = 60
#: The Python SDK's default sticky schedule-to-start timeout: a hand-over that waited for it
#: instead of happening at once would take at least this long.
SDK_STICKY_SCHEDULE_TO_START_S = 10.0
STICKY = TaskQueueKind.TASK_QUEUE_KIND_STICKY
NORMAL = TaskQueueKind.TASK_QUEUE_KIND_NORMAL


def scheduled_queues(events) -> list[TaskQueue]:
    return [
        e.workflow_task_scheduled_event_attributes.task_queue
        for e in of_type(events, "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED")
    ]


def started_identities(events) -> list[str]:
    return [
        e.workflow_task_started_event_attributes.identity
        for e in of_type(events, "EVENT_TYPE_WORKFLOW_TASK_STARTED")
    ]


async def test_tasks_after_the_first_go_to_the_workers_sticky_queue(client, worker, wf_id):
    handle = await client.start_workflow(
        workflows.SequentialActivities.run, 3, id=wf_id, task_queue=worker.task_queue
    )
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == 3
    events = await events_of(handle)
    assert_contiguous_ids(events)

    first, *rest = scheduled_queues(events)
    assert (first.name, first.kind) == (worker.task_queue, NORMAL)
    assert len(rest) == 3
    sticky_names = {q.name for q in rest}
    assert len(sticky_names) == 1, f"one worker, one sticky queue: {sticky_names}"
    for q in rest:
        assert q.kind == STICKY
        assert q.normal_name == worker.task_queue
        assert q.name and q.name != worker.task_queue
    assert all(
        e.workflow_task_scheduled_event_attributes.attempt == 1
        for e in of_type(events, "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED")
    )
    assert not of_type(events, "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT")


async def test_run_moves_to_another_worker_at_once_when_its_worker_shuts_down(client, wf_id):
    started = time.monotonic()
    handle = await sticky_worker_shutdown(client, f"e2e-{uuid.uuid4()}", wf_id)
    elapsed = time.monotonic() - started
    # Worker B got the task as soon as the timer fired, not after the sticky timeout.
    assert elapsed < SHUTDOWN_TIMER_S + SDK_STICKY_SCHEDULE_TO_START_S - 1, elapsed

    events = await events_of(handle)
    assert_contiguous_ids(events)
    assert type_names(events) == load_golden("sticky_worker_shutdown")
    # The task after the timer was scheduled for A's sticky queue (that is what Temporal
    # writes too) and started by B from the normal queue.
    first, second = scheduled_queues(events)
    assert first.kind == NORMAL
    assert (second.kind, second.normal_name) == (STICKY, first.name)
    assert started_identities(events) == ["A", "B"]


async def test_worker_without_a_cache_never_asks_for_stickiness(client, wf_id):
    task_queue = f"e2e-{uuid.uuid4()}"
    acts = Activities()
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=workflows.ALL,
        activities=acts.all(),
        max_cached_workflows=0,
    ):
        handles = [
            await client.start_workflow(
                workflows.SequentialActivities.run,
                2,
                id=f"{wf_id}-{i}",
                task_queue=task_queue,
            )
            for i in range(3)
        ]
        results = await asyncio.wait_for(
            asyncio.gather(*(h.result() for h in handles)), RESULT_TIMEOUT_S
        )
    assert results == [2, 2, 2]
    for handle in handles:
        events = await events_of(handle)
        assert_contiguous_ids(events)
        queues = scheduled_queues(events)
        assert len(queues) == 3
        assert all((q.name, q.kind) == (task_queue, NORMAL) for q in queues)


# --- the same rules driven through the raw API, as a worker would ---------------------------


def _sticky(name: str, normal: str) -> TaskQueue:
    return TaskQueue(name=name, kind=STICKY, normal_name=normal)


def _timer(seconds: int) -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_START_TIMER,
        start_timer_command_attributes=StartTimerCommandAttributes(
            timer_id="t", start_to_fire_timeout=Duration(seconds=seconds)
        ),
    )


def _complete() -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
        complete_workflow_execution_command_attributes=CompleteWorkflowExecutionCommandAttributes(),
    )


class RawWorker:
    """A hand-driven worker: each call is one RPC, bounded by its own timeout."""

    def __init__(self, client, task_queue: str, identity: str) -> None:
        self.svc = client.workflow_service
        self.task_queue = task_queue
        self.identity = identity

    async def start(self, workflow_id: str) -> None:
        await self.svc.start_workflow_execution(
            StartWorkflowExecutionRequest(
                namespace=NAMESPACE,
                workflow_id=workflow_id,
                workflow_type=WorkflowType(name="Raw"),
                task_queue=TaskQueue(name=self.task_queue),
                request_id=str(uuid.uuid4()),
            ),
            timeout=timedelta(seconds=10),
        )

    async def poll(self, queue: TaskQueue, timeout_s: float = 30):
        return await self.svc.poll_workflow_task_queue(
            PollWorkflowTaskQueueRequest(
                namespace=NAMESPACE, task_queue=queue, identity=self.identity
            ),
            timeout=timedelta(seconds=timeout_s),
        )

    async def complete(
        self, token: bytes, commands, sticky: TaskQueue | None = None, sticky_timeout_s: int = 4
    ) -> None:
        attrs = None
        if sticky is not None:
            attrs = StickyExecutionAttributes(
                worker_task_queue=sticky,
                schedule_to_start_timeout=Duration(seconds=sticky_timeout_s),
            )
        await self.svc.respond_workflow_task_completed(
            RespondWorkflowTaskCompletedRequest(
                namespace=NAMESPACE,
                task_token=token,
                identity=self.identity,
                commands=commands,
                sticky_attributes=attrs,
            ),
            timeout=timedelta(seconds=10),
        )

    async def history(self, workflow_id: str):
        response = await self.svc.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=workflow_id)
            ),
            timeout=timedelta(seconds=10),
        )
        return list(response.history.events)


async def test_reset_sticky_task_queue_sends_full_history_to_the_normal_queue(client, wf_id):
    worker = RawWorker(client, f"raw-{uuid.uuid4()}", "raw")
    normal = TaskQueue(name=worker.task_queue, kind=NORMAL)
    await worker.start(wf_id)
    task = await worker.poll(normal)
    await worker.complete(task.task_token, [_timer(1)], _sticky(f"{wf_id}-sticky", normal.name))
    await client.workflow_service.reset_sticky_task_queue(
        ResetStickyTaskQueueRequest(
            namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=wf_id)
        ),
        timeout=timedelta(seconds=10),
    )
    # The task after the timer goes to the normal queue, with the whole history.
    task = await worker.poll(normal)
    assert task.started_event_id == 8
    assert [e.event_id for e in task.history.events][0] == 1
    await worker.complete(task.task_token, [_complete()])
    events = await worker.history(wf_id)
    queues = scheduled_queues(events)
    assert [q.kind for q in queues] == [NORMAL, NORMAL]
    assert not of_type(events, "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT")

    # A closed run and an unknown one are both NotFound.
    for workflow_id in (wf_id, f"{wf_id}-missing"):
        try:
            await client.workflow_service.reset_sticky_task_queue(
                ResetStickyTaskQueueRequest(
                    namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=workflow_id)
                ),
                timeout=timedelta(seconds=10),
            )
        except RPCError as e:
            assert e.status == RPCStatusCode.NOT_FOUND, e
        else:
            raise AssertionError(f"ResetStickyTaskQueue on {workflow_id} did not fail")


async def test_shutdown_worker_and_a_task_waiting_on_its_sticky_queue(client, wf_id):
    """A task already queued on a worker's sticky queue when that worker calls ShutdownWorker.

    It stays there until the sticky schedule-to-start timeout moves it (WorkflowTaskTimedOut
    {SCHEDULE_TO_START}, then a new WorkflowTaskScheduled on the normal queue), as Temporal's dev
    server does.
    """
    worker = RawWorker(client, f"raw-{uuid.uuid4()}", "A")
    normal = TaskQueue(name=worker.task_queue, kind=NORMAL)
    sticky = _sticky(f"{wf_id}-sticky", normal.name)
    await worker.start(wf_id)
    task = await worker.poll(normal)
    await worker.complete(task.task_token, [_timer(3)], sticky)
    # One empty sticky poll marks the worker as alive, so the task after the timer waits on the
    # sticky queue instead of falling back to the normal one.
    empty = await worker.poll(sticky, timeout_s=3)
    assert not empty.task_token
    deadline = time.monotonic() + 30
    while len(of_type(await worker.history(wf_id), "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED")) < 2:
        assert time.monotonic() < deadline, "timer never fired"
        await asyncio.sleep(0.05)
    # The task is on A's sticky queue: a normal poller does not get it.
    nothing = await worker.poll(normal, timeout_s=2.5)
    assert not nothing.task_token, "the task should be waiting on the sticky queue"
    shutdown_at = time.monotonic()
    await client.workflow_service.shutdown_worker(
        ShutdownWorkerRequest(namespace=NAMESPACE, sticky_task_queue=sticky.name, identity="A"),
        timeout=timedelta(seconds=10),
    )
    b = RawWorker(client, worker.task_queue, "B")
    task = await b.poll(normal)
    waited = time.monotonic() - shutdown_at
    assert [e.event_id for e in task.history.events][0] == 1, "B has no cache: full history"
    await b.complete(task.task_token, [_complete()])
    events = await worker.history(wf_id)
    assert_contiguous_ids(events)
    head = [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_TIMER_STARTED",
        "EVENT_TYPE_TIMER_FIRED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    ]
    tail = [
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
    ]
    timed_out = ["EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT", "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED"]
    assert type_names(events) == head + timed_out + tail
    assert waited > 0.5, "the task waits for its schedule-to-start timeout"
    assert started_identities(events) == ["A", "B"]
