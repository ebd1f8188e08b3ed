//! Cron schedules as Temporal reads `cron_schedule` (robfig/cron's standard parser): five fields
//! (minute hour day-of-month month day-of-week) with lists, ranges, steps and names, the
//! descriptors `@yearly @annually @monthly @weekly @daily @midnight @hourly`, and
//! `@every <duration>`, with an optional `CRON_TZ=<zone> `/`TZ=<zone> ` prefix (fields are then
//! matched in that zone's wall-clock time; the IANA database is compiled in, nothing is read
//! from the machine, so every node computes the same times).
//!
//! Pure: the caller passes the times. `backoff` is Temporal's GetBackoffForNextSchedule.

use std::time::Duration;

use crate::time::Time;

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;
/// A schedule that matches nothing within this many years never fires (robfig gives up too).
const SEARCH_YEARS: i64 = 5;

/// Why a cron schedule was refused; the message is what the client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("invalid CronSchedule.")]
    Invalid,
    #[error("invalid CronSchedule, no time can be found to satisfy the schedule")]
    NeverFires,
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronSchedule {
    /// `@every`: fires every `Duration` (whole seconds, at least one).
    Every(Duration),
    Fields(Fields),
}

/// One bit per allowed value of each field, and the zone they are read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    /// IANA name; None: UTC.
    zone: Option<String>,
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    /// `*` or `?` in day-of-month / day-of-week: the other day field alone decides.
    dom_star: bool,
    dow_star: bool,
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

impl CronSchedule {
    /// Parses a schedule and checks that it fires at least once after `now`.
    pub fn parse(spec: &str, now: Time) -> Result<CronSchedule, CronError> {
        // Like robfig's parser, nothing is trimmed except after a time-zone prefix:
        // "@every 1s " and " @hourly" are refused, as Temporal refuses them.
        let mut spec = spec;
        let mut zone = None;
        for prefix in ["CRON_TZ=", "TZ="] {
            if let Some(rest) = spec.strip_prefix(prefix) {
                let (name, rest) = rest.split_once(' ').ok_or(CronError::Invalid)?;
                jiff::tz::db().get(name).map_err(|_| CronError::Invalid)?;
                zone = Some(name.to_string());
                spec = rest.trim();
                break;
            }
        }
        let schedule = if let Some(every) = spec.strip_prefix("@every ") {
            let d = go_duration(every)
                .filter(|d| !d.is_zero())
                .ok_or(CronError::Invalid)?;
            // robfig rounds sub-second delays up to a second and drops fractions.
            CronSchedule::Every(Duration::from_secs(d.as_secs().max(1)))
        } else {
            let expanded = match spec {
                "@yearly" | "@annually" => "0 0 1 1 *",
                "@monthly" => "0 0 1 * *",
                "@weekly" => "0 0 * * 0",
                "@daily" | "@midnight" => "0 0 * * *",
                "@hourly" => "0 * * * *",
                s if s.starts_with('@') => return Err(CronError::Invalid),
                s => s,
            };
            let parts: Vec<&str> = expanded.split_whitespace().collect();
            let [minute, hour, dom, month, dow] = parts[..] else {
                return Err(CronError::Invalid);
            };
            CronSchedule::Fields(Fields {
                zone,
                minute: field(minute, &MINUTE)?,
                hour: field(hour, &HOUR)?,
                dom: field(dom, &DOM)?,
                month: field(month, &MONTH)?,
                dow: field(dow, &DOW)?,
                dom_star: is_star(dom),
                dow_star: is_star(dow),
            })
        };
        if schedule.next(now).is_none() {
            return Err(CronError::NeverFires);
        }
        Ok(schedule)
    }

