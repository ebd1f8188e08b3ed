"""Histories must have the same shape as Temporal's dev server writes for the same workflow.

Goldens live in golden/*.json and are re-recorded with `record_goldens.py`.
"""

from __future__ import annotations

import pytest

from history import assert_contiguous_ids, events_of, load_golden, type_names
from scenarios import GOLDEN_SCENARIOS


@pytest.mark.parametrize("scenario", sorted(GOLDEN_SCENARIOS))
async def test_history_matches_golden(client, worker, wf_id, scenario):
    handle = await GOLDEN_SCENARIOS[scenario](client, worker.task_queue, wf_id)
    events = await events_of(handle)
    assert_contiguous_ids(events)
    assert type_names(events) == load_golden(scenario)
