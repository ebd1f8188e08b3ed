"""Perdure's HTTP side door: /health answers SERVING and /metrics exposes Prometheus counters
that move with real work. Perdure-only (Temporal's dev server has its own endpoints)."""

from __future__ import annotations

import asyncio
import re
import urllib.request

import pytest

import workflows
from harness import server_kind

pytestmark = pytest.mark.skipif(server_kind() != "perdure", reason="perdure's own endpoints")


def fetch(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()


def counter(text: str, name: str, labels: str = "") -> float:
    """Value of one sample (`name{labels} value`), 0 if absent."""
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" (\S+)"
    m = re.search(pattern, text)
    return float(m.group(1)) if m else 0.0


async def test_health_and_metrics_follow_real_work(server, client, worker, wf_id):
    status, _, body = await asyncio.to_thread(fetch, server.http_base + "/health")
    assert (status, body.strip()) == (200, "SERVING")

    _, _, before = await asyncio.to_thread(fetch, server.http_base + "/metrics")
    handle = await client.start_workflow(
        workflows.OneActivity.run, "metrics", id=wf_id, task_queue=worker.task_queue
    )
    assert await asyncio.wait_for(handle.result(), 60) == "Hello, metrics!"
    status, content_type, after = await asyncio.to_thread(fetch, server.http_base + "/metrics")
    assert status == 200 and content_type.startswith("text/plain")

    started = 'code="Ok",method="StartWorkflowExecution"'
    assert counter(after, "perdure_grpc_requests_total", started) >= counter(
        before, "perdure_grpc_requests_total", started
    ) + 1
    applied = 'outcome="applied"'
    # Start, two workflow tasks started and completed, one activity started and completed:
    # at least seven committed writes.
    assert counter(after, "perdure_raft_proposals_total", applied) >= counter(
        before, "perdure_raft_proposals_total", applied
    ) + 7
    assert "perdure_raft_propose_seconds_bucket" in after
