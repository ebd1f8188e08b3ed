//! The time zone a spec's calendars are read in, with the two operations the calendar search
//! needs, both behaving exactly as Go's `time` package does (Temporal's semantics depend on
//! them around DST changes): the local fields of an instant, and Go's `time.Date` (local fields
//! to an instant, with its particular choice inside gaps and folds). Owns zone loading too
//! (IANA names from jiff's bundled database, or TZif bytes from `timezone_data`).

use jiff::tz::TimeZone;

use super::civil::{civil_from_days, days_from_civil, weekday_from_days};

#[derive(Debug, Clone)]
pub(crate) struct Zone {
    tz: TimeZone,
}

/// Local calendar fields of an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Local {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub weekday: i64,
}

impl Zone {
    pub(crate) fn utc() -> Zone {
        Zone { tz: TimeZone::UTC }
    }

    /// Go's `time.LoadLocation`: "" and "UTC" are UTC; otherwise an IANA name, matched
    /// case-sensitively (Go reads zoneinfo files). "Local" is the server's zone in Go; Perdure
    /// is pure and every replica must agree, so it reads it as UTC.
    pub(crate) fn load(name: &str) -> Result<Zone, String> {
        if name.is_empty() || name == "UTC" || name == "Local" {
            return Ok(Zone::utc());
        }
        if name.contains("..") || name.starts_with('/') || name.contains('\\') {
            return Err("time: invalid location name".to_owned());
        }
        match jiff::tz::db().get(name) {
            Ok(tz) if tz.iana_name().is_none_or(|n| n == name) => Ok(Zone { tz }),
            _ => Err(format!("unknown time zone {name}")),
        }
    }

    /// Go's `time.LoadLocationFromTZData`.
    pub(crate) fn from_tzif(name: &str, data: &[u8]) -> Result<Zone, String> {
        TimeZone::tzif(name, data)
            .map(|tz| Zone { tz })
            .map_err(|_| "malformed time zone information".to_owned())
    }

    fn offset_at(&self, unix: i64) -> i64 {
        match jiff::Timestamp::from_second(unix) {
            Ok(ts) => self.tz.to_offset(ts).seconds() as i64,
            Err(_) => 0,
        }
    }

    pub(crate) fn local(&self, unix: i64) -> Local {
        let local = unix + self.offset_at(unix);
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Local {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs % 3600 / 60,
            second: secs % 60,
            weekday: weekday_from_days(days),
        }
    }

    /// Go's `time.Date(y, mo, d, h, m, s, 0, zone)` as unix seconds: the local fields are
    /// normalized (hour 24 is the next day), then the offset is the one in force at "local
    /// read as UTC", corrected once if that instant falls outside the offset's period. Inside
    /// a gap or fold this picks one side; which one depends on the zone's sign, and Temporal's
    /// calendar search relies on exactly that choice.
    pub(crate) fn date(&self, y: i64, mo: i64, d: i64, h: i64, m: i64, s: i64) -> i64 {
        let local = (days_from_civil(y, mo, 1) + d - 1) * 86_400 + h * 3600 + m * 60 + s;
        let first = self.offset_at(local);
        if first == 0 {
            return local;
        }
        local - self.offset_at(local - first)
    }
}
