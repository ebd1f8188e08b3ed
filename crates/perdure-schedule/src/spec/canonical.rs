//! Validation and canonical form of a `ScheduleSpec`, as Temporal's frontend does them before
//! storing a schedule and as DescribeSchedule shows it: calendar strings and cron strings
//! become structured calendars (appended after the given ones, calendars before crons),
//! `@every` crons become intervals, a cron's `TZ=` becomes the spec's time zone, and every
//! range has its defaults filled in (end = start when smaller, step 1). Owns the error
//! messages; never computes times.

use prost_wkt_types::Duration;
use temporalio_protos::temporal::api::schedule::v1::{
    IntervalSpec, Range, ScheduleSpec, StructuredCalendarSpec,
};

use super::calendar::{MAX_CALENDAR_YEAR, MIN_CALENDAR_YEAR};
use super::jitter::nanos_of;
use super::text::{calendar_to_structured, parse_cron, Cron};

/// Perdure's bound on every repeated field of a spec (calendars, crons, intervals, excludes)
/// and on the ranges of one calendar field. Temporal has none beyond the message size.
pub const MAX_SPEC_ENTRIES: usize = 1000;
const MAX_COMMENT_LEN: usize = 200;
const NANOS: i64 = 1_000_000_000;

/// The spec after parsing and validation (before the zone is loaded).
#[allow(deprecated)] // exclude_calendar is deprecated in the API, still honoured by Temporal
pub(crate) fn canonicalize(spec: &ScheduleSpec) -> Result<ScheduleSpec, String> {
    check_limits(spec)?;
    check_durations(&spec.interval)?;
    let mut spec = spec.clone();
    for cal in std::mem::take(&mut spec.calendar) {
        spec.structured_calendar.push(calendar_to_structured(&cal)?);
    }
    for cal in std::mem::take(&mut spec.exclude_calendar) {
        spec.exclude_structured_calendar
            .push(calendar_to_structured(&cal)?);
    }
    // Every cron string must name the same zone (or none), and it must agree with the spec's.
    let mut cron_tz: Option<String> = None;
    for c in std::mem::take(&mut spec.cron_string) {
        let (tz, parsed) = match parse_cron(&c)? {
            Cron::Calendar(cal, tz) => (tz, Cron::Calendar(cal, String::new())),
            Cron::Interval(iv) => (String::new(), Cron::Interval(iv)),
        };
        if cron_tz.as_ref().is_some_and(|seen| *seen != tz) {
            return Err("conflicting timezone names".into());
        }
        cron_tz = Some(tz);
        match parsed {
            Cron::Calendar(cal, _) => spec.structured_calendar.push(cal),
            Cron::Interval(iv) => spec.interval.push(iv),
        }
    }
    if let Some(tz) = cron_tz.filter(|tz| !tz.is_empty()) {
        let has_data = !spec.timezone_data.is_empty();
        if has_data || (!spec.timezone_name.is_empty() && spec.timezone_name != tz) {
            return Err("conflicting timezone names".into());
        }
        spec.timezone_name = tz;
    }
    for cal in &spec.structured_calendar {
        validate_calendar(cal)?;
    }
    for iv in &spec.interval {
        validate_interval(iv)?;
    }
    for cal in &spec.exclude_structured_calendar {
        check_exclude(cal)?;
    }
    Ok(spec)
}

/// DescribeSchedule's view: defaults filled into every range.
pub(crate) fn clean(mut spec: ScheduleSpec) -> ScheduleSpec {
    let fill = |ranges: &mut Vec<Range>| {
        for r in ranges {
            if r.end < r.start {
                r.end = r.start;
            }
            if r.step == 0 {
                r.step = 1;
            }
        }
    };
    for cal in spec
        .structured_calendar
        .iter_mut()
        .chain(spec.exclude_structured_calendar.iter_mut())
    {
        for field in fields_mut(cal) {
            fill(field);
        }
    }
    spec
}

fn fields_mut(c: &mut StructuredCalendarSpec) -> [&mut Vec<Range>; 7] {
    [
        &mut c.second,
        &mut c.minute,
        &mut c.hour,
        &mut c.day_of_month,
        &mut c.month,
        &mut c.year,
        &mut c.day_of_week,
    ]
}

