"""Child workflows with the official Python SDK: a parent's StartChildWorkflowExecution command,
the child run it starts, and what the parent's history records of that child's life. Every
test passes against Temporal's dev server (PERDURE_TEST_SERVER=temporal; temporal CLI 1.9.1,
server 1.32.0); the event attributes, causes and messages noted in the comments are what it
wrote.

What they show: the parent's StartChildWorkflowExecutionInitiated keeps the command as written
(with the server's defaults filled in), ChildWorkflowExecutionStarted names the child's first
run, and the child's WorkflowExecutionStarted names its parent, the parent's initiating event
and the root of the tree; how each way a child can end reaches the parent (completed, failed,
timed out, terminated from outside, cancelled by the parent through
RequestCancelExternalWorkflowExecution), always as one close event that points back at the
initiated and started events; a child id that is already running is StartChildWorkflowExecution-
Failed with WORKFLOW_ALREADY_EXISTS; the three parent close policies once the parent completes
(TERMINATE and REQUEST_CANCEL as the server's "history-service" does them, ABANDON leaves the
child alone); 20 children in parallel; a child that continues as new or is retried is still one
child to its parent, and the close event names the child's last run; a child on another task
queue; and a child workflow id over Temporal's 1000-character limit failing the parent's
workflow task with BAD_START_CHILD_EXECUTION_ATTRIBUTES.

Not covered here: children in another namespace (the Python SDK cannot ask for one), a parent
that continues as new or is reset with children open, signalling a child from its parent
(SignalExternalWorkflowExecution), cancellation types other than WAIT_CANCELLATION_COMPLETED,
a child's cron schedule, search attributes, the limit on pending children per workflow
(limit.numPendingChildExecutions), bad start attributes other than the id's length (the SDK
does not send an empty id or type), children through a follower node of a cluster, and
versioning (inherit_build_id is the SDK's choice and is not checked).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta, timezone

from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import (
    ContinueAsNewInitiator,
    EventType,
    ParentClosePolicy,
    RetryState,
    StartChildWorkflowExecutionFailedCause,
    TaskQueueKind,
    WorkflowIdReusePolicy,
    WorkflowTaskFailedCause,
)
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

import workflows
from harness import NAMESPACE
from history import (
    CLOCK_SLACK,
    assert_contiguous_ids,
    event_time,
    events_of,
    of_type,
    run_id_of,
    started_attributes,
    type_names,
)
from rpc import RESULT_TIMEOUT_S
from scenarios import wait_for_event
from waiting import CONDITION_S, wait_until
from workers import running_worker

P = workflows.ChildParent
REJECT_DUPLICATE = WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
ALREADY_EXISTS = (
    StartChildWorkflowExecutionFailedCause.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS
)
INITIATED = "EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED"
START_FAILED = "EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED"
CHILD_STARTED = "EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED"
CHILD_COMPLETED = "EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED"
CHILD_FAILED = "EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED"
CHILD_TIMED_OUT = "EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT"
CHILD_TERMINATED = "EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED"
CHILD_CANCELED = "EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED"
CANCEL_INITIATED = "EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED"
CANCEL_REQUESTED_EXTERNAL = "EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED"
STARTED = "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
COMPLETED = "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
SIGNALED = "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"
CANCEL_REQUESTED = "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED"
#: Temporal's default history.workflowIdReuseMinimalInterval, the session server's setting.
REUSE_MINIMAL_INTERVAL = timedelta(seconds=1)
#: Temporal's identity on the events its history service writes by itself (the parent close
#: policy's terminate and cancel, a cancel request that came from another workflow).
HISTORY_SERVICE = "history-service"


# ---- helpers -----------------------------------------------------------------------------


async def wait_child_idle(client: Client, child_id: str) -> None:
    """Waits until the child exists and its first workflow task completed (it is waiting)."""

    async def idle():
        try:
            events = await events_of(client.get_workflow_handle(child_id))
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return bool(of_type(events, "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"))

    await wait_until(idle, CONDITION_S, f"the first workflow task of child {child_id}")


async def wait_closed(client: Client, wf_id: str) -> WorkflowExecutionStatus:
    """Waits until the current run of ``wf_id`` is closed; returns its status."""

    async def closed():
        status = (await client.get_workflow_handle(wf_id).describe()).status
        return status if status != WorkflowExecutionStatus.RUNNING else None

    return await wait_until(closed, CONDITION_S, f"{wf_id} to close")


async def namespace_id(client: Client) -> str:
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=NAMESPACE)
    )
    assert described.namespace_info.id
    return described.namespace_info.id


async def run_parent(client: Client, task_queue: str, wf_id: str, spec: dict) -> WorkflowHandle:
    return await client.start_workflow(P.run, spec, id=wf_id, task_queue=task_queue)


def the(events: list[HistoryEvent], name: str) -> HistoryEvent:
    found = of_type(events, name)
    assert len(found) == 1, f"{len(found)} x {name} in {type_names(events)}"
    return found[0]


def values(payloads: Payloads) -> list:
    """The decoded JSON values of ``payloads``."""
    assert all(p.metadata["encoding"] == b"json/plain" for p in payloads.payloads)
    return [json.loads(p.data) for p in payloads.payloads]


def without_tasks(events: list[HistoryEvent]) -> list[str]:
    """The event types of ``events`` minus the workflow-task events (whose interleaving with
    the child's notifications depends on timing)."""
    return [t for t in type_names(events) if not t.startswith("EVENT_TYPE_WORKFLOW_TASK_")]


def execution(e) -> tuple[str, str]:
    return (e.workflow_id, e.run_id)


def assert_points_back(attrs, ns_id: str, child: tuple[str, str], child_type: str,
                       initiated: HistoryEvent, started: HistoryEvent) -> None:
    """The attributes every child close event shares: the child's namespace, execution and
    type, and the ids of the parent's initiated and started events."""
    assert attrs.namespace == NAMESPACE
    assert attrs.namespace_id == ns_id
    assert execution(attrs.workflow_execution) == child
    assert attrs.workflow_type.name == child_type
    assert attrs.initiated_event_id == initiated.event_id
    assert attrs.started_event_id == started.event_id


def assert_child_knows_parent(events: list[HistoryEvent], parent: WorkflowHandle,
                              parent_run_id: str, initiated: HistoryEvent, ns_id: str) -> None:
    """The child run's WorkflowExecutionStarted names its parent and the root of the tree."""
    started = started_attributes(events)
    assert started.parent_workflow_namespace == NAMESPACE
    assert started.parent_workflow_namespace_id == ns_id
    assert execution(started.parent_workflow_execution) == (parent.id, parent_run_id)
    assert started.parent_initiated_event_id == initiated.event_id
    # The parent has no parent of its own: it is the root.
    assert execution(started.root_workflow_execution) == (parent.id, parent_run_id)


async def history_pair(client: Client, parent: WorkflowHandle, child_id: str):
    parent_events = await events_of(parent)
    child_events = await events_of(client.get_workflow_handle(child_id))
    assert_contiguous_ids(parent_events)
    assert_contiguous_ids(child_events)
    return parent_events, child_events


# ---- a child that completes ----------------------------------------------------------------


async def test_a_child_completes_and_the_parent_returns_its_result(client, worker, wf_id):
    child_id = f"{wf_id}-child"
    spec = {
        "child": "ChildEcho",
        "args": ["hi"],
        "id": child_id,
        "execution_timeout": 60,
        "run_timeout": 30,
        "task_timeout": 5,
        "memo": {"k": "v"},
        "id_reuse_policy": "REJECT_DUPLICATE",
    }
    parent = await run_parent(client, worker.task_queue, wf_id, spec)
    result = (await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S))["result"]
    parent_run = parent.result_run_id
    # What the SDK told the child: its parent, and attempt 1 on the parent's task queue.
    assert result["value"] == "hi"
    assert result["workflow_id"] == child_id
    assert result["parent"] == [NAMESPACE, wf_id, parent_run]
    assert result["task_queue"] == worker.task_queue
    assert result["attempt"] == 1
    child_run = result["run_id"]

    ns_id = await namespace_id(client)
    events, child_events = await history_pair(client, parent, child_id)
    assert without_tasks(events) == [STARTED, INITIATED, CHILD_STARTED, CHILD_COMPLETED, COMPLETED]

    initiated = the(events, INITIATED)
    # Temporal: the command as written, the server's defaults filled in, namespace and its id
    # added; "header": {} is present and empty (the SDK sends an empty header).
    a = initiated.start_child_workflow_execution_initiated_event_attributes
    assert a.namespace == NAMESPACE
    assert a.namespace_id == ns_id
    assert a.workflow_id == child_id
    assert a.workflow_type.name == "ChildEcho"
    assert a.task_queue.name == worker.task_queue
    assert a.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_NORMAL
    assert values(a.input) == ["hi"]
    assert a.workflow_execution_timeout.ToTimedelta() == timedelta(seconds=60)
    assert a.workflow_run_timeout.ToTimedelta() == timedelta(seconds=30)
    assert a.workflow_task_timeout.ToTimedelta() == timedelta(seconds=5)
    # The SDK's default policy is TERMINATE.
    assert a.parent_close_policy == ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE
    assert a.workflow_id_reuse_policy == REJECT_DUPLICATE
    assert a.HasField("header") and not a.header.fields
    assert {k: json.loads(v.data) for k, v in a.memo.fields.items()} == {"k": "v"}
    assert not a.HasField("retry_policy")
    assert a.cron_schedule == ""
    assert a.control == ""
    # The completion of the workflow task that gave the command.
    assert a.workflow_task_completed_event_id == initiated.event_id - 1
    assert events[initiated.event_id - 2].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED

    started = the(events, CHILD_STARTED)
    s = started.child_workflow_execution_started_event_attributes
    assert s.namespace == NAMESPACE
    assert s.namespace_id == ns_id
    assert s.initiated_event_id == initiated.event_id
    assert execution(s.workflow_execution) == (child_id, child_run)
    assert s.workflow_type.name == "ChildEcho"
    assert s.HasField("header") and not s.header.fields

    done = the(events, CHILD_COMPLETED)
    c = done.child_workflow_execution_completed_event_attributes
    assert values(c.result) == [result]
    assert_points_back(c, ns_id, (child_id, child_run), "ChildEcho", initiated, started)
    # The child's own completion carries the very payload the parent got.
    assert c.result == child_events[-1].workflow_execution_completed_event_attributes.result

    assert type_names(child_events)[-1] == COMPLETED
    cs = started_attributes(child_events)
    assert_child_knows_parent(child_events, parent, parent_run, initiated, ns_id)
    assert cs.workflow_type.name == "ChildEcho"
    assert cs.task_queue.name == worker.task_queue
    assert cs.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_NORMAL
    assert values(cs.input) == ["hi"]
    assert cs.workflow_execution_timeout.ToTimedelta() == timedelta(seconds=60)
    assert cs.workflow_run_timeout.ToTimedelta() == timedelta(seconds=30)
    assert cs.workflow_task_timeout.ToTimedelta() == timedelta(seconds=5)
    # Temporal: the expiration is the execution timeout counted from when the child's start
    # was handled, truncated to the millisecond: after the parent's initiated event, at most
    # the child's started event (5 ms before it in one observed run).
    expires = cs.workflow_execution_expiration_time.ToDatetime(tzinfo=timezone.utc)
    sixty = timedelta(seconds=60)
    assert (
        event_time(initiated) + sixty - timedelta(milliseconds=1)
        <= expires
        <= event_time(child_events[0]) + sixty
    ), (expires, event_time(initiated), event_time(child_events[0]))
    assert cs.attempt == 1
    assert cs.original_execution_run_id == child_run
    assert cs.first_execution_run_id == child_run
    assert cs.continued_execution_run_id == ""
    assert cs.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_UNSPECIFIED
    assert {k: json.loads(v.data) for k, v in cs.memo.fields.items()} == {"k": "v"}
    assert cs.HasField("header") and not cs.header.fields
    # Temporal writes no identity on a child's start (the parent's start has the client's).
    assert cs.identity == ""
    assert started_attributes(events).identity == client.identity
    # The first workflow task honours the child's task timeout.
    scheduled = child_events[1].workflow_task_scheduled_event_attributes
    assert scheduled.start_to_close_timeout.ToTimedelta() == timedelta(seconds=5)

    described = await client.get_workflow_handle(child_id).describe()
    assert (described.parent_id, described.parent_run_id) == (wf_id, parent_run)
    assert (described.root_id, described.root_run_id) == (wf_id, parent_run)


