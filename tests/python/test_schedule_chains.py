"""A schedule watches the whole chain of a run it started: a run that continues-as-new stays
the schedule's running workflow until the chain's last run closes (the back-reference every
successor inherits), so SKIP keeps skipping meanwhile and the next slot starts only after.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from schedules import describe_until, schedule_id


@workflow.defn
class ChainOfRuns:
    """Runs `left` more times through continue-as-new, each run about a second long."""

    @workflow.run
    async def run(self, left: int) -> str:
        await workflow.sleep(timedelta(seconds=1))
        if left > 0:
            workflow.continue_as_new(left - 1)
        return "done"


async def test_a_continued_run_stays_running_until_its_chain_ends(client: Client):
    sid = schedule_id("sched-chain")
    task_queue = f"chain-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ChainOfRuns],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.create_schedule(
            sid,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    "ChainOfRuns", 2, id=f"{sid}-wf", task_queue=task_queue
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
        try:
            d = await describe_until(handle, lambda d: d.info.num_actions >= 1, "first run")
            first = d.info.recent_actions[0].action.workflow_id
            # Past the first run's own end (it continued as new): still the running one.
            d = await describe_until(
                handle,
                lambda d: d.info.num_actions_skipped_overlap >= 2,
                "slots skipped while the chain runs",
            )
            assert [r.workflow_id for r in d.info.running_actions] == [first]
            # The chain's end (three runs, ~3 s) frees the schedule: a second action starts.
            d = await describe_until(
                handle, lambda d: d.info.num_actions >= 2, "the next run after the chain", 30
            )
            statuses = {
                a.start_workflow_result.workflow_id: a.start_workflow_status
                for a in d.raw_description.info.recent_actions
            }
            assert statuses[first] == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
            chain = [
                e
                async for e in client.list_workflows(f"WorkflowId = '{first}'")
            ]
            assert len(chain) == 3, chain
            assert d.info.num_actions == 2
        finally:
            await handle.delete()
