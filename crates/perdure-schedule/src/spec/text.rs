//! The string forms of a spec, parsed into structured ones exactly as Temporal parses them,
//! error messages included: `CalendarSpec` fields ("*", lists, ranges, steps, month and weekday
//! names), cron strings (5–7 fields, `@hourly`-style names, `@every interval[/phase]`,
//! `TZ=`/`CRON_TZ=` prefixes, `#` comments) and Go duration strings (with Temporal's `d` unit).

use prost_wkt_types::Duration;
use temporalio_protos::temporal::api::schedule::v1::{
    CalendarSpec, IntervalSpec, Range, StructuredCalendarSpec,
};

use super::calendar::{MAX_CALENDAR_YEAR, MIN_CALENDAR_YEAR};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Int,
    /// "*" is the empty list (every year).
    Year,
    /// Also accepts month-name prefixes of three letters or more.
    Month,
    /// Also accepts weekday-name prefixes of two letters or more; 7 is Sunday.
    Dow,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

/// Go's `strconv.Quote` for the ASCII-ish strings that reach error messages.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.Atoi` (optional sign, decimal digits, 64-bit), with its error text.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

fn parse_value(s: &str, min: i64, max: i64, mode: Mode) -> Option<i64> {
    let names: &[&str] = match mode {
        Mode::Month if s.len() >= 3 => &MONTHS,
        Mode::Dow if s.len() >= 2 => &WEEKDAYS,
        _ => &[],
    };
    let lower = s.to_lowercase();
    let first = if mode == Mode::Month { 1 } else { 0 };
    let v = match names.iter().position(|n| n.starts_with(&lower)) {
        Some(i) => i as i64 + first,
        None => atoi(if names.is_empty() { s } else { &lower }).ok()?,
    };
    (min..=max).contains(&v).then_some(v)
}

fn range(start: i64, end: i64, step: i64) -> Range {
    // Temporal leaves end and step at their defaults (0) when they say nothing.
    Range {
        start: start as i32,
        end: if start == end { 0 } else { end as i32 },
        step: if step == 1 { 0 } else { step as i32 },
    }
}

/// One calendar field as ranges. `def` is used for an empty field.
fn make_ranges(
    s: &str,
    field: &str,
    def: &str,
    min: i64,
    max: i64,
    mode: Mode,
) -> Result<Vec<Range>, String> {
    let s = match s.trim() {
        "" => def,
        t => t,
    };
    if s == "*" && mode == Mode::Year {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let mut part = part;
        let mut step = 1i64;
        let mut has_step = false;
        match part.matches('/').count() {
            0 => {}
            1 => {
                let (value, step_text) = part.split_once('/').unwrap_or((part, ""));
                if step_text.is_empty() {
                    return Err(format!("{field} missing step value"));
                }
                part = value;
                step = atoi(step_text)?;
                if step < 1 {
                    return Err(format!("{field} has invalid Step"));
                }
                has_step = true;
            }
            _ => return Err(format!("{field} has too many slashes")),
        }
        let (mut start, mut end) = (min, max);
        if part != "*" {
            if part.contains('-') {
                let Some((a, b)) = part.split_once('-').filter(|(_, b)| !b.contains('-')) else {
                    return Err(format!("{field} has too many dashes"));
                };
                start = parse_value(a, min, max, mode)
                    .ok_or_else(|| format!("{field} Start is not in range [{min}-{max}]"))?;
                end = parse_value(b, start, max, mode).ok_or_else(|| {
                    format!("{field} End is before Start or not in range [{min}-{max}]")
                })?;
            } else {
                start = parse_value(part, min, max, mode)
                    .ok_or_else(|| format!("{field} is not in range [{min}-{max}]"))?;
                // "x/y" runs from x to the maximum; a bare "x" is just x.
                if !has_step {
                    end = start;
                }
            }
        }
        // Sunday is 0; a range reaching 7 is rewritten within 0..=6, adding a lone 0 when 7
        // was one of its values and the shortened range would not already cover 0.
        if mode == Mode::Dow && end == 7 {
            if (7 - start) % step == 0 && (step > 1 || start > 1) {
                out.push(range(0, 0, 1));
                if start == 7 {
                    continue;
                }
            }
            end = 6;
        }
        out.push(range(start, end, step));
    }
    Ok(out)
}