# ---- children that do not complete ----------------------------------------------------------


async def test_a_failing_child_fails_the_parent_s_await(client, worker, wf_id):
    child_id = f"{wf_id}-child"
    parent = await run_parent(
        client, worker.task_queue, wf_id,
        {"child": "FailingWorkflow", "args": ["boom"], "id": child_id},
    )
    seen = await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S)
    ns_id = await namespace_id(client)
    events, child_events = await history_pair(client, parent, child_id)
    child_run = run_id_of(child_events)
    # The SDK raises ChildWorkflowError("Child Workflow execution failed") with the child's
    # ApplicationError as its cause, and fills it from the ChildWorkflowExecutionFailed event.
    assert seen == {
        "error": "ChildWorkflowError",
        "message": "Child Workflow execution failed",
        "namespace": NAMESPACE,
        "workflow_id": child_id,
        "run_id": child_run,
        "workflow_type": "FailingWorkflow",
        "initiated_event_id": 5,
        "started_event_id": 6,
        "retry_state": RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET,
        "cause": "ApplicationError",
        "cause_message": "boom",
    }
    assert without_tasks(events) == [STARTED, INITIATED, CHILD_STARTED, CHILD_FAILED, COMPLETED]
    failed = the(events, CHILD_FAILED).child_workflow_execution_failed_event_attributes
    assert_points_back(
        failed, ns_id, (child_id, child_run), "FailingWorkflow",
        the(events, INITIATED), the(events, CHILD_STARTED),
    )
    assert failed.failure.message == "boom"
    assert failed.failure.application_failure_info.type == "PerdureTestFailure"
    assert failed.failure.application_failure_info.non_retryable
    # Temporal: RETRY_STATE_RETRY_POLICY_NOT_SET (the child had no retry policy), as on the
    # child's own WorkflowExecutionFailed; the failure is the child's, unchanged.
    assert failed.retry_state == RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET
    own = child_events[-1].workflow_execution_failed_event_attributes
    assert type_names(child_events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED"
    assert own.retry_state == RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET
    assert failed.failure == own.failure


async def test_a_child_that_times_out(client, worker, wf_id):
    child_id = f"{wf_id}-child"
    # A SignalCollector that waits for a signal nobody sends, with a 2 s execution timeout.
    parent = await run_parent(
        client, worker.task_queue, wf_id,
        {"child": "SignalCollector", "args": [1], "id": child_id, "execution_timeout": 2},
    )
    seen = await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S)
    ns_id = await namespace_id(client)
    events, child_events = await history_pair(client, parent, child_id)
    child_run = run_id_of(child_events)
    assert (seen["error"], seen["message"]) == (
        "ChildWorkflowError", "Child Workflow execution timed out"
    )
    assert (seen["cause"], seen["cause_message"]) == ("TimeoutError", "Timed out")
    assert seen["retry_state"] == RetryState.RETRY_STATE_TIMEOUT
    assert without_tasks(events) == [
        STARTED, INITIATED, CHILD_STARTED, CHILD_TIMED_OUT, COMPLETED
    ]
    initiated = the(events, INITIATED)
    a = initiated.start_child_workflow_execution_initiated_event_attributes
    # Temporal fills in the run timeout from the execution timeout and caps the 10 s default
    # task timeout at the run timeout: 2 s, 2 s, 2 s.
    assert a.workflow_execution_timeout.ToTimedelta() == timedelta(seconds=2)
    assert a.workflow_run_timeout.ToTimedelta() == timedelta(seconds=2)
    assert a.workflow_task_timeout.ToTimedelta() == timedelta(seconds=2)
    timed_out_event = the(events, CHILD_TIMED_OUT)
    timed_out = timed_out_event.child_workflow_execution_timed_out_event_attributes
    assert_points_back(
        timed_out, ns_id, (child_id, child_run), "SignalCollector",
        initiated, the(events, CHILD_STARTED),
    )
    # Temporal: retry_state RETRY_STATE_TIMEOUT, the same as the child's own
    # WorkflowExecutionTimedOut.
    assert timed_out.retry_state == RetryState.RETRY_STATE_TIMEOUT
    assert type_names(child_events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT"
    own = child_events[-1].workflow_execution_timed_out_event_attributes
    assert own.retry_state == RetryState.RETRY_STATE_TIMEOUT
    assert own.new_execution_run_id == ""
    lived = event_time(child_events[-1]) - event_time(child_events[0])
    assert lived >= timedelta(seconds=2) - CLOCK_SLACK, lived


async def test_a_child_terminated_from_outside(client, worker, wf_id):
    child_id = f"{wf_id}-child"
    parent = await run_parent(
        client, worker.task_queue, wf_id,
        {"child": "SignalCollector", "args": [1], "id": child_id},
    )
    # Idle first, so the termination does not race the child's first workflow task.
    await wait_child_idle(client, child_id)
    await client.get_workflow_handle(child_id).terminate(reason="test terminates the child")
    seen = await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S)
    ns_id = await namespace_id(client)
    events, child_events = await history_pair(client, parent, child_id)
    child_run = run_id_of(child_events)
    assert (seen["error"], seen["message"]) == (
        "ChildWorkflowError", "Child Workflow execution terminated"
    )
    assert (seen["cause"], seen["cause_message"]) == ("TerminatedError", "Terminated")
    assert without_tasks(events) == [
        STARTED, INITIATED, CHILD_STARTED, CHILD_TERMINATED, COMPLETED
    ]
    terminated = the(events, CHILD_TERMINATED).child_workflow_execution_terminated_event_attributes
    assert_points_back(
        terminated, ns_id, (child_id, child_run), "SignalCollector",
        the(events, INITIATED), the(events, CHILD_STARTED),
    )
    assert type_names(child_events)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"
    own = child_events[-1].workflow_execution_terminated_event_attributes
    assert (own.reason, own.identity) == ("test terminates the child", client.identity)


