//! Which nodes vote in which group: a pure function of the groups' current voters, the active
//! nodes and the replication factor.
//!
//! It moves as few voters as it can: voters on nodes that are gone are replaced by the least
//! loaded active nodes, and then voter slots move one at a time from the most to the least
//! loaded node until no two nodes differ by more than one slot. Deterministic (ties go to the
//! lowest id and the lowest group), so every run on any node proposes the same target.

use std::collections::{BTreeMap, BTreeSet};

use perdure_storage::GroupId;

pub type Voters = BTreeMap<GroupId, BTreeSet<u64>>;

/// The voters every group should have. `rf` is capped by the number of active nodes; with no
/// active node the current voters are returned unchanged.
pub fn place(current: &Voters, active: &BTreeSet<u64>, rf: usize) -> Voters {
    if active.is_empty() {
        return current.clone();
    }
    let rf = rf.clamp(1, active.len());
    let mut desired: Voters = current
        .iter()
        .map(|(g, v)| (*g, v.intersection(active).copied().collect()))
        .collect();
    let mut load: BTreeMap<u64, usize> = active.iter().map(|n| (*n, 0)).collect();
    for voters in desired.values() {
        for n in voters {
            *load.entry(*n).or_default() += 1;
        }
    }
    for voters in desired.values_mut() {
        while voters.len() < rf {
            let Some(n) = active
                .iter()
                .filter(|n| !voters.contains(n))
                .min_by_key(|n| (load[*n], **n))
                .copied()
            else {
                break;
            };
            voters.insert(n);
            *load.entry(n).or_default() += 1;
        }
        while voters.len() > rf {
            let Some(n) = voters.iter().max_by_key(|n| (load[*n], **n)).copied() else {
                break;
            };
            voters.remove(&n);
            *load.entry(n).or_default() -= 1;
        }
    }
    // Each move narrows the gap between the two extremes; at most one move per slot.
    for _ in 0..desired.len() * rf {
        let (Some((&hi, &hi_load)), Some((&lo, &lo_load))) = (
            load.iter()
                .max_by_key(|(n, l)| (**l, std::cmp::Reverse(**n))),
            load.iter().min_by_key(|(n, l)| (**l, **n)),
        ) else {
            break;
        };
        if hi_load <= lo_load + 1 {
            break;
        }
        let Some(voters) = desired
            .values_mut()
            .find(|v| v.contains(&hi) && !v.contains(&lo))
        else {
            break;
        };
        voters.remove(&hi);
        voters.insert(lo);
        *load.entry(hi).or_default() -= 1;
        *load.entry(lo).or_default() += 1;
    }
    desired
}

/// Which node each group's leadership should move to so that no two nodes lead more than one
/// group apart (where the voter sets allow it). A leader only moves to one of the group's
/// voters; `leaders` maps each group to its current leader. Returns only the groups that move.
///
/// Each step finds a chain from a most-loaded node to a node two or more below it (a leads
/// group x where b votes, b leads group y where c votes, ...) and shifts leadership one link
/// along it, so the ends change by one and the middle stays even.
pub fn leader_moves(
    voters: &Voters,
    leaders: &BTreeMap<GroupId, u64>,
    nodes: &BTreeSet<u64>,
) -> BTreeMap<GroupId, u64> {
    let mut led: BTreeMap<u64, usize> = nodes.iter().map(|n| (*n, 0)).collect();
    for l in leaders.values() {
        *led.entry(*l).or_default() += 1;
    }
    let mut current = leaders.clone();
    for _ in 0..leaders.len() * nodes.len().max(1) {
        let (Some(&max), Some(&min)) = (led.values().max(), led.values().min()) else {
            break;
        };
        if max <= min + 1 {
            break;
        }
        let mut queue: std::collections::VecDeque<u64> = led
            .iter()
            .filter(|(_, l)| **l == max)
            .map(|(n, _)| *n)
            .collect();
        let mut seen: BTreeSet<u64> = queue.iter().copied().collect();
        let mut prev: BTreeMap<u64, (u64, GroupId)> = BTreeMap::new();
        let mut sink = None;
        while let Some(n) = queue.pop_front() {
            if led[&n] + 2 <= max {
                sink = Some(n);
                break;
            }
            for (g, _) in current.iter().filter(|(_, l)| **l == n) {
                for m in voters.get(g).into_iter().flatten() {
                    if led.contains_key(m) && seen.insert(*m) {
                        prev.insert(*m, (n, *g));
                        queue.push_back(*m);
                    }
                }
            }
        }
        let Some(sink) = sink else {
            break;
        };
        let mut at = sink;
        while let Some(&(from, g)) = prev.get(&at) {
            current.insert(g, at);
            at = from;
        }
        *led.entry(sink).or_default() += 1;
        *led.entry(at).or_default() -= 1;
    }
    current
        .into_iter()
        .filter(|(g, l)| leaders.get(g) != Some(l))
        .collect()
}

/// Largest voter set in which a handover can win (`perdure_raft::transfer`): the target wins
/// with two votes, its own and the old leader's, because the other followers refuse votes while
/// they hear from a leader. With more voters a handover only forces an election.
pub const MAX_HANDOVER_VOTERS: usize = 3;

/// What the controller does next for a group whose voters are not yet `want`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoterStep {
    /// Move leadership to this voter (which stays) first; the change follows next round, on
    /// the new leader, so the group never waits out an election.
    HandOver(u64),
    /// Make the change now. If the leader loses its vote it steps down once the change
    /// commits, and the group waits out one election.
    SetVoters,
}

