"""Workflow queries: QueryWorkflow as the Python SDK and the raw API use it, answered either on a
query task (RespondQueryTaskCompleted) or attached to a workflow task (query_results of
RespondWorkflowTaskCompleted). Every test passes against Temporal's dev server
(PERDURE_TEST_SERVER=temporal; temporal CLI 1.9.1, server 1.32.0); the codes and messages noted
in the comments are what it answered.

What they show: a query sees every signal acknowledged before it (strong consistency), whether
the workflow is idle on a sticky worker, its workflow task is scheduled with nobody to run it,
its first task has not run yet, or a task is in flight when the query arrives; a query waiting on
a task is answered on that task (the raw worker sees it in ``queries``) and a second one waiting
is refused (RESOURCE_EXHAUSTED); an idle workflow gets a query task (``query`` set on the poll
response) answered by RespondQueryTaskCompleted; a closed workflow is answered by replay, and the
reject conditions NOT_OPEN / NOT_COMPLETED_CLEANLY reject with the closed status; a failing or
unknown query handler is QueryFailed; nobody polling means the caller's deadline expires; a
delayed start (start_delay) is FAILED_PRECONDITION unless the deadline outlives the delay; bad
input is refused with Temporal's codes. Queries never write history events.

Not covered here: queries through a follower node of a cluster, queries to a workflow whose
workflow task keeps failing (Temporal fails them fast from attempt 3), the sticky-queue timeout
fallback (a sticky worker that vanishes without ShutdownWorker), queries with headers or
payload codecs, and update (UpdateWorkflowExecution).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import QueryResultType, TaskQueueKind
from temporalio.api.errordetails.v1 import (
    NamespaceNotFoundFailure,
    NotFoundFailure,
    QueryFailedFailure,
    ResourceExhaustedFailure,
    WorkflowNotReadyFailure,
)
from temporalio.api.query.v1 import WorkflowQuery, WorkflowQueryResult
from temporalio.api.workflowservice.v1 import (
    QueryWorkflowRequest,
    RespondQueryTaskCompletedRequest,
    RespondWorkflowTaskCompletedRequest,
)
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.common import QueryRejectCondition
from temporalio.service import RPCError, RPCStatusCode

import workflows
from harness import NAMESPACE
from history import assert_contiguous_ids, events_of, of_type, type_names
from rpc import (
    ANSWER,
    RPC_TIMEOUT,
    RawRun,
    assert_blocked,
    detail_is,
    finish,
    is_timeout,
    json_payloads,
)
from workers import running_worker

Q = workflows.QueryableCollector
#: The only events a QueryableCollector run writes: queries add none (no failed or timed-out
#: workflow task either).
QUIET_EVENTS = {
    "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
    "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    "EVENT_TYPE_WORKFLOW_TASK_STARTED",
    "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
}


async def assert_quiet_history(handle: WorkflowHandle, values: list[str]) -> None:
    """Contiguous ids, only QUIET_EVENTS, and exactly the ``add`` signals of ``values``."""
    events = await events_of(handle)
    assert_contiguous_ids(events)
    assert set(type_names(events)) <= QUIET_EVENTS, type_names(events)
    added = [
        e.workflow_execution_signaled_event_attributes.input.payloads[0].data.decode()
        for e in of_type(events, "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED")
        if e.workflow_execution_signaled_event_attributes.signal_name == "add"
    ]
    assert added == [f'"{v}"' for v in values]


async def started_then_idle(client: Client, wf_id: str) -> tuple[WorkflowHandle, str]:
    """A QueryableCollector whose first task completed on a worker that then shut down (the
    SDK's ShutdownWorker hands its sticky runs back). Returns the handle and the task queue."""
    async with running_worker(client) as w:
        handle = await client.start_workflow(Q.run, False, id=wf_id, task_queue=w.task_queue)
        # Answered only once the first workflow task completed.
        assert await handle.query(Q.values_so_far, rpc_timeout=ANSWER) == []
    return handle, w.task_queue


# ---- the SDK's view ----------------------------------------------------------------------


async def test_a_query_sees_every_signal_acknowledged_before_it(client, worker, wf_id):
    handle = await client.start_workflow(Q.run, False, id=wf_id, task_queue=worker.task_queue)
    await handle.signal(Q.add, "a")
    assert await handle.query(Q.values_so_far, rpc_timeout=ANSWER) == ["a"]
    await handle.signal(Q.add, "b")
    await handle.signal(Q.add, "c")
    assert await handle.query(Q.values_so_far, rpc_timeout=ANSWER) == ["a", "b", "c"]
    # Arguments reach the handler.
    assert await handle.query(Q.value_at, 1, rpc_timeout=ANSWER) == "b"
    assert await handle.query(Q.value_at, 2, rpc_timeout=ANSWER) == "c"
    # Reject conditions do not apply to a running workflow.
    for condition in (QueryRejectCondition.NOT_OPEN, QueryRejectCondition.NOT_COMPLETED_CLEANLY):
        assert await handle.query(
            Q.values_so_far, reject_condition=condition, rpc_timeout=ANSWER
        ) == ["a", "b", "c"]
    assert await finish(handle) == ["a", "b", "c"]
    await assert_quiet_history(handle, ["a", "b", "c"])


async def test_queries_on_a_sticky_worker_interleaved_with_signals(client, worker, wf_id):
    """The normal case: the worker keeps the run cached and its tasks go to its sticky queue;
    every one of 20 queries, each right after a signal, sees exactly the signals so far."""
    handle = await client.start_workflow(Q.run, False, id=wf_id, task_queue=worker.task_queue)
    sent: list[str] = []
    for i in range(20):
        sent.append(f"v{i}")
        await handle.signal(Q.add, sent[-1])
        assert await handle.query(Q.values_so_far, rpc_timeout=ANSWER) == sent, f"round {i}"
        assert await handle.query(Q.value_at, i, rpc_timeout=ANSWER) == sent[-1]
    assert await finish(handle) == sent
    await assert_quiet_history(handle, sent)
    events = await events_of(handle)
    first, *rest = [
        e.workflow_task_scheduled_event_attributes.task_queue
        for e in of_type(events, "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED")
    ]
    assert first.kind == TaskQueueKind.TASK_QUEUE_KIND_NORMAL
    assert rest and all(q.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY for q in rest), rest


async def test_a_query_waits_for_the_scheduled_task_and_sees_its_signal(client, wf_id):
    handle, task_queue = await started_then_idle(client, wf_id)
    await handle.signal(Q.add, "while nobody runs it")
    # The signal scheduled a workflow task nobody runs: the query must wait for it (Temporal
    # buffers it and hands it to the worker with that task) instead of answering stale state.
    query = asyncio.create_task(handle.query(Q.values_so_far, rpc_timeout=ANSWER))
    try:
        await assert_blocked(query, "scheduled task, no worker")
        async with running_worker(client, task_queue=task_queue):
            assert await asyncio.wait_for(query, ANSWER.total_seconds()) == [
                "while nobody runs it"
            ]
            assert await finish(handle) == ["while nobody runs it"]
    finally:
        query.cancel()
    await assert_quiet_history(handle, ["while nobody runs it"])


async def test_a_query_before_the_first_task_waits_for_it(client, wf_id):
    task_queue = f"query-first-{uuid.uuid4()}"
    handle = await client.start_workflow(Q.run, False, id=wf_id, task_queue=task_queue)
    await handle.signal(Q.add, "early")
    query = asyncio.create_task(handle.query(Q.values_so_far, rpc_timeout=ANSWER))
    try:
        # Temporal buffers it (no workflow task completed yet, so it cannot go to a worker on
        # its own) until a worker runs the first task.
        await assert_blocked(query, "first task not run")
        async with running_worker(client, task_queue=task_queue):
            assert await asyncio.wait_for(query, ANSWER.total_seconds()) == ["early"]
            assert await finish(handle) == ["early"]
    finally:
        query.cancel()
    await assert_quiet_history(handle, ["early"])


async def test_nobody_to_answer_means_the_callers_deadline_expires(client, wf_id):
    handle, task_queue = await started_then_idle(client, wf_id)
    await handle.signal(Q.add, "x")
    async with running_worker(client, task_queue=task_queue):
        assert await handle.query(Q.values_so_far, rpc_timeout=ANSWER) == ["x"]
    # Idle again, no worker: Temporal hands the query to the task queue, where nobody polls.
    began = time.monotonic()
    with pytest.raises(RPCError) as expired:
        await asyncio.wait_for(
            handle.query(Q.values_so_far, rpc_timeout=timedelta(seconds=3)), 30
        )
    took = time.monotonic() - began
    # Temporal: CANCELLED "Timeout expired" after 3.00 s: the SDK's own client timer fires
    # before the server's answer (the server would say DEADLINE_EXCEEDED, a race we allow).
    assert is_timeout(expired.value), expired.value
    assert took >= 2.5, f"gave up after {took:.2f}s, before the caller's 3 s deadline"
    # The abandoned query leaves nothing behind: a worker answers the next one and finishes.
    async with running_worker(client, task_queue=task_queue):
        assert await handle.query(Q.values_so_far, rpc_timeout=ANSWER) == ["x"]
        assert await finish(handle) == ["x"]
    await assert_quiet_history(handle, ["x"])


async def test_a_closed_workflow_is_answered_by_replay_unless_rejected(client, worker, wf_id):
    handle = await client.start_workflow(Q.run, False, id=wf_id, task_queue=worker.task_queue)
    await handle.signal(Q.add, "final")
    assert await finish(handle) == ["final"]
    assert await handle.query(Q.values_so_far, rpc_timeout=ANSWER) == ["final"]
    assert await handle.query(Q.value_at, 0, rpc_timeout=ANSWER) == "final"
    # Completed is "completed cleanly": answered.
    assert await handle.query(
        Q.values_so_far,
        reject_condition=QueryRejectCondition.NOT_COMPLETED_CLEANLY,
        rpc_timeout=ANSWER,
    ) == ["final"]
    # Temporal: a QueryWorkflowResponse with query_rejected {status: COMPLETED}, no error.
    with pytest.raises(WorkflowQueryRejectedError) as rejected:
        await handle.query(
            Q.values_so_far, reject_condition=QueryRejectCondition.NOT_OPEN, rpc_timeout=ANSWER
        )
    assert rejected.value.status == WorkflowExecutionStatus.COMPLETED
    await assert_quiet_history(handle, ["final"])


async def test_failed_and_terminated_runs_are_rejected_when_not_completed_cleanly(
    client, worker, wf_id
):
    failed = await client.start_workflow(
        Q.run, True, id=f"{wf_id}-failed", task_queue=worker.task_queue
    )
    await failed.signal(Q.add, "f")
    with pytest.raises(WorkflowFailureError):
        await finish(failed)
    terminated = await client.start_workflow(
        Q.run, False, id=f"{wf_id}-terminated", task_queue=worker.task_queue
    )
    await terminated.signal(Q.add, "t")
    assert await terminated.query(Q.values_so_far, rpc_timeout=ANSWER) == ["t"]
    await terminated.terminate("query test")

    for handle, values, status in (
        (failed, ["f"], WorkflowExecutionStatus.FAILED),
        (terminated, ["t"], WorkflowExecutionStatus.TERMINATED),
    ):
        # No condition: the worker replays the closed run and answers.
        assert await handle.query(Q.values_so_far, rpc_timeout=ANSWER) == values
        for condition in (
            QueryRejectCondition.NOT_COMPLETED_CLEANLY,
            QueryRejectCondition.NOT_OPEN,
        ):
            with pytest.raises(WorkflowQueryRejectedError) as rejected:
                await handle.query(
                    Q.values_so_far, reject_condition=condition, rpc_timeout=ANSWER
                )
            assert rejected.value.status == status, (handle.id, condition)


async def test_a_run_closed_before_its_first_task_cannot_be_queried(client, worker, wf_id):
    # On a queue nobody polls, terminated before any workflow task started.
    handle = await client.start_workflow(
        Q.run, False, id=wf_id, task_queue=f"nobody-{uuid.uuid4()}"
    )
    await handle.terminate("before any task")
    # Temporal: FAILED_PRECONDITION "Workflow execution closed before WorkflowTaskStarted
    # event", with a WorkflowNotReadyFailure detail.
    with pytest.raises(RPCError) as not_ready:
        await handle.query(Q.values_so_far, rpc_timeout=RPC_TIMEOUT)
    assert not_ready.value.status == RPCStatusCode.FAILED_PRECONDITION, not_ready.value
    assert not_ready.value.message == "Workflow execution closed before WorkflowTaskStarted event"
    assert detail_is(not_ready.value, WorkflowNotReadyFailure)
    # A reject condition is checked first: rejected with the closed status.
    with pytest.raises(WorkflowQueryRejectedError) as rejected:
        await handle.query(
            Q.values_so_far,
            reject_condition=QueryRejectCondition.NOT_OPEN,
            rpc_timeout=RPC_TIMEOUT,
        )
    assert rejected.value.status == WorkflowExecutionStatus.TERMINATED


async def test_a_failing_or_unknown_query_handler_is_query_failed(client, worker, wf_id):
    handle = await client.start_workflow(Q.run, False, id=wf_id, task_queue=worker.task_queue)
    await handle.signal(Q.add, "one")
    with pytest.raises(WorkflowQueryFailedError) as broken:
        await handle.query(Q.broken, rpc_timeout=ANSWER)
    assert broken.value.message == "broken query after 1 values"
    with pytest.raises(WorkflowQueryFailedError) as out_of_range:
        await handle.query(Q.value_at, 5, rpc_timeout=ANSWER)
    assert out_of_range.value.message == "list index out of range"
    # The SDK's worker answers an unknown type with a failure naming it (this text is the
    # SDK's, the server passes it through): "Query handler for 'nope' expected but not found,
    # known queries: [__enhanced_stack_trace __stack_trace __temporal_workflow_metadata broken
    # value_at values_so_far]".
    with pytest.raises(WorkflowQueryFailedError) as unknown:
        await handle.query("nope", rpc_timeout=ANSWER)
    assert unknown.value.message.startswith("Query handler for 'nope' expected but not found")
    assert "values_so_far" in unknown.value.message
    # On the wire (the SDK only looks at the code): INVALID_ARGUMENT with a QueryFailedFailure.
    with pytest.raises(RPCError) as raw:
        await client.workflow_service.query_workflow(
            QueryWorkflowRequest(
                namespace=NAMESPACE,
                execution=WorkflowExecution(workflow_id=wf_id),
                query=WorkflowQuery(query_type="broken"),
            ),
            timeout=ANSWER,
        )
    assert raw.value.status == RPCStatusCode.INVALID_ARGUMENT, raw.value
    assert raw.value.message == "broken query after 1 values"
    assert detail_is(raw.value, QueryFailedFailure)
    # A failed query does not fail the workflow.
    await handle.signal(Q.add, "two")
    assert await handle.query(Q.values_so_far, rpc_timeout=ANSWER) == ["one", "two"]
    assert await finish(handle) == ["one", "two"]
    await assert_quiet_history(handle, ["one", "two"])


async def test_a_delayed_start_is_not_ready_unless_the_deadline_outlives_the_delay(
    client, worker, wf_id
):
    delayed = await client.start_workflow(
        Q.run,
        False,
        id=f"{wf_id}-hour",
        task_queue=worker.task_queue,
        start_delay=timedelta(hours=1),
    )
    try:
        # Temporal: FAILED_PRECONDITION "Workflow task is not scheduled yet." with a
        # WorkflowNotReadyFailure, at once, whether the deadline is 5 s or unset.
        for rpc_timeout in (timedelta(seconds=5), None):
            with pytest.raises(RPCError) as not_ready:
                await asyncio.wait_for(
                    delayed.query(Q.values_so_far, rpc_timeout=rpc_timeout), 30
                )
            assert not_ready.value.status == RPCStatusCode.FAILED_PRECONDITION, not_ready.value
            assert not_ready.value.message == "Workflow task is not scheduled yet."
            assert detail_is(not_ready.value, WorkflowNotReadyFailure)
    finally:
        await delayed.terminate("query test done")

    # A deadline past the delay: the query waits for the first task and is answered.
    soon = await client.start_workflow(
        Q.run,
        False,
        id=f"{wf_id}-soon",
        task_queue=worker.task_queue,
        start_delay=timedelta(seconds=2),
    )
    began = time.monotonic()
    assert await soon.query(Q.values_so_far, rpc_timeout=timedelta(seconds=20)) == []
    assert time.monotonic() - began >= 1.0, "answered before the delayed first task ran"
    await soon.signal(Q.add, "after the delay")
    assert await finish(soon) == ["after the delay"]


async def test_bad_query_requests_are_refused(client, worker, wf_id):
    handle = await client.start_workflow(Q.run, False, id=wf_id, task_queue=worker.task_queue)
    assert await handle.query(Q.values_so_far, rpc_timeout=ANSWER) == []

    def request(namespace=NAMESPACE, workflow_id=wf_id, run_id="", query_type="values_so_far"):
        return QueryWorkflowRequest(
            namespace=namespace,
            execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            query=WorkflowQuery(query_type=query_type),
        )

    async def refused(req: QueryWorkflowRequest, code: RPCStatusCode) -> RPCError:
        with pytest.raises(RPCError) as err:
            await asyncio.wait_for(
                client.workflow_service.query_workflow(req, timeout=RPC_TIMEOUT), 20
            )
        assert err.value.status == code, f"got {err.value.status!r}: {err.value.message}"
        return err.value

    never = f"{wf_id}-never-started"
    invalid, not_found = RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.NOT_FOUND
    no_query = QueryWorkflowRequest(
        namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=wf_id)
    )
    # Messages as Temporal words them.
    cases = [
        (request(query_type=""), invalid, "QueryType is not set on request."),
        # Validation comes before the lookup.
        (request(workflow_id=never, query_type=""), invalid, "QueryType is not set on request."),
        (no_query, invalid, "WorkflowQuery is not set on request."),
        (request(workflow_id=""), invalid, "WorkflowId is not set on request."),
        (request(namespace=""), invalid, "Namespace is empty."),
        (request(run_id="not-a-uuid"), invalid, "Invalid RunId."),
        (request(workflow_id=never), not_found, f"workflow not found for ID: {never}"),
        (request(namespace="no-such-namespace"), not_found,
         "Namespace no-such-namespace is not found."),
    ]
    for req, code, message in cases:
        err = await refused(req, code)
        assert err.message == message, (req, err.message)
    # An unknown run of a known workflow: NOT_FOUND 'workflow execution not found for workflow
    # ID "<id>" and run ID "<run>"' (the wording is Temporal's persistence layer's; the code
    # and detail are what clients act on).
    unknown_run = await refused(request(run_id=str(uuid.uuid4())), RPCStatusCode.NOT_FOUND)
    assert detail_is(unknown_run, NotFoundFailure)
    unknown_wf = await refused(request(workflow_id=never), RPCStatusCode.NOT_FOUND)
    assert detail_is(unknown_wf, NotFoundFailure)
    unknown_ns = await refused(request(namespace="no-such-namespace"), RPCStatusCode.NOT_FOUND)
    assert detail_is(unknown_ns, NamespaceNotFoundFailure)
    # None of that disturbed the workflow.
    await handle.signal(Q.add, "still fine")
    assert await finish(handle) == ["still fine"]