async def test_a_child_cancelled_by_its_parent(client, worker, wf_id):
    child_id = f"{wf_id}-child"
    parent = await run_parent(
        client, worker.task_queue, wf_id,
        {"child": "SignalCollector", "args": [1], "id": child_id, "then": "cancel"},
    )
    await wait_child_idle(client, child_id)
    await parent.signal(P.go)
    seen = await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S)
    ns_id = await namespace_id(client)
    events, child_events = await history_pair(client, parent, child_id)
    parent_run = parent.result_run_id
    child_run = run_id_of(child_events)
    # The default cancellation type (WAIT_CANCELLATION_COMPLETED): the parent's await ends
    # when the child has closed Canceled.
    assert (seen["error"], seen["message"]) == (
        "ChildWorkflowError", "Child Workflow execution cancelled"
    )
    assert (seen["cause"], seen["cause_message"]) == ("CancelledError", "Cancelled")
    # Temporal, with the Python SDK: the cancellation is a RequestCancelExternalWorkflowExecution
    # command with child_workflow_only; the server records the request as delivered, then the
    # child's close.
    assert without_tasks(events) == [
        STARTED,
        INITIATED,
        CHILD_STARTED,
        SIGNALED,
        CANCEL_INITIATED,
        CANCEL_REQUESTED_EXTERNAL,
        CHILD_CANCELED,
        COMPLETED,
    ]
    cancel_initiated = the(events, CANCEL_INITIATED)
    ci = cancel_initiated.request_cancel_external_workflow_execution_initiated_event_attributes
    assert ci.namespace == NAMESPACE
    assert ci.namespace_id == ns_id
    # The SDK names the child's run.
    assert execution(ci.workflow_execution) == (child_id, child_run)
    assert ci.child_workflow_only
    assert (ci.control, ci.reason) == ("", "")
    assert ci.workflow_task_completed_event_id == cancel_initiated.event_id - 1
    assert (
        events[cancel_initiated.event_id - 2].event_type
        == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    requested = the(events, CANCEL_REQUESTED_EXTERNAL)
    r = requested.external_workflow_execution_cancel_requested_event_attributes
    assert r.initiated_event_id == cancel_initiated.event_id
    assert r.namespace == NAMESPACE
    assert r.namespace_id == ns_id
    assert execution(r.workflow_execution) == (child_id, child_run)
    canceled = the(events, CHILD_CANCELED).child_workflow_execution_canceled_event_attributes
    assert_points_back(
        canceled, ns_id, (child_id, child_run), "SignalCollector",
        the(events, INITIATED), the(events, CHILD_STARTED),
    )
    assert not canceled.details.payloads

    # The child: WorkflowExecutionCancelRequested naming the parent's initiating event and
    # run, written by Temporal's "history-service", with no cause; then it closes Canceled.
    assert without_tasks(child_events) == [
        STARTED, CANCEL_REQUESTED, "EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED"
    ]
    cr = the(child_events, CANCEL_REQUESTED).workflow_execution_cancel_requested_event_attributes
    assert cr.external_initiated_event_id == cancel_initiated.event_id
    assert execution(cr.external_workflow_execution) == (wf_id, parent_run)
    assert cr.identity == HISTORY_SERVICE
    assert cr.cause == ""


# ---- a child id that is taken ---------------------------------------------------------------


async def test_a_child_id_that_is_already_running_fails_the_start(client, worker, wf_id):
    taken = f"{wf_id}-taken"
    other = await client.start_workflow(
        workflows.SignalCollector.run, 1, id=taken, task_queue=worker.task_queue
    )
    parent = await run_parent(
        client, worker.task_queue, wf_id, {"child": "ChildEcho", "args": ["x"], "id": taken}
    )
    seen = await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S)
    # The SDK raises WorkflowAlreadyStartedError in the parent; it knows no run id.
    assert seen == {
        "error": "WorkflowAlreadyStartedError",
        "message": "Workflow execution already started",
        "workflow_id": taken,
        "workflow_type": "ChildEcho",
        "run_id": None,
    }
    ns_id = await namespace_id(client)
    events = await events_of(parent)
    assert_contiguous_ids(events)
    assert without_tasks(events) == [STARTED, INITIATED, START_FAILED, COMPLETED]
    initiated = the(events, INITIATED)
    f = the(events, START_FAILED).start_child_workflow_execution_failed_event_attributes
    # Temporal: namespace, its id, workflow id and type, the cause and the initiated event;
    # no workflow_task_completed_event_id (0) and no control.
    assert f.namespace == NAMESPACE
    assert f.namespace_id == ns_id
    assert f.workflow_id == taken
    assert f.workflow_type.name == "ChildEcho"
    assert f.cause == ALREADY_EXISTS
    assert f.initiated_event_id == initiated.event_id
    assert f.workflow_task_completed_event_id == 0
    assert f.control == ""

    # The running workflow is untouched: same run, no parent, and it still takes its signal.
    described = await other.describe()
    assert described.run_id == other.result_run_id
    assert described.parent_id is None
    await other.signal(workflows.SignalCollector.add, "still mine")
    assert await asyncio.wait_for(other.result(), RESULT_TIMEOUT_S) == ["still mine"]
    other_events = await events_of(other)
    assert not started_attributes(other_events).HasField("parent_workflow_execution")


