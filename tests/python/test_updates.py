"""Workflow updates: UpdateWorkflowExecution, PollWorkflowExecutionUpdate and update-with-start
(ExecuteMultiOperation) as the Python SDK and the raw API use them, and the update protocol
messages a worker exchanges with the server inside workflow tasks. Written against Temporal's dev
server (PERDURE_TEST_SERVER=temporal; temporal CLI 1.9.1, server 1.32.0) before Perdure had
updates; the codes, messages, event attributes and message shapes noted in the comments are what
it answered, so they are the specification the implementation follows.

What they show:
- an accepted update writes WorkflowExecutionUpdateAccepted and, once its handler returns,
  WorkflowExecutionUpdateCompleted, right after the WorkflowTaskCompleted of the task that
  carried them; the attributes (protocol instance id = update id, request message id
  "<update id>/request", sequencing event id, the request, accepted_event_id, outcome);
- the wait stages: ACCEPTED returns while the handler still runs, PollWorkflowExecutionUpdate
  waits for COMPLETED; what the raw responses hold at each stage (stage, outcome, link);
  ADMITTED is refused;
- a validator's rejection reaches the caller and writes no update event; the "speculative"
  workflow task that carried it is discarded (no task events either) unless something else
  needs the task: the SDK's own worker, a raw worker with and without the
  discard_speculative_workflow_task_with_events capability, a signal arriving during the task,
  a signal before the update, an update arriving while another task is in flight;
- one update per update id: a second request with the same id, in flight or after completion,
  gets the first one's outcome (its own arguments are ignored) and writes nothing;
- a handler that raises fails the update (outcome.failure), not the workflow;
- closed, unknown and badly formed targets and requests, with Temporal's codes and messages,
  and what closing a workflow does to its admitted and accepted updates;
- with no worker an update waits (admitted, in memory only) until the caller's deadline, and a
  worker that comes back later still runs it;
- the raw protocol: the Request message in PollWorkflowTaskQueueResponse.messages, the
  Acceptance / Response / Rejection messages and ProtocolMessage commands a worker answers
  with, and which event fields come from the worker and which from the server's record;
- update-with-start: a new workflow runs the update on its first task (no
  WorkflowExecutionUpdateAdmitted event is written), an existing one is updated
  (USE_EXISTING), FAIL is refused with a MultiOperationExecutionFailure.

Not covered here: updates through a follower node of a cluster, update limits
(history.maxInFlightUpdates, history.maxTotalUpdates), update headers and payload codecs,
updates on a workflow that continues as new or is reset, workflow task failures and timeouts
of a speculative task, the sticky-queue schedule-to-start timeout on its own (it shows only as
a delay in the no-worker test), the server's long-poll cap (observed, too slow to test: an
UpdateWorkflowExecution without a deadline and with nobody to run it is answered after 20 s
with stage ADMITTED, no outcome and no link, and the SDK sends it again), and the CLI
(test_cli.py has test_cli_update_execute).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest
from google.protobuf.any_pb2 import Any as AnyProto
from temporalio.api.command.v1 import Command, ProtocolMessageCommandAttributes
from temporalio.api.common.v1 import Payloads, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import (
    CommandType,
    EventType,
    TaskQueueKind,
    UpdateWorkflowExecutionLifecycleStage,
    WorkflowExecutionStatus,
    WorkflowIdConflictPolicy,
)
from temporalio.api.errordetails.v1 import (
    MultiOperationExecutionFailure,
    NamespaceNotFoundFailure,
    NotFoundFailure,
    PermissionDeniedFailure,
    WorkflowExecutionAlreadyStartedFailure,
)
from temporalio.api.failure.v1 import (
    ApplicationFailureInfo,
    Failure,
    MultiOperationExecutionAborted,
)
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.protocol.v1 import Message
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.update.v1 import (
    Acceptance,
    Input,
    Meta,
    Outcome,
    Rejection,
    Request,
    Response,
    UpdateRef,
    WaitPolicy,
)
from temporalio.api.workflowservice.v1 import (
    ExecuteMultiOperationRequest,
    PollWorkflowExecutionUpdateRequest,
    RespondWorkflowTaskCompletedRequest,
    RespondWorkflowTaskCompletedResponse,
    StartWorkflowExecutionRequest,
    UpdateWorkflowExecutionRequest,
    UpdateWorkflowExecutionResponse,
)
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

import workflows
from harness import NAMESPACE
from history import assert_contiguous_ids, events_of, of_type, type_names
from rpc import (
    ANSWER,
    RESULT_TIMEOUT_S,
    RPC_TIMEOUT,
    RawRun,
    assert_blocked,
    detail_is,
    finish,
    is_timeout,
    json_payloads,
)
from waiting import CONDITION_S
from workers import running_worker

U = workflows.Updatable
STAGE = UpdateWorkflowExecutionLifecycleStage
ADMITTED_STAGE = STAGE.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
ACCEPTED_STAGE = STAGE.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED
COMPLETED_STAGE = STAGE.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
UNSPECIFIED_STAGE = STAGE.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_UNSPECIFIED

STARTED = "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
WT_SCHEDULED = "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED"
WT_STARTED = "EVENT_TYPE_WORKFLOW_TASK_STARTED"
WT_COMPLETED = "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"
SIGNALED = "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"
ACCEPTED = "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"
COMPLETED = "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED"
ADMITTED = "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED"
TERMINATED = "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"
WF_COMPLETED = "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
FIRST_TASK = [STARTED, WT_SCHEDULED, WT_STARTED, WT_COMPLETED]
#: A workflow task that carried an accepted update whose handler returned at once.
UPDATE_TASK = [WT_SCHEDULED, WT_STARTED, WT_COMPLETED, ACCEPTED, COMPLETED]
REQUEST_TYPE_URL = "type.googleapis.com/temporal.api.update.v1.Request"


# ---- helpers -------------------------------------------------------------------------------


def datas(payloads: Payloads) -> list[bytes]:
    return [p.data for p in payloads.payloads]


def accepted_attrs(event: HistoryEvent):
    assert event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, event
    return event.workflow_execution_update_accepted_event_attributes


def completed_attrs(event: HistoryEvent):
    assert event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED, event
    return event.workflow_execution_update_completed_event_attributes


def update_trail(events: list[HistoryEvent]) -> list[tuple[str, str]]:
    """("accepted" | "completed", update id) of every update event, in history order."""
    out = []
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            out.append(("accepted", accepted_attrs(e).protocol_instance_id))
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            out.append(("completed", completed_attrs(e).meta.update_id))
    return out


def update_request(
    wf_id: str,
    update_id: str,
    name: str = "add",
    arg: str | None = '"v"',
    stage=COMPLETED_STAGE,
    run_id: str = "",
    namespace: str = NAMESPACE,
    first_execution_run_id: str = "",
    identity: str = "update client",
) -> UpdateWorkflowExecutionRequest:
    return UpdateWorkflowExecutionRequest(
        namespace=namespace,
        workflow_execution=WorkflowExecution(workflow_id=wf_id, run_id=run_id),
        first_execution_run_id=first_execution_run_id,
        request=Request(
            meta=Meta(update_id=update_id, identity=identity),
            input=Input(name=name, args=json_payloads(arg) if arg is not None else None),
        ),
        wait_policy=WaitPolicy(lifecycle_stage=stage),
    )


def poll_update_request(wf_id: str, update_id: str, stage=COMPLETED_STAGE):
    return PollWorkflowExecutionUpdateRequest(
        namespace=NAMESPACE,
        update_ref=UpdateRef(
            workflow_execution=WorkflowExecution(workflow_id=wf_id), update_id=update_id
        ),
        identity="update poller",
        wait_policy=WaitPolicy(lifecycle_stage=stage),
    )


async def wait_admitted(client: Client, wf_id: str, update_id: str) -> None:
    """Waits until the server knows the update (admitted or later): PollWorkflowExecutionUpdate
    with wait stage ADMITTED answers at once with the stage reached, and NOT_FOUND
    'update "<id>" not found' before the update request arrived."""
    deadline = time.monotonic() + CONDITION_S
    while True:
        try:
            await client.workflow_service.poll_workflow_execution_update(
                poll_update_request(wf_id, update_id, ADMITTED_STAGE), timeout=RPC_TIMEOUT
            )
            return
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.02)


def assert_link_to_accepted(resp, wf_id: str, run_id: str) -> None:
    """The link Temporal puts on the response of an accepted update: a workflow event link
    naming the run and, by reference, its WorkflowExecutionUpdateAccepted event (event type
    only, no event id or request id)."""
    link = resp.link
    assert link.WhichOneof("variant") == "workflow_event", resp
    we = link.workflow_event
    assert (we.namespace, we.workflow_id, we.run_id) == (NAMESPACE, wf_id, run_id)
    assert we.WhichOneof("reference") == "request_id_ref", resp
    assert we.request_id_ref.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    assert we.request_id_ref.request_id == ""


def assert_link_rejected(resp, wf_id: str, run_id: str) -> None:
    """A rejected update's response links to the run, with reason "Update rejected"."""
    assert resp.link.WhichOneof("variant") == "workflow", resp
    w = resp.link.workflow
    assert (w.namespace, w.workflow_id, w.run_id, w.reason) == (
        NAMESPACE,
        wf_id,
        run_id,
        "Update rejected",
    )


