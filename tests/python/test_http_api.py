"""Temporal's HTTP JSON API (issue 9, acceptance point 1): the same calls to the server under
test's HTTP port and to Temporal's dev server's HTTP API (`--http-port`), in the same run, must
answer the same HTTP status and the same JSON.

The test starts its own dev server (conftest's ``reference_server``) and runs one scenario on
both, each in a fresh namespace with the same workflow ids, task queue and custom search
attribute: namespaces (describe, list), workflows (start with a JSON payload input, start
again → AlreadyExists with its details, start without a type → InvalidArgument, unknown body
field and non-JSON body → InvalidArgument, signal, query answered by a worker, describe,
history forward/reverse/close event, with and without payload shorthand, terminate, request
cancel, list with a query, count), search attributes (operator service), schedules (create,
AlreadyExists, describe, list, delete), describe task queue, cluster-info, system-info, and
routing errors (unknown path, wrong method, bad query parameter). Answers are compared after
normalising what differs from run to run (run ids and other UUIDs, times, task ids,
identities, history sizes, the namespace's name and id) and nothing else: field names, enum
spellings, payload shorthand values, error codes, messages and details must match exactly,
and so must the order of an object's keys (protojson writes fields in declaration order).

A few answers are compared by shape only (which fields, of which JSON types): cluster-info and
system-info (server version, store names and capability flags are each server's own), and
errors whose message is the JSON parser's own wording (Go's protojson vs serde); there the code
and HTTP status must still match. KNOWN_GAPS lists the fields where Perdure's gRPC answers
differ (the same gap as over gRPC, not the HTTP layer's), each with why: what the SDK sends a
server that advertises no build-id versioning, what Perdure does not do (rate limits,
paginated task completions); the test names them when it skips them, and fails on any other
difference. A namespace's capabilities are each server's own (compared by shape; Perdure's
exactly).

Under PERDURE_TEST_SERVER=temporal both sides are dev servers, which checks the test itself.
A second test calls every node of a 3-node cluster over HTTP (perdure only): two of the three
are not the leader of the workflow's shard, so their answers went through gRPC forwarding.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from custom_attributes import add, fresh_namespace
from harness import server_kind
from waiting import CONDITION_S, wait_until
from workers import running_worker

TQ = "http-api-tq"
IDLE_TQ = "http-api-idle"  # nobody polls it: a run there stays as started
QUERIED = "http-wf"  # QueryableCollector: signalled, queried, left running
TERMINATED = "http-term"
CANCELED = "http-cancel"
SCHEDULE = "http-sched"
HTTP_TIMEOUT_S = 30

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
#: Values that differ from run to run whatever the server: replaced by their key.
VOLATILE = {
    "taskId",
    "identity",
    "historySizeBytes",
    "conflictToken",
    "requestId",
    "lastAccessTime",
    "nextPageToken",
    "executionDuration",
}

#: Fields Perdure's gRPC answers lack today (so its HTTP answers lack them too), by step:
#: dotted paths, `*` for any list element. They are dropped from both sides before comparing
#: and reported; remove an entry once Perdure fills the field. None is the HTTP layer's.
#: Paginated workflow task completions' buffer limit: Perdure does not take them (its
#: capability is off), so it sets no limit for them.
NAMESPACE_GAPS = {"namespaceInfo.limits.workflowTaskCompletionSizeLimitError"}
#: The SDK stamps its tasks with its build id (`workerVersion`, and on describe
#: `mostRecentWorkerVersionStamp`, the reset point's `buildId` and the automatic `BuildIds`
#: search attribute Temporal derives from it) only for a server that advertises build-id
#: versioning, which Perdure does not (its GetSystemInfo says what it implements); to Perdure
#: it sends the older binary checksum instead, which Perdure keeps as Temporal would (so its
#: `BuildIds` is the bare "unversioned" and it has `BinaryChecksums`: test_call_answers.py
#: shows Temporal answers a checksum-only worker the same way).
HISTORY_GAPS = {
    "history.events.*.workflowTaskStartedEventAttributes.workerVersion",
    "history.events.*.workflowTaskCompletedEventAttributes.workerVersion",
    "history.events.*.workflowTaskCompletedEventAttributes.binaryChecksum",
}
KNOWN_GAPS: dict[str, set[str]] = {
    "describe namespace": NAMESPACE_GAPS,
    "list namespaces (ours)": NAMESPACE_GAPS,
    "history, Accept without shorthand, pretty": HISTORY_GAPS,
    "describe workflow": {
        "workflowExecutionInfo.autoResetPoints.points.*.binaryChecksum",
        "workflowExecutionInfo.autoResetPoints.points.*.buildId",
        "workflowExecutionInfo.mostRecentWorkerVersionStamp",
        "workflowExecutionInfo.searchAttributes",
    },
    "history": HISTORY_GAPS,
    "history, pretty": HISTORY_GAPS,
    "history reverse": HISTORY_GAPS,
    "history, no payload shorthand": HISTORY_GAPS,
    "terminated: close event": HISTORY_GAPS,
    "list with a query": {
        "executions.*.searchAttributes",
    },
    # Perdure does not rate-limit dispatch, so it reports no effective limit (the dev server's
    # 4000/s is its own system limit). The SDK sends its worker's version capabilities only to
    # a server that advertises build-id versioning, which Perdure does not (a raw poll that
    # carries them is shown back: test_task_queues.py).
    "describe task queue": {"effectiveRateLimit", "pollers.*.workerVersionCapabilities"},
}
#: Values that are each server's own, compared by shape (see OPEN_MAPS): a namespace's
#: capabilities say what the server implements (the dev server enables everything).
OWN_VALUES: dict[str, set[str]] = {
    "describe namespace": {"namespaceInfo.capabilities"},
    "list namespaces (ours)": {"namespaceInfo.capabilities"},
}
#: What Perdure implements of a namespace's capabilities (protojson leaves false flags out).
PERDURE_CAPABILITIES = {"syncUpdate": True, "asyncUpdate": True}
#: Maps whose keys are each server's own (client versions, capability flags): compared as
#: "a map of values of this type".
OPEN_MAPS = {"supportedClients", "capabilities"}


def http(
    base: str, method: str, path: str, body: Any = None, headers: dict | None = None
) -> tuple[int, Any]:
    """One HTTP API call: (status, parsed JSON body)."""
    if body is None:
        data = None
    elif isinstance(body, bytes):
        data = body
    else:
        data = json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:
            status, text = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode(errors="replace")


def q(**params: str) -> str:
    return "?" + urllib.parse.urlencode(params)


def normalise(v: Any, ns: str, ns_id: str) -> Any:
    if isinstance(v, dict):
        out = {k: f"<{k}>" if k in VOLATILE else normalise(x, ns, ns_id) for k, x in v.items()}
        if isinstance(out.get("customSearchAttributeAliases"), dict):
            # The SQL store's column for an alias (`Keyword06`): the dev server takes the
            # first free one in Go's map order, so only its type is compared.
            out["customSearchAttributeAliases"] = {
                re.sub(r"\d+$", "<n>", k): x for k, x in out["customSearchAttributeAliases"].items()
            }
        if out.get("kind") == "TASK_QUEUE_KIND_STICKY":
            out["name"] = "<sticky>"  # the worker's host and process
        if isinstance(out.get("coreUsedFlags"), list):
            out["coreUsedFlags"].sort()  # the SDK sends a set, in no fixed order
        return out
    if isinstance(v, list):
        return [normalise(x, ns, ns_id) for x in v]
    if isinstance(v, str):
        if ns_id:
            v = v.replace(ns_id, "<ns-id>")
        v = UUID.sub("<uuid>", v.replace(ns, "<ns>"))
        return "<time>" if TIME.match(v) else v
    return v


def shape(v: Any) -> Any:
    """Which fields, of which JSON types."""
    if isinstance(v, dict):
        return {
            k: sorted({shape(y) for y in x.values()}) if k in OPEN_MAPS else shape(x)
            for k, x in v.items()
        }
    if isinstance(v, list):
        return [shape(x) for x in v[:1]]
    return type(v).__name__


def replace(v: Any, path: list[str], f) -> None:
    """Replaces the value at a dotted path (`*` for every list element) by f(value), in place."""
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(v, list):
        for x in v:
            replace(x, rest, f)
    elif isinstance(v, dict) and head in v:
        if rest:
            replace(v[head], rest, f)
        else:
            v[head] = f(v[head])


def drop(v: Any, path: list[str]) -> None:
    """Removes a dotted path (`*` for every list element) from v, in place."""
    if not path:
        return
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(v, list):
        for x in v:
            drop(x, rest)
    elif isinstance(v, dict) and head in v:
        if rest:
            drop(v[head], rest)
        else:
            del v[head]


async def call(
    base: str, method: str, path: str, body: Any = None, headers: dict | None = None
) -> tuple[int, Any]:
    return await asyncio.to_thread(http, base, method, path, body, headers)


def start_body(request_id: str, input_: Any = (False,), task_queue: str = TQ) -> dict:
    return {
        "workflowType": {"name": "QueryableCollector"},
        "taskQueue": {"name": task_queue},
        "input": list(input_),
        "requestId": request_id,
        # A memo is a map of single payloads: shorthand per value.
        "memo": {"fields": {"note": {"by": "http", "n": 1.0}}},
    }


async def scenario(base: str, root_client, label: str) -> tuple[dict[str, tuple[int, Any]], str, str]:
    """Runs every step on one server; returns the raw answers by step name, the namespace's
    name and id."""
    ns_client = await fresh_namespace(root_client, "http")
    ns = ns_client.namespace
    await add(ns_client, {"HttpKeyword": "Keyword"})
    a = f"/api/v1/namespaces/{ns}"
    wf = f"{a}/workflows"
    r: dict[str, tuple[int, Any]] = {}
    async with running_worker(ns_client, task_queue=TQ):
        r["describe namespace"] = await call(base, "GET", a)
        r["list namespaces (ours)"] = await our_namespace(base, ns)

        seen: list[str] = []

        async def tasks_done(n: int, wid: str = QUERIED) -> bool:
            status, hist = await call(base, "GET", f"{wf}/{wid}/history")
            types = [e["eventType"] for e in hist["history"]["events"]] if status == 200 else []
            seen[:] = types or [status, hist]
            return types.count("EVENT_TYPE_WORKFLOW_TASK_COMPLETED") >= n

        async def wait_tasks_done(n: int, wid: str = QUERIED) -> None:
            # The signal goes in after the first workflow task, so both histories have the
            # same events (else a signal racing the first task shares it on one server only).
            try:
                await wait_until(
                    lambda: tasks_done(n, wid), CONDITION_S, f"{n} tasks of {wid} on {label}"
                )
            except AssertionError as e:
                raise AssertionError(f"{e}; history: {seen}") from None

        r["start"] = await call(base, "POST", f"{wf}/{QUERIED}", start_body("http-req-1"))
        r["start again: AlreadyExists"] = await call(
            base, "POST", f"{wf}/{QUERIED}", start_body("http-req-2")
        )
        r["start without a type: InvalidArgument"] = await call(
            base, "POST", f"{wf}/http-bad", {"taskQueue": {"name": TQ}}
        )
        r["start, unknown field: InvalidArgument"] = await call(
            base, "POST", f"{wf}/http-bad", {**start_body("x"), "bogus": 1}
        )
        r["start, not JSON: InvalidArgument"] = await call(
            base, "POST", f"{wf}/http-bad", b"not json"
        )
        await wait_tasks_done(1)
        r["signal"] = await call(
            base, "POST", f"{wf}/{QUERIED}/signal/add", {"input": ["one"], "identity": "h"}
        )


        async def queried():
            r["query"] = await call(
                base, "POST", f"{wf}/{QUERIED}/query/values_so_far", {"query": {}}
            )
            return r["query"] == (200, {"queryResult": [["one"]]})

        await wait_until(queried, CONDITION_S, f"the query to see the signal on {label} ({base})")
        await wait_tasks_done(2)
        r["query with an argument"] = await call(
            base, "POST", f"{wf}/{QUERIED}/query/value_at", {"query": {"queryArgs": [0]}}
        )
        r["query, unknown type"] = await call(
            base, "POST", f"{wf}/{QUERIED}/query/nope", {"query": {}}
        )
        r["query, handler fails"] = await call(
            base, "POST", f"{wf}/{QUERIED}/query/broken", {"query": {}}
        )

        r["describe workflow"] = await call(base, "GET", f"{wf}/{QUERIED}")
        r["history"] = await call(base, "GET", f"{wf}/{QUERIED}/history")
        r["history, pretty"] = await call(base, "GET", f"{wf}/{QUERIED}/history?pretty")
        # Default page size: with a small one Temporal ends a reverse page on a whole event
        # batch (4 events for maximumPageSize=3 here) and Perdure at the size (a gRPC-level
        # difference, not the HTTP layer's).
        r["history reverse"] = await call(base, "GET", f"{wf}/{QUERIED}/history-reverse")
        r["history, no payload shorthand"] = await call(
            base, "GET", f"{wf}/{QUERIED}/history?noPayloadShorthand"
        )
        r["describe: NotFound"] = await call(base, "GET", f"{wf}/http-missing")

        # The terminated run never meets a worker, the canceled one is cancelled after its
        # first task: the same histories on both servers.
        r[f"start {TERMINATED}"] = await call(
            base, "POST", f"{wf}/{TERMINATED}", start_body("r-t", task_queue=IDLE_TQ)
        )
        r[f"start {CANCELED}"] = await call(base, "POST", f"{wf}/{CANCELED}", start_body("r-c"))
        # Proto-form payloads are accepted with or without the shorthand.
        proto_form = {
            "input": {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "MQ=="}]}
        }
        for suffix in ("", "?noPayloadShorthand"):
            r[f"signal, proto-form payloads{suffix}"] = await call(
                base, "POST", f"{wf}/{TERMINATED}/signal/add{suffix}", proto_form
            )
        # ?noPayloadShorthand only shapes the answer (it sets Accept); the body's form follows
        # Content-Type, and only Temporal's no-shorthand media type refuses the shorthand.
        r["signal, shorthand with ?noPayloadShorthand"] = await call(
            base, "POST", f"{wf}/{TERMINATED}/signal/add?noPayloadShorthand", {"input": ["x"]}
        )
        r["signal, shorthand refused by its Content-Type"] = await call(
            base,
            "POST",
            f"{wf}/{TERMINATED}/signal/add",
            {"input": ["x"]},
            {"Content-Type": "application/json+no-payload-shorthand"},
        )
        r["history, Accept without shorthand, pretty"] = await call(
            base,
            "GET",
            f"{wf}/{TERMINATED}/history",
            headers={"Accept": "application/json+pretty+no-payload-shorthand"},
        )
        await wait_tasks_done(1, CANCELED)
        r["terminate"] = await call(
            base,
            "POST",
            f"{wf}/{TERMINATED}/terminate",
            {"reason": "by http", "details": [{"why": "test"}]},
        )
        r["request cancel"] = await call(
            base, "POST", f"{wf}/{CANCELED}/cancel", {"reason": "by http"}
        )
        r["terminated: close event"] = await call(
            base,
            "GET",
            f"{wf}/{TERMINATED}/history"
            + q(historyEventFilterType="HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT"),
        )

        async def canceled():
            status, d = await call(base, "GET", f"{wf}/{CANCELED}")
            return status == 200 and d["workflowExecutionInfo"].get("status") == (
                "WORKFLOW_EXECUTION_STATUS_CANCELED"
            )

        await wait_until(canceled, CONDITION_S, "the cancellation to close the run")

        query = 'WorkflowType = "QueryableCollector"'

        async def listed():
            r["count"] = await call(base, "GET", f"{a}/workflow-count" + q(query=query))
            return r["count"] == (200, {"count": "3"})

        await wait_until(listed, CONDITION_S, "visibility to hold the three runs")
        status, listing = await call(base, "GET", wf + q(query=query))
        if status == 200:
            listing["executions"].sort(key=lambda e: e["execution"]["workflowId"])
        r["list with a query"] = (status, listing)
        r["count running"] = await call(
            base, "GET", f"{a}/workflow-count" + q(query="ExecutionStatus = 'Running'")
        )
        r["list, bad query: InvalidArgument"] = await call(
            base, "GET", wf + q(query="WorkflowType = ")
        )
        r["list search attributes"] = await call(base, "GET", f"{a}/search-attributes")

        schedule = {
            "schedule": {
                "spec": {"interval": [{"interval": "3600s"}]},
                "action": {
                    "startWorkflow": {
                        "workflowId": "http-sched-wf",
                        "workflowType": {"name": "QueryableCollector"},
                        "taskQueue": {"name": TQ},
                        "input": [False],
                    }
                },
                "state": {"paused": True, "notes": "via http"},
            },
            "requestId": "sched-req",
        }
        r["create schedule"] = await call(base, "POST", f"{a}/schedules/{SCHEDULE}", schedule)
        r["create schedule again: AlreadyExists"] = await call(
            base, "POST", f"{a}/schedules/{SCHEDULE}", {**schedule, "requestId": "other"}
        )
        r["describe schedule"] = await call(base, "GET", f"{a}/schedules/{SCHEDULE}")

        async def schedule_listed():
            r["list schedules"] = await call(base, "GET", f"{a}/schedules")
            status, body = r["list schedules"]
            return status == 200 and len(body.get("schedules", [])) == 1

        await wait_until(schedule_listed, CONDITION_S, "the schedule to be listed")
        r["delete schedule"] = await call(base, "DELETE", f"{a}/schedules/{SCHEDULE}")
        r["describe missing schedule: NotFound"] = await call(
            base, "GET", f"{a}/schedules/http-no-such-schedule"
        )

        r["describe task queue"] = await call(
            base,
            "GET",
            f"{a}/task-queues/{TQ}" + q(taskQueueType="TASK_QUEUE_TYPE_WORKFLOW"),
        )
        r["cluster info"] = await call(base, "GET", "/api/v1/cluster-info")
        r["system info"] = await call(base, "GET", "/api/v1/system-info")
        r["unknown path: 404"] = await call(base, "GET", "/api/v1/no-such-thing")
        r["wrong method: 501"] = await call(base, "PUT", wf)
        r["bad query parameter: InvalidArgument"] = await call(base, "GET", wf + q(pageSize="x"))
    ns_id = r["describe namespace"][1].get("namespaceInfo", {}).get("id", "")
    return r, ns, ns_id


async def our_namespace(base: str, ns: str) -> tuple[int, Any]:
    """ListNamespaces, paged, reduced to our namespace's entry (the servers hold others)."""
    token = None
    for _ in range(100):
        status, body = await call(
            base, "GET", "/api/v1/namespaces" + (q(nextPageToken=token) if token else "")
        )
        if status != 200:
            return status, body
        for entry in body.get("namespaces", []):
            if entry["namespaceInfo"]["name"] == ns:
                return status, entry
        token = body.get("nextPageToken")
        if not token:
            break
    return status, None