# ---- the raw protocol: what a worker sees and answers ------------------------------------


class RawQueriedRun(RawRun):
    """A RawRun whose worker answers queries: on a query task (``respond_query``) or in the
    completion of the workflow task that carried them (``complete``)."""

    workflow_type = "RawQueried"
    queue_prefix = "raw-query"
    starter_identity = "query test"
    worker_identity = "raw"

    async def complete(self, token: bytes, query_results=None) -> None:
        await self.svc.respond_workflow_task_completed(
            RespondWorkflowTaskCompletedRequest(
                namespace=NAMESPACE,
                task_token=token,
                identity=self.worker_identity,
                query_results=query_results or {},
            ),
            timeout=RPC_TIMEOUT,
        )

    def query(self, query_type: str = "state", arg: str = '"arg"') -> asyncio.Task:
        return asyncio.create_task(
            self.svc.query_workflow(
                QueryWorkflowRequest(
                    namespace=NAMESPACE,
                    execution=WorkflowExecution(workflow_id=self.wf_id),
                    query=WorkflowQuery(query_type=query_type, query_args=json_payloads(arg)),
                ),
                timeout=ANSWER,
            )
        )

    async def respond_query(self, token: bytes, answer: str | None = None, error: str = ""):
        if answer is not None:
            req = RespondQueryTaskCompletedRequest(
                namespace=NAMESPACE,
                task_token=token,
                completed_type=QueryResultType.QUERY_RESULT_TYPE_ANSWERED,
                query_result=json_payloads(answer),
            )
        else:
            req = RespondQueryTaskCompletedRequest(
                namespace=NAMESPACE,
                task_token=token,
                completed_type=QueryResultType.QUERY_RESULT_TYPE_FAILED,
                error_message=error,
            )
        await self.svc.respond_query_task_completed(req, timeout=RPC_TIMEOUT)


