"""Deep pages by number: per-bucket call counts that turn a deep OFFSET into a seek.

CometChat's list is paged by number (``page``, ``perPage``), newest ``initiatedAt`` first, ties
by ``sessionId`` descending. A plain OFFSET skips every row before the page one by one, so page
5,000 of a million calls cost tens to hundreds of times page 1 (hundreds with a filter). ``call_page_counts`` (migration
``m0012_page_index``) counts each app's calls per UTC-aligned bucket of :data:`SPANS` (32 days,
2 days, 4 hours, 15 minutes) and per combination of the counted columns; :func:`account` and
:func:`write` keep it exact, called by ``SessionStore._update_counts`` in the writer's
transaction (a deletion is the same subtraction).

:func:`locate` finds where a page begins: it sums the coarsest buckets in list order until the
page's first row is reached, then the buckets of the next span inside that one, and so on. The
page is then read from an index range (``initiated_at`` between the bucket of its first row and
the bucket of its last) skipping only the rows of its first 15-minute bucket that precede it. The
rows are exactly those of the plain OFFSET: the list is ordered by ``initiated_at`` first and
buckets are whole seconds, so every row of a newer bucket precedes every row of an older one, and
ties within a second (ordered by ``sessionId``) never straddle a boundary.

A list without conditions reads ``call_page_totals`` (migration ``m0022_page_totals``) instead:
the same buckets with one row each, summed over the counted columns (about 50 rows for a deep
page where the combinations made about 1,500 at 1M calls).

It applies to the lists ``call_page_counts`` can count: a whole app's calls with no condition or
only equalities and IN lists on the counted columns. Every other list reads its page with an
OFFSET, as does a page near either end of the list (:data:`SEEK_FROM`). Counts and calls are read
in one snapshot (``Database.read``), so concurrent writers never make the walk disagree with the
rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from calltrail.sessions.query import Condition
from calltrail.store.database import Connection, Row
from calltrail.store.sessions_sql import COUNTED_COLUMNS, UNBOUNDED, Window, condition_sql

#: Bucket spans in seconds, coarsest first; each divides the one before (as in the migration).
#: 16, 12 and 16 children per bucket: each sum reads a few hundred rows at most.
SPANS = (2_764_800, 172_800, 14_400, 900)
#: The spans a walk over ``call_page_totals`` reads: one row per bucket, so it can take larger
#: steps (a statement fewer) for the same rows read: at most 115 32-day buckets in 10 years,
#: then the 192 four-hour buckets of one, then 16 quarter-hours.
TOTAL_SPANS = (2_764_800, 14_400, 900)
#: A page whose OFFSET would pass at least this many rows of the list's index (the matching rows
#: before it, and the others between them when filtered) is located by the counts; a nearer page
#: passes its few rows with the OFFSET, as cheap as the four small sums.
SEEK_FROM = 1000

_KEY = ("span", "bucket_start", *COUNTED_COLUMNS)
_COLUMNS = ("app_id", *_KEY, "n")
_CONFLICT = f"ON CONFLICT (app_id, {', '.join(_KEY)}) DO UPDATE SET n = call_page_counts.n + excluded.n"
_DELETE_EMPTY = f"DELETE FROM call_page_counts WHERE app_id = ? AND {' AND '.join(f'{c} = ?' for c in _KEY)} AND n = 0"
_TOTAL_COLUMNS = ("app_id", "span", "bucket_start", "n")
_TOTAL_CONFLICT = "ON CONFLICT (app_id, span, bucket_start) DO UPDATE SET n = call_page_totals.n + excluded.n"
_DELETE_EMPTY_TOTAL = "DELETE FROM call_page_totals WHERE app_id = ? AND span = ? AND bucket_start = ? AND n = 0"

#: Count changes by (span, bucket start, status, type, mode, receiver type, recording).
Deltas = Counter[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Seek:
    """Where a page lies: the rows with ``lower <= initiated_at < upper``, in list order (or
    reversed), after skipping ``skip`` of them."""

    lower: int
    upper: int
    skip: int


def account(deltas: Deltas, initiated_at: int, counted: Sequence[Any], sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) one call, with its values of the counted columns."""
    for span in SPANS:
        deltas[(span, initiated_at - initiated_at % span, *counted)] += sign


def write(conn: Connection, app_id: str, deltas: Deltas) -> None:
    """Apply the changes to both tables; buckets left empty are deleted so a walk never reads them."""
    _apply(conn, app_id, deltas, "call_page_counts", _COLUMNS, _CONFLICT, _DELETE_EMPTY)
    _write_totals(conn, app_id, deltas)