/// The next step towards `want` for a group with these `voters`, led by `leader`. A handover
/// only where it can win: with more voters (a group bootstrapped with every initial peer as a
/// voter) each attempt forced an election that the leaving leader could win again, round
/// after round, and the group kept its voters and a churning term.
pub fn voter_step(leader: Option<u64>, voters: &BTreeSet<u64>, want: &BTreeSet<u64>) -> VoterStep {
    match leader {
        Some(l) if !want.contains(&l) && voters.len() <= MAX_HANDOVER_VOTERS => want
            .intersection(voters)
            .next()
            .map_or(VoterStep::SetVoters, |to| VoterStep::HandOver(*to)),
        _ => VoterStep::SetVoters,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_leaving_leader_hands_over_only_where_a_handover_can_win() {
        let set = |v: &[u64]| v.iter().copied().collect::<BTreeSet<u64>>();
        // Three voters, leader 3 leaves: hand over to a voter that stays.
        assert_eq!(
            voter_step(Some(3), &set(&[1, 2, 3]), &set(&[1, 2, 4])),
            VoterStep::HandOver(1)
        );
        // Five voters (a 5-peer bootstrap), leader 4 leaves: a handover cannot win, so the
        // change is made directly (regression: it retried handovers forever).
        assert_eq!(
            voter_step(Some(4), &set(&[1, 2, 3, 4, 5]), &set(&[1, 2, 3])),
            VoterStep::SetVoters
        );
        // The leader stays, no leader, or no voter that stays: change directly.
        assert_eq!(
            voter_step(Some(1), &set(&[1, 2, 3]), &set(&[1, 2, 4])),
            VoterStep::SetVoters
        );
        assert_eq!(
            voter_step(None, &set(&[1, 2, 3]), &set(&[1, 2, 4])),
            VoterStep::SetVoters
        );
        assert_eq!(
            voter_step(Some(3), &set(&[1, 2, 3]), &set(&[4, 5, 6])),
            VoterStep::SetVoters
        );
    }

    use super::*;

    fn ids(v: &[u64]) -> BTreeSet<u64> {
        v.iter().copied().collect()
    }

    fn all_on(groups: u32, nodes: &[u64]) -> Voters {
        (0..groups).map(|g| (GroupId(g), ids(nodes))).collect()
    }

    fn loads(v: &Voters) -> BTreeMap<u64, usize> {
        let mut l = BTreeMap::new();
        for voters in v.values() {
            for n in voters {
                *l.entry(*n).or_default() += 1;
            }
        }
        l
    }

    #[test]
    fn a_new_node_takes_an_even_share_and_nothing_else_moves() {
        let current = all_on(17, &[1, 2, 3]);
        let desired = place(&current, &ids(&[1, 2, 3, 4]), 3);
        assert!(desired.values().all(|v| v.len() == 3));
        let l = loads(&desired);
        let (min, max) = (l.values().min().unwrap(), l.values().max().unwrap());
        assert!(max - min <= 1, "{l:?}");
        // 51 slots over 4 nodes: node 4 gets 12 or 13, taken one per group it joins.
        let changed = desired.iter().filter(|(g, v)| current[g] != **v).count();
        assert_eq!(changed, l[&4]);
    }

    #[test]
    fn a_removed_node_is_replaced_by_the_least_loaded() {
        let current = place(&all_on(17, &[1, 2, 3]), &ids(&[1, 2, 3, 4, 5]), 3);
        let desired = place(&current, &ids(&[1, 2, 4, 5]), 3);
        assert!(desired.values().all(|v| v.len() == 3 && !v.contains(&3)));
        let l = loads(&desired);
        assert!(
            l.values().max().unwrap() - l.values().min().unwrap() <= 1,
            "{l:?}"
        );
    }

    #[test]
    fn fewer_nodes_than_the_factor_means_every_node_votes() {
        let desired = place(&all_on(5, &[1, 2, 3]), &ids(&[1, 2]), 3);
        assert!(desired.values().all(|v| *v == ids(&[1, 2])));
    }

    #[test]
    fn placement_is_stable_once_balanced() {
        let once = place(&all_on(17, &[1, 2, 3]), &ids(&[1, 2, 3, 4, 5]), 3);
        assert_eq!(place(&once, &ids(&[1, 2, 3, 4, 5]), 3), once);
    }

    #[test]
    fn leaders_spread_within_one() {
        let voters = place(&all_on(17, &[1, 2, 3]), &ids(&[1, 2, 3, 4, 5]), 3);
        // Worst case: node 1 leads every group it votes in, the rest wherever they vote.
        let leaders: BTreeMap<GroupId, u64> = voters
            .iter()
            .map(|(g, v)| {
                (
                    *g,
                    if v.contains(&1) {
                        1
                    } else {
                        *v.iter().next().unwrap()
                    },
                )
            })
            .collect();
        let moves = leader_moves(&voters, &leaders, &ids(&[1, 2, 3, 4, 5]));
        let mut after = leaders.clone();
        for (g, to) in &moves {
            assert!(voters[g].contains(to), "moves only to a voter");
            after.insert(*g, *to);
        }
        let mut led: BTreeMap<u64, usize> = (1..=5).map(|n| (n, 0)).collect();
        for l in after.values() {
            *led.get_mut(l).unwrap() += 1;
        }
        assert!(
            led.values().max().unwrap() - led.values().min().unwrap() <= 1,
            "{led:?}"
        );
        assert!(leader_moves(&voters, &after, &ids(&[1, 2, 3, 4, 5])).is_empty());
    }
}