async def idle_updatable(client: Client, task_queue: str, wf_id: str, initial=("init",)):
    """An Updatable whose first workflow task completed (a query is answered only then), so the
    next update lands on an idle workflow."""
    handle = await client.start_workflow(U.run, list(initial), id=wf_id, task_queue=task_queue)
    assert await handle.query(U.values_so_far, rpc_timeout=ANSWER) == list(initial)
    return handle


# ---- the SDK's view ------------------------------------------------------------------------


async def test_an_update_changes_state_and_returns_its_result(client, worker, wf_id):
    handle = await idle_updatable(client, worker.task_queue, wf_id)
    assert await handle.execute_update(U.add, "x", id="add-1", rpc_timeout=ANSWER) == [
        "init",
        "x",
    ]
    # The handler changed the workflow's state.
    assert await handle.query(U.values_so_far, rpc_timeout=ANSWER) == ["init", "x"]

    events = await events_of(handle)
    assert_contiguous_ids(events)
    # The update reached the idle workflow on a (speculative) workflow task, which was written
    # once the worker accepted it: WorkflowTaskScheduled 5, Started 6, Completed 7, then the
    # update's events, right after the WorkflowTaskCompleted of the task that carried it.
    assert type_names(events) == FIRST_TASK + UPDATE_TASK
    scheduled, started, task_completed, accepted, completed = events[4:]
    # Temporal put the task on the worker's sticky queue.
    sched = scheduled.workflow_task_scheduled_event_attributes
    assert sched.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY
    assert sched.task_queue.normal_name == worker.task_queue
    assert sched.attempt == 1
    assert started.workflow_task_started_event_attributes.scheduled_event_id == 5
    tc = task_completed.workflow_task_completed_event_attributes
    assert (tc.scheduled_event_id, tc.started_event_id) == (5, 6)

    # Temporal: protocolInstanceId "add-1", acceptedRequestMessageId "add-1/request",
    # acceptedRequestSequencingEventId 5 (the event before the task's WorkflowTaskStarted),
    # acceptedRequest {meta {updateId, identity of the client}, input {name, args}}; the SDK
    # sends no header fields.
    a = accepted_attrs(accepted)
    assert a.protocol_instance_id == "add-1"
    assert a.accepted_request_message_id == "add-1/request"
    assert a.accepted_request_sequencing_event_id == 5
    req = a.accepted_request
    assert (req.meta.update_id, req.meta.identity) == ("add-1", client.identity)
    assert req.input.name == "add"
    assert datas(req.input.args) == [b'"x"']
    assert len(req.input.header.fields) == 0
    # Temporal: meta as in the request, acceptedEventId 8, outcome.success = the handler's
    # return value.
    c = completed_attrs(completed)
    assert c.meta == req.meta
    assert c.accepted_event_id == accepted.event_id == 8
    assert c.outcome.WhichOneof("value") == "success"
    assert datas(c.outcome.success) == [b'["init","x"]']

    # A second update: the same shape again, after the first one's events.
    assert await handle.execute_update(U.add, "y", id="add-2", rpc_timeout=ANSWER) == [
        "init",
        "x",
        "y",
    ]
    assert await finish(handle) == ["init", "x", "y"]
    events = await events_of(handle)
    assert_contiguous_ids(events)
    assert type_names(events)[9:14] == UPDATE_TASK
    assert accepted_attrs(events[12]).accepted_request_sequencing_event_id == 10
    assert completed_attrs(events[13]).accepted_event_id == 13
    assert update_trail(events) == [
        ("accepted", "add-1"),
        ("completed", "add-1"),
        ("accepted", "add-2"),
        ("completed", "add-2"),
    ]
    assert type_names(events)[-1] == WF_COMPLETED


async def test_updates_sent_before_the_first_task_ride_on_it(client, wf_id):
    """Updates that arrive while the first workflow task is scheduled but nobody polls wait
    for it and are delivered with it, after a signal that came before them. One is accepted
    (and asked for twice), one rejected by the validator: the rejection leaves no trace, and
    the sequencing event id
    is the event just before WorkflowTaskStarted (here the signal, not the task's scheduled
    event)."""
    task_queue = f"update-first-{uuid.uuid4()}"
    handle = await client.start_workflow(U.run, [], id=wf_id, task_queue=task_queue)
    await handle.signal(U.add_signal, "signal")
    good = asyncio.create_task(handle.execute_update(U.add, "early", id="early"))
    bad = asyncio.create_task(handle.execute_update(U.add, "bad-early", id="bad-early"))
    dup = None
    try:
        await wait_admitted(client, wf_id, "early")
        await wait_admitted(client, wf_id, "bad-early")
        # The same id again while it is only admitted: the same update.
        dup = asyncio.create_task(handle.execute_update(U.add, "dup", id="early"))
        await assert_blocked(good, "first task not run")
        async with running_worker(client, task_queue=task_queue):
            assert await asyncio.wait_for(good, RESULT_TIMEOUT_S) == ["signal", "early"]
            assert await asyncio.wait_for(dup, RESULT_TIMEOUT_S) == ["signal", "early"]
            with pytest.raises(WorkflowUpdateFailedError) as rejected:
                await asyncio.wait_for(bad, RESULT_TIMEOUT_S)
            assert isinstance(rejected.value.cause, ApplicationError)
            assert rejected.value.cause.message == "rejected 'bad-early'"
            assert await finish(handle) == ["signal", "early"]
    finally:
        for t in (good, bad, dup):
            if t is not None:
                t.cancel()
    events = await events_of(handle)
    assert_contiguous_ids(events)
    assert type_names(events)[:7] == [
        STARTED,
        WT_SCHEDULED,
        SIGNALED,
        WT_STARTED,
        WT_COMPLETED,
        ACCEPTED,
        COMPLETED,
    ]
    a = accepted_attrs(events[5])
    assert a.protocol_instance_id == "early"
    assert a.accepted_request_sequencing_event_id == 3
    assert completed_attrs(events[6]).accepted_event_id == 6
    assert update_trail(events) == [("accepted", "early"), ("completed", "early")]


