"""What starts, signals and terminates answer and record besides their main result, as
Temporal's server fills it: every test passes against Temporal's dev server too
(PERDURE_TEST_SERVER=temporal).

StartWorkflowExecution: a new run is `started`, RUNNING, its own first execution, with a link
to its WorkflowExecutionStarted event; the same request id again answers as the first time
(started, the same link) with the status the run has now, even once it is closed; a
USE_EXISTING start keeps the running run (not started); a refused start's
WorkflowExecutionAlreadyStartedFailure names the run, its start's request id and the chain's
first run. SignalWithStart links the signal by its request id; SignalWorkflowExecution links
its WorkflowExecutionSignaled event by request id, on the run it reached.
TerminateWorkflowExecution without a reason or identity records Temporal's defaults; calls
naming a run that does not exist answer NotFound naming the workflow and run ids. A workflow
task completed with only a binary checksum (what the SDKs send a server that advertises no
build-id versioning) sets Temporal's automatic BuildIds and BinaryChecksums attributes.

Not covered here: the first run of a longer chain (continue-as-new; perdure-history's start
tests), eager workflow start (Perdure does not do it).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.api.common.v1 import Link, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import EventType, WorkflowExecutionStatus, WorkflowIdConflictPolicy
from temporalio.api.errordetails.v1 import WorkflowExecutionAlreadyStartedFailure
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
    ListWorkflowExecutionsRequest,
    PollWorkflowTaskQueueRequest,
    RespondWorkflowTaskCompletedRequest,
    SignalWithStartWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from harness import NAMESPACE
from rpc import ANSWER
from waiting import CONDITION_S, wait_until

RUNNING = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
STARTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
SIGNALED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED


def start_request(wf_id: str, request_id: str, **kw) -> StartWorkflowExecutionRequest:
    # Nobody polls this queue: the run stays as started.
    return StartWorkflowExecutionRequest(
        namespace=NAMESPACE,
        workflow_id=wf_id,
        workflow_type=WorkflowType(name="NobodyRunsThis"),
        task_queue=TaskQueue(name=f"idle-{uuid.uuid4()}"),
        request_id=request_id,
        identity="start-answers",
        **kw,
    )


def started_link(wf_id: str, run_id: str) -> Link:
    link = Link()
    e = link.workflow_event
    e.namespace, e.workflow_id, e.run_id = NAMESPACE, wf_id, run_id
    e.event_ref.event_id, e.event_ref.event_type = 1, STARTED
    return link


def signaled_link(wf_id: str, run_id: str, request_id: str) -> Link:
    link = Link()
    e = link.workflow_event
    e.namespace, e.workflow_id, e.run_id = NAMESPACE, wf_id, run_id
    e.request_id_ref.request_id, e.request_id_ref.event_type = request_id, SIGNALED
    return link


async def test_a_start_answers_status_link_and_first_run_also_when_retried(
    client: Client, wf_id: str
):
    svc = client.workflow_service
    first = await svc.start_workflow_execution(start_request(wf_id, "req-1"), timeout=ANSWER)
    run = first.run_id
    assert (first.started, first.status, first.first_execution_run_id) == (True, RUNNING, run)
    assert first.link == started_link(wf_id, run)

    # The same request id: the first answer again.
    again = await svc.start_workflow_execution(start_request(wf_id, "req-1"), timeout=ANSWER)
    assert again == first

    # USE_EXISTING keeps the running run: not started by this call.
    use_existing = WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
    kept = await svc.start_workflow_execution(
        start_request(wf_id, "req-2", workflow_id_conflict_policy=use_existing), timeout=ANSWER
    )
    assert (kept.run_id, kept.started, kept.status) == (run, False, RUNNING)
    assert kept.first_execution_run_id == run
    assert kept.link == started_link(wf_id, run)

    # Another request id is refused, naming the run, its start and the chain's first run.
    with pytest.raises(RPCError) as refused:
        await svc.start_workflow_execution(start_request(wf_id, "req-3"), timeout=ANSWER)
    assert refused.value.status == RPCStatusCode.ALREADY_EXISTS, refused.value
    details = refused.value.grpc_status.details
    assert len(details) == 1 and details[0].Is(WorkflowExecutionAlreadyStartedFailure.DESCRIPTOR)
    failure = WorkflowExecutionAlreadyStartedFailure()
    details[0].Unpack(failure)
    assert (failure.start_request_id, failure.run_id, failure.first_execution_run_id) == (
        "req-1",
        run,
        run,
    )

    # Closed: the retried start still answers "started", with the status it has now.
    await svc.terminate_workflow_execution(
        TerminateWorkflowExecutionRequest(
            namespace=NAMESPACE, workflow_execution=WorkflowExecution(workflow_id=wf_id)
        ),
        timeout=ANSWER,
    )
    late = await svc.start_workflow_execution(start_request(wf_id, "req-1"), timeout=ANSWER)
    assert (late.run_id, late.started, late.first_execution_run_id) == (run, True, run)
    assert late.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED
    assert late.link == started_link(wf_id, run)

    # Listed closed: with its state transitions (start, terminate), and an empty memo and
    # search attributes rather than none (the run set neither).
    async def closed_row():
        listed = await svc.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace=NAMESPACE, query=f'WorkflowId = "{wf_id}"'),
            timeout=ANSWER,
        )
        rows = [e for e in listed.executions if e.status == late.status]
        return rows[0] if rows else None

    row = await wait_until(closed_row, CONDITION_S, "the terminated run to be listed closed")
    assert row.state_transition_count == 2
    assert row.HasField("memo") and not row.memo.fields
    assert row.HasField("search_attributes") and not row.search_attributes.indexed_fields


async def test_signals_link_their_event_by_request_id(client: Client, wf_id: str):
    svc = client.workflow_service
    sws = await svc.signal_with_start_workflow_execution(
        SignalWithStartWorkflowExecutionRequest(
            namespace=NAMESPACE,
            workflow_id=wf_id,
            workflow_type=WorkflowType(name="NobodyRunsThis"),
            task_queue=TaskQueue(name=f"idle-{uuid.uuid4()}"),
            signal_name="go",
            request_id="sws-req",
        ),
        timeout=ANSWER,
    )
    run = sws.run_id
    assert (sws.started, sws.first_execution_run_id) == (True, run)
    assert sws.signal_link == signaled_link(wf_id, run, "sws-req")

    # By workflow id only: the link names the run the signal reached.
    signalled = await svc.signal_workflow_execution(
        SignalWorkflowExecutionRequest(
            namespace=NAMESPACE,
            workflow_execution=WorkflowExecution(workflow_id=wf_id),
            signal_name="more",
            request_id="sig-req",
        ),
        timeout=ANSWER,
    )
    assert signalled.link == signaled_link(wf_id, run, "sig-req")
    # A signal without a request id: the link's reference has none either.
    bare = await svc.signal_workflow_execution(
        SignalWorkflowExecutionRequest(
            namespace=NAMESPACE,
            workflow_execution=WorkflowExecution(workflow_id=wf_id, run_id=run),
            signal_name="more",
        ),
        timeout=ANSWER,
    )
    assert bare.link == signaled_link(wf_id, run, "")


async def test_terminate_defaults_and_not_found_naming_the_run(client: Client, wf_id: str):
    svc = client.workflow_service
    started = await svc.start_workflow_execution(start_request(wf_id, "t-req"), timeout=ANSWER)
    await svc.terminate_workflow_execution(
        TerminateWorkflowExecutionRequest(
            namespace=NAMESPACE, workflow_execution=WorkflowExecution(workflow_id=wf_id)
        ),
        timeout=ANSWER,
    )
    history = await svc.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace=NAMESPACE,
            execution=WorkflowExecution(workflow_id=wf_id, run_id=started.run_id),
        ),
        timeout=ANSWER,
    )
    last = history.history.events[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
    attrs = last.workflow_execution_terminated_event_attributes
    assert (attrs.reason, attrs.identity) == ("terminated by user via frontend", "frontend-service")

    missing = str(uuid.uuid4())
    expected = f'workflow execution not found for workflow ID "{wf_id}" and run ID "{missing}"'
    execution = WorkflowExecution(workflow_id=wf_id, run_id=missing)
    calls = {
        "describe": svc.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(namespace=NAMESPACE, execution=execution),
            timeout=ANSWER,
        ),
        "history": svc.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(namespace=NAMESPACE, execution=execution),
            timeout=ANSWER,
        ),
        "signal": svc.signal_workflow_execution(
            SignalWorkflowExecutionRequest(
                namespace=NAMESPACE, workflow_execution=execution, signal_name="s"
            ),
            timeout=ANSWER,
        ),
        "terminate": svc.terminate_workflow_execution(
            TerminateWorkflowExecutionRequest(namespace=NAMESPACE, workflow_execution=execution),
            timeout=ANSWER,
        ),
    }
    for name, call in calls.items():
        with pytest.raises(RPCError) as err:
            await call
        assert (err.value.status, err.value.message) == (RPCStatusCode.NOT_FOUND, expected), name


async def test_a_completed_task_sets_the_automatic_build_attributes(client: Client, wf_id: str):
    svc = client.workflow_service
    request = start_request(wf_id, "b-req")
    await svc.start_workflow_execution(request, timeout=ANSWER)
    for checksum in ("cs1", "cs1", "cs2"):
        task = await svc.poll_workflow_task_queue(
            PollWorkflowTaskQueueRequest(
                namespace=NAMESPACE, task_queue=request.task_queue, identity="raw"
            ),
            timeout=timedelta(seconds=30),
        )
        assert task.task_token, "a workflow task"
        await svc.respond_workflow_task_completed(
            RespondWorkflowTaskCompletedRequest(
                namespace=NAMESPACE,
                task_token=task.task_token,
                identity="raw",
                binary_checksum=checksum,
            ),
            timeout=ANSWER,
        )
        # The next task: a signal makes one.
        await svc.signal_workflow_execution(
            SignalWorkflowExecutionRequest(
                namespace=NAMESPACE,
                workflow_execution=WorkflowExecution(workflow_id=wf_id),
                signal_name="next",
            ),
            timeout=ANSWER,
        )
    described = await svc.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=wf_id)
        ),
        timeout=ANSWER,
    )
    fields = described.workflow_execution_info.search_attributes.indexed_fields
    assert {k: (v.metadata["type"], v.data) for k, v in fields.items()} == {
        "BuildIds": (b"KeywordList", b'["unversioned"]'),
        "BinaryChecksums": (b"KeywordList", b'["cs1","cs2"]'),
    }
