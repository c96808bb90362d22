"""The fault suite's counting checker: were all scraped samples kept?

What "was scraped" means here. Every agent scrapes each of its targets on a
fixed grid: one scrape every ``interval`` at a phase of its own (Prometheus
derives a target's offset from a hash of the target and the agent, and
aligns the timestamps to that grid), and every scrape writes one sample of
``up``, whether the target answered or not. So, per agent and target, the
samples of ``up`` in a window are a gap-free series at ``interval`` spacing,
and a missing grid slot is a sample that was scraped and is not in the store.
The reference is therefore the agent's own schedule, which no fault on the
receive side can change: it needs no second pipeline and no clock of ours.

Three views are counted over the window ``(start, end]``, through Query:

* **raw**, per (target, agent): the union over receive replicas of that
  agent's samples (``dedup=false``). A hole here is a sample lost by the
  pipeline (or, when the agent itself was down, never scraped: ``down``
  says when, and those slots are counted apart, not as lost);
* **deduplicated**, per target: what a user sees (``dedup=true``): one
  sample per interval, a hole is a sample missing from the view;
* **fleet**, per target: the union of every agent's samples; its longest
  gap shows whether some agent covered the target all along.

The window's edges are the only slack: one slot may be missing at each edge
(the window may cut it), no more. Too many samples fail too (the
deduplicated view must not show two agents' samples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Optional

from tests.support.pipeline import Query
from tests.support.real_stack import log

INTERVAL = 5.0


class LossError(AssertionError):
    """The checker found samples missing (or too many) in a window."""


class QueryFailed(Exception):
    """Query could not answer from every store it knows (an error, or a
    partial answer refused): nothing was counted, so nothing is concluded."""


@dataclass(frozen=True)
class ScrapeClock:
    """One read of an agent's own ``prometheus_target_interval_length_seconds
    {interval="5s"}``, summed over its scrape loops: every scrape observes
    the time since that loop's previous scrape began."""

    at: float
    sum: float
    count: float
    # process_start_time_seconds: a restart begins the counters again.
    started: float = 0.0


def skipped_scrapes(before: ScrapeClock, after: ScrapeClock, interval: float = INTERVAL) -> Optional[int]:
    """Scrape ticks the agent's loops skipped between two reads of its clock.

    Each loop's observations add up to the time from its first scrape in
    the span to its last, so over a span ``sum = interval x count`` while
    every tick is taken, and each tick the loop skipped (a Go ticker drops
    ticks when the loop is late by more than an interval: a starved
    process) adds one interval more. Jitter cancels out but at the span's
    two ends. None when the counters went back (the agent restarted): no
    witness then.
    """
    d_count, d_sum = after.count - before.count, after.sum - before.sum
    if after.started != before.started or d_count < 0 or d_sum < 0:
        return None
    return max(0, round((d_sum - interval * d_count) / interval))


@dataclass
class SeriesCount:
    """One series' samples in the window, against its grid of scrape slots."""

    key: str
    start: float
    end: float
    interval: float
    timestamps: list[float]
    # Grid slots with no sample, inside the window (edge slack excluded).
    missing: list[float] = field(default_factory=list)
    # Of those, the slots that fell while the agent was down (never scraped).
    not_scraped: list[float] = field(default_factory=list)
    # Deduplicated view only: slots the store holds a sample for (some
    # agent's, within half an interval) that the view does not show.
    hidden: list[float] = field(default_factory=list)
    # Slots the agent never scraped because its scrape loop skipped the
    # tick, as its own scrape clock witnesses (``skipped_scrapes``); in the
    # deduplicated view, the slots those skips left.
    skipped: list[float] = field(default_factory=list)
    # Deduplicated view only: hidden slots one receive replica's copy lacks
    # (``Counts.replica_holes``): the copy Query followed did not have them.
    behind_hole: list[float] = field(default_factory=list)

    @property
    def expected(self) -> float:
        return (self.end - self.start) / self.interval

    @property
    def counted(self) -> int:
        return len(self.timestamps)

    @property
    def lost(self) -> list[float]:
        explained = {*self.not_scraped, *self.hidden, *self.skipped, *self.behind_hole}
        return [t for t in self.missing if t not in explained]

    @property
    def excess(self) -> int:
        """Samples beyond one per interval (edges allowed)."""
        return max(0, self.counted - math.floor(self.expected) - 1)

    def longest_gap(self) -> float:
        points = [self.start, *self.timestamps, self.end]
        return max(b - a for a, b in zip(points, points[1:]))

    def __str__(self) -> str:
        text = f"{self.key}: {self.counted} samples, {self.expected:.1f} slots"
        if self.lost:
            text += f", LOST {len(self.lost)} at {_times(self.lost)}"
        if self.not_scraped:
            text += f", {len(self.not_scraped)} not scraped (agent down)"
        if self.hidden:
            text += f", {len(self.hidden)} stored but not shown (dedup) at {_times(self.hidden)}"
        if self.skipped:
            text += f", {len(self.skipped)} never scraped (the agent skipped the tick) at {_times(self.skipped)}"
        if self.behind_hole:
            text += (f", {len(self.behind_hole)} stored but not shown behind a receive replica's hole "
                     f"at {_times(self.behind_hole)}")
        if self.excess:
            text += f", {self.excess} TOO MANY"
        return text


