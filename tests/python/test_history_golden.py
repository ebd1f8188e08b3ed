"""Histories must equal what Temporal's dev server writes for the same workflow: the event types
in order *and* their attributes, once the values that legitimately differ between two servers
(times, run/request/task ids, identities, worker metadata: see history.normalise_runs) are
replaced by placeholders. Scenarios that continue into new runs (retry, continue-as-new) compare
every run; scenarios with children or signal targets (scenarios.OTHER_WORKFLOWS) compare those
workflows' histories too.

Goldens live in golden/*.json and are re-recorded with `record_goldens.py`.
"""

from __future__ import annotations

import pytest

from history import (
    assert_contiguous_ids,
    describe_mismatch,
    load_golden_others,
    load_golden_runs,
    normalise_scenario,
    runs_of,
)
from scenarios import ALL_SCENARIOS, other_runs, runs_compared


@pytest.mark.parametrize("scenario", sorted(ALL_SCENARIOS))
async def test_history_matches_golden(client, worker, wf_id, scenario):
    handle = await ALL_SCENARIOS[scenario](client, worker.task_queue, wf_id)
    runs = await runs_of(client, handle, runs_compared(scenario))
    others = await other_runs(client, scenario, wf_id)
    for events in [*runs, *(r for chain in others.values() for r in chain)]:
        assert_contiguous_ids(events)
    actual, actual_others = normalise_scenario(runs, wf_id, others)
    golden, golden_others = load_golden_runs(scenario), load_golden_others(scenario)
    failures = []
    if actual != golden:
        failures.append(describe_mismatch(scenario, golden, actual))
    if set(actual_others) != set(golden_others):
        failures.append(
            f"scenario {scenario!r} recorded workflows {sorted(actual_others)}, "
            f"golden has {sorted(golden_others)}"
        )
    for key in sorted(set(actual_others) & set(golden_others)):
        if actual_others[key] != golden_others[key]:
            failures.append(
                describe_mismatch(scenario, golden_others[key], actual_others[key], key)
            )
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