# ---- parent close policies ----------------------------------------------------------------


async def _parent_returns_early(client, worker, wf_id: str, policy: str):
    """Runs a parent that starts a SignalCollector child with ``policy`` and completes while
    the child waits; returns (parent handle, parent run id, child id, child run id)."""
    child_id = f"{wf_id}-child"
    parent = await run_parent(
        client,
        worker.task_queue,
        wf_id,
        {
            "child": "SignalCollector",
            "args": [1],
            "id": child_id,
            "then": "return",
            "parent_close_policy": policy,
        },
    )
    await wait_child_idle(client, child_id)
    await parent.signal(P.go)
    seen = await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S)
    events = await events_of(parent)
    a = the(events, INITIATED).start_child_workflow_execution_initiated_event_attributes
    assert a.parent_close_policy == ParentClosePolicy.Value(f"PARENT_CLOSE_POLICY_{policy}")
    return parent, parent.result_run_id, child_id, seen["started"]


async def _assert_parent_saw_no_close(parent: WorkflowHandle) -> None:
    """The parent closed before its child: its history ends with its own completion and holds
    no child close event."""
    events = await events_of(parent)
    assert_contiguous_ids(events)
    assert without_tasks(events) == [STARTED, INITIATED, CHILD_STARTED, SIGNALED, COMPLETED]


