//! How long a long poll may hold a request: just under the client's own `grpc-timeout`, so the
//! empty answer arrives before the client gives up (an expired call is an error the SDK logs).

use std::time::Duration;

use tokio::time::Instant;
use tonic::metadata::MetadataMap;

/// Longest we hold a poll even if the client would wait longer.
pub const MAX_LONG_POLL: Duration = Duration::from_secs(60);
/// Margin kept before the client's deadline.
pub(crate) const MARGIN: Duration = Duration::from_secs(1);

/// Parses gRPC's `grpc-timeout` header (`<digits><unit>`, unit one of H M S m u n).
pub fn client_timeout(metadata: &MetadataMap) -> Option<Duration> {
    let raw = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = raw.split_at(raw.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The instant by which a long poll must answer.
pub fn long_poll_deadline(metadata: &MetadataMap) -> Instant {
    let budget = match client_timeout(metadata) {
        Some(t) => t.saturating_sub(MARGIN).min(MAX_LONG_POLL),
        None => MAX_LONG_POLL,
    };
    Instant::now() + budget
}

/// The instant by which a call that waits on others (a query waiting for a worker) must
/// answer: a little before the client's own deadline, so the client gets our explanation
/// rather than its own timeout, and never later than `max` from now.
pub fn call_deadline(metadata: &MetadataMap, max: Duration) -> Instant {
    let budget = match client_timeout(metadata) {
        Some(t) => t.saturating_sub(MARGIN.min(t / 20)).min(max),
        None => max,
    };
    Instant::now() + budget
}

/// The client's own deadline on the wall clock (what history compares event times with), or
/// None when it set none.
pub fn client_wall_deadline(metadata: &MetadataMap) -> Option<perdure_core::Time> {
    let timeout = client_timeout(metadata)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(perdure_core::Time::from_unix_nanos(
        now.saturating_add(timeout).as_nanos().min(i64::MAX as u128) as i64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        let mut m = MetadataMap::new();
        m.insert("grpc-timeout", "70S".parse().unwrap());
        assert_eq!(client_timeout(&m), Some(Duration::from_secs(70)));
        m.insert("grpc-timeout", "69999m".parse().unwrap());
        assert_eq!(client_timeout(&m), Some(Duration::from_millis(69999)));
        m.insert("grpc-timeout", "x".parse().unwrap());
        assert_eq!(client_timeout(&m), None);
    }

    #[test]
    fn call_deadline_leaves_a_margin_proportionate_to_short_timeouts() {
        let mut m = MetadataMap::new();
        m.insert("grpc-timeout", "3S".parse().unwrap());
        let d =
            call_deadline(&m, Duration::from_secs(60)).saturating_duration_since(Instant::now());
        assert!(d <= Duration::from_millis(2850) && d > Duration::from_millis(2700));
        m.insert("grpc-timeout", "600S".parse().unwrap());
        let d =
            call_deadline(&m, Duration::from_secs(60)).saturating_duration_since(Instant::now());
        assert!(d <= Duration::from_secs(60));
    }

    #[test]
    fn deadline_is_capped_and_early() {
        let mut m = MetadataMap::new();
        m.insert("grpc-timeout", "5S".parse().unwrap());
        let d = long_poll_deadline(&m).saturating_duration_since(Instant::now());
        assert!(d <= Duration::from_secs(4));
        m.insert("grpc-timeout", "600S".parse().unwrap());
        let d = long_poll_deadline(&m).saturating_duration_since(Instant::now());
        assert!(d <= MAX_LONG_POLL);
    }
}
