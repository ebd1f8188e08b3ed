"""Reading and checking workflow histories.

Owns: fetching a complete history through the client, the structural checks every test
shares (contiguous ids, event-type names), reading what tests compare across runs (a run's
start attributes and id, event times), and the normalised form of a history that the golden
comparison uses (``normalise_runs``). Must never: hide a missing event by sorting or
de-duplicating what the server returned, or normalise away a value that a server decides.
"""

from __future__ import annotations

import base64
import difflib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
#: Timer queues may fire a hair early against the event clock; never by more than this.
CLOCK_SLACK = timedelta(milliseconds=50)


async def events_of(handle: WorkflowHandle) -> list[HistoryEvent]:
    history = await handle.fetch_history()
    return list(history.events)


def type_names(events: list[HistoryEvent]) -> list[str]:
    return [EventType.Name(e.event_type) for e in events]


def of_type(events: list[HistoryEvent], name: str) -> list[HistoryEvent]:
    wanted = EventType.Value(name)
    return [e for e in events if e.event_type == wanted]


def assert_contiguous_ids(events: list[HistoryEvent]) -> None:
    ids = [e.event_id for e in events]
    assert ids == list(range(1, len(ids) + 1)), f"event ids not contiguous from 1: {ids}"


def started_attributes(events: list[HistoryEvent]):
    """The attributes of a run's WorkflowExecutionStarted, which must be its first event."""
    assert events[0].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    return events[0].workflow_execution_started_event_attributes


def run_id_of(events: list[HistoryEvent]) -> str:
    """The run whose history ``events`` is, as its start records it."""
    return started_attributes(events).original_execution_run_id


def event_time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=timezone.utc)


def golden_path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def load_golden(name: str) -> list[str]:
    """The event types of the golden's first run (what the type-only checks compare)."""
    return json.loads(golden_path(name).read_text())["event_types"]


def load_golden_runs(name: str) -> list[list[dict]]:
    """The golden's normalised runs (see ``normalise_runs``), first run first."""
    return json.loads(golden_path(name).read_text())["runs"]


def load_golden_others(name: str) -> dict[str, list[list[dict]]]:
    """The golden's normalised runs of the other workflows its scenario recorded (children,
    signal targets), by placeholder ("<workflow-id-2>", ...); {} for most scenarios."""
    return json.loads(golden_path(name).read_text()).get("other_workflows", {})


def write_golden(
    name: str,
    runs: list[list[HistoryEvent]],
    workflow_id: str,
    source: str,
    others: dict[str, list[list[HistoryEvent]]] | None = None,
) -> Path:
    """Writes the golden of one scenario: ``runs`` are the histories of its runs, first first;
    ``others`` those of the other workflows it records, by workflow id (see
    ``normalise_scenario``)."""
    path = golden_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    main, other = normalise_scenario(runs, workflow_id, others or {})
    doc: dict[str, Any] = {
        "recorded_from": source,
        "event_types": type_names(runs[0]),
        "runs": main,
    }
    if other:
        doc["other_workflows"] = other
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


# ---- following a chain of runs ---------------------------------------------------------------

#: Close events that may name the run that continues the chain (``newExecutionRunId``).
_CHAIN_CLOSES = {
    "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED": "workflow_execution_completed_event_attributes",
    "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED": "workflow_execution_failed_event_attributes",
    "EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT": "workflow_execution_timed_out_event_attributes",
    "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW": (
        "workflow_execution_continued_as_new_event_attributes"
    ),
}


def next_run_id(events: list[HistoryEvent]) -> str:
    """The run the last event of ``events`` hands over to (retry, continue-as-new, cron), or ""."""
    if not events:
        return ""
    field = _CHAIN_CLOSES.get(EventType.Name(events[-1].event_type))
    return getattr(events[-1], field).new_execution_run_id if field else ""


async def runs_of(
    client: Client, handle: WorkflowHandle, max_runs: int
) -> list[list[HistoryEvent]]:
    """The histories of the run ``handle`` started and of the runs that continued it (retries,
    continue-as-new, cron), at most ``max_runs`` of them. Every run but the last is closed."""
    run_id = handle.run_id or handle.result_run_id or handle.first_execution_run_id
    assert run_id, f"no run id on the handle of {handle.id}"
    runs: list[list[HistoryEvent]] = []
    while run_id and len(runs) < max_runs:
        runs.append(await events_of(client.get_workflow_handle(handle.id, run_id=run_id)))
        run_id = next_run_id(runs[-1])
    return runs


