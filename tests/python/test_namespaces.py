"""Namespaces: RegisterNamespace, DescribeNamespace, ListNamespaces, and a workflow running in a
namespace registered at runtime. Every expectation holds on Temporal's dev server too."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import NamespaceState
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    ListNamespacesRequest,
    RegisterNamespaceRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

import workflows
from activities import Activities

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
