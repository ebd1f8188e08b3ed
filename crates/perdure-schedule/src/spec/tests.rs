//! Unit tests per feature; the exhaustive check against Temporal is tests/spec_corpus.rs.
#![allow(deprecated)] // exclude_calendar: deprecated in the API, still honoured

use super::*;
use prost_wkt_types::Duration;
use temporalio_protos::temporal::api::schedule::v1::{CalendarSpec, IntervalSpec};

fn t(s: &str) -> Time {
    let ts: jiff::Timestamp = s.parse().unwrap();
    Time(ts.as_nanosecond() as i64)
}

fn times(spec: &ScheduleSpec, from: &str, to: &str) -> Vec<String> {
    let c = CompiledSpec::compile(spec).unwrap();
    c.matching_times(t(from), t(to), "seed")
        .unwrap()
        .into_iter()
        .map(|x| {
            jiff::Timestamp::from_nanosecond(x.0 as i128)
                .unwrap()
                .to_string()
        })
        .collect()
}

fn cron(s: &str) -> ScheduleSpec {
    ScheduleSpec {
        cron_string: vec![s.into()],
        ..Default::default()
    }
}

/// An interval of `every_s` seconds, with `phase_s` seconds of phase if any.
fn interval(every_s: i64, phase_s: Option<i64>) -> IntervalSpec {
    let secs = |seconds| Duration { seconds, nanos: 0 };
    IntervalSpec {
        interval: Some(secs(every_s)),
        phase: phase_s.map(secs),
    }
}

