//! Admission: may a node with an empty data directory start under its id?
//!
//! A node whose directory is new asks its peers about its id (`Cluster.Hello`) before it opens
//! any Raft group, so that it never votes with a forgotten log. It is refused when any peer's
//! registry knows the id (an active member with another data directory: a lost disk; or a
//! removed id). A node of a new cluster waits until a majority of the initial peers, itself
//! included, has answered — peers that are starting too answer "fresh" from their own
//! admission phase — so that a wiped node cannot slip in while most of the cluster is down.
//! A joining node needs an answer from its join address, which also tells it the shard count.
//!
//! Residual risk, written down: a node that lost its disk within seconds of the cluster's very
//! first start, before its registration committed, is not recognised.

use std::collections::BTreeMap;
use std::time::Duration;

use perdure_api::internal::cluster_client::ClusterClient;
use perdure_api::internal::{HelloReply, HelloRequest, NodeState};
use perdure_raft::Peers;

/// How long one Hello may take.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(2);

/// What a starting node does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    Proceed {
        /// The cluster's shard count, when a running member told it.
        shards: Option<u32>,
    },
    /// Not enough answers yet; ask again.
    Wait(String),
    Refuse(String),
}

fn refusal(me: u64, from: u64, state: NodeState) -> Option<String> {
    match state {
        NodeState::Active => Some(format!(
            "node {from} knows node {me} as a member with its own data directory, but this data \
             directory is empty: a node that lost its disk must not rejoin under its old id (it \
             would vote with a forgotten log). Run `perdure cluster remove {me}`, then start this \
             node with a new --node-id and --join <a member's internal address>"
        )),
        NodeState::Removed => Some(format!(
            "node {from} says node {me} was removed from the cluster; node ids are never \
             reused: start this node with a new --node-id and --join"
        )),
        NodeState::Unknown => None,
    }
}

/// A fresh node of the initial peers (`cluster_size` of them, itself included) decides from
/// the answers of the others (by node id).
pub fn decide_initial(
    me: u64,
    cluster_size: usize,
    answers: &BTreeMap<u64, HelloReply>,
) -> Admission {
    for (from, a) in answers {
        if let Some(why) = refusal(me, *from, a.caller_state()) {
            return Admission::Refuse(why);
        }
    }
    let heard = 1 + answers.len();
    if 2 * heard > cluster_size {
        let shards = answers.values().find(|a| !a.fresh).map(|a| a.shards);
        Admission::Proceed { shards }
    } else {
        Admission::Wait(format!(
            "{heard} of {cluster_size} initial peers answered (this node included); waiting for a \
             majority before opening any Raft group"
        ))
    }
}

/// A fresh node joining through a member decides from that member's answer.
pub fn decide_join(me: u64, answer: &HelloReply) -> Admission {
    if let Some(why) = refusal(me, answer.node_id, answer.caller_state()) {
        return Admission::Refuse(why);
    }
    if answer.fresh || answer.shards == 0 {
        return Admission::Wait(format!(
            "node {} at the join address is not a running member yet",
            answer.node_id
        ));
    }
    Admission::Proceed {
        shards: Some(answer.shards),
    }
}

/// Asks the node at `addr` what it knows about node `me`.
pub async fn hello(peers: &Peers, addr: &str, me: u64) -> Result<HelloReply, tonic::Status> {
    let channel = peers.channel(addr)?;
    let mut client = ClusterClient::new(channel);
    let call = client.hello(peers.request(HelloRequest { node_id: me }));
    match tokio::time::timeout(HELLO_TIMEOUT, call).await {
        Ok(r) => r.map(|r| r.into_inner()),
        Err(_) => Err(tonic::Status::unavailable(format!("{addr} did not answer"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(node_id: u64, fresh: bool, state: NodeState) -> HelloReply {
        HelloReply {
            node_id,
            fresh,
            shards: if fresh { 0 } else { 4 },
            caller_state: state as i32,
            cluster_id: 0,
        }
    }

    #[test]
    fn a_new_cluster_starts_once_a_majority_has_answered() {
        let none = BTreeMap::new();
        assert!(matches!(decide_initial(1, 3, &none), Admission::Wait(_)));
        let one = BTreeMap::from([(2, reply(2, true, NodeState::Unknown))]);
        assert_eq!(
            decide_initial(1, 3, &one),
            Admission::Proceed { shards: None }
        );
        assert!(matches!(decide_initial(1, 5, &one), Admission::Wait(_)));
        assert_eq!(
            decide_initial(1, 1, &none),
            Admission::Proceed { shards: None }
        );
    }

    #[test]
    fn a_wiped_member_or_a_removed_id_is_refused() {
        let answers = BTreeMap::from([
            (2, reply(2, false, NodeState::Unknown)),
            (3, reply(3, false, NodeState::Active)),
        ]);
        let Admission::Refuse(why) = decide_initial(1, 3, &answers) else {
            panic!("must refuse");
        };
        assert!(why.contains("perdure cluster remove 1"), "{why}");
        let removed = reply(2, false, NodeState::Removed);
        assert!(matches!(decide_join(7, &removed), Admission::Refuse(_)));
    }

    #[test]
    fn a_join_needs_a_running_member() {
        assert!(matches!(
            decide_join(4, &reply(1, true, NodeState::Unknown)),
            Admission::Wait(_)
        ));
        assert_eq!(
            decide_join(4, &reply(1, false, NodeState::Unknown)),
            Admission::Proceed { shards: Some(4) }
        );
    }
}
