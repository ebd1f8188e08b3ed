"""Histories must equal what Temporal's dev server writes for the same workflow: the event types
in order *and* their attributes, once the values that legitimately differ between two servers
(times, run/request/task ids, identities, worker metadata: see history.normalise_runs) are
replaced by placeholders. Scenarios that continue into new runs (retry, continue-as-new) compare
every run.

Goldens live in golden/*.json and are re-recorded with `record_goldens.py`.
"""

from __future__ import annotations

import pytest

from history import (
    assert_contiguous_ids,
    describe_mismatch,
    load_golden_runs,
    normalise_runs,
    runs_of,
)
from scenarios import ALL_SCENARIOS, runs_compared


@pytest.mark.parametrize("scenario", sorted(ALL_SCENARIOS))
async def test_history_matches_golden(client, worker, wf_id, scenario):
    handle = await ALL_SCENARIOS[scenario](client, worker.task_queue, wf_id)
    runs = await runs_of(client, handle, runs_compared(scenario))
    for events in runs:
        assert_contiguous_ids(events)
    golden = load_golden_runs(scenario)
    actual = normalise_runs(runs, wf_id)
    if actual != golden:
        pytest.fail(describe_mismatch(scenario, golden, actual), pytrace=False)