/// A one-second interval with every second of the days `day_of_week` names excluded (all days
/// when empty): the heaviest exclusions the search budget meets.
fn every_second_excluding(day_of_week: &str) -> ScheduleSpec {
    ScheduleSpec {
        interval: vec![interval(1, None)],
        exclude_calendar: vec![CalendarSpec {
            second: "*".into(),
            minute: "*".into(),
            hour: "*".into(),
            day_of_week: day_of_week.into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn err(spec: &ScheduleSpec) -> String {
    CompiledSpec::compile(spec).unwrap_err().to_string()
}

#[test]
fn interval_with_phase() {
    let spec = ScheduleSpec {
        interval: vec![interval(5400, Some(900))],
        ..Default::default()
    };
    assert_eq!(
        times(&spec, "2026-03-02T00:00:00Z", "2026-03-02T04:00:00Z"),
        [
            "2026-03-02T00:15:00Z",
            "2026-03-02T01:45:00Z",
            "2026-03-02T03:15:00Z"
        ]
    );
}

#[test]
fn cron_weekdays_at_noon() {
    assert_eq!(
        times(
            &cron("0 12 * * MON-FRI"),
            "2026-03-06T00:00:00Z",
            "2026-03-10T00:00:00Z"
        ),
        ["2026-03-06T12:00:00Z", "2026-03-09T12:00:00Z"]
    );
}

#[test]
fn new_york_gap_is_skipped() {
    let spec = cron("CRON_TZ=America/New_York 30 2 * * *");
    assert_eq!(
        times(&spec, "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z"),
        ["2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z"]
    );
}

#[test]
fn exclusions_and_end() {
    let spec = ScheduleSpec {
        interval: vec![interval(3600, None)],
        exclude_calendar: vec![CalendarSpec {
            hour: "1-2".into(),
            minute: "*".into(),
            ..Default::default()
        }],
        end_time: Some(prost_wkt_types::Timestamp {
            seconds: t("2026-03-02T04:00:00Z").0 / NANOS,
            nanos: 0,
        }),
        ..Default::default()
    };
    assert_eq!(
        times(&spec, "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"),
        ["2026-03-02T03:00:00Z", "2026-03-02T04:00:00Z"]
    );
}

#[test]
fn jitter_stays_below_the_next_slot() {
    let spec = ScheduleSpec {
        cron_string: vec!["* * * * *".into()],
        jitter: Some(Duration {
            seconds: 3600,
            nanos: 0,
        }),
        ..Default::default()
    };
    let c = CompiledSpec::compile(&spec).unwrap();
    let mut after = t("2026-03-02T00:00:00Z");
    for _ in 0..100 {
        let slot = c.next(after, "ns-id-sched").unwrap();
        assert!(slot.actual >= slot.nominal && slot.actual.0 < slot.nominal.0 + 60 * NANOS);
        assert_eq!(c.next(after, "ns-id-sched"), Some(slot), "deterministic");
        after = slot.nominal;
    }
}

#[test]
fn canonical_form() {
    let spec = cron("TZ=Europe/Paris 30 2 * * * # c");
    let c = CompiledSpec::compile(&spec).unwrap();
    let canon = c.canonical(&spec);
    assert!(canon.cron_string.is_empty());
    assert_eq!(canon.timezone_name, "Europe/Paris");
    let cal = &canon.structured_calendar[0];
    assert_eq!(cal.comment, "c");
    assert_eq!(
        (cal.hour[0].start, cal.hour[0].end, cal.hour[0].step),
        (2, 2, 1)
    );
    assert_eq!((cal.day_of_week[0].start, cal.day_of_week[0].end), (0, 6));
    let every = CompiledSpec::compile(&cron("@every 1h/15m")).unwrap();
    let iv = &every.canonical(&ScheduleSpec::default()).interval[0];
    assert_eq!(
        iv.interval,
        Some(Duration {
            seconds: 3600,
            nanos: 0
        })
    );
    assert_eq!(
        iv.phase,
        Some(Duration {
            seconds: 900,
            nanos: 0
        })
    );
}

#[test]
fn errors_carry_temporals_messages() {
    assert_eq!(
        err(&cron("0 0 * *")),
        "Invalid schedule spec: CronString does not have 5-7 fields"
    );
    assert_eq!(
        err(&cron("TZ=Mars/X 0 0 * * *")),
        "Invalid schedule spec: unknown time zone Mars/X"
    );
    assert_eq!(
        err(&cron("@every 500ms")),
        "Invalid schedule spec: interval is too small"
    );
    assert_eq!(
        err(&cron("@every 1h/2h")),
        "Invalid schedule spec: phase cannot be greater than Interval"
    );
    let lower = ScheduleSpec {
        timezone_name: "america/new_york".into(),
        ..Default::default()
    };
    assert_eq!(
        err(&lower),
        "Invalid schedule spec: unknown time zone america/new_york"
    );
    let many = ScheduleSpec {
        cron_string: vec!["@hourly".into(); MAX_SPEC_ENTRIES + 1],
        ..Default::default()
    };
    assert!(err(&many).contains("too many cron_string entries"));
}

#[test]
fn over_excluded_spec_is_bounded() {
    let spec = every_second_excluding("");
    let c = CompiledSpec::compile(&spec).unwrap();
    assert_eq!(
        c.try_next(t("2026-03-02T00:00:00Z"), ""),
        Err(SpecError::TooManyExclusions)
    );
    assert_eq!(c.next(t("2026-03-02T00:00:00Z"), ""), None);
}

/// Without DST, the calendar search must find exactly the first matching second (checked
/// against a scan of every second).
#[test]
fn calendar_search_agrees_with_a_scan() {
    use super::calendar::CompiledCalendar;
    use super::text::calendar_to_structured;
    use super::zone::Zone;
    let cals = [
        ("*/7", "*/13", "*", "*", "*", "*"),
        ("0,30", "59", "23", "mon,fri", "*", "*"),
        ("5", "0", "*/5", "*", "29-31", "*"),
        ("0", "0", "0", "*", "1-7", "*"),
    ];
    for zone_name in ["UTC", "Asia/Kolkata"] {
        for (second, minute, hour, dow, dom, month) in cals {
            let cal = CalendarSpec {
                second: second.into(),
                minute: minute.into(),
                hour: hour.into(),
                day_of_week: dow.into(),
                day_of_month: dom.into(),
                month: month.into(),
                ..Default::default()
            };
            let compiled = CompiledCalendar::new(
                &calendar_to_structured(&cal).unwrap(),
                Zone::load(zone_name).unwrap(),
            );
            let mut t = t("2026-02-25T00:00:00Z").0 / NANOS;
            for _ in 0..6 {
                let next = compiled.next(t).unwrap();
                let scanned = (t + 1..).find(|&s| compiled.matches(s)).unwrap();
                assert_eq!(next, scanned, "{cal:?} in {zone_name} after {t}");
                t = next;
            }
        }
    }
}

/// Zone loading follows Go: case-sensitive names, "" and "UTC" are UTC, TZif bytes load.
#[test]
fn zones_load_as_go_loads_them() {
    use super::zone::Zone;
    assert!(Zone::load("Europe/Paris").is_ok());
    assert!(Zone::load("").is_ok());
    assert_eq!(
        Zone::load("europe/paris").unwrap_err(),
        "unknown time zone europe/paris"
    );
    assert_eq!(
        Zone::load("../etc/passwd").unwrap_err(),
        "time: invalid location name"
    );
    assert_eq!(
        Zone::from_tzif("X", b"nope").unwrap_err(),
        "malformed time zone information"
    );
    // Go's time.Date inside New York's spring gap lands an hour early (01:30 EST) and in
    // Paris' an hour late (03:30 CEST): the calendar search skips both.
    let ny = Zone::load("America/New_York").unwrap();
    assert_eq!(
        ny.date(2026, 3, 8, 2, 30, 0),
        t("2026-03-08T06:30:00Z").0 / NANOS
    );
    let paris = Zone::load("Europe/Paris").unwrap();
    assert_eq!(
        paris.date(2026, 3, 29, 2, 30, 0),
        t("2026-03-29T01:30:00Z").0 / NANOS
    );
}

/// A legitimate heavy exclusion (every second, weekends excluded) fits in the search budget.
#[test]
fn weekend_excluded_every_second_is_found() {
    let spec = every_second_excluding("sat,sun");
    let c = CompiledSpec::compile(&spec).unwrap();
    // Friday 2026-03-06, last second before the weekend.
    let slot = c.try_next(t("2026-03-06T23:59:59Z"), "").unwrap().unwrap();
    assert_eq!(slot.nominal, t("2026-03-09T00:00:00Z"));
}
