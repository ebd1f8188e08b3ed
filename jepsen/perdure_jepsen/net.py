"""The test network of the partition-fault suite: one Linux network namespace per node, joined
by veth pairs to a bridge in the root namespace, where the suite's clients run.

Layout of one run (``tag`` = ``pj-<4 hex>-``, chosen per run so that parallel and leftover runs
can be told apart and removed; every name the suite creates starts with ``SUITE_PREFIX``):

    root namespace      bridge  <tag>br     10.77.<k>.254/24   (clients reach the nodes here)
                        veth    <tag>h<i>   on the bridge, no address
    namespace <tag>n<i> veth    <tag>p<i>   10.77.<k>.<i>/24, lo up, no default route

``k`` is 0 unless another run's bridge already uses 10.77.0.0/24. A node's namespace has a route
to its /24 only, so nothing in it can send traffic anywhere but the addresses created here.
IPv6 is off on every interface created (no router solicitations or MLD reports leave them).

Partitions are iptables rules inside the namespaces, in one chain per namespace, ``<tag>nem``
(see ``Network.set_grudge``); deleting a namespace deletes its rules. Processes started in a
namespace (``Network.popen``) carry ``MARKER_ENV=<tag>`` in their environment, so a leftover is
found even if its namespace is already gone. The FUSE mounts of the lazyfs nemesis (lazyfs.py)
have the source ``perdure-lazyfs:<tag>`` in /proc/mounts; cleanup unmounts them lazily.

Owns: creating and deleting those objects, cutting and healing links between namespaces, and
finding and removing leftovers (``cleanup_all``: every run whose owning process is gone, read
from its bridge's alias, so parallel runs never remove each other; ``leftovers``: the check).
Cleanup runs on every exit path: ``with Network(...)``, ``atexit``, and SIGINT/SIGTERM handlers
installed on first use (a signal that was ignored stays ignored).

Must never: touch an interface, namespace, route or iptables rule whose name does not start with
the suite's prefix; flush or change a chain it did not create; change a global sysctl (only the
per-interface ones of its own interfaces, and namespace-local ones inside its namespaces).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterable, Mapping

#: Every namespace, link, chain and process marker of the suite starts with this.
SUITE_PREFIX = "pj-"
#: Environment variable carrying the run's tag in every process the suite starts in a namespace.
MARKER_ENV = "PERDURE_JEPSEN_RUN"
#: Source (fsname) of a perdure-lazyfs mount in /proc/mounts; a run's mounts add ":<tag>".
LAZYFS_FSNAME = "perdure-lazyfs"
#: Private range of the suite: 10.77.<k>.0/24, one /24 per concurrent run.
NET16 = ipaddress.ip_network("10.77.0.0/16")
BRIDGE_HOST = 254
MAX_NODES = 9
CMD_TIMEOUT_S = 20.0
#: How long teardown waits for the processes of a namespace to die after SIGKILL.
KILL_WAIT_S = 10.0

_TAG_RE = re.compile(rf"^{re.escape(SUITE_PREFIX)}[0-9a-f]{{4}}-$")


class NetError(RuntimeError):
    """A command of the network setup failed, or a precondition does not hold."""


# --- commands ------------------------------------------------------------------------------


def run(
    args: list[str], check: bool = True, timeout: float = CMD_TIMEOUT_S
) -> subprocess.CompletedProcess:
    """Runs one command (no shell); raises NetError with its output if ``check`` and it fails."""
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise NetError(f"{args[0]} not found ({e}); run jepsen/setup.sh") from None
    except subprocess.TimeoutExpired:
        raise NetError(f"{' '.join(args)}: no answer within {timeout}s") from None
    if check and out.returncode != 0:
        said = out.stderr.strip() or out.stdout.strip()
        raise NetError(f"{' '.join(args)} -> {out.returncode}: {said}")
    return out


def in_ns(ns: str, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    return run(["ip", "netns", "exec", ns, *args], check=check)


def iptables(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # -w: wait for the xtables lock instead of failing when another iptables call holds it.
    return in_ns(ns, ["iptables", "-w", "5", *args], check=check)


def preflight() -> str | None:
    """None if this process can build the network; otherwise why not (for a test's skip)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth, bridge and iptables)"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (run jepsen/setup.sh)"
    probe = f"{SUITE_PREFIX}probe-{os.getpid()}"
    try:
        with _machine_lock():  # so that no cleanup takes the probe for a stray
            run(["ip", "netns", "add", probe])
            try:
                in_ns(probe, ["ip", "link", "set", "lo", "up"])
                in_ns(probe, ["iptables", "-w", "5", "-S"])
            finally:
                run(["ip", "netns", "del", probe], check=False)
    except NetError as e:
        return f"`ip netns` or iptables in a namespace is unusable here: {e}"
    return None


def _write_sysctl(path: str, value: str) -> None:
    """Per-interface sysctl of an interface the suite created (never a global one)."""
    try:
        Path(path).write_text(value)
    except OSError:
        pass  # IPv6 compiled out, or the file does not exist: nothing to switch off.


# --- finding the suite's objects ------------------------------------------------------------


def list_namespaces(prefix: str = SUITE_PREFIX) -> list[str]:
    out = run(["ip", "netns", "list"], check=False)
    names = [line.split()[0] for line in out.stdout.splitlines() if line.strip()]
    return sorted(n for n in names if n.startswith(prefix))


def list_links(prefix: str = SUITE_PREFIX) -> list[str]:
    """Interfaces of the root namespace whose name starts with ``prefix``."""
    out = run(["ip", "-j", "link", "show"], check=False)
    try:
        links = json.loads(out.stdout or "[]")
    except json.JSONDecodeError:
        return []
    return sorted(l["ifname"] for l in links if l.get("ifname", "").startswith(prefix))


def namespace_pids(ns: str) -> list[int]:
    out = run(["ip", "netns", "pids", ns], check=False)
    return sorted(int(p) for p in out.stdout.split() if p.isdigit())


def _marker_values(prefix: str = SUITE_PREFIX) -> set[str]:
    """The run tags that marked processes (see marked_pids) carry."""
    return {tag for _, tag in _marked(prefix)}


def marked_pids(prefix: str = SUITE_PREFIX) -> list[int]:
    """Live processes whose environment carries ``MARKER_ENV=<tag starting with prefix>``."""
    return sorted({pid for pid, _ in _marked(prefix)})


def _marked(prefix: str) -> list[tuple[int, str]]:
    needle = f"{MARKER_ENV}={prefix}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state == b"Z":
            continue  # a zombie waits for its parent to reap it; it holds nothing
        for var in env.split(b"\0"):
            if var.startswith(needle):
                found.append((int(entry.name), var.split(b"=", 1)[1].decode(errors="replace")))
                break
    return found


def _unescape_mount(field: str) -> str:
    """/proc/mounts escapes space, tab, newline and backslash as \\ooo (octal)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def list_mounts(prefix: str = SUITE_PREFIX) -> list[tuple[str, str]]:
    """(run tag, mount point) of every perdure-lazyfs mount of the root mount namespace whose
    run tag starts with ``prefix`` (source ``perdure-lazyfs:<tag>``). Read from /proc: never
    touches the mount itself (a hung FUSE daemon would hang a stat)."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) < 3 or not fields[2].startswith("fuse"):
            continue
        source = _unescape_mount(fields[0])
        tag = source[len(LAZYFS_FSNAME) + 1 :]
        if source.startswith(f"{LAZYFS_FSNAME}:") and tag.startswith(prefix):
            found.append((tag, _unescape_mount(fields[1])))
    return sorted(found)


def unmount_lazy(path: str) -> bool:
    """Detaches a mount now (``umount -l``; ``fusermount3 -uz`` if that fails): it goes away
    once nothing uses it. True if one of them succeeded."""
    for cmd in (["umount", "-l", path], ["fusermount3", "-uz", path]):
        if shutil.which(cmd[0]) and run(cmd, check=False).returncode == 0:
            return True
    return False


def root_rules(prefix: str = SUITE_PREFIX) -> list[str]:
    """iptables rules or chains of the root namespace that mention ``prefix``. The suite never
    adds any there; this is the check that it did not."""
    if shutil.which("iptables-save") is None:
        return []
    out = run(["iptables-save"], check=False)
    return [line for line in out.stdout.splitlines() if prefix in line]


def ns_rules(ns: str, prefix: str = SUITE_PREFIX) -> list[str]:
    out = in_ns(ns, ["iptables-save"], check=False)
    return [line for line in out.stdout.splitlines() if prefix in line]


def _kill_and_reap(pids: Iterable[int], wait_s: float = KILL_WAIT_S) -> list[int]:
    """SIGKILLs ``pids`` (SIGKILL also ends a stopped process); returns those still alive after
    ``wait_s`` (zombies of another parent count as dead)."""
    pids = list(pids)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait_s
    alive = pids
    while alive:
        for pid in list(alive):
            try:
                # Ours: reap it. Someone else's: it is gone from /proc once its parent reaps it.
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    alive.remove(pid)
                    continue
            except ChildProcessError:
                pass
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                        alive.remove(pid)
            except OSError:
                alive.remove(pid)
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return alive


def _remove(prefix: str) -> list[str]:
    """Removes everything whose name starts with ``prefix``, live or not: processes in its
    namespaces or marked with it, its namespaces (and with them their iptables rules and veth
    ends), and its links in the root namespace. Returns what it removed, one line each."""
    removed: list[str] = []
    namespaces = list_namespaces(prefix)
    pids = set(marked_pids(prefix))
    for ns in namespaces:
        pids.update(namespace_pids(ns))
    pids.discard(os.getpid())
    if pids:
        stuck = _kill_and_reap(sorted(pids))
        note = f" (still alive: {stuck})" if stuck else ""
        removed.append(f"killed processes {sorted(pids)}{note}")
    # After its daemon is dead: a lazyfs mount of the run (a dead daemon's mount answers
    # ENOTCONN; a lazy unmount removes it either way).
    for _, mount in list_mounts(prefix):
        if unmount_lazy(mount):
            removed.append(f"mount {mount}")
    for ns in namespaces:
        if run(["ip", "netns", "del", ns], check=False).returncode == 0:
            removed.append(f"namespace {ns}")
    # Deleting a namespace deletes its veth ends and so their peers, but asynchronously (the
    # kernel's netns cleanup work): a host end may still be listed for a moment. Delete what is
    # listed, until nothing is (bounded).
    deadline = time.monotonic() + KILL_WAIT_S
    while True:
        links = list_links(prefix)
        for link in links:
            if run(["ip", "link", "del", link], check=False).returncode == 0:
                removed.append(f"link {link}")
        if not links or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return removed


def _tag_of(name: str) -> str | None:
    m = re.match(rf"^({re.escape(SUITE_PREFIX)}[0-9a-f]{{4}}-)", name)
    return m.group(1) if m else None


def run_tags(prefix: str = SUITE_PREFIX) -> list[str]:
    """The run tags (``pj-<4 hex>-``) starting with ``prefix`` that have a namespace, a root
    link, a marked process or a lazyfs mount on this machine."""
    tags = {_tag_of(n) for n in list_namespaces(prefix) + list_links(prefix)}
    tags.update(_marker_values(prefix))
    tags.update(_tag_of(tag) for tag, _ in list_mounts(prefix))
    return sorted(t for t in tags if t and t.startswith(prefix))


def _process_start(pid: int) -> str | None:
    """The start time of ``pid`` (clock ticks since boot), to tell it from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _owner_mark() -> str:
    return f"perdure-jepsen owner={os.getpid()}:{_process_start(os.getpid())}"


def _owner(tag: str) -> tuple[int, str] | None:
    """(pid, start time) of the process that built run ``tag``, from its bridge's alias."""
    out = run(["ip", "-j", "link", "show", "dev", f"{tag}br"], check=False)
    try:
        alias = (json.loads(out.stdout or "[]") or [{}])[0].get("ifalias", "")
    except json.JSONDecodeError:
        return None
    m = re.search(r"owner=(\d+):(\d+)", alias or "")
    return (int(m.group(1)), m.group(2)) if m else None


def run_owner(tag: str) -> int | None:
    """The pid that built run ``tag`` (None: no bridge, or no owner on it)."""
    owner = _owner(tag)
    return owner[0] if owner else None


def run_owner_alive(tag: str) -> bool:
    """True if the process that built run ``tag`` still runs (not a reused pid). A run without
    a bridge, or whose bridge names a dead process, is stale."""
    owner = _owner(tag)
    return owner is not None and _process_start(owner[0]) == owner[1]


def cleanup_all(prefix: str = SUITE_PREFIX, include_live: bool = False) -> list[str]:
    """Removes the leftovers of every run whose names start with ``prefix`` (default: every run
    of the suite on this machine; a run's ``tag``: that run): its processes, namespaces (and
    with them their iptables rules and veth ends) and root links.

    A run whose owning process still runs (another test or suite run on this machine, see
    ``run_owner_alive``; or a Network of this process not torn down yet) is left alone unless
    ``include_live``. Returns what it removed, one line each."""
    if not prefix.startswith(SUITE_PREFIX):
        raise ValueError(f"refusing to clean up {prefix!r}: not a name of this suite")
    removed: list[str] = []
    # A run being built holds the lock; once we have it, its bridge names its owner.
    with _machine_lock():
        for tag in run_tags(prefix):
            owner = run_owner(tag)
            mine_done = owner == os.getpid() and tag not in _ACTIVE
            if include_live or owner is None or mine_done or not run_owner_alive(tag):
                removed += _remove(tag)
        if len(prefix) < len(SUITE_PREFIX) + 5:  # not one run's tag: also stray unmatched names
            stray = [n for n in list_namespaces(prefix) + list_links(prefix) if not _tag_of(n)]
            if stray:
                removed += [r for n in stray for r in _remove(n)]
    return removed


def cleanup_stale() -> list[str]:
    """``cleanup_all()``: the leftovers of every run whose owner is gone; live runs stay."""
    return cleanup_all()


def leftovers(prefix: str = SUITE_PREFIX) -> dict[str, list]:
    """What of the suite (names starting with ``prefix``) still exists: namespaces, root links,
    iptables rules mentioning the prefix (root namespace and leftover namespaces), processes in
    leftover namespaces or marked with the prefix, lazyfs mounts of its runs. Every list empty:
    nothing is left."""
    namespaces = list_namespaces(prefix)
    pids = set(marked_pids(prefix))
    rules = [f"root: {r}" for r in root_rules(prefix)]
    for ns in namespaces:
        pids.update(namespace_pids(ns))
        rules += [f"{ns}: {r}" for r in ns_rules(ns, prefix)]
    pids.discard(os.getpid())
    return {
        "namespaces": namespaces,
        "links": list_links(prefix),
        "rules": rules,
        "processes": [f"{pid} {_cmdline(pid)}" for pid in sorted(pids)],
        "mounts": [f"{mount} ({tag})" for tag, mount in list_mounts(prefix)],
    }


def assert_no_leftovers(prefix: str = SUITE_PREFIX) -> None:
    left = leftovers(prefix)
    if any(left.values()):
        raise AssertionError(f"the suite left things behind: {json.dumps(left, indent=1)}")


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "(gone)"
    return raw.replace(b"\0", b" ").decode(errors="replace")[:200]


# --- cleanup on every exit path --------------------------------------------------------------

_ACTIVE: dict[str, "Network"] = {}
_ACTIVE_LOCK = threading.RLock()
_HOOKS_INSTALLED = False
_PREVIOUS_HANDLERS: dict[int, object] = {}


def network_of(ip: str) -> "Network | None":
    """The network of this process (created, not torn down) whose subnet holds ``ip``: how a
    node hook, which is handed nodes and not their network, finds the run's tag."""
    with _ACTIVE_LOCK:
        nets = list(_ACTIVE.values())
    addr = ipaddress.ip_address(ip)
    return next((n for n in nets if n.subnet is not None and addr in n.subnet), None)


def _teardown_active() -> None:
    with _ACTIVE_LOCK:
        nets = list(_ACTIVE.values())
    for net in nets:
        try:
            net.teardown()
        except Exception as e:  # noqa: BLE001 - an exit path: report, keep cleaning up
            print(f"perdure_jepsen.net: teardown of {net.tag} failed: {e}", file=sys.stderr)


def _on_signal(signum, frame) -> None:
    _teardown_active()
    previous = _PREVIOUS_HANDLERS.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)  # e.g. Python's SIGINT handler: raises KeyboardInterrupt
    elif previous != signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install_hooks() -> None:
    global _HOOKS_INSTALLED
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(_teardown_active)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread; atexit still runs
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)
        if previous is _on_signal or previous == signal.SIG_IGN:
            continue  # an ignored signal (nohup, a background job) stays ignored
        _PREVIOUS_HANDLERS[signum] = previous
        signal.signal(signum, _on_signal)


