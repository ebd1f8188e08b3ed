"""Helpers for tests that register custom search attributes.

Owns: a fresh namespace per test (a namespace holds at most 3 custom attributes of most types,
10 Keywords, on both servers, and the session server is shared), and thin wrappers over
OperatorService.Add/Remove/ListSearchAttributes. Must never: register attributes in the
session's ``default`` namespace (other tests would run out of slots).
"""

from __future__ import annotations

import uuid

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
    RemoveSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import (
    ListWorkflowExecutionsRequest,
    RegisterNamespaceRequest,
)
from temporalio.client import Client

from rpc import ANSWER
from waiting import CONDITION_S, wait_until

TYPES = {
    "Text": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


async def fresh_namespace(client: Client, prefix: str = "sa") -> Client:
    """Registers a new namespace and returns a client of it, once List answers there (the dev
    server's namespace cache takes a moment to see a new namespace)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=Duration(seconds=24 * 3600)
        ),
        timeout=ANSWER,
    )
    ns_client = Client(client.service_client, namespace=name)

    async def usable():
        try:
            await ns_client.workflow_service.list_workflow_executions(
                ListWorkflowExecutionsRequest(namespace=name), timeout=ANSWER
            )
            return True
        except Exception:
            return False

    await wait_until(usable, CONDITION_S, f"namespace {name} to be usable")
    return ns_client


async def add(client: Client, attrs: dict[str, str], namespace: str | None = None) -> None:
    """Registers ``attrs`` (name -> type name) in ``namespace`` (the client's by default)."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace if namespace is None else namespace,
            search_attributes={n: TYPES[t] if isinstance(t, str) else t for n, t in attrs.items()},
        ),
        timeout=ANSWER,
    )


async def remove(client: Client, names: list[str], namespace: str | None = None) -> None:
    await client.operator_service.remove_search_attributes(
        RemoveSearchAttributesRequest(
            namespace=client.namespace if namespace is None else namespace,
            search_attributes=names,
        ),
        timeout=ANSWER,
    )


async def listed(client: Client, namespace: str | None = None):
    return await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(
            namespace=client.namespace if namespace is None else namespace
        ),
        timeout=ANSWER,
    )


async def custom(client: Client, namespace: str | None = None) -> dict[str, int]:
    return dict((await listed(client, namespace)).custom_attributes)