@pytest.fixture
def raw(client, wf_id) -> RawQueriedRun:
    return RawQueriedRun(client, wf_id)


async def answer_of(query: asyncio.Task) -> bytes:
    response = await asyncio.wait_for(query, ANSWER.total_seconds() + 5)
    assert not response.HasField("query_rejected"), response
    return response.query_result.payloads[0].data


async def query_failure(query: asyncio.Task) -> RPCError:
    with pytest.raises(RPCError) as err:
        await asyncio.wait_for(query, ANSWER.total_seconds() + 5)
    return err.value


FIRST_TASK = [
    "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
    "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    "EVENT_TYPE_WORKFLOW_TASK_STARTED",
    "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
]


async def test_raw_query_tasks_of_an_idle_workflow(raw):
    """A query that arrives while a task is in flight waits for it; once the run is idle the
    query reaches the worker as a query task (``query`` set, ``queries`` empty, the whole
    history) and RespondQueryTaskCompleted answers it. The query's own task token is good
    once."""
    await raw.start()
    first = await raw.poll()
    # The first task is in flight (started, not completed): the query waits for it.
    waiting = raw.query()
    try:
        await assert_blocked(waiting, "first task in flight")
        await raw.complete(first.task_token)
        task = await raw.poll()
        assert task.query.query_type == "state"
        assert task.query.query_args.payloads[0].data == b'"arg"'
        assert len(task.queries) == 0
        assert type_names(task.history.events) == FIRST_TASK
        assert task.workflow_type.name == "RawQueried"
        # Temporal: previous_started_event_id 3 (the completed task's), started_event_id 0.
        assert task.previous_started_event_id == 3
        await raw.respond_query(task.task_token, answer='"answered on a query task"')
        assert await answer_of(waiting) == b'"answered on a query task"'
    finally:
        waiting.cancel()

    # An idle run: the query goes straight to the queue. A FAILED answer is QueryFailed.
    failing = raw.query("other")
    try:
        task = await raw.poll()
        assert task.query.query_type == "other"
        await raw.respond_query(task.task_token, error="no such thing")
        err = await query_failure(failing)
        # Temporal: INVALID_ARGUMENT "no such thing", detail QueryFailedFailure.
        assert err.status == RPCStatusCode.INVALID_ARGUMENT, err
        assert err.message == "no such thing"
        assert detail_is(err, QueryFailedFailure)
    finally:
        failing.cancel()
    # Answering the same query task again: NOT_FOUND "query task not found, or already
    # expired". A token that is not one: INVALID_ARGUMENT "Error deserializing task token.".
    with pytest.raises(RPCError) as late:
        await raw.respond_query(task.task_token, answer='"late"')
    assert late.value.status == RPCStatusCode.NOT_FOUND, late.value
    with pytest.raises(RPCError) as garbage:
        await raw.respond_query(b"not a task token", answer='"late"')
    assert garbage.value.status == RPCStatusCode.INVALID_ARGUMENT, garbage.value
    # Queries wrote nothing.
    assert await raw.event_types() == FIRST_TASK
    await raw.handle.terminate("query test done")


