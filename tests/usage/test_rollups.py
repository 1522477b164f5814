"""The pure parts of the usage rollups (no database)."""

from __future__ import annotations

from calltrail.usage.rollups import LEVELS, decompose, merge_ranges, profile


def test_merge_ranges_joins_overlapping_and_touching_ranges_and_drops_empty_ones() -> None:
    assert merge_ranges([(5, 9), (0, 3), (3, 4), (8, 12), (20, 20)]) == [(0, 4), (5, 12)]
    assert merge_ranges([]) == []


def test_decompose_uses_the_largest_aligned_blocks() -> None:
    day = 20_000 * LEVELS[3]
    assert decompose(day, day + LEVELS[3]) == [(3, day)]
    # A day in Asia/Kolkata: 18:30 to 18:30 UTC.
    start = day + 18 * 3600 + 1800
    blocks = decompose(start, start + LEVELS[3])
    assert blocks[0] == (0, start) and sum(LEVELS[level] for level, _ in blocks) == LEVELS[3]
    assert all(begin % LEVELS[level] == 0 for level, begin in blocks)


def test_profile_counts_an_end_before_a_start_at_one_instant() -> None:
    assert profile(0, [(10, 1), (20, -1), (20, 1)]) == (1, 1)
    assert profile(0, [(0, -1)]) == (-1, -1)  # the level at the start is never reached
    assert profile(0, []) == (0, 0)