async def chain_of(client: Client, workflow_id: str, max_runs: int) -> list[list[HistoryEvent]]:
    """``runs_of`` for a workflow known only by its id (a child, a signal target): its chain
    from the first run of its latest chain (firstExecutionRunId of the latest run's start)."""
    latest = await events_of(client.get_workflow_handle(workflow_id))
    assert latest, f"no history for {workflow_id}"
    started = latest[0].workflow_execution_started_event_attributes
    first = started.first_execution_run_id
    assert first, f"no firstExecutionRunId in the start of {workflow_id}"
    return await runs_of(client, client.get_workflow_handle(workflow_id, run_id=first), max_runs)


# ---- normalised histories ----------------------------------------------------------------------
#
# Two servers (or two runs against one server) write the same history for the same workflow
# except for values that are random, clock-driven or describe the worker rather than the server.
# ``normalise_runs`` turns each event into
#     {"type": "EVENT_TYPE_...", "attributes": {...}, <other event fields>}
# where ``attributes`` is the event's attributes message as JSON (MessageToDict, camelCase,
# enums by name, 64-bit integers as strings, default values left out) with those values replaced
# by placeholders. Placeholders keep *presence* (an unset field stays absent, an empty string stays
# empty) and, for ids, *equality*: ids are numbered by first appearance across all runs of one
# scenario, so "the close event's newExecutionRunId is the next run's id" stays checkable.
#
# What is replaced, and why:
#   eventId, eventTime, taskId   dropped: the position in the list is the id (assert_contiguous_ids
#                                checks it); the clock; a server-internal sequence
#   *Time, *_time                "<time>": server clock (expiration, scheduled, reset-point times)
#                                or worker clock (complete_time in local-activity markers)
#   runId, *RunId                "<run-N>": random per run
#   namespaceId, *NamespaceId    "<namespace-id-N>": each server gives a namespace its own id
#   identity                     "<identity-N>": the SDK's default is pid@host; numbered, so a
#                                hand-over between two workers ("A" then "B") stays visible
#   requestId                    "<request-id>": random per request
#   taskQueue names              "<task-queue-N>" / "<sticky-queue-N>" (kind kept): the tests'
#                                queues are random, and so are the workers' sticky queues
#   the workflow id              "<workflow-id>", also inside any string (inputs, results); the
#                                other workflows a scenario records (children, signal targets)
#                                "<workflow-id-2>", ... in the scenario's order (normalise_scenario)
#   stackTrace                   "<stack-trace>": worker file paths and line numbers
#   worker metadata              dropped (_DROPPED_KEYS): SDK metadata, build ids, binary
#                                checksums, deployment/versioning, history size in bytes
#   firstWorkflowTaskBackoff     of a cron run or a run continued by the workflow: depends on the
#                                clock at start (_normalise_backoff); a retry's is kept
# Payloads are decoded (metadata always, data when JSON) so a diff is readable, and strings in
# them get the same substitutions (a workflow may return its own run id).
#
# Event-level fields other than the ones above (version, workerMayIgnore, userMetadata, links,
# principal, ...) are kept under their own names, normalised like the attributes: the
# summaries in userMetadata and the links a server writes must match too.
#
# Kept as they are, because they are exactly what must match: event-id references
# (scheduledEventId, startedEventId, workflowTaskCompletedEventId, ...), payloads, failures
# (message, type, source, cause, failure info), timeouts, retry policies and states, attempts,
# causes, header, memo, search attributes, task queue kinds, activity ids and types, signal
# names, markers, reset points (prevAutoResetPoints, minus their times and build ids), and the
# presence of empty messages (Temporal writes "priority": {}, "header": {}, ...).


def _is_time_key(key: str) -> bool:
    """A point in time: camelCase proto fields end in "Time", snake_case payload keys in
    "_time"."""
    return key.endswith("Time") or key.endswith("_time") or key == "time"