    /// The first time strictly after `t` the schedule fires (whole seconds).
    pub fn next(&self, t: Time) -> Option<Time> {
        let secs = t.0.div_euclid(NANOS_PER_SEC);
        match self {
            CronSchedule::Every(d) => Some(Time((secs + d.as_secs() as i64) * NANOS_PER_SEC)),
            CronSchedule::Fields(f) => f.next_after(secs).map(|s| Time(s * NANOS_PER_SEC)),
        }
    }

    /// How long a run must wait for its schedule (Temporal's GetBackoffForNextSchedule): from
    /// `now` to the first fire time after `scheduled` (the previous run's due time) that is not
    /// in the past, rounded up to whole seconds. None: the schedule never fires again.
    pub fn backoff(&self, scheduled: Time, now: Time) -> Option<Duration> {
        let next = if now < scheduled {
            scheduled
        } else {
            let mut next = self.next(scheduled)?;
            while next < now {
                next = self.next(next)?;
            }
            next
        };
        let nanos = next.0 - now.0;
        let secs = (nanos + NANOS_PER_SEC - 1).div_euclid(NANOS_PER_SEC);
        Some(Duration::from_secs(secs.max(0) as u64))
    }
}

fn is_star(s: &str) -> bool {
    s == "*" || s == "?"
}

/// One field: `*`/`?`, or a comma list of `a`, `a-b`, with an optional `/step`.
fn field(s: &str, b: &Bounds) -> Result<u64, CronError> {
    let mut bits = 0u64;
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (r, Some(st.parse::<u32>().map_err(|_| CronError::Invalid)?)),
            None => (part, None),
        };
        let (lo, hi) = if is_star(range) {
            (b.min, b.max)
        } else if let Some((lo, hi)) = range.split_once('-') {
            (value(lo, b)?, value(hi, b)?)
        } else {
            let v = value(range, b)?;
            // `a/n` means from a to the end, every n.
            (v, if step.is_some() { b.max } else { v })
        };
        let step = step.unwrap_or(1);
        if step == 0 || lo > hi || lo < b.min || hi > b.max {
            return Err(CronError::Invalid);
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

fn value(s: &str, b: &Bounds) -> Result<u32, CronError> {
    let lower = s.to_ascii_lowercase();
    if let Some(i) = b.names.iter().position(|n| *n == lower) {
        return Ok(i as u32 + b.min);
    }
    s.parse::<u32>().map_err(|_| CronError::Invalid)
}

/// A Go duration such as `90s`, `1h30m`, `500ms` (Temporal's configs and `@every` use them).
pub fn go_duration(s: &str) -> Option<Duration> {
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (number, tail) = rest.split_at(n);
        let number: f64 = number.parse().ok()?;
        let u = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(u);
        let scale = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * scale;
        rest = tail;
    }
    Some(Duration::from_secs_f64(total))
}

impl Fields {
    fn day_matches(&self, dom: u32, dow: u32) -> bool {
        let d = self.dom & (1 << dom) != 0;
        let w = self.dow & (1 << dow) != 0;
        if self.dom_star || self.dow_star {
            d && w
        } else {
            d || w
        }
    }

    /// The first whole minute strictly after `secs` (unix seconds) that matches, reading the
    /// fields in the schedule's zone.
    fn next_after(&self, secs: i64) -> Option<i64> {
        let Some(name) = &self.zone else {
            return self.next_wall_clock(secs);
        };
        let tz = jiff::tz::db().get(name).ok()?;
        let offset = |utc: i64| -> Option<i64> {
            let ts = jiff::Timestamp::from_second(utc).ok()?;
            Some(i64::from(tz.to_offset(ts).seconds()))
        };
        // Search in wall-clock seconds (the zone's civil time written as if it were UTC), then
        // map each match back: a wall time skipped by a DST change moves forward, a repeated
        // one takes its first occurrence (RFC 5545, as Go's time.Date roughly does).
        let mut wall = secs + offset(secs)?;
        for _ in 0..4 {
            let found = self.next_wall_clock(wall)?;
            let civil = jiff::civil::DateTime::from(
                jiff::Timestamp::from_second(found)
                    .ok()?
                    .to_zoned(jiff::tz::TimeZone::UTC),
            );
            let utc = tz
                .to_ambiguous_zoned(civil)
                .compatible()
                .ok()?
                .timestamp()
                .as_second();
            if utc > secs {
                return Some(utc);
            }
            wall = found;
        }
        None
    }

