"""PauseActivity / UnpauseActivity / ResetActivity / UpdateActivityOptions with the official Python SDK and the CLI: a paused activity
gets no new attempt (checked against the worker's own record over many retry intervals), a
running attempt hears of the pause through its heartbeat, describe shows PAUSED with the pause
info and the run's TemporalPauseInfo search attribute, unpause runs the next attempt (or attempt 1 with reset_attempts) and the workflow
completes, reset runs attempt 1 again (held while paused with keep_paused), update-options changes
the masked timeouts and retry policy (and restores the originals), and bad requests get Temporal's codes and messages. Passes against Temporal's dev
server too (PERDURE_TEST_SERVER=temporal).

Owns: its own activities and worker (pause_workflows.py holds the workflow), on a unique task
queue per test. Must never: wait without a deadline.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict

import pytest
import pytest_asyncio
from temporalio import activity
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.common.v1 import RetryPolicy, WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    PauseActivityExecutionRequest,
    PauseActivityRequest,
    ResetActivityRequest,
    UnpauseActivityExecutionRequest,
    UpdateActivityOptionsRequest,
    UnpauseActivityRequest,
)
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

import pause_workflows
from harness import NAMESPACE, temporal_bin
from waiting import CONDITION_S, wait_until

RESULT_TIMEOUT_S = 60
#: Ten retry intervals: an unpaused failing activity would certainly have run again.
HELD_WINDOW_S = 10 * pause_workflows.RETRY_INTERVAL.total_seconds()


class PausableActivities:
    """One instance per test; activities report what they saw here."""

    def __init__(self) -> None:
        self.attempts: dict[str, list[int]] = defaultdict(list)
        #: cancellation details each cancelled attempt saw
        self.cancellations: dict[str, list] = defaultdict(list)
        #: set by a test to let the activity succeed
        self.allow: dict[str, bool] = defaultdict(bool)

    @activity.defn(name="fail_until_allowed")
    async def fail_until_allowed(self, key: str) -> int:
        attempt = activity.info().attempt
        self.attempts[key].append(attempt)
        if self.allow[key]:
            return attempt
        raise ApplicationError(f"attempt {attempt} not allowed yet")

    @activity.defn(name="heartbeat_until_cancelled")
    async def heartbeat_until_cancelled(self, key: str) -> int:
        attempt = activity.info().attempt
        self.attempts[key].append(attempt)
        if attempt > 1:
            return attempt
        try:
            while True:
                activity.heartbeat(attempt)
                await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            self.cancellations[key].append(activity.cancellation_details())
            raise

    def all(self) -> list:
        return [self.fail_until_allowed, self.heartbeat_until_cancelled]


@pytest_asyncio.fixture
async def pausable(client: Client):
    acts = PausableActivities()
    task_queue = f"pause-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=pause_workflows.ALL,
        activities=acts.all(),
    ):
        yield acts, task_queue


async def start(client: Client, task_queue: str, wf_id: str, name: str):
    return await client.start_workflow(
        pause_workflows.RunsPausableActivity.run,
        args=[name, wf_id],
        id=wf_id,
        task_queue=task_queue,
    )


async def describe(client: Client, wf_id: str):
    return await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=wf_id)
        )
    )


async def pending(client: Client, wf_id: str):
    return list((await describe(client, wf_id)).pending_activities)


async def pause(client: Client, wf_id: str, **kw) -> None:
    await client.workflow_service.pause_activity(
        PauseActivityRequest(
            namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=wf_id), **kw
        )
    )


async def unpause(client: Client, wf_id: str, **kw) -> None:
    await client.workflow_service.unpause_activity(
        UnpauseActivityRequest(
            namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=wf_id), **kw
        )
    )


async def wait_state(client: Client, wf_id: str, state: int):
    async def check():
        p = await pending(client, wf_id)
        return p[0] if p and p[0].state == state else None

    return await wait_until(check, CONDITION_S, f"activity state {PendingActivityState.Name(state)}")


async def assert_no_new_attempt(acts: PausableActivities, key: str, what: str) -> int:
    """Watches the worker's record for ``HELD_WINDOW_S``; fails if an attempt ran."""
    seen = len(acts.attempts[key])
    with pytest.raises(AssertionError, match="timed out"):
        await wait_until(lambda: len(acts.attempts[key]) > seen, HELD_WINDOW_S, what)
    return seen


