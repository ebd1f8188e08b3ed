"""Where the browser test finds the Web UI, and the browser it drives.

Owns: the UI's base URL for the server under test (perdure serves it on its HTTP port; for
Temporal's dev server, a local stand-in serves the same build and forwards ``/api/`` to the dev
server's HTTP API, so the test can be checked against Temporal), and launching Debian's chromium
through Playwright. Must never: download a browser, or change what the UI build contains.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from harness import REPO_ROOT, free_port

UI_BUILD = REPO_ROOT / "ui" / "build"
ARTIFACTS = Path(__file__).parent / "artifacts" / "web-ui"


def chromium_path() -> str:
    """Debian's chromium (scripts/setup.sh installs it); PERDURE_CHROMIUM overrides."""
    path = os.environ.get("PERDURE_CHROMIUM") or shutil.which("chromium")
    if not path:
        raise RuntimeError("no chromium: run scripts/setup.sh (apt-get install chromium)")
    return path


def ui_version() -> str:
    """The @temporalio/ui version ui/package.json pins."""
    deps = json.loads((REPO_ROOT / "ui" / "package.json").read_text())["dependencies"]
    return deps["@temporalio/ui"]


def _stand_in(api_base: str) -> type[http.server.BaseHTTPRequestHandler]:
    """What perdure's HTTP port does for the UI, in front of Temporal's dev server."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(UI_BUILD), **k)

        def log_message(self, *args) -> None:
            pass

        def _forward(self) -> None:
            if self.path.startswith("/api/v1/settings"):
                # The UI picks request shapes by its version (a signal's body changed in 2.22).
                settings = {"Auth": {"Enabled": False}, "DefaultNamespace": "default"}
                body = json.dumps(settings | {"Version": ui_version()})
                status, ctype, data = 200, "application/json", body.encode()
            else:
                n = int(self.headers.get("content-length") or 0)
                req = urllib.request.Request(
                    api_base + self.path,
                    data=self.rfile.read(n) if n else None,
                    method=self.command,
                    headers={"content-type": "application/json"},
                )
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        status, ctype, data = r.status, r.headers.get("content-type"), r.read()
                except urllib.error.HTTPError as e:
                    status, ctype, data = e.code, e.headers.get("content-type"), e.read()
            self.send_response(status)
            self.send_header("content-type", ctype or "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.startswith("/api/"):
                return self._forward()
            if not (UI_BUILD / self.path.split("?")[0].lstrip("/")).is_file():
                self.path = "/index.html"
            super().do_GET()

        def do_POST(self) -> None:
            self._forward()

    return Handler


@contextmanager
def ui_base(server) -> Iterator[str]:
    """The UI's base URL for ``server`` (a harness.ServerUnderTest)."""
    if server.kind == "perdure":
        yield server.http_base
        return
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", free_port()), _stand_in(f"http://127.0.0.1:{server.aux_ports[0]}")
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