async def test_wait_stages_accepted_then_completed(client, worker, wf_id):
    handle = await idle_updatable(client, worker.task_queue, wf_id)
    run_id = handle.result_run_id
    svc = client.workflow_service

    # ACCEPTED returns while the handler still waits for the `release` signal.
    held = await handle.start_update(
        U.add_when_released,
        "held",
        id="held",
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        rpc_timeout=ANSWER,
    )
    assert (held.id, held.workflow_id, held.workflow_run_id) == ("held", wf_id, run_id)
    events = await events_of(handle)
    assert type_names(events) == FIRST_TASK + [WT_SCHEDULED, WT_STARTED, WT_COMPLETED, ACCEPTED]
    accepted_id = events[-1].event_id
    assert accepted_attrs(events[-1]).protocol_instance_id == "held"
    result = asyncio.create_task(held.result())
    try:
        await assert_blocked(result, "handler waits for release")

        # The raw answers while accepted. UpdateWorkflowExecution, wait stage ACCEPTED (the
        # same update id: no second update): stage ACCEPTED, no outcome, a link to the
        # Accepted event.
        resp = await svc.update_workflow_execution(
            update_request(wf_id, "held", "add_when_released", stage=ACCEPTED_STAGE),
            timeout=RPC_TIMEOUT,
        )
        assert resp.stage == ACCEPTED_STAGE
        assert not resp.HasField("outcome")
        assert (resp.update_ref.workflow_execution.workflow_id, resp.update_ref.update_id) == (
            wf_id,
            "held",
        )
        assert resp.update_ref.workflow_execution.run_id == run_id
        assert_link_to_accepted(resp, wf_id, run_id)
        # PollWorkflowExecutionUpdate answers at once for a stage already reached: ACCEPTED
        # (also for wait stage ADMITTED or UNSPECIFIED: the stage reached, ACCEPTED). No link.
        for stage in (ACCEPTED_STAGE, ADMITTED_STAGE, UNSPECIFIED_STAGE):
            polled = await svc.poll_workflow_execution_update(
                poll_update_request(wf_id, "held", stage), timeout=RPC_TIMEOUT
            )
            assert polled.stage == ACCEPTED_STAGE, stage
            assert not polled.HasField("outcome")
            assert polled.update_ref.update_id == "held"
            assert polled.update_ref.workflow_execution.run_id == run_id
        # Waiting for COMPLETED: nothing until the caller's deadline.
        with pytest.raises(RPCError) as expired:
            await svc.poll_workflow_execution_update(
                poll_update_request(wf_id, "held"), timeout=timedelta(seconds=1)
            )
        assert is_timeout(expired.value), expired.value

        await handle.signal(U.release)
        assert await asyncio.wait_for(result, RESULT_TIMEOUT_S) == ["init", "held"]
    finally:
        result.cancel()

    # The Completed event follows the task that ran the handler to its end (the signal's).
    events = await events_of(handle)
    assert_contiguous_ids(events)
    assert type_names(events)[8:] == [SIGNALED, WT_SCHEDULED, WT_STARTED, WT_COMPLETED, COMPLETED]
    c = completed_attrs(events[-1])
    assert c.accepted_event_id == accepted_id == 8
    assert (c.meta.update_id, c.meta.identity) == ("held", client.identity)
    assert datas(c.outcome.success) == [b'["init","held"]']
    # Now both raw calls answer COMPLETED with the outcome; only UpdateWorkflowExecution
    # carries a link.
    polled = await svc.poll_workflow_execution_update(
        poll_update_request(wf_id, "held"), timeout=RPC_TIMEOUT
    )
    assert polled.stage == COMPLETED_STAGE
    assert datas(polled.outcome.success) == [b'["init","held"]']
    again = await svc.update_workflow_execution(
        update_request(wf_id, "held", "add_when_released", stage=ACCEPTED_STAGE),
        timeout=RPC_TIMEOUT,
    )
    assert again.stage == COMPLETED_STAGE
    assert datas(again.outcome.success) == [b'["init","held"]']
    assert_link_to_accepted(again, wf_id, run_id)

    # A handler that returns on the task that accepted it: wait stage ACCEPTED already answers
    # COMPLETED with the outcome (accepted and completed in one workflow task).
    quick = await svc.update_workflow_execution(
        update_request(wf_id, "quick", "add", '"quick"', stage=ACCEPTED_STAGE),
        timeout=RPC_TIMEOUT,
    )
    assert quick.stage == COMPLETED_STAGE
    assert datas(quick.outcome.success) == [b'["init","held","quick"]']
    # Wait stage UNSPECIFIED waits like COMPLETED.
    unspecified = await svc.update_workflow_execution(
        update_request(
            wf_id,
            "unspecified",
            "add",
            '"unspecified"',
            stage=UNSPECIFIED_STAGE,
        ),
        timeout=RPC_TIMEOUT,
    )
    assert unspecified.stage == COMPLETED_STAGE
    # Wait stage ADMITTED is refused before anything happens: PERMISSION_DENIED
    # "UpdateWorkflowExecution issued asynchronously and waiting on update admitted is not
    # supported." with a PermissionDeniedFailure detail.
    with pytest.raises(RPCError) as admitted:
        await svc.update_workflow_execution(
            update_request(wf_id, "admitted", stage=ADMITTED_STAGE), timeout=RPC_TIMEOUT
        )
    assert admitted.value.status == RPCStatusCode.PERMISSION_DENIED, admitted.value
    assert admitted.value.message == (
        "UpdateWorkflowExecution issued asynchronously and waiting on update admitted is not "
        "supported."
    )
    assert detail_is(admitted.value, PermissionDeniedFailure)
    assert await finish(handle) == ["init", "held", "quick", "unspecified"]
    assert [u for _, u in update_trail(await events_of(handle))] == [
        "held",
        "held",
        "quick",
        "quick",
        "unspecified",
        "unspecified",
    ]


async def test_a_rejected_update_writes_nothing(client, worker, wf_id):
    handle = await idle_updatable(client, worker.task_queue, wf_id)
    run_id = handle.result_run_id
    before = await events_of(handle)
    assert type_names(before) == FIRST_TASK

    # The validator raises: the SDK's worker answers with a Rejection, the caller gets
    # WorkflowUpdateFailedError whose cause is the validator's failure (an ApplicationError of
    # type "ValueError" here: the SDK converts the exception).
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await handle.execute_update(U.add, "bad-1", id="bad-1", rpc_timeout=ANSWER)
    cause = rejected.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.message, cause.type) == ("rejected 'bad-1'", "ValueError")
    # Nothing written: not the update, and not the speculative workflow task that carried it.
    assert await events_of(handle) == before
    # On the wire: an UpdateWorkflowExecutionResponse (no error), stage COMPLETED with
    # outcome.failure, and a link to the run with reason "Update rejected".
    resp = await client.workflow_service.update_workflow_execution(
        update_request(wf_id, "bad-2", "add", '"bad-2"'), timeout=RPC_TIMEOUT
    )
    assert resp.stage == COMPLETED_STAGE
    assert resp.update_ref.update_id == "bad-2"
    assert resp.outcome.failure.message == "rejected 'bad-2'"
    assert resp.outcome.failure.application_failure_info.type == "ValueError"
    assert_link_rejected(resp, wf_id, run_id)
    assert await events_of(handle) == before
    # A rejected update is forgotten: PollWorkflowExecutionUpdate answers NOT_FOUND
    # 'update "bad-2" not found'.
    with pytest.raises(RPCError) as forgotten:
        await client.workflow_service.poll_workflow_execution_update(
            poll_update_request(wf_id, "bad-2"), timeout=RPC_TIMEOUT
        )
    assert forgotten.value.status == RPCStatusCode.NOT_FOUND, forgotten.value
    assert forgotten.value.message == 'update "bad-2" not found'

    # The discarded task's event ids are used again by the next task that is written.
    assert await handle.execute_update(U.add, "good", id="good", rpc_timeout=ANSWER) == [
        "init",
        "good",
    ]
    events = await events_of(handle)
    assert type_names(events) == FIRST_TASK + UPDATE_TASK
    assert accepted_attrs(events[7]).accepted_request_sequencing_event_id == 5
    # Now the history ends with the update's events (command events, not a task event): the
    # SDK tells the server it can take a discarded task that carried them
    # (discard_speculative_workflow_task_with_events), so a rejection still writes nothing.
    before = events
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(U.add, "bad-3", id="bad-3", rpc_timeout=ANSWER)
    assert await events_of(handle) == before
    assert await finish(handle) == ["init", "good"]
    assert update_trail(await events_of(handle)) == [("accepted", "good"), ("completed", "good")]


