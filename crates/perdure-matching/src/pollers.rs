//! Who polled a partition lately: what DescribeTaskQueue lists as its pollers.
//!
//! As in Temporal's matching, a poller is known by its identity and is noted when its poll
//! begins and when it ends (a poll cut by a cancelled RPC is not noted at its end). An entry
//! lives [`POLLER_HISTORY_TTL`] after its last note (`matching.PollerHistoryTTL`), and a
//! partition keeps at most [`MAX_POLLERS`] of them, the least recently seen going first.
//!
//! Time is always passed in (wall-clock time, since it is shown to clients), so expiry is
//! tested without waiting. This module never decides anything about dispatch.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// How long a poller stays listed after its last poll (Temporal's `matching.PollerHistoryTTL`).
pub const POLLER_HISTORY_TTL: Duration = Duration::from_secs(5 * 60);

/// Most pollers one partition remembers (the size of Temporal's poller history cache).
pub const MAX_POLLERS: usize = 1000;

/// What a poll said about its worker, shown back as it was sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PollerMeta {
    /// The worker's `max_tasks_per_second`, when it set one.
    pub max_tasks_per_second: Option<f64>,
    /// The worker's build id and versioning flags, when it sent them.
    pub capabilities: Option<WorkerCapabilities>,
}

/// A poll's `worker_version_capabilities`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerCapabilities {
    pub build_id: String,
    pub use_versioning: bool,
    pub deployment_series_name: String,
}

/// One poller as DescribeTaskQueue shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PollerRecord {
    pub identity: String,
    pub last_access: SystemTime,
    pub meta: PollerMeta,
}

/// The pollers of one partition.
#[derive(Default)]
pub(crate) struct PollerHistory {
    by_identity: HashMap<String, PollerRecord>,
}

impl PollerHistory {
    /// Notes a poll by `identity` at `now`. An empty identity is not a poller anyone can name,
    /// and is not noted (as in Temporal).
    pub(crate) fn record(&mut self, identity: &str, meta: PollerMeta, now: SystemTime) {
        if identity.is_empty() {
            return;
        }
        self.expire(now);
        if !self.by_identity.contains_key(identity) && self.by_identity.len() >= MAX_POLLERS {
            let oldest = self
                .by_identity
                .values()
                .min_by_key(|p| p.last_access)
                .map(|p| p.identity.clone());
            if let Some(oldest) = oldest {
                self.by_identity.remove(&oldest);
            }
        }
        self.by_identity.insert(
            identity.to_string(),
            PollerRecord {
                identity: identity.to_string(),
                last_access: now,
                meta,
            },
        );
    }

    /// The pollers seen within [`POLLER_HISTORY_TTL`] before `now`, most recent first.
    pub(crate) fn live(&mut self, now: SystemTime) -> Vec<PollerRecord> {
        self.expire(now);
        let mut pollers: Vec<_> = self.by_identity.values().cloned().collect();
        pollers.sort_by(|a, b| {
            b.last_access
                .cmp(&a.last_access)
                .then_with(|| a.identity.cmp(&b.identity))
        });
        pollers
    }

    fn expire(&mut self, now: SystemTime) {
        // A clock that went back keeps entries (their age reads as zero) rather than
        // dropping live pollers.
        self.by_identity.retain(|_, p| {
            now.duration_since(p.last_access)
                .map_or(true, |age| age < POLLER_HISTORY_TTL)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn ids(pollers: &[PollerRecord]) -> Vec<&str> {
        pollers.iter().map(|p| p.identity.as_str()).collect()
    }

    #[test]
    fn a_poll_refreshes_its_pollers_entry() {
        let mut h = PollerHistory::default();
        h.record("w1", PollerMeta::default(), at(0));
        h.record("w2", PollerMeta::default(), at(10));
        h.record("w1", PollerMeta::default(), at(20));
        let live = h.live(at(30));
        assert_eq!(ids(&live), vec!["w1", "w2"]);
        assert_eq!(live[0].last_access, at(20));
        assert_eq!(live[1].last_access, at(10));
    }

    #[test]
    fn pollers_expire_after_the_ttl_since_their_last_poll() {
        let mut h = PollerHistory::default();
        h.record("old", PollerMeta::default(), at(0));
        h.record("new", PollerMeta::default(), at(100));
        let ttl = POLLER_HISTORY_TTL.as_secs();
        assert_eq!(ids(&h.live(at(ttl - 1))), vec!["new", "old"]);
        assert_eq!(ids(&h.live(at(ttl))), vec!["new"]);
        assert_eq!(ids(&h.live(at(100 + ttl))), Vec::<&str>::new());
    }

    #[test]
    fn a_clock_that_went_back_keeps_pollers() {
        let mut h = PollerHistory::default();
        h.record("w", PollerMeta::default(), at(100));
        assert_eq!(ids(&h.live(at(50))), vec!["w"]);
    }

    #[test]
    fn anonymous_polls_are_not_listed() {
        let mut h = PollerHistory::default();
        h.record("", PollerMeta::default(), at(0));
        assert!(h.live(at(1)).is_empty());
    }

    #[test]
    fn the_least_recently_seen_poller_makes_room() {
        // All within the time to live: one poll a millisecond.
        let ms = |i: u64| at(0) + Duration::from_millis(i);
        let mut h = PollerHistory::default();
        for i in 0..MAX_POLLERS as u64 {
            h.record(&format!("w{i}"), PollerMeta::default(), ms(i));
        }
        h.record("w0", PollerMeta::default(), ms(5000));
        h.record("late", PollerMeta::default(), ms(5001));
        let live = h.live(ms(5002));
        assert_eq!(live.len(), MAX_POLLERS);
        let names = ids(&live);
        assert!(names.contains(&"w0") && names.contains(&"late"));
        assert!(!names.contains(&"w1"), "w1 was seen least recently");
    }

    #[test]
    fn what_the_poll_said_is_kept() {
        let mut h = PollerHistory::default();
        let meta = PollerMeta {
            max_tasks_per_second: Some(3.5),
            capabilities: Some(WorkerCapabilities {
                build_id: "b1".into(),
                ..Default::default()
            }),
        };
        h.record("w", meta.clone(), at(0));
        assert_eq!(h.live(at(1))[0].meta, meta);
    }
}
