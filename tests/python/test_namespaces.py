"""Namespaces: RegisterNamespace, DescribeNamespace, ListNamespaces, UpdateNamespace (and what
a deprecated or deleted namespace still answers), and a workflow running in a namespace
registered at runtime. Every expectation holds on Temporal's dev server too."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import NamespaceState, ReplicationState
from temporalio.api.errordetails.v1 import NamespaceInvalidStateFailure
from temporalio.api.namespace.v1 import NamespaceConfig, NamespaceFilter, UpdateNamespaceInfo
from temporalio.api.replication.v1 import ClusterReplicationConfig, NamespaceReplicationConfig
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DeprecateNamespaceRequest,
    DescribeNamespaceRequest,
    ListNamespacesRequest,
    ListWorkflowExecutionsRequest,
    PollWorkflowTaskQueueRequest,
    RegisterNamespaceRequest,
    SignalWithStartWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
    UpdateNamespaceRequest,
    UpdateNamespaceResponse,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

import workflows
from activities import Activities
from waiting import wait_until

RPC_TIMEOUT = timedelta(seconds=10)


async def register(client: Client, name: str) -> None:
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name,
            description="registered by the e2e suite",
            workflow_execution_retention_period=Duration(seconds=3 * 24 * 3600),
        ),
        timeout=RPC_TIMEOUT,
    )


async def test_register_describe_list_and_use_a_namespace(server, client):
    name = f"e2e-ns-{uuid.uuid4().hex[:8]}"
    await register(client, name)

    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=name), timeout=RPC_TIMEOUT
    )
    info = described.namespace_info
    assert info.name == name
    assert info.state == NamespaceState.NAMESPACE_STATE_REGISTERED
    assert info.description == "registered by the e2e suite"
    assert info.id, "a namespace gets an id"
    assert described.config.workflow_execution_retention_ttl.seconds == 3 * 24 * 3600

    by_id = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(id=info.id), timeout=RPC_TIMEOUT
    )
    assert by_id.namespace_info.name == name

    listed = await client.workflow_service.list_namespaces(
        ListNamespacesRequest(page_size=1000), timeout=RPC_TIMEOUT
    )
    names = {n.namespace_info.name for n in listed.namespaces}
    assert {"default", name} <= names

    # A workflow runs in the new namespace like in `default`.
    ns_client = await Client.connect(server.target, namespace=name)
    acts = Activities()
    task_queue = f"ns-{uuid.uuid4()}"
    async with Worker(
        ns_client, task_queue=task_queue, workflows=workflows.ALL, activities=acts.all()
    ):
        result = await asyncio.wait_for(
            ns_client.execute_workflow(
                workflows.OneActivity.run, "namespace", id=f"ns-wf-{uuid.uuid4()}",
                task_queue=task_queue,
            ),
            60,
        )
    assert result == "Hello, namespace!"


async def test_registering_a_taken_name_is_already_exists(client):
    name = f"e2e-dup-{uuid.uuid4().hex[:8]}"
    await register(client, name)
    with pytest.raises(RPCError) as err:
        await register(client, name)
    assert err.value.status == RPCStatusCode.ALREADY_EXISTS


async def test_unknown_namespace_is_not_found(client):
    with pytest.raises(RPCError) as err:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=f"missing-{uuid.uuid4().hex[:8]}"),
            timeout=RPC_TIMEOUT,
        )
    assert err.value.status == RPCStatusCode.NOT_FOUND


# --- UpdateNamespace -----------------------------------------------------------------------

async def fresh(client: Client, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name,
            description="d0",
            owner_email="o0@example.com",
            data={"a": "1", "b": "2"},
            workflow_execution_retention_period=Duration(seconds=24 * 3600),
        ),
        timeout=RPC_TIMEOUT,
    )
    return name


async def update(client: Client, **fields) -> UpdateNamespaceResponse:
    return await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(**fields), timeout=RPC_TIMEOUT
    )


async def refused(call) -> RPCError:
    with pytest.raises(RPCError) as err:
        await call
    return err.value


async def test_update_changes_what_it_names_and_merges_data(client):
    name = await fresh(client, "e2e-upd")
    # Nothing named, nothing changed; the answer is the namespace as described.
    noop = await update(client, namespace=name)
    assert noop.namespace_info.description == "d0"
    assert noop.namespace_info.capabilities.sync_update
    assert not noop.is_global_namespace

    answered = await update(
        client,
        namespace=name,
        update_info=UpdateNamespaceInfo(
            description="d1", owner_email="", data={"b": "3", "c": "4"}
        ),
        config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=2 * 24 * 3600)),
    )
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=name), timeout=RPC_TIMEOUT
    )
    for got in (answered, described):
        info = got.namespace_info
        assert info.description == "d1"
        assert info.owner_email == "o0@example.com", "an empty field keeps its value"
        assert dict(info.data) == {"a": "1", "b": "3", "c": "4"}, "data is merged"
        assert info.state == NamespaceState.NAMESPACE_STATE_REGISTERED
        assert got.config.workflow_execution_retention_ttl.seconds == 2 * 24 * 3600
        assert got.replication_config.active_cluster_name == "active"
    assert answered.namespace_info.id == described.namespace_info.id


async def test_update_refuses_what_temporal_refuses(client):
    name = await fresh(client, "e2e-upd-bad")
    cases = [
        (dict(namespace=""), RPCStatusCode.INVALID_ARGUMENT, "Namespace not set on request."),
        (
            dict(namespace=f"missing-{uuid.uuid4().hex[:8]}"),
            RPCStatusCode.NOT_FOUND,
            None,
        ),
        (
            dict(
                namespace=name,
                config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=60)),
            ),
            RPCStatusCode.INVALID_ARGUMENT,
            "A valid retention period is not set on request.",
        ),
        (
            dict(namespace=name, delete_bad_binary="nope"),
            RPCStatusCode.INVALID_ARGUMENT,
            "Bad binary checksum nope doesn't exists.",
        ),
        (
            dict(
                namespace=name,
                replication_config=NamespaceReplicationConfig(
                    clusters=[ClusterReplicationConfig(cluster_name="other")]
                ),
            ),
            RPCStatusCode.INVALID_ARGUMENT,
            "Invalid cluster name: other",
        ),
        (
            dict(
                namespace=name,
                replication_config=NamespaceReplicationConfig(active_cluster_name="other"),
            ),
            RPCStatusCode.INVALID_ARGUMENT,
            "Invalid cluster name: other",
        ),
        (
            dict(
                namespace=name,
                replication_config=NamespaceReplicationConfig(
                    state=ReplicationState.REPLICATION_STATE_HANDOVER
                ),
            ),
            RPCStatusCode.INVALID_ARGUMENT,
            "Handover can only be set for global namespace",
        ),
        (
            dict(namespace=name, promote_namespace=True),
            RPCStatusCode.INVALID_ARGUMENT,
            "global namespace is not enabled on this cluster, cannot update global namespace "
            f"or promote local namespace: {name}",
        ),
    ]
    for fields, code, message in cases:
        err = await refused(update(client, **fields))
        assert err.status == code, fields
        if message is not None:
            assert err.message == message, fields
    # None of those refusals changed anything.
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=name), timeout=RPC_TIMEOUT
    )
    assert described.namespace_info.description == "d0"
    assert described.config.workflow_execution_retention_ttl.seconds == 24 * 3600
    # The same cluster as the active one is no change at all.
    same = await update(
        client,
        namespace=name,
        replication_config=NamespaceReplicationConfig(active_cluster_name="active"),
    )
    assert same.namespace_info.description == "d0"


def state(s: int) -> UpdateNamespaceInfo:
    return UpdateNamespaceInfo(state=s)


def start_request(namespace: str) -> StartWorkflowExecutionRequest:
    return StartWorkflowExecutionRequest(
        namespace=namespace,
        workflow_id=f"ns-state-{uuid.uuid4().hex[:8]}",
        workflow_type=WorkflowType(name="Idle"),
        task_queue=TaskQueue(name=f"ns-state-{uuid.uuid4()}"),
        request_id=str(uuid.uuid4()),
    )


def invalid_state(err: RPCError, name: str, st: int, allowed: list[int]) -> bool:
    """Temporal's NamespaceInvalidState: FailedPrecondition with its detail."""
    if err.status != RPCStatusCode.FAILED_PRECONDITION:
        return False
    detail = NamespaceInvalidStateFailure()
    assert err.grpc_status.details[0].Unpack(detail)
    return (detail.namespace, detail.state, list(detail.allowed_states)) == (name, st, allowed)