async def test_a_rejection_on_a_task_with_other_events_keeps_the_task(client, wf_id):
    """A signal pending when the update arrives makes the workflow task a normal one: its
    events stay after the rejection (the signal's task), and still no update event."""
    task_queue = f"update-pending-{uuid.uuid4()}"
    async with running_worker(client, task_queue=task_queue):
        handle = await idle_updatable(client, task_queue, wf_id)
    # Idle, nobody polling: the signal schedules a normal task, the update waits for it.
    await handle.signal(U.add_signal, "pending")
    bad = asyncio.create_task(handle.execute_update(U.add, "bad-pending", id="bad-pending"))
    try:
        await wait_admitted(client, wf_id, "bad-pending")
        async with running_worker(client, task_queue=task_queue):
            with pytest.raises(WorkflowUpdateFailedError) as rejected:
                await asyncio.wait_for(bad, RESULT_TIMEOUT_S)
            assert rejected.value.cause.message == "rejected 'bad-pending'"
            events = await events_of(handle)
            assert type_names(events) == FIRST_TASK + [
                SIGNALED,
                WT_SCHEDULED,
                WT_STARTED,
                WT_COMPLETED,
            ]
            assert await finish(handle) == ["init", "pending"]
    finally:
        bad.cancel()
    assert update_trail(await events_of(handle)) == []


