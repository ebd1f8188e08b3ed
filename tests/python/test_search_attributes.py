"""Custom search attributes: OperatorService Add/Remove/ListSearchAttributes with the rules and
messages of Temporal's SQL visibility store (per-type limits, reserved names, re-adding a no-op,
removing an unknown name a no-op), workflows started or upserting with custom attributes of
every type and listed/counted by queries on them, and the errors a start, a query or a workflow
task gets for an unregistered attribute or a value of the wrong type.

Each test registers its own namespace (custom attributes are per namespace and few). Temporal's
visibility is eventually consistent, so tests wait, with a deadline, until List shows every run
before asserting query results.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone

import pytest
from temporalio.api.common.v1 import Payload, SearchAttributes, WorkflowType
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    CountWorkflowExecutionsRequest,
    GetSearchAttributesRequest,
    ListWorkflowExecutionsRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateStage
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

import workflows
from harness import server_kind
from custom_attributes import TYPES, add, custom, fresh_namespace, listed, remove
from rpc import ANSWER
from waiting import CONDITION_S, wait_until
from workers import running_worker

ALL_TYPES = {
    "CK": "Keyword",
    "CT": "Text",
    "CI": "Int",
    "CD": "Double",
    "CB": "Bool",
    "CDT": "Datetime",
    "CKL": "KeywordList",
}


async def refused(call, code: RPCStatusCode) -> str:
    with pytest.raises(RPCError) as e:
        await call
    assert e.value.status == code, e.value.message
    return e.value.message


async def test_add_list_and_remove(client: Client):
    ns = await fresh_namespace(client)
    assert await custom(ns) == {}
    await add(ns, ALL_TYPES)
    assert await custom(ns) == {n: TYPES[t] for n, t in ALL_TYPES.items()}
    listed_system = (await listed(ns)).system_attributes
    assert "CK" not in listed_system and listed_system["WorkflowId"] == TYPES["Keyword"]

    # Re-adding is a no-op, even with another type (the SQL store keeps the first).
    await add(ns, {"CK": "Keyword"})
    await add(ns, {"CK": "Int", "CK2": "Keyword"})
    now = await custom(ns)
    assert now["CK"] == TYPES["Keyword"] and now["CK2"] == TYPES["Keyword"]

    # Removing: unknown names are ignored, built-in ones refused (and nothing removed).
    await remove(ns, ["CK2", "NeverRegistered"])
    assert "CK2" not in await custom(ns)
    msg = await refused(remove(ns, ["CK", "WorkflowId"]), RPCStatusCode.INVALID_ARGUMENT)
    assert msg == "Unable to remove non-custom search attributes: WorkflowId."
    assert "CK" in await custom(ns)
    msg = await refused(remove(ns, ["BuildIds"]), RPCStatusCode.INVALID_ARGUMENT)
    assert msg == "Unable to remove non-custom search attributes: BuildIds."

    # A removed attribute can no longer be queried.
    await remove(ns, ["CB"])
    msg = await refused(
        ns.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace=ns.namespace, query="CB = true"), timeout=ANSWER
        ),
        RPCStatusCode.INVALID_ARGUMENT,
    )
    assert msg == "invalid query: invalid search attribute: CB"

    # GetSearchAttributes lists the SQL store's preallocated columns, not a namespace's names.
    keys = (await client.workflow_service.get_search_attributes(GetSearchAttributesRequest(), timeout=ANSWER)).keys
    assert keys["Keyword10"] == TYPES["Keyword"] and keys["Int03"] == TYPES["Int"]
    assert keys["KeywordList03"] == TYPES["KeywordList"] and "Int04" not in keys
    assert "CK" not in keys


async def test_bad_requests(client: Client):
    ns = await fresh_namespace(client)
    invalid = RPCStatusCode.INVALID_ARGUMENT
    for name in ["WorkflowId", "ExecutionStatus", "BuildIds", "TemporalAnything", "NamespaceId"]:
        assert await refused(add(ns, {name: "Keyword"}), invalid) == f"Search attribute {name} is reserved by system."
    assert await refused(add(ns, {"X": 99}), invalid) == "Unknown search attribute type: 99."
    assert await refused(add(ns, {"X": 0}), invalid) == (
        "Unable to create search attributes: cannot have more than 0 search attribute of type Unspecified."
    )
    assert await refused(add(ns, {}), invalid) == "SearchAttributes are not set on request."
    assert await refused(remove(ns, []), invalid) == "SearchAttributes are not set on request."
    assert await refused(add(ns, {"X": "Int"}, namespace=""), invalid) == "Namespace is not set on request."
    missing = f"no-such-{uuid.uuid4().hex[:6]}"
    not_found = RPCStatusCode.NOT_FOUND
    assert await refused(add(ns, {"X": "Int"}, namespace=missing), not_found) == f"Namespace {missing} is not found."
    assert await refused(remove(ns, ["X"], namespace=missing), not_found) == f"Namespace {missing} is not found."
    assert await refused(custom(ns, namespace=missing), not_found) == f"Namespace {missing} is not found."
    # Odd names are accepted, as by the dev server.
    await add(ns, {"with space": "Keyword", "1starts-with-digit": "Keyword"})
    assert {"with space", "1starts-with-digit"} <= set(await custom(ns))
    assert await custom(ns) == {"with space": TYPES["Keyword"], "1starts-with-digit": TYPES["Keyword"]}


async def test_per_type_limits(client: Client):
    ns = await fresh_namespace(client)
    for ty, limit in [("Int", 3), ("Bool", 3), ("Text", 3), ("Keyword", 10)]:
        for i in range(limit):
            await add(ns, {f"{ty}Attr{i}": ty})
        msg = await refused(add(ns, {f"{ty}Attr{limit}": ty}), RPCStatusCode.INVALID_ARGUMENT)
        assert msg == (
            f"Unable to create search attributes: cannot have more than {limit} search attribute of type {ty}."
        )
    # A request with one name over its limit registers none of its names.
    await refused(add(ns, {"Fresh": "Double", "IntAttr9": "Int"}), RPCStatusCode.INVALID_ARGUMENT)
    assert "Fresh" not in await custom(ns)
    # Removing frees a slot.
    await remove(ns, ["IntAttr0"])
    await add(ns, {"IntAttr9": "Int"})
    assert (await custom(ns))["IntAttr9"] == TYPES["Int"]


async def test_concurrent_adds_all_register(client: Client):
    """Ten Adds at once: none is lost. Temporal may refuse some with Unavailable ("Generated
    search attributes mapping unavailable.", a lost compare-and-set) for the client to retry;
    Perdure queues them on the meta leader and refuses none."""
    ns = await fresh_namespace(client)
    retried = 0

    async def add_until_done(name: str):
        nonlocal retried
        for _ in range(20):
            try:
                return await add(ns, {name: "Keyword"})
            except RPCError as e:
                assert e.status == RPCStatusCode.UNAVAILABLE, e.message
                retried += 1
        raise AssertionError(f"{name} never registered")

    await asyncio.gather(*(add_until_done(f"Concurrent{i}") for i in range(10)))
    assert await custom(ns) == {f"Concurrent{i}": TYPES["Keyword"] for i in range(10)}
    if server_kind() == "perdure":
        assert retried == 0


def typed(values: dict) -> TypedSearchAttributes:
    pairs = []
    for name, value in values.items():
        ty = ALL_TYPES[name]
        key = {
            "Keyword": SearchAttributeKey.for_keyword,
            "Text": SearchAttributeKey.for_text,
            "Int": SearchAttributeKey.for_int,
            "Double": SearchAttributeKey.for_float,
            "Bool": SearchAttributeKey.for_bool,
            "Datetime": SearchAttributeKey.for_datetime,
            "KeywordList": SearchAttributeKey.for_keyword_list,
        }[ty](name)
        pairs.append(SearchAttributePair(key, value))
    return TypedSearchAttributes(pairs)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


RUNS = {
    "w0": {"CK": "alpha", "CT": "hello world", "CI": 1, "CD": 1.5, "CB": True,
           "CDT": utc(2024, 1, 1), "CKL": ["x", "y"]},
    "w1": {"CK": "beta", "CT": "goodbye moon", "CI": 5, "CD": 2.5, "CB": False,
           "CDT": utc(2024, 6, 1), "CKL": ["y"]},
    "w2": {"CK": "alphabet", "CI": 10},
    "w3": {},
}

QUERIES = {
    "CK = 'alpha'": {"w0"},
    "CK != 'alpha'": {"w1", "w2"},
    "CK STARTS_WITH 'alpha'": {"w0", "w2"},
    "CK IN ('beta', 'alphabet', 'nope')": {"w1", "w2"},
    "CK IS NULL": {"w3"},
    "CK IS NOT NULL": {"w0", "w1", "w2"},
    "CI < 5": {"w0"},
    "CI > 1": {"w1", "w2"},
    "CI >= 5": {"w1", "w2"},
    "CI BETWEEN 1 AND 5": {"w0", "w1"},
    "CI IN (1, 10)": {"w0", "w2"},
    "CD <= 1.5": {"w0"},
    "CD > 2": {"w1"},
    "CB = true": {"w0"},
    "CB = false": {"w1"},
    "CDT > '2024-03-01T00:00:00Z'": {"w1"},
    "CDT BETWEEN '2023-12-31T00:00:00Z' AND '2024-01-02T00:00:00Z'": {"w0"},
    "CKL = 'y'": {"w0", "w1"},
    "CKL = 'x'": {"w0"},
    "CKL IN ('x', 'z')": {"w0"},
    "CKL IS NULL": {"w2", "w3"},
    "CT = 'hello'": {"w0"},
    "CT = 'moon'": {"w1"},
    "CT IS NULL": {"w2", "w3"},
    "(CK = 'alpha' OR CI = 5) AND CB IS NOT NULL": {"w0", "w1"},
}


async def test_workflows_with_custom_attributes_are_listed_by_them(client: Client):
    ns = await fresh_namespace(client)
    await add(ns, ALL_TYPES)
    prefix = f"sa-{uuid.uuid4().hex[:6]}-"
    idle = f"sa-idle-{uuid.uuid4()}"  # nobody polls it: the runs stay open
    for name, values in RUNS.items():
        await ns.start_workflow(
            "Idle", id=prefix + name, task_queue=idle, search_attributes=typed(values)
        )

    async def all_listed():
        resp = await ns.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace=ns.namespace, query=""), timeout=ANSWER
        )
        return len(resp.executions) == len(RUNS) and resp.executions

    rows = await wait_until(all_listed, CONDITION_S, "List to show every run")
    by_id = {r.execution.workflow_id: r for r in rows}
    # The stored payloads carry the registered type.
    w0 = by_id[prefix + "w0"].search_attributes.indexed_fields
    assert w0["CI"].metadata["type"] == b"Int" and json.loads(w0["CI"].data) == 1
    assert w0["CKL"].metadata["type"] == b"KeywordList"

    for q, want in QUERIES.items():
        resp = await ns.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace=ns.namespace, query=q), timeout=ANSWER
        )
        got = {r.execution.workflow_id.removeprefix(prefix) for r in resp.executions}
        assert got == want, q
        counted = await ns.workflow_service.count_workflow_executions(
            CountWorkflowExecutionsRequest(namespace=ns.namespace, query=q), timeout=ANSWER
        )
        assert counted.count == len(want), q

    bad = {
        "Nope = 'a'": "invalid query: invalid search attribute: Nope",
        "CI = 'x'": 'invalid query: invalid expression: invalid value type for search attribute CI of type Int: "x" (type: string)',
        "CK = 1": "invalid query: invalid expression: invalid value type for search attribute CK of type Keyword: 1 (type: int64)",
        "CT STARTS_WITH 'h'": "invalid query: operation is not supported: operator 'STARTS_WITH' not supported for Text type search attribute 'CT'",
        "CKL STARTS_WITH 'x'": "invalid query: operation is not supported: operator 'STARTS_WITH' not supported for KeywordList type search attribute 'CKL'",
    }
    for q, message in bad.items():
        msg = await refused(
            ns.workflow_service.count_workflow_executions(
                CountWorkflowExecutionsRequest(namespace=ns.namespace, query=q), timeout=ANSWER
            ),
            RPCStatusCode.INVALID_ARGUMENT,
        )
        assert msg == message, q


def json_payload(value, ty: str | None = None) -> Payload:
    metadata = {"encoding": b"json/plain"}
    if ty:
        metadata["type"] = ty.encode()
    return Payload(metadata=metadata, data=json.dumps(value).encode())


async def test_start_with_unregistered_attribute_or_wrong_type_is_refused(client: Client):
    ns = await fresh_namespace(client)
    await add(ns, {"CK": "Keyword", "CI": "Int", "CKL": "KeywordList"})

    def start(fields: dict):
        return ns.workflow_service.start_workflow_execution(
            StartWorkflowExecutionRequest(
                namespace=ns.namespace,
                workflow_id=f"sa-start-{uuid.uuid4().hex[:6]}",
                workflow_type=WorkflowType(name="Idle"),
                task_queue=TaskQueue(name=f"sa-idle-{uuid.uuid4()}"),
                request_id=str(uuid.uuid4()),
                search_attributes=SearchAttributes(indexed_fields=fields),
            ),
            timeout=ANSWER,
        )

    invalid = RPCStatusCode.INVALID_ARGUMENT
    cases = {
        "Nope": (json_payload("a", "Keyword"), f"Namespace {ns.namespace} has no mapping defined for search attribute Nope"),
        "CI": (json_payload("x"), "invalid value for search attribute CI of type Int: x"),
        "CK": (json_payload(5, "Int"), "invalid value for search attribute CK of type Keyword: 5"),
        "CKL": (json_payload("single"), "invalid value for search attribute CKL of type KeywordList: single"),
        "WorkflowId": (json_payload("x"), "WorkflowId attribute can't be set in SearchAttributes"),
    }
    for name, (payload, message) in cases.items():
        assert await refused(start({name: payload}), invalid) == message, name
    # The SDK's typed start with an unregistered attribute.
    with pytest.raises(RPCError) as e:
        await ns.start_workflow(
            "Idle", id=f"sa-start-{uuid.uuid4().hex[:6]}", task_queue="sa-nobody",
            search_attributes=TypedSearchAttributes([SearchAttributePair(SearchAttributeKey.for_keyword("Nope"), "v")]),
        )
    assert e.value.status == invalid
    # SignalWithStart checks the start's attributes the same way.
    with pytest.raises(RPCError) as e:
        await ns.start_workflow(
            "Idle", id=f"sa-sws-{uuid.uuid4().hex[:6]}", task_queue="sa-nobody",
            start_signal="go",
            search_attributes=TypedSearchAttributes([SearchAttributePair(SearchAttributeKey.for_int("CK"), 1)]),
        )
    assert e.value.status == invalid
    assert e.value.message == "invalid value for search attribute CK of type Keyword: 1"
    # So does update-with-start (the SDK reports the start operation's error).
    op = WithStartWorkflowOperation(
        workflows.Updatable.run, [], id=f"sa-uws-{uuid.uuid4().hex[:6]}", task_queue="sa-nobody",
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        search_attributes=TypedSearchAttributes([SearchAttributePair(SearchAttributeKey.for_keyword("Nope"), "v")]),
    )
    with pytest.raises(RPCError) as e:
        await ns.start_update_with_start_workflow(
            "add", "x", start_workflow_operation=op, wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
    assert e.value.status == invalid
    assert e.value.message == f"Namespace {ns.namespace} has no mapping defined for search attribute Nope"
    # A value whose `type` metadata disagrees but which fits the registered type is stored
    # with the registered type.
    await start({"CK": json_payload("abc", "Text")})


async def test_upsert_from_a_workflow(client: Client):
    ns = await fresh_namespace(client)
    await add(ns, ALL_TYPES)
    async with running_worker(ns) as w:
        wid = f"sa-upsert-{uuid.uuid4().hex[:6]}"
        upserts = [
            ["CK", "Keyword", "upserted"], ["CI", "Int", 7], ["CD", "Double", 0.5],
            ["CB", "Bool", True], ["CDT", "Datetime", "2025-05-05T05:05:05Z"],
            ["CKL", "KeywordList", ["a", "b"]], ["CT", "Text", "upserted words"],
        ]
        result = await ns.execute_workflow(
            workflows.UpsertsSearchAttributes.run, args=[upserts, False], id=wid,
            task_queue=w.task_queue,
        )
        assert result == "upserted"
        q = ("CK = 'upserted' AND CI = 7 AND CD < 1 AND CB = true AND CDT > '2025-01-01T00:00:00Z'"
             " AND CKL = 'b' AND CT = 'words'")

        async def found():
            resp = await ns.workflow_service.list_workflow_executions(
                ListWorkflowExecutionsRequest(namespace=ns.namespace, query=q), timeout=ANSWER
            )
            return [r.execution.workflow_id for r in resp.executions] == [wid]

        await wait_until(found, CONDITION_S, "the upserted run to match its attributes")

        # Upserting an unregistered attribute fails the workflow task.
        bad = f"sa-upsert-bad-{uuid.uuid4().hex[:6]}"
        h = await ns.start_workflow(
            workflows.UpsertsSearchAttributes.run, args=[[["Unregistered", "Keyword", "v"]], True],
            id=bad, task_queue=w.task_queue,
        )

        async def task_failed():
            async for e in h.fetch_history_events():
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                    return e.workflow_task_failed_event_attributes
            return None

        failed = await wait_until(task_failed, CONDITION_S, "the workflow task to fail")
        assert failed.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES
        assert failed.failure.message == (
            f"BadSearchAttributes: Namespace {ns.namespace} has no mapping defined for search attribute Unregistered"
        )
        await h.terminate("test done")


async def test_child_and_continue_as_new_with_bad_attributes_fail_the_task(client: Client):
    ns = await fresh_namespace(client)
    await add(ns, {"CK": "Keyword"})
    n = ns.namespace
    async with running_worker(ns) as w:
        cases = [
            ("child", ["Nope", "Keyword", "v"], lambda wid: (
                f"BadSearchAttributes: Namespace {n} has no mapping defined for search attribute Nope")),
            ("child", ["CK", "Int", 1], lambda wid: (
                "BadSearchAttributes: invalid SearchAttributes on StartChildWorkflowCommand: invalid value for"
                f" search attribute CK of type Keyword: 1. WorkflowId={wid}-child"
                f" WorkflowType=UpsertsSearchAttributes Namespace={n}")),
            ("continue", ["Nope", "Keyword", "v"], lambda wid: (
                f"BadSearchAttributes: Namespace {n} has no mapping defined for search attribute Nope")),
            ("continue", ["CK", "Int", 1], lambda wid: (
                "BadSearchAttributes: invalid SearchAttributes on ContinueAsNewWorkflowExecutionCommand:"
                " invalid value for search attribute CK of type Keyword: 1."
                f' WorkflowType=SetsSearchAttributesOnCommands TaskQueue=name:"{w.task_queue}"'
                "  kind:TASK_QUEUE_KIND_NORMAL")),
        ]
        for how, attr, message in cases:
            wid = f"sa-cmd-{uuid.uuid4().hex[:6]}"
            h = await ns.start_workflow(
                workflows.SetsSearchAttributesOnCommands.run, args=[how, attr], id=wid,
                task_queue=w.task_queue,
            )

            async def task_failed():
                async for e in h.fetch_history_events():
                    if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                        return e.workflow_task_failed_event_attributes
                return None

            failed = await wait_until(task_failed, CONDITION_S, f"{how} {attr}: the task to fail")
            assert failed.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES
            assert failed.failure.message == message(wid), (how, attr)
            await h.terminate("test done")