async def test_pause_holds_retries_and_unpause_runs_the_next_attempt(client, pausable, wf_id):
    acts, tq = pausable
    handle = await start(client, tq, wf_id, "fail_until_allowed")
    await wait_until(lambda: len(acts.attempts[wf_id]) >= 2, CONDITION_S, "two failed attempts")
    await pause(client, wf_id, id="a", identity="operator", reason="investigating")
    p = await wait_state(client, wf_id, PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED)
    seen = await assert_no_new_attempt(acts, wf_id, "an attempt while paused")
    [p] = await pending(client, wf_id)
    assert p.state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED
    assert p.paused
    assert p.attempt == seen + 1, "the next attempt is counted but held"
    assert p.pause_info.manual.identity == "operator"
    assert p.pause_info.manual.reason == "investigating"
    assert p.pause_info.pause_time.seconds > 0
    assert not p.HasField("next_attempt_schedule_time")
    assert p.activity_options.start_to_close_timeout.seconds == 30
    assert p.activity_options.retry_policy.initial_interval.ToMilliseconds() == 200
    assert p.activity_options.task_queue.name == tq
    # The run's TemporalPauseInfo search attribute names the paused activity type.
    d = await describe(client, wf_id)
    sa = d.workflow_execution_info.search_attributes.indexed_fields["TemporalPauseInfo"]
    assert json.loads(sa.data) == ["property:activityType=fail_until_allowed"]
    query = (
        "TemporalPauseInfo = 'property:activityType=fail_until_allowed' "
        f"AND WorkflowId = '{wf_id}'"
    )

    async def listed():
        return [w.id async for w in client.list_workflows(query)]

    assert await wait_until(listed, CONDITION_S, "the paused run in a list") == [wf_id]

    acts.allow[wf_id] = True
    await unpause(client, wf_id, id="a")
    d = await describe(client, wf_id)
    assert "TemporalPauseInfo" not in d.workflow_execution_info.search_attributes.indexed_fields
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == seen + 1
    assert acts.attempts[wf_id] == list(range(1, seen + 2))


async def test_unpause_with_reset_attempts_starts_again_at_attempt_one(client, pausable, wf_id):
    acts, tq = pausable
    handle = await start(client, tq, wf_id, "fail_until_allowed")
    await wait_until(lambda: len(acts.attempts[wf_id]) >= 3, CONDITION_S, "three failed attempts")
    await pause(client, wf_id, type="fail_until_allowed")
    await wait_state(client, wf_id, PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED)
    acts.allow[wf_id] = True
    await unpause(client, wf_id, unpause_all=True, reset_attempts=True)
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == 1
    assert acts.attempts[wf_id][-1] == 1 and len(acts.attempts[wf_id]) >= 4


async def test_a_running_attempt_hears_of_the_pause_through_its_heartbeat(client, pausable, wf_id):
    acts, tq = pausable
    handle = await start(client, tq, wf_id, "heartbeat_until_cancelled")
    await wait_until(lambda: acts.attempts[wf_id] == [1], CONDITION_S, "the first attempt")
    await pause(client, wf_id, id="a", reason="stop beating")
    # The worker learns it from a heartbeat answer (activity_paused) and the SDK cancels the
    # attempt with paused details; its failure is retried into the paused state.
    await wait_until(lambda: acts.cancellations[wf_id], CONDITION_S, "the pause to reach the activity")
    [details] = acts.cancellations[wf_id]
    assert details.paused
    p = await wait_state(client, wf_id, PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED)
    assert p.attempt == 2
    assert p.pause_info.manual.reason == "stop beating"
    await assert_no_new_attempt(acts, wf_id, "an attempt while paused")
    await unpause(client, wf_id, id="a")
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == 2
    assert acts.attempts[wf_id] == [1, 2]


async def reset(client: Client, wf_id: str, **kw) -> None:
    await client.workflow_service.reset_activity(
        ResetActivityRequest(
            namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=wf_id), **kw
        )
    )


async def test_reset_runs_the_activity_again_from_attempt_one(client, pausable, wf_id):
    acts, tq = pausable
    handle = await start(client, tq, wf_id, "fail_until_allowed")
    await wait_until(lambda: len(acts.attempts[wf_id]) >= 3, CONDITION_S, "three failed attempts")
    acts.allow[wf_id] = True
    await reset(client, wf_id, id="a")
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == 1
    assert acts.attempts[wf_id][-1] == 1