def _is_run_id_key(key: str) -> bool:
    return key == "runId" or key.endswith("RunId") or key == "run_id" or key.endswith("_run_id")


def _is_namespace_id_key(key: str) -> bool:
    """The id (not the name) of a namespace, in the events of children and external signals
    and cancels: each server makes its own."""
    return key == "namespaceId" or key.endswith("NamespaceId")


#: Removed outright. All of them describe the worker or the server's storage, not the outcome:
_DROPPED_KEYS = {
    # The SDK's own bookkeeping, sent by the worker in RespondWorkflowTaskCompleted: SDK name and
    # version and the core flags it used, listed in a random order (a hash set in the SDK core:
    # two runs against Temporal differ).
    "sdkMetadata",
    # The worker's build id: a hash of the worker's code, so it changes whenever a workflow file
    # changes, not with the server. Where it lands is versioning bookkeeping no test uses:
    # Temporal 1.32 writes workerVersion.buildId (WorkflowTaskStarted/Completed,
    # ActivityTaskStarted) and buildId in prevAutoResetPoints; Perdure writes binaryChecksum.
    "binaryChecksum",
    "buildId",
    "workerVersion",
    "workerVersionStamp",
    "sourceVersionStamp",
    "inheritedBuildId",
    "buildIdRedirectCounter",
    # Worker deployment / versioning metadata (no test uses versioning).
    "deployment",
    "deploymentVersion",
    "deploymentName",
    "workerDeploymentVersion",
    "workerDeploymentName",
    "versioningBehavior",
    # Bytes of history written so far: depends on how each server encodes ids and times.
    "historySizeBytes",
}

#: Replaced by a constant placeholder when non-empty: random per request.
_REQUEST_ID_KEYS = {"requestId", "request_id"}
#: Worker stack traces (file paths and line numbers of the test checkout, not the server).
_STACK_TRACE_KEYS = {"stackTrace"}


def normalise_runs(runs: list[list[HistoryEvent]], workflow_id: str) -> list[list[dict]]:
    """The normalised form of the histories of one scenario's runs (see the comment above)."""
    return _Normaliser(workflow_id).runs(runs)


def normalise_scenario(
    runs: list[list[HistoryEvent]],
    workflow_id: str,
    others: dict[str, list[list[HistoryEvent]]],
) -> tuple[list[list[dict]], dict[str, list[list[dict]]]]:
    """``normalise_runs`` of a scenario that also records other workflows (``others``: their
    runs by workflow id, in the scenario's order): one numbering of run ids, identities and
    queues across all of them, and each other workflow id becomes "<workflow-id-2>",
    "<workflow-id-3>", ... (also inside strings), the key of its normalised runs."""
    normaliser = _Normaliser(workflow_id, list(others))
    all_runs = normaliser.runs([*runs, *(r for chain in others.values() for r in chain)])
    main, rest = all_runs[: len(runs)], all_runs[len(runs) :]
    out: dict[str, list[list[dict]]] = {}
    for other_id, chain in others.items():
        out[normaliser.workflow_ids[other_id]], rest = rest[: len(chain)], rest[len(chain) :]
    return main, out


