"""The checkers against hand-built histories, no server involved.

Every anomaly test asserts the exact list of (kind, workflow, operations) found, so a checker
that always says valid fails it, and so does one that reports extra noise; the clean and
false-positive tests assert no anomalies at all, so a checker that always complains fails them.
"""

from __future__ import annotations

import json

import pytest

from perdure_jepsen import report
from perdure_jepsen.checker import KINDS, check_all, check_run_dir
from perdure_jepsen.history import (
    Event, FinalState, HistoryError, NemesisEvent, WorkflowFinal, nemesis_intervals,
    pair_operations, read_final, read_history, write_final, write_history, write_nemesis,
)

STEP_NS = 10


class H:
    """Builds a history event by event, each STEP_NS after the previous one (wait() for more).

    invoke/ok/fail/info write single events, for interleavings; start/signal/read/finish write
    an invoke immediately followed by its completion. Each returns the operation's index."""

    def __init__(self):
        self.events: list[Event] = []
        self.now = 0
        self.pending: dict[str, tuple[str, str]] = {}

    def _add(self, process, type_, f, workflow, value) -> int:
        ev = Event(len(self.events), self.now, process, type_, f, workflow, value)
        self.events.append(ev)
        self.now += STEP_NS
        return ev.index

    def wait(self, ns: int) -> None:
        self.now += ns

    def invoke(self, process, f, workflow, value=None) -> int:
        self.pending[process] = (f, workflow)
        return self._add(process, "invoke", f, workflow, value)

    def complete(self, process, type_, value=None) -> None:
        f, workflow = self.pending.pop(process)
        self._add(process, type_, f, workflow, value)

    def ok(self, process, value=None):
        self.complete(process, "ok", value)

    def fail(self, process):
        self.complete(process, "fail")

    def info(self, process):
        self.complete(process, "info")

    def _sequential(self, process, f, workflow, arg, type_, result) -> int:
        i = self.invoke(process, f, workflow, arg)
        self.complete(process, type_, result if type_ == "ok" else None)
        return i

    def start(self, workflow, process="c0", type_="ok") -> int:
        return self._sequential(process, "start", workflow, None, type_, f"run-{workflow}")

    def signal(self, workflow, value, process="c0", type_="ok") -> int:
        return self._sequential(process, "signal", workflow, value, type_, None)

    def read(self, workflow, values, process="c0") -> int:
        return self._sequential(process, "read", workflow, None, "ok", values)

    def finish(self, workflow, process="c0", type_="ok") -> int:
        return self._sequential(process, "finish", workflow, None, type_, None)


_SAME = object()


def wf(signals, status="RUNNING", result=_SAME, event_ids=None, completions=None):
    """A workflow's final state; a COMPLETED one returns its signals unless told otherwise."""
    if result is _SAME:
        result = list(signals) if status == "COMPLETED" else None
    return WorkflowFinal(status=status, result=result, signals=list(signals),
                         event_ids=event_ids if event_ids is not None else list(range(1, 6)),
                         activity_completions=completions or {})


def final(replicas=None, executions=None, **workflows) -> FinalState:
    return FinalState(
        workflows=workflows,
        replicas=replicas if replicas is not None else {"1": {"n1": "c0ffee", "n2": "c0ffee"}},
        activity_executions=executions or {},
    )


def found(h: H, fin: FinalState) -> list[tuple[str, str | None, list[int]]]:
    results = check_all(h.events, fin)
    anomalies = [(a["kind"], a["workflow"], a["ops"]) for a in results["anomalies"]]
    assert results["valid"] == (not anomalies)
    return anomalies


# --- clean runs: must be valid ----------------------------------------------------------------