/// A `CalendarSpec` as a `StructuredCalendarSpec`; errors of all fields joined by ", ".
pub(crate) fn calendar_to_structured(cal: &CalendarSpec) -> Result<StructuredCalendarSpec, String> {
    let mut errs = Vec::new();
    let mut field = |s: &str, name: &str, def: &str, min: i64, max: i64, mode: Mode| {
        make_ranges(s, name, def, min, max, mode).unwrap_or_else(|e| {
            errs.push(e);
            Vec::new()
        })
    };
    // Field order is the order Temporal reports errors in.
    let second = field(&cal.second, "Second", "0", 0, 59, Mode::Int);
    let minute = field(&cal.minute, "Minute", "0", 0, 59, Mode::Int);
    let hour = field(&cal.hour, "Hour", "0", 0, 23, Mode::Int);
    let day_of_week = field(&cal.day_of_week, "DayOfWeek", "*", 0, 7, Mode::Dow);
    let day_of_month = field(&cal.day_of_month, "DayOfMonth", "*", 1, 31, Mode::Int);
    let month = field(&cal.month, "Month", "*", 1, 12, Mode::Month);
    let year = field(
        &cal.year,
        "Year",
        "*",
        MIN_CALENDAR_YEAR,
        MAX_CALENDAR_YEAR,
        Mode::Year,
    );
    if !errs.is_empty() {
        return Err(errs.join(", "));
    }
    Ok(StructuredCalendarSpec {
        second,
        minute,
        hour,
        day_of_month,
        month,
        year,
        day_of_week,
        comment: cal.comment.clone(),
    })
}

/// What one cron string stands for.
pub(crate) enum Cron {
    Calendar(StructuredCalendarSpec, String),
    /// `@every`: an interval; any `TZ=` prefix is dropped (Temporal ignores it).
    Interval(IntervalSpec),
}

pub(crate) fn parse_cron(c: &str) -> Result<Cron, String> {
    let mut c = c.trim();
    let mut tz_name = "";
    if c.starts_with("TZ=") || c.starts_with("CRON_TZ=") {
        let Some((tz, rest)) = c.split_once(' ') else {
            return Err("CronString has time zone but missing fields".into());
        };
        c = rest;
        tz_name = tz.split_once('=').map_or("", |(_, n)| n);
    }
    let (body, comment) = c.split_once('#').unwrap_or((c, ""));
    let c = body.trim();
    let comment = comment.trim();
    if c.starts_with("@every") {
        return parse_every(c).map(Cron::Interval);
    }
    let c = match c {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other => other,
    };
    let f: Vec<&str> = c.split_whitespace().take(8).collect();
    let mut cal = CalendarSpec {
        comment: comment.to_owned(),
        ..Default::default()
    };
    let owned = |s: &str| s.to_owned();
    match f.len() {
        5 | 6 => {
            cal.minute = owned(f[0]);
            cal.hour = owned(f[1]);
            cal.day_of_month = owned(f[2]);
            cal.month = owned(f[3]);
            cal.day_of_week = owned(f[4]);
            if f.len() == 6 {
                cal.year = owned(f[5]);
            }
        }
        7 => {
            cal.second = owned(f[0]);
            cal.minute = owned(f[1]);
            cal.hour = owned(f[2]);
            cal.day_of_month = owned(f[3]);
            cal.month = owned(f[4]);
            cal.day_of_week = owned(f[5]);
            cal.year = owned(f[6]);
        }
        _ => return Err("CronString does not have 5-7 fields".into()),
    }
    Ok(Cron::Calendar(
        calendar_to_structured(&cal)?,
        tz_name.to_owned(),
    ))
}

fn parse_every(c: &str) -> Result<IntervalSpec, String> {
    let Some((_, rest)) = c.split_once(' ') else {
        return Err("CronString does not have interval after @every".into());
    };
    let (interval, phase) = rest.split_once('/').unwrap_or((rest, ""));
    let interval = Some(duration_proto(parse_duration(interval)?));
    let phase = if phase.is_empty() {
        None
    } else {
        Some(duration_proto(parse_duration(phase)?))
    };
    Ok(IntervalSpec { interval, phase })
}

fn duration_proto(nanos: i64) -> Duration {
    Duration {
        seconds: nanos / 1_000_000_000,
        nanos: (nanos % 1_000_000_000) as i32,
    }
}

/// Temporal's duration parser: Go's `time.ParseDuration` after rewriting every `<number>d` to
/// `<24*number>h` (printed with six decimals, as Go's `%f`).
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    go_parse_duration(&expand_days(s))
}

