"""The fault suite's counting checker against made-up answers: it finds a
lost sample wherever it is, allows one slot at each edge and no more, tells
"not scraped" (agent down) from lost, and fails on too many samples. No
Docker: this runs with the unit tests."""

from __future__ import annotations

import pytest

from tests.faults.counting import LossError, QueryFailed, ScrapeClock, check, count, missing_slots, skipped_scrapes

T0 = 1_000_000.0  # a window start; phases below are offsets from it


class FakeQuery:
    """Answers ``sel[Ns]`` like Thanos Query: raw series per (agent, receive
    replica), or one deduplicated series per target."""

    def __init__(self, raw: dict[tuple[str, str, str], list[float]], dedup: dict[str, list[float]]):
        self.raw, self.dedup = raw, dedup

    def query(self, promql: str, dedup: bool = True, **params) -> list[dict]:
        if dedup:
            return [{"metric": {"instance": t}, "values": [[x, "1"] for x in ts]} for t, ts in self.dedup.items()]
        return [
            {"metric": {"instance": t, "prometheus_replica": a, "receive_replica": r}, "values": [[x, "1"] for x in ts]}
            for (t, a, r), ts in self.raw.items()
        ]


def grid(phase: float, start: float, end: float, step: float = 5.0) -> list[float]:
    out, t = [], start + phase
    while t <= end:
        if t > start:
            out.append(round(t, 3))
        t += step
    return out


def pipeline(start=T0, end=T0 + 152.5, drop_raw=(), drop_dedup=(), extra_dedup=()):
    """One target scraped by agents a0 (phase 1s) and a1 (phase 3.5s), each
    stored on receivers r0 and r1; the deduplicated view follows a0."""
    raw = {}
    for agent, phase in (("a0", 1.0), ("a1", 3.5)):
        for r in ("r0", "r1"):
            raw[("t:9090", agent, r)] = [x for x in grid(phase, start, end) if (agent, x) not in drop_raw]
    dedup = {"t:9090": sorted([x for x in grid(1.0, start, end) if x not in drop_dedup] + list(extra_dedup))}
    return FakeQuery(raw, dedup)


def run(q, **kw):
    return check(q, "up", T0, T0 + 152.5, ["t:9090"], ["a0", "a1"], verbose=False, **kw)


def test_complete_window_passes():
    c = run(pipeline())
    assert c.totals()["dedup_lost"] == 0 and c.totals()["raw_lost"] == 0
    assert c.dedup["t:9090"].counted == 31  # 152.5s / 5s, both edges inside


def test_one_sample_lost_in_the_middle_is_reported():
    # Gone from the store (every receive replica) and so from the view.
    q = pipeline(drop_dedup={T0 + 76.0}, drop_raw={("a0", T0 + 76.0)})
    with pytest.raises(LossError, match=r"raw t:9090 by a0: .*LOST 1"):
        run(q)


def test_a_sample_lost_on_every_receive_replica_is_lost_in_the_raw_view():
    q = pipeline(drop_raw={("a1", T0 + 58.5)})
    with pytest.raises(LossError, match=r"raw t:9090 by a1: .*LOST 1"):
        run(q)
    # Lost on one receive replica only: the other holds it, nothing is lost.
    q.raw[("t:9090", "a1", "r1")].append(T0 + 58.5)
    run(q)


def test_one_slot_of_slack_at_each_edge_no_more():
    run(pipeline(drop_dedup={T0 + 1.0, T0 + 151.0}))  # first and last slot: the edges
    with pytest.raises(LossError):
        run(pipeline(drop_dedup={T0 + 1.0, T0 + 6.0}))  # two at the start edge


def test_too_many_samples_fail():
    with pytest.raises(LossError, match="TOO MANY"):
        run(pipeline(extra_dedup=[T0 + 3.5, T0 + 8.5]))  # a second agent's samples shown


def test_an_agent_down_did_not_scrape_and_that_is_not_a_loss():
    dropped = {("a0", x) for x in grid(1.0, T0 + 60, T0 + 90)}
    q = pipeline(drop_raw=dropped)
    with pytest.raises(LossError):
        run(q)
    c = run(q, down={"a0": (T0 + 60, T0 + 90)}, views=("raw",))
    assert c.totals()["not_scraped"] == 6  # its six slots in (60, 90]
    # The other agent covered the target: the fleet's longest gap is one interval.
    assert c.fleet["t:9090"].longest_gap() <= 5.0 + 1e-6


def test_missing_slots_rounds_jitter_and_counts_long_gaps():
    assert missing_slots([1.0, 6.02, 10.98, 31.0], 0, 33, 5) == pytest.approx([16.0, 21.0, 26.0], abs=0.1)
    assert missing_slots([], 0, 50, 5) != []


def test_a_late_scrape_fills_its_own_slot():
    # 17.6: the tick of 15 taken 2.6s late (a starved agent), the next on time.
    assert missing_slots([1.0, 6.0, 11.0, 18.6, 21.0, 26.0], 0, 28, 5) == []
    # Two late in a row, and a late first sample: still nothing missing.
    assert missing_slots([3.6, 6.0, 13.6, 18.6, 21.0], 0, 23, 5) == []
    # Control: the same late scrape with its successor lost leaves one slot
    # missing (either of the two: the count is what matters), and a sample
    # really lost is found beside a late one.
    assert len(missing_slots([1.0, 6.0, 11.0, 18.6, 26.0], 0, 28, 5)) == 1
    assert len(missing_slots([1.0, 6.0, 18.6, 21.0, 26.0], 0, 28, 5)) == 1
    # A grid that moves (an agent replaced: a new phase) is followed.
    assert missing_slots([1.0, 6.0, 11.0, 13.0, 18.0, 23.0], 0, 25, 5) == []


