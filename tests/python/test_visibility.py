"""Visibility: ListWorkflowExecutions, CountWorkflowExecutions (with GROUP BY ExecutionStatus),
ScanWorkflowExecutions, GetSearchAttributes / OperatorService ListSearchAttributes, and
`temporal workflow list/count`, over a mix of running, completed, failed and terminated runs.

Every query is scoped to this test's runs (`WorkflowId STARTS_WITH` a fresh prefix), since the
session server holds other tests' runs too. Temporal's visibility is eventually consistent
(Perdure's is written with the change itself), so the test first waits, with a deadline, until
List shows every run in its final status; everything after that is asserted as is. Only the
predefined search attributes are used here; custom ones are in test_search_attributes.py.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.filter.v1 import (
    StartTimeFilter,
    StatusFilter,
    WorkflowExecutionFilter,
    WorkflowTypeFilter,
)
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import (
    CountWorkflowExecutionsRequest,
    GetSearchAttributesRequest,
    ListClosedWorkflowExecutionsRequest,
    ListOpenWorkflowExecutionsRequest,
    ListWorkflowExecutionsRequest,
    ScanWorkflowExecutionsRequest,
)
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

import workflows
from harness import NAMESPACE, temporal_bin
from rpc import ANSWER
from waiting import CONDITION_S, wait_until

RUNNING, COMPLETED, FAILED, TERMINATED = 1, 2, 3, 5
STATUS_NAMES = {RUNNING: "Running", COMPLETED: "Completed", FAILED: "Failed", TERMINATED: "Terminated"}

ORDER_BY_REFUSED = "invalid query: operation is not supported: 'ORDER BY' clause"


def rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def list_all(client: Client, query: str, page_size: int = 100) -> list:
    """Every row List returns for `query`, following page tokens."""
    rows, token = [], b""
    for _ in range(100):
        resp = await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(
                namespace=NAMESPACE, query=query, page_size=page_size, next_page_token=token
            ),
            timeout=ANSWER,
        )
        assert len(resp.executions) <= page_size
        rows.extend(resp.executions)
        token = resp.next_page_token
        if not token:
            return rows
    raise AssertionError("List never stopped giving page tokens")


async def count(client: Client, query: str):
    return await client.workflow_service.count_workflow_executions(
        CountWorkflowExecutionsRequest(namespace=NAMESPACE, query=query), timeout=ANSWER
    )


def ids(rows) -> list[str]:
    return [r.execution.workflow_id for r in rows]


def default_order_key(row):
    """Temporal's SQL order: open runs first, then latest close, latest start, run id."""
    close = row.close_time.ToNanoseconds() if row.HasField("close_time") else float("inf")
    return (-close, -row.start_time.ToNanoseconds(), row.execution.run_id)