def _write_totals(conn: Connection, app_id: str, deltas: Deltas) -> None:
    totals: Deltas = Counter()
    for (span, start, *_), n in deltas.items():
        totals[(span, start)] += n
    _apply(conn, app_id, totals, "call_page_totals", _TOTAL_COLUMNS, _TOTAL_CONFLICT, _DELETE_EMPTY_TOTAL)


def _apply(
    conn: Connection,
    app_id: str,
    deltas: Deltas,
    table: str,
    columns: tuple[str, ...],
    conflict: str,
    delete_empty: str,
) -> None:
    """Add ``deltas`` to a count table (``conflict`` adds a row's ``n`` to the stored one)."""
    changed = sorted((key, n) for key, n in deltas.items() if n)
    # Sorted, so concurrent PostgreSQL writers lock count rows in one order (no deadlock).
    conn.insert_rows(table, columns, [(app_id, *key, n) for key, n in changed], conflict)
    conn.executemany(delete_empty, [(app_id, *key) for key, n in changed if n < 0])


def _counts_table(conditions: Sequence[Condition]) -> str:
    """Where buckets are counted under ``conditions``: without any, one row per bucket."""
    return "call_page_counts" if conditions else "call_page_totals"


def _matching(conditions: Sequence[Condition], alias: str) -> tuple[str, list[Any]]:
    """``conditions`` on the counted columns of ``alias`` as `` AND ...`` clauses, and their values."""
    filters = [condition_sql(condition, alias) for condition in conditions]
    return "".join(f" AND {sql}" for sql, _ in filters), [value for _, found in filters for value in found]