def clean_run() -> tuple[H, FinalState]:
    """Concurrency and unknown outcomes everywhere, and nothing wrong."""
    h = H()
    h.start("w1", "c1")
    h.start("w2", "c2")
    h.signal("w1", 1, "c1")
    # Concurrent signals 2 and 3 take effect as 3, 2; a read concurrent with both sees only 3.
    h.invoke("c1", "signal", "w1", 2)
    h.invoke("c2", "signal", "w1", 3)
    h.invoke("c3", "read", "w1")
    h.ok("c3", [1, 3])
    h.ok("c2")
    h.ok("c1")
    # Two unknown outcomes: 4 took effect, 5 did not. 6 failed.
    h.invoke("c1", "signal", "w1", 4)
    h.info("c1")
    h.invoke("c2", "signal", "w1", 5)
    h.info("c2")
    h.signal("w1", 6, "c2", type_="fail")
    h.read("w1", [1, 3, 2, 4], "c3")
    # A read concurrent with signal 10 that misses it, then one that sees it.
    h.invoke("c1", "signal", "w2", 10)
    h.invoke("c3", "read", "w2")
    h.ok("c3", [])
    h.ok("c1")
    h.read("w2", [10], "c3")
    h.finish("w2", "c2")
    # Still in flight when the history ended, and never took effect.
    h.invoke("c4", "signal", "w1", 7)
    fin = final(
        w1=wf([1, 3, 2, 4]),
        w2=wf([10], status="COMPLETED", event_ids=list(range(1, 16)),
              completions={"5": 1, "11": 1}),
        executions={"w2": {"1": 1, "2": 3}},
    )
    return h, fin


def test_clean_history_is_valid():
    h, fin = clean_run()
    results = check_all(h.events, fin)
    assert results["anomalies"] == []
    assert results["valid"] is True


def test_clean_history_stats():
    h, fin = clean_run()
    stats = check_all(h.events, fin)["stats"]
    assert stats["anomalies"] == {}
    assert stats["ops"] == {
        "finish": {"ok": 1, "fail": 0, "info": 0},
        "read": {"ok": 4, "fail": 0, "info": 0},
        "signal": {"ok": 4, "fail": 1, "info": 3},  # the unfinished one counts as info
        "start": {"ok": 2, "fail": 0, "info": 0},
    }
    assert stats["workflows"] == 2
    # Re-running an activity is reported, not an anomaly.
    assert stats["activities"] == {"activities": 2, "executions": 4, "re-executions": 2,
                                   "completions": 2}
    assert stats["latency_ms"]["all"]["count"] == 11
    assert "nemesis" not in stats


@pytest.mark.parametrize("outcome", ["absent", "applied"])
def test_info_signal_may_or_may_not_apply(outcome):
    h = H()
    h.start("w")
    h.signal("w", 1)
    h.invoke("c1", "signal", "w", 2)
    h.info("c1")
    h.signal("w", 3)
    # Applied late -- after 3 -- is still allowed: info means "maybe, some time after invoke".
    assert found(h, final(w=wf([1, 3, 2] if outcome == "applied" else [1, 3]))) == []


def test_concurrent_signals_in_either_order():
    for order in ([1, 2], [2, 1]):
        h = H()
        h.invoke("c1", "signal", "w", 1)
        h.invoke("c2", "signal", "w", 2)
        h.ok("c2")
        h.ok("c1")
        assert found(h, final(w=wf(order))) == []


@pytest.mark.parametrize("seen", [[], [1]])
def test_read_concurrent_with_signal_may_or_may_not_see_it(seen):
    h = H()
    h.invoke("c1", "signal", "w", 1)
    h.invoke("c2", "read", "w")
    h.ok("c2", seen)
    h.ok("c1")
    assert found(h, final(w=wf([1]))) == []


def test_read_may_see_an_info_signal():
    h = H()
    h.invoke("c1", "signal", "w", 1)
    h.info("c1")
    h.read("w", [1], "c2")
    assert found(h, final(w=wf([1]))) == []


def test_failed_signal_absent_and_failed_start_are_fine():
    h = H()
    h.start("gone", type_="fail")
    h.signal("w", 1, type_="fail")
    h.read("w", [])
    assert found(h, final(w=wf([]))) == []


# --- one test per anomaly kind ----------------------------------------------------------------

def test_lost_start():
    h = H()
    start = h.start("w1")
    h.start("w2", "c1", type_="info")  # unknown outcome: missing is fine
    assert found(h, final()) == [("lost-start", "w1", [start])]


