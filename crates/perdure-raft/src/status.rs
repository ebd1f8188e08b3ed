//! A group's replication state as this node sees it, for `/cluster` and `perdure cluster
//! status`: read from openraft's metrics, never from the log itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Group;

/// One group's view from this node. `replication` is only known on the leader.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupStatus {
    pub group: u32,
    pub leader: Option<u64>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    /// Known committed here. openraft 0.9 does not publish the commit index, so this is the
    /// applied index, which trails the commit by at most the entries being applied.
    pub committed: Option<u64>,
    /// Leader, Follower, Candidate or Learner.
    pub state: String,
    /// On the leader: how long ago a quorum last acknowledged it.
    pub millis_since_quorum_ack: Option<u64>,
    pub applied: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub purged_index: Option<u64>,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    /// Matched log index per node id, on the leader only.
    pub replication: Option<BTreeMap<u64, Option<u64>>>,
}

impl Group {
    pub fn status(&self) -> GroupStatus {
        let metrics = self.raft().metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        let voters: Vec<u64> = membership.voter_ids().collect();
        let learners: Vec<u64> = membership.learner_ids().collect();
        GroupStatus {
            group: self.id().0,
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index,
            committed: m.last_applied.as_ref().map(|l| l.index),
            state: format!("{:?}", m.state),
            millis_since_quorum_ack: m.millis_since_quorum_ack,
            applied: m.last_applied.as_ref().map(|l| l.index),
            snapshot_index: m.snapshot.as_ref().map(|l| l.index),
            purged_index: m.purged.as_ref().map(|l| l.index),
            voters,
            learners,
            replication: m.replication.as_ref().map(|r| {
                r.iter()
                    .map(|(id, matched)| (*id, matched.as_ref().map(|l| l.index)))
                    .collect()
            }),
        }
    }
}
