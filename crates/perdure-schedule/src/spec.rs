//! A schedule's spec compiled into something that answers "what is the next slot after t?",
//! with Temporal's semantics (service/worker/scheduler/spec.go and calendar.go), checked
//! against a corpus recorded from Temporal's server (tests/spec_corpus.rs).
//!
//! Owns: validation of a `ScheduleSpec` with Temporal's InvalidArgument messages; its canonical
//! form (what DescribeSchedule returns); the matching times of structured calendars, calendar
//! strings, cron strings and intervals, minus exclusions, within start/end time, in the spec's
//! time zone (IANA name from jiff's bundled database, or TZif bytes in `timezone_data`), DST
//! included; deterministic jitter; ListScheduleMatchingTimes' answer.
//!
//! Never: reads a clock, draws randomness, loads anything from disk or network, or decides what
//! a schedule does with a slot (that is the scheduler's). Times are whole seconds (nominal) plus
//! jitter in whole milliseconds (actual), as in Temporal.
//!
//! Deliberate differences from Temporal: a zone named "Local" is UTC (Go uses the server's
//! zone; replicas must agree); exclude calendars with a negative start or step are refused
//! (Temporal's server crashes on them with an Internal error); every list in a spec is bounded
//! (`MAX_SPEC_ENTRIES`); the search for a non-excluded time gives up after
//! `MAX_SEARCH_PROBES` (Temporal's bound is off by default); the message for an interval
//! that is not a valid protobuf duration differs in its spacing.

mod calendar;
mod canonical;
mod civil;
mod jitter;
mod text;
mod zone;

use perdure_core::Time;
use temporalio_protos::temporal::api::schedule::v1::ScheduleSpec;

use calendar::{CompiledCalendar, MAX_CALENDAR_YEAR};
use canonical::duration_nanos;
pub use canonical::MAX_SPEC_ENTRIES;
use zone::Zone;

/// One firing of a schedule: the nominal time the spec matches and the actual time after jitter.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    pub nominal: Time,
    pub actual: Time,
}

/// Why a spec was refused. `Display` (and `message()`) is exactly what the client sees in the
/// InvalidArgument status, "Invalid schedule spec: ..." included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The spec is malformed (bad range, cron string, interval, unknown time zone, ...).
    #[error("Invalid schedule spec: {0}")]
    Invalid(String),
    /// Finding the next time took more than `MAX_SEARCH_PROBES` (candidates times entries).
    #[error(
        "the schedule calendar specification has too many exclusions. Please modify the specification."
    )]
    TooManyExclusions,
}

impl SpecError {
    /// The client-facing message (same as `to_string()`).
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// The work one search for the next slot may do, in probes: each candidate time costs one
/// probe per calendar, interval and exclude of the spec. A candidate is only followed by
/// another when an exclude matched it, so this bounds over-excluded specs (a 1-second interval
/// excluded for a weekend is ~350k probes). ListScheduleMatchingTimes gets
/// `MATCHING_TIMES_PROBE_FACTOR` times as much for its whole answer.
pub const MAX_SEARCH_PROBES: usize = 2_000_000;
pub const MATCHING_TIMES_PROBE_FACTOR: usize = 4;
/// ListScheduleMatchingTimes answers at most this many times (as Temporal does).
pub const MAX_MATCHING_TIMES: usize = 1000;

const NANOS: i64 = 1_000_000_000;

#[derive(Debug, Clone)]
pub struct CompiledSpec {
    canonical: ScheduleSpec,
    calendars: Vec<CompiledCalendar>,
    excludes: Vec<CompiledCalendar>,
    /// (interval, phase) in whole seconds, as Temporal truncates them.
    intervals: Vec<(i64, i64)>,
    start: Option<i64>,
    end: Option<i64>,
    jitter: i64,
}

impl CompiledSpec {
    /// Validates and compiles `spec` (as CreateSchedule/UpdateSchedule do before storing it).
    pub fn compile(spec: &ScheduleSpec) -> Result<CompiledSpec, SpecError> {
        let spec = canonical::canonicalize(spec).map_err(SpecError::Invalid)?;
        let zone = if spec.timezone_data.is_empty() {
            Zone::load(&spec.timezone_name)
        } else {
            Zone::from_tzif(&spec.timezone_name, &spec.timezone_data)
        }
        .map_err(SpecError::Invalid)?;
        let compile_all = |cals: &[_]| {
            cals.iter()
                .map(|c| CompiledCalendar::new(c, zone.clone()))
                .collect::<Vec<_>>()
        };
        let ts = |t: &Option<prost_wkt_types::Timestamp>| {
            t.as_ref().map(|t| {
                t.seconds
                    .saturating_mul(NANOS)
                    .saturating_add(t.nanos as i64)
            })
        };
        Ok(CompiledSpec {
            calendars: compile_all(&spec.structured_calendar),
            excludes: compile_all(&spec.exclude_structured_calendar),
            intervals: spec
                .interval
                .iter()
                .map(|iv| {
                    let every = (duration_nanos(&iv.interval) / NANOS).max(1);
                    let phase = (duration_nanos(&iv.phase) / NANOS).max(0);
                    (every, phase)
                })
                .collect(),
            start: ts(&spec.start_time),
            end: ts(&spec.end_time),
            jitter: duration_nanos(&spec.jitter),
            canonical: canonical::clean(spec),
        })
    }

