"""Starts, kills, restarts and inspects a multi-node perdure cluster on 127.0.0.1.

Owns: the nodes' ports (api, internal, http), their data directories under one temp work
directory, the generated cluster secret and the shared ``--peers`` list, one log file per node
(``<workdir>/node-<id>/server.log``), reading each node's ``/health`` and ``/cluster``
(docs: /work/spec/CLUSTER-CLI.md) and deciding which node leads which Raft group as the live
nodes see it. Process handling (spawn, SIGKILL, log tails) is harness.ServerUnderTest's.

Must never: share a data directory or a port between two nodes; wait on anything without a
deadline or use a sleep as synchronization (every wait polls a condition until its deadline);
block the event loop on HTTP (the SDK worker of the test runs on the same loop).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import secrets
import shutil
import signal
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from temporalio.client import Client

from harness import NAMESPACE, ServerError, ServerUnderTest, free_port, perdure_bin, port_open

#: A debug build replays its logs and elects leaders for every group before /health says SERVING.
START_DEADLINE_S = 90.0
#: How long one HTTP request to a node may take before the node counts as unreachable.
HTTP_TIMEOUT_S = 2.0
POLL_S = 0.05
#: The server's defaults (CLUSTER-CLI.md); passed explicitly so a node never depends on them.
DEFAULT_SHARDS = 16
DEFAULT_REPLICATION = 3
HOST = "127.0.0.1"

#: What a node that is down, starting or stuck answers instead of an HTTP response.
_UNREACHABLE = (OSError, http.client.HTTPException)
#: Never through a proxy from the environment: every node is on localhost.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ContractError(AssertionError):
    """A node answered, but not as CLUSTER-CLI.md says it must."""


# --- a node's /cluster view ----------------------------------------------------------------


@dataclass(frozen=True)
class GroupView:
    group: int
    leader: int | None
    term: int
    #: None on a node whose log/state machine holds nothing yet (just started, not replicated to)
    last_log_index: int | None
    committed: int | None
    applied: int | None
    snapshot_index: int | None
    purged_index: int | None
    voters: tuple[int, ...]
    learners: tuple[int, ...]
    #: matched log index per node id (None: nothing matched yet); only the leader reports it
    replication: dict[int, int | None] | None


@dataclass(frozen=True)
class NodeView:
    """One node's answer to GET /cluster."""

    node_id: int
    groups: dict[int, GroupView]
    raw: dict[str, Any] = field(repr=False, compare=False)

    def led(self) -> dict[int, GroupView]:
        """The groups this node says it leads itself."""
        return {g: v for g, v in self.groups.items() if v.leader == self.node_id}

    def summary(self) -> str:
        rows = " ".join(
            f"g{g}:L={v.leader},t={v.term},c={v.committed},a={v.applied}"
            for g, v in sorted(self.groups.items())
        )
        return f"node {self.node_id}: {rows}"


def _field(doc: dict, key: str, source: str, kinds: tuple[type, ...]) -> Any:
    if key not in doc:
        raise ContractError(f"{source}: no {key!r} in {json.dumps(doc)[:300]}")
    value = doc[key]
    # bool is an int in Python, and never a valid id, index or term.
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ContractError(f"{source}: {key!r} is {value!r}, expected {kinds}")
    return value


def _ids(values: list, source: str, key: str) -> tuple[int, ...]:
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ContractError(f"{source}: {key!r} holds a non-integer node id: {values!r}")
    return tuple(values)