async def test_reset_with_keep_paused_holds_attempt_one_until_unpaused(client, pausable, wf_id):
    acts, tq = pausable
    handle = await start(client, tq, wf_id, "fail_until_allowed")
    await wait_until(lambda: len(acts.attempts[wf_id]) >= 2, CONDITION_S, "two failed attempts")
    await pause(client, wf_id, id="a")
    await wait_state(client, wf_id, PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED)
    await reset(client, wf_id, match_all=True, keep_paused=True)
    [p] = await pending(client, wf_id)
    assert (p.state, p.paused, p.attempt) == (
        PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED, True, 1
    )
    await assert_no_new_attempt(acts, wf_id, "an attempt while paused")
    acts.allow[wf_id] = True
    await unpause(client, wf_id, id="a")
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == 1


async def test_update_options_changes_timeouts_and_retry_policy(client, pausable, wf_id):
    acts, tq = pausable
    handle = await start(client, tq, wf_id, "fail_until_allowed")
    await wait_until(lambda: acts.attempts[wf_id], CONDITION_S, "a failed attempt")
    await pause(client, wf_id, id="a")
    await wait_state(client, wf_id, PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED)
    r = await client.workflow_service.update_activity_options(
        UpdateActivityOptionsRequest(
            namespace=NAMESPACE,
            execution=WorkflowExecution(workflow_id=wf_id),
            id="a",
            activity_options=ActivityOptions(
                start_to_close_timeout=Duration(seconds=45),
                heartbeat_timeout=Duration(seconds=7),  # not in the mask
                retry_policy=RetryPolicy(initial_interval=Duration(seconds=3)),
            ),
            update_mask=FieldMask(
                paths=["start_to_close_timeout", "retry_policy.initial_interval"]
            ),
        )
    )
    assert r.activity_options.start_to_close_timeout.seconds == 45
    assert r.activity_options.heartbeat_timeout.seconds == 5
    assert r.activity_options.retry_policy.initial_interval.seconds == 3
    [p] = await pending(client, wf_id)
    assert p.activity_options.start_to_close_timeout.seconds == 45
    assert p.activity_options.heartbeat_timeout.seconds == 5
    assert p.activity_options.retry_policy.initial_interval.seconds == 3
    assert p.activity_options.retry_policy.backoff_coefficient == 1.0
    assert p.paused, "an update leaves the pause alone"

    r = await client.workflow_service.update_activity_options(
        UpdateActivityOptionsRequest(
            namespace=NAMESPACE,
            execution=WorkflowExecution(workflow_id=wf_id),
            id="a",
            restore_original=True,
        )
    )
    assert r.activity_options.start_to_close_timeout.seconds == 30
    assert r.activity_options.retry_policy.initial_interval.ToMilliseconds() == 200
    acts.allow[wf_id] = True
    await unpause(client, wf_id, id="a")
    await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)


async def cli(server, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        temporal_bin(), *args, "--address", server.target, "--namespace", NAMESPACE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, f"temporal {' '.join(args)} failed: {err.decode()}"
    return out.decode()


async def test_cli_pause_and_unpause(server, client, pausable, wf_id):
    acts, tq = pausable
    handle = await start(client, tq, wf_id, "fail_until_allowed")
    await wait_until(lambda: len(acts.attempts[wf_id]) >= 1, CONDITION_S, "a failed attempt")
    await cli(
        server, "activity", "pause", "--workflow-id", wf_id, "--activity-id", "a",
        "--reason", "from the cli", "--identity", "cli-user",
    )
    p = await wait_state(client, wf_id, PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED)
    assert (p.pause_info.manual.identity, p.pause_info.manual.reason) == ("cli-user", "from the cli")
    seen = await assert_no_new_attempt(acts, wf_id, "an attempt while paused")
    acts.allow[wf_id] = True
    await cli(server, "activity", "unpause", "--workflow-id", wf_id, "--activity-id", "a")
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == seen + 1


async def test_cli_reset(server, client, pausable, wf_id):
    acts, tq = pausable
    handle = await start(client, tq, wf_id, "fail_until_allowed")
    await wait_until(lambda: len(acts.attempts[wf_id]) >= 3, CONDITION_S, "three failed attempts")
    acts.allow[wf_id] = True
    await cli(server, "activity", "reset", "--workflow-id", wf_id, "--activity-id", "a")
    assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S) == 1


