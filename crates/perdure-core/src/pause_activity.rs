//! PauseActivity and UnpauseActivity (Temporal's operator commands on a pending activity).
//! No history event is written; only the activity's mutable state changes.
//!
//! A pause bumps the stamp of an activity that is not running, so its queued dispatch and retry
//! timer go stale; a running attempt keeps running (its heartbeats answer `activity_paused`),
//! and if it fails it is retried into the paused state without a retry timer. While paused no
//! timeout fires for the activity. Unpause bumps the stamp again and re-arms what is due: the
//! next attempt (now, or after the caller's jitter) or the running attempt's timeouts, and the
//! schedule-to-close timeout. The caller draws the jitter: apply stays deterministic.
//!
//! The run's `TemporalPauseInfo` search attribute lists `property:activityType=<type>` for each
//! type with a paused activity, and is removed when none is paused, as Temporal keeps it.

use std::time::Duration;

use temporalio_protos::temporal::api::enums::v1::TimeoutType;

use crate::build_ids::keyword_list;
use crate::errors::CoreError;
use crate::state::{ActivityInfo, ActivityPauseInfo, MutableState};
use crate::tasks::{timer_task, Mutation, TaskRef, TaskTimeout};
use crate::time::{duration_from_proto, Time};

pub(crate) const PAUSE_INFO: &str = "TemporalPauseInfo";

/// Which pending activities an operator command targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivitySelector {
    Id(String),
    /// Every pending activity of this type.
    Type(String),
    /// Every pending activity (UnpauseActivity's unpause_all).
    All,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PauseRequest {
    pub identity: String,
    pub reason: String,
    pub request_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpauseRequest {
    pub reset_attempts: bool,
    pub reset_heartbeat: bool,
    /// Delay of the next attempt (already drawn at random within the request's jitter).
    pub delay: Duration,
}

impl MutableState {
    /// Scheduled event ids of the pending activities `selector` names; NotFound when none.
    pub(crate) fn select_activities(
        &self,
        selector: &ActivitySelector,
    ) -> Result<Vec<i64>, CoreError> {
        if !self.is_running() {
            return Err(CoreError::WorkflowCompleted);
        }
        let ids: Vec<i64> = self
            .activities
            .values()
            .filter(|a| match selector {
                ActivitySelector::Id(id) => &a.activity_id == id,
                ActivitySelector::Type(t) => {
                    a.activity_type.as_ref().is_some_and(|ty| &ty.name == t)
                }
                ActivitySelector::All => true,
            })
            .map(|a| a.scheduled_event_id)
            .collect();
        if ids.is_empty() {
            return Err(CoreError::pending_activity_not_found());
        }
        Ok(ids)
    }

    pub fn pause_activity(
        &mut self,
        selector: &ActivitySelector,
        request: &PauseRequest,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        for id in self.select_activities(selector)? {
            let ai = self.activities.get_mut(&id).expect("selected");
            if ai.paused {
                let same = ai
                    .pause_info
                    .as_ref()
                    .is_some_and(|p| p.request_id == request.request_id);
                if same {
                    continue;
                }
                return Err(CoreError::FailedPrecondition(
                    "activity is already paused".into(),
                ));
            }
            if !ai.is_started() && !ai.cancel_requested {
                ai.stamp += 1;
            }
            ai.paused = true;
            ai.pause_info = Some(ActivityPauseInfo {
                pause_time: now.0,
                identity: request.identity.clone(),
                reason: request.reason.clone(),
                request_id: request.request_id.clone(),
            });
        }
        self.sync_pause_info();
        Ok(Mutation::default())
    }

    pub fn unpause_activity(
        &mut self,
        selector: &ActivitySelector,
        request: &UnpauseRequest,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        let mut m = Mutation::default();
        let mut unpaused = false;
        for id in self.select_activities(selector)? {
            let Some(mut ai) = self.activities.get(&id).cloned() else {
                continue;
            };
            if !ai.paused {
                continue;
            }
            ai.paused = false;
            ai.pause_info = None;
            if request.reset_attempts {
                ai.attempt = 1;
            }
            if request.reset_heartbeat {
                ai.last_heartbeat_details = None;
                ai.last_heartbeat_time = 0;
            }
            self.resume_activity(&mut m, &mut ai, request.delay, now);
            self.activities.insert(id, ai);
            unpaused = true;
        }
        if unpaused {
            self.sync_pause_info();
        }
        Ok(m)
    }

    /// Brings `TemporalPauseInfo` in line with the paused activities.
    pub(crate) fn sync_pause_info(&mut self) {
        let mut entries: Vec<String> = self
            .activities
            .values()
            .filter(|a| a.paused)
            .map(|a| {
                let ty = a.activity_type.as_ref().map_or("", |t| t.name.as_str());
                format!("property:activityType={ty}")
            })
            .collect();
        entries.sort();
        entries.dedup();
        if entries.is_empty() {
            if let Some(sa) = self.search_attributes.as_mut() {
                sa.indexed_fields.remove(PAUSE_INFO);
            }
            return;
        }
        self.search_attributes
            .get_or_insert_with(Default::default)
            .indexed_fields
            .insert(PAUSE_INFO.to_string(), keyword_list(&entries));
    }

    /// Moves an activity that has just left the paused state to a new stamp and re-arms what
    /// the pause held back: the next attempt after `delay`, or the running attempt's timeouts.
    pub(crate) fn resume_activity(
        &self,
        m: &mut Mutation,
        ai: &mut ActivityInfo,
        delay: Duration,
        now: Time,
    ) {
        ai.stamp += 1;
        if ai.is_started() {
            let stc = duration_from_proto(ai.start_to_close_timeout.as_ref());
            let hb = duration_from_proto(ai.heartbeat_timeout.as_ref());
            let started = Time(ai.started_time);
            let last_beat = Time(ai.last_heartbeat_time.max(ai.started_time));
            for (d, from, ty) in [
                (stc, started, TimeoutType::StartToClose),
                (hb, last_beat, TimeoutType::Heartbeat),
            ] {
                if !d.is_zero() {
                    m.timer_tasks
                        .push(self.activity_timeout_task(ai, from.add(d), ty));
                }
            }
        } else if delay.is_zero() {
            ai.backing_off = false;
            ai.scheduled_time = now.0;
            self.dispatch_activity_attempt(m, ai, now);
        } else {
            ai.backing_off = true;
            ai.scheduled_time = now.add(delay).0;
            let t = self.timer_task(
                now.add(delay),
                timer_task::Kind::ActivityRetry(TaskRef {
                    scheduled_event_id: ai.scheduled_event_id,
                    attempt: ai.attempt,
                    stamp: ai.stamp,
                }),
            );
            m.timer_tasks.push(t);
        }
        let s2c = duration_from_proto(ai.schedule_to_close_timeout.as_ref());
        if !s2c.is_zero() {
            let at = Time(ai.first_scheduled_time).add(s2c);
            m.timer_tasks
                .push(self.activity_timeout_task(ai, at, TimeoutType::ScheduleToClose));
        }
    }

    fn activity_timeout_task(
        &self,
        ai: &ActivityInfo,
        at: Time,
        ty: TimeoutType,
    ) -> crate::tasks::TimerTask {
        self.timer_task(
            at,
            timer_task::Kind::ActivityTimeout(TaskTimeout {
                scheduled_event_id: ai.scheduled_event_id,
                attempt: ai.attempt,
                stamp: ai.stamp,
                timeout_type: ty as i32,
            }),
        )
    }
}