def parse_group(doc: dict, source: str) -> GroupView:
    group = _field(doc, "group", source, (int,))
    where = f"{source} group {group}"
    replication = _field(doc, "replication", where, (dict, type(None)))
    try:
        matched = None if replication is None else {int(k): v for k, v in replication.items()}
    except ValueError:
        raise ContractError(f"{where}: replication keys are not node ids: {replication!r}")
    # null: the leader has not matched any entry on that replica yet (not in the contract's
    # example, but what the server answers for a fresh replica).
    if matched is not None and not all(isinstance(v, (int, type(None))) for v in matched.values()):
        raise ContractError(f"{where}: replication values are not indexes: {replication!r}")
    return GroupView(
        group=group,
        leader=_field(doc, "leader", where, (int, type(None))),
        term=_field(doc, "term", where, (int,)),
        last_log_index=_field(doc, "last_log_index", where, (int, type(None))),
        committed=_field(doc, "committed", where, (int, type(None))),
        applied=_field(doc, "applied", where, (int, type(None))),
        snapshot_index=_field(doc, "snapshot_index", where, (int, type(None))),
        purged_index=_field(doc, "purged_index", where, (int, type(None))),
        voters=_ids(_field(doc, "voters", where, (list,)), where, "voters"),
        learners=_ids(_field(doc, "learners", where, (list,)), where, "learners"),
        replication=matched,
    )


def parse_view(doc: Any, source: str) -> NodeView:
    """Checks a /cluster answer against the contract; ``source`` names the node in errors."""
    if not isinstance(doc, dict):
        raise ContractError(f"{source}: /cluster is not a JSON object: {doc!r:.300}")
    node_id = _field(doc, "node_id", source, (int,))
    groups: dict[int, GroupView] = {}
    for g in _field(doc, "groups", source, (list,)):
        if not isinstance(g, dict):
            raise ContractError(f"{source}: a group is not a JSON object: {g!r:.300}")
        view = parse_group(g, source)
        if view.group in groups:
            raise ContractError(f"{source}: group {view.group} listed twice")
        groups[view.group] = view
    return NodeView(node_id=node_id, groups=groups, raw=doc)


def merge_leaders(views: Iterable[NodeView]) -> dict[int, int | None]:
    """Group -> leader as these views see it. A node that says it leads a group is believed
    first (the highest term if several do); otherwise the leader named with the highest term
    by anyone; otherwise None (the group is known but nobody names a leader)."""
    self_reported: dict[int, tuple[int, int]] = {}
    named: dict[int, tuple[int, int]] = {}
    groups: set[int] = set()
    for view in views:
        for g, gv in view.groups.items():
            groups.add(g)
            if gv.leader is None:
                continue
            pick = self_reported if gv.leader == view.node_id else named
            if g not in pick or gv.term > pick[g][0]:
                pick[g] = (gv.term, gv.leader)
    return {
        g: (self_reported.get(g) or named.get(g) or (0, None))[1] for g in sorted(groups)
    }


def count_leaders(leaders: dict[int, int | None], node_ids: Iterable[int]) -> dict[int, int]:
    """Node -> number of groups it leads (0 for a node that leads none)."""
    counts = {n: 0 for n in node_ids}
    for leader in leaders.values():
        if leader is not None:
            counts[leader] = counts.get(leader, 0) + 1
    return counts


# --- processes -----------------------------------------------------------------------------


