"""Acceptance point 2 of issue 9: the Web UI (Temporal's UI components, built from ui/) served by
the server, driven in headless chromium against real workflows of an SDK worker: the workflows
list shows them, a workflow's page shows its history and result, the Terminate dialog
terminates a running workflow (checked through the SDK, with the reason typed in the UI), the
Signal dialog delivers a signal with its input, and the schedules page lists a schedule created
through the SDK. Batch actions: on the list narrowed to a task queue of its own, every row
ticked, "select all matching" and the batch Terminate dialog (a reason and a job id typed in)
start a job by visibility query, and the rows of another queue ticked with Request Cancellation
start a job naming the executions; the SDK then sees every selected run terminated with the
typed reason (or cancelled), both jobs completed over all three runs with that reason, and a run
outside both selections still running. (The UI build has no batch-operations page to check.)

Against Temporal's dev server (PERDURE_TEST_SERVER=temporal) the same build is served by a
stand-in in front of the dev server's HTTP API (web_ui.py), which shows these are Temporal's
answers. Screenshots go to tests/python/artifacts/web-ui/ (PERDURE_README_SCREENSHOT=1 also
refreshes docs/images/web-ui-workflow.png).
"""

from __future__ import annotations

import asyncio
import os
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

from playwright.async_api import Page, async_playwright, expect
from temporalio.api.enums.v1 import BatchOperationState, BatchOperationType
from temporalio.api.workflowservice.v1 import DescribeBatchOperationRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleState,
    WorkflowExecutionStatus,
    WorkflowHandle,
)

import workflows
from harness import NAMESPACE, REPO_ROOT
from schedules import deleted_after
from waiting import CONDITION_S, wait_until
from web_ui import ARTIFACTS, UI_BUILD, chromium_path, ui_base
from workers import running_worker

#: Deadline of one page condition: a page load plus its API calls (a loaded CI machine).
PAGE_S = 30
expect.set_options(timeout=PAGE_S * 1000)
#: Runs each batch action of the UI is tried on.
BATCH_RUNS = 3
#: Deadline of a batch job over BATCH_RUNS runs (Temporal runs it as a system workflow).
BATCH_JOB_S = 60


