//! Identifier newtypes. Owns nothing but the types; must never allocate ids itself
//! (event ids come from `MutableState::next_event_id`, run and request ids from the caller).

use std::fmt;

/// A history event id. Ids are gap-free from 1; 0 means "none" as in Temporal's protos.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub i64);

impl EventId {
    /// The "no event" marker used by the API (e.g. `started_event_id` before a start).
    pub const EMPTY: EventId = EventId(0);

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn is_empty(self) -> bool {
        self.0 <= 0
    }
}

impl From<i64> for EventId {
    fn from(v: i64) -> Self {
        EventId(v)
    }
}

impl From<EventId> for i64 {
    fn from(v: EventId) -> Self {
        v.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
