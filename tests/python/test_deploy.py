"""Checks of deploy/ that need no cluster manager and no real server: the shell scripts parse
(and pass shellcheck where it is installed), local-cluster.sh's usage, errors and process
lifecycle (with a stand-in node binary), the Kubernetes manifest's objects and entrypoint, the
systemd units, and the example config against the `perdure start` contract.

Owns: keeping deploy/ consistent with the cluster CLI contract and with itself.
Must never: use the session `server` fixture (these run against files and stand-in processes),
or leave a process running after a test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
LOCAL_CLUSTER = DEPLOY / "local-cluster.sh"
NODE_UNIT = DEPLOY / "systemd" / "perdure-node.service"
EXAMPLE_CONFIG = DEPLOY / "perdure.toml.example"

#: Every `perdure start` flag of the cluster CLI contract, as its config-file key.
CONTRACT_KEYS = frozenset(
    {
        "node_id",
        "api_addr",
        "internal_addr",
        "http_addr",
        "data_dir",
        "peers",
        "shards",
        "replication",
        "cluster_secret",
    }
)
#: Kept out of config files on purpose: it comes from the environment (PERDURE_CLUSTER_SECRET).
SECRET_KEY = "cluster_secret"


def wait_until(what: str, check: Callable[[], bool], deadline_s: float = 20.0) -> None:
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(0.1)


def pid_alive(pid: int) -> bool:
    """Alive and not a zombie (a reaped-late zombie still answers kill -0)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


# ---- shell scripts ------------------------------------------------------------------------------


def deploy_scripts() -> list[Path]:
    scripts = sorted(DEPLOY.rglob("*.sh"))
    assert LOCAL_CLUSTER in scripts
    return scripts


def test_deploy_scripts_parse():
    for script in deploy_scripts():
        res = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert res.returncode == 0, f"{script}: {res.stderr}"