def test_lost_signal():
    h = H()
    h.signal("w", 1)
    lost = h.signal("w", 2)
    h.signal("w", 3)
    assert found(h, final(w=wf([1, 3]))) == [("lost-signal", "w", [lost])]


def test_lost_signal_of_missing_workflow():
    h = H()
    lost = h.signal("w", 1)
    assert found(h, final()) == [("lost-signal", "w", [lost])]


def test_failed_signal_applied():
    h = H()
    h.signal("w", 1)
    failed = h.signal("w", 2, type_="fail")
    assert found(h, final(w=wf([1, 2]))) == [("failed-signal-applied", "w", [failed])]


def test_unexpected_signal():
    h = H()
    h.signal("w", 1)
    assert found(h, final(w=wf([1, 99]))) == [("unexpected-signal", "w", [])]


def test_duplicate_signal():
    h = H()
    h.signal("w", 1)
    twice = h.signal("w", 2)
    assert found(h, final(w=wf([1, 2, 2]))) == [("duplicate-signal", "w", [twice])]


def test_duplicate_signal_in_signals_and_result_is_one_anomaly():
    h = H()
    twice = h.signal("w", 1)
    h.finish("w")
    results = check_all(h.events, final(w=wf([1, 1], status="COMPLETED")))
    assert [(a["kind"], a["ops"]) for a in results["anomalies"]] == [
        ("duplicate-signal", [twice])]
    assert "2x in signals, 2x in result" in results["anomalies"][0]["detail"]


def test_duplicate_in_result_only():
    h = H()
    twice = h.signal("w", 1)
    h.finish("w")
    fin = final(w=wf([1], status="COMPLETED", result=[1, 1]))
    assert found(h, fin) == [("duplicate-signal", "w", [twice]), ("result-mismatch", "w", [])]


def test_reordered_signal():
    h = H()
    first = h.signal("w", 1)
    second = h.signal("w", 2)
    assert found(h, final(w=wf([2, 1]))) == [("reordered-signal", "w", [first, second])]


def test_info_signal_applied_before_an_earlier_ack_is_reordered():
    h = H()
    acked = h.signal("w", 1)
    unknown = h.invoke("c1", "signal", "w", 2)  # invoked after 1 was acknowledged
    h.info("c1")
    assert found(h, final(w=wf([2, 1]))) == [("reordered-signal", "w", [acked, unknown])]


def test_nonprefix_read():
    h = H()
    h.invoke("c1", "signal", "w", 1)
    h.invoke("c2", "signal", "w", 2)
    read = h.read("w", [2], "c3")  # concurrent with both, but skips the first append
    h.ok("c1")
    h.ok("c2")
    assert found(h, final(w=wf([1, 2]))) == [("nonprefix-read", "w", [read])]


def test_read_of_value_later_lost_is_nonprefix():
    h = H()
    h.invoke("c1", "signal", "w", 1)
    h.info("c1")
    read = h.read("w", [1], "c2")
    assert found(h, final(w=wf([]))) == [("nonprefix-read", "w", [read])]


def test_stale_read():
    h = H()
    acked = h.signal("w", 1)
    read = h.read("w", [], "c1")
    assert found(h, final(w=wf([1]))) == [("stale-read", "w", [read, acked])]


def test_future_read():
    h = H()
    read = h.read("w", [1], "c1")
    later = h.signal("w", 1)
    assert found(h, final(w=wf([1]))) == [("future-read", "w", [read, later])]


def test_non_monotonic_read():
    h = H()
    h.signal("w", 1)
    h.invoke("c1", "signal", "w", 2)  # in flight for both reads, so neither is stale
    r1 = h.read("w", [1, 2], "c2")
    r2 = h.read("w", [1], "c3")
    h.ok("c1")
    assert found(h, final(w=wf([1, 2]))) == [("non-monotonic-read", "w", [r1, r2])]


def test_result_mismatch():
    h = H()
    h.signal("w", 1)
    h.signal("w", 2)
    h.finish("w")
    assert found(h, final(w=wf([1, 2], status="COMPLETED", result=[1]))) == [
        ("result-mismatch", "w", [])]