#: Compared by shape (the servers' own versions, stores, capabilities), not by value.
BY_SHAPE = {"cluster info", "system info"}
#: Errors worded by each server's JSON parser: compared by status and code.
BY_CODE = {
    "start, unknown field: InvalidArgument",
    "start, not JSON: InvalidArgument",
    "signal, shorthand refused by its Content-Type",
}


def compare(
    ours: dict[str, tuple[int, Any]], theirs: dict[str, tuple[int, Any]]
) -> tuple[list[str], list[str]]:
    mismatches, gaps = [], []
    assert ours.keys() == theirs.keys()
    for step in theirs:
        (sa, a), (sb, b) = ours[step], theirs[step]
        if step in BY_SHAPE:
            a, b = shape(a), shape(b)
        elif step in BY_CODE:
            a, b = a.get("code"), b.get("code")
        for path in OWN_VALUES.get(step, ()):
            for side in (a, b):
                replace(side, path.split("."), lambda m: sorted({shape(x) for x in m.values()}))
        for path in KNOWN_GAPS.get(step, ()):
            before = json.dumps(b, sort_keys=True)
            drop(a, path.split("."))
            drop(b, path.split("."))
            if json.dumps(b, sort_keys=True) != before:
                gaps.append(f"{step}: {path}")
        # Key order too: protojson writes a message's fields in declaration order.
        if (sa, json.dumps(a)) != (sb, json.dumps(b)):
            mismatches.append(
                f"--- {step}\n  ours   {sa} {json.dumps(a)}\n  theirs {sb} {json.dumps(b)}"
            )
    return mismatches, gaps


