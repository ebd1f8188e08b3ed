//! ExecutionDuration values: nanoseconds, and the texts queries write them in.
//!
//! Owns Temporal's three accepted forms, tried in its order: an integer of nanoseconds
//! (`'1000'`), a Go duration with days allowed (`'1h30m'`, `'1.5d'`, `'-1s'`), and `hh:mm:ss`.
//! It must never round: durations compare as exact nanoseconds.

/// Parses a duration the way Temporal's `ParseExecutionDurationStr` does; `None` if no form fits.
pub fn parse_execution_duration(s: &str) -> Option<i64> {
    // Go's ParseInt and Rust's agree: an optional sign, then digits.
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    go_duration(&expand_days(s)).or_else(|| hh_mm_ss(s))
}

/// Temporal rewrites every `<number>d` as that many 24-hour periods before Go parses the rest.
fn expand_days(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let mut j = i;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let int_digits = j - start;
        let mut k = j;
        if k < b.len() && b[k] == b'.' {
            k += 1;
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
        }
        let number_ok = int_digits > 0 || k > j + 1;
        if number_ok && k < b.len() && b[k] == b'd' {
            if let Ok(v) = s[start..k].parse::<f64>() {
                out.push_str(&format!("{:.6}h", 24.0 * v));
                i = k + 1;
                continue;
            }
        }
        if k > start {
            out.push_str(&s[start..k]);
            i = k;
        } else {
            let c = s[i..].chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8().max(1);
        }
    }
    out
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+` or `0`.
fn go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if rest.starts_with('.') {
            let n = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &rest[1..1 + n];
            rest = &rest[1 + n..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok()?
        };
        let mut v = whole.checked_mul(unit)?;
        // The fraction, scaled by the unit and truncated, as Go does.
        let mut scale: u128 = 1;
        let mut frac: u128 = 0;
        for c in frac_part.bytes() {
            if scale > 1_000_000_000_000_000_000 {
                break;
            }
            frac = frac * 10 + u128::from(c - b'0');
            scale *= 10;
        }
        v = v.checked_add(frac * unit / scale)?;
        total = total.checked_add(v)?;
        if total > 1u128 << 63 {
            return None;
        }
    }
    if neg {
        i64::try_from(-(total as i128)).ok()
    } else {
        i64::try_from(total).ok()
    }
}

/// `%d:%d:%d` as Go's Sscanf reads it (signs allowed, anything after the third number ignored),
/// then Temporal's range checks.
fn hh_mm_ss(s: &str) -> Option<i64> {
    let mut parts = [0i64; 3];
    let mut rest = s;
    for (i, part) in parts.iter_mut().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix(':')?;
        }
        let sign_len = usize::from(rest.starts_with(['+', '-']));
        let n = rest[sign_len..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if n == 0 {
            return None;
        }
        *part = rest[..sign_len + n].parse().ok()?;
        rest = &rest[sign_len + n..];
    }
    let [h, m, sec] = parts;
    if h < 0 || !(0..=59).contains(&m) || !(0..=59).contains(&sec) {
        return None;
    }
    h.checked_mul(3_600_000_000_000)?
        .checked_add(m * 60_000_000_000 + sec * 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn nanosecond_integers() {
        assert_eq!(parse_execution_duration("1000"), Some(1000));
        assert_eq!(parse_execution_duration("-5"), Some(-5));
    }

    #[test]
    fn go_durations_with_days() {
        assert_eq!(parse_execution_duration("0s"), Some(0));
        assert_eq!(parse_execution_duration("0"), Some(0));
        assert_eq!(parse_execution_duration("1s"), Some(S));
        assert_eq!(parse_execution_duration("1.5h"), Some(5400 * S));
        assert_eq!(parse_execution_duration("1h30m"), Some(5400 * S));
        assert_eq!(parse_execution_duration("-1s"), Some(-S));
        assert_eq!(parse_execution_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_execution_duration("2us"), Some(2000));
        assert_eq!(parse_execution_duration("2µs"), Some(2000));
        assert_eq!(parse_execution_duration(".5s"), Some(S / 2));
        assert_eq!(parse_execution_duration("1d"), Some(86_400 * S));
        assert_eq!(parse_execution_duration("1.5d2h"), Some(38 * 3600 * S));
    }

    #[test]
    fn clock_form() {
        assert_eq!(parse_execution_duration("00:00:01"), Some(S));
        assert_eq!(parse_execution_duration("25:00:00"), Some(25 * 3600 * S));
        assert_eq!(parse_execution_duration("00:60:00"), None);
        assert_eq!(parse_execution_duration("-1:00:00"), None);
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "abc",
            "1",
            "1x",
            "h",
            ".s",
            "1.5",
            "9999999999999h",
            "--1s",
            "1:2",
        ] {
            // "1" alone is nanoseconds, so skip it.
            if s == "1" {
                continue;
            }
            assert_eq!(parse_execution_duration(s), None, "{s}");
        }
    }
}
