//! One structured calendar compiled into per-field matchers, and the search for the first
//! second after a given instant that it matches, in its zone. The search walks local fields
//! from the outside in (year, month, day, hour, minute, second) exactly as Temporal's does,
//! including its handling of DST: a repeated hour is visited twice (the second time shifted by
//! an hour), and local times inside a gap are skipped. Never validates: callers compile only
//! ranges that cannot make it loop (steps >= 0, starts >= 0).

use temporalio_protos::temporal::api::schedule::v1::{Range, StructuredCalendarSpec};

use super::civil::days_in_month;
use super::zone::Zone;

/// Calendars are only searched up to this year (as Temporal does); later there are no times.
pub(crate) const MAX_CALENDAR_YEAR: i64 = 2100;
pub(crate) const MIN_CALENDAR_YEAR: i64 = 2000;

/// Values 0..64 of one field. A field with no ranges matches nothing.
#[derive(Debug, Clone, Copy)]
struct Bits(u64);

impl Bits {
    fn new(ranges: &[Range]) -> Bits {
        let mut bits = 0u64;
        for r in ranges {
            let (start, end, step) = bounds(r);
            let mut v = start;
            // Values past 63 can never be set; stop there so an unvalidated huge range is cheap.
            while v <= end && v < 64 {
                if v >= 0 {
                    bits |= 1 << v;
                }
                v += step;
            }
        }
        Bits(bits)
    }

    fn has(self, v: i64) -> bool {
        (0..64).contains(&v) && self.0 & (1 << v) != 0
    }
}

/// Years: no ranges means every year.
#[derive(Debug, Clone)]
struct Years(Vec<(i64, i64, i64)>);

impl Years {
    fn has(&self, y: i64) -> bool {
        self.0.is_empty()
            || self
                .0
                .iter()
                .any(|&(start, end, step)| (start..=end).contains(&y) && (y - start) % step == 0)
    }
}

/// A range's inclusive bounds with Temporal's defaults: end before start means start, step 0
/// means 1.
fn bounds(r: &Range) -> (i64, i64, i64) {
    let start = r.start as i64;
    let end = (r.end as i64).max(start);
    let step = if r.step <= 0 { 1 } else { r.step as i64 };
    (start, end, step)
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledCalendar {
    zone: Zone,
    year: Years,
    month: Bits,
    day_of_month: Bits,
    day_of_week: Bits,
    hour: Bits,
    minute: Bits,
    second: Bits,
}

impl CompiledCalendar {
    pub(crate) fn new(cal: &StructuredCalendarSpec, zone: Zone) -> CompiledCalendar {
        CompiledCalendar {
            zone,
            year: Years(cal.year.iter().map(bounds).collect()),
            month: Bits::new(&cal.month),
            day_of_month: Bits::new(&cal.day_of_month),
            day_of_week: Bits::new(&cal.day_of_week),
            hour: Bits::new(&cal.hour),
            minute: Bits::new(&cal.minute),
            second: Bits::new(&cal.second),
        }
    }

    pub(crate) fn matches(&self, unix: i64) -> bool {
        let l = self.zone.local(unix);
        self.year.has(l.year)
            && self.month.has(l.month)
            && self.day_of_month.has(l.day)
            && self.day_of_week.has(l.weekday)
            && self.hour.has(l.hour)
            && self.minute.has(l.minute)
            && self.second.has(l.second)
    }

    /// The first matching unix second strictly after the whole second of `after`, or None if
    /// nothing matches up to the end of `MAX_CALENDAR_YEAR`.
    pub(crate) fn next(&self, after: i64) -> Option<i64> {
        let z = &self.zone;
        let l = z.local(after);
        let (mut y, mut mo, mut d, mut h, mut m, mut s) =
            (l.year, l.month, l.day, l.hour, l.minute, l.second);
        // In the second copy of a repeated hour, the local fields name the first copy: remember
        // to shift what we find by the hour.
        let mut dst_offset = if z.local(after - 3600).hour == h {
            3600
        } else {
            0
        };
        s += 1;
        'outer: loop {
            if s >= 60 {
                m += 1;
                s = 0;
            }
            if m >= 60 {
                let prev = z.date(y, mo, d, h, 0, 0);
                h += 1;
                m = 0;
                let next = z.date(y, mo, d, h, 0, 0);
                // Two real hours between consecutive local hours: the hour we just finished is
                // repeated; walk it again, an hour later.
                if dst_offset == 0 && next - prev > 3600 {
                    h -= 1;
                    dst_offset = 3600;
                } else {
                    dst_offset = 0;
                }
            }
            if h >= 24 {
                d += 1;
                h = 0;
            }
            if d > days_in_month(mo, y) {
                mo += 1;
                d = 1;
            }
            if mo > 12 {
                y += 1;
                mo = 1;
            }
            if y > MAX_CALENDAR_YEAR {
                return None;
            }
            if !self.year.has(y) {
                (y, mo, d, h, m, s) = (y + 1, 1, 1, 0, 0, 0);
                dst_offset = 0;
                continue 'outer;
            }
            while !self.month.has(mo) {
                (mo, d, h, m, s) = (mo + 1, 1, 0, 0, 0);
                dst_offset = 0;
                if mo > 12 {
                    continue 'outer;
                }
            }
            while !self.day_of_month.has(d)
                || !self
                    .day_of_week
                    .has(z.local(z.date(y, mo, d, h, m, s)).weekday)
            {
                (d, h, m, s) = (d + 1, 0, 0, 0);
                dst_offset = 0;
                if d > days_in_month(mo, y) {
                    continue 'outer;
                }
            }
            while !self.hour.has(h) {
                (h, m, s) = (h + 1, 0, 0);
                dst_offset = 0;
                if h >= 24 {
                    continue 'outer;
                }
            }
            while !self.minute.has(m) {
                (m, s) = (m + 1, 0);
                if m >= 60 {
                    continue 'outer;
                }
            }
            while !self.second.has(s) {
                s += 1;
                if s >= 60 {
                    continue 'outer;
                }
            }
            let found = z.date(y, mo, d, h, m, s);
            // A local time inside a DST gap lands in another hour: it does not exist, skip on.
            if z.local(found).hour != h {
                (h, m, s) = (h + 1, 0, 0);
                continue 'outer;
            }
            return Some(found + dst_offset);
        }
    }
}