# --- one run's network ---------------------------------------------------------------------


_MACHINE_RLOCK = threading.RLock()
_machine_depth = 0


@contextlib.contextmanager
def _machine_lock():
    """Exclusive between processes (flock) and threads, held while a run picks its subnet and
    builds its network and while cleanup decides what is stale. Reentrant in one thread (a
    failed build tears down under it; a signal handler may clean up while it is held)."""
    global _machine_depth
    with _MACHINE_RLOCK:
        if _machine_depth:
            _machine_depth += 1
            try:
                yield
            finally:
                _machine_depth -= 1
            return
        d = Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
        with open(d / "perdure-jepsen-net.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            _machine_depth = 1
            try:
                yield
            finally:
                _machine_depth = 0
                fcntl.flock(fh, fcntl.LOCK_UN)


def _pick_subnet(requested: int | None) -> ipaddress.IPv4Network:
    """10.77.<k>.0/24 not overlapping anything configured on this machine (any address or
    route in the root namespace)."""
    used: list[ipaddress.IPv4Network] = []
    out = run(["ip", "-j", "-4", "addr", "show"], check=False)
    for link in json.loads(out.stdout or "[]"):
        for a in link.get("addr_info", []):
            used.append(ipaddress.ip_network(f"{a['local']}/{a['prefixlen']}", strict=False))
    out = run(["ip", "-j", "-4", "route", "show", "table", "all"], check=False)
    for r in json.loads(out.stdout or "[]"):
        dst = r.get("dst", "")
        if dst and dst != "default":
            try:
                net = ipaddress.ip_network(dst, strict=False)
            except ValueError:
                continue
            # Local/broadcast host routes of the machine's own addresses are covered above; a
            # /0 (default) never counts as a conflict.
            if net.prefixlen > 0:
                used.append(net)
    candidates = [requested] if requested is not None else list(range(0, 250))
    for k in candidates:
        subnet = ipaddress.ip_network(f"10.77.{k}.0/24")
        if not any(subnet.overlaps(u) for u in used):
            return subnet
    raise NetError(f"no free 10.77.<k>.0/24 (asked for k={requested}); used: {used}")


class Network:
    """One run's bridge, namespaces and veth pairs for nodes ``1..size``.

    ``with Network(3) as net:`` builds it and tears it down; ``teardown`` is idempotent and also
    runs at interpreter exit and on SIGINT/SIGTERM. ``net.ip(i)`` is node slot i's address,
    ``net.ns(i)`` its namespace, ``net.client_ip`` the bridge address clients send from.
    """

    def __init__(self, size: int, run_id: str | None = None, subnet_octet: int | None = None):
        if not 1 <= size <= MAX_NODES:
            raise ValueError(f"1..{MAX_NODES} nodes, not {size}")
        self.size = size
        self.tag = f"{SUITE_PREFIX}{run_id or secrets.token_hex(2)}-"
        if not _TAG_RE.match(self.tag):
            raise ValueError(f"run id must be 4 hex digits, got tag {self.tag!r}")
        self._subnet_octet = subnet_octet
        self.subnet: ipaddress.IPv4Network | None = None
        self.created = False
        self._lock = threading.RLock()
        #: node slot -> set of slots it cannot exchange packets with (see set_grudge)
        self.grudge: dict[int, frozenset[int]] = {}

    # -- names and addresses --------------------------------------------------------------

    @property
    def slots(self) -> list[int]:
        return list(range(1, self.size + 1))

    @property
    def bridge(self) -> str:
        return f"{self.tag}br"

    @property
    def chain(self) -> str:
        """The iptables chain holding the partition rules, in every namespace."""
        return f"{self.tag}nem"

    def ns(self, slot: int) -> str:
        self._check_slot(slot)
        return f"{self.tag}n{slot}"

    def host_veth(self, slot: int) -> str:
        return f"{self.tag}h{slot}"

    def ns_veth(self, slot: int) -> str:
        return f"{self.tag}p{slot}"

    def ip(self, slot: int) -> str:
        self._check_slot(slot)
        assert self.subnet is not None, "network not created"
        return str(self.subnet.network_address + slot)

    @property
    def client_ip(self) -> str:
        assert self.subnet is not None, "network not created"
        return str(self.subnet.network_address + BRIDGE_HOST)

    def slot_of_ip(self, ip: str) -> int:
        for s in self.slots:
            if self.ip(s) == ip:
                return s
        raise KeyError(ip)

    def _check_slot(self, slot: int) -> None:
        if slot not in range(1, self.size + 1):
            raise KeyError(f"no node slot {slot} in 1..{self.size}")

    # -- lifecycle ------------------------------------------------------------------------

    def create(self) -> "Network":
        with self._lock:
            if self.created:
                return self
            _install_hooks()
            # Between processes too: two runs must not pick the same free /24.
            with _ACTIVE_LOCK, _machine_lock():
                if list_namespaces(self.tag) or list_links(self.tag):
                    raise NetError(
                        f"run tag {self.tag} is in use (leftovers: cleanup_all('{self.tag}'))"
                    )
                self.subnet = _pick_subnet(self._subnet_octet)
                _ACTIVE[self.tag] = self
                self.created = True
                try:
                    self._build()
                except BaseException:
                    self.teardown()
                    raise
        return self

    def _build(self) -> None:
        br = self.bridge
        run(["ip", "link", "add", br, "type", "bridge"])
        run(["ip", "link", "set", "dev", br, "alias", _owner_mark()])  # for cleanup_stale
        _write_sysctl(f"/proc/sys/net/ipv6/conf/{br}/disable_ipv6", "1")
        run(["ip", "addr", "add", f"{self.client_ip}/{self.subnet.prefixlen}", "dev", br])
        run(["ip", "link", "set", br, "up"])
        for slot in self.slots:
            ns, host, peer = self.ns(slot), self.host_veth(slot), self.ns_veth(slot)
            run(["ip", "netns", "add", ns])
            # Before any interface in it comes up: no IPv6 autoconfiguration traffic at all.
            # (/proc/sys/net is the namespace's own: a namespace-local setting.)
            in_ns(ns, ["sh", "-c", "for f in all default; do "
                       "echo 1 > /proc/sys/net/ipv6/conf/$f/disable_ipv6; done 2>/dev/null; true"])
            run(["ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns])
            _write_sysctl(f"/proc/sys/net/ipv6/conf/{host}/disable_ipv6", "1")
            run(["ip", "link", "set", host, "master", br])
            run(["ip", "link", "set", host, "up"])
            in_ns(ns, ["ip", "link", "set", "lo", "up"])
            addr = f"{self.ip(slot)}/{self.subnet.prefixlen}"
            in_ns(ns, ["ip", "addr", "add", addr, "dev", peer])
            in_ns(ns, ["ip", "link", "set", peer, "up"])
            # The partition chain, hooked into INPUT and OUTPUT; empty = fully connected.
            iptables(ns, "-N", self.chain)
            iptables(ns, "-A", "INPUT", "-m", "comment", "--comment", self.chain, "-j", self.chain)
            iptables(ns, "-A", "OUTPUT", "-m", "comment", "--comment", self.chain, "-j", self.chain)
            self.grudge[slot] = frozenset()

    def teardown(self) -> list[str]:
        """Kills every process in this run's namespaces and removes all it created. Idempotent;
        returns what it removed."""
        with self._lock:
            removed = cleanup_all(self.tag, include_live=True)
            with _ACTIVE_LOCK:
                _ACTIVE.pop(self.tag, None)
            self.created = False
            self.grudge = {}
            return removed

    def leftovers(self) -> dict[str, list]:
        return leftovers(self.tag)

    def __enter__(self) -> "Network":
        return self.create()

    def __exit__(self, *exc) -> None:
        self.teardown()

    # -- processes in a namespace ---------------------------------------------------------

    def popen(
        self, slot: int, args: list[str], env: Mapping[str, str] | None = None, **kwargs
    ) -> subprocess.Popen:
        """Starts ``args`` inside slot's namespace, in a new session (its pid is its process
        group), marked with this run's tag. ``ip netns exec`` execs the command in place, so
        the returned process is the command itself."""
        full_env = dict(os.environ if env is None else env)
        full_env[MARKER_ENV] = self.tag
        return subprocess.Popen(
            ["ip", "netns", "exec", self.ns(slot), *args],
            env=full_env,
            start_new_session=True,
            **kwargs,
        )

    def exec(self, slot: int, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
        return in_ns(self.ns(slot), args, check=check)

    # -- partitions -----------------------------------------------------------------------

    def set_grudge(self, grudge: Mapping[int, Iterable[int]]) -> None:
        """Makes the network exactly this partition: ``grudge[a]`` = the slots ``a`` must not
        exchange packets with. Made symmetric (a cut is always both ways); slots not named keep
        all their links. Traffic between a node and the clients (bridge address) is never cut.
        Replaces whatever partition was there."""
        full: dict[int, set[int]] = {s: set() for s in self.slots}
        for a, cut in grudge.items():
            self._check_slot(a)
            for b in cut:
                self._check_slot(b)
                if a != b:
                    full[a].add(b)
                    full[b].add(a)
        with self._lock:
            if not self.created:
                raise NetError("network not created")
            for slot in self.slots:
                want = frozenset(full[slot])
                if self.grudge.get(slot) == want:
                    continue
                ns = self.ns(slot)
                # Chain of this suite only: flush and refill it.
                iptables(ns, "-F", self.chain)
                for peer in sorted(want):
                    ip = self.ip(peer)
                    mark = ["-m", "comment", "--comment", self.chain]
                    iptables(ns, "-A", self.chain, "-s", ip, "-j", "DROP", *mark)
                    iptables(ns, "-A", self.chain, "-d", ip, "-j", "DROP", *mark)
                self.grudge[slot] = want

    def heal(self) -> None:
        """Every link back."""
        self.set_grudge({})

    def cut(self, a: Iterable[int], b: Iterable[int]) -> None:
        """Partitions the slots into ``a`` and ``b`` (and any not named stay connected to both)."""
        b = list(b)
        self.set_grudge({x: b for x in a})

    def connected(self, a: int, b: int) -> bool:
        return a == b or b not in self.grudge.get(a, frozenset())

    def rules(self, slot: int) -> list[str]:
        """The partition chain of slot's namespace (iptables -S), for reports."""
        out = iptables(self.ns(slot), "-S", self.chain, check=False)
        return out.stdout.splitlines()

    def describe(self) -> dict:
        return {
            "tag": self.tag,
            "subnet": str(self.subnet),
            "bridge": self.bridge,
            "client_ip": self.client_ip if self.subnet else None,
            "nodes": {
                s: {"ns": self.ns(s), "ip": self.ip(s) if self.subnet else None}
                for s in self.slots
            },
        }


if __name__ == "__main__":
    # python -m perdure_jepsen.net cleanup|cleanup-force|leftovers [prefix]
    # (cleanup spares runs whose owner still runs; cleanup-force removes them too)
    cmd = sys.argv[1] if len(sys.argv) > 1 else "leftovers"
    prefix = sys.argv[2] if len(sys.argv) > 2 else SUITE_PREFIX
    if cmd in ("cleanup", "cleanup-force"):
        for line in cleanup_all(prefix, include_live=cmd == "cleanup-force"):
            print(line)
    left = leftovers(prefix)
    print(json.dumps(left, indent=1))
    sys.exit(1 if any(left.values()) else 0)