fn fields(c: &StructuredCalendarSpec) -> [(&Vec<Range>, &'static str, i32, i32); 7] {
    let (min_year, max_year) = (MIN_CALENDAR_YEAR as i32, MAX_CALENDAR_YEAR as i32);
    [
        (&c.second, "Second", 0, 59),
        (&c.minute, "Minute", 0, 59),
        (&c.hour, "Hour", 0, 23),
        (&c.day_of_month, "DayOfMonth", 1, 31),
        (&c.month, "Month", 1, 12),
        (&c.year, "Year", min_year, max_year),
        (&c.day_of_week, "DayOfWeek", 0, 6),
    ]
}

fn validate_calendar(c: &StructuredCalendarSpec) -> Result<(), String> {
    let mut errs = Vec::new();
    for (ranges, field, min, max) in fields(c) {
        for r in ranges {
            if r.start < min || r.start > max {
                errs.push(format!("{field} Start is not in range [{min}-{max}]"));
            }
            if r.end != 0 && (r.end < r.start || r.end > max) {
                errs.push(format!(
                    "{field} End is before Start or not in range [{min}-{max}]"
                ));
            }
            if r.step < 0 {
                errs.push(format!("{field} has invalid Step"));
            }
        }
    }
    if c.comment.len() > MAX_COMMENT_LEN {
        errs.push("comment is too long".into());
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("invalid calendar spec: {}", errs.join(", ")))
    }
}

/// Temporal does not validate exclude calendars, and crashes (Internal) on a negative start or
/// step; Perdure refuses those instead.
fn check_exclude(c: &StructuredCalendarSpec) -> Result<(), String> {
    for (ranges, field, _, _) in fields(c) {
        if ranges.iter().any(|r| r.start < 0 || r.step < 0) {
            return Err(format!(
                "invalid exclude calendar spec: {field} has a negative Start or Step"
            ));
        }
    }
    Ok(())
}

pub(crate) fn duration_nanos(d: &Option<Duration>) -> i64 {
    d.as_ref().map_or(0, |d| nanos_of(d.seconds, d.nanos))
}

fn validate_interval(iv: &IntervalSpec) -> Result<(), String> {
    let (every, phase) = (duration_nanos(&iv.interval), duration_nanos(&iv.phase));
    if every < NANOS {
        Err("interval is too small".into())
    } else if phase < 0 {
        Err("phase is negative".into())
    } else if phase >= every {
        Err("phase cannot be greater than Interval".into())
    } else {
        Ok(())
    }
}

/// The frontend's check that interval durations are valid protobuf durations.
fn check_durations(intervals: &[IntervalSpec]) -> Result<(), String> {
    const MAX_SECONDS: i64 = 315_576_000_000;
    let problem = |d: &Duration| {
        if d.seconds < -MAX_SECONDS {
            Some("exceeds -10000 years")
        } else if d.seconds > MAX_SECONDS {
            Some("exceeds +10000 years")
        } else if d.nanos <= -1_000_000_000 || d.nanos >= 1_000_000_000 {
            Some("has out-of-range nanos")
        } else if (d.seconds > 0 && d.nanos < 0) || (d.seconds < 0 && d.nanos > 0) {
            Some("has seconds and nanos with different signs")
        } else {
            None
        }
    };
    for iv in intervals {
        for (d, what) in [(&iv.interval, "interval"), (&iv.phase, "phase")] {
            if let Some(d) = d {
                if let Some(p) = problem(d) {
                    return Err(format!(
                        "{what} is not a valid duration: proto: duration (seconds:{} nanos:{}) {p}",
                        d.seconds, d.nanos
                    ));
                }
            }
        }
    }
    Ok(())
}

#[allow(deprecated)]
fn check_limits(spec: &ScheduleSpec) -> Result<(), String> {
    let lists = [
        ("structured_calendar", spec.structured_calendar.len()),
        ("calendar", spec.calendar.len()),
        ("cron_string", spec.cron_string.len()),
        ("interval", spec.interval.len()),
        ("exclude_calendar", spec.exclude_calendar.len()),
        (
            "exclude_structured_calendar",
            spec.exclude_structured_calendar.len(),
        ),
    ];
    for (what, n) in lists {
        if n > MAX_SPEC_ENTRIES {
            return Err(format!(
                "too many {what} entries ({n}, at most {MAX_SPEC_ENTRIES})"
            ));
        }
    }
    let structured = spec
        .structured_calendar
        .iter()
        .chain(&spec.exclude_structured_calendar);
    for cal in structured {
        for (ranges, field, _, _) in fields(cal) {
            if ranges.len() > MAX_SPEC_ENTRIES {
                return Err(format!(
                    "{field} has too many ranges (at most {MAX_SPEC_ENTRIES})"
                ));
            }
        }
    }
    Ok(())
}
