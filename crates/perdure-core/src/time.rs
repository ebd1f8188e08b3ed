//! Wall-clock instants and durations as plain values. The core never reads a clock:
//! every operation receives `now` from its caller, which keeps replays deterministic.

use std::time::Duration;

use prost_wkt_types::{Duration as ProtoDuration, Timestamp};

/// Unix time in nanoseconds. `Time(0)` doubles as "unset" in persisted fields.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub i64);

const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Time {
    pub fn from_unix_nanos(nanos: i64) -> Time {
        Time(nanos)
    }

    pub fn unix_nanos(self) -> i64 {
        self.0
    }

    pub fn is_unset(self) -> bool {
        self.0 == 0
    }

    /// Saturates instead of overflowing: a huge timeout simply means "never".
    #[allow(clippy::should_implement_trait)] // Time + Duration is not symmetric; keep it explicit.
    pub fn add(self, d: Duration) -> Time {
        let nanos = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        Time(self.0.saturating_add(nanos))
    }

    /// Time elapsed since `earlier`, zero if `earlier` is in the future.
    pub fn since(self, earlier: Time) -> Duration {
        let d = self.0.saturating_sub(earlier.0);
        if d <= 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(d as u64)
        }
    }

    pub fn to_timestamp(self) -> Timestamp {
        Timestamp {
            seconds: self.0.div_euclid(NANOS_PER_SEC),
            nanos: self.0.rem_euclid(NANOS_PER_SEC) as i32,
        }
    }

    pub fn from_timestamp(ts: &Timestamp) -> Time {
        Time(
            ts.seconds
                .saturating_mul(NANOS_PER_SEC)
                .saturating_add(i64::from(ts.nanos)),
        )
    }

    /// `None` for the unset value, so optional API fields stay absent.
    pub fn to_timestamp_opt(self) -> Option<Timestamp> {
        if self.is_unset() {
            None
        } else {
            Some(self.to_timestamp())
        }
    }
}

impl From<Timestamp> for Time {
    fn from(ts: Timestamp) -> Self {
        Time::from_timestamp(&ts)
    }
}

impl From<Time> for Timestamp {
    fn from(t: Time) -> Self {
        t.to_timestamp()
    }
}

/// Converts a std duration to the protobuf form.
pub fn duration_to_proto(d: Duration) -> ProtoDuration {
    ProtoDuration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_nanos() as i32,
    }
}

/// Converts an optional protobuf duration; absent or negative values become zero
/// (the API treats zero as "not set").
pub fn duration_from_proto(d: Option<&ProtoDuration>) -> Duration {
    match d {
        Some(d) if d.seconds > 0 || (d.seconds == 0 && d.nanos > 0) => {
            Duration::new(d.seconds as u64, d.nanos.max(0) as u32)
        }
        _ => Duration::ZERO,
    }
}

/// True when a protobuf duration is present and negative or malformed.
pub(crate) fn is_negative(d: Option<&ProtoDuration>) -> bool {
    matches!(d, Some(d) if d.seconds < 0 || d.nanos < 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_round_trip() {
        let t = Time(1_700_000_000_123_456_789);
        let ts = t.to_timestamp();
        assert_eq!(ts.seconds, 1_700_000_000);
        assert_eq!(ts.nanos, 123_456_789);
        assert_eq!(Time::from_timestamp(&ts), t);
    }

    #[test]
    fn add_and_since() {
        let t = Time(5 * NANOS_PER_SEC);
        let later = t.add(Duration::from_millis(1500));
        assert_eq!(later.0, 6_500_000_000);
        assert_eq!(later.since(t), Duration::from_millis(1500));
        assert_eq!(t.since(later), Duration::ZERO);
        assert_eq!(t.add(Duration::MAX).0, i64::MAX);
    }

    #[test]
    fn duration_conversions() {
        let d = Duration::from_millis(2500);
        assert_eq!(duration_from_proto(Some(&duration_to_proto(d))), d);
        assert_eq!(duration_from_proto(None), Duration::ZERO);
        let neg = ProtoDuration {
            seconds: -1,
            nanos: 0,
        };
        assert_eq!(duration_from_proto(Some(&neg)), Duration::ZERO);
        assert!(is_negative(Some(&neg)));
    }
}