    /// [`Fields::next_after`] on a clock with no DST: the first matching minute after `secs`.
    fn next_wall_clock(&self, secs: i64) -> Option<i64> {
        // Start at the next whole minute: seconds are always 0 in a standard spec.
        let mut t = (secs.div_euclid(60) + 1) * 60;
        let limit = t + SEARCH_YEARS * 366 * SECS_PER_DAY;
        while t <= limit {
            let days = t.div_euclid(SECS_PER_DAY);
            let (y, m, d) = civil_from_days(days);
            if self.month & (1 << m) == 0 {
                // First day of the next month.
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                t = days_from_civil(ny, nm, 1) * SECS_PER_DAY;
                continue;
            }
            let dow = (days + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday.
            if !self.day_matches(d, dow) {
                t = (days + 1) * SECS_PER_DAY;
                continue;
            }
            let sod = t - days * SECS_PER_DAY;
            let (h, min) = ((sod / 3600) as u32, ((sod % 3600) / 60) as u32);
            if self.hour & (1 << h) == 0 {
                t = days * SECS_PER_DAY + (h as i64 + 1) * 3600;
                continue;
            }
            if self.minute & (1 << min) == 0 {
                t += 60;
                continue;
            }
            return Some(t);
        }
        None
    }
}

/// Howard Hinnant's days-since-epoch to (year, month 1-12, day 1-31).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix seconds of a UTC civil time.
    fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> Time {
        Time((days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 + mi * 60 + s) * NANOS_PER_SEC)
    }

    fn next(spec: &str, t: Time) -> Time {
        CronSchedule::parse(spec, t).unwrap().next(t).unwrap()
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-1, 0, 59, 365, 11_016, 20_000, 47_482] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn fields_lists_ranges_steps_and_names() {
        let t = utc(2026, 11, 26, 4, 22, 30);
        assert_eq!(next("* * * * *", t), utc(2026, 11, 26, 4, 23, 0));
        assert_eq!(next("*/15 * * * *", t), utc(2026, 11, 26, 4, 30, 0));
        assert_eq!(next("5,50 4 * * *", t), utc(2026, 11, 26, 4, 50, 0));
        assert_eq!(next("0 9-17/4 * * *", t), utc(2026, 11, 26, 9, 0, 0));
        assert_eq!(next("0 0 1 jan *", t), utc(2027, 1, 1, 0, 0, 0));
        assert_eq!(next("30 2 * * MON", t), utc(2026, 11, 30, 2, 30, 0)); // a Monday
        assert_eq!(next("0 0 29 2 *", t), utc(2028, 2, 29, 0, 0, 0));
        assert_eq!(next("@hourly", t), utc(2026, 11, 26, 5, 0, 0));
        assert_eq!(next("@daily", t), utc(2026, 11, 27, 0, 0, 0));
        assert_eq!(next("@weekly", t), utc(2026, 11, 29, 0, 0, 0)); // a Sunday
        assert_eq!(
            next("CRON_TZ=UTC 0 12 * * *", t),
            utc(2026, 11, 26, 12, 0, 0)
        );
        // Kolkata is UTC+05:30: its whole hours are at half past in UTC.
        assert_eq!(
            next("CRON_TZ=Asia/Kolkata 0 * * * *", t),
            utc(2026, 11, 26, 4, 30, 0)
        );
        assert_eq!(
            next("TZ=Asia/Kolkata 0 9 * * *", t),
            utc(2026, 11, 27, 3, 30, 0)
        );
    }