async def test_the_same_update_id_is_one_update(client, worker, wf_id):
    handle = await idle_updatable(client, worker.task_queue, wf_id)
    first = await handle.start_update(
        U.add_when_released, "one", id="dup", wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    # The same id while the first is in flight, with other arguments: the same update (its
    # arguments are ignored), accepted already.
    second = await handle.start_update(
        U.add_when_released, "two", id="dup", wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    # Even under another update name: Temporal matches on the id alone.
    third = asyncio.create_task(handle.execute_update(U.add, "three", id="dup"))
    results = [asyncio.create_task(first.result()), asyncio.create_task(second.result())]
    try:
        await assert_blocked(third, "one update, still waiting for release")
        await handle.signal(U.release)
        expected = ["init", "one"]
        assert await asyncio.wait_for(asyncio.gather(*results, third), RESULT_TIMEOUT_S) == [
            expected
        ] * 3
    finally:
        for t in [*results, third]:
            t.cancel()
    # After completion: the stored outcome, at once, and nothing written.
    before = await events_of(handle)
    assert await handle.execute_update(U.add, "four", id="dup", rpc_timeout=ANSWER) == expected
    assert await handle.get_update_handle("dup").result(rpc_timeout=ANSWER) == expected
    assert await events_of(handle) == before
    assert await finish(handle) == expected
    events = await events_of(handle)
    assert update_trail(events) == [("accepted", "dup"), ("completed", "dup")]
    [accepted] = of_type(events, ACCEPTED)
    assert datas(accepted_attrs(accepted).accepted_request.input.args) == [b'"one"']
    assert accepted_attrs(accepted).accepted_request.input.name == "add_when_released"


async def test_a_failing_handler_fails_the_update_not_the_workflow(client, worker, wf_id):
    handle = await idle_updatable(client, worker.task_queue, wf_id)
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(U.fail, "f", id="fails", rpc_timeout=ANSWER)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.message, cause.type, cause.non_retryable) == (
        "update failed on 'f'",
        "UpdateFailure",
        True,
    )
    assert list(cause.details) == ["f"]
    events = await events_of(handle)
    assert_contiguous_ids(events)
    # Accepted (the validator ran: there is none), then Completed with outcome.failure.
    assert type_names(events) == FIRST_TASK + UPDATE_TASK
    c = completed_attrs(events[-1])
    assert c.accepted_event_id == 8
    assert c.outcome.WhichOneof("value") == "failure"
    # Temporal: failure {message "update failed on 'f'", stackTrace (the worker's),
    # applicationFailureInfo {type "UpdateFailure", nonRetryable true, details ["f"]}}, as the
    # worker sent it.
    f = c.outcome.failure
    assert f.message == "update failed on 'f'"
    assert f.application_failure_info.type == "UpdateFailure"
    assert f.application_failure_info.non_retryable
    assert datas(f.application_failure_info.details) == [b'"f"']
    # The workflow is still running and takes further updates.
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    assert await handle.execute_update(U.add, "after", rpc_timeout=ANSWER) == ["init", "after"]
    assert await finish(handle) == ["init", "after"]


async def test_closed_unknown_and_bad_targets_and_requests(client, worker, wf_id):
    handle = await idle_updatable(client, worker.task_queue, wf_id)
    run_id = handle.result_run_id
    svc = client.workflow_service

    async def refused(req, code: RPCStatusCode) -> RPCError:
        with pytest.raises(RPCError) as err:
            await asyncio.wait_for(svc.update_workflow_execution(req, timeout=RPC_TIMEOUT), 20)
        assert err.value.status == code, f"got {err.value.status!r}: {err.value.message}"
        return err.value

    never = f"{wf_id}-never-started"
    invalid, not_found = RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.NOT_FOUND
    no_request = UpdateWorkflowExecutionRequest(
        namespace=NAMESPACE, workflow_execution=WorkflowExecution(workflow_id=wf_id)
    )
    no_meta = UpdateWorkflowExecutionRequest(
        namespace=NAMESPACE,
        workflow_execution=WorkflowExecution(workflow_id=wf_id),
        request=Request(input=Input(name="add")),
    )
    no_input = UpdateWorkflowExecutionRequest(
        namespace=NAMESPACE,
        workflow_execution=WorkflowExecution(workflow_id=wf_id),
        request=Request(meta=Meta(update_id="x")),
    )
    no_execution = UpdateWorkflowExecutionRequest(
        namespace=NAMESPACE, request=Request(meta=Meta(update_id="x"), input=Input(name="add"))
    )
    # Messages as Temporal words them; validation comes before the lookup.
    cases = [
        (update_request(wf_id, "x", name=""), invalid, "Update name is not set on request."),
        (update_request(never, "x", name=""), invalid, "Update name is not set on request."),
        (no_request, invalid, "Update meta is not set on request."),
        (no_meta, invalid, "Update meta is not set on request."),
        (no_input, invalid, "Update input is not set on request."),
        (no_execution, invalid, "Execution is not set on request."),
        (update_request("", "x"), invalid, "WorkflowId is not set on request."),
        (update_request(wf_id, "x" * 2000), invalid, "UpdateId length exceeds limit."),
        (update_request(wf_id, "x", namespace=""), invalid, "Namespace is empty."),
        (update_request(wf_id, "x", run_id="not-a-uuid"), invalid, "Invalid RunId."),
        (update_request(never, "x"), not_found, f"workflow not found for ID: {never}"),
        (
            update_request(wf_id, "x", namespace="no-such-namespace"),
            not_found,
            "Namespace no-such-namespace is not found.",
        ),
    ]
    for req, code, message in cases:
        err = await refused(req, code)
        assert err.message == message, (req, err.message)
    assert detail_is(await refused(update_request(never, "x"), not_found), NotFoundFailure)
    assert detail_is(
        await refused(update_request(wf_id, "x", namespace="no-such-namespace"), not_found),
        NamespaceNotFoundFailure,
    )
    # An unknown run: NOT_FOUND 'workflow execution not found for workflow ID "<id>" and run
    # ID "<run>"'. A first_execution_run_id that is not the chain's: NOT_FOUND "workflow
    # execution not found".
    other_run = str(uuid.uuid4())
    err = await refused(update_request(wf_id, "x", run_id=other_run), not_found)
    assert err.message == (
        f'workflow execution not found for workflow ID "{wf_id}" and run ID "{other_run}"'
    )
    err = await refused(
        update_request(wf_id, "x", first_execution_run_id=str(uuid.uuid4())), not_found
    )
    assert err.message == "workflow execution not found"
    assert detail_is(err, NotFoundFailure)
    # The SDK surfaces these as RPCError (only a timeout or a failed update is special).
    with pytest.raises(RPCError) as sdk_unknown:
        await client.get_workflow_handle(never).execute_update(U.add, "x", rpc_timeout=ANSWER)
    assert sdk_unknown.value.status == RPCStatusCode.NOT_FOUND
    # PollWorkflowExecutionUpdate: unknown workflow NOT_FOUND "workflow not found for ID:
    # <id>"; unknown update id NOT_FOUND 'update "<id>" not found'.
    with pytest.raises(RPCError) as poll_unknown_wf:
        await svc.poll_workflow_execution_update(
            poll_update_request(never, "x"), timeout=RPC_TIMEOUT
        )
    assert poll_unknown_wf.value.status == RPCStatusCode.NOT_FOUND
    assert poll_unknown_wf.value.message == f"workflow not found for ID: {never}"
    with pytest.raises(RPCError) as poll_unknown_update:
        await svc.poll_workflow_execution_update(
            poll_update_request(wf_id, "nope"), timeout=RPC_TIMEOUT
        )
    assert poll_unknown_update.value.status == RPCStatusCode.NOT_FOUND
    assert poll_unknown_update.value.message == 'update "nope" not found'
    assert detail_is(poll_unknown_update.value, NotFoundFailure)

    # An empty update id is not refused: Temporal makes one up (a UUID) and returns it in
    # update_ref; the events carry it.
    resp = await svc.update_workflow_execution(
        update_request(wf_id, "", "add", '"nameless"'), timeout=RPC_TIMEOUT
    )
    generated = resp.update_ref.update_id
    assert str(uuid.UUID(generated)) == generated
    assert resp.stage == COMPLETED_STAGE
    assert datas(resp.outcome.success) == [b'["init","nameless"]']
    # An update name the workflow has no handler for: the SDK's worker rejects it (the server
    # does not know handler names): "Update handler for 'nope' expected but not found, and
    # there is no dynamic handler. known updates: [add add_when_released fail]", type
    # RuntimeError.
    with pytest.raises(WorkflowUpdateFailedError) as no_handler:
        await handle.execute_update("nope", "z", rpc_timeout=ANSWER)
    assert no_handler.value.cause.message.startswith(
        "Update handler for 'nope' expected but not found"
    )

    assert await finish(handle) == ["init", "nameless"]
    closed = await events_of(handle)
    assert update_trail(closed) == [("accepted", generated), ("completed", generated)]
    # A closed workflow: a new update is NOT_FOUND "workflow execution already completed"
    # (NotFoundFailure), the same for a terminated run; an update id it completed still
    # answers with its outcome, through either call; an unknown one is NOT_FOUND.
    err = await refused(update_request(wf_id, "late"), not_found)
    assert err.message == "workflow execution already completed"
    assert detail_is(err, NotFoundFailure)
    with pytest.raises(RPCError) as sdk_late:
        await handle.execute_update(U.add, "late", rpc_timeout=ANSWER)
    assert sdk_late.value.status == RPCStatusCode.NOT_FOUND
    assert sdk_late.value.message == "workflow execution already completed"
    done = await svc.update_workflow_execution(
        update_request(wf_id, generated, "add", '"ignored"'), timeout=RPC_TIMEOUT
    )
    assert done.stage == COMPLETED_STAGE
    assert datas(done.outcome.success) == [b'["init","nameless"]']
    assert_link_to_accepted(done, wf_id, run_id)
    polled = await svc.poll_workflow_execution_update(
        poll_update_request(wf_id, generated), timeout=RPC_TIMEOUT
    )
    assert datas(polled.outcome.success) == [b'["init","nameless"]']
    with pytest.raises(RPCError) as poll_closed_unknown:
        await svc.poll_workflow_execution_update(
            poll_update_request(wf_id, "late"), timeout=RPC_TIMEOUT
        )
    assert poll_closed_unknown.value.status == RPCStatusCode.NOT_FOUND
    assert poll_closed_unknown.value.message == 'update "late" not found'
    assert await events_of(handle) == closed


async def test_closing_a_workflow_ends_its_pending_updates(client, worker, wf_id):
    svc = client.workflow_service
    # Accepted, handler still running, then the workflow is terminated: the update completes
    # with a failure the server makes up (no event is written for it): message "Workflow
    # Update failed because the Workflow completed before the Update completed.", source
    # "Server", applicationFailureInfo {type "AcceptedUpdateCompletedWorkflow", nonRetryable}.
    handle = await idle_updatable(client, worker.task_queue, wf_id)
    held = await handle.start_update(
        U.add_when_released, "held", id="held", wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    await handle.terminate("update test")
    with pytest.raises(WorkflowUpdateFailedError) as aborted:
        await asyncio.wait_for(held.result(), RESULT_TIMEOUT_S)
    cause = aborted.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message == (
        "Workflow Update failed because the Workflow completed before the Update completed."
    )
    assert (cause.type, cause.non_retryable) == ("AcceptedUpdateCompletedWorkflow", True)
    polled = await svc.poll_workflow_execution_update(
        poll_update_request(wf_id, "held"), timeout=RPC_TIMEOUT
    )
    assert polled.stage == COMPLETED_STAGE
    assert polled.outcome.failure.source == "Server"
    events = await events_of(handle)
    assert type_names(events)[-2:] == [ACCEPTED, TERMINATED]
    assert update_trail(events) == [("accepted", "held")]

    # Admitted only (no worker has seen it) when the workflow is terminated: the caller gets
    # NOT_FOUND "workflow update was aborted by closing workflow".
    other = f"{wf_id}-unpolled"
    unpolled = await client.start_workflow(
        U.run, [], id=other, task_queue=f"nobody-{uuid.uuid4()}"
    )
    waiting = asyncio.create_task(
        svc.update_workflow_execution(update_request(other, "admitted"), timeout=ANSWER)
    )
    try:
        await wait_admitted(client, other, "admitted")
        await unpolled.terminate("update test")
        with pytest.raises(RPCError) as gone:
            await asyncio.wait_for(waiting, RESULT_TIMEOUT_S)
    finally:
        waiting.cancel()
    assert gone.value.status == RPCStatusCode.NOT_FOUND, gone.value
    assert gone.value.message == "workflow update was aborted by closing workflow"
    assert type_names(await events_of(unpolled)) == [STARTED, WT_SCHEDULED, TERMINATED]


async def test_an_update_waits_for_a_worker_until_the_callers_deadline(client, wf_id):
    task_queue = f"update-later-{uuid.uuid4()}"
    async with running_worker(client, task_queue=task_queue):
        handle = await idle_updatable(client, task_queue, wf_id, initial=())
    before = await events_of(handle)
    # No worker: the update is admitted (in memory only) and the call waits until the
    # caller's deadline (without one, Temporal answers after 20 s: stage ADMITTED, no
    # outcome). The SDK raises WorkflowUpdateRPCTimeoutOrCancelledError, caused by the
    # RPCError of the expired call (CANCELLED "Timeout expired" or DEADLINE_EXCEEDED; Temporal
    # answered both ways in different runs).
    began = time.monotonic()
    with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError) as expired:
        await asyncio.wait_for(
            handle.execute_update(U.add, "lost", id="lost", rpc_timeout=timedelta(seconds=2)),
            30,
        )
    took = time.monotonic() - began
    assert isinstance(expired.value.__cause__, RPCError)
    assert is_timeout(expired.value.__cause__), expired.value.__cause__
    assert took >= 1.5, f"gave up after {took:.2f}s, before the caller's 2 s deadline"
    # Nothing was written for it. (Temporal's GetWorkflowExecutionHistory does show the
    # speculative task's WorkflowTaskScheduled at the end while it waits: the persisted
    # events are a prefix.)
    assert (await events_of(handle))[: len(before)] == before
    assert update_trail(await events_of(handle)) == []
    # The update outlived its caller: still admitted, and a second one waits with it.
    await wait_admitted(client, wf_id, "lost")
    waiting = asyncio.create_task(handle.execute_update(U.add, "waits", id="waits"))
    try:
        await assert_blocked(waiting, "no worker")
        async with running_worker(client, task_queue=task_queue):
            # Temporal: the task went first to the departed worker's sticky queue and reached
            # the new worker after the speculative task's schedule-to-start timeout (5 s).
            assert await asyncio.wait_for(waiting, RESULT_TIMEOUT_S) == ["lost", "waits"]
            # The abandoned update ran too, first; its id answers with its outcome.
            assert await handle.execute_update(U.add, "again", id="lost", rpc_timeout=ANSWER) == [
                "lost"
            ]
            assert await finish(handle) == ["lost", "waits"]
    finally:
        waiting.cancel()
    events = await events_of(handle)
    assert_contiguous_ids(events)
    # One task (written, on the normal queue, no timeout event) carried both.
    assert type_names(events)[4:11] == [
        WT_SCHEDULED,
        WT_STARTED,
        WT_COMPLETED,
        ACCEPTED,
        COMPLETED,
        ACCEPTED,
        COMPLETED,
    ]
    assert events[4].workflow_task_scheduled_event_attributes.task_queue.kind == (
        TaskQueueKind.TASK_QUEUE_KIND_NORMAL
    )
    assert update_trail(events) == [
        ("accepted", "lost"),
        ("completed", "lost"),
        ("accepted", "waits"),
        ("completed", "waits"),
    ]
    sequencing = {
        accepted_attrs(e).accepted_request_sequencing_event_id for e in of_type(events, ACCEPTED)
    }
    assert sequencing == {5}


# ---- the raw protocol: what a worker sees and answers --------------------------------------


def request_of(message: Message) -> Request:
    assert message.body.type_url == REQUEST_TYPE_URL, message
    req = Request()
    assert message.body.Unpack(req)
    return req


def packed(body) -> AnyProto:
    out = AnyProto()
    out.Pack(body)
    return out


def acceptance(request_message: Message, message_id: str | None = None) -> Message:
    """The Acceptance a worker sends for ``request_message`` (as the SDKs write it)."""
    req = request_of(request_message)
    return Message(
        id=message_id or f"{req.meta.update_id}/accept",
        protocol_instance_id=req.meta.update_id,
        event_id=request_message.event_id,
        body=packed(
            Acceptance(
                accepted_request_message_id=request_message.id,
                accepted_request_sequencing_event_id=request_message.event_id,
                accepted_request=req,
            )
        ),
    )


def response(request_message: Message, result: str) -> Message:
    req = request_of(request_message)
    return Message(
        id=f"{req.meta.update_id}/complete",
        protocol_instance_id=req.meta.update_id,
        event_id=request_message.event_id,
        body=packed(Response(meta=req.meta, outcome=Outcome(success=json_payloads(result)))),
    )


def rejection(request_message: Message, text: str = "no thanks") -> Message:
    req = request_of(request_message)
    return Message(
        id=f"{req.meta.update_id}/reject",
        protocol_instance_id=req.meta.update_id,
        event_id=request_message.event_id,
        body=packed(
            Rejection(
                rejected_request_message_id=request_message.id,
                rejected_request_sequencing_event_id=request_message.event_id,
                rejected_request=req,
                failure=Failure(
                    message=text, application_failure_info=ApplicationFailureInfo(type="Rejected")
                ),
            )
        ),
    )


def protocol_command(message: Message) -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_PROTOCOL_MESSAGE,
        protocol_message_command_attributes=ProtocolMessageCommandAttributes(
            message_id=message.id
        ),
    )