class _Normaliser:
    def __init__(self, workflow_id: str, other_ids: list[str] | None = None) -> None:
        self.workflow_id = workflow_id
        #: workflow id -> placeholder: the scenario's own, then the others it records
        self.workflow_ids = {workflow_id: "<workflow-id>"}
        for n, other in enumerate(other_ids or [], start=2):
            self.workflow_ids[other] = f"<workflow-id-{n}>"
        #: kind -> (real value -> placeholder), numbered by first appearance
        self.ids: dict[str, dict[str, str]] = {
            "run": {},
            "identity": {},
            "task-queue": {},
            "sticky-queue": {},
            "namespace-id": {},
        }
        #: (real text, placeholder), longest first: replaced inside any other string
        self.substrings: list[tuple[str, str]] = []

    def placeholder(self, kind: str, value: str) -> str:
        known = self.ids[kind]
        if value not in known:
            known[value] = f"<{kind}-{len(known) + 1}>"
        return known[value]

    def runs(self, runs: list[list[HistoryEvent]]) -> list[list[dict]]:
        raw = [[MessageToDict(e) for e in events] for events in runs]
        # First pass: number the ids in order of first appearance, so a string that mentions
        # one (a payload, a failure message) can be rewritten wherever it shows up.
        for events in raw:
            for event in events:
                self.collect(event)
        pairs = dict(self.workflow_ids)
        for kind in ("run", "task-queue", "sticky-queue"):
            pairs.update(self.ids[kind])
        self.substrings = sorted(
            ((k, v) for k, v in pairs.items() if k), key=lambda kv: -len(kv[0])
        )
        return [[self.event(e) for e in events] for events in raw]

    def collect(self, value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            if key == "taskQueue" and value.get("name"):
                sticky = value.get("kind") == "TASK_QUEUE_KIND_STICKY"
                if value.get("normalName"):
                    self.placeholder("task-queue", value["normalName"])
                self.placeholder("sticky-queue" if sticky else "task-queue", value["name"])
            for k, v in value.items():
                self.collect(v, k)
        elif isinstance(value, list):
            for v in value:
                self.collect(v, key)
        elif isinstance(value, str) and value:
            if _is_run_id_key(key):
                self.placeholder("run", value)
            elif _is_namespace_id_key(key):
                self.placeholder("namespace-id", value)
            elif key == "identity":
                self.placeholder("identity", value)

    def event(self, event: dict) -> dict:
        event = dict(event)
        out: dict[str, Any] = {"type": event.pop("eventType")}
        for key in ("eventId", "eventTime", "taskId"):
            event.pop(key, None)
        attr_keys = [k for k in event if k.endswith("EventAttributes")]
        assert len(attr_keys) <= 1, attr_keys
        out["attributes"] = self.value(event.pop(attr_keys[0])) if attr_keys else {}
        _normalise_backoff(out["attributes"])
        for key, value in event.items():
            out[key] = self.value(value, key)
        return out

    def value(self, value: Any, key: str = "") -> Any:
        if _is_time_key(key) and value:
            # A string in proto JSON; inside a decoded payload it may be {"seconds", "nanos"}.
            return "<time>"
        if isinstance(value, dict):
            if _is_payload(value):
                return self.payload(value)
            out = {}
            for k, v in value.items():
                if k in _DROPPED_KEYS:
                    continue
                out[k] = self.value(v, k)
            return out
        if isinstance(value, list):
            return [self.value(v, key) for v in value]
        if not isinstance(value, str) or not value:
            return value
        if _is_run_id_key(key):
            return self.ids["run"].get(value, "<run-?>")
        if _is_namespace_id_key(key):
            return self.ids["namespace-id"].get(value, "<namespace-id-?>")
        if key == "identity":
            return self.ids["identity"].get(value, "<identity-?>")
        if key in _REQUEST_ID_KEYS:
            return "<request-id>"
        if key in _STACK_TRACE_KEYS:
            return "<stack-trace>"
        for real, placeholder in self.substrings:
            value = value.replace(real, placeholder)
        return value

    def payload(self, payload: dict) -> dict:
        """A payload with its metadata decoded and, when it is JSON, its data decoded too (then
        normalised like everything else: a workflow may return its own run id)."""
        metadata = {k: _b64_text(v) for k, v in payload.get("metadata", {}).items()}
        out: dict[str, Any] = {"metadata": metadata}
        for k, v in payload.items():
            if k == "metadata":
                continue
            if k == "data" and metadata.get("encoding", "").startswith("json/"):
                try:
                    out["data"] = self.value(json.loads(base64.b64decode(v)))
                    continue
                except ValueError:
                    pass
            out[k] = v
        return out


#: history.workflowIdReuseMinimalInterval, Temporal's default (the session servers' setting).
_REUSE_MINIMAL_INTERVAL_S = 1.0


def _normalise_backoff(attributes: dict) -> None:
    """The first-task backoffs of WorkflowExecutionStarted that depend on the clock:

    - a cron run waits for its schedule's next tick, counted from the moment it was started;
    - a run continued by the workflow waits out what is left of the minimal interval between
      two runs of one workflow id (history.workflowIdReuseMinimalInterval, 1 s) since the
      previous run started: (0, 1 s] for any run shorter than that, which is all of ours.
    A retry's backoff is its retry policy's interval, exact, and stays."""
    backoff = attributes.get("firstWorkflowTaskBackoff")
    if backoff is None:
        return
    if "cronSchedule" in attributes:
        attributes["firstWorkflowTaskBackoff"] = "<cron-backoff>"
    elif attributes.get("initiator") == "CONTINUE_AS_NEW_INITIATOR_WORKFLOW":
        seconds = float(backoff.rstrip("s"))
        if 0 < seconds <= _REUSE_MINIMAL_INTERVAL_S:
            attributes["firstWorkflowTaskBackoff"] = "<rest-of-reuse-minimal-interval>"


def _is_payload(value: dict) -> bool:
    return (
        isinstance(value.get("metadata"), dict)
        and "encoding" in value["metadata"]
        and set(value) <= {"metadata", "data", "externalPayloads"}
    )


def _b64_text(value: str) -> str:
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        return value


def describe_mismatch(
    name: str, golden: list[list[dict]], actual: list[list[dict]], workflow: str = ""
) -> str:
    """A readable account of how ``actual`` differs from ``golden``: the run counts, then for
    the first differing run its two type sequences, the first differing event as two JSON
    documents, and a unified diff of the whole run. ``workflow``: the placeholder of the other
    workflow compared ("" for the scenario's own)."""
    of = f" (workflow {workflow})" if workflow else ""
    lines = [f"history of scenario {name!r}{of} differs from golden/{name}.json"]
    if len(golden) != len(actual):
        lines.append(f"runs: golden {len(golden)}, actual {len(actual)}")
    for run, (want, got) in enumerate(zip(golden, actual), start=1):
        if want == got:
            continue
        lines.append(f"--- run {run} ---")
        lines.append(f"golden types: {[e['type'] for e in want]}")
        lines.append(f"actual types: {[e['type'] for e in got]}")
        for i in range(max(len(want), len(got))):
            a = want[i] if i < len(want) else None
            b = got[i] if i < len(got) else None
            if a != b:
                lines.append(f"first differing event: eventId {i + 1}")
                lines.append("golden (Temporal):\n" + json.dumps(a, indent=2, sort_keys=True))
                lines.append("actual:\n" + json.dumps(b, indent=2, sort_keys=True))
                break
        diff = difflib.unified_diff(
            _numbered_json(want).splitlines(),
            _numbered_json(got).splitlines(),
            "golden",
            "actual",
            lineterm="",
            n=2,
        )
        lines.append("unified diff of the run:")
        lines.extend(diff)
        break
    return "\n".join(lines)


def _numbered_json(events: list[dict]) -> str:
    return json.dumps(
        [{"eventId": i + 1, **e} for i, e in enumerate(events)], indent=1, sort_keys=True
    )


def assert_activities_completed_once(events: list[HistoryEvent], count: int, label: str) -> None:
    """Exactly ``count`` ActivityTaskCompleted events, one for each scheduled activity: none
    lost, none written twice (the at-least-once retries of a crash must not show in history)."""
    completed = of_type(events, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
    scheduled_ids = [
        c.activity_task_completed_event_attributes.scheduled_event_id for c in completed
    ]
    assert len(completed) == count, f"{label}: {len(completed)} ActivityTaskCompleted, not {count}"
    assert len(set(scheduled_ids)) == count, f"{label}: completions {scheduled_ids}"
    scheduled = {e.event_id for e in of_type(events, "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")}
    assert set(scheduled_ids) == scheduled, f"{label}: completed {scheduled_ids} of {scheduled}"


async def assert_steps_done_once(client, ids: list[str], steps: int, completed: list) -> None:
    """Every ``workflows.FiveSteps`` run in ``ids`` returned its ``steps`` results, the worker
    ran every step (``completed``: its ``(workflow id, step)`` log, re-runs included), and each
    history is contiguous, records each completion once and ends completed."""
    assert set(completed) >= {(i, s) for i in ids for s in range(steps)}
    for wf_id in ids:
        handle = client.get_workflow_handle(wf_id)
        assert await handle.result() == [f"{wf_id}:{s}" for s in range(steps)]
        events = await events_of(handle)
        assert_contiguous_ids(events)
        assert_activities_completed_once(events, steps, wf_id)
        assert events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
