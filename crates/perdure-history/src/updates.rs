//! Updates in flight: the leader's in-memory registry of the updates of each run that callers
//! wait on, from admission until their outcome.
//!
//! An admitted update exists only here (as in Temporal): a workflow task carries it to a worker
//! as a Request message, and the worker's Acceptance makes it durable history. Callers wait on a
//! watch channel for the stage they asked for. Every change reaches this registry from a
//! committed write (`after_write`, under the run's lock) or from admission itself (under the
//! run's lock too), so a caller never sees a stage that is not durable. Leadership lost clears
//! everything: waiting callers see their channel close and the client asks again.
//!
//! This module never writes and never blocks; callers bound their waits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use perdure_core::{
    accepted_update_completed_workflow_failure, rejected_outcome, MutableState, PendingUpdates,
    UpdateProgress,
};
use temporalio_protos::temporal::api::update::v1::{Outcome, Request};
use tokio::sync::watch;

use crate::cache::ExecKey;

/// Updates one run may have admitted and not yet accepted (Temporal's
/// history.maxInFlightUpdates).
pub const MAX_IN_FLIGHT_UPDATES: usize = 10;

/// Where an update stands, as its callers see it.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateState {
    /// Known to the server, not yet accepted by a worker.
    Admitted,
    /// Accepted: WorkflowExecutionUpdateAccepted is written.
    Accepted,
    /// Finished: completed by the worker (or failed by the run closing), or rejected.
    Completed {
        outcome: Box<Outcome>,
        rejected: bool,
    },
    /// The run closed before any worker accepted it.
    AbortedByClose,
}

struct Entry {
    /// The request as the caller sent it (None for an accepted update a caller waits on after
    /// this leader took over: its request is in history).
    request: Option<Request>,
    /// Carried to a worker by the workflow task now in flight.
    sent: bool,
    /// Admission order: a task delivers updates in the order they came.
    seq: u64,
    state: watch::Sender<UpdateState>,
}

#[derive(Default)]
struct Runs {
    runs: HashMap<ExecKey, HashMap<String, Entry>>,
    next_seq: u64,
}

#[derive(Default)]
pub(crate) struct UpdateRegistry {
    inner: Mutex<Runs>,
    /// Runs with updates here, so the write path skips the lock when there are none (the
    /// usual case: `after_write` runs on every committed write, `pending` on every completion).
    active: AtomicUsize,
}

/// The run already has [`MAX_IN_FLIGHT_UPDATES`] updates waiting for a worker.
#[derive(Debug)]
pub(crate) struct TooManyInFlight;