async def test_parent_close_policy_terminate(client, worker, wf_id):
    parent, parent_run, child_id, child_run = await _parent_returns_early(
        client, worker, wf_id, "TERMINATE"
    )
    assert await wait_closed(client, child_id) == WorkflowExecutionStatus.TERMINATED
    child_events = await events_of(client.get_workflow_handle(child_id))
    assert_contiguous_ids(child_events)
    assert run_id_of(child_events) == child_run
    assert without_tasks(child_events) == [STARTED, "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"]
    t = child_events[-1].workflow_execution_terminated_event_attributes
    # Temporal: reason "by parent close policy", identity "history-service", no details.
    assert (t.reason, t.identity) == ("by parent close policy", HISTORY_SERVICE)
    assert not t.details.payloads
    await _assert_parent_saw_no_close(parent)


async def test_parent_close_policy_request_cancel(client, worker, wf_id):
    parent, parent_run, child_id, child_run = await _parent_returns_early(
        client, worker, wf_id, "REQUEST_CANCEL"
    )
    # The SignalCollector child lets the cancellation through and closes Canceled.
    assert await wait_closed(client, child_id) == WorkflowExecutionStatus.CANCELED
    child_events = await events_of(client.get_workflow_handle(child_id))
    assert_contiguous_ids(child_events)
    assert run_id_of(child_events) == child_run
    assert without_tasks(child_events) == [
        STARTED, CANCEL_REQUESTED, "EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED"
    ]
    cr = the(child_events, CANCEL_REQUESTED).workflow_execution_cancel_requested_event_attributes
    # Temporal: names the parent's run but no initiating event (external_initiated_event_id
    # 0: there is no command behind it), identity "history-service", no cause.
    assert execution(cr.external_workflow_execution) == (parent.id, parent_run)
    assert cr.external_initiated_event_id == 0
    assert cr.identity == HISTORY_SERVICE
    assert cr.cause == ""
    await _assert_parent_saw_no_close(parent)


