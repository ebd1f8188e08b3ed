"""GetWorkflowExecutionHistoryReverse: a run's history newest event first, paged. Both servers
must pass (PERDURE_TEST_SERVER=temporal).

What they show: paging backwards through a finished run returns every event exactly once, in
reverse id order, ending with event 1 and an empty token; an unknown workflow is NOT_FOUND and a
garbage page token INVALID_ARGUMENT.

Not covered: where pages break (Temporal returns whole storage batches, Perdure single events,
so only the concatenation is compared), reverse paging of a run that is still being written.
"""

from __future__ import annotations

import asyncio

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.service import RPCError, RPCStatusCode

import workflows
from harness import NAMESPACE
from history import events_of

PAGE = 5


def reverse_request(workflow_id: str, token: bytes = b"", size: int = PAGE):
    return GetWorkflowExecutionHistoryReverseRequest(
        namespace=NAMESPACE,
        execution=WorkflowExecution(workflow_id=workflow_id),
        maximum_page_size=size,
        next_page_token=token,
    )


async def test_reverse_pages_return_every_event_once_newest_first(client, worker, wf_id):
    handle = await client.start_workflow(
        workflows.FiveSteps.run, 5, id=wf_id, task_queue=worker.task_queue
    )
    await asyncio.wait_for(handle.result(), 60)
    forward = await events_of(handle)
    assert len(forward) > 3 * PAGE, "enough events for several pages"

    seen = []
    token = b""
    for _ in range(len(forward)):
        page = await client.workflow_service.get_workflow_execution_history_reverse(
            reverse_request(wf_id, token)
        )
        # Temporal returns whole storage batches, so a page may hold more than asked.
        assert len(page.history.events) > 0
        seen.extend(page.history.events)
        token = page.next_page_token
        if not token:
            break
    assert not token, "paging ended"
    assert [e.event_id for e in seen] == [e.event_id for e in reversed(forward)]
    assert [e.event_type for e in seen] == [e.event_type for e in reversed(forward)]
    assert seen[-1].event_id == 1 and seen[0] == forward[-1]


async def test_reverse_refuses_unknown_workflows_and_bad_tokens(client, wf_id):
    with pytest.raises(RPCError) as missing:
        await client.workflow_service.get_workflow_execution_history_reverse(
            reverse_request(f"{wf_id}-nobody")
        )
    assert missing.value.status == RPCStatusCode.NOT_FOUND
    handle = await client.start_workflow(
        workflows.SignalCollector.run, 1, id=wf_id, task_queue=f"nobody-{wf_id}"
    )
    with pytest.raises(RPCError) as bad:
        await client.workflow_service.get_workflow_execution_history_reverse(
            reverse_request(wf_id, b"garbage")
        )
    assert bad.value.status == RPCStatusCode.INVALID_ARGUMENT
    await handle.terminate(reason="done")