    /// The first slot whose nominal time is strictly after `after` (compared at whole seconds:
    /// the fraction of `after` is dropped first), not excluded, at or after the start time's
    /// second and at or before the end time; None when there is none (past the end time, past
    /// year 2100, a spec matching nothing, or a search exceeding `MAX_SEARCH_PROBES`).
    ///
    /// `jitter_seed` must be Temporal's: `"{namespace_id}-{schedule_id}"` (the namespace's id,
    /// not its name). The slot's jitter is then the one Temporal's server gives the same
    /// schedule: a hash of the nominal time and the seed, in whole milliseconds, below both the
    /// spec's jitter and the gap to the following nominal time (excludes not considered).
    pub fn next(&self, after: Time, jitter_seed: &str) -> Option<Slot> {
        self.try_next(after, jitter_seed).ok().flatten()
    }

    /// `next`, telling an over-excluded spec (`SpecError::TooManyExclusions`) apart from one
    /// with no more times.
    pub fn try_next(&self, after: Time, jitter_seed: &str) -> Result<Option<Slot>, SpecError> {
        let mut budget = MAX_SEARCH_PROBES;
        self.search(after, jitter_seed, &mut budget)
    }

    fn search(
        &self,
        after: Time,
        jitter_seed: &str,
        budget: &mut usize,
    ) -> Result<Option<Slot>, SpecError> {
        let cost = (self.calendars.len() + self.intervals.len() + self.excludes.len()).max(1);
        // A start time lets its own second match: search from the second before it.
        let floor = self.start.unwrap_or(0).saturating_sub(NANOS);
        let mut after = after.0.max(floor).div_euclid(NANOS);
        let nominal = loop {
            *budget = budget
                .checked_sub(cost)
                .ok_or(SpecError::TooManyExclusions)?;
            let Some(nominal) = self.raw_next(after) else {
                return Ok(None);
            };
            let past_end = self
                .end
                .is_some_and(|end| nominal.saturating_mul(NANOS) > end);
            if past_end || zone::Zone::utc().local(nominal).year > MAX_CALENDAR_YEAR {
                return Ok(None);
            }
            if !self.excludes.iter().any(|ex| ex.matches(nominal)) {
                break nominal;
            }
            after = nominal;
        };
        let mut max_jitter = self.jitter;
        if let Some(following) = self.raw_next(nominal) {
            max_jitter = max_jitter.min((following - nominal).saturating_mul(NANOS));
        }
        let nominal_ns = nominal * NANOS;
        let actual = nominal_ns + jitter::jitter_nanos(jitter_seed, nominal, max_jitter);
        Ok(Some(Slot {
            nominal: Time(nominal_ns),
            actual: Time(actual),
        }))
    }

    /// ListScheduleMatchingTimes: the actual (jittered) times of the slots after `start` up to
    /// and including `end`, at most `MAX_MATCHING_TIMES`. As in Temporal, each search starts
    /// from the previous actual time.
    pub fn matching_times(
        &self,
        start: Time,
        end: Time,
        jitter_seed: &str,
    ) -> Result<Vec<Time>, SpecError> {
        let mut out = Vec::new();
        let mut t = start;
        let mut budget = MAX_SEARCH_PROBES * MATCHING_TIMES_PROBE_FACTOR;
        while out.len() < MAX_MATCHING_TIMES {
            match self.search(t, jitter_seed, &mut budget)? {
                Some(slot) if slot.actual <= end => {
                    out.push(slot.actual);
                    t = slot.actual;
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// The spec as DescribeSchedule returns it: cron strings and calendar strings turned into
    /// structured calendars (and `@every` into intervals), a cron's zone moved to
    /// `timezone_name`, every range's end and step filled in. `original` is not needed (the
    /// canonical form is kept from `compile`); the parameter stays for the callers' contract.
    pub fn canonical(&self, original: &ScheduleSpec) -> ScheduleSpec {
        let _ = original;
        self.canonical.clone()
    }

    /// The earliest nominal second after `after` over all calendars and intervals, ignoring
    /// excludes and start/end.
    fn raw_next(&self, after: i64) -> Option<i64> {
        let calendars = self.calendars.iter().filter_map(|c| c.next(after));
        // Go's integer division truncates toward zero; kept for times before the epoch.
        let intervals = self
            .intervals
            .iter()
            .map(|&(every, phase)| ((after - phase) / every + 1) * every + phase);
        calendars.chain(intervals).min()
    }
}

#[cfg(test)]
mod tests;
