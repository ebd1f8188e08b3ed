"""DescribeTaskQueue, ListTaskQueuePartitions and GetSystemInfo (issue 8): what both servers answer, in the legacy request
shape (one partition of one type) and the enhanced one (per build id and type: what
`temporal task-queue describe` sends).

Owns: the checks of pollers (identity, last access), backlogs (count, age), sticky queues, bad
requests and capabilities; ``check_pollers_listed`` is reused by test_cluster.py with the worker
and the describing client on different nodes. Must never: assert rates or values only one
server computes (Temporal's legacy backlog hint lags its backlog; its rate limits are its own;
rates are asserted only as zero or not).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from temporalio.api.enums.v1 import (
    BuildIdTaskReachability,
    DescribeTaskQueueMode,
    TaskQueueKind,
    TaskQueueType,
)
from temporalio.api.common.v1 import WorkerVersionCapabilities
from temporalio.api.taskqueue.v1 import TaskQueue, TaskQueueVersionSelection
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    DescribeTaskQueueResponse,
    GetSystemInfoRequest,
    ListTaskQueuePartitionsRequest,
    PollWorkflowTaskQueueRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from harness import NAMESPACE, server_kind
from rpc import RPC_TIMEOUT
from waiting import CONDITION_S, wait_until

ENHANCED = DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED
WORKFLOW = TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
ACTIVITY = TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY

#: A poll is noted when it begins and ends, and an SDK worker re-polls at once, so a listed
#: poller's last access is at most one long poll (about a minute) old; a slow machine gets more.
RECENT_S = 120


async def describe(client: Client, **fields) -> DescribeTaskQueueResponse:
    fields.setdefault("namespace", NAMESPACE)
    return await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(**fields), timeout=RPC_TIMEOUT
    )


def identities(pollers) -> set[str]:
    return {p.identity for p in pollers}


def assert_recent(poller) -> None:
    seen = poller.last_access_time.ToDatetime(tzinfo=timezone.utc)
    age = (datetime.now(timezone.utc) - seen).total_seconds()
    assert -5 < age < RECENT_S, f"{poller.identity} last seen {age:.1f}s ago"


async def check_pollers_listed(describer: Client, task_queue: str, identity: str) -> None:
    """A worker with ``identity`` polls ``task_queue``: ``describer`` lists it for both types, in
    both request shapes, with a recent last access time."""
    for tq_type in (WORKFLOW, ACTIVITY):

        async def listed(tq_type=tq_type):
            r = await describe(describer, task_queue=TaskQueue(name=task_queue), task_queue_type=tq_type)
            return r if identity in identities(r.pollers) else None

        r = await wait_until(listed, CONDITION_S, f"{identity} listed as a {tq_type} poller")
        (p,) = [p for p in r.pollers if p.identity == identity]
        assert_recent(p)
        # No rate of its own set: Temporal's default dispatch rate is shown.
        assert p.rate_per_second == 100000.0
        assert r.versioning_info.current_version == "__unversioned__"

    r = await describe(
        describer, task_queue=TaskQueue(name=task_queue), api_mode=ENHANCED, report_pollers=True
    )
    assert list(r.versions_info) == [""]
    types = r.versions_info[""].types_info
    assert sorted(types) == [WORKFLOW, ACTIVITY]
    for tq_type in (WORKFLOW, ACTIVITY):
        assert identity in identities(types[tq_type].pollers)
        assert not types[tq_type].HasField("stats"), "stats were not asked for"


async def test_a_polling_worker_is_listed_with_its_identity(client, worker):
    await check_pollers_listed(client, worker.task_queue, client.identity)


async def test_pollers_are_per_queue_and_type(client, worker):
    other = f"nobody-{uuid.uuid4()}"
    await check_pollers_listed(client, worker.task_queue, client.identity)
    r = await describe(client, task_queue=TaskQueue(name=other), include_task_queue_status=True)
    assert list(r.pollers) == []
    assert r.HasField("task_queue_status")
    r = await describe(
        client, task_queue=TaskQueue(name=worker.task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_NEXUS,
    )
    assert list(r.pollers) == []


async def test_a_queue_without_workers_shows_its_backlog(client):
    queue = f"backlog-{uuid.uuid4()}"
    for i in range(3):
        await client.start_workflow("NobodyRunsThis", id=f"{queue}-{i}", task_queue=queue)
    started = time.monotonic()

    async def stats():
        r = await describe(client, task_queue=TaskQueue(name=queue), report_stats=True)
        return r if r.stats.approximate_backlog_count == 3 else None

    r = await wait_until(stats, CONDITION_S, "three workflow tasks in the backlog")
    assert list(r.pollers) == []
    age = r.stats.approximate_backlog_age.ToTimedelta()
    assert timedelta(0) < age < timedelta(seconds=time.monotonic() - started + 30)
    assert r.stats_by_priority_key[3].approximate_backlog_count == 3
    # Three tasks added in the last 30 s, none handed to a worker.
    assert r.stats.tasks_add_rate > 0 and r.stats.tasks_dispatch_rate == 0

    r = await describe(
        client, task_queue=TaskQueue(name=queue), api_mode=ENHANCED, report_pollers=True,
        report_stats=True,
    )
    types = r.versions_info[""].types_info
    assert types[WORKFLOW].stats.approximate_backlog_count == 3
    assert types[WORKFLOW].stats.approximate_backlog_age.ToTimedelta() > timedelta(0)
    assert types[ACTIVITY].stats.approximate_backlog_count == 0
    assert types[ACTIVITY].stats.HasField("approximate_backlog_age")
    assert list(types[WORKFLOW].pollers) == [] and list(types[ACTIVITY].pollers) == []

    # The legacy status is there (the CLI's legacy mode reads it), whatever its hint says:
    # Temporal's lags its backlog.
    r = await describe(client, task_queue=TaskQueue(name=queue), include_task_queue_status=True)
    assert r.HasField("task_queue_status") and not r.HasField("stats")


async def test_enhanced_mode_per_build_id_and_type(client, worker):
    await check_pollers_listed(client, worker.task_queue, client.identity)
    r = await describe(
        client, task_queue=TaskQueue(name=worker.task_queue), api_mode=ENHANCED,
        report_pollers=True, report_task_reachability=True,
        versions=TaskQueueVersionSelection(build_ids=["some-build"], unversioned=True),
        task_queue_types=[ACTIVITY],
    )
    assert sorted(r.versions_info) == ["", "some-build"]
    unversioned, other = r.versions_info[""], r.versions_info["some-build"]
    assert list(unversioned.types_info) == [ACTIVITY] == list(other.types_info)
    assert client.identity in identities(unversioned.types_info[ACTIVITY].pollers)
    assert list(other.types_info[ACTIVITY].pollers) == []
    assert unversioned.task_reachability == BuildIdTaskReachability.BUILD_ID_TASK_REACHABILITY_REACHABLE
    assert other.task_reachability == BuildIdTaskReachability.BUILD_ID_TASK_REACHABILITY_UNREACHABLE

    # Selecting only active versions: there is none besides the unversioned queue.
    r = await describe(
        client, task_queue=TaskQueue(name=worker.task_queue), api_mode=ENHANCED,
        report_pollers=True, versions=TaskQueueVersionSelection(all_active=True),
    )
    assert dict(r.versions_info) == {}


async def test_a_sticky_queue_lists_its_poller(client):
    """A worker's sticky queue is described with kind STICKY; a raw poll stands in for the
    worker so the test knows the queue's name."""
    normal = f"sticky-normal-{uuid.uuid4()}"
    sticky = f"{normal}-sticky"
    sticky_tq = TaskQueue(
        name=sticky, kind=TaskQueueKind.TASK_QUEUE_KIND_STICKY, normal_name=normal
    )
    poll = asyncio.create_task(
        client.workflow_service.poll_workflow_task_queue(
            PollWorkflowTaskQueueRequest(
                namespace=NAMESPACE, task_queue=sticky_tq, identity="sticky-poller",
                worker_version_capabilities=WorkerVersionCapabilities(build_id="raw-build"),
            ),
            timeout=timedelta(seconds=90),
        )
    )
    try:

        async def listed():
            r = await describe(client, task_queue=sticky_tq, include_task_queue_status=True)
            return r if "sticky-poller" in identities(r.pollers) else None

        r = await wait_until(listed, CONDITION_S, "the sticky poller listed")
        assert_recent(r.pollers[0])
        # What the poll said of its worker is shown as it was sent. (The Python SDK's worker
        # sends a build id to the dev server but none to Perdure, which does not claim
        # build-id versioning; so a raw poll checks the echo on both.)
        assert r.pollers[0].worker_version_capabilities.build_id == "raw-build"
        assert r.HasField("task_queue_status")
        # Only normal queues report versioning.
        assert not r.HasField("versioning_info")
        # The sticky poll is not a poll of the normal queue.
        r = await describe(client, task_queue=TaskQueue(name=normal))
        assert "sticky-poller" not in identities(r.pollers)

        with pytest.raises(RPCError) as err:
            await describe(client, task_queue=sticky_tq, api_mode=ENHANCED)
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.value.message == (
            "Enhanced DescribeTaskQueue is not valid for a sticky queue, use "
            "api_mode=UNSPECIFIED or a normal queue."
        )
    finally:
        poll.cancel()
        await asyncio.gather(poll, return_exceptions=True)