def test_count_keeps_agents_apart():
    c = count(pipeline(), "up", T0, T0 + 152.5)
    assert set(c.raw) == {("t:9090", "a0"), ("t:9090", "a1")}
    assert c.raw[("t:9090", "a0")].counted == 31  # union over receive replicas, not 62


def test_a_slot_the_store_holds_but_the_deduplicated_view_skips_is_hidden_not_lost():
    # Query switched from a0 to a1 and skipped a sample, as penalty dedup
    # does; every replica still holds it.
    q = pipeline(drop_dedup={T0 + 76.0})
    with pytest.raises(LossError, match="stored but not shown"):
        run(q)
    c = run(q, hidden_allowed=2)
    assert c.totals()["dedup_hidden"] == 1 and c.totals()["dedup_lost"] == 0
    # Lost from every replica too: lost, whatever is allowed.
    q = pipeline(drop_dedup={T0 + 76.0}, drop_raw={("a0", T0 + 76.0), ("a1", T0 + 73.5), ("a1", T0 + 78.5)})
    with pytest.raises(LossError, match="LOST 1"):
        run(q, hidden_allowed=2, views=("dedup",))


def test_a_tick_the_agent_skipped_is_not_a_loss_when_its_own_clock_saw_it():
    # a0's loop skipped the tick at 76.0 (a starved process): not in any
    # replica, and the view, which follows a0, shows a 10s gap there.
    q = pipeline(drop_dedup={T0 + 76.0}, drop_raw={("a0", T0 + 76.0)})
    with pytest.raises(LossError, match="LOST 1"):
        run(q)  # no witness: a loss
    with pytest.raises(LossError, match="LOST 1"):
        run(q, skipped={"a1": 1})  # the other agent's skip explains nothing
    c = run(q, skipped={"a0": 1})
    t = c.totals()
    assert (t["raw_lost"], t["dedup_lost"], t["dedup_hidden"], t["skipped_by_agents"]) == (0, 0, 0, 1)
    assert c.dedup["t:9090"].skipped == [pytest.approx(T0 + 76.0)]


def test_more_missing_slots_than_witnessed_skips_are_all_lost():
    q = pipeline(drop_dedup={T0 + 76.0}, drop_raw={("a0", T0 + 76.0), ("a0", T0 + 101.0)})
    with pytest.raises(LossError, match="LOST 2"):
        run(q, skipped={"a0": 1})
    run(q, skipped={"a0": 2}, hidden_allowed=0)


def test_skipped_scrapes_reads_the_agents_interval_clock():
    # Two loops, 60s: 24 observations of 5s.
    before = ScrapeClock(at=0, sum=1000.0, count=200, started=1.0)
    assert skipped_scrapes(before, ScrapeClock(at=60, sum=1120.0, count=224, started=1.0)) == 0
    # Late scrapes that catch up (6.5s, then 3.5s) skip nothing.
    assert skipped_scrapes(before, ScrapeClock(at=60, sum=1120.3, count=224, started=1.0)) == 0
    # One tick dropped: one 10s observation in place of two of 5s.
    assert skipped_scrapes(before, ScrapeClock(at=60, sum=1120.0, count=223, started=1.0)) == 1
    # Restarted in between (counters began again, even if past the old ones).
    assert skipped_scrapes(before, ScrapeClock(at=900, sum=4000.0, count=800, started=500.0)) is None
    assert skipped_scrapes(before, ScrapeClock(at=60, sum=20.0, count=4, started=1.0)) is None


def test_an_answer_query_could_not_give_in_full_is_not_counted():
    class Failing:
        def query(self, promql, **params):
            assert params["partial_response"] == "false", params
            raise RuntimeError("422: receive-1: rpc error: code = Unavailable")

    with pytest.raises(QueryFailed, match="Unavailable"):
        check(Failing(), "up", T0, T0 + 60, ["t:9090"], ["a0"], verbose=False)


def test_a_slot_hidden_behind_one_receive_copys_hole_is_reported_and_needs_a_witness():
    # Receiver r0's copy of a0's series lacks 76.0 (a forward that failed
    # after the write met quorum); r1's holds it. Query followed r0's copy.
    q = pipeline(drop_dedup={T0 + 76.0})
    q.raw[("t:9090", "a0", "r0")].remove(T0 + 76.0)
    with pytest.raises(LossError, match="behind a receive replica's hole"):
        run(q)  # no failed forward witnessed: counted as hidden
    c = run(q, forward_errors=3)
    t = c.totals()
    assert (t["raw_lost"], t["dedup_lost"], t["dedup_hidden"], t["dedup_behind_hole"]) == (0, 0, 0, 1)
    assert c.replica_holes == {("t:9090", "a0", "r0"): [pytest.approx(T0 + 76.0)]}
    assert "receive replica r0's copy of t:9090 by a0: 1 hole" in c.summary()
    # A hidden slot with no hole near it stays hidden, witness or not.
    q = pipeline(drop_dedup={T0 + 76.0})
    with pytest.raises(LossError, match="stored but not shown"):
        run(q, forward_errors=3)
