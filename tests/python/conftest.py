"""Fixtures for the end-to-end suite: one server for the session, a client, and a fresh worker
on a unique task queue per test.

Owns: fixture wiring only; starting/stopping servers lives in harness.py.
Must never: let one test's worker or task queue leak into another test.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.worker import Worker

import workflows
from activities import Activities
from harness import NAMESPACE, ServerUnderTest, server_kind


def pytest_report_header(config):
    return f"server under test: {server_kind()} (PERDURE_TEST_SERVER)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Attaches the server's log tail to a failing test's report: the first thing to read."""
    report = yield
    srv = item.funcargs.get("server") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(srv, ServerUnderTest):
        report.sections.append(("server log", srv.log_tail(60)))
    return report


@pytest_asyncio.fixture(scope="session")
async def server():
    srv = ServerUnderTest()
    try:
        await srv.start()
        yield srv
    except BaseException:
        print(srv.log_tail())
        raise
    finally:
        # PERDURE_KEEP_DATA=1 keeps the data dir and server.log for a post-mortem.
        keep = bool(os.environ.get("PERDURE_KEEP_DATA"))
        if keep:
            print(f"server data and log kept in {srv.workdir}")
        srv.stop(remove=not keep)


@pytest_asyncio.fixture(scope="session")
async def client(server: ServerUnderTest) -> Client:
    return await asyncio.wait_for(Client.connect(server.target, namespace=NAMESPACE), 30)


@dataclass
class RunningWorker:
    task_queue: str
    activities: Activities
    worker: Worker


@pytest_asyncio.fixture
async def worker(client: Client):
    acts = Activities()
    task_queue = f"e2e-{uuid.uuid4()}"
    w = Worker(
        client,
        task_queue=task_queue,
        workflows=workflows.ALL,
        activities=acts.all(),
        max_concurrent_activities=300,
    )
    async with w:
        yield RunningWorker(task_queue=task_queue, activities=acts, worker=w)


@pytest.fixture
def wf_id(request) -> str:
    """A workflow id unique to this test run, readable in the server's logs."""
    return f"{request.node.name}-{uuid.uuid4().hex[:8]}"