async def test_a_deprecated_namespace_takes_no_new_runs_and_states_only_move_forward(client):
    name = await fresh(client, "e2e-deprecate")
    service = client.workflow_service
    first = start_request(name)
    running = await service.start_workflow_execution(first, timeout=RPC_TIMEOUT)
    deprecated = await update(
        client, namespace=name, update_info=state(NamespaceState.NAMESPACE_STATE_DEPRECATED)
    )
    assert deprecated.namespace_info.state == NamespaceState.NAMESPACE_STATE_DEPRECATED

    # Temporal's frontends see the change once their namespace cache refreshes (seconds);
    # Perdure's at once. Either way, new runs are refused with NamespaceInvalidState.
    async def start_refused():
        try:
            await service.start_workflow_execution(start_request(name), timeout=RPC_TIMEOUT)
        except RPCError as e:
            return e
        return None

    err = await wait_until(start_refused, 30, "the deprecated namespace to refuse starts")
    assert err.message == "Namespace has invalid state: Deprecated. Must be Registered."
    assert invalid_state(
        err, name, NamespaceState.NAMESPACE_STATE_DEPRECATED,
        [NamespaceState.NAMESPACE_STATE_REGISTERED],
    )
    sws = await refused(service.signal_with_start_workflow_execution(
        SignalWithStartWorkflowExecutionRequest(
            namespace=name, workflow_id="sws", workflow_type=WorkflowType(name="Idle"),
            task_queue=TaskQueue(name="q"), signal_name="s", request_id=str(uuid.uuid4()),
        ),
        timeout=RPC_TIMEOUT,
    ))
    assert sws.status == RPCStatusCode.FAILED_PRECONDITION
    # Existing runs still take calls, and the namespace can still be updated.
    await service.signal_workflow_execution(
        SignalWorkflowExecutionRequest(
            namespace=name,
            workflow_execution=WorkflowExecution(workflow_id=first.workflow_id),
            signal_name="s",
        ),
        timeout=RPC_TIMEOUT,
    )
    listed = await service.list_workflow_executions(
        ListWorkflowExecutionsRequest(namespace=name, query=f"WorkflowId = '{first.workflow_id}'"),
        timeout=RPC_TIMEOUT,
    )
    assert [e.execution.run_id for e in listed.executions] == [running.run_id]
    described = await update(client, namespace=name, update_info=UpdateNamespaceInfo(description="d2"))
    assert described.namespace_info.state == NamespaceState.NAMESPACE_STATE_DEPRECATED
    assert described.namespace_info.description == "d2"
    # Never back to registered.
    back = await refused(update(
        client, namespace=name, update_info=state(NamespaceState.NAMESPACE_STATE_REGISTERED)
    ))
    assert (back.status, back.message) == (
        RPCStatusCode.INVALID_ARGUMENT, "Invalid namespace state update."
    )