async def test_a_partition_other_than_the_root_is_described_empty(client, worker):
    await check_pollers_listed(client, worker.task_queue, client.identity)
    partition = f"/_sys/{worker.task_queue}/1"
    if server_kind() == "perdure":
        # One partition per queue: every poll goes to the root. (Temporal's dev server has four
        # partitions and spreads polls over them, so its partition 1 may list the worker.)
        r = await describe(client, task_queue=TaskQueue(name=partition), include_task_queue_status=True)
        assert list(r.pollers) == [] and r.task_queue_status.backlog_count_hint == 0
    with pytest.raises(RPCError) as err:
        await describe(client, task_queue=TaskQueue(name=partition), report_stats=True)
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert err.value.message == "DescribeTaskQueue stats are only supported for the root partition"


@pytest.mark.parametrize(
    "fields, code, message",
    [
        ({"task_queue": TaskQueue(name="")}, RPCStatusCode.INVALID_ARGUMENT, "missing task queue name"),
        ({}, RPCStatusCode.INVALID_ARGUMENT, "taskQueue is not set"),
        (
            {"task_queue": TaskQueue(name="q" * 1001)},
            RPCStatusCode.INVALID_ARGUMENT,
            "taskQueue length exceeds limit",
        ),
        (
            {"namespace": "no-such-namespace", "task_queue": TaskQueue(name="q")},
            RPCStatusCode.NOT_FOUND,
            "Namespace no-such-namespace is not found.",
        ),
        (
            {"task_queue": TaskQueue(name="/_sys/q/1"), "api_mode": ENHANCED},
            RPCStatusCode.INVALID_ARGUMENT,
            "task queue name cannot start with reserved prefix /_sys/",
        ),
        (
            {"task_queue": TaskQueue(name="/_sys/q/zero")},
            RPCStatusCode.INVALID_ARGUMENT,
            "invalid task queue partition name /_sys/q/zero",
        ),
        (
            {
                "task_queue": TaskQueue(name="q"),
                "api_mode": ENHANCED,
                "report_task_reachability": True,
                "versions": TaskQueueVersionSelection(build_ids=[f"b{i}" for i in range(6)]),
            },
            RPCStatusCode.INVALID_ARGUMENT,
            "Too many build ids queried at once with ReportTaskReachability==true, limit: 5",
        ),
    ],
    ids=["empty-name", "no-queue", "long-name", "unknown-namespace", "enhanced-partition",
         "bad-partition", "too-many-build-ids"],
)
async def test_bad_describe_requests(client, fields, code, message):
    with pytest.raises(RPCError) as err:
        await describe(client, **fields)
    assert (err.value.status, err.value.message) == (code, message)