def missing_slots(timestamps: list[float], start: float, end: float, interval: float) -> list[float]:
    """The grid slots in (start, end] that hold no sample, one slot of slack
    at each edge. A gap of n intervals between two samples misses n-1 slots
    (rounded: timestamps jitter by milliseconds).

    A scrape can also be late by more than half an interval: a starved
    process takes its tick late, and the Go ticker's next tick comes on
    time (a 7.6s gap, then 2.4s). That sample is its own slot's, not a
    missing one: walking back from the newest sample, one that lies less
    than half an interval before its successor's slot belongs to the slot
    before it. Each sample's slot is otherwise its own time, so a grid that
    moves (an agent replaced, a new phase) is followed as it is."""
    ts = sorted(t for t in timestamps if start < t <= end)
    if not ts:
        # Nothing at all: every slot but one at each edge is missing.
        n = max(0, math.floor((end - start) / interval) - 2)
        return [start + (k + 1.5) * interval for k in range(n)]
    missing: list[float] = []
    slot_after = ts[-1]
    for t in reversed(ts[:-1]):
        n = round((slot_after - t) / interval)
        slot = t if n >= 1 else slot_after - interval
        n = max(n, 1)
        missing += [slot + k * (slot_after - slot) / n for k in range(1, n)]
        slot_after = slot
    first = slot_after
    # Before the first sample: slots at first - k*interval still in the window.
    # The slot nearest the edge (k = head) is the edge's slack.
    head = math.floor((first - start) / interval - 0.05)
    missing += [first - k * interval for k in range(1, head)]
    tail = math.floor((end - ts[-1]) / interval + 0.05)
    missing += [ts[-1] + k * interval for k in range(1, tail)]
    return sorted(missing)


@dataclass
class Counts:
    """Everything the checker counted for one selector over one window."""

    selector: str
    start: float
    end: float
    interval: float
    raw: dict[tuple[str, str], SeriesCount]
    dedup: dict[str, SeriesCount]
    fleet: dict[str, SeriesCount]
    # Per (target, agent, receive replica): slots one receiver's copy lacks
    # though the raw view (the union of copies) holds them. Not a loss, but
    # deduplication follows one copy and does not fill a one-slot hole from
    # another (its penalty skips the other copies' next sample): such a
    # hole shows in the view as a stored sample not shown.
    replica_holes: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)

    def lost_raw(self) -> dict[str, list[float]]:
        return {c.key: c.lost for c in self.raw.values() if c.lost}

    def lost_dedup(self) -> dict[str, list[float]]:
        return {c.key: c.lost for c in self.dedup.values() if c.lost}

    def summary(self) -> str:
        lines = [f"{self.selector} over ({self.start:.0f}, {self.end:.0f}] = {self.end - self.start:.0f}s, "
                 f"{self.interval:.0f}s scrapes:"]
        lines += [f"  deduplicated {c}" for c in self.dedup.values()]
        lines += [f"  raw {c}" for c in self.raw.values()]
        lines += [f"  fleet {c.key}: longest gap {c.longest_gap():.1f}s" for c in self.fleet.values()]
        lines += [f"  receive replica {r}'s copy of {t} by {a}: {len(h)} hole(s) the other copies fill, at {_times(h)}"
                  for (t, a, r), h in sorted(self.replica_holes.items())]
        return "\n".join(lines)

    def totals(self) -> dict[str, int]:
        return {
            "expected_per_target": int(round((self.end - self.start) / self.interval)),
            "dedup_counted": sum(c.counted for c in self.dedup.values()),
            "dedup_lost": sum(len(c.lost) for c in self.dedup.values()),
            "dedup_hidden": sum(len(c.hidden) for c in self.dedup.values()),
            "raw_counted": sum(c.counted for c in self.raw.values()),
            "raw_lost": sum(len(c.lost) for c in self.raw.values()),
            "not_scraped": sum(len(c.not_scraped) for c in self.raw.values()),
            "skipped_by_agents": sum(len(c.skipped) for c in self.raw.values()),
            "replica_holes": sum(len(h) for h in self.replica_holes.values()),
            "dedup_behind_hole": sum(len(c.behind_hole) for c in self.dedup.values()),
        }


