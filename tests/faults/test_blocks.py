"""The bucket checks' reading of ``thanos tools bucket verify`` and block
metas (tests/faults/blocks.py), on log lines in the form Thanos v0.42 writes
them. No Docker: this runs with the unit tests."""

from __future__ import annotations

from ulid import ULID

from tests.faults.blocks import (
    classify,
    left_unmerged,
    overlaps_in_verify_log,
    ulid_time,
    unexplained,
    verify_problems,
)

T0 = 1_796_600_000.0  # when the blocks below were cut (unix seconds)
GROUP = r'group="0@{receive_replica=\"faults-receive-1\", tenant_id=\"faults-a\"}"'


def ulid_at(t: float) -> str:
    return str(ULID.from_timestamp(t))


def meta(ulid: str, mint: int, maxt: int, hints: list[str] | None = None) -> dict:
    return {"ulid": ulid, "minTime": mint, "maxTime": maxt,
            "compaction": {"level": 1, "sources": [ulid], **({"hints": hints} if hints else {})},
            "thanos": {"labels": {"receive_replica": "faults-receive-1", "tenant_id": "faults-a"}}}


def overlap_line(*blocks: tuple[str, int, int]) -> str:
    lo, hi = min(b[1] for b in blocks), max(b[2] for b in blocks)
    parts = ", ".join(f"<ulid: {u}, mint: {a}, maxt: {b}, range: {(b - a) // 1000}s>" for u, a, b in blocks)
    return (f'ts=2026-12-07T01:31:02.1Z caller=overlapped_blocks.go:44 level=warn verifiers=overlapped_blocks '
            f'verifier=overlapped_blocks msg="found overlapped blocks" {GROUP} '
            f'overlap="[mint: {lo}, maxt: {hi}, range: {(hi - lo) // 1000}s, blocks: {len(blocks)}]: {parts}"')


# Two overlaps in one stream, as a receiver restarted with late samples
# makes them: an out-of-order block over the whole minute, the in-order
# block from the restart on.
OOO, INORDER = ulid_at(T0), ulid_at(T0 + 1)
A, B = ulid_at(T0 + 2), ulid_at(T0 + 3)  # two in-order blocks that overlap: an error
METAS = [
    meta(OOO, 1_796_599_940_000, 1_796_600_000_000, ["from-out-of-order"]),
    meta(INORDER, 1_796_599_988_500, 1_796_600_000_000),
    meta(A, 1_796_600_000_000, 1_796_600_060_000),
    meta(B, 1_796_600_030_000, 1_796_600_060_000),
]
LOG = "\n".join([
    'ts=2026-12-07T01:31:00Z caller=verify.go:139 level=info msg="Starting verify task"',
    overlap_line((OOO, 1_796_599_940_000, 1_796_600_000_000), (INORDER, 1_796_599_988_500, 1_796_600_000_000))
    + r"\n" + overlap_line((A, 1_796_600_000_000, 1_796_600_060_000), (B, 1_796_600_030_000, 1_796_600_060_000)).split('overlap="')[1].rstrip('"'),
    # What duplicated_compaction says of the same overlaps: not a problem.
    f'ts=2026-12-07T01:31:03Z caller=duplicated_compaction.go:71 level=warn msg="found overlapped blocks, but all of '
    f'the blocks are unique. Seems like unrelated issue. Ignoring overlap" {GROUP} range="..." overlap="blocks: 2, [...]"',
    'ts=2026-12-07T01:31:03Z caller=duplicated_compaction.go:77 level=warn msg="Found duplicated blocks that are ok '
    'to be removed" ULIDs=[] num=0',
    'ts=2026-12-07T01:31:04Z caller=verify.go:158 level=info msg="verify task completed"',
])


def test_ulid_time_is_the_blocks_creation_time():
    assert abs(ulid_time(OOO) - T0) < 0.001
    assert ulid_time("01M96P93WG1CG3JZ4RY5YAJ512") == 1796594765.712


def test_every_overlapping_range_is_read_with_its_blocks():
    assert overlaps_in_verify_log(LOG) == [(OOO, INORDER), (A, B)]
    # The duplicated-compaction verifier's echo is not read twice.
    assert overlaps_in_verify_log(LOG.splitlines()[2]) == []


def test_an_overlap_with_an_out_of_order_block_is_by_design_any_other_is_an_error():
    overlaps = classify(overlaps_in_verify_log(LOG), METAS)
    assert [o.out_of_order for o in overlaps] == [True, False]
    # The control: two in-order blocks of one stream overlapping fail.
    assert [o.ulids for o in unexplained(overlaps)] == [(A, B)]
    assert "from-out-of-order" in overlaps[0].describe({m["ulid"]: m for m in METAS})


def test_an_overlap_the_pass_saw_is_left_unmerged_a_younger_one_is_pending():
    (ooo, _) = classify(overlaps_in_verify_log(LOG), METAS)
    # Both blocks were cut before the pass could see them: it should have merged them.
    assert left_unmerged([ooo], due_before=T0 + 5) == [ooo]
    # The in-order block was cut after the pass's horizon: pending, not an error.
    assert left_unmerged([ooo], due_before=T0 + 0.5) == []


def test_a_block_the_metas_lack_neither_excuses_nor_ages_an_overlap():
    gone = ulid_at(T0 - 100)
    (o,) = classify([(gone, A)], METAS)
    assert not o.out_of_order and o.newest >= T0 + 2


def test_only_the_overlaps_and_their_echo_are_not_problems():
    assert verify_problems(LOG) == []
    broken = ('ts=2026-12-07T01:31:03Z caller=index_issue.go:62 level=warn msg="detected issue" '
              'id=01M96P93WG1CG3JZ4RY5YAJ512 err="index contains 3 postings with out of order labels"')
    dup = ('ts=2026-12-07T01:31:03Z caller=duplicated_compaction.go:77 level=warn msg="Found duplicated blocks that '
           'are ok to be removed" ULIDs=[01M96P93WG1CG3JZ4RY5YAJ512] num=1')
    assert verify_problems(LOG + "\n" + broken + "\n" + dup) == [broken, dup]
