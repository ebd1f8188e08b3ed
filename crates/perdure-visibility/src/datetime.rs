//! Datetime values: unix nanoseconds, and the RFC 3339 text queries write them in.
//!
//! Owns the parsing rules of Go's `time.Parse(time.RFC3339Nano, ...)`, which is what Temporal
//! accepts: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, an upper-case `T` and `Z`, a zone always
//! given. It must never read a clock.

/// A point in time as nanoseconds since the unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixNanos(pub i64);

impl UnixNanos {
    /// SQL stores keep datetimes to the microsecond, so two times in the same microsecond are
    /// equal to a query; comparisons go through this.
    pub fn micros(self) -> i64 {
        self.0.div_euclid(1_000)
    }

    /// Parses RFC 3339 the way Go's `time.Parse(time.RFC3339Nano, s)` does. Times outside the
    /// i64 nanosecond range (years before 1678 or after 2261) saturate, which keeps every
    /// comparison with a real row's time right.
    pub fn parse_rfc3339(s: &str) -> Option<UnixNanos> {
        let b = s.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[5..7])?;
        let day = digits(&b[8..10])?;
        let hour = digits(&b[11..13])?;
        let minute = digits(&b[14..16])?;
        let second = digits(&b[17..19])?;
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut rest = &b[19..];
        let mut nanos: i64 = 0;
        if rest.first() == Some(&b'.') {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            // Go keeps nine digits and drops the rest.
            for (i, c) in rest[1..=n].iter().enumerate() {
                if i < 9 {
                    nanos = nanos * 10 + i64::from(c - b'0');
                }
            }
            for _ in n..9 {
                nanos *= 10;
            }
            rest = &rest[1 + n..];
        }
        let offset_seconds: i64 = match rest {
            [b'Z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = digits(&[*h1, *h2])?;
                let m = digits(&[*m1, *m2])?;
                if h > 23 || m > 59 {
                    return None;
                }
                let off = h * 3600 + m * 60;
                if *sign == b'-' {
                    -off
                } else {
                    off
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let secs = i128::from(days) * 86_400 + i128::from(hour * 3600 + minute * 60 + second)
            - i128::from(offset_seconds);
        let total = secs * 1_000_000_000 + i128::from(nanos);
        Some(UnixNanos(
            total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
        ))
    }

    /// RFC 3339 in UTC with as many fraction digits as needed, like Go's RFC3339Nano output.
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut out = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        );
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil: proleptic Gregorian date to days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<i64> {
        UnixNanos::parse_rfc3339(s).map(|t| t.0)
    }

    #[test]
    fn accepts_what_go_accepts() {
        assert_eq!(p("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(p("2024-01-01T00:00:00Z"), Some(1_704_067_200_000_000_000));
        assert_eq!(
            p("2024-01-01T01:00:00+01:00"),
            Some(1_704_067_200_000_000_000)
        );
        assert_eq!(
            p("2023-12-31T23:59:59.5+02:00"),
            Some(1_704_059_999_500_000_000)
        );
        assert_eq!(p("1970-01-01T00:00:00.123456789123Z"), Some(123_456_789));
        assert_eq!(p("1969-12-31T23:59:59.9Z"), Some(-100_000_000));
        assert!(p("2024-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn rejects_what_go_rejects() {
        for s in [
            "2024-01-01",
            "2024-01-01 00:00:00Z",
            "2024-01-01t00:00:00z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00+0100",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00.Z",
            "yesterday",
            "",
            "2024-01-01T00:00:00Zjunk",
        ] {
            assert_eq!(p(s), None, "{s}");
        }
    }

    #[test]
    fn far_years_saturate() {
        assert_eq!(p("9999-12-31T23:59:59Z"), Some(i64::MAX));
        assert_eq!(p("0001-01-01T00:00:00Z"), Some(i64::MIN));
    }

    #[test]
    fn formats_back() {
        for s in [
            "2024-01-01T00:00:00Z",
            "1969-12-31T23:59:59.9Z",
            "2023-12-31T21:59:59.5Z",
        ] {
            assert_eq!(UnixNanos::parse_rfc3339(s).unwrap().to_rfc3339(), s);
        }
    }
}
