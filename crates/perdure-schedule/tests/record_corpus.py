"""Records what Temporal's server answers for a set of schedule specs, as the evidence the spec
module is checked against (tests/spec_corpus.rs).

For every case it creates a paused schedule (so nothing ever fires), then stores the spec it
sent, DescribeSchedule's spec (the canonical form), and ListScheduleMatchingTimes over the
case's window; or, for a spec the server refuses, the gRPC status code and message. Specs are
stored as hex-encoded protobuf bytes (exact, decoded by prost on the Rust side) next to their
JSON form (for people reading the file).

Run against Temporal's dev server (never Perdure), e.g.:

    temporal server start-dev --headless --port 7303 &
    /work/main/.venv/bin/python crates/perdure-schedule/tests/record_corpus.py localhost:7303
"""

import asyncio
import base64
import json
import os
import sys
import uuid

from google.protobuf import json_format
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.schedule.v1 import (
    IntervalSpec,
    Schedule,
    ScheduleAction,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.workflow.v1 import NewWorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    CreateScheduleRequest,
    DeleteScheduleRequest,
    DescribeNamespaceRequest,
    DescribeScheduleRequest,
    GetSystemInfoRequest,
    ListScheduleMatchingTimesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError

NAMESPACE = "default"
OUT = os.path.join(os.path.dirname(__file__), "data", "schedule_spec_corpus.json")

SPRING = ("2026-03-01T00:00:00Z", "2026-04-05T00:00:00Z")  # US DST starts 03-08, EU 03-29
AUTUMN = ("2026-10-20T00:00:00Z", "2026-11-10T00:00:00Z")  # EU DST ends 10-25, US 11-01
DAY = ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z")
WEEK = ("2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z")
YEARS = ("2026-01-01T00:00:00Z", "2034-01-01T00:00:00Z")


def tzif(name: str) -> str:
    with open(f"/usr/share/zoneinfo/{name}", "rb") as f:
        return base64.b64encode(f.read()).decode()


ALL = {
    "second": [{"start": 0}],
    "dayOfMonth": [{"start": 1, "end": 31}],
    "month": [{"start": 1, "end": 12}],
    "dayOfWeek": [{"start": 0, "end": 6}],
}


def sc(**fields):
    """A structured calendar: every day, second 0, with the given fields overridden."""
    out = dict(ALL)
    out.update(fields)
    return out


# (name, spec as proto JSON, window)
CASES = [
    # --- structured calendars ---
    ("structured_empty_matches_nothing", {"structuredCalendar": [{}]}, WEEK),
    ("structured_daily_0930", {"structuredCalendar": [sc(hour=[{"start": 9}], minute=[{"start": 30}])]}, WEEK),
    ("structured_hour_step", {"structuredCalendar": [sc(hour=[{"start": 0, "end": 23, "step": 6}], minute=[{"start": 15}])]}, DAY),
    ("structured_weekdays_noon", {"structuredCalendar": [sc(hour=[{"start": 12}], minute=[{"start": 0}], dayOfWeek=[{"start": 1, "end": 5}])]}, ("2026-03-01T00:00:00Z", "2026-03-16T00:00:00Z")),
    ("structured_multi_ranges", {"structuredCalendar": [sc(hour=[{"start": 8}, {"start": 20}], minute=[{"start": 0, "end": 50, "step": 25}], second=[{"start": 5}, {"start": 40, "end": 45, "step": 5}])]}, DAY),
    ("structured_year_month_day", {"structuredCalendar": [{"second": [{"start": 0}], "minute": [{"start": 0}], "hour": [{"start": 0}], "dayOfMonth": [{"start": 15}], "month": [{"start": 3}, {"start": 9}], "year": [{"start": 2027, "end": 2031, "step": 2}], "dayOfWeek": [{"start": 0, "end": 6}]}]}, YEARS),
    ("structured_feb29", {"structuredCalendar": [sc(hour=[{"start": 0}], minute=[{"start": 0}], dayOfMonth=[{"start": 29}], month=[{"start": 2}])]}, YEARS),
    ("structured_dom31", {"structuredCalendar": [sc(hour=[{"start": 6}], minute=[{"start": 0}], dayOfMonth=[{"start": 31}])]}, ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")),
    ("structured_dom_and_dow", {"structuredCalendar": [sc(hour=[{"start": 0}], minute=[{"start": 0}], dayOfMonth=[{"start": 13}], dayOfWeek=[{"start": 5}])]}, YEARS),
    ("structured_end_zero_means_start", {"structuredCalendar": [sc(hour=[{"start": 10, "end": 0}], minute=[{"start": 0, "step": 0}])]}, DAY),
    ("structured_comment", {"structuredCalendar": [sc(hour=[{"start": 1}], minute=[{"start": 2}], comment="the comment")]}, DAY),
    ("structured_bad_end_before_start", {"structuredCalendar": [sc(hour=[{"start": 10, "end": 5}], minute=[{"start": 0}])]}, DAY),
    ("structured_bad_second_60", {"structuredCalendar": [sc(second=[{"start": 60}], minute=[{"start": 0}], hour=[{"start": 0}])]}, DAY),
    ("structured_bad_dom_zero", {"structuredCalendar": [{"second": [{"start": 0}], "minute": [{"start": 0}], "hour": [{"start": 0}], "dayOfMonth": [{}]}]}, DAY),
    ("structured_bad_many", {"structuredCalendar": [{"second": [{"start": 0, "step": -1}], "minute": [{"start": 0, "end": 60}], "hour": [{"start": 24}], "month": [{"start": 13}], "year": [{"start": 1999}], "dayOfWeek": [{"start": 7}]}]}, DAY),
    ("structured_bad_comment_too_long", {"structuredCalendar": [sc(hour=[{"start": 0}], minute=[{"start": 0}], comment="x" * 201)]}, DAY),
    # --- calendar strings ---
    ("calendar_defaults_daily_midnight", {"calendar": [{}]}, WEEK),
    ("calendar_names_and_steps", {"calendar": [{"dayOfWeek": "mon-fri", "month": "jan,Mar", "hour": "9-17/2", "minute": "30"}]}, WEEK),
    ("calendar_dow_full_names", {"calendar": [{"dayOfWeek": "Saturday,sun", "hour": "7"}]}, ("2026-03-01T00:00:00Z", "2026-03-22T00:00:00Z")),
    ("calendar_dow_7_is_sunday", {"calendar": [{"dayOfWeek": "7", "hour": "1"}, {"dayOfWeek": "3-7", "hour": "2"}, {"dayOfWeek": "1-7/2", "hour": "3"}, {"dayOfWeek": "5-7/3", "hour": "4"}, {"dayOfWeek": "0-7", "hour": "5"}]}, ("2026-03-01T00:00:00Z", "2026-03-15T00:00:00Z")),
    ("calendar_single_with_step", {"calendar": [{"minute": "5/15", "hour": "*", "second": "*/20"}]}, ("2026-03-02T00:00:00Z", "2026-03-02T02:00:00Z")),
    ("calendar_year_step_month_prefix", {"calendar": [{"year": "*/3", "month": "September", "dayOfMonth": "1"}, {"year": "2029", "month": "dec", "dayOfMonth": "25", "hour": "6"}]}, YEARS),
    ("calendar_whitespace_and_star", {"calendar": [{"second": " 0 ", "minute": "*/30", "hour": " * ", "comment": "half-hourly"}]}, DAY),
    ("calendar_bad_hour_25", {"calendar": [{"hour": "25"}]}, DAY),
    ("calendar_bad_dashes", {"calendar": [{"minute": "1-2-3"}]}, DAY),
    ("calendar_bad_step_zero", {"calendar": [{"minute": "*/0"}]}, DAY),
    ("calendar_bad_missing_step", {"calendar": [{"minute": "5/"}]}, DAY),
    ("calendar_bad_slashes", {"calendar": [{"minute": "1/2/3"}]}, DAY),
    ("calendar_bad_step_text", {"calendar": [{"minute": "*/x"}]}, DAY),
    ("calendar_bad_names", {"calendar": [{"month": "se", "dayOfWeek": "m", "hour": "3-1", "dayOfMonth": "x-3"}]}, DAY),
    # --- cron strings ---
    ("cron_5_fields", {"cronString": ["0 12 * * MON-FRI"]}, ("2026-03-01T00:00:00Z", "2026-03-16T00:00:00Z")),
    ("cron_6_fields_year", {"cronString": ["30 8 1 * * 2026"]}, ("2026-01-01T00:00:00Z", "2028-01-01T00:00:00Z")),
    ("cron_7_fields_seconds", {"cronString": ["15,45 30 8 * * * *"]}, WEEK),
    ("cron_predefined", {"cronString": ["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"]}, ("2026-02-27T00:00:00Z", "2026-03-03T00:00:00Z")),
    ("cron_every", {"cronString": ["@every 90m"]}, DAY),
    ("cron_every_phase", {"cronString": ["@every 1h/15m"]}, DAY),
    ("cron_every_days", {"cronString": ["@every 1.5d"]}, ("2026-03-01T00:00:00Z", "2026-03-15T00:00:00Z")),
    ("cron_every_with_comment", {"cronString": ["@every 6h # four times a day"]}, DAY),
    ("cron_comment", {"cronString": ["  0 5 * * *   # morning run  "]}, WEEK),
    ("cron_tz_new_york_dst_gap", {"cronString": ["CRON_TZ=America/New_York 30 2 * * *"]}, SPRING),
    ("cron_tz_paris", {"cronString": ["TZ=Europe/Paris 30 2 * * *"]}, SPRING),
    ("cron_tz_matches_spec_tz", {"cronString": ["TZ=Asia/Tokyo 0 9 * * *"], "timezoneName": "Asia/Tokyo"}, WEEK),
    ("cron_and_structured_share_tz", {"cronString": ["TZ=Asia/Kolkata 0 9 * * *"], "structuredCalendar": [sc(hour=[{"start": 18}], minute=[{"start": 0}])]}, ("2026-03-02T00:00:00Z", "2026-03-04T00:00:00Z")),
    ("cron_mixed_with_interval_and_calendar", {"cronString": ["0 */6 * * *", "@every 5h"], "calendar": [{"hour": "1", "minute": "1"}], "interval": [{"interval": "36000s", "phase": "60s"}]}, DAY),
    ("cron_bad_tz_only", {"cronString": ["TZ=America/New_York"]}, DAY),
    ("cron_bad_conflicting_tz", {"cronString": ["TZ=Europe/Paris 0 0 * * *"], "timezoneName": "Europe/Berlin"}, DAY),
    ("cron_bad_two_tz", {"cronString": ["TZ=Europe/Paris 0 0 * * *", "0 1 * * *"]}, DAY),
    ("cron_bad_unknown_tz", {"cronString": ["CRON_TZ=Mars/Olympus 0 0 * * *"]}, DAY),
    ("cron_bad_4_fields", {"cronString": ["0 0 * *"]}, DAY),
    ("cron_bad_8_fields", {"cronString": ["0 0 0 * * * * *"]}, DAY),
    ("cron_bad_every_missing", {"cronString": ["@every"]}, DAY),
    ("cron_bad_every_unit", {"cronString": ["@every 5x"]}, DAY),
    ("cron_bad_every_too_small", {"cronString": ["@every 500ms"]}, DAY),
    ("cron_bad_every_phase_too_big", {"cronString": ["@every 1h/2h"]}, DAY),
    ("cron_bad_field", {"cronString": ["61 * * * *"]}, DAY),
    ("cron_bad_hash_only", {"cronString": ["# nothing"]}, DAY),
    # --- intervals ---
    ("interval_hour", {"interval": [{"interval": "3600s"}]}, DAY),
    ("interval_phase", {"interval": [{"interval": "5400s", "phase": "900s"}]}, DAY),
    ("interval_week_phase", {"interval": [{"interval": "604800s", "phase": "93784s"}]}, ("2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z")),
    ("interval_fractional_seconds", {"interval": [{"interval": "7200.5s", "phase": "1.5s"}]}, DAY),
    ("interval_two", {"interval": [{"interval": "3600s"}, {"interval": "5400s", "phase": "60s"}]}, DAY),
    ("interval_bad_too_small", {"interval": [{"interval": "0.5s"}]}, DAY),
    ("interval_bad_zero", {"interval": [{}]}, DAY),
    ("interval_bad_phase_equal", {"interval": [{"interval": "60s", "phase": "60s"}]}, DAY),
    ("interval_bad_phase_negative", {"interval": [{"interval": "60s", "phase": "-1s"}]}, DAY),
    # --- time zones ---
    ("tz_new_york_spring_gap", {"calendar": [{"hour": "1-3", "minute": "0,30"}], "timezoneName": "America/New_York"}, ("2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z")),
    ("tz_new_york_autumn_fold", {"calendar": [{"hour": "0-3", "minute": "0,30"}], "timezoneName": "America/New_York"}, ("2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z")),
    ("tz_london_every_minute_fold", {"calendar": [{"hour": "1", "minute": "*/20"}], "timezoneName": "Europe/London"}, ("2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z")),
    ("tz_london_spring", {"calendar": [{"hour": "0-2", "minute": "15"}], "timezoneName": "Europe/London"}, ("2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z")),
    ("tz_lord_howe_half_hour_dst", {"calendar": [{"hour": "1-2", "minute": "*/15"}], "timezoneName": "Australia/Lord_Howe"}, ("2026-04-03T00:00:00Z", "2026-04-06T00:00:00Z")),
    ("tz_kathmandu_offset", {"calendar": [{"hour": "0", "minute": "0"}], "timezoneName": "Asia/Kathmandu"}, WEEK),
    ("tz_interval_ignores_tz", {"interval": [{"interval": "86400s"}], "timezoneName": "America/Los_Angeles"}, WEEK),
    ("tz_utc_name", {"calendar": [{"hour": "12"}], "timezoneName": "UTC"}, WEEK),
    ("tz_weekday_in_zone", {"calendar": [{"dayOfWeek": "mon", "hour": "23", "minute": "30"}], "timezoneName": "Pacific/Auckland"}, ("2026-03-01T00:00:00Z", "2026-03-22T00:00:00Z")),
    ("tz_data_paris", {"calendar": [{"hour": "2", "minute": "30"}], "timezoneName": "My/Paris", "timezoneData": tzif("Europe/Paris")}, SPRING),
    ("tz_bad_unknown", {"calendar": [{"hour": "1"}], "timezoneName": "Nowhere/Zone"}, DAY),
    ("tz_bad_data", {"calendar": [{"hour": "1"}], "timezoneName": "X", "timezoneData": base64.b64encode(b"not tzif").decode()}, DAY),
    # --- exclusions ---
    ("exclude_calendar_hours", {"interval": [{"interval": "3600s"}], "excludeCalendar": [{"hour": "12-13", "minute": "*", "second": "*"}]}, DAY),
    ("exclude_structured_weekend", {"calendar": [{"hour": "9"}], "excludeStructuredCalendar": [sc(hour=[{"start": 0, "end": 23}], minute=[{"start": 0, "end": 59}], second=[{"start": 0, "end": 59}], dayOfWeek=[{"start": 0}, {"start": 6}])]}, ("2026-03-01T00:00:00Z", "2026-03-16T00:00:00Z")),
    ("exclude_exact_time_in_zone", {"calendar": [{"hour": "*/4"}], "excludeCalendar": [{"hour": "8", "dayOfWeek": "tue"}], "timezoneName": "Europe/Berlin"}, WEEK),
    ("exclude_bad", {"calendar": [{"hour": "1"}], "excludeCalendar": [{"hour": "x"}]}, DAY),
    ("exclude_structured_left_as_is", {"calendar": [{"hour": "1"}], "excludeStructuredCalendar": [{"hour": [{"start": 30, "end": 2}], "minute": [{"start": 3, "step": -2}]}]}, DAY),
    # --- start / end ---
    ("start_end_window", {"interval": [{"interval": "3600s"}], "startTime": "2026-03-02T05:30:00Z", "endTime": "2026-03-02T10:00:00Z"}, DAY),
    ("start_on_match_inclusive", {"calendar": [{"hour": "*"}], "startTime": "2026-03-02T06:00:00Z", "endTime": "2026-03-02T09:00:00.5Z"}, DAY),
    ("start_fractional", {"calendar": [{"hour": "*", "minute": "*", "second": "*/10"}], "startTime": "2026-03-02T06:00:00.250Z", "endTime": "2026-03-02T06:00:30Z"}, DAY),
    ("end_before_start", {"interval": [{"interval": "3600s"}], "startTime": "2026-03-02T10:00:00Z", "endTime": "2026-03-02T05:00:00Z"}, DAY),
    # --- jitter ---
    ("jitter_interval", {"interval": [{"interval": "3600s"}], "jitter": "600s"}, DAY),
    ("jitter_capped_by_next", {"calendar": [{"hour": "*", "minute": "*"}], "jitter": "3600s"}, ("2026-03-02T00:00:00Z", "2026-03-02T01:00:00Z")),
    ("jitter_calendar_with_zone", {"calendar": [{"hour": "3", "minute": "0"}], "jitter": "1800.5s", "timezoneName": "America/Chicago"}, SPRING),
    ("jitter_with_excludes_and_end", {"interval": [{"interval": "900s"}], "excludeCalendar": [{"hour": "2", "minute": "*"}], "jitter": "840s", "endTime": "2026-03-02T05:00:00Z"}, DAY),
    ("jitter_bigger_than_49_days", {"interval": [{"interval": "8640000s"}], "jitter": "8000000s"}, ("2026-01-01T00:00:00Z", "2028-01-01T00:00:00Z")),
    ("empty_spec", {}, DAY),
    # --- more edges ---
    ("tz_sydney_autumn_fold", {"calendar": [{"hour": "2", "minute": "*/20", "second": "0,30"}], "timezoneName": "Australia/Sydney"}, ("2026-04-04T12:00:00Z", "2026-04-05T18:00:00Z")),
    ("tz_sydney_spring_gap", {"calendar": [{"hour": "1-3", "minute": "45"}], "timezoneName": "Australia/Sydney"}, ("2026-10-03T00:00:00Z", "2026-10-05T00:00:00Z")),
    ("tz_local_name", {"calendar": [{"hour": "6"}], "timezoneName": "Local"}, WEEK),
    ("tz_cron_empty_tz_prefix", {"cronString": ["TZ= 0 6 * * *"], "timezoneName": "Europe/Rome"}, WEEK),
    ("tz_every_drops_cron_tz", {"cronString": ["TZ=Asia/Tokyo @every 12h"]}, DAY),
    ("tz_interval_exclude_in_zone", {"interval": [{"interval": "1800s"}], "excludeCalendar": [{"hour": "0-7", "minute": "*"}], "timezoneName": "America/Denver"}, DAY),
    ("tz_jitter_across_gap", {"calendar": [{"hour": "1-3", "minute": "0"}], "jitter": "7200s", "timezoneName": "America/New_York"}, ("2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z")),
    ("tz_fold_seconds", {"calendar": [{"hour": "1", "minute": "59", "second": "*/15"}], "timezoneName": "America/New_York"}, ("2026-11-01T04:00:00Z", "2026-11-01T08:00:00Z")),
    ("tz_data_with_cron_tz_conflict", {"cronString": ["TZ=Europe/Paris 0 0 * * *"], "timezoneData": tzif("Europe/Paris")}, DAY),
    ("cron_every_second_capped_at_1000", {"cronString": ["* * * * * * *"]}, ("2026-03-02T00:00:00Z", "2026-03-02T01:00:00Z")),
    ("cron_last_years", {"cronString": ["0 0 1 1 * 2099-2100"]}, ("2098-01-01T00:00:00Z", "2101-06-01T00:00:00Z")),
    ("cron_bad_question_mark", {"cronString": ["0 0 ? * *"]}, DAY),
    ("cron_bad_year_out_of_range", {"cronString": ["0 0 1 1 * 2101"]}, DAY),
    ("cron_names_in_seven_fields", {"cronString": ["0 0 9 * FEB,Apr SAT-7 *"]}, ("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z")),
    ("cron_step_on_list", {"cronString": ["0-10/5,50 */12 1-3 * *"]}, ("2026-03-01T00:00:00Z", "2026-03-05T00:00:00Z")),
    ("calendar_duplicates_and_overlaps", {"calendar": [{"hour": "1,1,1-2", "minute": "0"}, {"hour": "1", "minute": "0"}]}, DAY),
    ("exclude_everything_no_times", {"calendar": [{"hour": "12"}], "excludeCalendar": [{"hour": "12"}]}, WEEK),
    ("structured_empty_year_list_every_year", {"structuredCalendar": [sc(hour=[{"start": 0}], minute=[{"start": 0}], dayOfMonth=[{"start": 1}], month=[{"start": 1}])]}, YEARS),
    ("start_only", {"calendar": [{"hour": "*/6"}], "startTime": "2026-03-04T00:00:00Z"}, WEEK),
    ("end_only_fractional", {"calendar": [{"hour": "*/6"}], "endTime": "2026-03-03T12:00:00.999Z"}, WEEK),
    ("start_after_window", {"interval": [{"interval": "60s"}], "startTime": "2027-01-01T00:00:00Z"}, DAY),
    ("jitter_negative", {"interval": [{"interval": "600s"}], "jitter": "-60s"}, ("2026-03-02T00:00:00Z", "2026-03-02T01:00:00Z")),
    ("jitter_sub_millisecond", {"interval": [{"interval": "1s"}], "jitter": "0.0009s"}, ("2026-03-02T00:00:00Z", "2026-03-02T00:00:05Z")),
    ("jitter_two_specs_close", {"interval": [{"interval": "3600s"}, {"interval": "3600s", "phase": "5s"}], "jitter": "600s"}, ("2026-03-02T00:00:00Z", "2026-03-02T04:00:00Z")),
    ("interval_bad_duration_signs", lambda: ScheduleSpec(interval=[IntervalSpec(interval=Duration(seconds=60, nanos=-5))]), DAY),
]


def ts(s: str) -> Timestamp:
    t = Timestamp()
    t.FromJsonString(s)
    return t


async def record(client: Client, ns_id: str, name: str, spec_json: dict, window) -> dict:
    if callable(spec_json):  # specs that proto JSON cannot express (invalid durations)
        spec = spec_json()
        spec_json = str(spec).strip()
    else:
        spec = json_format.ParseDict(spec_json, ScheduleSpec())
    schedule_id = f"spec-{name}-{uuid.uuid4().hex[:8]}"
    entry = {
        "name": name,
        "schedule_id": schedule_id,
        "jitter_seed": f"{ns_id}-{schedule_id}",
        "spec_json": spec_json,
        "spec_hex": spec.SerializeToString(deterministic=True).hex(),
        "window": list(window),
    }
    schedule = Schedule(
        spec=spec,
        action=ScheduleAction(
            start_workflow=NewWorkflowExecutionInfo(
                workflow_id=f"wf-{schedule_id}",
                workflow_type=WorkflowType(name="Nothing"),
                task_queue=TaskQueue(name="spec-corpus"),
            )
        ),
        state=ScheduleState(paused=True, notes="spec corpus"),
    )
    svc = client.workflow_service
    try:
        await svc.create_schedule(
            CreateScheduleRequest(
                namespace=NAMESPACE,
                schedule_id=schedule_id,
                schedule=schedule,
                identity="record_corpus",
                request_id=str(uuid.uuid4()),
            )
        )
    except RPCError as e:
        entry["error"] = {"code": e.status.name, "message": e.message}
        return entry
    try:
        desc = await svc.describe_schedule(
            DescribeScheduleRequest(namespace=NAMESPACE, schedule_id=schedule_id)
        )
        canonical = desc.schedule.spec
        entry["canonical_json"] = json_format.MessageToDict(canonical)
        entry["canonical_hex"] = canonical.SerializeToString(deterministic=True).hex()
        times = await svc.list_schedule_matching_times(
            ListScheduleMatchingTimesRequest(
                namespace=NAMESPACE,
                schedule_id=schedule_id,
                start_time=ts(window[0]),
                end_time=ts(window[1]),
            )
        )
        entry["matching_times"] = [t.ToJsonString() for t in times.start_time]
    finally:
        await svc.delete_schedule(
            DeleteScheduleRequest(namespace=NAMESPACE, schedule_id=schedule_id, identity="record_corpus")
        )
    return entry


async def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else "localhost:7303"
    client = await Client.connect(target, namespace=NAMESPACE)
    ns = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=NAMESPACE))
    ns_id = ns.namespace_info.id
    entries = []
    for name, spec_json, window in CASES:
        entry = await record(client, ns_id, name, spec_json, window)
        outcome = entry.get("error", {}).get("message") or f"{len(entry['matching_times'])} times"
        print(f"{name}: {outcome}", flush=True)
        entries.append(entry)
    server = (await client.workflow_service.get_system_info(GetSystemInfoRequest())).server_version
    with open(OUT, "w") as f:
        json.dump({"server_version": server, "namespace_id": ns_id, "entries": entries}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(entries)} entries to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
