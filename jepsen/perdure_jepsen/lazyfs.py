"""The "lose unfsynced writes" fault, as Jepsen's LazyFS does it: every node's data directory is
a ``perdure-lazyfs`` mount (crates/perdure-lazyfs), a FUSE passthrough that holds written file
data in memory until the file is fsynced and, on a ``crash`` command, drops every change that
was not. A node that acknowledged a write before fsyncing it loses that write when it is killed
and its disk "crashes"; if a majority does at once, the cluster loses it.

Layout per node (``<run_dir>/n<slot>``): ``disk/`` is the backing directory (what was fsynced),
``data/`` (the node's ``--data-dir``) the mount, ``lazyfs.sock`` the control socket,
``lazyfs.log`` the daemon's log (every start, crash and the files it dropped data of).

The daemons run in the root namespace, one per slot, carrying the run's marker
(``net.MARKER_ENV``); the mount's source in /proc/mounts is ``perdure-lazyfs:<run tag>``, so
``net.cleanup_all`` and ``net.leftovers`` find both if a run dies. A node's process runs in a
mount namespace that ``ip netns exec`` copies when it starts, so the mount is made before the
node is spawned (``before_spawn``) and stays for the node's life.

What is lost and what is not: file data, truncations and extensions not fsynced. Directory
operations (create, rename, unlink, mkdir) are never lost (a weaker fault than LazyFS, which can
also lose entries whose directory was not fsynced); see crates/perdure-lazyfs/src/fs.rs.

Owns: the daemons, their mounts, sockets and logs, and the nemesis ``LoseUnfsynced``. Must
never: drop the writes of a node that still runs (the nemesis kills it first), mount over a
data directory that holds files, leave a mount or a daemon behind (``close``), or wait without
a deadline.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import net
from .nemesis import RESTART_HEALTHY_S, Context, Nemesis
from .nodes import REPO_ROOT, Node, NodeError, NodeHook

#: How long a daemon may take to mount and answer its control socket.
MOUNT_DEADLINE_S = 15.0
#: How long a daemon may take to unmount and exit after SIGTERM.
STOP_DEADLINE_S = 10.0
#: A crash waits for an fsync in progress; a control answer may take this long.
CONTROL_TIMEOUT_S = 30.0
POLL_S = 0.05
#: sockaddr_un holds 108 bytes with the NUL.
_MAX_SOCKET_PATH = 100


class LazyFsError(NodeError):
    """A daemon did not mount, answer or stop as expected (message carries its log tail). A
    NodeError: it is raised where a node is spawned, and handled there like one."""


def lazyfs_bin() -> Path:
    """PERDURE_LAZYFS_BIN, else target/release/perdure-lazyfs, else target/debug/perdure-lazyfs
    (the release path if neither exists, for the error message)."""
    env = os.environ.get("PERDURE_LAZYFS_BIN")
    if env:
        return Path(env)
    release = REPO_ROOT / "target" / "release" / "perdure-lazyfs"
    debug = REPO_ROOT / "target" / "debug" / "perdure-lazyfs"
    return release if release.exists() or not debug.exists() else debug


def preflight() -> str | None:
    """None if this process can mount perdure-lazyfs; otherwise why not (for a test's skip)."""
    if os.geteuid() != 0:
        return "needs root (mount(2) of /dev/fuse)"
    if not Path("/dev/fuse").exists():
        return "/dev/fuse is missing (no FUSE in this kernel or container)"
    if not lazyfs_bin().exists():
        return f"{lazyfs_bin()} not found: cargo build -p perdure-lazyfs"
    return None


def mounted_source(path: Path) -> str | None:
    """The source of the mount at ``path`` in this mount namespace (None: not a mount point).
    Read from /proc, never by touching the path (a dead FUSE mount answers ENOTCONN)."""
    want = os.path.realpath(path)
    found = None
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and net._unescape_mount(fields[1]) == want:
            found = net._unescape_mount(fields[0])  # the last one listed is on top
    return found


def control_path(node_dir: Path) -> Path:
    """``<node dir>/lazyfs.sock``, or a short path in the temporary directory if that is too
    long for a Unix socket."""
    path = Path(node_dir) / "lazyfs.sock"
    if len(str(path).encode()) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"perdure-lazyfs-{digest}.sock"


def ask(control: Path, command: str, timeout: float = CONTROL_TIMEOUT_S) -> str:
    """Sends one command line to a daemon's control socket; returns its answer line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(control))
        s.sendall(f"{command}\n".encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return buf.decode(errors="replace").strip()


def _counts(answer: str, what: str) -> dict[str, int]:
    parts = answer.split()
    if len(parts) != 3 or parts[0] != "ok" or not all(p.isdigit() for p in parts[1:]):
        raise LazyFsError(f"{what}: unexpected answer {answer!r}")
    return {"bytes": int(parts[1]), "files": int(parts[2])}


@dataclass
class Daemon:
    """One running perdure-lazyfs: ``backing`` mounted at ``mount``."""

    proc: subprocess.Popen
    mount: Path
    backing: Path
    control: Path
    log: Path
    fsname: str

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def ask(self, command: str, timeout: float = CONTROL_TIMEOUT_S) -> str:
        return ask(self.control, command, timeout)


def start_daemon(
    backing: Path,
    mount: Path,
    control: Path,
    log: Path,
    tag: str | None = None,
    binary: Path | None = None,
    deadline_s: float = MOUNT_DEADLINE_S,
    extra_args: tuple[str, ...] = (),
) -> Daemon:
    """Starts a daemon mounting ``backing`` at ``mount`` (an existing empty directory) and
    returns once it is mounted and answers on ``control``. With a run ``tag``, the daemon is
    marked with it and the mount's source is ``perdure-lazyfs:<tag>`` (cleanup finds both).
    ``extra_args``: more daemon flags (the tests' ``--ignore-fsync-of``)."""
    binary = Path(binary) if binary else lazyfs_bin()
    if not binary.exists():
        raise LazyFsError(f"{binary} not found: build it with `cargo build -p perdure-lazyfs`")
    mount = Path(os.path.realpath(mount))
    backing.mkdir(parents=True, exist_ok=True)
    if mounted_source(mount) is not None:
        raise LazyFsError(f"{mount} is already a mount point ({mounted_source(mount)})")
    if any(mount.iterdir()):
        raise LazyFsError(f"refusing to mount over {mount}: it holds files")
    fsname = f"{net.LAZYFS_FSNAME}:{tag}" if tag else net.LAZYFS_FSNAME
    env = {k: v for k, v in os.environ.items() if k != net.MARKER_ENV}
    if tag:
        env[net.MARKER_ENV] = tag
    command = [
        str(binary), "--backing", str(backing), "--mount", str(mount),
        "--control", str(control), "--fsname", fsname, *extra_args,
    ]  # fmt: skip
    with open(log, "ab") as fh:
        fh.write(f"\n===== start at {time.strftime('%H:%M:%S')}: {' '.join(command)}\n".encode())
        fh.flush()
        proc = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    daemon = Daemon(proc, mount, backing, control, log, fsname)
    until = time.monotonic() + deadline_s
    last = "not asked yet"
    while True:
        if proc.poll() is not None:
            raise LazyFsError(
                f"perdure-lazyfs for {mount} exited with {proc.returncode} before it was "
                f"mounted\n{daemon.log_tail()}"
            )
        if mounted_source(mount) == fsname:
            try:
                last = daemon.ask("ping", timeout=2.0)
                if last == "ok":
                    return daemon
            except OSError as e:
                last = repr(e)
        if time.monotonic() > until:
            stop_daemon(daemon)
            raise LazyFsError(
                f"perdure-lazyfs for {mount} not up within {deadline_s}s (last answer: {last})\n"
                f"{daemon.log_tail()}"
            )
        time.sleep(POLL_S)


def stop_daemon(daemon: Daemon, deadline_s: float = STOP_DEADLINE_S) -> None:
    """SIGTERM (the daemon unmounts, lazily, and exits), SIGKILL if it does not in time, then a
    lazy unmount of whatever is still mounted there. Unsynced data is lost. Idempotent."""
    proc = daemon.proc
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(timeout=deadline_s)
            except subprocess.TimeoutExpired:
                pass
    if mounted_source(daemon.mount) == daemon.fsname:
        net.unmount_lazy(str(daemon.mount))
    try:
        if daemon.control.is_socket():
            daemon.control.unlink()
    except OSError:
        pass


class LazyFsHook(NodeHook):
    """Puts every node's data directory on a perdure-lazyfs mount (see the module comment).
    ``tag``: the run tag to mark daemons and mounts with (default: that of the network holding
    the node's address, ``net.network_of``; none outside a suite run)."""

    def __init__(self, run_dir: Path, binary: Path | None = None, tag: str | None = None):
        self.run_dir = Path(run_dir)
        self.binary = Path(binary) if binary else lazyfs_bin()
        self.tag = tag
        self.daemons: dict[int, Daemon] = {}
        #: slot -> its Node (the cluster's own object: ``running`` is live)
        self.nodes: dict[int, Node] = {}
        self._lock = threading.RLock()

    def _tag(self, node: Node) -> str | None:
        if self.tag:
            return self.tag
        found = net.network_of(node.ip)
        return found.tag if found else None

    def before_spawn(self, node: Node) -> None:
        with self._lock:
            self.nodes[node.slot] = node
            daemon = self.daemons.get(node.slot)
            if daemon is not None:
                alive = daemon.proc.poll() is None
                if alive and mounted_source(node.data_dir) == daemon.fsname:
                    return
                stop_daemon(daemon)  # a dead daemon leaves a dead mount behind
                del self.daemons[node.slot]
            self.daemons[node.slot] = start_daemon(
                backing=node.dir / "disk",
                mount=node.data_dir,
                control=control_path(node.dir),
                log=node.dir / "lazyfs.log",
                tag=self._tag(node),
                binary=self.binary,
            )

    def before_wipe(self, node: Node) -> None:
        with self._lock:
            daemon = self.daemons.pop(node.slot, None)
            if daemon is not None:
                stop_daemon(daemon)
            shutil.rmtree(node.dir / "disk", ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            for slot in sorted(self.daemons):
                stop_daemon(self.daemons.pop(slot))

    def _daemon(self, slot: int) -> Daemon:
        with self._lock:
            daemon = self.daemons.get(slot)
        if daemon is None or daemon.proc.poll() is not None:
            raise LazyFsError(f"slot {slot} has no running perdure-lazyfs")
        return daemon

    def lose_unfsynced(self, slot: int) -> dict[str, int]:
        """Drops every unfsynced change on slot's disk ("crash"; its node must be dead).
        Returns the daemon's answer: ``{"bytes": dropped, "files": files}``."""
        node = self.nodes.get(slot)
        if node is not None and node.running:
            raise LazyFsError(f"slot {slot} still runs: kill it before dropping its writes")
        daemon = self._daemon(slot)
        try:
            answer = daemon.ask("crash")
        except OSError as e:
            raise LazyFsError(f"slot {slot}: crash: {e!r}\n{daemon.log_tail()}") from None
        return _counts(answer, f"slot {slot}: crash")

    def unsynced(self, slot: int) -> dict[str, int]:
        """What a crash would drop on slot's disk now: ``{"bytes": ..., "files": ...}``."""
        daemon = self._daemon(slot)
        try:
            answer = daemon.ask("status")
        except OSError as e:
            raise LazyFsError(f"slot {slot}: status: {e!r}") from None
        return _counts(answer, f"slot {slot}: status")


class LoseUnfsynced(Nemesis):
    """SIGKILL one live slot, or (with probability ``all_nodes_p``, from the seeded rng) every
    node of the cluster at once, then drop every unfsynced write on their disks; stop restarts
    them and waits (bounded) for their /health. Losing a majority's unfsynced writes together
    is the case that matters: a write acknowledged before a quorum fsynced it is gone."""

    kind = "lazyfs"

    def __init__(
        self, all_nodes_p: float = 1 / 3, healthy_deadline_s: float = RESTART_HEALTHY_S
    ) -> None:
        self.all_nodes_p = all_nodes_p
        self.healthy_deadline_s = healthy_deadline_s
        self.victims: list[int] = []

    def start(self, ctx: Context) -> dict:
        hook = ctx.cluster.hook(LazyFsHook)
        if hook is None:
            return {"skipped": "the cluster has no LazyFsHook (run.py HOOKS['lazyfs'])"}
        live = ctx.cluster.live()
        if not live:
            return {"skipped": "no live slot"}
        everyone = ctx.rng.random() < self.all_nodes_p
        members = list(getattr(ctx.cluster, "members", ctx.cluster.slots))
        victims = members if everyone else [ctx.rng.choice(live)]
        detail: dict[str, Any] = {
            "slots": victims,
            "all": everyone,
            "node_ids": {str(s): i for s, i in ctx.ids(victims).items()},
            "pids": {str(s): ctx.cluster.node(s).pid for s in victims},
            "dropped": {},
            "errors": {},
        }
        self.victims.extend(victims)  # first: stop restarts them even after a partial start
        for s in victims:
            ctx.cluster.kill(s)
        for s in victims:
            try:
                detail["dropped"][str(s)] = hook.lose_unfsynced(s)
            except LazyFsError as e:
                detail["errors"][str(s)] = str(e).splitlines()[0]
        detail["dropped_bytes"] = sum(d["bytes"] for d in detail["dropped"].values())
        return detail

    def stop(self, ctx: Context) -> dict:
        detail: dict[str, Any] = {"restarted": [], "errors": {}}
        victims = list(dict.fromkeys(self.victims))
        self.victims = []
        t0 = time.monotonic()
        # Every victim first, then the waits: a node may not be healthy before a quorum is up.
        for victim in victims:
            try:
                ctx.cluster.restart(victim, wait=False)
                detail["restarted"].append(victim)
            except (NodeError, LazyFsError) as e:
                detail["errors"][str(victim)] = str(e).splitlines()[0]
        until = t0 + self.healthy_deadline_s
        for victim in detail["restarted"]:
            try:
                ctx.cluster.wait_healthy([victim], max(1.0, until - time.monotonic()))
                took = round(time.monotonic() - t0, 3)
                detail.setdefault("healthy_after_s", {})[str(victim)] = took
            except NodeError as e:
                detail["errors"][str(victim)] = str(e).splitlines()[0]
        return detail