def cover(lower: int, upper: int, spans: Sequence[int] = SPANS) -> list[tuple[int, int, int]]:
    """``[lower, upper)`` as runs ``(span, start, end)`` of whole buckets, coarsest spans in the
    middle, and at most two edges shorter than two of the finest buckets as ``(0, start, end)``: at most
    two runs per span, whatever the range's length."""
    if lower >= upper:
        return []
    if not spans:
        return [(0, lower, upper)]
    span = spans[0]
    first, last = -(-lower // span) * span, upper // span * span
    if first >= last:
        return cover(lower, upper, spans[1:])
    return [*cover(lower, first, spans[1:]), (span, first, last), *cover(last, upper, spans[1:])]


def count_between(conn: Connection, app_id: str, conditions: Sequence[Condition], lower: int, upper: int) -> int:
    """How many of the app's calls matching ``conditions`` (equalities or IN lists on the counted
    columns) have ``lower <= initiated_at < upper``: the whole buckets inside the range summed
    from the counts, the edges counted from the calls' index, in one statement."""
    row = conn.fetchone(*count_between_sql(app_id, conditions, lower, upper))
    return int(row[0]) if row else 0  # PostgreSQL sums bigints as numeric


def count_between_sql(app_id: str, conditions: Sequence[Condition], lower: int, upper: int) -> tuple[str, list[Any]]:
    """:func:`count_between`'s statement (one row, one column) and its parameters: the buckets'
    sums and the edges' rows, each one scan of its index over OR-ed ranges. (One subquery per run,
    up to eight of them, took PostgreSQL longer to plan than to run, at every execution.)"""
    runs = cover(lower, upper)
    if not runs:
        return "SELECT 0", []
    where, values = _matching(conditions, "c")
    edges = [(start, end) for span, start, end in runs if span == 0]
    buckets = [(span, start, end) for span, start, end in runs if span != 0]
    parts: list[str] = []
    params: list[Any] = []
    if edges:
        ranges = " OR ".join(["(c.initiated_at >= ? AND c.initiated_at < ?)"] * len(edges))
        parts.append(f"(SELECT count(*) FROM calls c WHERE c.app_id = ? AND ({ranges}){where})")
        params += [app_id, *(bound for edge in edges for bound in edge), *values]
    if buckets:
        ranges = " OR ".join(["(c.span = ? AND c.bucket_start >= ? AND c.bucket_start < ?)"] * len(buckets))
        counts = _counts_table(conditions)
        parts.append(f"(SELECT coalesce(sum(c.n), 0) FROM {counts} c WHERE c.app_id = ? AND ({ranges}){where})")
        params += [app_id, *(bound for run in buckets for bound in run), *values]
    return f"SELECT {' + '.join(parts)}", params


def _spans(conditions: Sequence[Condition]) -> tuple[int, ...]:
    return SPANS if conditions else TOTAL_SPANS


#: A list's counts and its coarsest buckets, oldest first (:func:`counts_and_coarsest`).
Coarsest = list[tuple[int, int]]


def counts_and_coarsest(
    conn: Connection, app_id: str, conditions: Sequence[Condition], count_sql: str, count_params: Sequence[Any]
) -> tuple[Row, Coarsest]:
    """The one row of ``count_sql`` (the list's counts) and the list's buckets of the coarsest
    span, ``(start, calls)`` oldest first, in one statement: a deep page's walk (:func:`locate`)
    then starts a span down, a round trip fewer on PostgreSQL."""
    where, values = _matching(conditions, "k")
    rows = conn.fetchall(
        f"SELECT 0, counted.* FROM ({count_sql}) AS counted UNION ALL "
        f"SELECT 1, k.bucket_start, sum(k.n) FROM {_counts_table(conditions)} k WHERE k.app_id = ? AND k.span = ?"
        f"{where} GROUP BY k.bucket_start",
        (*count_params, app_id, _spans(conditions)[0], *values),
    )
    counts = next(row[1:] for row in rows if row[0] == 0)
    return counts, sorted((int(start), int(calls)) for part, start, calls in rows if part == 1)


def locate(
    conn: Connection,
    app_id: str,
    conditions: Sequence[Condition],
    first: int,
    last: int,
    newest_first: bool,
    coarsest: Coarsest | None = None,
) -> Seek | None:
    """Where rows ``first..last`` (0-based, counted in list order when ``newest_first``, from the
    oldest otherwise) of the app's calls matching ``conditions`` lie. ``conditions`` must be
    equalities or IN lists on the counted columns. None if the counts hold fewer rows (never
    when they are in step with the calls: the caller then reads with an OFFSET). ``coarsest``,
    read already (:func:`counts_and_coarsest`), spares the walk its first statement."""
    where, values = _matching(conditions, "k")
    counts = _counts_table(conditions)
    order = "DESC" if newest_first else "ASC"
    parent: tuple[int, int] | None = None  # the bucket holding row ``first`` at the previous span
    before = 0  # rows preceding that bucket in the walk's order
    edge: tuple[int, int] | None = None  # (span, start) of the smallest bucket known to hold ``last``
    for span in _spans(conditions):
        cursor: Any = None
        if parent is None and coarsest is not None:
            buckets: Iterable[tuple[Any, Any]] = reversed(coarsest) if newest_first else coarsest
        else:
            inside = " AND k.bucket_start >= ? AND k.bucket_start < ?" if parent else ""
            buckets = cursor = conn.execute(
                f"SELECT k.bucket_start, sum(k.n) FROM {counts} k WHERE k.app_id = ? AND k.span = ?{inside}"
                f"{where} GROUP BY k.bucket_start ORDER BY k.bucket_start {order}",
                (app_id, span, *(parent or ()), *values),
            )
        found: tuple[int, int] | None = None
        seen = before
        try:
            for start, count in buckets:  # in list order: stop as soon as both rows are placed
                count = int(count)  # PostgreSQL sums bigints as numeric
                if found is None and seen + count > first:
                    found = (int(start), seen)
                if found is not None and seen + count > last:
                    edge = (span, int(start))
                    break
                seen += count
        finally:
            if cursor is not None:
                cursor.close()
        if found is None:
            return None
        start, before = found
        parent = (start, start + span)
    if parent is None or edge is None:
        return None
    span, start = edge
    if newest_first:
        return Seek(lower=start, upper=parent[1], skip=first - before)
    return Seek(lower=parent[0], upper=start + span, skip=first - before)


def locate_within(
    conn: Connection, window: Window, app_id: str, first: int, last: int, newest_first: bool
) -> Seek | None:
    """:func:`locate` for a time window's list. Its calls are a contiguous run of the whole app's
    list under the same counted conditions, so the page is found at its position in that list
    (after the calls beyond the window's near end), then the seek is cut to the window and its
    skip spared the calls it no longer reads."""
    counted = window.counted
    if newest_first:
        beyond = count_between(conn, app_id, counted, window.upper, UNBOUNDED)
    else:
        beyond = count_between(conn, app_id, counted, -UNBOUNDED, window.lower)
    seek = locate(conn, app_id, counted, beyond + first, beyond + last, newest_first)
    if seek is None:
        return None
    if newest_first:
        outside = count_between(conn, app_id, counted, window.upper, seek.upper)
    else:
        outside = count_between(conn, app_id, counted, seek.lower, window.lower)
    return Seek(max(seek.lower, window.lower), min(seek.upper, window.upper), seek.skip - outside)