async def cli(target: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        temporal_bin(), *args, "--address", target, "--namespace", NAMESPACE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, f"temporal {' '.join(args)} failed: {err.decode()}"
    return out.decode()


@pytest.fixture
def prefix() -> str:
    return f"vis-{uuid.uuid4().hex[:8]}-"


async def test_list_count_and_paging_over_a_mix_of_runs(client, worker, server, prefix):
    await check_list_count_and_paging(client, worker, server.target, prefix)


async def check_list_count_and_paging(client: Client, worker, cli_target: str, prefix: str):
    """The body of the test above; the cluster suite runs it with the client, the worker and
    the CLI on three different nodes."""
    idle_queue = f"vis-idle-{uuid.uuid4()}"  # nobody polls it: these runs stay open
    expected: dict[str, int] = {}

    t0 = datetime.now(timezone.utc)
    for i in range(4):
        await client.start_workflow("VisIdle", id=f"{prefix}run-{i}", task_queue=idle_queue)
        expected[f"{prefix}run-{i}"] = RUNNING
    for i in range(2):
        h = await client.start_workflow("VisIdle", id=f"{prefix}term-{i}", task_queue=idle_queue)
        await h.terminate("visibility test")
        expected[f"{prefix}term-{i}"] = TERMINATED
    t1 = datetime.now(timezone.utc)
    for i in range(3):
        await client.execute_workflow(
            workflows.DurableTimer.run, 0.05, id=f"{prefix}done-{i}", task_queue=worker.task_queue
        )
        expected[f"{prefix}done-{i}"] = COMPLETED
    for i in range(2):
        with pytest.raises(WorkflowFailureError):
            await client.execute_workflow(
                workflows.FailingWorkflow.run, "boom", id=f"{prefix}fail-{i}",
                task_queue=worker.task_queue,
            )
        expected[f"{prefix}fail-{i}"] = FAILED
    t2 = datetime.now(timezone.utc)

    scope = f"WorkflowId STARTS_WITH '{prefix}'"

    async def settled():
        rows = await list_all(client, scope)
        return {r.execution.workflow_id: r.status for r in rows} == expected and rows

    rows = await wait_until(settled, CONDITION_S, "List to show every run in its final status")

    # The default order, and what each row carries.
    assert ids(rows) == ids(sorted(rows, key=default_order_key))
    assert ids(rows)[:4] == [f"{prefix}run-{i}" for i in (3, 2, 1, 0)]
    for r in rows:
        want = expected[r.execution.workflow_id]
        assert r.status == want
        assert r.execution.run_id
        assert r.task_queue == (idle_queue if "run-" in r.execution.workflow_id or "term-" in r.execution.workflow_id else worker.task_queue)
        assert r.HasField("start_time") and r.HasField("execution_time")
        if want == RUNNING:
            assert not r.HasField("close_time")
            assert r.history_length == 0
        else:
            assert r.HasField("close_time") and r.close_time.ToNanoseconds() >= r.start_time.ToNanoseconds()
            assert r.history_length > 0
            assert r.HasField("execution_duration")
        assert r.root_execution.workflow_id == r.execution.workflow_id

    def having(*statuses, kind=None) -> set[str]:
        return {
            w for w, s in expected.items()
            if (not statuses or s in statuses) and (kind is None or f"-{kind}-" in w)
        }

    queries = {
        "": having(),
        "WorkflowType = 'VisIdle'": having(RUNNING, TERMINATED),
        "WorkflowType = 'FailingWorkflow'": having(FAILED),
        "ExecutionStatus = 'Running'": having(RUNNING),
        "ExecutionStatus = 'Completed'": having(COMPLETED),
        "ExecutionStatus != 'Running'": having(COMPLETED, FAILED, TERMINATED),
        "ExecutionStatus IN ('Failed', 'Terminated')": having(FAILED, TERMINATED),
        f"WorkflowId IN ('{prefix}run-0', '{prefix}done-1', 'nope')": {f"{prefix}run-0", f"{prefix}done-1"},
        f"WorkflowId STARTS_WITH '{prefix}run-'": having(kind="run"),
        f"StartTime BETWEEN '{rfc3339(t0)}' AND '{rfc3339(t1)}'": having(RUNNING, TERMINATED),
        f"StartTime > '{rfc3339(t1)}'": having(COMPLETED, FAILED),
        f"StartTime > '{rfc3339(t2)}'": set(),
        "CloseTime IS NULL": having(RUNNING),
        "CloseTime IS NOT NULL": having(COMPLETED, FAILED, TERMINATED),
        f"TaskQueue = '{worker.task_queue}'": having(COMPLETED, FAILED),
        "(ExecutionStatus = 'Running' OR WorkflowType = 'FailingWorkflow')": having(RUNNING, FAILED),
        "HistoryLength > 0": having(COMPLETED, FAILED, TERMINATED),
        "NOT (ExecutionStatus = 'Running')": having(COMPLETED, FAILED, TERMINATED),
    }
    for q, want in queries.items():
        full = f"{scope} AND {q}" if q else scope
        got = await list_all(client, full)
        assert set(ids(got)) == want, q
        assert len(got) == len(want), f"duplicates for {q}"
        assert (await count(client, full)).count == len(want), q
        scanned = await client.workflow_service.scan_workflow_executions(
            ScanWorkflowExecutionsRequest(namespace=NAMESPACE, query=full, page_size=100),
            timeout=ANSWER,
        )
        assert set(ids(scanned.executions)) == want, f"scan {q}"

    # GROUP BY ExecutionStatus: one group per status, a Keyword payload each, in status order.
    grouped = await count(client, f"{scope} GROUP BY ExecutionStatus")
    assert grouped.count == len(expected)
    groups = []
    for g in grouped.groups:
        (value,) = g.group_values
        assert value.metadata["encoding"] == b"json/plain"
        assert value.metadata["type"] == b"Keyword"
        groups.append((json.loads(value.data), g.count))
    assert groups == [("Running", 4), ("Completed", 3), ("Failed", 2), ("Terminated", 2)]
    # Without GROUP BY there are no groups.
    assert list((await count(client, scope)).groups) == []

    # Paging with a small page: every row once, in order, whatever is written between pages.
    pages, token, seen = 0, b"", []
    while True:
        resp = await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(
                namespace=NAMESPACE, query=scope, page_size=3, next_page_token=token
            ),
            timeout=ANSWER,
        )
        assert len(resp.executions) <= 3
        seen.extend(ids(resp.executions))
        pages += 1
        if pages == 1:
            # A new open run sorts before everything listed so far: not on a later page.
            await client.start_workflow("VisIdle", id=f"{prefix}late", task_queue=idle_queue)
        token = resp.next_page_token
        if not token:
            break
    assert seen == ids(rows)
    assert pages >= 4

    # The SDK's own helpers ride on the same calls.
    sdk_ids = [w.id async for w in client.list_workflows(f"{scope} AND ExecutionStatus = 'Failed'")]
    assert set(sdk_ids) == having(FAILED)
    assert (await client.count_workflows(f"{scope} AND WorkflowType = 'VisIdle'")).count >= 6

    # The CLI.
    listed = await cli(cli_target, "workflow", "list", "--query", f"{scope} AND ExecutionStatus = 'Completed'", "-o", "json")
    doc = json.loads(listed)
    assert {r["execution"]["workflowId"] for r in doc} == having(COMPLETED)
    counted = json.loads(await cli(cli_target, "workflow", "count", "--query", f"{scope} AND ExecutionStatus = 'Terminated'", "-o", "json"))
    assert int(counted["count"]) == 2
    counted = json.loads(await cli(cli_target, "workflow", "count", "--query", f"{scope} AND WorkflowType = 'DurableTimer' GROUP BY ExecutionStatus", "-o", "json"))
    assert int(counted["count"]) == 3
    assert [(g["groupValues"][0], int(g["count"])) for g in counted["groups"]] == [("Completed", 3)]


