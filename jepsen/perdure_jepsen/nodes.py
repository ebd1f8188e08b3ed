"""The cluster under test: N ``perdure start`` processes, each in its own network namespace of a
``net.Network``, and what they say about themselves over HTTP.

A *slot* is a host: a namespace and an address (10.77.<k>.<slot>), fixed for the run. A *node
id* is Perdure's ``--node-id``: slot i starts as node i, and after ``wipe_and_rejoin`` the same
slot runs a new node id (ids are never reused, README "A cluster"). Nemeses target slots;
``/cluster`` views speak of node ids; ``slot_of`` / ``node_id`` translate.

Every node listens on its slot's address with the same ports (API 7233, HTTP 7243, internal
7333): the addresses differ, the ports need not. The cluster secret reaches the nodes as
PERDURE_CLUSTER_SECRET, never on a command line; any other PERDURE_* variable of the caller is
dropped, so a node's configuration is exactly what this module passes.

Run directory (kept after the run, for reading): ``<run_dir>/n<slot>/data`` (``--data-dir``),
``<run_dir>/n<slot>/node.log`` (stdout+stderr, appended, one ``===== start`` line per start),
``<run_dir>/nodes.json`` (addresses, ids, secret-free command lines; rewritten on each change).

Owns: spawning, SIGKILL, SIGTERM, SIGSTOP/SIGCONT, restart, wipe-and-rejoin of nodes; reading
``/health``, ``/cluster`` (CLUSTER-CLI.md) and ``/cluster/checksums``. Every wait polls a
condition until a deadline; no sleep is used as synchronization. Blocking API (threads and
``subprocess``): call it from a worker thread (``asyncio.to_thread``) in async code.

Nemeses that must wrap a node's process or disk (a clock offset through LD_PRELOAD, a FUSE
layer under the data directory) plug in as a ``NodeHook`` (``Cluster(hooks=[...])``): it adds
to a node's environment, prepares before each spawn, is told before a data directory is
wiped, and is closed after every node is dead.

Must never: share a data directory between node ids, reuse a node id, or leave a process
behind (``close`` kills them; ``Network.teardown`` kills anything left in the namespaces).
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .net import Network

REPO_ROOT = Path(__file__).resolve().parents[2]
API_PORT = 7233
HTTP_PORT = 7243
INTERNAL_PORT = 7333
DEFAULT_SHARDS = 16
DEFAULT_REPLICATION = 3
#: A release build replays its logs and elects leaders for every group well within this.
START_DEADLINE_S = 60.0
#: How long one HTTP request may take before the node counts as unreachable. A paused node
#: accepts the TCP connection (the kernel does) but never answers: this is what it costs.
HTTP_TIMEOUT_S = 2.0
POLL_S = 0.1
#: How long after SIGKILL/SIGTERM a process may take to be reaped.
EXIT_WAIT_S = 15.0

_UNREACHABLE = (OSError, http.client.HTTPException)
#: Never through a proxy from the environment: every node is on the suite's bridge.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NodeHook:
    """Wraps every node process of a cluster. Each method is called with the cluster's lock
    held, so a hook never sees two of its nodes change at once. The defaults do nothing."""

    def env(self, node: "Node") -> dict[str, str]:
        """Extra environment of ``node``'s next process."""
        return {}

    def before_spawn(self, node: "Node") -> None:
        """Right before ``node``'s process starts (its data directory exists)."""

    def before_wipe(self, node: "Node") -> None:
        """``node``'s process is dead and its data directory is about to be deleted."""

    def close(self) -> None:
        """Every node is dead: undo whatever was set up (must be safe to call twice)."""


def perdure_bin() -> Path:
    return Path(os.environ.get("PERDURE_BIN") or REPO_ROOT / "target" / "release" / "perdure")


class NodeError(RuntimeError):
    """A node did not start, stop or answer as expected (message carries log tails)."""


# --- a node's /cluster view ----------------------------------------------------------------


@dataclass(frozen=True)
class GroupView:
    group: int
    leader: int | None
    term: int
    #: Leader, Follower, Candidate or Learner (openraft's state of this node in the group).
    state: str | None
    #: On a node that says it leads: how long ago a quorum last acknowledged it (ms).
    millis_since_quorum_ack: int | None
    last_log_index: int | None
    committed: int | None
    applied: int | None
    snapshot_index: int | None
    purged_index: int | None
    voters: tuple[int, ...]
    learners: tuple[int, ...]
    replication: dict[int, int | None] | None


