//! Changing who replicates a group: adding a learner, replacing the voters, removing nodes.
//!
//! Only a group's leader can change its membership; elsewhere these answer `NotLeader`. This
//! module carries a change out and reports progress; deciding what the membership should be is
//! the cluster controller's job (`perdure-cluster`), never this crate's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::error::ClientWriteError;
use openraft::{BasicNode, ChangeMembers};

use crate::error::ProposeError;
use crate::Group;

type OrRaftError<E> = openraft::error::RaftError<u64, E>;

/// How long one membership change may take to commit (a joint change commits two entries).
pub const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(30);

/// A group's membership as this node last applied it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Members {
    pub voters: BTreeSet<u64>,
    pub learners: BTreeSet<u64>,
    /// Internal address of every member, voters and learners.
    pub addrs: BTreeMap<u64, String>,
    /// False while a joint (two-step) change is between its steps.
    pub settled: bool,
}

impl Members {
    pub fn contains(&self, id: u64) -> bool {
        self.addrs.contains_key(&id)
    }
}

impl Group {
    /// The group's current (effective) membership.
    pub fn members(&self) -> Members {
        let metrics = self.raft().metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        Members {
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            addrs: membership
                .nodes()
                .map(|(id, n)| (*id, n.addr.clone()))
                .collect(),
            settled: membership.get_joint_config().len() == 1,
        }
    }

    /// On the leader: the last log index each other member is known to hold.
    pub fn matched(&self) -> Option<BTreeMap<u64, Option<u64>>> {
        let metrics = self.raft().metrics();
        let m = metrics.borrow();
        m.replication.as_ref().map(|r| {
            r.iter()
                .map(|(id, l)| (*id, l.as_ref().map(|l| l.index)))
                .collect()
        })
    }

    /// This node's last log index.
    pub fn last_log_index(&self) -> Option<u64> {
        self.raft().metrics().borrow().last_log_index
    }

    /// Adds node `id` (internal address `addr`) as a learner: it receives the log (or a
    /// snapshot) but does not vote. Returns once the change is committed, not once the learner
    /// has caught up. Adding a member again only updates its address.
    pub async fn add_learner(&self, id: u64, addr: &str) -> Result<(), ProposeError> {
        let added = self.membership_call(
            "add_learner",
            self.raft().add_learner(id, BasicNode::new(addr), false),
        );
        added.await
    }

    /// Makes exactly `voters` the group's voters. Voters that are dropped stay learners; every
    /// new voter must already be a member (a learner). Commits as a joint change.
    pub async fn set_voters(&self, voters: BTreeSet<u64>) -> Result<(), ProposeError> {
        let changed = self.membership_call(
            "set_voters",
            self.raft()
                .change_membership(ChangeMembers::ReplaceAllVoters(voters), true),
        );
        changed.await
    }

    /// Removes `ids` from the group entirely. They must not be voters.
    pub async fn remove_members(&self, ids: BTreeSet<u64>) -> Result<(), ProposeError> {
        let removed = self.membership_call(
            "remove_members",
            self.raft()
                .change_membership(ChangeMembers::RemoveNodes(ids), false),
        );
        removed.await
    }

    async fn membership_call<T>(
        &self,
        kind: &'static str,
        call: impl std::future::Future<
            Output = Result<T, OrRaftError<ClientWriteError<u64, BasicNode>>>,
        >,
    ) -> Result<(), ProposeError> {
        let done = tokio::time::timeout(MEMBERSHIP_TIMEOUT, call)
            .await
            .map_err(|_| ProposeError::Timeout {
                group: self.id(),
                after: MEMBERSHIP_TIMEOUT,
            })?;
        done?;
        perdure_metrics::metrics()
            .membership_changes
            .with_label_values(&[kind])
            .inc();
        tracing::info!(group = %self.id(), kind, members = ?self.members(), "membership changed");
        Ok(())
    }
}
