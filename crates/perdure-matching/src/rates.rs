//! How fast tasks enter and leave a partition: DescribeTaskQueue's `tasks_add_rate` and
//! `tasks_dispatch_rate`, measured as Temporal's matching measures them (tasks counted in 5 s
//! buckets over the last 30 s, divided by the time covered, or by the tracker's age while it is
//! younger than that).
//!
//! Time is passed in, so the arithmetic is tested without waiting. Nothing here affects
//! dispatch.

use std::time::{Duration, Instant};

const BUCKET: Duration = Duration::from_secs(5);
const WINDOW: Duration = Duration::from_secs(30);
/// The window's buckets plus the one being filled.
const BUCKETS: usize = (WINDOW.as_secs() / BUCKET.as_secs()) as usize + 1;

pub(crate) struct RateTracker {
    started: Instant,
    /// When the bucket at `head` began.
    bucket_start: Instant,
    head: usize,
    counts: [u64; BUCKETS],
}

impl RateTracker {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            started: now,
            bucket_start: now,
            head: 0,
            counts: [0; BUCKETS],
        }
    }

    /// One task at `now`.
    pub(crate) fn record(&mut self, now: Instant) {
        self.advance(now);
        self.counts[self.head] += 1;
    }

    /// Tasks per second over the window ending at `now`.
    pub(crate) fn rate(&mut self, now: Instant) -> f32 {
        self.advance(now);
        let total: u64 = self.counts.iter().sum();
        let covered = (now.saturating_duration_since(self.bucket_start) + WINDOW)
            .min(now.saturating_duration_since(self.started));
        if covered.is_zero() {
            return 0.0;
        }
        total as f32 / covered.as_secs_f32()
    }

    fn advance(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.bucket_start);
        let steps = (elapsed.as_nanos() / BUCKET.as_nanos()) as u64;
        for _ in 0..steps.min(BUCKETS as u64) {
            self.head = (self.head + 1) % BUCKETS;
            self.counts[self.head] = 0;
        }
        self.bucket_start += BUCKET * steps as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f32) -> Duration {
        Duration::from_secs_f32(s)
    }

    #[test]
    fn a_young_tracker_divides_by_its_age() {
        let t0 = Instant::now();
        let mut r = RateTracker::new(t0);
        assert_eq!(r.rate(t0), 0.0);
        for _ in 0..10 {
            r.record(t0 + secs(1.0));
        }
        assert!((r.rate(t0 + secs(2.0)) - 5.0).abs() < 1e-3);
    }

    #[test]
    fn an_old_tracker_divides_by_the_window() {
        let t0 = Instant::now();
        let mut r = RateTracker::new(t0);
        // One task a second for a minute.
        for i in 0..60 {
            r.record(t0 + secs(i as f32));
        }
        let rate = r.rate(t0 + secs(60.0));
        assert!((0.9..=1.1).contains(&rate), "{rate}");
    }

    #[test]
    fn tasks_older_than_the_window_stop_counting() {
        let t0 = Instant::now();
        let mut r = RateTracker::new(t0);
        for _ in 0..100 {
            r.record(t0);
        }
        assert!(r.rate(t0 + secs(10.0)) > 0.0);
        assert_eq!(r.rate(t0 + secs(40.0)), 0.0);
        // A tracker idle for far longer than the window still counts new tasks.
        r.record(t0 + secs(1000.0));
        assert!(r.rate(t0 + secs(1001.0)) > 0.0);
    }
}