async def test_same_answers_as_temporal(server, client, reference_server):
    ref_server, ref_client = reference_server
    (ours, ns_a, id_a), (theirs, ns_b, id_b) = await asyncio.gather(
        scenario(server.http_base, client, server.kind),
        scenario(ref_server.http_base, ref_client, "reference"),
    )
    assert len(theirs) >= 35
    # The reference itself answered what the steps expect (else the test compares nothing).
    assert theirs["start"][0] == 200 and theirs["start again: AlreadyExists"][0] == 409
    assert theirs["query"][1] == {"queryResult": [["one"]]}
    assert theirs["unknown path: 404"] == (404, {"code": 5, "message": "Not Found"})
    assert theirs["wrong method: 501"] == (501, {"code": 12, "message": "Method Not Allowed"})
    assert isinstance(theirs["history, pretty"][1], dict)
    if server.kind == "perdure":
        for step in OWN_VALUES:
            assert ours[step][1]["namespaceInfo"]["capabilities"] == PERDURE_CAPABILITIES, step
    ours = {k: (s, normalise(v, ns_a, id_a)) for k, (s, v) in ours.items()}
    theirs = {k: (s, normalise(v, ns_b, id_b)) for k, (s, v) in theirs.items()}
    mismatches, gaps = compare(ours, theirs)
    if gaps:
        print("known gaps (missing from Perdure's gRPC answers):\n  " + "\n  ".join(gaps))
    assert not mismatches, f"{len(mismatches)} answers differ:\n" + "\n".join(mismatches)