async def test_parent_close_policy_abandon(client, worker, wf_id):
    parent, parent_run, child_id, child_run = await _parent_returns_early(
        client, worker, wf_id, "ABANDON"
    )
    # A witness: a TERMINATE parent that closes after this one. Once its child is terminated,
    # the server has applied the close policies of parents closed before it (no sleep-and-hope
    # for something that must not happen).
    _, _, witness_child, _ = await _parent_returns_early(
        client, worker, f"{wf_id}-witness", "TERMINATE"
    )
    assert await wait_closed(client, witness_child) == WorkflowExecutionStatus.TERMINATED
    child = client.get_workflow_handle(child_id)
    # The child outlives its parent and still works: a signal finishes it.
    assert (await child.describe()).status == WorkflowExecutionStatus.RUNNING
    await child.signal(workflows.SignalCollector.add, "after the parent")
    assert await asyncio.wait_for(child.result(), RESULT_TIMEOUT_S) == ["after the parent"]
    child_events = await events_of(child)
    assert_contiguous_ids(child_events)
    assert run_id_of(child_events) == child_run
    # No cancel request, no termination: only the signal, then its own completion.
    assert without_tasks(child_events) == [STARTED, SIGNALED, COMPLETED]
    assert_child_knows_parent(
        child_events, parent, parent_run, the(await events_of(parent), INITIATED),
        await namespace_id(client),
    )
    await _assert_parent_saw_no_close(parent)


# ---- many children, and children made of several runs ----------------------------------------


FAN_OUT = 20