async def test_cli_update_options(server, client, pausable, wf_id):
    acts, tq = pausable
    handle = await start(client, tq, wf_id, "fail_until_allowed")
    await wait_until(lambda: acts.attempts[wf_id], CONDITION_S, "a failed attempt")
    await cli(
        server, "activity", "update-options", "--workflow-id", wf_id, "--activity-id", "a",
        "--start-to-close-timeout", "50s", "--retry-maximum-attempts", "40",
    )
    [p] = await pending(client, wf_id)
    assert p.activity_options.start_to_close_timeout.seconds == 50
    assert p.activity_options.retry_policy.maximum_attempts == 40
    acts.allow[wf_id] = True
    await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)


async def rpc_error(call) -> RPCError:
    with pytest.raises(RPCError) as e:
        await call
    return e.value


async def test_bad_requests_get_temporals_answers(client, pausable, wf_id):
    acts, tq = pausable
    svc = client.workflow_service
    e = await rpc_error(svc.pause_activity(PauseActivityRequest(namespace=NAMESPACE, id="a")))
    assert (e.status, e.message) == (RPCStatusCode.INVALID_ARGUMENT, "WorkflowId is not set on request.")
    e = await rpc_error(pause(client, wf_id))
    assert (e.status, e.message) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "Either Activity.Id or Activity.Type should be set on request.",
    )
    e = await rpc_error(reset(client, wf_id))
    assert (e.status, e.message) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "Either Activity.Id or Activity.Type should be set on request.",
    )
    e = await rpc_error(unpause(client, wf_id))
    assert (e.status, e.message) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "Either Activity.Id or Activity.Type should be set on request.",
    )

    # The activity-execution forms the CLI sends check their own fields first.
    e = await rpc_error(svc.pause_activity_execution(
        PauseActivityExecutionRequest(namespace=NAMESPACE, workflow_id=wf_id)
    ))
    assert (e.status, e.message) == (RPCStatusCode.INVALID_ARGUMENT, "activity ID is required")
    e = await rpc_error(svc.unpause_activity_execution(
        UnpauseActivityExecutionRequest(
            namespace=NAMESPACE, workflow_id=wf_id, activity_id="a", run_id="not-a-uuid"
        )
    ))
    assert (e.status, e.message) == (
        RPCStatusCode.INVALID_ARGUMENT, "invalid run id: must be a valid UUID"
    )

    handle = await start(client, tq, wf_id, "fail_until_allowed")
    await wait_until(lambda: acts.attempts[wf_id], CONDITION_S, "a failed attempt")
    not_found = (
        RPCStatusCode.NOT_FOUND,
        "Can't find pending activity with such ID. Invalid activityID or activity already completed",
    )
    e = await rpc_error(pause(client, wf_id, id="nope"))
    assert (e.status, e.message) == not_found
    e = await rpc_error(unpause(client, wf_id, type="nope"))
    assert (e.status, e.message) == not_found
    e = await rpc_error(reset(client, wf_id, type="nope"))
    assert (e.status, e.message) == not_found
    e = await rpc_error(svc.pause_activity_execution(
        PauseActivityExecutionRequest(namespace=NAMESPACE, workflow_id=wf_id, activity_id="nope")
    ))
    assert (e.status, e.message) == not_found

    await unpause(client, wf_id, id="a")  # not paused: nothing to do, no error
    await pause(client, wf_id, id="a", request_id="r1")
    await pause(client, wf_id, id="a", request_id="r1")  # the same request again: no error
    e = await rpc_error(pause(client, wf_id, id="a", request_id="r2"))
    assert (e.status, e.message) == (RPCStatusCode.FAILED_PRECONDITION, "activity is already paused")

    acts.allow[wf_id] = True
    await unpause(client, wf_id, id="a")
    await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    e = await rpc_error(pause(client, wf_id, id="a"))
    assert (e.status, e.message) == (RPCStatusCode.NOT_FOUND, "workflow execution already completed")
    e = await rpc_error(reset(client, wf_id, id="a"))
    assert (e.status, e.message) == (RPCStatusCode.NOT_FOUND, "workflow execution already completed")