async def test_raw_a_query_waiting_on_a_scheduled_task_rides_on_it(raw):
    """A signal schedules a task; a query that arrives before a worker takes it is handed to
    the worker with that task (``queries``, keyed by query id) and answered in the task's
    completion (``query_results``), answered or failed."""
    await raw.start()
    await raw.complete((await raw.poll()).task_token)
    for round_, (value, answer, error) in enumerate(
        [("s1", '"after s1"', ""), ("s2", None, "refused after s2")]
    ):
        await raw.signal(value)
        waiting = raw.query(f"q{round_}", f'"{value}?"')
        try:
            await assert_blocked(waiting, f"round {round_}: scheduled task, nobody polling")
            task = await raw.poll()
            assert not task.HasField("query"), "a workflow task, not a query task"
            [(query_id, query)] = task.queries.items()
            assert query_id
            assert query.query_type == f"q{round_}"
            assert query.query_args.payloads[0].data == f'"{value}?"'.encode()
            # The signal came before the query: the task that carries it carries the signal.
            assert type_names(task.history.events)[-3:] == [
                "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
                "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
                "EVENT_TYPE_WORKFLOW_TASK_STARTED",
            ]
            if answer is not None:
                result = WorkflowQueryResult(
                    result_type=QueryResultType.QUERY_RESULT_TYPE_ANSWERED,
                    answer=json_payloads(answer),
                )
            else:
                result = WorkflowQueryResult(
                    result_type=QueryResultType.QUERY_RESULT_TYPE_FAILED, error_message=error
                )
            await raw.complete(task.task_token, {query_id: result})
            if answer is not None:
                assert await answer_of(waiting) == answer.encode()
            else:
                err = await query_failure(waiting)
                # Temporal: INVALID_ARGUMENT with the worker's message, QueryFailedFailure.
                assert err.status == RPCStatusCode.INVALID_ARGUMENT, err
                assert err.message == error
                assert detail_is(err, QueryFailedFailure)
        finally:
            waiting.cancel()
    signal_round = [
        "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
    ]
    assert await raw.event_types() == FIRST_TASK + signal_round * 2
    await raw.handle.terminate("query test done")