BAD_QUERIES = {
    "ORDER BY StartTime": ORDER_BY_REFUSED,
    "WorkflowId = 'x' ORDER BY StartTime DESC": ORDER_BY_REFUSED,
    "Foo = 'x'": "invalid query: invalid search attribute: Foo",
    "WorkflowId = 5": "invalid query: invalid expression: invalid value type for search attribute WorkflowId of type Keyword: 5 (type: int64)",
}


@pytest.mark.parametrize("query", list(BAD_QUERIES))
async def test_bad_queries_are_invalid_argument_with_temporals_message(client, query):
    for call in ("list", "count", "scan"):
        with pytest.raises(RPCError) as err:
            if call == "list":
                await client.workflow_service.list_workflow_executions(
                    ListWorkflowExecutionsRequest(namespace=NAMESPACE, query=query), timeout=ANSWER
                )
            elif call == "count":
                await count(client, query)
            else:
                await client.workflow_service.scan_workflow_executions(
                    ScanWorkflowExecutionsRequest(namespace=NAMESPACE, query=query), timeout=ANSWER
                )
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT, call
        assert err.value.message == BAD_QUERIES[query], call


async def test_list_in_an_unknown_namespace_is_not_found(client):
    with pytest.raises(RPCError) as err:
        await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace=f"nope-{uuid.uuid4().hex[:6]}"), timeout=ANSWER
        )
    assert err.value.status == RPCStatusCode.NOT_FOUND


