"""Workflow-level retries with the official Python SDK: a workflow started with a RetryPolicy
that fails (or outlives its run timeout) is closed with retry_state IN_PROGRESS and a
new_execution_run_id, and the server starts the next attempt as a new run of the same workflow
id after the backoff. The client's ``result()`` follows the chain of runs; when the policy is
exhausted (maximum attempts, a non-retryable failure) the last run's failure reaches the client.
Cron schedules are not covered.

Owns: its own worker on a unique task queue (retry_workflows.py holds the workflows).
Must never: wait without a deadline.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import (
    ContinueAsNewInitiator,
    EventType,
    RetryState,
    TimeoutType,
    WorkflowExecutionStatus,
)
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, TimeoutError
from temporalio.worker import Worker

import retry_workflows
from history import (
    CLOCK_SLACK,
    assert_contiguous_ids,
    events_of,
    started_attributes,
    type_names,
)
from rpc import RESULT_TIMEOUT_S


@pytest_asyncio.fixture
async def retry_queue(client: Client):
    task_queue = f"e2e-retry-{uuid.uuid4()}"
    w = Worker(client, task_queue=task_queue, workflows=retry_workflows.ALL)
    async with w:
        yield task_queue


async def run_chain(client: Client, workflow_id: str, first_run_id: str) -> list[list[HistoryEvent]]:
    """Every run's history, from the first run, following new_execution_run_id."""
    runs = []
    run_id = first_run_id
    while run_id:
        assert len(runs) < 10, "runaway chain of runs"
        events = await events_of(client.get_workflow_handle(workflow_id, run_id=run_id))
        assert_contiguous_ids(events)
        runs.append(events)
        run_id = close_attributes(events[-1]).new_execution_run_id
    return runs


def close_attributes(event: HistoryEvent):
    for field in (
        "workflow_execution_failed_event_attributes",
        "workflow_execution_timed_out_event_attributes",
        "workflow_execution_completed_event_attributes",
    ):
        if event.HasField(field):
            return getattr(event, field)
    raise AssertionError(f"not a close event with a run chain: {EventType.Name(event.event_type)}")


def assert_retry_link(prev: list[HistoryEvent], new: list[HistoryEvent], first_run_id: str,
                      backoff: timedelta) -> None:
    """`new` is the retry of `prev`: the close event names it, its start names `prev`, and its
    first workflow task waited for the backoff."""
    prev_start = started_attributes(prev)
    close = close_attributes(prev[-1])
    assert close.retry_state == RetryState.RETRY_STATE_IN_PROGRESS
    attrs = started_attributes(new)
    assert attrs.original_execution_run_id == close.new_execution_run_id
    assert attrs.continued_execution_run_id == prev_start.original_execution_run_id
    assert attrs.first_execution_run_id == first_run_id
    assert attrs.attempt == prev_start.attempt + 1
    assert attrs.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY
    assert attrs.first_workflow_task_backoff.ToTimedelta() == backoff
    assert attrs.workflow_type.name == prev_start.workflow_type.name
    assert attrs.task_queue.name == prev_start.task_queue.name
    assert attrs.input == prev_start.input
    assert attrs.retry_policy == prev_start.retry_policy
    # No workflow task until the backoff has passed.
    assert new[1].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
    waited = new[1].event_time.ToDatetime() - new[0].event_time.ToDatetime()
    assert waited >= backoff - CLOCK_SLACK, f"first workflow task after {waited}, backoff {backoff}"