#: What GetSystemInfo must say of Perdure: true only for what it does. Temporal's dev server
#: sets every one of these and more.
PERDURE_CAPABILITIES = {
    "signal_and_query_header",
    "activity_failure_include_heartbeat",
    "encoded_failure_attributes",
    "sdk_metadata",
    "upsert_memo",
    "count_group_by_execution_status",
    "supports_schedules",
}


async def test_system_info_capabilities(client):
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=RPC_TIMEOUT)
    caps = {f.name for f, v in info.capabilities.ListFields() if v}
    assert info.server_version != ""
    if server_kind() == "perdure":
        assert caps == PERDURE_CAPABILITIES
    else:
        assert caps >= PERDURE_CAPABILITIES


# ListTaskQueuePartitions: the root partition (named like the queue) comes first for both task
# types, each with an owner host. Temporal's dev server adds its `/_sys/<q>/<n>` partitions
# after it; Perdure keeps one partition per queue.
async def test_list_task_queue_partitions(client):
    queue = f"partitions-{uuid.uuid4()}"
    got = await client.workflow_service.list_task_queue_partitions(
        ListTaskQueuePartitionsRequest(namespace=NAMESPACE, task_queue=TaskQueue(name=queue)),
        timeout=RPC_TIMEOUT,
    )
    for partitions in (got.workflow_task_queue_partitions, got.activity_task_queue_partitions):
        keys = [p.key for p in partitions]
        assert keys[0] == queue
        assert keys[1:] == [f"/_sys/{queue}/{n}" for n in range(1, len(keys))]
        assert all(p.owner_host_name for p in partitions)
    if server_kind() == "perdure":
        assert len(got.workflow_task_queue_partitions) == 1


@pytest.mark.parametrize(
    "task_queue, code, message",
    [
        (None, RPCStatusCode.INVALID_ARGUMENT, "taskQueue is not set"),
        (TaskQueue(name=""), RPCStatusCode.INVALID_ARGUMENT, "missing task queue name"),
        (
            TaskQueue(name="/_sys/q/1"),
            RPCStatusCode.INVALID_ARGUMENT,
            "task queue name cannot start with reserved prefix /_sys/",
        ),
        (TaskQueue(name="x" * 1001), RPCStatusCode.INVALID_ARGUMENT, "taskQueue length exceeds limit"),
    ],
)
async def test_bad_list_partition_requests(client, task_queue, code, message):
    with pytest.raises(RPCError) as err:
        await client.workflow_service.list_task_queue_partitions(
            ListTaskQueuePartitionsRequest(namespace=NAMESPACE, task_queue=task_queue),
            timeout=RPC_TIMEOUT,
        )
    assert (err.value.status, err.value.message) == (code, message)
