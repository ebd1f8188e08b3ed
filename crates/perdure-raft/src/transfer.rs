//! Moving a group's leadership to a chosen voter, which openraft 0.9 has no call for.
//!
//! What makes it work is a fact about openraft 0.9's leader lease: a follower refuses votes
//! while it hears from a leader, but the leader itself stops defending its term once it has led
//! for longer than the lease (`election_timeout_max`): its own vote is last touched when it
//! becomes leader. A handover is only tried once that is so ([`Group::lease_expired`]). So the leader holds new proposals back,
//! waits until the target holds its whole log, and has the target campaign: the leader grants
//! the vote (the target's log is as long as its own and its term higher), the target wins with
//! two votes of three, and the old leader follows it. Proposals held back then meet a node that
//! no longer leads and are refused as usual; no client sees a wrong answer, only a pause of
//! about one round trip.

use std::time::Duration;

use openraft::error::Fatal;

use crate::error::{ProposeError, RaftError};
use crate::Group;

/// Slack past the lease, for the timer granularity of two processes.
const LEASE_MARGIN: Duration = Duration::from_millis(200);

/// Resumes proposals when dropped.
pub struct PauseGuard<'a>(&'a Group);

impl Drop for PauseGuard<'_> {
    fn drop(&mut self) {
        self.0.paused.send_replace(false);
    }
}

impl Group {
    /// True once this node has led the group for longer than openraft's leader lease: only
    /// then does it grant a handover target's vote. A younger leader would refuse, then step
    /// down on seeing the target's higher term, and leave the group to a random election.
    pub fn lease_expired(&self) -> bool {
        let lease = Duration::from_millis(self.raft().config().election_timeout_max);
        self.leading_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|since| since.elapsed() > lease + LEASE_MARGIN)
    }

    /// Holds new proposals back until the guard is dropped.
    pub fn pause_proposals(&self) -> PauseGuard<'_> {
        self.paused.send_replace(true);
        PauseGuard(self)
    }

    /// On the leader: waits up to `limit` until `target` holds this node's whole log.
    pub async fn wait_replicated(&self, target: u64, limit: Duration) -> bool {
        let waited = self
            .raft()
            .wait(Some(limit))
            .metrics(
                |m| {
                    let last = m.last_log_index;
                    m.replication.as_ref().is_some_and(|r| {
                        r.get(&target)
                            .is_some_and(|matched| matched.as_ref().map(|l| l.index) == last)
                    })
                },
                "target caught up",
            )
            .await;
        waited.is_ok()
    }

    /// On the target: start an election now.
    pub async fn campaign(&self) -> Result<(), ProposeError> {
        match self.raft().trigger().elect().await {
            Ok(()) => Ok(()),
            Err(Fatal::Stopped) => Err(ProposeError::Shutdown),
            Err(f) => Err(RaftError::Fatal(f).into()),
        }
    }

    /// Waits up to `limit` until this node no longer leads the group.
    pub async fn wait_not_leader(&self, limit: Duration) -> bool {
        let mut rx = self.leadership();
        tokio::time::timeout(limit, rx.wait_for(Option::is_none))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}