def test_completed_without_result_is_a_mismatch():
    h = H()
    h.signal("w", 1)
    h.finish("w")
    assert found(h, final(w=wf([1], status="COMPLETED", result=None))) == [
        ("result-mismatch", "w", [])]


def test_lost_finish():
    h = H()
    h.signal("w", 1)
    fin = h.finish("w")
    h.finish("w2", "c1", type_="info")  # unknown outcome: still running is fine
    assert found(h, final(w=wf([1]), w2=wf([]))) == [("lost-finish", "w", [fin])]


def test_duplicate_completion():
    h = H()
    h.start("w")
    fin = final(w=wf([], completions={"5": 1, "9": 2}), executions={"w": {"1": 1, "2": 2}})
    assert found(h, fin) == [("duplicate-completion", "w", [])]


@pytest.mark.parametrize("event_ids", [[1, 2, 4], [1, 2, 2, 3], [2, 3], [1, 3, 2], []])
def test_event_id_gap(event_ids):
    h = H()
    h.start("w")
    assert found(h, final(w=wf([], event_ids=event_ids))) == [("event-id-gap", "w", [])]


def test_diverged_replica():
    h = H()
    h.start("w")
    replicas = {"1": {"n1": "aa", "n2": "aa", "n3": "aa"}, "2": {"n1": "bb", "n2": "bc"}}
    results = check_all(h.events, final(replicas=replicas, w=wf([])))
    assert [(a["kind"], a["workflow"], a["ops"]) for a in results["anomalies"]] == [
        ("diverged-replica", None, [])]
    assert "group 2" in results["anomalies"][0]["detail"]


def test_every_kind_has_a_test():
    tested = {name.removeprefix("test_").replace("_", "-") for name in globals()}
    assert [k for k in KINDS if k not in tested] == []


# --- the format contract ----------------------------------------------------------------------

def ev(index, process, type_, f="signal", workflow="w", value=None, time=None):
    return Event(index, index * STEP_NS if time is None else time, process, type_, f, workflow,
                 value)


@pytest.mark.parametrize("events, message", [
    ([ev(0, "c", "ok")], "no pending invoke"),
    ([ev(0, "c", "invoke", value=1), ev(1, "c", "invoke", value=2)], "while operation 0"),
    ([ev(0, "c", "invoke", value=1), ev(1, "c", "ok", f="read")], "completes signal"),
    ([ev(0, "c", "invoke", value=1), ev(1, "c", "ok", time=-1)], "before its invoke"),
    ([ev(1, "c", "invoke", value=1), ev(0, "c", "ok")], "not increasing"),
    ([ev(0, "c", "invoke", value=1), ev(1, "c", "info"), ev(2, "c", "invoke", value=1)],
     "already sent"),
    ([ev(0, "c", "invoke", value="1")], "must be an int"),
    ([ev(0, "c", "invoke", f="read"), ev(1, "c", "ok", f="read", value=None)], "list of ints"),
])
def test_malformed_history_raises(events, message):
    with pytest.raises(HistoryError, match=message):
        pair_operations(events)


def test_unfinished_operation_is_info():
    (op,) = pair_operations([ev(0, "c", "invoke", value=1)])
    assert op.type == "info" and op.completion is None