class RawUpdatedRun(RawRun):
    """A RawRun whose worker answers updates with protocol messages in its workflow task
    completions (``complete``)."""

    workflow_type = "RawUpdated"
    queue_prefix = "raw-update"
    starter_identity = "update test"
    worker_identity = "raw worker"

    async def start(self) -> None:
        """Starts the run and completes its first task with nothing: events 1-4, idle."""
        await super().start()
        first = await self.poll()
        assert len(first.messages) == 0
        await self.complete(first)

    async def complete(
        self, task, messages=(), commands=(), discard_with_events: bool = False
    ) -> RespondWorkflowTaskCompletedResponse:
        return await self.svc.respond_workflow_task_completed(
            RespondWorkflowTaskCompletedRequest(
                namespace=NAMESPACE,
                task_token=task.task_token,
                identity=self.worker_identity,
                messages=list(messages),
                commands=list(commands),
                capabilities=RespondWorkflowTaskCompletedRequest.Capabilities(
                    discard_speculative_workflow_task_with_events=discard_with_events
                ),
            ),
            timeout=RPC_TIMEOUT,
        )

    def update(self, update_id: str, arg: str = '"v"', stage=COMPLETED_STAGE) -> asyncio.Task:
        return asyncio.create_task(
            self.svc.update_workflow_execution(
                update_request(self.wf_id, update_id, "add", arg, stage=stage), timeout=ANSWER
            )
        )

    async def admitted(self, update_id: str) -> None:
        await wait_admitted(self.client, self.wf_id, update_id)


@pytest.fixture
def raw(client, wf_id) -> RawUpdatedRun:
    return RawUpdatedRun(client, wf_id)


async def outcome_of(update: asyncio.Task) -> UpdateWorkflowExecutionResponse:
    return await asyncio.wait_for(update, ANSWER.total_seconds() + 5)


async def test_raw_an_update_to_an_idle_workflow_rides_a_speculative_task(raw):
    await raw.start()
    update = raw.update("u1", '"arg"')
    try:
        task = await raw.poll()
        # The poll response: one message, the update's Request.
        # Temporal: {id "u1/request", protocolInstanceId "u1", eventId 5, body {@type
        # "type.googleapis.com/temporal.api.update.v1.Request", meta {updateId "u1", identity
        # "update client"}, input {name "add", args}}}; no query, no queries.
        [message] = task.messages
        assert message.id == "u1/request"
        assert message.protocol_instance_id == "u1"
        assert message.WhichOneof("sequencing_id") == "event_id"
        assert message.event_id == 5
        req = request_of(message)
        assert (req.meta.update_id, req.meta.identity) == ("u1", "update client")
        assert req.input.name == "add"
        assert datas(req.input.args) == [b'"arg"']
        assert not task.HasField("query") and len(task.queries) == 0
        # The task's history ends with the speculative task's two events (not written):
        # WorkflowTaskScheduled 5 and WorkflowTaskStarted 6; previous_started_event_id 3.
        assert type_names(task.history.events) == FIRST_TASK + [WT_SCHEDULED, WT_STARTED]
        assert (task.started_event_id, task.previous_started_event_id, task.attempt) == (6, 3, 1)
        started = task.history.events[-1].workflow_task_started_event_attributes
        assert started.scheduled_event_id == 5 and started.identity == "raw worker"
        # Temporal 1.32's GetWorkflowExecutionHistory shows the in-flight speculative task too
        # (an SDK that lost its cache fetches the history for it); its WorkflowTaskStarted has
        # no identity there.
        during = await raw.events()
        assert type_names(during) == FIRST_TASK + [WT_SCHEDULED, WT_STARTED]

        # The worker accepts and completes in one go: Acceptance and Response messages, each
        # named by a ProtocolMessage command (the order the events are written in).
        accept, done = acceptance(message), response(message, '"done"')
        answer = await raw.complete(
            task, [accept, done], [protocol_command(accept), protocol_command(done)]
        )
        assert answer.reset_history_event_id == 0
        assert not answer.HasField("workflow_task")

        resp = await outcome_of(update)
    finally:
        update.cancel()
    # Temporal: updateRef {workflowExecution {workflowId, runId}, updateId "u1"}, outcome
    # {success}, stage COMPLETED, link {workflowEvent {namespace, workflowId, runId,
    # requestIdRef {eventType UPDATE_ACCEPTED}}}.
    assert resp.stage == COMPLETED_STAGE
    assert resp.update_ref.update_id == "u1"
    assert resp.update_ref.workflow_execution.workflow_id == raw.wf_id
    assert resp.update_ref.workflow_execution.run_id == raw.run_id
    assert datas(resp.outcome.success) == [b'"done"']
    assert_link_to_accepted(resp, raw.wf_id, raw.run_id)

    events = await raw.events()
    assert_contiguous_ids(events)
    assert type_names(events) == FIRST_TASK + UPDATE_TASK
    scheduled, started, task_completed, accepted, completed = events[4:]
    assert scheduled.workflow_task_scheduled_event_attributes.task_queue.kind == (
        TaskQueueKind.TASK_QUEUE_KIND_NORMAL
    )
    assert started.workflow_task_started_event_attributes.identity == "raw worker"
    tc = task_completed.workflow_task_completed_event_attributes
    assert (tc.scheduled_event_id, tc.started_event_id, tc.identity) == (5, 6, "raw worker")
    a = accepted_attrs(accepted)
    assert a.protocol_instance_id == "u1"
    assert a.accepted_request_message_id == "u1/request"
    assert a.accepted_request_sequencing_event_id == 5
    assert a.accepted_request == req
    c = completed_attrs(completed)
    assert c.meta == req.meta
    assert c.accepted_event_id == 8
    assert datas(c.outcome.success) == [b'"done"']
    await raw.handle.terminate("update test done")