    #[test]
    fn daylight_saving_changes_skip_missing_times_and_fire_once_on_repeated_ones() {
        // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day.
        let before = utc(2026, 3, 8, 6, 0, 0); // 01:00 EST
        assert_eq!(
            next("CRON_TZ=America/New_York 30 2 * * *", before),
            utc(2026, 3, 8, 7, 30, 0),
            "the skipped 02:30 fires at 03:30 EDT"
        );
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        let before = utc(2026, 11, 1, 4, 0, 0); // 00:00 EDT
        let s = CronSchedule::parse("CRON_TZ=America/New_York 30 1 * * *", before).unwrap();
        let first = s.next(before).unwrap();
        assert_eq!(first, utc(2026, 11, 1, 5, 30, 0), "the first 01:30 (EDT)");
        assert_eq!(
            s.next(first).unwrap(),
            utc(2026, 11, 2, 6, 30, 0),
            "once that day, then 01:30 EST the next day"
        );
    }

    #[test]
    fn day_of_month_and_week_combine_like_vixie_cron() {
        let t = utc(2026, 11, 26, 0, 0, 0); // a Thursday
                                            // Both restricted: either matches (the 1st, or any Friday).
        assert_eq!(next("0 0 1 * FRI", t), utc(2026, 11, 27, 0, 0, 0));
        // One is a star: only the other decides.
        assert_eq!(next("0 0 1 * *", t), utc(2026, 12, 1, 0, 0, 0));
        assert_eq!(next("0 0 * * FRI", t), utc(2026, 11, 27, 0, 0, 0));
    }

    #[test]
    fn every_counts_whole_seconds_from_the_last_fire() {
        let t = Time(utc(2026, 1, 1, 0, 0, 0).0 + 400_000_000);
        assert_eq!(next("@every 2s", t), utc(2026, 1, 1, 0, 0, 2));
        assert_eq!(next("@every 1m30s", t), utc(2026, 1, 1, 0, 1, 30));
        let s = CronSchedule::parse("@every 100ms", t).unwrap();
        assert_eq!(s, CronSchedule::Every(Duration::from_secs(1)));
    }

    #[test]
    fn backoff_waits_for_the_first_fire_not_in_the_past_rounded_up() {
        let s = CronSchedule::parse("* * * * *", Time(0)).unwrap();
        let start = Time(utc(2026, 1, 1, 0, 0, 10).0 + 1);
        // A first run: from now to the next minute, rounded up to a second.
        assert_eq!(s.backoff(start, start), Some(Duration::from_secs(50)));
        // A run that was due at 00:01 and ends at 00:03:20 skips the fires it missed.
        let due = utc(2026, 1, 1, 0, 1, 0);
        let now = utc(2026, 1, 1, 0, 3, 20);
        assert_eq!(s.backoff(due, now), Some(Duration::from_secs(40)));
        // Before its due time: wait until then.
        assert_eq!(s.backoff(now, due), Some(Duration::from_secs(140)));
    }

    #[test]
    fn bad_specs_are_refused_with_temporals_messages() {
        let now = utc(2026, 1, 1, 0, 0, 0);
        for bad in [
            "not a cron",
            "* * * *",
            "* * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 7",
            "*/0 * * * *",
            "5-1 * * * *",
            "@every",
            "@every soon",
            "@fortnightly",
            "@every 1s ",
            " @hourly",
            "@hourly ",
        ] {
            assert_eq!(
                CronSchedule::parse(bad, now),
                Err(CronError::Invalid),
                "{bad}"
            );
        }
        assert_eq!(
            CronSchedule::parse("0 0 30 2 *", now),
            Err(CronError::NeverFires)
        );
        assert_eq!(
            CronSchedule::parse("CRON_TZ=Mars/Olympus 0 0 * * *", now),
            Err(CronError::Invalid)
        );
        assert_eq!(
            CronError::Invalid.to_string(),
            "invalid CronSchedule.",
            "Temporal's wording"
        );
    }
}