def fetch_text(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    print(f"screenshot: {path}")


def workflows_url(base: str, query: str) -> str:
    return f"{base}/namespaces/default/workflows?" + urllib.parse.urlencode({"query": query})


async def test_web_ui_shows_and_acts_on_real_workflows(server, client, worker, wf_id):
    assert (UI_BUILD / "index.html").is_file(), "ui/build is missing: run scripts/setup.sh"
    done_ids = [f"{wf_id}-done-{i}" for i in range(2)]
    for i, wid in enumerate(done_ids):
        result = await client.execute_workflow(
            workflows.OneActivity.run, f"web-{i}", id=wid, task_queue=worker.task_queue
        )
        assert result == f"Hello, web-{i}!"
    running = await client.start_workflow(
        workflows.SignalCollector.run, 1, id=f"{wf_id}-running", task_queue=worker.task_queue
    )
    waiting = await client.start_workflow(
        workflows.SignalCollector.run, 1, id=f"{wf_id}-signalled", task_queue=worker.task_queue
    )
    schedule_id = f"{wf_id}-schedule"
    schedule = await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(
                workflows.OneActivity.run,
                "sched",
                id=f"{wf_id}-sched",
                task_queue=worker.task_queue,
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
            state=ScheduleState(paused=True, note="created by test_web_ui"),
        ),
    )

    # Batch targets: runs on queues of this test's own. No worker polls the terminate queue; one
    # polls the cancel queue so a cancellation ends its runs. The bystander is in neither list.
    term_queue, cancel_queue = (f"{worker.task_queue}-batch-{a}" for a in ("terminate", "cancel"))
    to_terminate = await start_collectors(client, term_queue, f"{wf_id}-batch-term")
    to_cancel = await start_collectors(client, cancel_queue, f"{wf_id}-batch-cancel")
    bystander = await client.start_workflow(
        workflows.SignalCollector.run,
        1,
        id=f"{wf_id}-batch-bystander",
        task_queue=f"{worker.task_queue}-batch-bystander",
    )

    with ui_base(server) as base:
        status, body = await asyncio.to_thread(fetch_text, base + "/")
        assert status == 200 and "/_app/" in body, f"the UI is not served at {base}/: {body[:300]}"
        async with (
            deleted_after(schedule),
            running_worker(client, task_queue=cancel_queue),
            async_playwright() as pw,
        ):
            browser = await pw.chromium.launch(
                executable_path=chromium_path(), args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                page.set_default_timeout(PAGE_S * 1000)
                await check_list(page, base, worker.task_queue, done_ids, [running.id, waiting.id])
                await check_workflow_page(page, base, done_ids[0], "Hello, web-0!")
                reason = f"stopped from the web ui by {wf_id}"
                await terminate_from_ui(page, base, running.id, reason)
                await signal_from_ui(page, base, waiting.id, "add", '"from the ui"')
                await check_schedules(page, base, schedule_id)
                await batch_from_ui(
                    page,
                    client,
                    base,
                    query=f'TaskQueue="{term_queue}"',
                    handles=to_terminate,
                    action="terminate",
                    reason=f"batch terminated from the web ui by {wf_id}",
                    job_id=f"{wf_id}-ui-terminate",
                    all_matching=True,
                )
                await batch_from_ui(
                    page,
                    client,
                    base,
                    query=f'TaskQueue="{cancel_queue}"',
                    handles=to_cancel,
                    action="cancel",
                    reason=f"batch cancelled from the web ui by {wf_id}",
                    job_id=f"{wf_id}-ui-cancel",
                    all_matching=False,
                )
            finally:
                await browser.close()

    async def terminated():
        return (await running.describe()).status == WorkflowExecutionStatus.TERMINATED

    await wait_until(terminated, CONDITION_S, "the workflow terminated from the UI")
    # The signal's JSON input, typed in the UI, reached the workflow as its argument.
    assert await asyncio.wait_for(waiting.result(), CONDITION_S) == ["from the ui"]
    history = await running.fetch_history()
    last = history.events[-1]
    assert last.HasField("workflow_execution_terminated_event_attributes"), last
    # The UI appends its own note ("Terminated from the Web UI") after the typed reason.
    assert last.workflow_execution_terminated_event_attributes.reason.startswith(reason)
    # Neither batch job touched the run outside its selection.
    assert (await bystander.describe()).status == WorkflowExecutionStatus.RUNNING
    await bystander.terminate("test_web_ui cleans up")


async def check_list(page: Page, base: str, task_queue: str, done_ids, running_ids) -> None:
    """The list, narrowed by a visibility query in its search, shows the test's workflows."""
    await page.goto(workflows_url(base, f'TaskQueue="{task_queue}"'))
    table = page.locator("table")
    rows = {wid: "Completed" for wid in done_ids} | {wid: "Running" for wid in running_ids}
    for wid, status in rows.items():
        await expect(table.get_by_role("link", name=wid, exact=True)).to_be_visible()
        await expect(table.locator("tr", has_text=wid)).to_contain_text(status)
    # The search narrowed the list to this test's task queue: its runs and nothing else.
    await expect(table.locator("tbody tr")).to_have_count(len(rows))
    await shot(page, "workflows-list")


async def check_workflow_page(page: Page, base: str, workflow_id: str, result: str) -> None:
    """From the list to the workflow's page: its status, event history and result."""
    await page.get_by_role("link", name=workflow_id, exact=True).click()
    await page.wait_for_url(f"**/workflows/{workflow_id}/*/history")
    await expect(page.get_by_role("heading", name=workflow_id)).to_be_visible()
    await expect(page.get_by_text("Completed").first).to_be_visible()
    await expect(page.get_by_text(result).first).to_be_visible()
    for event in [
        "Workflow Execution Started",
        "Activity Task Completed",
        "Workflow Execution Completed",
    ]:
        await expect(page.get_by_text(event).first).to_be_visible()
    await shot(page, "workflow-page")
    # The history's other views open: compact (grouped by activity/timer) and the raw JSON.
    await page.get_by_role("button", name="Compact").click()
    await expect(page.get_by_text("greet").first).to_be_visible()
    await page.get_by_role("button", name="JSON").click()
    # The JSON view pages through the events one at a time, decoded (a toggle turns that off).
    await expect(page.get_by_text("Decode Event History").first).to_be_visible()
    await shot(page, "workflow-history-json")
    if os.environ.get("PERDURE_README_SCREENSHOT"):
        out = REPO_ROOT / "docs" / "images" / "web-ui-workflow.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(out))
        print(f"README screenshot: {out}")


async def terminate_from_ui(page: Page, base: str, workflow_id: str, reason: str) -> None:
    """The workflow's action menu, Terminate, a reason, confirm: the page shows it terminated."""
    await page.goto(f"{base}/namespaces/default/workflows/{urllib.parse.quote(workflow_id)}")
    await page.wait_for_url(f"**/workflows/{workflow_id}/*/history")
    # The header renders the actions twice (wide and narrow layouts): use the visible one.
    await page.locator("#workflow-actions-menu-button:visible").click()
    await page.locator("[data-testid=terminate-button]:visible").click()
    dialog = page.locator("[data-testid=terminate-confirmation-modal]:visible")
    await dialog.locator("#workflow-termination-reason").fill(reason)
    await dialog.get_by_test_id("confirm-modal-button").click()
    await expect(page.get_by_text("Terminated").first).to_be_visible()
    await shot(page, "workflow-terminated")


async def signal_from_ui(page: Page, base: str, workflow_id: str, name: str, data: str) -> None:
    """The action menu's Signal: the signal picked from those the workflow declares (the UI
    asks the worker through the `__temporal_workflow_metadata` query), JSON input typed in."""
    await page.goto(f"{base}/namespaces/default/workflows/{urllib.parse.quote(workflow_id)}")
    await page.wait_for_url(f"**/workflows/{workflow_id}/*/history")
    await page.locator("#workflow-actions-menu-button:visible").click()
    await page.locator("[data-testid=signal-button]:visible").click()
    dialog = page.locator("[data-testid=signal-confirmation-modal]:visible")
    await dialog.locator("[data-testid=signal-select-button]").click()
    await page.get_by_role("option", name=name).first.click()
    await dialog.locator(".cm-content").fill(data)
    await dialog.get_by_test_id("confirm-modal-button").click()
    # The dialog closes once the call succeeded (the test then reads the result via the SDK).
    try:
        await expect(dialog).to_be_hidden()
    finally:
        await shot(page, "workflow-signalled")


async def check_schedules(page: Page, base: str, schedule_id: str) -> None:
    await page.goto(f"{base}/namespaces/default/schedules")
    await expect(page.get_by_text(schedule_id).first).to_be_visible()
    await shot(page, "schedules")


async def start_collectors(client: Client, task_queue: str, prefix: str) -> list[WorkflowHandle]:
    return [
        await client.start_workflow(
            workflows.SignalCollector.run, 1, id=f"{prefix}-{i}", task_queue=task_queue
        )
        for i in range(BATCH_RUNS)
    ]


async def batch_from_ui(
    page: Page,
    client: Client,
    base: str,
    *,
    query: str,
    handles: list[WorkflowHandle],
    action: str,
    reason: str,
    job_id: str,
    all_matching: bool,
) -> None:
    """The list narrowed by ``query``, every row ticked, the batch action's dialog with a reason
    and a job id typed in, confirm; then, through the SDK, every run ended by it with the typed
    reason and the job completed; the list shows the runs' new status.

    ``all_matching`` ticks "select all N workflows matching your query" too: the UI then sends
    the job as a visibility query; otherwise it names the ticked executions."""
    await page.goto(workflows_url(base, query))
    table = page.locator("table")
    for h in handles:
        await expect(table.locator("tr", has_text=h.id)).to_contain_text("Running")
    await expect(table.locator("tbody tr")).to_have_count(len(handles))
    # The checkbox input is visually hidden; its label takes the click.
    await page.get_by_test_id("batch-actions-checkbox").locator("label").click()
    if all_matching:
        await page.get_by_test_id("select-all-workflows").click()
    await page.get_by_test_id(f"bulk-{action}-button").click()
    dialog = page.get_by_test_id(f"batch-{action}-confirmation")
    if all_matching:
        await expect(dialog.get_by_test_id("batch-action-workflows-query")).to_have_text(query)
    else:
        await expect(dialog).to_contain_text(f"{len(handles)} running workflows")
    # The reason field's id carries a counter (bulk-action-reason-N).
    await dialog.locator("input[id^=bulk-action-reason]").fill(reason)
    await dialog.locator("#batch-operation-job-id").fill(job_id)
    await shot(page, f"batch-{action}-dialog")
    await dialog.get_by_test_id("confirm-modal-button").click()
    await expect(dialog).to_be_hidden()
    await expect(
        page.get_by_text(f"The batch {action} request is processing in the background.")
    ).to_be_visible()

    ended, label = {
        "terminate": (WorkflowExecutionStatus.TERMINATED, "Terminated"),
        "cancel": (WorkflowExecutionStatus.CANCELED, "Canceled"),
    }[action]

    async def all_ended() -> bool:
        return all([(await h.describe()).status == ended for h in handles])

    await wait_until(all_ended, BATCH_JOB_S, f"every run the UI's batch {action} selected")
    # The UI appends its own note ("Terminated/Canceled from the Web UI") to the typed reason.
    for h in handles:
        if action == "terminate":
            last = (await h.fetch_history()).events[-1]
            assert last.HasField("workflow_execution_terminated_event_attributes"), last
            assert last.workflow_execution_terminated_event_attributes.reason.startswith(reason)
        else:
            requested = [
                e.workflow_execution_cancel_requested_event_attributes
                async for e in h.fetch_history_events()
                if e.HasField("workflow_execution_cancel_requested_event_attributes")
            ]
            # Temporal's batcher requests the cancellation without a cause: the typed reason
            # is the job's (checked below).
            assert len(requested) == 1 and requested[0].cause == "", requested

    async def job_done():
        d = await client.workflow_service.describe_batch_operation(
            DescribeBatchOperationRequest(namespace=NAMESPACE, job_id=job_id)
        )
        return d if d.state != BatchOperationState.BATCH_OPERATION_STATE_RUNNING else None

    job = await wait_until(job_done, BATCH_JOB_S, f"the UI's batch {action} job to close")
    op_type = {
        "terminate": BatchOperationType.BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW,
        "cancel": BatchOperationType.BATCH_OPERATION_TYPE_CANCEL_WORKFLOW,
    }[action]
    assert job.state == BatchOperationState.BATCH_OPERATION_STATE_COMPLETED, job
    assert job.operation_type == op_type, job
    assert job.reason.startswith(reason), job
    assert (job.total_operation_count, job.complete_operation_count) == (len(handles),) * 2, job
    assert job.failure_operation_count == 0, job

    await page.goto(workflows_url(base, query))
    for h in handles:
        await expect(table.locator("tr", has_text=h.id)).to_contain_text(label)
    await shot(page, f"batch-{action}-result")
