"""SQL for list queries over calls: exact totals cheaply, and a page plan that stays fast.

Totals. ``call_counts`` keeps, per app, the number of calls for each combination of the
low-cardinality columns (:data:`COUNTED_COLUMNS`), and ``member_counts`` the same per user and
direction/missed flag, both updated in the same transaction as the calls. A query whose
conditions are all equalities on those columns (about the whole app or one user) is counted by
summing a few rows: O(1) however many calls match. So is a whole-app query whose conditions are
all on one participant count (:data:`VALUE_COUNTED`), from ``call_value_counts``. Other queries
count through the index that serves their most selective condition; a query about one user counts
that user's member index.

Pages. A page is read in list order (newest ``initiatedAt`` first) from an index, or by sorting
the matching rows. With a range filter the store counts the matches before reading the page,
so it chooses: sort when few rows match, scan in order otherwise (see :func:`prefer_sort`), hiding
from the planner the index it must not use (:meth:`Connection.unindexed`). A deep page
of a list ``call_page_counts`` can count is read from the ``initiated_at`` range where it lies
(``bounded``, located by :mod:`calltrail.store.page_index`) instead of after a long OFFSET.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calltrail.sessions.query import OPERATORS, CallQuery, Condition
from calltrail.store.database import Connection, placeholders

#: Columns of ``call_counts``: every call is counted under its values of these.
COUNTED_COLUMNS = ("status", "type", "mode", "receiver_type", "has_recording")
#: Columns whose values ``call_value_counts`` counts one by one (migration ``m0025``): small
#: integers a list filters by range.
VALUE_COUNTED = ("total_participants", "participants_count")


@dataclass(frozen=True, slots=True)
class Window:
    """A whole-app query of equalities on the counted columns within ``lower <= initiated_at <
    upper``: counted from ``call_page_counts`` plus its two edges (see
    :func:`calltrail.store.page_index.count_between`), not row by row."""

    counted: tuple[Condition, ...]
    lower: int
    upper: int


@dataclass(frozen=True)
class CompiledQuery:
    """The pieces of SQL a list query needs.

    ``source``/``where``/``params`` select the matching calls (``c`` is the calls table, ``m``
    the driving member row when the query is about a user); ``order`` names the two ordering
    columns. ``count_sql`` is the cheapest exact count. ``counted`` holds the conditions when
    the query is about the whole app and each one is an equality or IN list on the counted columns
    (so ``call_page_counts`` can place a deep page, see :mod:`calltrail.store.page_index`); its
    ``count_sql`` then also returns the app's total, in a second column.
    """

    source: str
    where: str
    params: list[Any]
    order: tuple[str, str]
    count_sql: str
    count_params: list[Any]
    ranged: tuple[Condition, ...]
    counted: tuple[Condition, ...] | None = None
    window: Window | None = None
    #: Only member rows are filtered (a user's calls, no condition on the call): the page is cut
    #: from the member rows before the calls are joined, so an OFFSET passes member rows alone.
    members_only: bool = False
    #: A whole-app query of ranges on one column alone: that column's index, ``(app_id, column,
    #: initiated_at)``, holds all a sort needs to find where the page ends (see :meth:`page_sql`).
    one_range: bool = False

    def page_sql(
        self, direction: str, *, sort: bool, conn: Connection, bounded: bool = False, top: int | None = None
    ) -> str:
        """The page query. Where the engine takes plan hints, ``sort`` makes the planner sort
        rather than scan in order; otherwise ranged conditions are hidden from index selection so
        it scans in order. ``bounded`` adds an ``initiated_at`` range (two more parameters, lower
        bound inclusive, upper exclusive, before the limit) where a deep page was located.

        The statement ends with ``LIMIT ? OFFSET ?`` (two more parameters), or, with ``top``, reads
        the first ``top`` rows, the number written into it. PostgreSQL plans a prepared statement
        once only when a plan without the parameters' values costs no more than with them: with the
        limit unknown, page 1 was planned again at every execution (0.15-0.24 ms of a 0.7-1.0 ms
        round trip on the 1M-call copy); with the page size in its text (a few sizes are asked), once."""
        where = self.where
        limit = "LIMIT ? OFFSET ?" if top is None else f"LIMIT {int(top)}"
        if bounded:
            where += f" AND {self.order[0]} >= ? AND {self.order[0]} < ?"
        first, second = self.order
        if conn.needs_plan_hints and self.ranged:
            if sort:
                first, second = conn.unindexed(first), conn.unindexed(second)
                if self._sorts_to_page_end(sort, conn):
                    where += self._page_end(first, conn.trailing_key(self.order[0]), direction)
            else:
                for condition in self.ranged:
                    where = where.replace(f"c.{condition.column} ", f"{conn.unindexed('c.' + condition.column)} ")
        if self.members_only:
            # Every member row has its call (a foreign key): the page of member rows is the page.
            # Joined after the cut, the calls are read for the page's rows only (a user-view page
            # 20 read 600 calls to show 30: 3.3 -> 0.6 ms on PostgreSQL at 1M calls).
            ordered = f"ORDER BY {first} {direction}, {second} {direction}"
            return (
                "SELECT c.summary FROM (SELECT m.app_id, m.session_id, m.initiated_at FROM call_members m "
                f"WHERE {where} {ordered} {limit}) m "
                f"JOIN calls c ON c.app_id = m.app_id AND c.session_id = m.session_id {ordered}"
            )
        return (
            f"SELECT c.summary FROM {self.source} WHERE {where} "
            f"ORDER BY {first} {direction}, {second} {direction} {limit}"
        )

    def _page_end(self, first: str, key: str, direction: str) -> str:
        """`` AND`` the matches up to the page's last row by ``first`` (ties included): a sort
        then reads the table for those rows alone, having found where they end in the filter's
        index. Its parameters follow the query's own: the query's again, then the page's
        last row (offset + limit - 1). A one-day ``startedAt`` range a month back, 38,270 of
        10M calls: the sort read every match's row (112 ms in process, now 12). ``key`` is
        the list's first column as the engine tests it in the filter's index (PostgreSQL as an
        index condition: 6.4 -> 1.5 ms at 1M calls, where a form it could not test there read
        every match's row)."""
        end = f"(SELECT {first} FROM {self.source} WHERE {self.where} ORDER BY {first} {direction} LIMIT 1 OFFSET ?)"
        if direction == "DESC":
            return f" AND {key} >= coalesce({end}, {-UNBOUNDED})"
        return f" AND {key} <= coalesce({end}, {UNBOUNDED})"

    def _sorts_to_page_end(self, sort: bool, conn: Connection) -> bool:
        """Whether :meth:`page_sql` adds :meth:`_page_end` (and :meth:`page_params` its values)."""
        return sort and self.one_range and conn.needs_plan_hints

    def page_params(self, sort: bool, conn: Connection, limit: int, offset: int) -> tuple[Any, ...]:
        """The parameters of :meth:`page_sql` (not bounded, not ``top``) for this page."""
        if self._sorts_to_page_end(sort, conn):
            return (*self.params, *self.params, offset + limit - 1, limit, offset)
        return (*self.params, limit, offset)


def condition_sql(condition: Condition, alias: str = "c") -> tuple[str, list[Any]]:
    if condition.op == "in":
        values = list(condition.value)  # type: ignore[call-overload]
        if not values:
            return "1 = 0", []
        return f"{alias}.{condition.column} IN ({placeholders(len(values))})", values
    return f"{alias}.{condition.column} {OPERATORS[condition.op]} ?", [condition.value]


def compile_query(app_id: str, query: CallQuery) -> CompiledQuery:
    """Compile a query. Column names come from :mod:`calltrail.sessions.query`'s allow-list only."""
    member_clauses: list[str] = []
    member_params: list[Any] = []
    if query.members:
        first, rest = query.members[0], query.members[1:]
        member_clauses.append("m.app_id = ? AND m.uid = ?")
        member_params += [app_id, first.uid]
        for flag, value in first.flags:
            member_clauses.append(f"m.{flag} = ?")
            member_params.append(int(value))
        for index, member in enumerate(rest, start=2):
            alias = f"m{index}"
            sub = [f"{alias}.app_id = m.app_id", f"{alias}.session_id = m.session_id", f"{alias}.uid = ?"]
            member_params.append(member.uid)
            for flag, value in member.flags:
                sub.append(f"{alias}.{flag} = ?")
                member_params.append(int(value))
            member_clauses.append(f"EXISTS (SELECT 1 FROM call_members {alias} WHERE {' AND '.join(sub)})")

    call_clauses: list[str] = []
    call_params: list[Any] = []
    for condition in query.conditions:
        sql, values = condition_sql(condition)
        call_clauses.append(sql)
        call_params += values
    ranged = tuple(c for c in query.conditions if c.op in ("gt", "gte", "lt", "lte") and c.column != "initiated_at")

    if query.members:
        source = "call_members m JOIN calls c ON c.app_id = m.app_id AND c.session_id = m.session_id"
        where = " AND ".join(member_clauses + call_clauses)
        params = member_params + call_params
        order = ("m.initiated_at", "m.session_id")
        counted_flags = all(flag in ("is_initiator", "missed") for flag, _ in first.flags)
        if not rest and counted_flags and _all_counted(query.conditions):
            counted = [condition_sql(c, "k") for c in query.conditions]
            flags = [f"k.{flag} = ?" for flag, _ in first.flags]
            count_where = " AND ".join(["k.app_id = ? AND k.uid = ?", *flags, *(sql for sql, _ in counted)])
            count_sql = f"SELECT coalesce(sum(k.n), 0) FROM member_counts k WHERE {count_where}"
            count_params = [app_id, first.uid, *(int(v) for _, v in first.flags)]
            count_params += [v for _, values in counted for v in values]
        elif call_clauses:
            count_sql, count_params = f"SELECT count(*) FROM {source} WHERE {where}", params
        else:
            # Every member row has its call (a foreign key), so the join adds nothing to a count.
            count_sql = f"SELECT count(*) FROM call_members m WHERE {' AND '.join(member_clauses)}"
            count_params = member_params
    else:
        source = "calls c"
        where = " AND ".join(["c.app_id = ?", *call_clauses])
        params = [app_id, *call_params]
        order = ("c.initiated_at", "c.session_id")
        if _all_counted(query.conditions):
            # The app's total too (a second column, a handful of rows more): it tells how many rows
            # an OFFSET would pass per matching one, which decides how a deep page is read.
            counted = [condition_sql(c, "k") for c in query.conditions]
            matching = " AND ".join(sql for sql, _ in counted)
            selected = f"sum(CASE WHEN {matching} THEN k.n ELSE 0 END)" if counted else "sum(k.n)"
            count_sql = f"SELECT coalesce({selected}, 0), coalesce(sum(k.n), 0) FROM call_counts k WHERE k.app_id = ?"
            count_params = [*(v for _, values in counted for v in values), app_id]
            return CompiledQuery(
                source, where, params, order, count_sql, count_params, ranged, counted=query.conditions
            )
        count_sql, count_params = f"SELECT count(*) FROM {source} WHERE {where}", params
        if _one_value_counted(query.conditions):
            # Summed from the counts per value: a few rows, not every matching index entry.
            filters = [condition_sql(c, "k") for c in query.conditions]
            name = query.conditions[0].column
            matching = "".join(" AND " + sql.replace(f"k.{name}", "k.value", 1) for sql, _ in filters)
            count_sql = (
                f"SELECT coalesce(sum(k.n), 0) FROM call_value_counts k WHERE k.app_id = ? AND k.name = ?{matching}"
            )
            count_params = [app_id, name, *(value for _, found in filters for value in found)]
        window = time_window(query.conditions)
        one_range = bool(ranged) and len(ranged) == len(query.conditions) and len({c.column for c in ranged}) == 1
        return CompiledQuery(
            source, where, params, order, count_sql, count_params, ranged, window=window, one_range=one_range
        )
    return CompiledQuery(source, where, params, order, count_sql, count_params, ranged, members_only=not call_clauses)


#: Beyond any stored instant: the bound of a window open on that side.
UNBOUNDED = 2**62
#: ``initiated_at op v`` as bounds ``lower <= initiated_at < upper`` (whole seconds).
_BOUNDS = {"gte": (0, None), "gt": (1, None), "lte": (None, 1), "lt": (None, 0), "eq": (0, 1)}


def time_window(conditions: tuple[Condition, ...]) -> Window | None:
    """The :class:`Window` of a whole-app query whose conditions are counted equalities and at
    least one ``initiated_at`` comparison; None for any other query."""
    counted = tuple(c for c in conditions if c.column in COUNTED_COLUMNS and c.op in ("eq", "in"))
    timed = [c for c in conditions if c.column == "initiated_at" and c.op in _BOUNDS]
    if not timed or len(counted) + len(timed) != len(conditions):
        return None
    lower, upper = -UNBOUNDED, UNBOUNDED
    for condition in timed:
        value = int(condition.value)  # type: ignore[call-overload]
        low, high = _BOUNDS[condition.op]
        if low is not None:
            lower = max(lower, value + low)
        if high is not None:
            upper = min(upper, value + high)
    return Window(counted, lower, upper)


def _one_value_counted(conditions: tuple[Condition, ...]) -> bool:
    """Whether every condition is on the same one of :data:`VALUE_COUNTED`."""
    return bool(conditions) and conditions[0].column in VALUE_COUNTED and len({c.column for c in conditions}) == 1


def _all_counted(conditions: tuple[Condition, ...]) -> bool:
    return all(c.column in COUNTED_COLUMNS and c.op in ("eq", "in") for c in conditions)


def app_total_sql() -> str:
    """Every call of an app, counted from ``call_counts``."""
    return "SELECT coalesce(sum(n), 0) FROM call_counts WHERE app_id = ?"


#: Instants a call reaches at or after its initiation: a cap on one is a cap on the initiation
#: of every call that matches, so the newer calls come before them all in the list.
AFTER_INITIATION = ("started_at", "ended_at")


def latest_initiation(conditions: tuple[Condition, ...]) -> int | None:
    """A bound no matching call is initiated at or after, from a condition capping a time
    :data:`AFTER_INITIATION` (``startedAt[lt]=X``: initiated before X); None without one. It
    only weighs a plan: an imported record started before its initiation reads the same rows."""
    caps = [int(c.value) + _BOUNDS[c.op][1] for c in conditions  # type: ignore[call-overload]
            if c.column in AFTER_INITIATION and c.op in _BOUNDS and _BOUNDS[c.op][1] is not None]  # fmt: skip
    return min(caps) if caps else None


def prefer_sort(matching: int, app_total: int, rows_needed: int, passed: int = 0) -> bool:
    """Whether sorting the matching rows beats scanning the whole list in order.

    Scanning in order reads about ``rows_needed / selectivity`` rows before it has the page,
    after the ``passed`` rows that come before any match can (see :func:`latest_initiation`:
    a one-day ``startedAt`` range a month back has a month of calls before it, which the
    selectivity alone does not tell; at 10M calls the scan took 1.4 s). Sorting reads each
    matching row once. (Both read table rows: the ranged column is not in the order index, and
    the summary is not in the filter index.)
    """
    if matching == 0 or app_total == 0:
        return False
    selectivity = matching / app_total
    return matching < passed + rows_needed / selectivity
