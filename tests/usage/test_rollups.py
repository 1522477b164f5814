"""The pure parts of the usage rollups (no database)."""

from __future__ import annotations

import random

import pytest

from calltrail.usage.rollups import (
    F0,
    FIGURES,
    FRESH_SLOTS,
    LEVELS,
    NET,
    RISE,
    SLOT,
    STATUS_COLUMNS,
    BucketPeak,
    CallSpan,
    EventSlot,
    decompose,
    merge_ranges,
    middle_spans,
    peak_span,
    profile,
    slot_figures,
)


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


def test_peak_span_is_where_the_level_first_reaches_its_rise_and_last_leaves_it() -> None:
    # 0 until 10, 1 until 20, 2 until 30, 1 until 40, 2 until 50, then 1 to the end (100).
    events = [(10, 1), (20, 1), (30, -1), (40, 1), (50, -1)]
    assert profile(0, events) == (1, 2)
    assert peak_span(0, 100, events) == (20, 50)
    assert peak_span(0, 100, []) == (0, 100)  # always at its level at the start
    assert peak_span(0, 100, [(0, -1)]) == (0, 100)  # the start's own event: the level after it
    assert peak_span(0, 100, [(30, 1)]) == (30, 100)  # still there at the end
    assert peak_span(0, 100, [(30, 1), (30, -1)]) == (0, 100)  # an end and a start at one instant


def test_a_middle_slot_with_one_carried_call_starting_or_ending_becomes_an_event_slot() -> None:
    day = 20_000 * LEVELS[3]
    plan = BucketPeak(day, day + LEVELS[3], middle=(day + 3600, day + LEVELS[3]))
    ends = ("audio", day - 600, day - 600, day + 5 * SLOT + 7)  # carried, ends 7 s into slot 5
    starts = ("video", day - 60, day + 9 * SLOT + 1, None)  # carried, answered 1 s into slot 9
    both = [("audio", day - 1, day + 12 * SLOT + 3, day + 12 * SLOT + 9)]  # two events in slot 12
    singles: list[EventSlot] = []
    runs = middle_spans(plan, [ends, starts, *both], singles)
    assert singles == [
        (day + 5 * SLOT, {"audio": 1}, "audio", day + 5 * SLOT + 7, -1),
        (day + 9 * SLOT, {}, "video", day + 9 * SLOT + 1, 1),
    ]
    assert plan.windows == [((day + 12 * SLOT) * 1000, (day + 13 * SLOT) * 1000)]
    assert [(lo - day) // SLOT for lo, _, _ in runs] == [4, 6, 10, 13]
    assert runs[1][2] == {} and runs[2][2] == {"video": 1}
    # Without a list for them, every such slot is a window (the per-user series' way).
    plan = BucketPeak(day, day + LEVELS[3], middle=(day + 3600, day + LEVELS[3]))
    middle_spans(plan, [ends, starts], None)
    assert len(plan.windows) == 2


def _naive_slot(slot: int, calls: list[CallSpan], group: tuple[str, str]) -> list[int]:
    """One group's figures in one slot by brute force: every instant that can matter, every call."""
    mine = [call for call in calls if group in call.groups]
    row = [0] * len(FIGURES)
    statuses = [status.removeprefix("n_") for status in STATUS_COLUMNS]
    for call in mine:
        if slot <= call.initiated < slot + SLOT:
            row[statuses.index(call.status)] += 1
            for index, value in enumerate(call.sums, len(STATUS_COLUMNS)):
                row[index] += value
    spans = [(call, call.span()) for call in mine]
    deltas = [(at, delta) for _, span in spans if span for at, delta in ((span[0], 1), (span[1], -1))
              if at is not None and slot <= at < slot + SLOT]  # fmt: skip
    instants = sorted({slot, *(at for at, _ in deltas)})
    levels = [sum(delta for at, delta in deltas if at <= t) for t in instants]
    row[NET], row[RISE] = sum(delta for _, delta in deltas), max(levels)
    for d in range(FRESH_SLOTS):
        early = [
            span for call, span in spans if span and 0 <= (slot - (call.initiated - call.initiated % SLOT)) // SLOT <= d
        ]
        row[F0 + d] = max(sum(start <= t and (end is None or t < end) for start, end in early) for t in instants)
    return row


@pytest.mark.parametrize("seed", range(30))
def test_slot_figures_equal_counting_every_call_at_every_instant(seed: int) -> None:
    rng = random.Random(seed)
    base = 1_774_000_000 - 1_774_000_000 % SLOT
    calls = []
    for _ in range(rng.randrange(1, 60)):
        initiated = base + rng.randrange(0, 6 * 3600)
        started = rng.choice((None, initiated, initiated + rng.randrange(0, 900)))
        ended = None if started is None else rng.choice((None, started + rng.randrange(1, 7200)))
        status = "ongoing" if started is not None and ended is None else rng.choice(("ended", "unanswered"))
        groups = (("", ""), ("type", rng.choice(("audio", "video"))))
        calls.append(CallSpan(initiated, started, ended, status, groups, tuple(rng.randrange(0, 9) for _ in range(6))))
    for slot in (base + n * SLOT for n in range(-2, 34)):
        found = slot_figures(slot, calls)
        for group in (("", ""), ("type", "audio"), ("type", "video")):
            assert found.get(group, [0] * len(FIGURES)) == _naive_slot(slot, calls, group), (slot, group)