SYSTEM_ATTRIBUTES = {
    # IndexedValueType: 1 Text, 2 Keyword, 3 Int, 4 Double, 5 Bool, 6 Datetime, 7 KeywordList
    "WorkflowId": 2, "RunId": 2, "WorkflowType": 2, "StartTime": 6, "ExecutionTime": 6,
    "CloseTime": 6, "ExecutionStatus": 2, "TaskQueue": 2, "HistoryLength": 3,
    "ExecutionDuration": 3, "StateTransitionCount": 3, "HistorySizeBytes": 3,
    "BinaryChecksums": 7, "BuildIds": 7, "TemporalChangeVersion": 7,
}


async def test_search_attributes_name_the_system_ones(client):
    keys = dict(
        (await client.workflow_service.get_search_attributes(GetSearchAttributesRequest(), timeout=ANSWER)).keys
    )
    for name, ty in SYSTEM_ATTRIBUTES.items():
        assert keys.get(name) == ty, name
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=NAMESPACE), timeout=ANSWER
    )
    for name, ty in SYSTEM_ATTRIBUTES.items():
        assert listed.system_attributes.get(name) == ty, name


def memo_of(row) -> dict:
    return {k: json.loads(v.data) for k, v in row.memo.fields.items()}


async def test_memo_upserts_and_children_show_in_list(client, worker, prefix):
    wf = f"{prefix}memo"
    handle = await client.start_workflow(
        workflows.UpsertsMemo.run, id=wf, task_queue=worker.task_queue,
        memo={"stage": "start", "gone": 1, "kept": True},
    )

    async def row_where(query: str, pred):
        rows = await list_all(client, query)
        return len(rows) == 1 and pred(rows[0]) and rows[0]

    # The open run's row follows the upsert (WorkflowPropertiesModified).
    row = await wait_until(
        lambda: row_where(f"WorkflowId = '{wf}'", lambda r: memo_of(r).get("stage") == "upserted"),
        CONDITION_S, "the upserted memo in List",
    )
    assert row.status == RUNNING
    assert memo_of(row) == {"stage": "upserted", "kept": True}
    await handle.signal(workflows.UpsertsMemo.finish)
    assert await handle.result() == "done"
    row = await wait_until(
        lambda: row_where(f"WorkflowId = '{wf}' AND ExecutionStatus = 'Completed'", bool),
        CONDITION_S, "the completed run in List",
    )
    assert memo_of(row) == {"stage": "upserted", "kept": True}

    # Children: their rows name their parent and root.
    parent = f"{prefix}parent"
    assert await client.execute_workflow(
        workflows.ChildFanOut.run, 2, id=parent, task_queue=worker.task_queue
    ) == 2 * (0 + 1)
    children = {f"{parent}-child-0", f"{parent}-child-1"}

    async def kids():
        rows = await list_all(client, f"ParentWorkflowId = '{parent}' AND ExecutionStatus = 'Completed'")
        return set(ids(rows)) == children and rows

    for r in await wait_until(kids, CONDITION_S, "the children in List"):
        assert r.parent_execution.workflow_id == parent
        assert r.root_execution.workflow_id == parent
    tree = await list_all(client, f"RootWorkflowId = '{parent}'")
    assert set(ids(tree)) == children | {parent}
    assert (await count(client, f"RootWorkflowId = '{parent}' AND ParentWorkflowId IS NULL")).count == 1


