//! A schedule's spec compiled into something that answers "what is the next slot after t?".
//!
//! PLACEHOLDER API (being filled in by the spec work): the signatures below are the contract
//! the scheduler and the history crate build against. Today only `interval` specs (with phase,
//! start/end time, no jitter) are computed.

use perdure_core::Time;
use temporalio_protos::temporal::api::schedule::v1::ScheduleSpec;

/// One firing of a schedule: the nominal time the spec matches and the actual time after jitter.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    pub nominal: Time,
    pub actual: Time,
}

/// Why a spec was refused; the message is what the client sees (InvalidArgument).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

#[derive(Debug, Clone)]
pub struct CompiledSpec {
    intervals: Vec<(i64, i64)>,
    start: Option<Time>,
    end: Option<Time>,
}

const NANOS: i64 = 1_000_000_000;

impl CompiledSpec {
    /// Validates and compiles `spec`.
    pub fn compile(spec: &ScheduleSpec) -> Result<CompiledSpec, SpecError> {
        let mut intervals = Vec::new();
        for iv in &spec.interval {
            let every = iv.interval.as_ref().map(|d| d.seconds * NANOS + d.nanos as i64).unwrap_or(0);
            let phase = iv.phase.as_ref().map(|d| d.seconds * NANOS + d.nanos as i64).unwrap_or(0);
            if every <= 0 {
                return Err(SpecError("interval is zero".into()));
            }
            intervals.push((every, phase));
        }
        let ts = |t: &Option<prost_types_ts::Timestamp>| {
            t.as_ref().map(|t| Time(t.seconds * NANOS + t.nanos as i64))
        };
        Ok(CompiledSpec { intervals, start: ts(&spec.start_time), end: ts(&spec.end_time) })
    }

    /// The first slot whose nominal time is strictly after `after`, or None if the spec has no
    /// more (past its end time, or matches nothing). `jitter_seed` makes the jitter of a slot
    /// the same on every replica and every call (Temporal seeds it per schedule).
    pub fn next(&self, after: Time, jitter_seed: &str) -> Option<Slot> {
        let _ = jitter_seed;
        let after = match self.start {
            Some(s) if s.0 > after.0 => Time(s.0 - 1),
            _ => after,
        };
        let best = self
            .intervals
            .iter()
            .map(|&(every, phase)| {
                let k = (after.0 - phase).div_euclid(every) + 1;
                Time(k * every + phase)
            })
            .min()?;
        if let Some(end) = self.end {
            if best > end {
                return None;
            }
        }
        Some(Slot { nominal: best, actual: best })
    }

    /// The spec as Describe returns it (Temporal canonicalizes cron strings and calendar
    /// strings into structured calendars).
    pub fn canonical(&self, original: &ScheduleSpec) -> ScheduleSpec {
        original.clone()
    }
}

mod prost_types_ts {
    pub use prost_wkt_types::Timestamp;
}