async def test_twenty_children_in_parallel(client, worker, wf_id):
    parent = await client.start_workflow(
        workflows.ChildFanOut.run, FAN_OUT, id=wf_id, task_queue=worker.task_queue
    )
    assert await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S) == 2 * sum(range(FAN_OUT))
    events = await events_of(parent)
    assert_contiguous_ids(events)
    assert type_names(events)[-1] == COMPLETED
    initiated = {
        e.event_id: e.start_child_workflow_execution_initiated_event_attributes
        for e in of_type(events, INITIATED)
    }
    started = {
        e.event_id: e.child_workflow_execution_started_event_attributes
        for e in of_type(events, CHILD_STARTED)
    }
    completed = [
        e.child_workflow_execution_completed_event_attributes
        for e in of_type(events, CHILD_COMPLETED)
    ]
    assert (len(initiated), len(started), len(completed)) == (FAN_OUT, FAN_OUT, FAN_OUT)
    # One command per child, in the order the workflow gave them, one task for all 20.
    assert [a.workflow_id for a in initiated.values()] == [
        f"{wf_id}-child-{i}" for i in range(FAN_OUT)
    ]
    assert len({a.workflow_task_completed_event_id for a in initiated.values()}) == 1
    # Each start and each completion points at its own initiated event, once.
    assert sorted(s.initiated_event_id for s in started.values()) == sorted(initiated)
    assert sorted(c.initiated_event_id for c in completed) == sorted(initiated)
    for c in completed:
        s = started[c.started_event_id]
        assert s.initiated_event_id == c.initiated_event_id
        assert execution(c.workflow_execution) == execution(s.workflow_execution)
        child_id = initiated[c.initiated_event_id].workflow_id
        assert c.workflow_execution.workflow_id == child_id
        assert values(c.result) == [2 * int(child_id.rsplit("-", 1)[1])]
    # Every child ran once: one run, completed.
    for i in range(FAN_OUT):
        child_events = await events_of(client.get_workflow_handle(f"{wf_id}-child-{i}"))
        assert_contiguous_ids(child_events)
        assert type_names(child_events)[-1] == COMPLETED
        assert started_attributes(child_events).parent_workflow_execution.workflow_id == wf_id


async def test_a_child_that_continues_as_new_is_one_child(client, worker, wf_id):
    child_id = f"{wf_id}-child"
    # ContinueAsNewCounter(0, 1) continues as new once, then returns 1.
    parent = await run_parent(
        client, worker.task_queue, wf_id,
        {"child": "ContinueAsNewCounter", "args": [0, 1], "id": child_id},
    )
    assert await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S) == {"result": 1}
    parent_run = parent.result_run_id
    ns_id = await namespace_id(client)
    events = await events_of(parent)
    assert_contiguous_ids(events)
    assert without_tasks(events) == [STARTED, INITIATED, CHILD_STARTED, CHILD_COMPLETED, COMPLETED]
    initiated = the(events, INITIATED)
    started = the(events, CHILD_STARTED)
    s = started.child_workflow_execution_started_event_attributes

    first_run = s.workflow_execution.run_id
    first = await events_of(client.get_workflow_handle(child_id, run_id=first_run))
    assert_contiguous_ids(first)
    assert type_names(first)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW"
    second_run = first[-1].workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    second = await events_of(client.get_workflow_handle(child_id, run_id=second_run))
    assert_contiguous_ids(second)
    assert type_names(second)[-1] == COMPLETED

    # Started names the first run; Completed (Temporal) names the LAST run, the one that
    # completed, with its result.
    assert execution(s.workflow_execution) == (child_id, run_id_of(first))
    c = the(events, CHILD_COMPLETED).child_workflow_execution_completed_event_attributes
    assert_points_back(c, ns_id, (child_id, second_run), "ContinueAsNewCounter", initiated, started)
    assert values(c.result) == [1]

    # Both runs know the parent; the second is the first's continuation.
    assert_child_knows_parent(first, parent, parent_run, initiated, ns_id)
    assert_child_knows_parent(second, parent, parent_run, initiated, ns_id)
    ss = started_attributes(second)
    assert ss.continued_execution_run_id == run_id_of(first)
    assert ss.first_execution_run_id == run_id_of(first)
    assert ss.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW
    assert values(ss.input) == [1, 1]


async def test_a_child_on_another_task_queue(client, worker, wf_id):
    child_id = f"{wf_id}-child"
    async with running_worker(client, prefix="e2e-children") as other:
        parent = await run_parent(
            client, worker.task_queue, wf_id,
            {"child": "ChildEcho", "args": ["q"], "id": child_id, "task_queue": other.task_queue},
        )
        result = (await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S))["result"]
    assert other.task_queue != worker.task_queue
    assert result["task_queue"] == other.task_queue
    events, child_events = await history_pair(client, parent, child_id)
    a = the(events, INITIATED).start_child_workflow_execution_initiated_event_attributes
    assert a.task_queue.name == other.task_queue
    assert a.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_NORMAL
    cs = started_attributes(child_events)
    assert cs.task_queue.name == other.task_queue
    # The child's first workflow task went to the other queue (the parent's stayed on its own).
    child_task = child_events[1].workflow_task_scheduled_event_attributes
    assert child_task.task_queue.name == other.task_queue
    assert events[1].workflow_task_scheduled_event_attributes.task_queue.name == worker.task_queue
    c = the(events, CHILD_COMPLETED).child_workflow_execution_completed_event_attributes
    assert values(c.result) == [result]