async def test_failed_runs_are_retried_until_one_succeeds(client: Client, retry_queue: str):
    wf_id = f"retry-success-{uuid.uuid4().hex[:8]}"
    policy = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
    handle = await client.start_workflow(
        retry_workflows.FailUntilAttempt.run,
        3,
        id=wf_id,
        task_queue=retry_queue,
        retry_policy=policy,
    )
    result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    assert result == "succeeded on attempt 3"

    runs = await run_chain(client, wf_id, handle.first_execution_run_id)
    assert len(runs) == 3
    first = runs[0]
    assert type_names(first)[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED"
    failed = first[-1].workflow_execution_failed_event_attributes
    assert failed.retry_state == RetryState.RETRY_STATE_IN_PROGRESS
    assert failed.new_execution_run_id
    assert failed.failure.message == "attempt 1 failed"
    assert failed.workflow_task_completed_event_id == first[-2].event_id

    start1 = started_attributes(first)
    assert start1.attempt == 1
    # The server fills in the policy's defaults and records them.
    assert start1.retry_policy.maximum_attempts == 3
    assert start1.retry_policy.initial_interval.ToTimedelta() == timedelta(seconds=1)
    assert start1.retry_policy.backoff_coefficient == 2.0
    assert start1.retry_policy.maximum_interval.ToTimedelta() == timedelta(seconds=100)

    # Exponential backoff: 1 s before attempt 2, 2 s before attempt 3.
    assert_retry_link(runs[0], runs[1], handle.first_execution_run_id, timedelta(seconds=1))
    assert_retry_link(runs[1], runs[2], handle.first_execution_run_id, timedelta(seconds=2))
    second = started_attributes(runs[1])
    assert second.continued_failure.message == "attempt 1 failed"
    assert second.continued_failure.application_failure_info.type == "Flaky"
    assert started_attributes(runs[2]).continued_failure.message == "attempt 2 failed"
    assert type_names(runs[2]) == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
    ]

    # The workflow id now names the last run.
    desc = await client.get_workflow_handle(wf_id).describe()
    assert desc.run_id == started_attributes(runs[2]).original_execution_run_id
    assert desc.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
    # The first run stays failed.
    first_desc = await client.get_workflow_handle(wf_id, run_id=handle.first_execution_run_id).describe()
    assert first_desc.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED


async def test_exhausted_attempts_fail_the_workflow(client: Client, retry_queue: str):
    wf_id = f"retry-exhausted-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        retry_workflows.FailUntilAttempt.run,
        0,
        id=wf_id,
        task_queue=retry_queue,
        retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2),
    )
    with pytest.raises(WorkflowFailureError) as err:
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    assert isinstance(err.value.cause, ApplicationError)
    assert err.value.cause.message == "attempt 2 failed"

    runs = await run_chain(client, wf_id, handle.first_execution_run_id)
    assert len(runs) == 2
    assert_retry_link(runs[0], runs[1], handle.first_execution_run_id, timedelta(seconds=1))
    last = runs[1][-1].workflow_execution_failed_event_attributes
    assert last.retry_state == RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
    assert last.new_execution_run_id == ""


@pytest.mark.parametrize("how", ["flag", "listed"])
async def test_non_retryable_failures_are_not_retried(client: Client, retry_queue: str, how: str):
    wf_id = f"retry-nonretryable-{how}-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        retry_workflows.FailNonRetryable.run,
        how,
        id=wf_id,
        task_queue=retry_queue,
        retry_policy=RetryPolicy(
            initial_interval=timedelta(seconds=1),
            maximum_attempts=5,
            non_retryable_error_types=["Fatal"],
        ),
    )
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    runs = await run_chain(client, wf_id, handle.first_execution_run_id)
    assert len(runs) == 1
    failed = runs[0][-1].workflow_execution_failed_event_attributes
    assert failed.retry_state == RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE
    assert failed.new_execution_run_id == ""


async def test_run_timeout_is_retried(client: Client, retry_queue: str):
    wf_id = f"retry-timeout-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        retry_workflows.SleepOnFirstAttempt.run,
        id=wf_id,
        task_queue=retry_queue,
        run_timeout=timedelta(seconds=2),
        retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2),
    )
    result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    assert result == "attempt 2 in time"

    runs = await run_chain(client, wf_id, handle.first_execution_run_id)
    assert len(runs) == 2
    assert type_names(runs[0])[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT"
    assert_retry_link(runs[0], runs[1], handle.first_execution_run_id, timedelta(seconds=1))
    continued = started_attributes(runs[1]).continued_failure
    assert continued.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
    assert started_attributes(runs[1]).workflow_run_timeout.ToTimedelta() == timedelta(seconds=2)


async def test_run_timeout_without_retries_left_times_out(client: Client, retry_queue: str):
    wf_id = f"retry-timeout-last-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        retry_workflows.SleepOnFirstAttempt.run,
        id=wf_id,
        task_queue=retry_queue,
        run_timeout=timedelta(seconds=1),
        retry_policy=RetryPolicy(maximum_attempts=1),
    )
    with pytest.raises(WorkflowFailureError) as err:
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    assert isinstance(err.value.cause, TimeoutError)
    runs = await run_chain(client, wf_id, handle.first_execution_run_id)
    assert len(runs) == 1
    timed_out = runs[0][-1].workflow_execution_timed_out_event_attributes
    assert timed_out.retry_state == RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