impl UpdateRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Runs> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn idle(&self) -> bool {
        self.active.load(Ordering::SeqCst) == 0
    }

    /// Keeps `active` in step with the map; called with the lock held after every change.
    fn count(&self, inner: &Runs) {
        self.active.store(inner.runs.len(), Ordering::SeqCst);
    }

    /// Admits `request` as update `id` of the run, or joins the update of that id already
    /// there (its own arguments are then ignored, as in Temporal). The caller holds the run's
    /// lock and has checked that the run has not accepted this id already.
    pub(crate) fn admit(
        &self,
        key: &ExecKey,
        id: &str,
        request: &Request,
    ) -> Result<watch::Receiver<UpdateState>, TooManyInFlight> {
        let mut inner = self.lock();
        let seq = inner.next_seq;
        let updates = inner.runs.entry(key.clone()).or_default();
        if let Some(e) = updates.get(id) {
            return Ok(e.state.subscribe());
        }
        let in_flight = updates
            .values()
            .filter(|e| *e.state.borrow() == UpdateState::Admitted)
            .count();
        if in_flight >= MAX_IN_FLIGHT_UPDATES {
            return Err(TooManyInFlight);
        }
        let (tx, rx) = watch::channel(UpdateState::Admitted);
        updates.insert(
            id.to_string(),
            Entry {
                request: Some(request.clone()),
                sent: false,
                seq,
                state: tx,
            },
        );
        inner.next_seq += 1;
        self.count(&inner);
        Ok(rx)
    }

    /// Waits on update `id` if it is in flight here, or on an accepted update this leader has
    /// no entry for (`accepted`: the run's state says so).
    pub(crate) fn subscribe(
        &self,
        key: &ExecKey,
        id: &str,
        accepted: bool,
    ) -> Option<watch::Receiver<UpdateState>> {
        let mut inner = self.lock();
        let seq = inner.next_seq;
        if let Some(e) = inner.runs.get(key).and_then(|u| u.get(id)) {
            return Some(e.state.subscribe());
        }
        if !accepted {
            return None;
        }
        let (tx, rx) = watch::channel(UpdateState::Accepted);
        inner.runs.entry(key.clone()).or_default().insert(
            id.to_string(),
            Entry {
                request: None,
                sent: false,
                seq,
                state: tx,
            },
        );
        inner.next_seq += 1;
        self.count(&inner);
        Some(rx)
    }

    /// The updates a workflow task carries to its worker: every one not yet accepted, in
    /// admission order (again after a failed task). Marks them sent.
    pub(crate) fn deliver(&self, key: &ExecKey) -> Vec<(String, Request)> {
        if self.idle() {
            return Vec::new();
        }
        let mut inner = self.lock();
        let Some(updates) = inner.runs.get_mut(key) else {
            return Vec::new();
        };
        let mut out: Vec<(u64, String, Request)> = Vec::new();
        for (id, e) in updates.iter_mut() {
            if *e.state.borrow() != UpdateState::Admitted {
                continue;
            }
            if let Some(r) = &e.request {
                e.sent = true;
                out.push((e.seq, id.clone(), r.clone()));
            }
        }
        out.sort_by_key(|(seq, _, _)| *seq);
        out.into_iter().map(|(_, id, r)| (id, r)).collect()
    }

    /// What a completing workflow task must know of the run's updates (read under its lock).
    pub(crate) fn pending(&self, key: &ExecKey) -> PendingUpdates {
        let mut pending = PendingUpdates::default();
        if self.idle() {
            return pending;
        }
        let inner = self.lock();
        let Some(updates) = inner.runs.get(key) else {
            return pending;
        };
        for (id, e) in updates {
            if *e.state.borrow() != UpdateState::Admitted {
                continue;
            }
            if let Some(r) = &e.request {
                pending.requests.insert(id.clone(), r.clone());
            }
            if e.sent {
                pending.sent.push(id.clone());
            } else {
                pending.waiting = true;
            }
        }
        pending.sent.sort();
        pending
    }

    /// Called after each committed write of the run (under its lock) with what the write did to
    /// updates and the run's new state. A closed run ends every update still in flight.
    pub(crate) fn after_write(
        &self,
        key: &ExecKey,
        progress: &[UpdateProgress],
        state: &MutableState,
    ) {
        if self.idle() {
            return;
        }
        let mut inner = self.lock();
        let Some(updates) = inner.runs.get_mut(key) else {
            return;
        };
        for p in progress {
            match p {
                UpdateProgress::Accepted { update_id, .. } => {
                    if let Some(e) = updates.get_mut(update_id) {
                        e.sent = false;
                        e.state.send_replace(UpdateState::Accepted);
                    }
                }
                UpdateProgress::Completed { update_id, outcome } => {
                    if let Some(e) = updates.remove(update_id) {
                        e.state.send_replace(UpdateState::Completed {
                            outcome: Box::new(outcome.clone()),
                            rejected: false,
                        });
                    }
                }
                UpdateProgress::Rejected { update_id, failure } => {
                    if let Some(e) = updates.remove(update_id) {
                        e.state.send_replace(UpdateState::Completed {
                            outcome: Box::new(rejected_outcome(failure.clone())),
                            rejected: true,
                        });
                    }
                }
            }
        }
        if !state.is_running() {
            for (_, e) in updates.drain() {
                let end = match *e.state.borrow() {
                    UpdateState::Admitted => UpdateState::AbortedByClose,
                    _ => UpdateState::Completed {
                        outcome: Box::new(rejected_outcome(
                            accepted_update_completed_workflow_failure(),
                        )),
                        rejected: false,
                    },
                };
                e.state.send_replace(end);
            }
        } else if !state.has_started_workflow_task() {
            // No task in flight any more: whatever a failed or timed-out task carried goes
            // again with the next one.
            for e in updates.values_mut() {
                e.sent = false;
            }
        }
        if updates.is_empty() {
            inner.runs.remove(key);
        }
        self.count(&inner);
    }

    /// Leadership ended: every waiting caller learns it (its channel closes). An admitted update
    /// whose caller went away is kept until then, as in Temporal: a worker that comes back
    /// later still runs it.
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.runs.clear();
        self.count(&inner);
    }
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus;
    use temporalio_protos::temporal::api::update::v1::{outcome, Input, Meta};

    use super::*;

    fn key() -> ExecKey {
        ExecKey::new("ns", "wf", "run")
    }

    fn request(id: &str) -> Request {
        Request {
            meta: Some(Meta {
                update_id: id.into(),
                identity: "c".into(),
            }),
            input: Some(Input {
                name: "add".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn state(status: WorkflowExecutionStatus) -> MutableState {
        MutableState {
            status: status as i32,
            ..Default::default()
        }
    }

    fn success() -> Outcome {
        Outcome {
            value: Some(outcome::Value::Success(Default::default())),
        }
    }

    #[test]
    fn one_update_per_id_delivered_in_admission_order() {
        let r = UpdateRegistry::default();
        let first = r.admit(&key(), "b", &request("b")).unwrap();
        r.admit(&key(), "a", &request("a")).unwrap();
        // The same id again joins the first (its own request is ignored).
        let again = r.admit(&key(), "b", &request("other")).unwrap();
        assert!(first.same_channel(&again));
        let p = r.pending(&key());
        assert_eq!((p.requests.len(), p.sent.len(), p.waiting), (2, 0, true));

        let delivered: Vec<String> = r.deliver(&key()).into_iter().map(|(id, _)| id).collect();
        assert_eq!(delivered, ["b", "a"]);
        let p = r.pending(&key());
        assert_eq!(p.sent, ["a", "b"]);
        assert!(!p.waiting, "everything admitted was carried");
    }

    #[test]
    fn progress_reaches_the_waiters_and_finished_updates_are_forgotten() {
        let r = UpdateRegistry::default();
        let accepted = r.admit(&key(), "ok", &request("ok")).unwrap();
        let rejected = r.admit(&key(), "no", &request("no")).unwrap();
        let running = state(WorkflowExecutionStatus::Running);
        r.after_write(
            &key(),
            &[
                UpdateProgress::Accepted {
                    update_id: "ok".into(),
                    event_id: 8,
                },
                UpdateProgress::Rejected {
                    update_id: "no".into(),
                    failure: Default::default(),
                },
            ],
            &running,
        );
        assert_eq!(*accepted.borrow(), UpdateState::Accepted);
        assert!(matches!(
            &*rejected.borrow(),
            UpdateState::Completed { rejected: true, .. }
        ));
        assert!(
            r.subscribe(&key(), "no", false).is_none(),
            "a rejection is forgotten"
        );
        r.after_write(
            &key(),
            &[UpdateProgress::Completed {
                update_id: "ok".into(),
                outcome: success(),
            }],
            &running,
        );
        assert_eq!(
            *accepted.borrow(),
            UpdateState::Completed {
                outcome: Box::new(success()),
                rejected: false
            }
        );
        assert!(r.idle(), "nothing left in flight");
    }

    #[test]
    fn a_closing_run_aborts_admitted_updates_and_fails_accepted_ones() {
        let r = UpdateRegistry::default();
        let admitted = r.admit(&key(), "a", &request("a")).unwrap();
        let accepted = r.admit(&key(), "b", &request("b")).unwrap();
        let running = state(WorkflowExecutionStatus::Running);
        let b = UpdateProgress::Accepted {
            update_id: "b".into(),
            event_id: 8,
        };
        r.after_write(&key(), &[b], &running);
        r.after_write(&key(), &[], &state(WorkflowExecutionStatus::Terminated));
        assert_eq!(*admitted.borrow(), UpdateState::AbortedByClose);
        let UpdateState::Completed { outcome, rejected } = accepted.borrow().clone() else {
            panic!("accepted update must complete");
        };
        assert!(!rejected);
        let Some(outcome::Value::Failure(f)) = outcome.value else {
            panic!("a failure outcome");
        };
        assert_eq!(f.source, "Server");
        assert!(r.idle());
    }

    #[test]
    fn in_flight_updates_are_limited_per_run() {
        let r = UpdateRegistry::default();
        for i in 0..MAX_IN_FLIGHT_UPDATES {
            r.admit(&key(), &i.to_string(), &request("x")).unwrap();
        }
        assert!(r.admit(&key(), "one more", &request("x")).is_err());
        // Joining an update already there is not a new one.
        assert!(r.admit(&key(), "0", &request("x")).is_ok());
        // Another run has its own limit.
        assert!(r
            .admit(&ExecKey::new("ns", "wf", "other"), "x", &request("x"))
            .is_ok());
    }

    #[test]
    fn leadership_lost_closes_every_waiter() {
        let r = UpdateRegistry::default();
        let rx = r.admit(&key(), "a", &request("a")).unwrap();
        r.clear();
        assert!(rx.has_changed().is_err(), "the sender is gone");
        assert!(r.idle());
    }
}
