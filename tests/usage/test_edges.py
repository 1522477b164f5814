"""A parent block's edges and the parts a range is read from (pure: no database)."""

from __future__ import annotations

import random

from calltrail.usage.edges import (
    block_edges,
    day_prefix,
    decompose_parts,
    edge_children,
    fresh_run,
    part_profile,
    part_row,
    parts,
    sums_before,
)
from calltrail.usage.rollups import F0, FIGURES, FRESH_SLOTS, LEVELS, NET, RISE, block_end, children, compose, decompose


def _fold(rows: list[list[int] | None]) -> tuple[int, int]:
    """``(net, rise)`` of a run of blocks, one after another (``None``: a block with nothing)."""
    level, rise = 0, None
    for row in rows:
        net, own = (row[NET], row[RISE]) if row else (0, 0)
        rise = level + own if rise is None else max(rise, level + own)
        level += net
    return level, rise or 0


def _random_row(rng: random.Random) -> list[int] | None:
    if rng.random() < 0.2:
        return None
    row = [rng.randrange(0, 50) for _ in FIGURES]
    row[NET], row[RISE] = rng.randrange(-5, 6), rng.randrange(0, 6)
    row[F0 : F0 + FRESH_SLOTS] = [rng.randrange(0, 9) for _ in range(FRESH_SLOTS)]
    return row


def _compose_up(block: tuple[int, int], slots: dict[tuple[int, int], list[int]]) -> list[int] | None:
    """A block's figures composed level by level from its slots' rows, as the writer does."""
    if block[0] == 0:
        return slots.get(block)
    kids = {child: row for child in children(block) if (row := _compose_up(child, slots)) is not None}
    return compose(block, kids) if kids else None


def test_a_blocks_edges_give_every_prefix_and_suffix_of_its_edge_children() -> None:
    """Hours and 4-hour blocks keep a record per child; a day one per slot, so that any slot is
    one record of the day's row."""
    rng = random.Random(3)
    day = 20_000 * LEVELS[3]
    for level in (1, 2, 3):
        block = (level, day + LEVELS[level] * rng.randrange(0, LEVELS[3] // LEVELS[level]))
        kids = edge_children(block)
        assert kids == (children(block) if level < 3 else tuple((0, day + n * 900) for n in range(96)))
        rows = {child: row for child in kids if (row := _random_row(rng)) is not None}
        whole = compose(block, rows) if level < 3 else _compose_up(block, rows)
        assert whole is not None
        packed = block_edges(block, rows)
        ordered = [rows.get(child) for child in kids]
        for position, child in enumerate(kids):
            if position:
                prefix = part_profile((level, block[1], child[1]), whole, packed)
                assert (prefix[NET], prefix[RISE]) == _fold(ordered[:position])
                suffix = part_profile((level, child[1], block_end(block)), whole, packed)
                assert (suffix[NET], suffix[RISE]) == _fold(ordered[position:])
            before = [sum(row[index] for row in ordered[:position] if row) for index in range(len(FIGURES))]
            assert list(sums_before(packed, position)) == before[:NET]
            for fresh in range(FRESH_SLOTS):
                expected = ordered[position][F0 + fresh] if ordered[position] else 0  # type: ignore[index]
                assert fresh_run(packed, position, fresh, 1) == expected
        assert part_profile((level, block[1], block_end(block)), whole, packed) is whole
        # A first hour read at once: slot j of it at its f value j.
        for position in range(len(kids)):
            for fresh in range(FRESH_SLOTS):
                for count in range(1, min(FRESH_SLOTS - fresh, len(kids) - position) + 1):
                    expected = max(row[F0 + fresh + j] if (row := ordered[position + j]) else 0 for j in range(count))
                    assert fresh_run(packed, position, fresh, count) == expected


def test_parts_cover_a_range_with_whole_blocks_and_edges_of_one_row_each() -> None:
    rng = random.Random(5)
    day = 20_000 * LEVELS[3]
    for _ in range(300):
        start = day + rng.randrange(0, 3 * 96) * 900
        end = start + rng.randrange(1, 4 * 96) * 900
        found = decompose_parts(start, end)
        assert [lo for _, lo, _ in found] == [start, *(hi for _, _, hi in found[:-1])]
        assert found[-1][2] == end
        for part in found:
            level, lo, hi = part
            row = part_row(part)
            assert row[1] <= lo < hi <= block_end(row)
            assert hi - lo == LEVELS[level] or lo == row[1] or hi == block_end(row)
            # What starts or ends a day is one record of the day's row; what lies inside a day
            # is read as below a day.
            first = lo - lo % LEVELS[3]
            touches = lo == first or hi == first + LEVELS[3]
            assert (level == 3) == touches
            if not touches:  # then the whole range lies inside this day
                assert found == parts(decompose(start, end))


def test_day_prefix_adds_up_to_the_start_of_the_day() -> None:
    day = 20_000 * LEVELS[3]
    assert day_prefix(day) == []
    # 18:30 UTC: the day's record of its 75th slot (a day keeps one per slot).
    instant = day + 18 * 3600 + 1800
    assert day_prefix(instant) == [((3, day), 74)]