async def test_raw_which_event_fields_come_from_the_worker(raw):
    """Messages need no ProtocolMessage command (none here: the events are written all the
    same, after WorkflowTaskCompleted). WorkflowExecutionUpdateAccepted takes the request
    message id and the request from the server's record of the update, but the sequencing
    event id from the worker's Acceptance; WorkflowExecutionUpdateCompleted takes meta as the
    worker's Response has it."""
    await raw.start()
    update = raw.update("odd")
    try:
        task = await raw.poll()
        [message] = task.messages
        odd_accept = Message(
            id="a",
            protocol_instance_id="odd",
            event_id=message.event_id,
            body=packed(
                Acceptance(
                    accepted_request_message_id="whatever",
                    accepted_request_sequencing_event_id=99,
                )
            ),
        )
        odd_response = Message(
            id="b",
            protocol_instance_id="odd",
            event_id=message.event_id,
            body=packed(
                Response(
                    meta=Meta(update_id="odd"), outcome=Outcome(success=json_payloads('"odd"'))
                )
            ),
        )
        await raw.complete(task, [odd_accept, odd_response])
        resp = await outcome_of(update)
    finally:
        update.cancel()
    assert datas(resp.outcome.success) == [b'"odd"']
    events = await raw.events()
    assert type_names(events) == FIRST_TASK + UPDATE_TASK
    a = accepted_attrs(events[7])
    assert a.accepted_request_message_id == "odd/request"
    assert a.accepted_request_sequencing_event_id == 99
    assert a.accepted_request == request_of(message)
    c = completed_attrs(events[8])
    assert c.meta == Meta(update_id="odd")
    await raw.handle.terminate("update test done")


async def test_raw_a_rejection_discards_the_speculative_task(raw):
    await raw.start()

    async def reject_next(update_id: str, discard_with_events: bool = False):
        update = raw.update(update_id)
        try:
            task = await raw.poll()
            [message] = task.messages
            answer = await raw.complete(
                task,
                [rejection(message, f"no {update_id}")],
                discard_with_events=discard_with_events,
            )
            resp = await outcome_of(update)
        finally:
            update.cancel()
        # The caller gets the worker's failure as the outcome, and the "Update rejected" link.
        assert resp.stage == COMPLETED_STAGE
        assert resp.outcome.failure.message == f"no {update_id}"
        assert resp.outcome.failure.application_failure_info.type == "Rejected"
        assert_link_rejected(resp, raw.wf_id, raw.run_id)
        return task, message, answer

    # Idle, the history ends with WorkflowTaskCompleted: the task is discarded, and the
    # completion's response says so: reset_history_event_id 3 (the last WorkflowTaskStarted
    # written), for the SDK to roll back to.
    task, message, answer = await reject_next("rej-1")
    assert (message.event_id, task.started_event_id) == (5, 6)
    assert answer.reset_history_event_id == 3
    assert await raw.event_types() == FIRST_TASK
    # Again: the same event ids are handed out again.
    task, message, answer = await reject_next("rej-2")
    assert (message.event_id, task.started_event_id, answer.reset_history_event_id) == (5, 6, 3)
    assert await raw.event_types() == FIRST_TASK

    # An accepted update: the history now ends with its events (events a command wrote, that
    # the worker has not been shown in a task yet).
    update = raw.update("ok")
    try:
        task = await raw.poll()
        [message] = task.messages
        accept, done = acceptance(message), response(message, '"ok"')
        await raw.complete(task, [accept, done], [protocol_command(accept), protocol_command(done)])
        await outcome_of(update)
    finally:
        update.cancel()
    assert await raw.event_types() == FIRST_TASK + UPDATE_TASK

    # A rejection now ships those events to the worker (the task's history goes up to 11);
    # with the capability discard_speculative_workflow_task_with_events the task is still
    # discarded: reset_history_event_id 6.
    task, message, answer = await reject_next("rej-3", discard_with_events=True)
    assert (message.event_id, task.started_event_id) == (10, 11)
    assert type_names(task.history.events)[-4:] == [ACCEPTED, COMPLETED, WT_SCHEDULED, WT_STARTED]
    assert answer.reset_history_event_id == 6
    assert await raw.event_types() == FIRST_TASK + UPDATE_TASK
    # Without it (a worker that cannot see events twice) the task is written: WorkflowTask-
    # Scheduled 10, Started 11, Completed 12, and no reset.
    task, message, answer = await reject_next("rej-4")
    assert (message.event_id, task.started_event_id) == (10, 11)
    assert answer.reset_history_event_id == 0
    events = await raw.events()
    assert type_names(events) == FIRST_TASK + UPDATE_TASK + [WT_SCHEDULED, WT_STARTED, WT_COMPLETED]
    tc = events[-1].workflow_task_completed_event_attributes
    assert (tc.scheduled_event_id, tc.started_event_id, tc.identity) == (10, 11, "raw worker")
    # Ending with WorkflowTaskCompleted again: discarded, reset to 11.
    task, message, answer = await reject_next("rej-5")
    assert (message.event_id, task.started_event_id, answer.reset_history_event_id) == (13, 14, 11)
    assert await raw.event_types() == type_names(events)
    await raw.handle.terminate("update test done")


async def test_raw_other_events_make_the_task_a_normal_one(raw):
    await raw.start()

    # A signal while the speculative task is in flight: the task becomes a normal one (Temporal
    # "converts" it, writing its WorkflowTaskScheduled 5 and WorkflowTaskStarted 6), the signal
    # is buffered behind it; after the rejection: WorkflowTaskCompleted 7, the signal 8 and a
    # new task 9, and no reset.
    update = raw.update("rej-during-signal")
    try:
        task = await raw.poll()
        [message] = task.messages
        await raw.signal("during")
        # Temporal writes the converted WorkflowTaskStarted without an identity.
        answer = await raw.complete(task, [rejection(message)])
        assert answer.reset_history_event_id == 0
        await outcome_of(update)
    finally:
        update.cancel()
    events = await raw.events()
    assert type_names(events) == FIRST_TASK + [
        WT_SCHEDULED,
        WT_STARTED,
        WT_COMPLETED,
        SIGNALED,
        WT_SCHEDULED,
    ]
    assert update_trail(events) == []
    task = await raw.poll()
    assert len(task.messages) == 0
    await raw.complete(task)

    # A signal before the update: the update rides on the signal's normal task; the
    # sequencing event id is the event before WorkflowTaskStarted. The rejection leaves the
    # task's events.
    await raw.signal("before")
    n = len(await raw.events())  # ... SIGNALED, WT_SCHEDULED
    update = raw.update("rej-after-signal")
    try:
        await raw.admitted("rej-after-signal")
        task = await raw.poll()
        [message] = task.messages
        assert message.event_id == task.started_event_id - 1 == n
        answer = await raw.complete(task, [rejection(message)])
        assert answer.reset_history_event_id == 0
        await outcome_of(update)
    finally:
        update.cancel()
    assert (await raw.event_types())[n - 2 :] == [SIGNALED, WT_SCHEDULED, WT_STARTED, WT_COMPLETED]

    # An update that arrives while a (normal) task is in flight waits for it; its completion
    # schedules a new normal task for the update, which a rejection does not discard.
    await raw.signal("in flight")
    task = await raw.poll()
    assert len(task.messages) == 0
    before = await raw.event_types()
    update = raw.update("rej-after-task")
    try:
        await raw.admitted("rej-after-task")
        await assert_blocked(update, "a task in flight")
        assert await raw.event_types() == before
        answer = await raw.complete(task)
        assert answer.reset_history_event_id == 0
        task = await raw.poll()
        [message] = task.messages
        assert message.event_id == task.started_event_id - 1
        answer = await raw.complete(task, [rejection(message)])
        assert answer.reset_history_event_id == 0
        await outcome_of(update)
    finally:
        update.cancel()
    assert (await raw.event_types())[len(before) :] == [
        WT_COMPLETED,
        WT_SCHEDULED,
        WT_STARTED,
        WT_COMPLETED,
    ]

    # Two updates admitted before the poll come in one task, each its own Request message
    # with the same event id; one accepted and completed, one rejected: one pair of events.
    n = len(await raw.events())
    first, second = raw.update("two-a"), raw.update("two-b")
    try:
        await raw.admitted("two-a")
        await raw.admitted("two-b")
        task = await raw.poll()
        assert sorted(m.id for m in task.messages) == ["two-a/request", "two-b/request"]
        assert {m.event_id for m in task.messages} == {n + 1}
        by_id = {m.protocol_instance_id: m for m in task.messages}
        accept, done = acceptance(by_id["two-a"]), response(by_id["two-a"], '"a"')
        await raw.complete(
            task,
            [accept, done, rejection(by_id["two-b"])],
            [protocol_command(accept), protocol_command(done)],
        )
        assert datas((await outcome_of(first)).outcome.success) == [b'"a"']
        assert (await outcome_of(second)).outcome.failure.message == "no thanks"
    finally:
        first.cancel()
        second.cancel()
    events = await raw.events()
    assert type_names(events)[n:] == UPDATE_TASK
    assert update_trail(events) == [("accepted", "two-a"), ("completed", "two-a")]
    await raw.handle.terminate("update test done")