async def test_raw_a_second_query_waiting_on_the_same_task_is_refused(raw):
    """Temporal buffers one query per run while a task is pending (its dynamic config
    history.MaxBufferedQueryCount defaults to 1): a second is RESOURCE_EXHAUSTED at once, with
    a ResourceExhaustedFailure detail. (The SDK's client retries that code, so SDK callers see
    a delay, not an error.)"""
    await raw.start()
    await raw.complete((await raw.poll()).task_token)
    await raw.signal("pending")
    first = raw.query("first")
    try:
        await assert_blocked(first, "scheduled task, nobody polling")
        err = await query_failure(raw.query("second"))
        assert err.status == RPCStatusCode.RESOURCE_EXHAUSTED, err
        assert err.message == (
            "consistent query buffer is full, this may be caused by too many queries and "
            "workflow not able to process query fast enough"
        )
        assert detail_is(err, ResourceExhaustedFailure)
        # The first is still served.
        task = await raw.poll()
        [(query_id, query)] = task.queries.items()
        assert query.query_type == "first"
        ok = WorkflowQueryResult(
            result_type=QueryResultType.QUERY_RESULT_TYPE_ANSWERED, answer=json_payloads('"1"')
        )
        await raw.complete(task.task_token, {query_id: ok})
        assert await answer_of(first) == b'"1"'
    finally:
        first.cancel()
    await raw.handle.terminate("query test done")
