//! Latency percentiles and throughput arithmetic.
//!
//! Owns: turning raw per-workflow durations into the numbers the report prints. Must never:
//! interpolate between samples (a p99 of 20 samples is the slowest one, not a made-up value).

use std::time::Duration;

/// Summary of the sequential-latency phase, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// `None` for an empty sample: a latency of nothing is not zero.
    pub fn from_samples(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let sum: f64 = ms.iter().sum();
        Some(LatencySummary {
            count: ms.len(),
            p50_ms: nearest_rank(&ms, 50.0),
            p90_ms: nearest_rank(&ms, 90.0),
            p99_ms: nearest_rank(&ms, 99.0),
            mean_ms: sum / ms.len() as f64,
            max_ms: ms[ms.len() - 1],
        })
    }
}

/// Nearest-rank percentile of a sorted, non-empty slice.
fn nearest_rank(sorted: &[f64], pct: f64) -> f64 {
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Completed workflows per second of wall time; 0 when no time passed.
pub fn per_second(count: usize, wall: Duration) -> f64 {
    let secs = wall.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples = ms(&(1..=100).rev().collect::<Vec<_>>());
        let s = LatencySummary::from_samples(&samples).expect("non-empty");
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p90_ms, 90.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.max_ms, 100.0);
        assert_eq!(s.mean_ms, 50.5);
    }

    #[test]
    fn small_sample_p99_is_the_slowest() {
        let s = LatencySummary::from_samples(&ms(&[5, 1, 3])).expect("non-empty");
        assert_eq!(s.p50_ms, 3.0);
        assert_eq!(s.p99_ms, 5.0);
    }

    #[test]
    fn empty_sample_has_no_summary() {
        assert_eq!(LatencySummary::from_samples(&[]), None);
    }

    #[test]
    fn rate_over_zero_time_is_zero() {
        assert_eq!(per_second(10, Duration::ZERO), 0.0);
        assert_eq!(per_second(200, Duration::from_secs(4)), 50.0);
    }
}
