"""Edges: what a parent block's rollup row keeps of its children, and ranges read as parts of rows.

Pure: no I/O; the blocks and their figures are those of :mod:`calltrail.usage.rollups`.

A zone whose days do not start on a UTC day (``Asia/Kolkata``: 18:30 UTC) would read a dozen
blocks per day. So each hour and 4-hour block keeps, per child, and each day per *slot*
(:func:`edge_children`: 96 records), its figures *before* the child (sums, ``net``, ``rise``),
its ``rise`` *from* the child to its end, and the child's ``f`` values (:func:`block_edges`,
packed in one column). Every zone's day boundary is on a slot, so it is one record of a day's
row: a bucket's sums are its UTC days' totals less the sums before its start in its first day
plus those before its end in its last (:func:`day_prefix`), its first hour's ``f`` values are
four records, and a range that starts or ends a day is one :data:`Part` of the day's row
(:func:`decompose_parts`). A Kolkata day is then read from the same day rows as a UTC day, a
record or two more; a day's row is rewritten by every write below it anyway, so no more rows
are written (only wider ones: 100 bytes per slot).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from itertools import accumulate, chain
from operator import add

from calltrail.usage.rollups import (
    F0,
    FIGURES,
    FRESH_SLOTS,
    LEVELS,
    NET,
    RISE,
    STATUS_COLUMNS,
    SUM_COLUMNS,
    Block,
    Figures,
    block_end,
    children,
    decompose,
)

_DAY = LEVELS[-1]
_TOP = len(LEVELS) - 1

_SUMS = NET  # the status counts and the sums come first

#: A range ``(level, lo, hi)`` read from the row of the block of ``level`` holding it: the whole
#: block, or a run of its children that starts or ends it (an edge).
Part = tuple[int, int, int]


#: One child's record in its parent's ``edges``: the parent's ``net`` and ``rise`` before the
#: child, the ``rise`` from the child to the parent's end, the child's ``f`` values, then the
#: parent's sums before the child (counts in 32 bits, milliseconds in 64). Compact, so a day's
#: row stays within its B-tree page; read in pieces: a peak needs the profile, a sum the sums.
_PROFILE = struct.Struct("<3i")
_FRESH = struct.Struct(f"<{FRESH_SLOTS}i")
_BEFORE = struct.Struct(f"<{len(STATUS_COLUMNS) + 1}i{len(SUM_COLUMNS) - 1}q")
EDGE = struct.Struct(f"<{_PROFILE.format[1:]}{_FRESH.format[1:]}{_BEFORE.format[1:]}")
_FRESH_AT, _BEFORE_AT = _PROFILE.size, _PROFILE.size + _FRESH.size
_NOTHING = (0,) * len(FIGURES)  # the figures of a block with no row


def edge_children(block: Block) -> tuple[Block, ...]:
    """The blocks a parent's ``edges`` keep one record each for, in order: its children, and a
    day's 96 slots (so every zone's day boundary is one record of the day's row)."""
    return _day_slots(block[1]) if block[0] == _TOP else children(block)


@functools.lru_cache(maxsize=1024)
def _day_slots(day: int) -> tuple[Block, ...]:
    return tuple((0, slot) for slot in range(day, day + _DAY, LEVELS[0]))


def child_length(level: int) -> int:
    """The length of the blocks a parent of ``level`` keeps a record for."""
    return LEVELS[0] if level == _TOP else LEVELS[level - 1]


def block_edges(block: Block, rows: dict[Block, Figures]) -> bytes:
    """The ``edges`` of a parent block from its edge children's figures (a missing child had
    nothing): one :data:`EDGE` record per child of :func:`edge_children`, in order. Built column
    by column (running sums and maxima) and packed at once: a day's 96 records are rewritten at
    every write below it."""
    kids = [rows.get(child) or _NOTHING for child in edge_children(block)]
    columns = list(zip(*kids, strict=True))
    levels = list(accumulate(columns[NET], initial=0))  # the level before each child
    highs = accumulate(map(add, levels, columns[RISE]), max)
    rises = [0, *highs]  # the highest level before each child (0 before the first)
    afters = []  # the rise from each child to the end, from the last child back
    after: int | None = None
    for net, rise in zip(reversed(columns[NET]), reversed(columns[RISE]), strict=True):
        after = rise if after is None else max(rise, net + after)
        afters.append(after)
    afters.reverse()
    sums = [accumulate(column, initial=0) for column in columns[:_SUMS]]  # the sums before each child
    fields = zip(levels, rises, afters, *columns[F0 : F0 + FRESH_SLOTS], *sums, strict=False)
    return _records(len(kids)).pack(*chain.from_iterable(fields))