def _http_get(url: str, timeout: float = HTTP_TIMEOUT_S) -> tuple[int, str]:
    """(status, body); an HTTP error status is an answer too. Raises _UNREACHABLE errors."""
    try:
        with _OPENER.open(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode(errors="replace")


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    for _ in range(count * 50):
        port = free_port()
        if port not in ports:
            ports.append(port)
        if len(ports) == count:
            return ports
    raise ServerError(f"could not find {count} distinct free ports")


@dataclass
class ClusterNode(ServerUnderTest):
    """One ``perdure start`` process; ``port`` is its API port, ``aux_ports`` its (http,
    internal) ports. Use through ``Cluster``: ServerUnderTest's start/restart wait for a
    single-node server, the cluster waits for /health instead."""

    node_id: int = 0
    peers: str = ""
    #: Internal address of a member to join through, instead of ``peers``.
    join: str = ""
    secret: str = ""
    shards: int = DEFAULT_SHARDS
    replication: int = DEFAULT_REPLICATION
    #: More ``perdure start`` flags (e.g. ``--snapshot-every 200``).
    extra_args: tuple[str, ...] = ()

    @property
    def http_port(self) -> int:
        return self.aux_ports[0]

    @property
    def internal_port(self) -> int:
        return self.aux_ports[1]

    @property
    def api_addr(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def http_addr(self) -> str:
        return f"{HOST}:{self.http_port}"

    @property
    def internal_addr(self) -> str:
        return f"{HOST}:{self.internal_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _command(self) -> list[str]:
        binary = perdure_bin()
        if not binary.exists():
            raise ServerError(f"{binary} not found: build it with `cargo build -p perdure-server`")
        return [
            str(binary),
            "start",
            "--node-id", str(self.node_id),
            "--api-addr", self.api_addr,
            "--internal-addr", self.internal_addr,
            "--http-addr", self.http_addr,
            "--data-dir", str(self.data_dir),
            *(["--join", self.join] if self.join else ["--peers", self.peers]),
            "--shards", str(self.shards),
            "--replication", str(self.replication),
            "--cluster-secret", self.secret,
            *self.extra_args,
        ]  # fmt: skip

    def get(self, path: str) -> tuple[int, str]:
        return _http_get(f"http://{self.http_addr}{path}")


class Cluster:
    """N ``perdure start`` nodes with ids 1..N, all on 127.0.0.1, started with one --peers list.

    ``async with Cluster() as c:`` starts it and closes it; a test that fails marks it
    (``report_failure``) so ``close`` keeps its work directory and shows the node logs.
    """

    def __init__(
        self,
        size: int = 3,
        shards: int = DEFAULT_SHARDS,
        replication: int | None = None,
        start_deadline_s: float = START_DEADLINE_S,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if size < 1:
            raise ValueError(f"a cluster needs at least one node, not {size}")
        self.shards = shards
        self.start_deadline_s = start_deadline_s
        self.workdir = Path(tempfile.mkdtemp(prefix="perdure-cluster-"))
        self.secret = secrets.token_hex(16)
        self.extra_args = extra_args
        self.replication = replication or DEFAULT_REPLICATION
        ports = distinct_free_ports(3 * size)
        ids = range(1, size + 1)
        api = dict(zip(ids, ports[0:size]))
        internal = dict(zip(ids, ports[size : 2 * size]))
        http_ = dict(zip(ids, ports[2 * size :]))
        self.peers = ",".join(f"{i}={HOST}:{internal[i]}" for i in ids)
        self.nodes: dict[int, ClusterNode] = {
            i: ClusterNode(
                kind="perdure",
                node_id=i,
                port=api[i],
                aux_ports=(http_[i], internal[i]),
                workdir=self.workdir / f"node-{i}",
                peers=self.peers,
                secret=self.secret,
                shards=shards,
                replication=replication or min(DEFAULT_REPLICATION, size),
                extra_args=extra_args,
            )
            for i in ids
        }
        self._next_id = size + 1
        self.failed = False
        self._logs_reported = False

    # -- addresses ------------------------------------------------------------------------

    @property
    def node_ids(self) -> list[int]:
        return sorted(self.nodes)

    @property
    def groups(self) -> list[int]:
        """Every Raft group: 0 is the meta group, 1..=shards the history shards."""
        return list(range(self.shards + 1))

    def node(self, node_id: int) -> ClusterNode:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(f"no node {node_id} in a cluster of {self.node_ids}") from None

    def api_addr(self, node_id: int) -> str:
        return self.node(node_id).api_addr

    def http_addr(self, node_id: int) -> str:
        return self.node(node_id).http_addr

    def live(self, exclude: Iterable[int] = ()) -> list[int]:
        """Ids of the nodes whose process is running, minus ``exclude``."""
        skip = set(exclude)
        return [i for i in self.node_ids if i not in skip and self.nodes[i].running]

    async def client(self, node_id: int) -> Client:
        return await asyncio.wait_for(
            Client.connect(self.api_addr(node_id), namespace=NAMESPACE), 30
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawns every node that is not running, then waits until all of them are SERVING."""
        for node in self.nodes.values():
            if not node.running:
                node.spawn()
        await self.wait_healthy(self.node_ids, self.start_deadline_s)

    async def wait_healthy(self, node_ids: Iterable[int], deadline_s: float) -> None:
        """Until GET /health of each node answers 200 SERVING; fails if one exits first."""
        pending = list(node_ids)
        last: dict[int, str] = {i: "not asked yet" for i in pending}
        deadline = time.monotonic() + deadline_s
        while pending:
            for i in pending:
                proc = self.node(i).proc
                if proc is None or proc.poll() is not None:
                    code = None if proc is None else proc.returncode
                    raise ServerError(
                        f"node {i} exited with {code} before it was healthy\n" + self.log_tails()
                    )
            answers = await asyncio.gather(*(self._get(i, "/health") for i in pending))
            for i, answer in zip(list(pending), answers):
                if isinstance(answer, BaseException):
                    last[i] = repr(answer)
                    continue
                last[i] = f"{answer[0]} {answer[1].strip()!r}"
                if answer[0] == 200:
                    if answer[1].strip() != "SERVING":
                        raise ContractError(f"node {i}: /health 200 with body {answer[1]!r}")
                    pending.remove(i)
            if not pending:
                return
            if time.monotonic() > deadline:
                waiting = ", ".join(f"node {i}: {last[i]}" for i in pending)
                raise ServerError(
                    f"not healthy within {deadline_s}s ({waiting})\n" + self.log_tails()
                )
            await asyncio.sleep(POLL_S)

    def kill(self, node_id: int) -> None:
        """SIGKILL to the node's process group; returns once it is reaped."""
        self.node(node_id).kill()

    async def stop(self, node_id: int, deadline_s: float = 30.0) -> int:
        """SIGTERM, then waits for the exit; returns the exit code. A node that ignores SIGTERM
        until the deadline is SIGKILLed and reported."""
        node = self.node(node_id)
        if not node.running:
            raise ServerError(f"node {node_id} is not running")
        assert node.proc is not None
        os.killpg(node.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + deadline_s
        while node.proc.poll() is None:
            if time.monotonic() > deadline:
                node.kill()
                raise ServerError(
                    f"node {node_id} still running {deadline_s}s after SIGTERM (SIGKILLed)\n"
                    + node.log_tail()
                )
            await asyncio.sleep(POLL_S)
        return node.proc.returncode

    async def restart(self, node_id: int, wait: bool = True, deadline_s: float | None = None):
        """Brings a node back on the same ports and data directory (SIGKILLs it first if it is
        still running); with ``wait``, until its /health is SERVING."""
        node = self.node(node_id)
        if node.running:
            node.kill()
        deadline_s = self.start_deadline_s if deadline_s is None else deadline_s
        ports = (node.port, node.http_port, node.internal_port)
        deadline = time.monotonic() + deadline_s
        while any(port_open(p) for p in ports):
            if time.monotonic() > deadline:
                raise ServerError(f"node {node_id}: ports {ports} still taken after its exit")
            await asyncio.sleep(POLL_S)
        node.spawn()
        if wait:
            await self.wait_healthy([node_id], max(1.0, deadline - time.monotonic()))

    async def add_node(self, via: int, wait: bool = True) -> int:
        """Starts a new node (the next unused id, fresh ports and data directory) that joins
        through node ``via``'s internal port; with ``wait``, until it is SERVING. Returns its id."""
        # Node ids are never reused, not even the id of a node that was removed.
        node_id = self._next_id
        self._next_id += 1
        api, http_, internal = distinct_free_ports(3)
        node = ClusterNode(
            kind="perdure",
            node_id=node_id,
            port=api,
            aux_ports=(http_, internal),
            workdir=self.workdir / f"node-{node_id}",
            join=self.node(via).internal_addr,
            secret=self.secret,
            shards=self.shards,
            replication=self.replication,
            extra_args=self.extra_args,
        )
        self.nodes[node_id] = node
        node.spawn()
        if wait:
            await self.wait_healthy([node_id], self.start_deadline_s)
        return node_id

    def forget(self, node_id: int) -> None:
        """Drops a stopped node from the harness (after ``perdure cluster remove``), keeping
        its log in the work directory."""
        node = self.node(node_id)
        if node.running:
            raise ServerError(f"node {node_id} is running; stop it before forgetting it")
        del self.nodes[node_id]

    async def wait_exit(self, node_id: int, deadline_s: float = 60.0) -> int:
        """Waits until the node's process exits on its own; returns its exit code."""
        node = self.node(node_id)
        assert node.proc is not None
        deadline = time.monotonic() + deadline_s
        while node.proc.poll() is None:
            if time.monotonic() > deadline:
                raise ServerError(f"node {node_id} still running after {deadline_s}s")
            await asyncio.sleep(POLL_S)
        return node.proc.returncode

    async def checksums(self, node_id: int) -> dict[int, tuple[int | None, int, int]]:
        """GET /cluster/checksums of one node: group -> (applied index, pairs, crc32)."""
        answer = await self._get(node_id, "/cluster/checksums")
        if isinstance(answer, BaseException) or answer[0] != 200:
            raise ServerError(f"node {node_id}: GET /cluster/checksums failed: {answer!r}")
        return {
            g["group"]: (g["applied"], g["pairs"], g["crc32"]) for g in json.loads(answer[1])
        }

    def wipe(self, node_id: int) -> None:
        """Deletes a stopped node's data directory: it comes back as a node that lost its disk."""
        node = self.node(node_id)
        if node.running:
            raise ServerError(f"node {node_id} is running; kill or stop it before wiping")
        shutil.rmtree(node.data_dir, ignore_errors=True)

    def close(self, failed: bool | None = None) -> None:
        """Kills every node. On failure shows the node logs (unless a test report already
        carries them) and keeps the work directory; on success removes it, unless
        PERDURE_KEEP_DATA is set."""
        failed = self.failed if failed is None else failed
        if failed and not self._logs_reported:
            print(self.log_tails(60))
        for node in self.nodes.values():
            node.kill()
        if failed or os.environ.get("PERDURE_KEEP_DATA"):
            print(f"cluster data and logs kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def __aenter__(self) -> Cluster:
        try:
            await self.start()
        except BaseException as e:
            # A ServerError from start() carries the log tails already.
            self._logs_reported = isinstance(e, ServerError)
            self.close(failed=True)
            raise
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self.close(failed=self.failed or exc_type is not None)

    # -- what the nodes say ---------------------------------------------------------------

    async def _get(self, node_id: int, path: str) -> tuple[int, str] | BaseException:
        try:
            return await asyncio.to_thread(self.node(node_id).get, path)
        except _UNREACHABLE as e:
            return e

    async def status(self, node_id: int) -> NodeView:
        """GET /cluster of one node, checked against the contract."""
        answer = await self._get(node_id, "/cluster")
        if isinstance(answer, BaseException):
            raise ServerError(f"node {node_id}: GET /cluster failed: {answer!r}")
        return self._parse_cluster(node_id, answer)

    def _parse_cluster(self, node_id: int, answer: tuple[int, str]) -> NodeView:
        code, body = answer
        source = f"node {node_id} GET /cluster"
        if code != 200:
            raise ContractError(f"{source}: HTTP {code}: {body[:300]!r}")
        try:
            view = parse_view(json.loads(body), source)
        except json.JSONDecodeError as e:
            raise ContractError(f"{source}: not JSON ({e}): {body[:300]!r}") from None
        if view.node_id != node_id:
            raise ContractError(f"{source}: says it is node {view.node_id}")
        return view

    async def views(self, exclude: Iterable[int] = ()) -> dict[int, NodeView]:
        """/cluster of every live node not in ``exclude`` that answers (a node that does not
        answer is left out; one that answers against the contract fails the call)."""
        ids = self.live(exclude)
        answers = await asyncio.gather(*(self._get(i, "/cluster") for i in ids))
        return {
            i: self._parse_cluster(i, a)
            for i, a in zip(ids, answers)
            if not isinstance(a, BaseException)
        }

    async def leaders(self, exclude: Iterable[int] = ()) -> dict[int, int | None]:
        """Group -> leader id as the live nodes (minus ``exclude``) see it; see merge_leaders."""
        return merge_leaders((await self.views(exclude)).values())

    async def leader_counts(self) -> dict[int, int]:
        """Node -> number of groups it leads, every node listed (0 if it leads none)."""
        return count_leaders(await self.leaders(), self.node_ids)

    async def wait_all_groups_led(
        self, exclude: Iterable[int] = (), deadline: float = 60.0
    ) -> dict[int, int]:
        """Until every group (0..=shards) has a leader that is a live node not in ``exclude``,
        as the live nodes not in ``exclude`` see it; ``deadline`` is in seconds from now.
        Returns group -> leader."""
        skip = set(exclude)
        until = time.monotonic() + deadline
        while True:
            leaders = await self.leaders(skip)
            live = set(self.live(skip))
            missing = [g for g in self.groups if leaders.get(g) not in live]
            if not missing:
                return {g: leaders[g] for g in self.groups}  # type: ignore[misc]
            if time.monotonic() > until:
                seen = {g: leaders.get(g) for g in missing}
                raise ServerError(
                    f"groups without a live leader after {deadline}s (group: leader seen): "
                    f"{seen}; live nodes {sorted(live)}\n" + self.log_tails()
                )
            await asyncio.sleep(POLL_S)

    async def wait_new_leaders(
        self,
        old_terms: dict[int, int],
        since: float,
        among: Iterable[int],
        deadline: float,
        interval: float = POLL_S,
    ) -> dict[int, float | None]:
        """For each group in ``old_terms`` (group -> term of the leader that is gone), the
        seconds from ``since`` (a time.monotonic() value) until a node in ``among`` says it leads
        the group in a later term. Polls their /cluster every ``interval`` until all have one
        or ``deadline`` (seconds from now) passes; a group still leaderless then maps to None."""
        nodes = list(among)
        skip = set(self.node_ids) - set(nodes)
        found: dict[int, float | None] = {g: None for g in old_terms}
        until = time.monotonic() + deadline
        while any(v is None for v in found.values()) and time.monotonic() <= until:
            views = await self.views(skip)
            now = time.monotonic()
            for view in views.values():
                for g, gv in view.led().items():
                    if g in found and found[g] is None and gv.term > old_terms[g]:
                        found[g] = now - since
            if any(v is None for v in found.values()):
                await asyncio.sleep(interval)
        return found

    # -- diagnostics ----------------------------------------------------------------------

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for i, node in sorted(self.nodes.items()):
            state = "running" if node.running else f"exited {node.proc and node.proc.returncode}"
            parts.append(
                f"==== node {i} ({state}; api {node.api_addr}, http {node.http_addr}, "
                f"internal {node.internal_addr}; log {node.log_path})\n" + node.log_tail(lines)
            )
        return "\n".join(parts)

    def report_failure(self) -> str:
        """Marks the cluster failed and returns what to read first: each live node's /cluster
        view and every node's log tail. (Blocking HTTP: for test reports, not for tests.)"""
        self.failed = True
        self._logs_reported = True
        views = []
        for i in self.live():
            try:
                views.append(self._parse_cluster(i, self.node(i).get("/cluster")).summary())
            except (*_UNREACHABLE, ContractError) as e:
                views.append(f"node {i}: /cluster unavailable: {e!r}")
        return "\n".join(["---- /cluster views ----", *views, self.log_tails(60)])