def ts(t: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(t)
    return out


async def test_legacy_list_open_and_closed_filters(client, prefix):
    queue = f"vis-legacy-{uuid.uuid4()}"
    wf_type = f"VisLegacy{uuid.uuid4().hex[:6]}"
    for i in range(3):
        await client.start_workflow(wf_type, id=f"{prefix}open-{i}", task_queue=queue)
    h = await client.start_workflow(wf_type, id=f"{prefix}closed", task_queue=queue)
    await h.terminate("legacy filters")
    now = datetime.now(timezone.utc)
    window = StartTimeFilter(
        earliest_time=ts(now - timedelta(hours=1)), latest_time=ts(now + timedelta(hours=1))
    )
    ws = client.workflow_service

    def mine(resp) -> list[str]:
        return [e.execution.workflow_id for e in resp.executions if e.execution.workflow_id.startswith(prefix)]

    async def open_(**kw):
        return await ws.list_open_workflow_executions(
            ListOpenWorkflowExecutionsRequest(namespace=NAMESPACE, **kw), timeout=ANSWER
        )

    async def closed(**kw):
        return await ws.list_closed_workflow_executions(
            ListClosedWorkflowExecutionsRequest(namespace=NAMESPACE, **kw), timeout=ANSWER
        )

    opened = [f"{prefix}open-{i}" for i in (2, 1, 0)]  # newest start first

    async def settled():
        return (
            mine(await open_(type_filter=WorkflowTypeFilter(name=wf_type))) == opened
            and mine(await closed(type_filter=WorkflowTypeFilter(name=wf_type))) == [f"{prefix}closed"]
        )

    await wait_until(settled, CONDITION_S, "the legacy lists to show every run")
    assert mine(await open_(start_time_filter=window, type_filter=WorkflowTypeFilter(name=wf_type))) == opened
    # Either end of the window may be left unset.
    assert mine(await open_(start_time_filter=StartTimeFilter(earliest_time=window.earliest_time), type_filter=WorkflowTypeFilter(name=wf_type))) == opened
    assert mine(await open_(start_time_filter=StartTimeFilter(latest_time=window.latest_time), type_filter=WorkflowTypeFilter(name=wf_type))) == opened
    before = StartTimeFilter(
        earliest_time=ts(now - timedelta(hours=2)), latest_time=ts(now - timedelta(hours=1))
    )
    assert mine(await open_(start_time_filter=before, type_filter=WorkflowTypeFilter(name=wf_type))) == []
    by_id = await open_(start_time_filter=window, execution_filter=WorkflowExecutionFilter(workflow_id=f"{prefix}open-1"))
    assert mine(by_id) == [f"{prefix}open-1"]
    page = await open_(start_time_filter=window, maximum_page_size=2, type_filter=WorkflowTypeFilter(name=wf_type))
    assert mine(page) == opened[:2] and page.next_page_token
    rest = await open_(start_time_filter=window, maximum_page_size=2, next_page_token=page.next_page_token, type_filter=WorkflowTypeFilter(name=wf_type))
    assert mine(rest) == opened[2:]

    assert mine(await closed(start_time_filter=window, status_filter=StatusFilter(status=TERMINATED))) == [f"{prefix}closed"]
    assert mine(await closed(start_time_filter=window, status_filter=StatusFilter(status=COMPLETED))) == []
    assert mine(await closed(start_time_filter=window, execution_filter=WorkflowExecutionFilter(workflow_id=f"{prefix}closed"))) == [f"{prefix}closed"]
    assert mine(await closed(start_time_filter=window, execution_filter=WorkflowExecutionFilter(workflow_id=f"{prefix}open-0"))) == []

    for call, kw, message in [
        (open_, {"start_time_filter": StartTimeFilter(earliest_time=ts(now), latest_time=ts(now - timedelta(hours=1)))},
         "EarliestTime in StartTimeFilter should not be larger than LatestTime."),
        (closed, {"status_filter": StatusFilter(status=RUNNING)}, "StatusFilter must be specified and must be not Running."),
        (closed, {"status_filter": StatusFilter(status=0)}, "StatusFilter must be specified and must be not Running."),
    ]:
        with pytest.raises(RPCError) as err:
            await call(**kw)
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.value.message == message