def test_deploy_scripts_pass_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    res = subprocess.run(
        ["shellcheck", *map(str, deploy_scripts())], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


def run_local_cluster(*args: str, env: dict[str, str] | None = None, timeout: float = 90):
    """local-cluster.sh with a binary that does not exist unless `env` names one."""
    full_env = {
        **os.environ,
        "PERDURE_BIN": "/nonexistent/perdure",
        "LOCAL_CLUSTER_TEMPORAL": "none",
        **(env or {}),
    }
    return subprocess.run(
        ["bash", str(LOCAL_CLUSTER), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("arg", ["--help", "help", "-h"])
def test_local_cluster_help_needs_no_binary(arg):
    res = run_local_cluster(arg)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: ") and "start|stop|status" in res.stdout
    for option in ("--nodes", "--base-port", "--data-dir", "--release", "--json"):
        assert option in res.stdout


@pytest.mark.parametrize(
    "args",
    [(), ("frob",), ("start", "--nodes", "0"), ("start", "--nodes", "11"), ("start", "--nodes")],
)
def test_local_cluster_usage_errors(args):
    res = run_local_cluster(*args)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "usage: " in res.stderr


def test_local_cluster_start_without_binary_says_how_to_build(tmp_path):
    data_dir = tmp_path / "cluster"
    res = run_local_cluster("start", "--data-dir", str(data_dir))
    assert res.returncode == 1
    assert "/nonexistent/perdure" in res.stderr and "cargo build" in res.stderr
    assert not data_dir.exists()


# ---- local-cluster.sh lifecycle with a stand-in node --------------------------------------------

#: Stands in for `perdure`: `start` records its flags and secret, serves GET /health = 200 on
#: --http-addr and exits on SIGTERM; `cluster status` echoes its arguments. FAKE_NODE_DIE=<id>
#: makes that node exit at once.
FAKE_PERDURE = textwrap.dedent(
    """\
    import http.server, json, os, signal, sys
    args = sys.argv[1:]
    if args[:2] == ["cluster", "status"]:
        print("FAKE cluster status", *args[2:])
        sys.exit(0)
    assert args[0] == "start", args
    flags = dict(zip(args[1::2], args[2::2]))
    record = {"argv": args, "flags": flags, "secret": os.environ.get("PERDURE_CLUSTER_SECRET")}
    with open(os.path.join(flags["--data-dir"], "fake-node.json"), "w") as f:
        json.dump(record, f)
    if os.environ.get("FAKE_NODE_DIE") == flags["--node-id"]:
        print("fake node dying as asked", file=sys.stderr)
        sys.exit(1)

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.path == "/health"
            self.send_response(200 if ok else 404)
            self.end_headers()
            self.wfile.write(b"SERVING\\n" if ok else b"")

        def log_message(self, *a):
            pass

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    host, port = flags["--http-addr"].rsplit(":", 1)
    http.server.HTTPServer((host, int(port)), Health).serve_forever()
    """
)


def free_base_port() -> int:
    """A base port P whose cluster ports (P..P+19, P+100..P+109) are all free right now."""
    for base in range(21000, 60000, 217):
        ports = [*range(base, base + 20), *range(base + 100, base + 110)]
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no free port range for a local cluster")


class LocalCluster:
    """local-cluster.sh on one data dir and base port, with the stand-in binary."""

    def __init__(self, tmp_path: Path):
        self.fake_bin = tmp_path / "perdure"
        self.fake_bin.write_text(f"#!{sys.executable}\n{FAKE_PERDURE}")
        self.fake_bin.chmod(0o755)
        self.data_dir = tmp_path / "cluster"
        self.base_port = free_base_port()

    def run(self, command: str, *extra: str, env: dict[str, str] | None = None):
        return run_local_cluster(
            command,
            "--data-dir",
            str(self.data_dir),
            "--base-port",
            str(self.base_port),
            *extra,
            env={"PERDURE_BIN": str(self.fake_bin), "LOCAL_CLUSTER_TIMEOUT": "30", **(env or {})},
        )

    def pids(self) -> dict[int, int]:
        return {
            int(f.parent.name.removeprefix("node-")): int(f.read_text())
            for f in self.data_dir.glob("node-*/perdure.pid")
        }

    def node_record(self, i: int) -> dict:
        return json.loads((self.data_dir / f"node-{i}" / "fake-node.json").read_text())

    def cleanup(self) -> None:
        """Backstop for a failed test: whatever the script left running is killed."""
        seen = self.pids()
        self.run("stop")
        for pid in seen.values():
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def local_cluster(tmp_path):
    cluster = LocalCluster(tmp_path)
    yield cluster
    cluster.cleanup()


def test_local_cluster_start_status_stop(local_cluster):
    p = local_cluster.base_port
    res = local_cluster.run("start")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "cluster of 3 nodes serving" in res.stdout
    assert "namespace check skipped" in res.stdout

    secret_file = local_cluster.data_dir / "secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}", secret)

    peers = f"1=127.0.0.1:{p + 100},2=127.0.0.1:{p + 101},3=127.0.0.1:{p + 102}"
    for i in (1, 2, 3):
        record = local_cluster.node_record(i)
        assert record["flags"] == {
            "--node-id": str(i),
            "--api-addr": f"127.0.0.1:{p + i - 1}",
            "--internal-addr": f"127.0.0.1:{p + 100 + i - 1}",
            "--http-addr": f"127.0.0.1:{p + 10 + i - 1}",
            "--data-dir": str(local_cluster.data_dir / f"node-{i}"),
            "--peers": peers,
        }
        assert record["secret"] == secret
        assert secret not in " ".join(record["argv"])
    pids = local_cluster.pids()
    assert sorted(pids) == [1, 2, 3] and all(map(pid_alive, pids.values()))

    again = local_cluster.run("start")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "cluster already running" in again.stdout
    assert local_cluster.pids() == pids

    status = local_cluster.run("status")
    assert status.returncode == 0, status.stdout + status.stderr
    http = ",".join(f"127.0.0.1:{p + 10 + i}" for i in range(3))
    assert f"FAKE cluster status --http {http}" in status.stdout
    assert status.stdout.count(": running, pid") == 3
    as_json = local_cluster.run("status", "--json")
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    assert as_json.stdout == f"FAKE cluster status --http {http} --json\n"
    assert as_json.stderr.count(": running, pid") == 3

    # The shape is recorded: another node count on this data dir is refused.
    reshaped = local_cluster.run("start", "--nodes", "2")
    assert reshaped.returncode == 1 and "holds a cluster of 3 nodes" in reshaped.stderr

    stopped = local_cluster.run("stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert local_cluster.pids() == {}
    for pid in pids.values():
        wait_until(f"pid {pid} to exit", lambda: not pid_alive(pid))
    assert local_cluster.run("status").returncode == 3
    assert "not running" in local_cluster.run("stop").stdout

    # A restart reuses the secret and the recorded shape (no --nodes needed).
    restarted = local_cluster.run("start")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert secret_file.read_text() == secret
    assert local_cluster.node_record(3)["flags"]["--peers"] == peers


def test_local_cluster_start_refuses_a_taken_port_before_starting_anything(local_cluster):
    taken = local_cluster.base_port + 11  # node 2's HTTP port
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", taken))
        listener.listen()
        res = local_cluster.run("start")
    assert res.returncode == 1
    assert f"node 2: port {taken} is already in use" in res.stderr
    assert local_cluster.pids() == {}


def test_local_cluster_start_fails_fast_with_logs_when_a_node_dies(local_cluster):
    started = time.monotonic()
    res = local_cluster.run("start", env={"FAKE_NODE_DIE": "2"})
    assert res.returncode == 1
    assert "node 2 exited" in res.stderr
    assert "fake node dying as asked" in res.stderr  # the log tail
    assert time.monotonic() - started < 25  # not the 30 s deadline


# ---- Kubernetes -----------------------------------------------------------------------------------


def kubernetes_objects() -> list[dict]:
    files = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
    assert files
    return [doc for f in files for doc in yaml.safe_load_all(f.read_text()) if doc]


def one(objects: list[dict], kind: str, **where) -> dict:
    found = [
        o
        for o in objects
        if o["kind"] == kind and all(o["metadata"].get(k) == v for k, v in where.items())
    ]
    assert len(found) == 1, f"expected one {kind} {where}, found {len(found)}"
    return found[0]


def perdure_container(sts: dict) -> dict:
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    return container


def test_kubernetes_manifest_objects():
    objects = kubernetes_objects()
    assert all({"apiVersion", "kind", "metadata"} <= o.keys() for o in objects)
    sts = one(objects, "StatefulSet")
    spec = sts["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()

    headless = one(objects, "Service", name=spec["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert headless["spec"]["selector"].items() <= pod_labels.items()
    assert 7333 in [port["port"] for port in headless["spec"]["ports"]]

    clients = [
        o
        for o in objects
        if o["kind"] == "Service" and o["spec"].get("clusterIP") != "None"
    ]
    assert len(clients) == 1
    assert clients[0]["spec"]["selector"].items() <= pod_labels.items()
    assert [port["port"] for port in clients[0]["spec"]["ports"]] == [7233]

    container = perdure_container(sts)
    assert container["image"] == "perdure:latest"
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"grpc": 7233, "http": 7243, "internal": 7333}
    for probe_name in ("readinessProbe", "livenessProbe"):
        probe = container[probe_name]["httpGet"]
        assert probe["path"] == "/health"
        assert ports.get(probe["port"], probe["port"]) == 7243
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 120

    claims = [t["metadata"]["name"] for t in spec["volumeClaimTemplates"]]
    assert claims and set(claims) <= {m["name"] for m in container["volumeMounts"]}

    env = {e["name"]: e for e in container["env"]}
    assert env["PERDURE_CLUSTER_SECRET"]["valueFrom"]["secretKeyRef"]["key"]
    assert env["CLUSTER_SIZE"]["value"] == str(spec["replicas"])
    assert env["PEER_SERVICE"]["value"] == spec["serviceName"]
    data_mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] in claims)
    assert env["PERDURE_DATA_DIR"]["value"].startswith(data_mount)
    contract_env = {f"PERDURE_{k.upper()}" for k in CONTRACT_KEYS}
    assert {n for n in env if n.startswith("PERDURE_")} <= contract_env


def run_entrypoint(tmp_path: Path, pod_name: str, pod_ip: str) -> dict[str, str]:
    """Runs the StatefulSet's entrypoint under /bin/sh with a stand-in `perdure` that prints the
    PERDURE_* environment it was started with."""
    sts = one(kubernetes_objects(), "StatefulSet")
    container = perdure_container(sts)
    fake = tmp_path / "bin" / "perdure"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "ARGS=$*"\nenv | grep "^PERDURE_"\n')
    fake.chmod(0o755)
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env |= {
        "POD_NAME": pod_name,
        "POD_NAMESPACE": "ns1",
        "POD_IP": pod_ip,
        "PATH": f"{fake.parent}:/usr/bin:/bin",
    }
    res = subprocess.run(
        [*container["command"], *container["args"]],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    return dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)


def test_kubernetes_entrypoint_derives_node_id_and_peers(tmp_path):
    out = run_entrypoint(tmp_path, "perdure-2", "10.1.2.3")
    assert out["ARGS"] == "start"
    assert out["PERDURE_NODE_ID"] == "3"
    assert out["PERDURE_PEERS"] == ",".join(
        f"{i + 1}=perdure-{i}.perdure.ns1.svc.cluster.local:7333" for i in range(3)
    )
    assert out["PERDURE_INTERNAL_ADDR"] == "10.1.2.3:7333"


def test_kubernetes_entrypoint_brackets_ipv6(tmp_path):
    out = run_entrypoint(tmp_path, "perdure-0", "fd00::5")
    assert out["PERDURE_NODE_ID"] == "1"
    assert out["PERDURE_INTERNAL_ADDR"] == "[fd00::5]:7333"


# ---- systemd --------------------------------------------------------------------------------------


def unit_file(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> values (systemd keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"{path}: {raw}"
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"{path}: {raw}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.mark.parametrize("unit", sorted((DEPLOY / "systemd").glob("*.service")), ids=str)
def test_systemd_units_are_complete(unit):
    sections = unit_file(unit)
    assert {"Unit", "Service", "Install"} <= sections.keys()
    assert len(sections["Service"]["ExecStart"]) == 1
    assert sections["Install"]["WantedBy"]


def test_systemd_node_unit_runs_the_configured_node():
    service = unit_file(NODE_UNIT)["Service"]
    (exec_start,) = service["ExecStart"]
    assert "perdure start --config /etc/perdure/perdure.toml" in exec_start
    (env_file,) = service["EnvironmentFile"]
    assert not env_file.startswith("-"), "the node must not start without its secret"
    assert service["NoNewPrivileges"] == ["yes"] and service["ProtectSystem"] == ["strict"]
    config = tomllib.loads(EXAMPLE_CONFIG.read_text())
    assert config["data_dir"] == "/var/lib/" + service["StateDirectory"][0]


# ---- example config -------------------------------------------------------------------------------


def test_example_config_holds_every_contract_key():
    text = EXAMPLE_CONFIG.read_text()
    config = tomllib.loads(text)
    assert config.keys() == CONTRACT_KEYS - {SECRET_KEY}
    # The secret is documented but commented out: it belongs in the environment.
    assert re.search(rf"^#\s*{SECRET_KEY}\s*=", text, re.MULTILINE)

    assert isinstance(config["node_id"], int) and config["node_id"] >= 1
    assert isinstance(config["shards"], int) and isinstance(config["replication"], int)
    peers = dict(entry.split("=", 1) for entry in config["peers"].split(","))
    assert peers[str(config["node_id"])] == config["internal_addr"]
    assert config["replication"] <= len(peers)
