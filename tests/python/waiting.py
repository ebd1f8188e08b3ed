"""Waiting for a condition the test cannot be told about, by asking again until it holds.

Owns: ``wait_until``, the one polling loop of the async tests, and the deadline of conditions
the server meets in milliseconds. Must never: wait without a deadline, swallow an exception the
check raises (a check that fails is a finding, not a reason to ask again), or return before the
check held.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Awaitable, Callable

#: Deadline of a condition the server meets in milliseconds.
CONDITION_S = 30

#: A coroutine check usually makes a call (fetch a history, describe a run), so it is asked
#: less often than a plain function, which reads what the test's own worker recorded.
_CALL_INTERVAL_S = 0.05
_LOCAL_INTERVAL_S = 0.02


async def wait_until(
    check: Callable[[], Any | Awaitable[Any]], timeout_s: float, what: str
) -> Any:
    """Calls ``check`` (a plain function or a coroutine function) until it returns something
    truthy, and returns that; fails with an AssertionError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        is_call = inspect.isawaitable(value)
        if is_call:
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(_CALL_INTERVAL_S if is_call else _LOCAL_INTERVAL_S)