async def test_a_retried_child_is_one_child(client, worker, wf_id):
    child_id = f"{wf_id}-child"
    # Fails attempt 1 (retryable); the retry policy runs attempt 2 after 0.2 s.
    parent = await run_parent(
        client, worker.task_queue, wf_id,
        {"child": "ChildFailsFirstAttempt", "args": [], "id": child_id, "retry": [3, 0.2]},
    )
    result = (await asyncio.wait_for(parent.result(), RESULT_TIMEOUT_S))["result"]
    assert result["attempt"] == 2
    parent_run = parent.result_run_id
    ns_id = await namespace_id(client)
    events = await events_of(parent)
    assert_contiguous_ids(events)
    # One start, one completion; the failed attempt never reaches the parent.
    assert without_tasks(events) == [STARTED, INITIATED, CHILD_STARTED, CHILD_COMPLETED, COMPLETED]
    initiated = the(events, INITIATED)
    a = initiated.start_child_workflow_execution_initiated_event_attributes
    # Temporal fills in the maximum interval: 100 x the initial interval.
    assert a.retry_policy.initial_interval.ToTimedelta() == timedelta(milliseconds=200)
    assert a.retry_policy.backoff_coefficient == 1.0
    assert a.retry_policy.maximum_interval.ToTimedelta() == timedelta(seconds=20)
    assert a.retry_policy.maximum_attempts == 3
    started = the(events, CHILD_STARTED)
    s = started.child_workflow_execution_started_event_attributes

    first_run = s.workflow_execution.run_id
    first = await events_of(client.get_workflow_handle(child_id, run_id=first_run))
    assert_contiguous_ids(first)
    assert type_names(first)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED"
    f = first[-1].workflow_execution_failed_event_attributes
    assert f.retry_state == RetryState.RETRY_STATE_IN_PROGRESS
    retry_run = f.new_execution_run_id
    assert retry_run == result["run_id"]
    second = await events_of(client.get_workflow_handle(child_id, run_id=retry_run))
    assert_contiguous_ids(second)
    assert type_names(second)[-1] == COMPLETED

    # Started names attempt 1's run; Completed (Temporal) names the retry's run.
    assert execution(s.workflow_execution) == (child_id, run_id_of(first))
    c = the(events, CHILD_COMPLETED).child_workflow_execution_completed_event_attributes
    assert_points_back(
        c, ns_id, (child_id, retry_run), "ChildFailsFirstAttempt", initiated, started
    )
    assert values(c.result) == [result]

    assert_child_knows_parent(first, parent, parent_run, initiated, ns_id)
    assert_child_knows_parent(second, parent, parent_run, initiated, ns_id)
    ss = started_attributes(second)
    assert ss.attempt == 2
    assert ss.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY
    assert ss.continued_execution_run_id == run_id_of(first)
    assert ss.first_execution_run_id == run_id_of(first)
    assert ss.continued_failure.message == "attempt 1 fails"
    # Temporal: the retry waits the policy's 0.2 s or, if longer, what is left of the minimal
    # interval between two runs of one id (history.workflowIdReuseMinimalInterval, 1 s) since
    # attempt 1 started: 0.81 s in one observed run, not 0.2 s.
    backoff = ss.first_workflow_task_backoff.ToTimedelta()
    rest = event_time(first[0]) + REUSE_MINIMAL_INTERVAL - event_time(second[0])
    assert abs(backoff - max(timedelta(milliseconds=200), rest)) <= timedelta(milliseconds=20), (
        backoff,
        rest,
    )
    waited = event_time(second[1]) - event_time(second[0])
    assert waited >= backoff - CLOCK_SLACK, (waited, backoff)


# ---- bad start attributes --------------------------------------------------------------------


async def test_a_child_id_over_the_length_limit_fails_the_workflow_task(client, worker, wf_id):
    # Temporal's limit.maxIDLength is 1000; the SDK sends whatever it is given.
    parent = await run_parent(
        client, worker.task_queue, wf_id, {"child": "ChildEcho", "args": ["x"], "id": "x" * 1001}
    )
    try:
        await wait_for_event(parent, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED, CONDITION_S)
        events = await events_of(parent)
    finally:
        await parent.terminate(reason="test over")
    # Temporal refuses RespondWorkflowTaskCompleted (INVALID_ARGUMENT) and fails the task:
    # no child is initiated.
    assert type_names(events)[:4] == [
        STARTED,
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_FAILED",
    ]
    assert not of_type(events, INITIATED)
    failed = events[3].workflow_task_failed_event_attributes
    assert (
        failed.cause
        == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES
    )
    # Temporal: "BadStartChildExecutionAttributes: WorkflowId on StartChildWorkflowExecutionCommand
    # exceeds length limit. WorkflowId=xxx... Length=1001 Limit=1000 WorkflowType=ChildEcho
    # Namespace=default", with an empty server_failure_info.
    assert failed.failure.message.startswith(
        "BadStartChildExecutionAttributes: WorkflowId on StartChildWorkflowExecutionCommand "
        "exceeds length limit."
    ), failed.failure.message
    assert "Length=1001 Limit=1000" in failed.failure.message
    assert failed.failure.HasField("server_failure_info")
    assert (failed.scheduled_event_id, failed.started_event_id) == (2, 3)
