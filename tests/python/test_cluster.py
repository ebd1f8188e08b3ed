"""A 3-node perdure cluster runs what one node runs, and survives losing a leader.

1. Acceptance on a cluster: the single-node acceptance tests (test_acceptance.py) and the golden
   scenarios (test_history_golden.py) run unchanged with the worker connected to node 2 and the
   client to node 3; the histories must equal the goldens recorded from Temporal's dev server.
2. Leader loss: PERDURE_CLUSTER_WORKFLOWS (100) workflows of PERDURE_CLUSTER_ACTIVITIES (5)
   ~200 ms activities are in flight when the node leading the most Raft groups gets SIGKILL.
   Worker and client sit on the two other nodes. Everything must complete within
   PERDURE_CLUSTER_DEADLINE_S (240) of the kill, no activity completion may be written twice, and
   each group the victim led must have a new leader within PERDURE_CLUSTER_LEADERLESS_BOUND_S (10)
   (printed as ``LEADERLESS_MS group=<g> ms=<n>``). A longer run:

       PERDURE_CLUSTER_WORKFLOWS=1000 PERDURE_CLUSTER_DEADLINE_S=1200 .venv/bin/python -m pytest \\
           tests/python/test_cluster.py -k leader_loss -s -o timeout=1800

Each cluster test starts its own cluster (cluster.py) and never the single-node session server:
no test here requests the ``server``, ``client`` or ``worker`` fixtures. Perdure only (Temporal's
dev server is one node); the unit checks of the harness's /cluster parsing run everywhere.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
import uuid
from datetime import timedelta

import pytest
import pytest_asyncio
from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.enums.v1 import EventType, NamespaceState
from temporalio.api.namespace.v1 import UpdateNamespaceInfo
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    GetClusterInfoRequest,
    ListTaskQueuePartitionsRequest,
    ListWorkflowExecutionsRequest,
    RegisterNamespaceRequest,
    StartWorkflowExecutionRequest,
    UpdateNamespaceRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

import custom_attributes
import test_acceptance
import test_child_workflows
import test_external_signals
import test_history_golden
import test_task_queues
import test_updates
import test_visibility
import workflows
from cluster import Cluster, ContractError, count_leaders, merge_leaders, parse_view
from harness import server_kind
from history import assert_steps_done_once, events_of
from scenarios import ALL_SCENARIOS
from waiting import wait_until
from workers import running_worker


def _env_number(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


WORKFLOWS = int(_env_number("PERDURE_CLUSTER_WORKFLOWS", 100))
ACTIVITIES = int(_env_number("PERDURE_CLUSTER_ACTIVITIES", 5))
COMPLETE_DEADLINE_S = _env_number("PERDURE_CLUSTER_DEADLINE_S", 240)
LEADERLESS_BOUND_S = _env_number("PERDURE_CLUSTER_LEADERLESS_BOUND_S", 10)

perdure_only = pytest.mark.skipif(
    server_kind() != "perdure", reason="a multi-node perdure cluster (perdure only)"
)


# --- the harness's reading of /cluster (no server needed) --------------------------------


def group_doc(group: int, leader: int | None, term: int, **overrides) -> dict:
    doc = {
        "group": group, "leader": leader, "term": term, "last_log_index": 120,
        "committed": 120, "applied": 120, "snapshot_index": None, "purged_index": None,
        "voters": [1, 2, 3], "learners": [], "replication": None,
    }  # fmt: skip
    doc.update(overrides)
    return doc


def test_cluster_view_reads_the_contract_example():
    view = parse_view(
        {
            "node_id": 2,
            "groups": [
                group_doc(
                    0, 2, 3, snapshot_index=100, purged_index=50,
                    replication={"1": 120, "2": 118, "3": 120},
                ),
                group_doc(1, 2, 3, replication={"1": 1, "2": 1, "3": None}),
                group_doc(2, None, 4),
            ],
        },  # fmt: skip
        "node 2",
    )
    assert view.node_id == 2
    assert sorted(view.groups) == [0, 1, 2]
    assert view.groups[0].replication == {1: 120, 2: 118, 3: 120}
    assert (view.groups[0].snapshot_index, view.groups[0].purged_index) == (100, 50)
    assert view.groups[1].replication == {1: 1, 2: 1, 3: None}
    assert view.groups[2].leader is None
    assert list(view.led()) == [0, 1]


@pytest.mark.parametrize(
    "doc, complaint",
    [
        ({"groups": []}, "'node_id'"),
        ({"node_id": 1, "groups": [{"group": 0}]}, "'replication'"),
        ({"node_id": 1, "groups": [group_doc(0, "2", 1)]}, "'leader'"),
        ({"node_id": 1, "groups": [group_doc(0, 1, True)]}, "'term'"),
        ({"node_id": 1, "groups": [group_doc(0, 1, 1), group_doc(0, 1, 1)]}, "listed twice"),
        ({"node_id": 1, "groups": [group_doc(0, 1, 1, replication={"x": 1})]}, "node ids"),
    ],
)
def test_cluster_view_rejects_what_the_contract_does_not_allow(doc, complaint):
    with pytest.raises(ContractError, match=complaint):
        parse_view(doc, "node 1")


def test_leaders_believe_a_self_reported_leader_over_followers():
    node1 = parse_view(
        {
            "node_id": 1,
            "groups": [
                group_doc(0, 3, 6),  # node 1 names 3 (a later term, but 3 is not asked)
                group_doc(1, 3, 2),
                group_doc(2, None, 2),
            ],
        },
        "node 1",
    )
    node2 = parse_view(
        {
            "node_id": 2,
            "groups": [
                group_doc(0, 2, 5),  # node 2 says it leads group 0 itself
                group_doc(1, 1, 3),  # nobody self-reports group 1: the highest term wins
                group_doc(2, None, 2),
            ],
        },
        "node 2",
    )
    leaders = merge_leaders([node1, node2])
    assert leaders == {0: 2, 1: 1, 2: None}
    assert count_leaders(leaders, [1, 2, 3]) == {1: 1, 2: 1, 3: 0}


# --- 1. the single-node acceptance suite on a cluster ------------------------------------

#: The single-node acceptance tests, called as plain coroutines with cluster fixtures.
ACCEPTANCE = {
    name: fn
    for name, fn in vars(test_acceptance).items()
    if name.startswith("test_") and inspect.iscoroutinefunction(fn)
}


@pytest_asyncio.fixture(scope="class")
async def acceptance_cluster():
    """One cluster per test class: torn down before the leader-loss test starts its own."""
    async with Cluster(size=3) as cluster:
        yield cluster


@pytest_asyncio.fixture(scope="class")
async def node3_client(acceptance_cluster: Cluster):
    return await acceptance_cluster.client(3)


@pytest_asyncio.fixture
async def node2_worker(acceptance_cluster: Cluster):
    async with running_worker(await acceptance_cluster.client(2), prefix="cluster") as w:
        yield w


@pytest.mark.cluster
@perdure_only
class TestSingleNodeAcceptanceOnACluster:
    # Every golden scenario, those with their own workers (children, external signals) too.
    @pytest.mark.parametrize("scenario", sorted(ALL_SCENARIOS))
    async def test_history_matches_single_node_golden(
        self, node3_client, node2_worker, wf_id, scenario
    ):
        await test_history_golden.test_history_matches_golden(
            node3_client, node2_worker, wf_id, scenario
        )

    @pytest.mark.parametrize("name", sorted(ACCEPTANCE))
    async def test_single_node_acceptance(self, node3_client, node2_worker, wf_id, name):
        await ACCEPTANCE[name](client=node3_client, worker=node2_worker, wf_id=wf_id)

    # Children and their parents, signallers and their targets land on shards led by
    # different nodes (twenty children spread over every shard), so each effect crosses nodes.
    @pytest.mark.parametrize(
        "test",
        [
            test_child_workflows.test_twenty_children_in_parallel,
            test_child_workflows.test_a_child_cancelled_by_its_parent,
            test_child_workflows.test_parent_close_policy_terminate,
            test_child_workflows.test_a_child_that_continues_as_new_is_one_child,
            test_external_signals.test_a_workflow_signals_another_once_per_send_in_order,
        ],
        ids=lambda t: t.__name__,
    )
    async def test_effects_across_nodes(self, node3_client, node2_worker, wf_id, test):
        await test(client=node3_client, worker=node2_worker, wf_id=wf_id)

    # An update waits on its run's shard leader (the client's node forwards it there) while the
    # worker polls through another node; update-with-start admits it with the new run.
    @pytest.mark.parametrize(
        "test",
        [
            test_updates.test_an_update_changes_state_and_returns_its_result,
            test_updates.test_wait_stages_accepted_then_completed,
            test_updates.test_a_rejected_update_writes_nothing,
            test_updates.test_the_same_update_id_is_one_update,
            test_updates.test_closing_a_workflow_ends_its_pending_updates,
            test_updates.test_update_with_start_starts_a_workflow_or_updates_the_running_one,
        ],
        ids=lambda t: t.__name__,
    )
    async def test_updates_across_nodes(self, node3_client, node2_worker, wf_id, test):
        await test(client=node3_client, worker=node2_worker, wf_id=wf_id)

    # List and Count ask every shard's leader (Internal.Visibility) and merge; the client, the
    # worker and the CLI each talk to a different node.
    async def test_visibility_across_nodes(self, acceptance_cluster, node3_client, node2_worker):
        await test_visibility.check_list_count_and_paging(
            node3_client, node2_worker, acceptance_cluster.api_addr(1), f"vis-{uuid.uuid4().hex[:8]}-"
        )

    # Polls are served (and recorded) by the queue's owner; DescribeTaskQueue is routed there
    # too, so every node lists a worker that polls through another one.
    async def test_every_node_lists_a_worker_polling_another(
        self, acceptance_cluster, node2_worker
    ):
        identity = (await acceptance_cluster.client(2)).identity
        for node in (1, 3):
            await test_task_queues.check_pollers_listed(
                await acceptance_cluster.client(node), node2_worker.task_queue, identity
            )

    # Custom search attributes live in the meta group: registered through a node that does not
    # lead it (the write is forwarded to the leader), then listed, used by a start and queried
    # on every node. The node that answered Add sees it at once; the others once their replica
    # has applied it (waited for with a deadline).
    async def test_custom_search_attributes_across_nodes(self, acceptance_cluster):
        meta_leader = (await acceptance_cluster.leaders()).get(0)
        adder = next(n for n in acceptance_cluster.node_ids if n != meta_leader)
        others = [n for n in acceptance_cluster.node_ids if n != adder]
        add_client = await acceptance_cluster.client(adder)
        ns = await custom_attributes.fresh_namespace(add_client, "cluster-sa")
        await custom_attributes.add(ns, {"ClusterKeyword": "Keyword", "ClusterInt": "Int"})
        want = {
            "ClusterKeyword": custom_attributes.TYPES["Keyword"],
            "ClusterInt": custom_attributes.TYPES["Int"],
        }
        assert await custom_attributes.custom(ns) == want
        wf_id = f"cluster-sa-{uuid.uuid4().hex[:8]}"
        await ns.start_workflow(
            "Idle", id=wf_id, task_queue=f"cluster-sa-{uuid.uuid4()}",
            search_attributes=TypedSearchAttributes([
                SearchAttributePair(SearchAttributeKey.for_keyword("ClusterKeyword"), "green"),
                SearchAttributePair(SearchAttributeKey.for_int("ClusterInt"), 3),
            ]),
        )
        for node in others:
            c = Client((await acceptance_cluster.client(node)).service_client, namespace=ns.namespace)

            async def seen():
                if await custom_attributes.custom(c) != want:
                    return False
                resp = await c.workflow_service.list_workflow_executions(
                    ListWorkflowExecutionsRequest(
                        namespace=ns.namespace, query="ClusterKeyword = 'green' AND ClusterInt >= 3"
                    ),
                    timeout=timedelta(seconds=10),
                )
                return [r.execution.workflow_id for r in resp.executions] == [wf_id]

            await wait_until(seen, 10, f"node {node} to list and query the new attributes")
        await custom_attributes.remove(ns, ["ClusterInt"])
        assert set(await custom_attributes.custom(ns)) == {"ClusterKeyword"}
        await ns.get_workflow_handle(wf_id).terminate("test done")

    # A namespace update made through a node that does not lead the meta group is forwarded to
    # the leader; the answering node describes it at once, the others once their replica has
    # applied it, and every node then enforces the new state.
    async def test_namespace_update_across_nodes(self, acceptance_cluster):
        meta_leader = (await acceptance_cluster.leaders()).get(0)
        updater = next(n for n in acceptance_cluster.node_ids if n != meta_leader)
        client = await acceptance_cluster.client(updater)
        name = f"cluster-upd-{uuid.uuid4().hex[:8]}"
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace=name, workflow_execution_retention_period=Duration(seconds=86400)
            ),
            timeout=timedelta(seconds=10),
        )
        # Every node resolves it first, so a node answering from a stale cache would show.
        async def known(node: int) -> bool:
            c = await acceptance_cluster.client(node)
            try:
                await c.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=name), timeout=timedelta(seconds=10)
                )
            except RPCError as e:
                if e.status != RPCStatusCode.NOT_FOUND:
                    raise
                return False
            return True

        for node in acceptance_cluster.node_ids:
            await wait_until(lambda: known(node), 10, f"node {node} to know the new namespace")
        await client.workflow_service.update_namespace(
            UpdateNamespaceRequest(
                namespace=name,
                update_info=UpdateNamespaceInfo(
                    description="updated", state=NamespaceState.NAMESPACE_STATE_DEPRECATED
                ),
            ),
            timeout=timedelta(seconds=10),
        )

        async def described(node: int) -> bool:
            c = await acceptance_cluster.client(node)
            d = await c.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=name), timeout=timedelta(seconds=10)
            )
            return (d.namespace_info.description, d.namespace_info.state) == (
                "updated", NamespaceState.NAMESPACE_STATE_DEPRECATED
            )

        assert await described(updater), "the answering node sees its own update"
        for node in acceptance_cluster.node_ids:
            await wait_until(lambda: described(node), 10, f"node {node} to see the update")
            c = await acceptance_cluster.client(node)
            with pytest.raises(RPCError) as err:
                await c.workflow_service.start_workflow_execution(
                    StartWorkflowExecutionRequest(
                        namespace=name, workflow_id="refused", request_id=str(uuid.uuid4()),
                        workflow_type=WorkflowType(name="Idle"), task_queue=TaskQueue(name="q"),
                    ),
                    timeout=timedelta(seconds=10),
                )
            assert err.value.status == RPCStatusCode.FAILED_PRECONDITION, f"node {node}"

    # A task queue's one partition is owned by the leader of the group its name routes to:
    # every node names the same owner, one of the cluster's nodes.
    async def test_every_node_names_the_same_partition_owner(self, acceptance_cluster):
        queue = f"cluster-partitions-{uuid.uuid4()}"
        owners = set()
        for node in acceptance_cluster.node_ids:
            c = await acceptance_cluster.client(node)
            got = await c.workflow_service.list_task_queue_partitions(
                ListTaskQueuePartitionsRequest(namespace="default", task_queue=TaskQueue(name=queue)),
                timeout=timedelta(seconds=10),
            )
            assert [p.key for p in got.workflow_task_queue_partitions] == [queue]
            owners |= {p.owner_host_name for p in got.workflow_task_queue_partitions}
            owners |= {p.owner_host_name for p in got.activity_task_queue_partitions}
        internal_addrs = {p.split("=", 1)[1] for p in acceptance_cluster.peers.split(",")}
        assert len(owners) == 1 and owners <= internal_addrs, owners

    # The cluster id is replicated in the meta group: every node describes the same cluster.
    async def test_every_node_describes_the_same_cluster(self, acceptance_cluster):
        infos = []
        for node in acceptance_cluster.node_ids:
            c = await acceptance_cluster.client(node)
            infos.append(
                await c.workflow_service.get_cluster_info(
                    GetClusterInfoRequest(), timeout=timedelta(seconds=10)
                )
            )
        assert len({i.cluster_id for i in infos}) == 1 and infos[0].cluster_id != ""
        assert {i.history_shard_count for i in infos} == {acceptance_cluster.shards}
        assert {i.cluster_name for i in infos} == {"active"}


# --- 2. losing the node that leads the most groups ---------------------------------------


@pytest_asyncio.fixture
async def cluster():
    async with Cluster(size=3) as c:
        yield c


@pytest.mark.cluster
@perdure_only
async def test_leader_loss_mid_run_loses_and_duplicates_nothing(cluster: Cluster):
    await asyncio.wait_for(_leader_loss(cluster), timeout=COMPLETE_DEADLINE_S + 180)


async def _leader_loss(cluster: Cluster) -> None:
    counts = count_leaders(await cluster.wait_all_groups_led(deadline=60), cluster.node_ids)
    # The victim is chosen first, so worker and client can start on nodes that survive.
    victim = max(cluster.node_ids, key=lambda n: (counts[n], -n))
    survivors = [n for n in cluster.node_ids if n != victim]
    worker_node, client_node = survivors[0], survivors[-1]
    print(
        f"leader loss: groups led per node {counts}; victim node {victim}; "
        f"worker on node {worker_node}, client on node {client_node}"
    )
    client = await cluster.client(client_node)
    total = WORKFLOWS * ACTIVITIES
    ids = [f"leader-loss-{i}-{uuid.uuid4().hex[:6]}" for i in range(WORKFLOWS)]

    async with running_worker(
        await cluster.client(worker_node),
        prefix="leader-loss",
        max_concurrent_activities=max(300, WORKFLOWS),
    ) as w:
        completed = w.activities.completed
        await asyncio.gather(
            *(
                client.start_workflow(
                    workflows.FiveSteps.run, ACTIVITIES, id=wf_id, task_queue=w.task_queue
                )
                for wf_id in ids
            )
        )
        await wait_until(lambda: len(completed) >= total // 10, 120, "first completions")

        # What the victim itself says it leads, read just before it dies.
        old_terms = {g: v.term for g, v in (await cluster.status(victim)).led().items()}
        assert old_terms, f"node {victim} leads no group at the kill; the test proves nothing"
        done_before_kill = len(set(completed))
        killed_at = time.monotonic()
        cluster.kill(victim)
        assert done_before_kill < total, "everything finished before the kill; test proves nothing"

        leaderless = await cluster.wait_new_leaders(
            old_terms, killed_at, survivors, deadline=max(30.0, 3 * LEADERLESS_BOUND_S)
        )
        report_leaderless(leaderless)

        remaining = COMPLETE_DEADLINE_S - (time.monotonic() - killed_at)
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(client.get_workflow_handle(i).result() for i in ids)),
                timeout=max(remaining, 1.0),
            )
        except asyncio.TimeoutError:
            await report_unfinished(client, ids)
            raise
        print(
            f"leader loss: all {WORKFLOWS} workflows done {time.monotonic() - killed_at:.1f}s "
            f"after the kill; {done_before_kill}/{total} steps done at the kill, "
            f"{len(completed) - len(set(completed))} steps re-run after it"
        )

    for wf_id, result in zip(ids, results):
        assert result == [f"{wf_id}:{step}" for step in range(ACTIVITIES)]
    assert set(completed) == {(i, s) for i in ids for s in range(ACTIVITIES)}
    await assert_steps_done_once(client, ids, ACTIVITIES, completed)

    slow = {g: s for g, s in leaderless.items() if s is None or s >= LEADERLESS_BOUND_S}
    assert not slow, f"groups of node {victim} leaderless >= {LEADERLESS_BOUND_S}s: {slow}"
    await cluster.wait_all_groups_led(exclude=[victim], deadline=30)


async def report_unfinished(client, ids: list[str]) -> None:
    """Prints what each workflow that did not finish is waiting for (for the failure report)."""
    for wf_id in ids:
        d = await client.get_workflow_handle(wf_id).describe()
        if d.status is not None and d.status.name != "RUNNING":
            continue
        raw = d.raw_description
        pending = [
            (a.activity_id, a.state, a.attempt) for a in raw.pending_activities
        ]
        wft = raw.pending_workflow_task
        events = await events_of(client.get_workflow_handle(wf_id))
        print(
            f"UNFINISHED {wf_id}: last event {events[-1].event_id} "
            f"{EventType.Name(events[-1].event_type)}; pending activities {pending}; "
            f"pending workflow task {wft.state if wft.ByteSize() else None}"
        )


def report_leaderless(leaderless: dict[int, float | None]) -> None:
    def ms(seconds: float | None) -> str:
        return "none" if seconds is None else str(round(seconds * 1000))

    for group, seconds in sorted(leaderless.items()):
        print(f"LEADERLESS_MS group={group} ms={ms(seconds)}")
    known = [s for s in leaderless.values() if s is not None]
    worst = None if len(known) < len(leaderless) else max(known, default=None)
    print(f"LEADERLESS_MS max ms={ms(worst)} groups={len(leaderless)}")
