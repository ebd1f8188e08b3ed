//! Temporal schedules as pure logic. `spec` turns a `ScheduleSpec` into the times it matches
//! (calendars, intervals, jitter, start/end, time zones, exclusions); `scheduler` is the state
//! machine of one schedule (what to start, buffer, cancel or skip, given the time and what its
//! runs did). Nothing here reads a clock, draws randomness or does I/O: the history crate passes
//! `now` in and persists what comes out, so every replica computes the same thing.

pub mod scheduler;
pub mod spec;

pub use scheduler::{Action, ScheduleError, ScheduleState};
pub use spec::{CompiledSpec, Slot, SpecError};