# ---- update-with-start ---------------------------------------------------------------------


async def test_update_with_start_starts_a_workflow_or_updates_the_running_one(
    client, worker, wf_id
):
    def start_op(policy=WorkflowIDConflictPolicy.USE_EXISTING, initial=("init",)):
        return WithStartWorkflowOperation(
            U.run, list(initial), id=wf_id, task_queue=worker.task_queue, id_conflict_policy=policy
        )

    # A new workflow: started, and the update rides on its first task.
    op = start_op()
    assert await client.execute_update_with_start_workflow(
        U.add, "first", start_workflow_operation=op, id="uws-1", rpc_timeout=ANSWER
    ) == ["init", "first"]
    handle = await op.workflow_handle()
    run_id = handle.result_run_id
    events = await events_of(handle)
    assert_contiguous_ids(events)
    # Temporal 1.32 writes no WorkflowExecutionUpdateAdmitted: the update waits in memory for
    # the first task like any other and is accepted on it (sequencing event id 2).
    assert type_names(events) == FIRST_TASK + [ACCEPTED, COMPLETED]
    assert of_type(events, ADMITTED) == []
    a = accepted_attrs(events[4])
    assert (a.protocol_instance_id, a.accepted_request_sequencing_event_id) == ("uws-1", 2)
    assert a.accepted_request.meta.identity == client.identity
    assert completed_attrs(events[5]).accepted_event_id == 5

    # The raw operation on the running workflow (USE_EXISTING): not started again; the start
    # response names the running run, started false, status RUNNING, and links to its
    # WorkflowExecutionStarted event; the update response is a normal one.
    def multi(update_id: str, arg: str, policy) -> ExecuteMultiOperationRequest:
        return ExecuteMultiOperationRequest(
            namespace=NAMESPACE,
            operations=[
                ExecuteMultiOperationRequest.Operation(
                    start_workflow=StartWorkflowExecutionRequest(
                        namespace=NAMESPACE,
                        workflow_id=wf_id,
                        workflow_type=WorkflowType(name="Updatable"),
                        task_queue=TaskQueue(name=worker.task_queue),
                        input=json_payloads('["ignored"]'),
                        request_id=str(uuid.uuid4()),
                        identity="uws client",
                        workflow_id_conflict_policy=policy,
                    )
                ),
                ExecuteMultiOperationRequest.Operation(
                    update_workflow=update_request(
                        wf_id, update_id, "add", arg, identity="uws client"
                    )
                ),
            ],
        )

    use_existing = WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
    resp = await client.workflow_service.execute_multi_operation(
        multi("uws-2", '"second"', use_existing), timeout=ANSWER
    )
    start, update = resp.responses[0].start_workflow, resp.responses[1].update_workflow
    assert (start.run_id, start.started, start.status) == (
        run_id,
        False,
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
    )
    ref = start.link.workflow_event
    assert (ref.workflow_id, ref.run_id) == (wf_id, run_id)
    assert (ref.event_ref.event_id, ref.event_ref.event_type) == (
        1,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
    )
    assert update.stage == COMPLETED_STAGE
    assert datas(update.outcome.success) == [b'["init","first","second"]']
    assert_link_to_accepted(update, wf_id, run_id)
    # Through the SDK: the same.
    assert await client.execute_update_with_start_workflow(
        U.add, "third", start_workflow_operation=start_op(), id="uws-3", rpc_timeout=ANSWER
    ) == ["init", "first", "second", "third"]
    # An update id seen before answers its outcome, and names the same run.
    again = start_op()
    assert await client.execute_update_with_start_workflow(
        U.add, "again", start_workflow_operation=again, id="uws-1", rpc_timeout=ANSWER
    ) == ["init", "first"]
    assert (await again.workflow_handle()).result_run_id == run_id
    events = await events_of(handle)
    assert type_names(events) == FIRST_TASK + [ACCEPTED, COMPLETED] + UPDATE_TASK * 2
    assert update_trail(events)[2:] == [
        ("accepted", "uws-2"),
        ("completed", "uws-2"),
        ("accepted", "uws-3"),
        ("completed", "uws-3"),
    ]
    assert accepted_attrs(events[9]).accepted_request.meta.identity == "uws client"

    # FAIL on a running workflow: ALREADY_EXISTS "Update-with-Start could not be executed."
    # with a MultiOperationExecutionFailure: the start's status ALREADY_EXISTS "Workflow
    # execution is already running. WorkflowId: <id>, RunId: <run>." (a
    # WorkflowExecutionAlreadyStartedFailure), the update's ABORTED "Operation was aborted."
    # (MultiOperationExecutionAborted). UNSPECIFIED is the same. The SDK raises
    # WorkflowAlreadyStartedError.
    fail = WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL
    unspecified = WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED
    for policy in (fail, unspecified):
        with pytest.raises(RPCError) as refused:
            await client.workflow_service.execute_multi_operation(
                multi("uws-refused", '"refused"', policy), timeout=ANSWER
            )
        assert refused.value.status == RPCStatusCode.ALREADY_EXISTS, refused.value
        assert refused.value.message == "Update-with-Start could not be executed."
        failure = MultiOperationExecutionFailure()
        assert refused.value.grpc_status.details[0].Unpack(failure)
        start_status, update_status = failure.statuses
        assert start_status.code == RPCStatusCode.ALREADY_EXISTS
        assert start_status.message == (
            f"Workflow execution is already running. WorkflowId: {wf_id}, RunId: {run_id}."
        )
        assert start_status.details[0].Is(WorkflowExecutionAlreadyStartedFailure.DESCRIPTOR)
        assert (update_status.code, update_status.message) == (
            RPCStatusCode.ABORTED,
            "Operation was aborted.",
        )
        assert update_status.details[0].Is(MultiOperationExecutionAborted.DESCRIPTOR)
    with pytest.raises(WorkflowAlreadyStartedError):
        await client.execute_update_with_start_workflow(
            U.add,
            "refused",
            start_workflow_operation=start_op(WorkflowIDConflictPolicy.FAIL),
            rpc_timeout=ANSWER,
        )
    assert await finish(handle) == ["init", "first", "second", "third"]
    assert len(of_type(await events_of(handle), ACCEPTED)) == 3


async def test_update_with_start_whose_update_is_rejected_still_starts(client, worker, wf_id):
    op = WithStartWorkflowOperation(
        U.run,
        [],
        id=wf_id,
        task_queue=worker.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await client.execute_update_with_start_workflow(
            U.add, "bad-start", start_workflow_operation=op, rpc_timeout=ANSWER
        )
    assert rejected.value.cause.message == "rejected 'bad-start'"
    handle = await op.workflow_handle()
    # The run exists and its first task (a normal one) was written; no update event.
    assert type_names(await events_of(handle)) == FIRST_TASK
    assert await finish(handle) == []
