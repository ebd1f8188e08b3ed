"""The membership nemesis: the cluster grows by a node and shrinks by another while the workload
runs, as an operator replacing a machine does.

The run's network has one spare slot (``Cluster(spares=1)``): a namespace and an address with
no node. ``start`` starts a node there under a new node id with ``--join`` (it becomes a learner
of every group, is promoted to voter as it catches up, and takes its share of leaderships);
``stop`` removes one of the other members with ``perdure cluster remove`` *while it still runs*
(its voters move away, it leaves every group, possibly the meta group it leads) and then stops
it, so its slot is the next spare. The size of the cluster is back where it was; over a run the
nodes rotate through the slots and their ids only grow.

Owns: choosing which member leaves (from ``ctx.rng``), and retrying a removal that the cluster
asks to retry elsewhere (a meta leader removing itself first hands the meta group over).
Must never: remove a node before its replacement is healthy, remove the last voters of a group
(one member leaves per fault, and only once the cluster is one larger), or wait without a bound.
"""

from __future__ import annotations

import time
from typing import Any

from .nemesis import RESTART_HEALTHY_S, Context, Nemesis
from .nodes import NodeError

#: A removal answered "retry" (the meta leader handed over) is tried this often, via other nodes.
REMOVE_ATTEMPTS = 4


class MemberChange(Nemesis):
    """Start: a new node joins on the spare slot. Stop: a member (``target`` "random", or
    "leader": the one leading most groups) other than the newcomer is removed, then stopped."""

    kind = "member"

    def __init__(self, target: str = "random", healthy_deadline_s: float = RESTART_HEALTHY_S):
        if target not in ("random", "leader"):
            raise ValueError(f"target must be 'random' or 'leader', not {target!r}")
        self.target = target
        self.healthy_deadline_s = healthy_deadline_s
        #: Slots added by a start whose matching removal has not happened yet.
        self.added: list[int] = []

    def start(self, ctx: Context) -> dict:
        cluster = ctx.cluster
        spares = [s for s in cluster.slots if not cluster.node(s).member]
        live = cluster.live()
        if not spares:
            return {"skipped": "no spare slot (the run needs Cluster(spares=1))"}
        if not live:
            return {"skipped": "no live member to join through"}
        slot = ctx.rng.choice(spares)
        via = ctx.rng.choice(live)
        detail: dict[str, Any] = {"slot": slot, "via_node_id": cluster.node_id(via)}
        t0 = time.monotonic()
        try:
            detail["node_id"] = cluster.add_node(slot, via, wait=False)
            self.added.append(slot)
            cluster.wait_healthy([slot], self.healthy_deadline_s)
            detail["healthy_after_s"] = round(time.monotonic() - t0, 3)
        except NodeError as e:
            detail["error"] = str(e).splitlines()[0]
        return detail

    def stop(self, ctx: Context) -> dict:
        detail: dict[str, Any] = {"removed": [], "errors": []}
        while self.added:
            newcomer = self.added.pop()
            candidates = [s for s in ctx.cluster.live() if s != newcomer]
            if not candidates:
                detail["errors"].append("no live member to remove")
                continue
            victim = self._victim(ctx, candidates)
            removed = self._remove(ctx, victim, detail)
            if removed is not None:
                detail["removed"].append(
                    {"slot": victim, "node_id": removed, "replaced_by_slot": newcomer}
                )
        return detail

    def _victim(self, ctx: Context, candidates: list[int]) -> int:
        if self.target == "leader":
            try:
                counts = ctx.cluster.leader_counts()
                best = max(counts[s] for s in candidates)
                return ctx.rng.choice([s for s in candidates if counts[s] == best])
            except NodeError:
                pass  # no view: fall back to a random member
        return ctx.rng.choice(candidates)

    def _remove(self, ctx: Context, victim: int, detail: dict) -> int | None:
        """``retire_node`` through another live member, retried through others when the
        cluster answers that the removal must be retried (bounded)."""
        for attempt in range(REMOVE_ATTEMPTS):
            vias = [s for s in ctx.cluster.live() if s != victim]
            if not vias:
                detail["errors"].append(f"no live member to remove slot {victim} through")
                return None
            via = ctx.rng.choice(vias)
            t0 = time.monotonic()
            try:
                old = ctx.cluster.retire_node(victim, via)
                detail.setdefault("remove_took_s", []).append(round(time.monotonic() - t0, 3))
                return old
            except NodeError as e:
                detail["errors"].append(f"attempt {attempt + 1}: {str(e).splitlines()[0][:300]}")
        return None