@dataclass(frozen=True)
class NodeView:
    """One node's answer to GET /cluster, with the time (monotonic ns) it was received."""

    node_id: int
    serving: bool | None
    groups: dict[int, GroupView]
    at_ns: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def led(self) -> dict[int, GroupView]:
        """Groups this node says it leads itself (whether or not a quorum still follows it)."""
        return {g: v for g, v in self.groups.items() if v.leader == self.node_id}

    def led_with_quorum(self, within_ms: int) -> dict[int, GroupView]:
        """Groups this node leads and a quorum acknowledged within ``within_ms``."""
        return {
            g: v
            for g, v in self.led().items()
            if v.millis_since_quorum_ack is not None and v.millis_since_quorum_ack <= within_ms
        }

    def summary(self) -> str:
        rows = " ".join(
            f"g{g}:L={v.leader},t={v.term},a={v.applied}"
            + (f",ack={v.millis_since_quorum_ack}ms" if v.leader == self.node_id else "")
            for g, v in sorted(self.groups.items())
        )
        return f"node {self.node_id}: {rows}"


def _int(doc: dict, key: str, where: str, optional: bool = False) -> int | None:
    value = doc.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise NodeError(f"{where}: {key!r} is {value!r}, expected an integer")
    return value


def parse_view(doc: Any, where: str, at_ns: int = 0) -> NodeView:
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise NodeError(f"{where}: /cluster is not a view: {str(doc)[:300]}")
    groups: dict[int, GroupView] = {}
    for g in doc["groups"]:
        gid = _int(g, "group", where)
        w = f"{where} group {gid}"
        rep = g.get("replication")
        groups[gid] = GroupView(
            group=gid,
            leader=_int(g, "leader", w, True),
            term=_int(g, "term", w),
            state=g.get("state"),
            millis_since_quorum_ack=_int(g, "millis_since_quorum_ack", w, True),
            last_log_index=_int(g, "last_log_index", w, True),
            committed=_int(g, "committed", w, True),
            applied=_int(g, "applied", w, True),
            snapshot_index=_int(g, "snapshot_index", w, True),
            purged_index=_int(g, "purged_index", w, True),
            voters=tuple(g.get("voters") or ()),
            learners=tuple(g.get("learners") or ()),
            replication=None if rep is None else {int(k): v for k, v in rep.items()},
        )
    return NodeView(
        node_id=_int(doc, "node_id", where),
        serving=doc.get("serving"),
        groups=groups,
        at_ns=at_ns,
        raw=doc,
    )


def merge_leaders(views: Iterable[NodeView]) -> dict[int, int | None]:
    """Group -> leader as these views see it (tests/python/cluster.py's rule): a node that says
    it leads a group is believed first (the highest term if several do); otherwise the leader
    named with the highest term by anyone; otherwise None."""
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
    return {g: (self_reported.get(g) or named.get(g) or (0, None))[1] for g in sorted(groups)}


