"""Fixtures for the end-to-end suite: one server for the session, a client, and a fresh worker
on a unique task queue per test.

Owns: fixture wiring only; starting/stopping servers lives in harness.py (one node) and
cluster.py (several). Must never: let one test's worker or task queue leak into another test,
or start the session server for a test that did not ask for it (the cluster tests do not).
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
import pytest_asyncio
from temporalio.client import Client

from cluster import Cluster
from harness import NAMESPACE, ServerUnderTest, server_kind
from workers import running_worker


def pytest_report_header(config):
    return f"server under test: {server_kind()} (PERDURE_TEST_SERVER)"


def pytest_configure(config):
    config.addinivalue_line("markers", "cluster: starts its own multi-node perdure cluster")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Attaches the server's log tail to a failing test's report: the first thing to read.
    A failing test's clusters get their nodes' log tails and are marked failed, so they keep
    their work directory."""
    report = yield
    funcargs = getattr(item, "funcargs", {})
    srv = funcargs.get("server")
    if report.failed and isinstance(srv, ServerUnderTest):
        report.sections.append(("server log", srv.log_tail(60)))
    if report.failed:
        for value in funcargs.values():
            if isinstance(value, Cluster):
                report.sections.append(("cluster node logs", value.report_failure()))
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


@pytest_asyncio.fixture
async def worker(client: Client):
    async with running_worker(client) as w:
        yield w


@pytest.fixture
def wf_id(request) -> str:
    """A workflow id unique to this test run, readable in the server's logs."""
    return f"{request.node.name}-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture
async def reference_server():
    """Temporal's dev server next to the session's server, for differential tests: yields
    ``(server, client)``; its ``http_base`` is the dev server's HTTP API."""
    srv = ServerUnderTest(kind="temporal")
    client = await srv.start()
    try:
        yield srv, client
    finally:
        srv.stop()


@pytest_asyncio.fixture
async def reference(reference_server):
    """A client of Temporal's dev server (see ``reference_server``)."""
    return reference_server[1]