@pytest.mark.cluster
@pytest.mark.skipif(server_kind() != "perdure", reason="a multi-node perdure cluster")
async def test_every_cluster_node_answers_http_calls():
    from cluster import Cluster

    async with Cluster(size=3) as cluster:
        c1 = await cluster.client(1)
        async with running_worker(c1, task_queue=TQ):
            status, started = await call(
                f"http://{cluster.http_addr(1)}",
                "POST",
                f"/api/v1/namespaces/{c1.namespace}/workflows/{QUERIED}",
                start_body("cluster-req"),
            )
            assert status == 200 and started["started"] is True
            # The workflow's shard has one leader: of three nodes, two forward these calls.
            for node in cluster.node_ids:
                base = f"http://{cluster.http_addr(node)}/api/v1/namespaces/{c1.namespace}"
                status, body = await call(
                    base, "POST", f"/workflows/{QUERIED}/signal/add", {"input": [f"n{node}"]}
                )
                # The answer links the signal to the run it reached.
                assert status == 200, f"node {node}: {status} {body}"
                assert body["link"]["workflowEvent"]["runId"] == started["runId"], body
                status, body = await call(base, "GET", f"/workflows/{QUERIED}")
                assert status == 200, f"node {node}: {status} {body}"
                assert body["workflowExecutionInfo"]["execution"]["runId"] == started["runId"]