def count(
    q: Query,
    selector: str,
    start: float,
    end: float,
    *,
    interval: float = INTERVAL,
    down: Optional[dict[str, tuple[float, float]]] = None,
    params: Optional[dict[str, str]] = None,
    skipped: Optional[dict[str, int]] = None,
) -> Counts:
    """Count ``selector``'s samples (``up{cluster=...}``) in (start, end].

    ``down`` maps an agent (its replica label value) to a span during which
    it was not running: its grid slots there were never scraped. ``params``
    go to Query as they are (e.g. ``storeMatch[]`` to ask one StoreAPI only).
    ``skipped`` maps an agent to the scrape ticks its own clock says it
    skipped over a span covering the window (``skipped_scrapes``).

    Query is asked with ``partial_response=false``: an answer missing a
    store's share would be counted as loss (or pass for complete), so it
    raises ``QueryFailed`` instead.
    """
    window = max(1, int(math.ceil(end - start)))
    params = {"partial_response": "false", **(params or {})}

    def ask(dedup: bool) -> list[dict]:
        try:
            return q.query(f"{selector}[{window}s]", dedup=dedup, time=end, **params)
        except Exception as e:  # noqa: BLE001 - whatever failed, nothing was counted
            raise QueryFailed(f"{selector}[{window}s] dedup={dedup}: {e}") from e

    raw_ts: dict[tuple[str, str], set[float]] = {}
    copies: dict[tuple[str, str, str], set[float]] = {}
    for s in ask(False):
        key = (s["metric"].get("instance", ""), s["metric"].get("prometheus_replica", ""))
        ts = {float(t) for t, _ in s["values"] if start < float(t) <= end}
        raw_ts.setdefault(key, set()).update(ts)
        copies.setdefault((*key, s["metric"].get("receive_replica", "")), set()).update(ts)
    dedup_ts: dict[str, list[float]] = {}
    for s in ask(True):
        target = s["metric"].get("instance", "")
        assert target not in dedup_ts, f"two deduplicated series for {target}: {s['metric']}"
        dedup_ts[target] = sorted(float(t) for t, _ in s["values"] if start < float(t) <= end)

    def series(key: str, ts: Iterable[float], agent: Optional[str] = None) -> SeriesCount:
        c = SeriesCount(key, start, end, interval, sorted(ts))
        c.missing = missing_slots(c.timestamps, start, end, interval)
        if agent and down and agent in down:
            lo, hi = down[agent]
            c.not_scraped = [t for t in c.missing if lo <= t <= hi]
        return c

    raw = {k: series(f"{k[0]} by {k[1]}", ts, agent=k[1]) for k, ts in sorted(raw_ts.items())}
    # An agent's missing slots are skipped ticks, not losses, when its own
    # clock counted at least as many skips over a span covering the window.
    # All or nothing: the clock cannot say which slot a skip was, so more
    # missing slots than skips leaves every one of them lost.
    for agent, n in (skipped or {}).items():
        own = [c for (_, a), c in raw.items() if a == agent]
        if 0 < sum(len(c.lost) for c in own) <= n:
            for c in own:
                c.skipped = list(c.lost)
    dedup = {t: series(t, ts) for t, ts in sorted(dedup_ts.items())}
    fleet: dict[str, SeriesCount] = {}
    for (target, _), ts in raw_ts.items():
        prev = fleet.get(target)
        fleet[target] = SeriesCount(target, start, end, interval, sorted(set(prev.timestamps if prev else []) | ts))
    # A slot missing from the deduplicated view, while some agent's sample
    # for that interval is stored, is hidden by deduplication, not lost
    # (Thanos' penalty deduplication skips up to two samples when it
    # switches replicas: pkg/dedup/iter.go).
    for target, d in dedup.items():
        stored = fleet[target].timestamps if target in fleet else []
        d.hidden = [t for t in d.missing if any(abs(x - t) <= interval / 2 + 0.5 for x in stored)]
        # A tick the followed agent skipped leaves its slot empty in the
        # view too (deduplication stays on that agent across a one-slot gap
        # when its next sample comes first): the view shows what was scraped.
        skips = [x for (tg, _), c in raw.items() if tg == target for x in c.skipped]
        d.skipped = [t for t in d.missing if any(abs(x - t) <= interval / 2 + 0.5 for x in skips)]
        d.hidden = [t for t in d.hidden if t not in d.skipped]
    holes = replica_holes(copies, raw_ts)
    for target, d in dedup.items():
        near = [x for (tg, _, _), h in holes.items() if tg == target for x in h]
        d.behind_hole = [t for t in d.hidden if any(abs(x - t) <= interval / 2 + 0.5 for x in near)]
        d.hidden = [t for t in d.hidden if t not in d.behind_hole]
    return Counts(selector, start, end, interval, raw, dedup, fleet, holes)