def test_bad_lines_raise(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text('{"index": 0, "time": 0, "process": "c", "type": "done", "f": "read", '
                    '"workflow": "w", "value": null}\n')
    with pytest.raises(HistoryError, match="type must be"):
        read_history(path)
    path.write_text("not json\n")
    with pytest.raises(HistoryError, match="history.jsonl:1"):
        read_history(path)


def test_files_round_trip(tmp_path):
    h, fin = clean_run()
    write_history(tmp_path / "history.jsonl", h.events)
    write_final(tmp_path / "final.json", fin)
    assert read_history(tmp_path / "history.jsonl") == h.events
    assert read_final(tmp_path / "final.json") == fin
    first = json.loads((tmp_path / "history.jsonl").read_text().splitlines()[0])
    assert first == {"index": 0, "time": 0, "process": "c1", "type": "invoke", "f": "start",
                     "workflow": "w1", "value": None}


# --- nemesis stats and reports ----------------------------------------------------------------

def test_nemesis_intervals_merge_overlaps():
    events = [NemesisEvent(10, "partition", "start"), NemesisEvent(20, "kill", "start"),
              NemesisEvent(30, "partition", "stop"), NemesisEvent(40, "kill", "stop"),
              NemesisEvent(50, "pause", "stop"), NemesisEvent(60, "pause", "start")]
    assert nemesis_intervals(events) == [(10, 40), (60, float("inf"))]


def test_nemesis_stats_split_latency_and_throughput():
    second = 1_000_000_000
    h = H()
    h.signal("w", 1)  # fast, before the fault
    h.wait(second)
    h.invoke("c0", "signal", "w", 2)  # slow, during the fault
    h.wait(2 * second)
    h.ok("c0")
    h.signal("w", 3)
    nemesis = [NemesisEvent(second, "partition", "start", {"cut": ["n1"]}),
               NemesisEvent(2 * second, "partition", "stop")]
    results = check_all(h.events, final(w=wf([1, 2, 3])), nemesis)
    assert results["valid"], "the nemesis log must never change validity"
    stats = results["stats"]["nemesis"]
    assert stats["faults"] == {"partition": 1}
    assert stats["ok_per_second"] == [1, 0, 0, 2]
    assert stats["ops"]["during"] == {"signal": {"ok": 1, "fail": 0, "info": 0}}
    assert stats["ops"]["outside"] == {"signal": {"ok": 2, "fail": 0, "info": 0}}
    assert stats["latency_ms"]["during"]["all"]["max"] >= 2000
    assert stats["latency_ms"]["outside"]["all"]["max"] < 1


def test_latency_percentiles():
    h = H()
    for v, latency_ms in enumerate([1] * 90 + [5] * 9 + [100]):
        h.invoke("c0", "signal", "w", v)
        h.wait(latency_ms * 1_000_000 - STEP_NS)
        h.ok("c0")
    stats = check_all(h.events, final(w=wf(range(100))))["stats"]["latency_ms"]["signal"]
    assert stats == {"count": 100, "p50": 1.0, "p90": 1.0, "p99": 5.0, "max": 100.0}


def test_report_results_and_summary(tmp_path):
    good, bad = tmp_path / "run-good", tmp_path / "run-bad"
    for run_dir, fin_signals, seed in ((good, [1], 7), (bad, [], 8)):
        run_dir.mkdir()
        h = H()
        h.signal("w", 1)
        write_history(run_dir / "history.jsonl", h.events)
        write_final(run_dir / "final.json", final(w=wf(fin_signals)))
        write_nemesis(run_dir / "nemesis.jsonl", [NemesisEvent(0, "kill", "start")])
        (run_dir / "run.json").write_text(json.dumps({"seed": seed}))

    line = report.write_results(bad, check_run_dir(bad))
    assert line == "INVALID: 1 ops (ok 1, fail 0, info 0), 1 anomalies (lost-signal 1)"
    assert json.loads((bad / "results.json").read_text())["valid"] is False
    assert report.summary_line(check_run_dir(good)) == "VALID: 1 ops (ok 1, fail 0, info 0), " \
                                                       "no anomalies"

    # The good run has no results.json yet: summarize checks it without writing one.
    table = report.summarize([good, bad]).splitlines()
    assert not (good / "results.json").exists()
    assert table[2] == "| run-good | 7 | yes | - | 1/0/0 |"
    assert table[3] == "| run-bad | 8 | **no** | lost-signal 1 | 1/0/0 |"


def test_report_main_exit_codes(tmp_path, capsys):
    h = H()
    h.signal("w", 1)
    write_history(tmp_path / "history.jsonl", h.events)
    write_final(tmp_path / "final.json", final(w=wf([1])))
    assert report.main([str(tmp_path)]) == 0
    write_final(tmp_path / "final.json", final(w=wf([])))
    assert report.main([str(tmp_path)]) == 1
    (tmp_path / "history.jsonl").write_text("oops\n")
    (tmp_path / "results.json").unlink()
    assert report.main([str(tmp_path)]) == 2
    assert "ERROR" in capsys.readouterr().out