fn expand_days(s: &str) -> String {
    let b = s.as_bytes();
    let digits_end = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut out = String::new();
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        let end = if b[i].is_ascii_digit() {
            let j = digits_end(i);
            let k = if j < b.len() && b[j] == b'.' {
                digits_end(j + 1)
            } else {
                j
            };
            (k < b.len() && b[k] == b'd').then_some(k)
        } else if b[i] == b'.' {
            let j = digits_end(i + 1);
            (j > i + 1 && j < b.len() && b[j] == b'd').then_some(j)
        } else {
            None
        };
        match end {
            Some(k) => {
                let number: f64 = s[i..k].parse().unwrap_or(f64::NAN);
                out.push_str(&s[copied..i]);
                if number.is_nan() {
                    out.push_str(&s[i..=k]);
                } else {
                    out.push_str(&format!("{:.6}h", 24.0 * number));
                }
                i = k + 1;
                copied = i;
            }
            None => i += 1,
        }
    }
    out.push_str(&s[copied..]);
    out
}

/// Go's `time.ParseDuration`, error messages included. Nanoseconds.
fn go_parse_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(orig));
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = &s[1..];
        }
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let before = s.len();
        let mut v: u64 = 0;
        while let Some(&c) = s.first().filter(|c| c.is_ascii_digit()) {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + (c - b'0') as u64;
            if v > LIMIT {
                return Err(invalid());
            }
            s = &s[1..];
        }
        let pre = before != s.len();
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let before = s.len();
            let mut overflow = false;
            while let Some(&c) = s.first().filter(|c| c.is_ascii_digit()) {
                s = &s[1..];
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + (c - b'0') as u64;
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = before != s.len();
        }
        if !pre && !post {
            return Err(invalid());
        }
        let i = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if i == 0 {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        let u = std::str::from_utf8(&s[..i]).unwrap_or("");
        s = &s[i..];
        let unit: u64 = match u {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(u),
                    go_quote(orig)
                ))
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        d += v;
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    if d > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(d as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_parses_them() {
        assert_eq!(parse_duration("90m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("1.5d"), Ok(36 * 3_600_000_000_000));
        assert_eq!(parse_duration("1h30m15.5s"), Ok(5_415_500_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(
            parse_duration("5x").unwrap_err(),
            "time: unknown unit \"x\" in duration \"5x\""
        );
        assert_eq!(
            parse_duration("5").unwrap_err(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            parse_duration("").unwrap_err(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse_duration(" 1h").unwrap_err(),
            "time: invalid duration \" 1h\""
        );
        assert_eq!(expand_days("2d3h"), "48.000000h3h");
        assert_eq!(expand_days("x.5d"), "x12.000000h");
    }

    fn r(start: i32, end: i32, step: i32) -> Range {
        Range { start, end, step }
    }

    #[test]
    fn weekday_seven_is_sunday() {
        let dow = |s| make_ranges(s, "DayOfWeek", "*", 0, 7, Mode::Dow).unwrap();
        assert_eq!(dow("7"), vec![r(0, 0, 0)]);
        assert_eq!(dow("3-7"), vec![r(0, 0, 0), r(3, 6, 0)]);
        assert_eq!(dow("1-7/2"), vec![r(0, 0, 0), r(1, 6, 2)]);
        assert_eq!(dow("5-7/3"), vec![r(5, 6, 3)]);
        assert_eq!(dow("0-7"), vec![r(0, 6, 0)]);
        assert_eq!(dow("mon-FRI"), vec![r(1, 5, 0)]);
        assert_eq!(dow("*"), vec![r(0, 6, 0)]);
    }

    #[test]
    fn field_errors() {
        let minute = |s| make_ranges(s, "Minute", "0", 0, 59, Mode::Int);
        assert_eq!(minute("5/15").unwrap(), vec![r(5, 59, 15)]);
        assert_eq!(minute("1-2-3").unwrap_err(), "Minute has too many dashes");
        assert_eq!(minute("*/0").unwrap_err(), "Minute has invalid Step");
        assert_eq!(minute("5/").unwrap_err(), "Minute missing step value");
        assert_eq!(minute("1/2/3").unwrap_err(), "Minute has too many slashes");
        assert_eq!(
            minute("*/x").unwrap_err(),
            "strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(minute("60").unwrap_err(), "Minute is not in range [0-59]");
        assert_eq!(
            minute("9-3").unwrap_err(),
            "Minute End is before Start or not in range [0-59]"
        );
        let month = |s| make_ranges(s, "Month", "*", 1, 12, Mode::Month);
        assert_eq!(month("Sep-dec").unwrap(), vec![r(9, 12, 0)]);
        assert_eq!(month("se").unwrap_err(), "Month is not in range [1-12]");
    }
}