async def test_a_deleted_namespace_answers_only_describe(client):
    name = await fresh(client, "e2e-deleted")
    service = client.workflow_service
    await update(client, namespace=name, update_info=state(NamespaceState.NAMESPACE_STATE_DELETED))

    async def list_refused():
        try:
            await service.list_workflow_executions(
                ListWorkflowExecutionsRequest(namespace=name), timeout=RPC_TIMEOUT
            )
        except RPCError as e:
            return e
        return None

    err = await wait_until(list_refused, 30, "the deleted namespace to refuse calls")
    assert err.message == "Namespace has invalid state: Deleted. Must be Registered or Deprecated."
    allowed = [NamespaceState.NAMESPACE_STATE_REGISTERED, NamespaceState.NAMESPACE_STATE_DEPRECATED]
    assert invalid_state(err, name, NamespaceState.NAMESPACE_STATE_DELETED, allowed)
    for call in (
        service.start_workflow_execution(start_request(name), timeout=RPC_TIMEOUT),
        update(client, namespace=name, update_info=UpdateNamespaceInfo(description="x")),
        service.poll_workflow_task_queue(
            PollWorkflowTaskQueueRequest(namespace=name, task_queue=TaskQueue(name="q")),
            timeout=RPC_TIMEOUT,
        ),
    ):
        assert (await refused(call)).status == RPCStatusCode.FAILED_PRECONDITION
    described = await service.describe_namespace(
        DescribeNamespaceRequest(namespace=name), timeout=RPC_TIMEOUT
    )
    assert described.namespace_info.state == NamespaceState.NAMESPACE_STATE_DELETED
    # Listed only when deleted ones are asked for.
    for include_deleted in (False, True):
        listed = await service.list_namespaces(
            ListNamespacesRequest(
                page_size=1000, namespace_filter=NamespaceFilter(include_deleted=include_deleted)
            ),
            timeout=RPC_TIMEOUT,
        )
        names = {n.namespace_info.name for n in listed.namespaces}
        assert (name in names) == include_deleted


async def test_deprecate_namespace_marks_it_deprecated(client):
    name = await fresh(client, "e2e-deprecate-api")
    service = client.workflow_service
    await service.deprecate_namespace(DeprecateNamespaceRequest(namespace=name), timeout=RPC_TIMEOUT)
    described = await service.describe_namespace(
        DescribeNamespaceRequest(namespace=name), timeout=RPC_TIMEOUT
    )
    assert described.namespace_info.state == NamespaceState.NAMESPACE_STATE_DEPRECATED
    assert described.namespace_info.description == "d0", "nothing else changes"
    # Deprecating again is accepted; an unknown namespace is not found.
    await service.deprecate_namespace(DeprecateNamespaceRequest(namespace=name), timeout=RPC_TIMEOUT)
    missing = await refused(service.deprecate_namespace(
        DeprecateNamespaceRequest(namespace=f"missing-{uuid.uuid4().hex[:8]}"), timeout=RPC_TIMEOUT
    ))
    assert missing.status == RPCStatusCode.NOT_FOUND
