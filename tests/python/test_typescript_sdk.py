"""The official TypeScript SDK (npm @temporalio/client + @temporalio/worker) as a third client
(issue 6, acceptance 3): runs `node tests/ts/e2e.js` against the session's server. The script
starts a TypeScript worker and, with a TypeScript client, checks activities, a signal and a query,
an update with a rejecting validator, and a child workflow; it asserts the values itself and exits
non-zero naming the failed section. Node and tests/ts/node_modules come from scripts/setup.sh."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid

import pytest

from harness import NAMESPACE, REPO_ROOT

TS_DIR = REPO_ROOT / "tests" / "ts"
#: e2e.js bounds each section (60 s), the worker's bundling (120 s) and itself (6 min); this is
#: the backstop above all of those.
TIMEOUT_S = 400


async def _drain(stream: asyncio.StreamReader, into: list[str]) -> None:
    async for line in stream:
        into.append(line.decode(errors="replace"))


async def test_typescript_sdk(server):
    if not (TS_DIR / "node_modules" / "@temporalio" / "worker").is_dir():
        pytest.skip(f"{TS_DIR / 'node_modules'} missing: run `bash scripts/setup.sh` (npm ci there)")
    node = shutil.which("node")
    assert node, "`node` not found on PATH although tests/ts/node_modules exists"

    env = dict(os.environ)
    env.update(
        TEMPORAL_ADDRESS=server.target,
        TEMPORAL_NAMESPACE=NAMESPACE,
        PERDURE_TS_PREFIX=f"ts-{uuid.uuid4().hex[:8]}",
    )
    # Every section runs on both servers (e2e.js can skip its update section for a server
    # without updates: PERDURE_TS_SKIP_UPDATE=1).
    env.pop("PERDURE_TS_SKIP_UPDATE", None)

    proc = await asyncio.create_subprocess_exec(
        node,
        str(TS_DIR / "e2e.js"),
        cwd=TS_DIR,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out: list[str] = []
    err: list[str] = []
    readers = [
        asyncio.ensure_future(_drain(proc.stdout, out)),
        asyncio.ensure_future(_drain(proc.stderr, err)),
    ]
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), TIMEOUT_S)
    except asyncio.TimeoutError:
        timed_out = True
        proc.kill()
        await proc.wait()
    await asyncio.wait_for(asyncio.gather(*readers), 10)

    report = f"---- stdout ----\n{''.join(out)}---- stderr ----\n{''.join(err)}"
    print(report)
    assert not timed_out, f"node tests/ts/e2e.js did not finish within {TIMEOUT_S}s\n{report}"
    assert proc.returncode == 0, f"node tests/ts/e2e.js exited with {proc.returncode}\n{report}"
    assert "[ts-e2e] all sections passed" in "".join(out), report
