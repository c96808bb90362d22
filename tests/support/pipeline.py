"""Reading a deployed pipeline back, the same on every target: polling with
progress, Thanos Query's HTTP API (deduplicated unless asked otherwise),
sample counts and gaps per target, and an engine result's change counts.
Used by the Docker e2e suite and the Kubernetes tiers alike.
"""

from __future__ import annotations

import json
import time
from typing import Callable, Iterable

import requests

from tests.support.real_stack import log


def wait_for(what: str, check: Callable, timeout: float, interval: float = 5.0):
    """Poll ``check`` until it returns a truthy value; print progress."""
    start = time.time()
    last_error = None
    while time.time() - start < timeout:
        try:
            value = check()
            if value:
                log(f"{what}: ok after {int(time.time() - start)}s")
                return value
        except (requests.RequestException, AssertionError, KeyError) as e:
            last_error = e
        log(f"waiting for {what} ({int(time.time() - start)}s/{int(timeout)}s)")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last error: {last_error!r}")


class Query:
    """Thanos Query's HTTP API, deduplicated unless asked otherwise."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def query(self, promql: str, dedup: bool = True, timeout: float = 20, **params) -> list[dict]:
        r = requests.get(
            f"{self.url}/api/v1/query", params={"query": promql, "dedup": str(dedup).lower(), **params}, timeout=timeout
        )
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def query_range(self, promql: str, start: float, end: float, step: int = 15) -> list[dict]:
        r = requests.get(
            f"{self.url}/api/v1/query_range",
            params={"query": promql, "start": start, "end": end, "step": step, "dedup": "true"},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()["data"]["result"]

    def samples(self, selector: str, start: float, end: float, dedup: bool = True) -> dict[str, list[float]]:
        """Raw sample timestamps per target (``instance``) in (start, end].

        A range-vector selector at ``end`` returns the stored samples
        themselves, so this counts what is in the view, not an interpolation.
        Without dedup, the samples of every replica of a target are merged:
        a timestamp is there if any agent scraped the target then.
        """
        window = max(1, int(end - start))
        out: dict[str, set[float]] = {}
        for s in self.query(f"{selector}[{window}s]", dedup=dedup, time=end):
            out.setdefault(s["metric"].get("instance", ""), set()).update(float(t) for t, _ in s["values"])
        return {k: sorted(v) for k, v in out.items()}


def gaps(timestamps: list[float], start: float, end: float) -> float:
    """The longest stretch in [start, end] with no sample (edges included)."""
    points = [start, *[t for t in timestamps if start <= t <= end], end]
    return max(b - a for a, b in zip(points, points[1:]))


def assert_no_gap(
    q: Query, selector: str, targets: Iterable[str], start: float, end: float, interval: float, dedup_intervals: int = 3
) -> dict:
    """Every target was scraped by some agent at least every 2 scrape
    intervals over the window, and the deduplicated view has no hole longer
    than ``dedup_intervals`` intervals (3 unless the caller says why not).

    The first is the fleet's guarantee, read from the raw samples of all
    replicas (one missed scrape, an interval plus jitter, is allowed). The
    second is what a user sees: when Thanos' deduplication switches from one
    replica to another it skips the other's samples for twice the last
    sample interval (its penalty, pkg/dedup), so a switch alone can leave a
    hole of up to 3 intervals. Where the receivers roll too, their copies
    get holes and a second switch, one level down (receive replicas under
    agent replicas), can skip two more: 5. A fleet that stops scraping fails
    both. Returns the longest gaps per target.
    """
    raw = q.samples(selector, start, end, dedup=False)
    dedup = q.samples(selector, start, end, dedup=True)
    longest = {t: (gaps(raw.get(t, []), start, end), gaps(dedup.get(t, []), start, end)) for t in targets}
    log(f"longest gap (any replica, deduplicated) per target in {selector} over {end - start:.0f}s: {longest}")
    bad = {t: g for t, g in longest.items() if g[0] > 2 * interval + 1 or g[1] > dedup_intervals * interval + 1}
    assert not bad, (
        f"gaps longer than 2 scrape intervals ({2 * interval}s) across replicas, or {dedup_intervals} in the "
        f"deduplicated view, in {selector}: {bad}"
    )
    return longest



def changes(result) -> dict[str, int]:
    """An up/preview result's change counts without the unchanged ones."""
    summary = getattr(result, "change_summary", None)
    if summary is None:
        summary = result.summary.resource_changes or {}
    return {k: v for k, v in summary.items() if k != "same" and v}


def json_stream(text: str) -> list:
    """The JSON documents of a stream of them (`thanos tools bucket ls -o json`
    prints each block's meta.json, indented, one after another)."""
    decoder, docs, pos = json.JSONDecoder(), [], 0
    while text[pos:].strip():
        doc, pos = decoder.raw_decode(text, pos + len(text[pos:]) - len(text[pos:].lstrip()))
        docs.append(doc)
    return docs