def replica_holes(
    copies: dict[tuple[str, str, str], set[float]], union: dict[tuple[str, str], set[float]]
) -> dict[tuple[str, str, str], list[float]]:
    """Per (target, agent, receive replica): samples the other copies hold
    and this one lacks, inside the copy's own span (a copy that begins or
    ends in the window is a receiver that joined or left, which the raw
    view accounts for)."""
    holes = {}
    for (target, agent, receiver), ts in copies.items():
        if ts:
            h = sorted(t for t in union[(target, agent)] - ts if min(ts) < t < max(ts))
            if h:
                holes[(target, agent, receiver)] = h
    return holes


def check(
    q: Query,
    selector: str,
    start: float,
    end: float,
    targets: Iterable[str],
    agents: Iterable[str],
    *,
    interval: float = INTERVAL,
    down: Optional[dict[str, tuple[float, float]]] = None,
    views: tuple[str, ...] = ("raw", "dedup"),
    hidden_allowed: int = 0,
    params: Optional[dict[str, str]] = None,
    skipped: Optional[dict[str, int]] = None,
    forward_errors: Optional[float] = None,
    verbose: bool = True,
) -> Counts:
    """Count, then raise ``LossError`` unless every (target, agent) pair and
    every target's deduplicated series holds every scraped sample in the
    window (one slot of slack at each edge) and no more than one per
    interval. ``views`` picks which of the two must be complete.
    ``hidden_allowed``: slots per target the deduplicated view may skip
    while the store holds them, and extra samples it may show (0: none; a
    fault that makes Query switch replicas may cost up to 2 skipped, Thanos'
    penalty, or show one early). ``forward_errors``: the receivers' failed
    forwards and replications over the window; when some are witnessed, a
    slot hidden behind a receive replica's hole is that failure's mark (the
    other copies hold it) and is reported, not failed; otherwise it counts
    as hidden."""
    c = count(q, selector, start, end, interval=interval, down=down, params=params, skipped=skipped)
    problems = []
    targets, agents = sorted(targets), sorted(agents)
    if "dedup" in views:
        absent = [t for t in targets if t not in c.dedup]
        if absent:
            problems.append(f"no deduplicated series for {absent}")
        # A replica switch may also show one sample early (the other
        # agent's, within the interval): allowed as often as a skip is.
        witnessed = bool(forward_errors)
        problems += [
            f"deduplicated {x}" for x in c.dedup.values()
            if x.lost or x.excess > hidden_allowed
            or len(x.hidden) + (0 if witnessed else len(x.behind_hole)) > hidden_allowed
        ]
    if "raw" in views:
        absent_raw = [f"{t} by {a}" for t in targets for a in agents if (t, a) not in c.raw]
        # An agent down for the whole window scraped nothing: not a loss.
        absent_raw = [k for k in absent_raw if not (down and k.split(" by ")[1] in down)]
        if absent_raw:
            problems.append(f"no samples at all for {absent_raw}")
        problems += [f"raw {x}" for x in c.raw.values() if x.lost or x.excess]
    if verbose or not problems:
        log(c.summary())
    if problems:
        raise LossError(
            f"samples missing in {selector} over ({start:.0f}, {end:.0f}]:\n  " + "\n  ".join(problems)
            + "\n" + c.summary()
        )
    return c


def _times(ts: list[float]) -> str:
    import time as _t

    shown = [_t.strftime("%H:%M:%S", _t.gmtime(t)) for t in ts[:6]]
    return ", ".join(shown) + (f" (+{len(ts) - 6} more)" if len(ts) > 6 else "")
