"""What the fault suite reads from a bucket's blocks, as pure functions.

``thanos tools bucket verify --issues=overlapped_blocks`` reports every pair
of blocks of one stream (same external labels and resolution) whose time
ranges overlap. With receive's out-of-order window on (the fault suite sets
30m) some overlaps are by design: Prometheus' TSDB writes the samples that
arrived late into blocks of their own ("from-out-of-order" in the block's
``compaction.hints``), aligned to the block range, so they overlap the
in-order block of the same range until the compactor's vertical compaction
(on whenever the window is) merges them. A test must tell those from an
overlap that would halt a compactor without vertical compaction or that
vertical compaction failed to merge; these functions do, from the verify log
and the block metas (``thanos tools bucket ls -o json``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Iterable

from ulid import ULID

_ULID = re.compile(r"ulid: ([0-9A-HJKMNP-TV-Z]{26})")
OUT_OF_ORDER_HINT = "from-out-of-order"
# The overlapped_blocks verifier's warning (pkg/verifier/overlapped_blocks.go).
OVERLAP_MSG = 'msg="found overlapped blocks" '
# What the duplicated_compaction verifier warns whenever blocks overlap, even
# when it finds no duplicate (pkg/verifier/duplicated_compaction.go): the same
# overlaps again, and an empty list of blocks to remove.
_BENIGN = (
    re.compile(r'msg="found overlapped blocks, but all of the blocks are unique'),
    re.compile(r'msg="Found duplicated blocks that are ok to be removed" ULIDs=(\[\]|"\[\]") num=0'),
)


def verify_problems(text: str) -> list[str]:
    """The warn and error lines of a ``bucket verify`` log other than the
    overlaps (which ``overlaps_in_verify_log`` returns for classifying) and
    the duplicated-compaction verifier's echo of them: a broken index, a
    duplicated block, a failed fetch."""
    return [
        l for l in text.splitlines()
        if ("level=warn" in l or "level=error" in l)
        and OVERLAP_MSG not in l
        and not any(b.search(l) for b in _BENIGN)
    ]


def hints(meta: dict) -> list[str]:
    """A block meta's ``compaction.hints`` (absent on most blocks)."""
    return (meta.get("compaction") or {}).get("hints") or []


def ulid_time(ulid: str) -> float:
    """The creation time (unix seconds) of a block: Thanos names each block
    by a ULID made when it was cut, and its compactor's consistency delay is
    measured from that time (block.ConsistencyDelayMetaFilter)."""
    return ULID.from_str(ulid).timestamp


def overlaps_in_verify_log(text: str) -> list[tuple[str, ...]]:
    """Each overlap ``bucket verify`` warned about, as the ULIDs of its blocks.

    One warn line per stream ("found overlapped blocks"); its ``overlap``
    value holds one ``[mint: .., maxt: .., range: .., blocks: N]: <ulid: ..>, ..``
    per overlapping range, newline-separated (escaped as ``\\n`` in logfmt).
    """
    out: list[tuple[str, ...]] = []
    for line in text.splitlines():
        if OVERLAP_MSG not in line:
            continue
        for part in re.split(r"\[mint: ", line)[1:]:
            ulids = tuple(_ULID.findall(part))
            if ulids:
                out.append(ulids)
    return out


@dataclass(frozen=True)
class Overlap:
    ulids: tuple[str, ...]
    # At least one of its blocks holds late samples (out-of-order head):
    # overlapping is what such a block does until vertical compaction.
    out_of_order: bool
    # The newest block's creation time (unix seconds).
    newest: float

    def describe(self, metas: dict[str, dict]) -> str:
        parts = []
        for u in self.ulids:
            m = metas.get(u, {})
            parts.append(
                f"{u} [{m.get('minTime')}, {m.get('maxTime')}] level {(m.get('compaction') or {}).get('level')} "
                f"hints {','.join(hints(m)) or '-'} labels {(m.get('thanos') or {}).get('labels')}"
            )
        return "; ".join(parts)


def classify(overlaps: Iterable[tuple[str, ...]], metas: Iterable[dict]) -> list[Overlap]:
    """Each overlap with what its blocks' metas say of it. A block the metas
    lack (deleted since, e.g. compacted away) counts as in-order and as
    created now: it can neither excuse an overlap nor make one look old."""
    by_ulid = {m["ulid"]: m for m in metas}
    out = []
    for ulids in overlaps:
        ooo = any(OUT_OF_ORDER_HINT in hints(by_ulid.get(u, {})) for u in ulids)
        newest = max((ulid_time(u) if u in by_ulid else time.time()) for u in ulids)
        out.append(Overlap(ulids=tuple(ulids), out_of_order=ooo, newest=newest))
    return out


def unexplained(overlaps: list[Overlap]) -> list[Overlap]:
    """Overlaps no out-of-order block explains: an error with or without
    vertical compaction (a block uploaded twice, a replica label lost)."""
    return [o for o in overlaps if not o.out_of_order]


def left_unmerged(overlaps: list[Overlap], due_before: float) -> list[Overlap]:
    """Overlaps a finished compactor pass should have merged: every block
    was created before ``due_before`` (the pass's start minus the
    consistency delay), so its first sync saw them all. An overlap with a
    newer block is pending: the compactor could not see that block yet."""
    return [o for o in overlaps if o.newest < due_before]
