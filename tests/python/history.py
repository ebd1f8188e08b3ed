"""Reading and checking workflow histories.

Owns: fetching a complete history through the client and the structural checks every test
shares (contiguous ids, event-type names). Must never: hide a missing event by sorting or
de-duplicating what the server returned.
"""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


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


def golden_path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def load_golden(name: str) -> list[str]:
    return json.loads(golden_path(name).read_text())["event_types"]


def write_golden(name: str, events: list[HistoryEvent], source: str) -> Path:
    path = golden_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"recorded_from": source, "event_types": type_names(events)}
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


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