@functools.lru_cache(maxsize=4)
def _records(count: int) -> struct.Struct:
    return struct.Struct("<" + EDGE.format[1:] * count)


def parts(blocks: Sequence[Block]) -> list[Part]:
    """Contiguous blocks (as :func:`decompose` gives them) as parts: each run of siblings below a
    day that starts or ends their parent becomes one edge of the parent, the others stay whole."""
    found: list[Part] = []
    position = 0
    while position < len(blocks):
        level, start = blocks[position]
        end = position + 1
        if level < len(LEVELS) - 1:
            size = LEVELS[level + 1]
            home = start - start % size
            while end < len(blocks) and blocks[end][0] == level and blocks[end][1] < home + size:
                end += 1
            stop = block_end(blocks[end - 1])
            if start == home or stop == home + size:
                found.append((level + 1, start, stop))
                position = end
                continue
            end = position + 1
        found.append((level, start, start + LEVELS[level]))
        position = end
    return found


def decompose_parts(start: int, end: int) -> list[Part]:
    """``[start, end)`` (on slots) as parts, in order: what of it starts or ends a day is one
    record of the day's row (whole days are their rows); a range inside a day is
    ``parts(decompose(...))``, cached by shape: a series reads hundreds of buckets of one shape."""
    found: list[Part] = []
    while start < end:
        day = start - start % _DAY
        stop = min(end, day + _DAY)
        if start == day or stop == day + _DAY:
            found.append((_TOP, start, stop))
        else:
            found += [(level, day + lo, day + hi) for level, lo, hi in _part_shape(start - day, stop - day)]
        start = stop
    return found


@functools.lru_cache(maxsize=4096)
def _part_shape(start: int, end: int) -> tuple[Part, ...]:
    return tuple(parts(decompose(start, end)))


def part_row(part: Part) -> Block:
    """The block whose row a part is read from."""
    level, lo, _ = part
    return level, lo - lo % LEVELS[level]


def part_profile(part: Part, figures: Sequence[int], packed: bytes | None) -> Sequence[int]:
    """A part's ``net`` and ``rise`` (at their :data:`FIGURES` positions; its sums are left 0) from
    its row's figures and ``edges``; a whole block's row as it is."""
    level, lo, hi = part
    start = lo - lo % LEVELS[level]
    if hi - lo == LEVELS[level]:
        return figures
    assert packed is not None, "a parent row keeps its edges"
    found = [0] * len(FIGURES)
    if lo == start:  # a prefix: what the record of the first child after it had before it
        found[NET], found[RISE], _ = _PROFILE.unpack_from(packed, (hi - start) // child_length(level) * EDGE.size)
    else:  # a suffix: the rest of the block, from the record of its first child
        net, _, found[RISE] = _PROFILE.unpack_from(packed, (lo - start) // child_length(level) * EDGE.size)
        found[NET] = figures[NET] - net
    return found


def day_prefix(instant: int) -> list[tuple[Block, int]]:
    """The ``(day, slot position)`` record whose sums before the slot are the sums from the start
    of the UTC day holding ``instant`` (on a slot) to it; none at the start of a day. A range's
    sums are its days' totals less one prefix plus another."""
    day = instant - instant % _DAY
    return [((_TOP, day), (instant - day) // LEVELS[0])] if instant != day else []


def sums_before(packed: bytes | None, position: int) -> tuple[int, ...]:
    """A parent's sums before its child ``position``, as its ``edges`` keep them."""
    if packed is None:
        return (0,) * _SUMS
    return _BEFORE.unpack_from(packed, position * EDGE.size + _BEFORE_AT)


def fresh_run(packed: bytes | None, position: int, fresh: int, count: int) -> int:
    """The most of ``f[fresh + j]`` of the records ``position + j``, ``j < count``: a bucket's
    first hour read from its day's row (slot ``j`` of the hour is ``j`` slots from its start)."""
    if packed is None:
        return 0
    return int(max(_fresh_stride(count).unpack_from(packed, position * EDGE.size + _FRESH_AT + 4 * fresh)))


@functools.lru_cache(maxsize=FRESH_SLOTS)
def _fresh_stride(count: int) -> struct.Struct:
    # One 32-bit f value per record, each a record and one value further on than the last.
    return struct.Struct("<i" + f"{EDGE.size}xi" * (count - 1))