def http_get(addr: str, path: str, timeout: float = HTTP_TIMEOUT_S) -> tuple[int, str]:
    """(status, body); an HTTP error status is an answer too. Raises OSError/HTTPException."""
    try:
        with _OPENER.open(f"http://{addr}{path}", timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode(errors="replace")


# --- nodes ---------------------------------------------------------------------------------


@dataclass
class Node:
    slot: int
    node_id: int
    ip: str
    dir: Path
    proc: subprocess.Popen | None = None
    paused: bool = False
    starts: int = 0
    #: False for a spare slot (no node yet, or its node was removed from the cluster): not
    #: started, restarted or handed to clients until ``add_node`` makes it a member.
    member: bool = True
    #: Started with --join (not one of the initial --peers): it restarts with --join too.
    joined: bool = False
    #: The last command line (without the secret, which is in the environment).
    command: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def log_path(self) -> Path:
        return self.dir / "node.log"

    @property
    def api_addr(self) -> str:
        return f"{self.ip}:{API_PORT}"

    @property
    def http_addr(self) -> str:
        return f"{self.ip}:{HTTP_PORT}"

    @property
    def internal_addr(self) -> str:
        return f"{self.ip}:{INTERNAL_PORT}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])


class Cluster:
    """``size`` perdure nodes, slot i in namespace ``net.ns(i)``, started with one --peers list.

    ``with Cluster(net, run_dir) as c:`` starts it (waits until every node is healthy) and
    kills every node on exit. The network must be created first and torn down after.
    """

    def __init__(
        self,
        net: Network,
        run_dir: Path | str,
        shards: int = DEFAULT_SHARDS,
        replication: int | None = None,
        binary: Path | str | None = None,
        secret: str | None = None,
        extra_args: Iterable[str] = (),
        start_deadline_s: float = START_DEADLINE_S,
        rust_log: str | None = None,
        env: dict[str, str] | None = None,
        hooks: Iterable[NodeHook] = (),
        spares: int = 0,
    ) -> None:
        if not net.created:
            raise NodeError("create the network first")
        self.net = net
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.shards = shards
        self.replication = replication or min(DEFAULT_REPLICATION, net.size)
        self.binary = Path(binary) if binary else perdure_bin()
        if not self.binary.exists():
            raise NodeError(
                f"{self.binary} not found: build it with `cargo build --release -p perdure-server`"
            )
        self.secret = secret or secrets.token_hex(16)
        self.extra_args = tuple(extra_args)
        self.start_deadline_s = start_deadline_s
        self.rust_log = rust_log
        #: Extra environment of every node (e.g. PERDURE_TEST_BREAK for a deliberately broken
        #: server): the only PERDURE_* variables a node gets besides the secret.
        self.extra_env = dict(env or {})
        self.hooks: list[NodeHook] = list(hooks)
        if not 0 <= spares < net.size:
            raise NodeError(f"{spares} spare slots in a network of {net.size}")
        first_spare = net.size - spares + 1
        self.nodes: dict[int, Node] = {
            s: Node(
                slot=s, node_id=s, ip=net.ip(s), dir=self.run_dir / f"n{s}",
                member=s < first_spare,
            )
            for s in net.slots
        }  # fmt: skip
        self.peers = ",".join(
            f"{n.node_id}={n.internal_addr}" for n in self.nodes.values() if n.member
        )
        self._next_id = net.size + 1
        #: node ids removed from the cluster for good (wipe_and_rejoin)
        self.retired: list[int] = []
        self._lock = threading.RLock()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(4, 2 * net.size), thread_name_prefix="pj-http"
        )

    # -- addresses ------------------------------------------------------------------------

    @property
    def slots(self) -> list[int]:
        return sorted(self.nodes)

    @property
    def groups(self) -> list[int]:
        """Every Raft group: 0 is the meta group, 1..=shards the history shards."""
        return list(range(self.shards + 1))

    @property
    def members(self) -> list[int]:
        """Slots whose node belongs to the cluster (running or not): not spares."""
        return [s for s in self.slots if self.nodes[s].member]

    def node(self, slot: int) -> Node:
        try:
            return self.nodes[slot]
        except KeyError:
            raise KeyError(f"no slot {slot} in {self.slots}") from None

    def node_id(self, slot: int) -> int:
        return self.node(slot).node_id

    def slot_of(self, node_id: int) -> int | None:
        """The slot running ``node_id`` now (None for a retired or unknown id)."""
        for n in self.nodes.values():
            if n.node_id == node_id:
                return n.slot
        return None

    def api_addrs(self) -> dict[int, str]:
        """member slot -> host:port of its Temporal API, for clients and workers."""
        return {s: n.api_addr for s, n in self.nodes.items() if n.member}

    def live(self, exclude: Iterable[int] = ()) -> list[int]:
        """Slots whose process runs and is not paused, minus ``exclude``."""
        skip = set(exclude)
        return [
            s for s in self.slots
            if s not in skip and self.nodes[s].running and not self.nodes[s].paused
        ]  # fmt: skip

    # -- processes --------------------------------------------------------------------------

    def hook(self, kind: type) -> Any:
        """The hook of type ``kind`` (None if the cluster has none)."""
        return next((h for h in self.hooks if isinstance(h, kind)), None)

    def _env(self, node: Node | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERDURE_")}
        env["PERDURE_CLUSTER_SECRET"] = self.secret
        env["NO_COLOR"] = "1"  # plain node.log, greppable
        if self.rust_log is not None:
            env["RUST_LOG"] = self.rust_log
        env.update(self.extra_env)
        if node is not None:
            for h in self.hooks:
                env.update(h.env(node))
        return env

    def _spawn(self, node: Node, join: str | None = None) -> None:
        if node.running:
            raise NodeError(f"slot {node.slot} (node {node.node_id}) is already running")
        node.dir.mkdir(parents=True, exist_ok=True)
        node.data_dir.mkdir(parents=True, exist_ok=True)
        for h in self.hooks:
            h.before_spawn(node)
        node.command = [
            str(self.binary), "start",
            "--node-id", str(node.node_id),
            "--api-addr", node.api_addr,
            "--internal-addr", node.internal_addr,
            "--http-addr", node.http_addr,
            "--data-dir", str(node.data_dir),
            *(["--join", join] if join else ["--peers", self.peers]),
            "--shards", str(self.shards),
            "--replication", str(self.replication),
            *self.extra_args,
        ]  # fmt: skip
        with open(node.log_path, "ab") as log:
            log.write(
                f"\n===== start #{node.starts + 1} at {time.strftime('%H:%M:%S')} "
                f"(monotonic_ns {time.monotonic_ns()}) in {self.net.ns(node.slot)}: "
                f"{' '.join(node.command)}\n".encode()
            )
            log.flush()
            node.proc = self.net.popen(
                node.slot,
                node.command,
                env=self._env(node),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        node.paused = False
        node.starts += 1
        self._write_manifest()

    def _signal(self, node: Node, sig: int) -> None:
        assert node.proc is not None
        try:
            os.killpg(node.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _wait_exit(self, node: Node, deadline_s: float) -> int | None:
        if node.proc is None:
            return None
        try:
            return node.proc.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            raise NodeError(
                f"slot {node.slot} (node {node.node_id}) still running {deadline_s}s after a signal"
            ) from None

    def start(self, deadline_s: float | None = None) -> None:
        """Spawns every member that is not running, then waits until all are healthy."""
        with self._lock:
            for node in self.nodes.values():
                if node.member and not node.running:
                    self._spawn(node)
        self.wait_healthy(
            self.members, self.start_deadline_s if deadline_s is None else deadline_s
        )

    def kill(self, slot: int) -> None:
        """SIGKILL (a paused node too); returns once the process is reaped."""
        with self._lock:
            node = self.node(slot)
            if not node.running:
                node.paused = False
                return
            self._signal(node, signal.SIGKILL)
            self._wait_exit(node, EXIT_WAIT_S)
            node.paused = False

    def stop(self, slot: int, deadline_s: float = 30.0) -> int | None:
        """SIGTERM (SIGCONT first if paused), then waits; SIGKILL if it does not exit in time
        (and raises). Returns the exit code."""
        with self._lock:
            node = self.node(slot)
            if not node.running:
                return None if node.proc is None else node.proc.returncode
            if node.paused:
                self._signal(node, signal.SIGCONT)
                node.paused = False
            self._signal(node, signal.SIGTERM)
            try:
                return self._wait_exit(node, deadline_s)
            except NodeError:
                self.kill(slot)
                raise NodeError(
                    f"slot {slot} ignored SIGTERM for {deadline_s}s (SIGKILLed)\n{node.log_tail()}"
                )

    def restart(self, slot: int, wait: bool = True, deadline_s: float | None = None) -> None:
        """Same node id and data directory; SIGKILLs it first if it still runs. With ``wait``,
        until its /health answers 200."""
        with self._lock:
            node = self.node(slot)
            if node.running:
                self.kill(slot)
            join = None
            if node.joined:
                # Its --peers would not list its id: it joins again, through any live member
                # (a restarted node registers through the address it is given; when every
                # node is down, through one that the caller restarts next).
                others = self.live(exclude=[slot]) or [m for m in self.members if m != slot]
                if not others:
                    raise NodeError(f"slot {slot} joined the cluster; no member to rejoin")
                join = self.node(others[0]).internal_addr
            self._spawn(node, join=join)
        if wait:
            self.wait_healthy([slot], self.start_deadline_s if deadline_s is None else deadline_s)

    def pause(self, slot: int) -> None:
        """SIGSTOP: the process stays, its sockets stay open, it answers nothing."""
        with self._lock:
            node = self.node(slot)
            if not node.running:
                raise NodeError(f"slot {slot} is not running")
            self._signal(node, signal.SIGSTOP)
            node.paused = True

    def resume(self, slot: int) -> None:
        """SIGCONT."""
        with self._lock:
            node = self.node(slot)
            if node.running:
                self._signal(node, signal.SIGCONT)
            node.paused = False

    def remove_node(self, node_id: int, via_slot: int, timeout_s: float = 120.0) -> str:
        """``perdure cluster remove <node_id>`` through slot ``via_slot``'s internal address
        (sent from the root namespace, over the bridge). Returns its output."""
        via = self.node(via_slot).internal_addr
        env = self._env()
        try:
            out = subprocess.run(
                [str(self.binary), "cluster", "remove", str(node_id), "--via", via],
                capture_output=True, text=True, timeout=timeout_s, env=env,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise NodeError(
                f"cluster remove {node_id} via {via}: no answer within {timeout_s}s"
            ) from None
        if out.returncode != 0:
            raise NodeError(
                f"cluster remove {node_id} via {via} failed ({out.returncode}): "
                f"{out.stdout}{out.stderr}"
            )
        return out.stdout + out.stderr

    def wipe_and_rejoin(
        self,
        slot: int,
        via_slot: int | None = None,
        wait: bool = True,
        deadline_s: float | None = None,
    ) -> int:
        """The disk of ``slot`` is lost: SIGKILL, delete its data directory, remove its node id
        from the cluster (``perdure cluster remove`` through ``via_slot``, default the first
        other live slot), then start the slot again under a new node id with ``--join`` (it is
        restored by snapshot). With ``wait``, until it is healthy. Returns the new node id.

        (A wiped node restarted under its old id refuses to start: it would vote with a
        forgotten log; tests/python/test_cluster_recovery.py checks that refusal.)"""
        with self._lock:
            node = self.node(slot)
            self.kill(slot)
            for h in self.hooks:
                h.before_wipe(node)
            shutil.rmtree(node.data_dir, ignore_errors=True)
            if via_slot is None:
                others = self.live(exclude=[slot])
                if not others:
                    raise NodeError(f"no live slot to remove node {node.node_id} through")
                via_slot = others[0]
            old = node.node_id
            self.remove_node(old, via_slot)
            self.retired.append(old)
            new = self._join(node, via_slot)
        if wait:
            self.wait_healthy([slot], self.start_deadline_s if deadline_s is None else deadline_s)
        return new

    def _join(self, node: Node, via_slot: int) -> int:
        """Starts ``node`` under a fresh node id, joining through ``via_slot``."""
        node.node_id = self._next_id
        self._next_id += 1
        node.member = True
        node.joined = True
        self._spawn(node, join=self.node(via_slot).internal_addr)
        return node.node_id

    def add_node(
        self, slot: int, via_slot: int, wait: bool = True, deadline_s: float | None = None
    ) -> int:
        """Grows the cluster: spare ``slot`` starts with an empty data directory under a new
        node id and ``--join``s through ``via_slot`` (it becomes a learner of every group, then
        takes its share of voters and leaderships). Returns the new node id."""
        with self._lock:
            node = self.node(slot)
            if node.member or node.running:
                raise NodeError(f"slot {slot} is not a spare (node {node.node_id} is there)")
            for h in self.hooks:
                h.before_wipe(node)
            shutil.rmtree(node.data_dir, ignore_errors=True)
            new = self._join(node, via_slot)
        if wait:
            self.wait_healthy([slot], self.start_deadline_s if deadline_s is None else deadline_s)
        return new

    def retire_node(self, slot: int, via_slot: int) -> int:
        """Shrinks the cluster: ``perdure cluster remove`` of the node at ``slot`` through
        ``via_slot`` while it still runs (the cluster moves its voters away and drops it from
        every group first), then stops it; the slot becomes a spare. Returns the removed id."""
        with self._lock:
            node = self.node(slot)
            if not node.member:
                raise NodeError(f"slot {slot} is a spare")
            old = node.node_id
            self.remove_node(old, via_slot)
            self.retired.append(old)
            node.member = False
            try:
                self.stop(slot)
            finally:
                self._write_manifest()
        return old

    def close(self) -> None:
        """Kills every node (the run directory stays)."""
        with self._lock:
            for slot in self.slots:
                try:
                    self.kill(slot)
                except NodeError:
                    pass
            self._write_manifest()
            for h in self.hooks:
                h.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> "Cluster":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write_manifest(self) -> None:
        doc = {
            "network": self.net.describe(),
            "shards": self.shards,
            "replication": self.replication,
            "binary": str(self.binary),
            "retired_node_ids": self.retired,
            "nodes": {
                s: {
                    "node_id": n.node_id,
                    "ns": self.net.ns(s),
                    "api": n.api_addr,
                    "http": n.http_addr,
                    "internal": n.internal_addr,
                    "dir": str(n.dir),
                    "starts": n.starts,
                    "member": n.member,
                    "command": n.command,
                }
                for s, n in self.nodes.items()
            },
        }
        tmp = self.run_dir / "nodes.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1))
        tmp.replace(self.run_dir / "nodes.json")

    # -- what the nodes say -----------------------------------------------------------------

    def get(self, slot: int, path: str, timeout: float = HTTP_TIMEOUT_S) -> tuple[int, str]:
        return http_get(self.node(slot).http_addr, path, timeout)

    def _gather(
        self, slots: Iterable[int], path: str, timeout: float
    ) -> dict[int, tuple[int, str] | BaseException]:
        futures = {s: self._pool.submit(self.get, s, path, timeout) for s in slots}
        out: dict[int, tuple[int, str] | BaseException] = {}
        for s, f in futures.items():
            try:
                out[s] = f.result(timeout=timeout + 5)
            except (*_UNREACHABLE, concurrent.futures.TimeoutError) as e:
                out[s] = e
        return out

    def health(self, slot: int) -> tuple[int, str] | BaseException:
        try:
            return self.get(slot, "/health")
        except _UNREACHABLE as e:
            return e

    def wait_healthy(self, slots: Iterable[int], deadline_s: float) -> None:
        """Until GET /health of each slot answers 200; fails if one's process exits first."""
        pending = list(slots)
        last: dict[int, str] = {s: "not asked yet" for s in pending}
        until = time.monotonic() + deadline_s
        while pending:
            for s in pending:
                node = self.node(s)
                if not node.running:
                    code = None if node.proc is None else node.proc.returncode
                    raise NodeError(
                        f"slot {s} (node {node.node_id}) exited with {code} before it was "
                        f"healthy\n{self.log_tails()}"
                    )
            answers = self._gather(pending, "/health", HTTP_TIMEOUT_S)
            for s, a in answers.items():
                last[s] = repr(a) if isinstance(a, BaseException) else f"{a[0]} {a[1].strip()!r}"
                if not isinstance(a, BaseException) and a[0] == 200:
                    pending.remove(s)
            if not pending:
                return
            if time.monotonic() > until:
                waiting = ", ".join(f"slot {s}: {last[s]}" for s in pending)
                raise NodeError(
                    f"not healthy within {deadline_s}s ({waiting})\n{self.log_tails()}"
                )
            time.sleep(POLL_S)

    def view(self, slot: int, timeout: float = HTTP_TIMEOUT_S) -> NodeView:
        """GET /cluster of one slot; raises NodeError if it does not answer 200."""
        try:
            code, body = self.get(slot, "/cluster", timeout)
        except _UNREACHABLE as e:
            raise NodeError(f"slot {slot}: GET /cluster failed: {e!r}") from None
        return self._parse(slot, code, body)

    def _parse(self, slot: int, code: int, body: str) -> NodeView:
        where = f"slot {slot} GET /cluster"
        if code != 200:
            raise NodeError(f"{where}: HTTP {code}: {body[:300]!r}")
        try:
            return parse_view(json.loads(body), where, time.monotonic_ns())
        except json.JSONDecodeError as e:
            raise NodeError(f"{where}: not JSON ({e}): {body[:300]!r}") from None

    def views(
        self, slots: Iterable[int] | None = None, timeout: float = HTTP_TIMEOUT_S
    ) -> dict[int, NodeView]:
        """slot -> /cluster view, asked in parallel of ``slots`` (default: every live slot);
        a slot that does not answer is left out."""
        slots = self.live() if slots is None else list(slots)
        out = {}
        for s, a in self._gather(slots, "/cluster", timeout).items():
            if not isinstance(a, BaseException):
                out[s] = self._parse(s, *a)
        return out

    def leaders(self, slots: Iterable[int] | None = None) -> dict[int, int | None]:
        """Group -> leader *node id* as these slots see it (merge_leaders)."""
        return merge_leaders(self.views(slots).values())

    def leader_slots(self, slots: Iterable[int] | None = None) -> dict[int, int | None]:
        """Group -> slot of its leader as these slots see it (None: no leader or unknown)."""
        return {g: (None if n is None else self.slot_of(n)) for g, n in self.leaders(slots).items()}

    def leader_counts(self, slots: Iterable[int] | None = None) -> dict[int, int]:
        """slot -> number of groups it leads as ``slots`` see it (every slot listed)."""
        counts = {s: 0 for s in self.slots}
        for s in self.leader_slots(slots).values():
            if s is not None:
                counts[s] += 1
        return counts

    def wait_all_groups_led(
        self, among: Iterable[int] | None = None, deadline_s: float = 30.0
    ) -> dict[int, int]:
        """Until every group has a leader in ``among`` (slots; default every live slot) that
        says so itself, as the ``among`` slots see it. Returns group -> leader slot."""
        among = self.live() if among is None else list(among)
        until = time.monotonic() + deadline_s
        while True:
            views = self.views(among)
            leaders = merge_leaders(views.values())
            found = {g: self.slot_of(l) for g, l in leaders.items() if l is not None}
            # The leader must be in among, must have answered, and must itself say it leads.
            missing = [
                g for g in self.groups
                if found.get(g) not in among
                or found[g] not in views
                or g not in views[found[g]].led()
            ]  # fmt: skip
            if not missing:
                return {g: found[g] for g in self.groups}  # type: ignore[misc]
            if time.monotonic() > until:
                raise NodeError(
                    f"groups without a leader among slots {among} after {deadline_s}s: "
                    f"{ {g: leaders.get(g) for g in missing} }\n"
                    + "\n".join(v.summary() for v in views.values())
                )
            time.sleep(POLL_S)

    def checksums(self, slot: int, timeout: float = 30.0) -> dict[int, tuple[int | None, int, int]]:
        """GET /cluster/checksums of one slot: group -> (applied index, pairs, crc32) of the
        groups it holds a replica of."""
        try:
            code, body = self.get(slot, "/cluster/checksums", timeout)
        except _UNREACHABLE as e:
            raise NodeError(f"slot {slot}: GET /cluster/checksums failed: {e!r}") from None
        if code != 200:
            raise NodeError(f"slot {slot}: GET /cluster/checksums: HTTP {code}: {body[:300]}")
        return {g["group"]: (g["applied"], g["pairs"], g["crc32"]) for g in json.loads(body)}

    def wait_identical_replicas(
        self, deadline_s: float = 30.0, slots: Iterable[int] | None = None
    ) -> dict[int, tuple]:
        """Until every group's checksum is the same on every slot holding it (same applied
        index, pairs, crc32). Returns group -> checksum; raises with the differences."""
        slots = self.live() if slots is None else list(slots)
        until = time.monotonic() + deadline_s
        while True:
            sums = {s: self.checksums(s) for s in slots}
            groups = set().union(*(x.keys() for x in sums.values())) if sums else set()
            differing = {
                g: {s: x[g] for s, x in sums.items() if g in x}
                for g in groups
                if len({x[g] for x in sums.values() if g in x}) != 1
            }
            if not differing:
                return {g: next(x[g] for x in sums.values() if g in x) for g in sorted(groups)}
            if time.monotonic() > until:
                raise NodeError(
                    f"replicas differ after {deadline_s}s "
                    f"(group: slot -> (applied, pairs, crc32)): {differing}"
                )
            time.sleep(0.5)

    # -- diagnostics --------------------------------------------------------------------------

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for s, n in sorted(self.nodes.items()):
            if n.paused:
                state = "paused"
            else:
                state = "running" if n.running else f"exited {n.proc and n.proc.returncode}"
            parts.append(
                f"==== slot {s} node {n.node_id} ({state}; {n.ip}; log {n.log_path})\n"
                + n.log_tail(lines)
            )
        return "\n".join(parts)
