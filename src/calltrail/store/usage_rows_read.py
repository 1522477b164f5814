"""Reading usage series from the per-call rows :mod:`calltrail.store.usage` keeps exact
(``usage_calls``, ``usage_call_slots``, ``call_members``, ``usage_voice_calls``):
:class:`CallRowsRead`, :class:`MemberRowsRead` and :class:`VoiceRowsRead`.

A calls series whose filters or grouping the rollups do not hold is read here, and so are the
edges of a rollup series that cut through a slot and every phone-call series:

* Sums and status counts. When every filter is an equality on a low-cardinality column (status,
  type, mode, receiver type, recording) and the grouping is one of them (or none), the whole
  15-minute slots of each bucket are summed from ``usage_call_slots`` (a few rows per slot
  whatever the number of calls), and the edges that cut through a slot (an arbitrary ``from``
  or ``to``) from ``usage_calls``. Any other filter or grouping sums ``usage_calls`` (joined to
  ``calls`` for the columns only it has). Buckets are assigned in SQL by a binary search over
  their bounds, so the database returns one row per bucket, group and status.
* ``peakConcurrent`` is read from the start and end of each call the row counts (clustered by
  initiation time: one range scan), swept in Python per bucket. Exact for any filter, zone and
  bucket; its cost grows with the number of started calls in the range (see docs/usage.md).

Phone calls are summed from ``usage_voice_calls`` alone (it holds every figure's input).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from calltrail.sessions.query import OPERATORS, CallQuery, Condition
from calltrail.store.database import Connection, integer, placeholders
from calltrail.usage.figures import CallSums, VoiceSums, peak
from calltrail.usage.periods import Bucket, seconds_bounds, split_slots
from calltrail.voice.query import ChannelCallQuery

#: Buckets per query: keeps the generated CASE small however long an hourly series is.
BUCKETS_PER_QUERY = 1024
_USAGE_COLUMNS = frozenset(
    ("initiated_at", "started_at", "ended_at", "status", "type", "mode", "receiver_type", "has_recording", "initiator")
)
_SLOT_COLUMNS = frozenset(("status", "type", "mode", "receiver_type", "has_recording"))
_RAW_SUMS = (
    "count(*), sum(CASE WHEN u.started_at IS NULL THEN 0 ELSE 1 END), sum(u.duration_ms), "
    "sum(CASE WHEN u.started_at IS NULL THEN 0 ELSE u.duration_ms END), sum(u.audio_ms), sum(u.video_ms), "
    "sum(u.participant_ms)"
)
_SLOT_SUMS = (
    "sum(s.calls), sum(s.started), sum(s.duration_ms), sum(s.started_duration_ms), sum(s.audio_ms), "
    "sum(s.video_ms), sum(s.participant_ms)"
)
_VOICE_SUMS = (
    "count(*), sum(v.answered), sum(coalesce(v.duration, 0)), "
    "sum(CASE WHEN v.answered = 1 AND v.duration IS NOT NULL THEN 1 ELSE 0 END), "
    "sum(CASE WHEN v.answered = 1 THEN coalesce(v.duration, 0) ELSE 0 END), sum(v.billable), "
    "count(v.pdd_ms), coalesce(sum(v.pdd_ms), 0), count(v.mos_milli), coalesce(sum(v.mos_milli), 0)"
)

Key = tuple[int, Any]
#: ``(lo, hi, bucket index)``: a half-open range of instants and the bucket it falls in.
Range = tuple[int, int, int]


def bucket_case(expr: str, ranges: Sequence[Range]) -> str:
    """SQL giving the index of the range ``[lo, hi)`` containing ``expr`` (-1 for none), by a
    binary search over sorted, disjoint ranges. The bounds are integers we computed: no input."""
    if len(ranges) == 1:
        lo, hi, index = ranges[0]
        return f"CASE WHEN {expr} >= {int(lo)} AND {expr} < {int(hi)} THEN {int(index)} ELSE -1 END"
    middle = len(ranges) // 2
    left, right = bucket_case(expr, ranges[:middle]), bucket_case(expr, ranges[middle:])
    return f"CASE WHEN {expr} < {int(ranges[middle][0])} THEN {left} ELSE {right} END"


def _chunks(series: list[Bucket]) -> Iterator[tuple[int, list[Bucket]]]:
    for start in range(0, len(series), BUCKETS_PER_QUERY):
        yield start, series[start : start + BUCKETS_PER_QUERY]


def _seconds_ranges(part: list[Bucket], offset: int) -> list[Range]:
    return [(*seconds_bounds(bucket), offset + index) for index, bucket in enumerate(part)]


class _Filter:
    """WHERE clauses over ``usage_calls u`` (and ``calls c`` when a filter needs it)."""

    def __init__(self, query: CallQuery):
        self.clauses: list[str] = []
        self.params: list[Any] = []
        self.needs_calls = False
        for condition in query.conditions:
            self._condition(condition)
        for index, member in enumerate(query.members):
            alias = f"m{index}"
            sql = [f"{alias}.app_id = u.app_id", f"{alias}.session_id = u.session_id", f"{alias}.uid = ?"]
            self.params.append(member.uid)
            for flag, value in member.flags:
                sql.append(f"{alias}.{flag} = ?")
                self.params.append(int(value))
            self.clauses.append(f"EXISTS (SELECT 1 FROM call_members {alias} WHERE {' AND '.join(sql)})")

    def _condition(self, condition: Condition) -> None:
        alias = "u" if condition.column in _USAGE_COLUMNS else "c"
        self.needs_calls |= alias == "c"
        column = f"{alias}.{condition.column}"
        if condition.op == "in":
            values = list(condition.value)  # type: ignore[call-overload]
            self.clauses.append(f"{column} IN ({placeholders(len(values))})" if values else "1 = 0")
            self.params += values
        else:
            self.clauses.append(f"{column} {OPERATORS[condition.op]} ?")
            self.params.append(condition.value)

    def source(self, base: str = "usage_calls u") -> str:
        join = " JOIN calls c ON c.app_id = u.app_id AND c.session_id = u.session_id" if self.needs_calls else ""
        return base + join

    def where(self) -> str:
        return "".join(f" AND {clause}" for clause in self.clauses)


def _slot_eligible(query: CallQuery, group: str | None) -> bool:
    return (
        not query.members
        and all(c.column in _SLOT_COLUMNS and c.op in ("eq", "in") for c in query.conditions)
        and group in (None, "type", "mode", "status", "receiver_type")
    )


class CallRowsRead:
    """One calls series read from the calls' own rows, for any filter and grouping (``group``, a
    ``usage_calls`` column, or None): keys ``(bucket index, group value)``."""

    def __init__(
        self, conn: Connection, app_id: str, query: CallQuery, group: str | None, series: list[Bucket], now_ms: int
    ):
        self.conn, self.app_id, self.group, self.series, self.now_ms = conn, app_id, group, series, now_ms
        self.filters = _Filter(query)
        self.by_slots = _slot_eligible(query, group)

    def sums(self) -> tuple[dict[Key, CallSums], dict[Key, dict[str, int]]]:
        """Every bucket's sums and status counts: whole slots from ``usage_call_slots`` when the
        filters and grouping allow, the rest from ``usage_calls``."""
        sums: dict[Key, CallSums] = {}
        statuses: dict[Key, dict[str, int]] = {}
        for offset, part in _chunks(self.series):
            if self.by_slots:
                self._slot_sums(part, offset, sums, statuses)
            else:
                self.add_sums(_seconds_ranges(part, offset), sums, statuses)
        return sums, statuses

    def add_sums(self, ranges: list[Range], sums: dict[Key, CallSums], statuses: dict[Key, dict[str, int]]) -> None:
        """Add to ``sums`` and ``statuses`` the calls initiated in ``ranges`` (seconds, sorted): also
        the edges a rollup series leaves to the calls (:class:`~calltrail.store.usage_rollups_read.SeriesRead`)."""
        for start in range(0, len(ranges), BUCKETS_PER_QUERY):
            self._raw_sums(ranges[start : start + BUCKETS_PER_QUERY], sums, statuses)

    def _slot_sums(
        self, part: list[Bucket], offset: int, sums: dict[Key, CallSums], statuses: dict[Key, dict[str, int]]
    ) -> None:
        plan = split_slots(part)
        group, filters = self.group, self.filters
        if plan.slot_ranges:
            ranges = [(lo, hi, offset + i) for lo, hi, i in plan.slot_ranges]
            where = filters.where().replace("u.", "s.")
            grouped = f"s.{group}, " if group else ""
            sql = (
                f"SELECT {bucket_case('s.slot', ranges)}, {grouped}s.status, {_SLOT_SUMS} FROM usage_call_slots s "
                f"WHERE s.app_id = ? AND s.slot >= ? AND s.slot < ?{where} GROUP BY 1, {'2, 3' if group else '2'}"
            )
            params = [self.app_id, ranges[0][0], ranges[-1][1], *filters.params]
            _collect_calls(self.conn.fetchall(sql, params), group is not None, sums, statuses)
        for lo, hi, index in plan.raw_ranges:
            self._raw_sums([(lo, hi, offset + index)], sums, statuses)

    def _raw_sums(self, ranges: list[Range], sums: dict[Key, CallSums], statuses: dict[Key, dict[str, int]]) -> None:
        group, filters = self.group, self.filters
        grouped = f"u.{group}, " if group else ""
        sql = (
            f"SELECT {bucket_case('u.initiated_at', ranges)}, {grouped}u.status, {_RAW_SUMS} FROM {filters.source()} "
            f"WHERE u.app_id = ? AND u.initiated_at >= ? AND u.initiated_at < ?{filters.where()} "
            f"GROUP BY 1, {'2, 3' if group else '2'}"
        )
        params = [self.app_id, ranges[0][0], ranges[-1][1], *filters.params]
        _collect_calls(self.conn.fetchall(sql, params), group is not None, sums, statuses)

    def peaks(self) -> dict[Key, int]:
        """Every bucket's ``peakConcurrent``, swept from the started calls' spans."""
        group, filters, series = self.group, self.filters, self.series
        grouped = f", u.{group}" if group else ""
        lo, hi = seconds_bounds(series[0])[0], seconds_bounds(series[-1])[1]
        rows = self.conn.fetchall(
            f"SELECT u.initiated_at, u.started_at, u.ended_at, u.status{grouped} FROM {filters.source()} "
            f"WHERE u.app_id = ? AND u.initiated_at >= ? AND u.initiated_at < ? AND u.started_at IS NOT NULL"
            f"{filters.where()}",
            [self.app_id, lo, hi, *filters.params],
        )
        spans = ((r[0], r[4] if group else None, r[1], r[2], r[3]) for r in rows)
        return sweep(series, spans, self.now_ms, seconds=True)


class MemberRowsRead:
    """One ``groupBy=uid`` series read from the member rows of the calls the filters keep (the
    per-user rollups hold no filter): :meth:`top` ranks the users, then :meth:`sums` and
    :meth:`peaks` read those users' figures (keys ``(bucket index, uid)``)."""

    def __init__(self, conn: Connection, app_id: str, query: CallQuery, series: list[Bucket], now_ms: int):
        self.conn, self.app_id, self.series, self.now_ms = conn, app_id, series, now_ms
        self.filters = _Filter(query)
        self.source = self.filters.source(
            "call_members m JOIN usage_calls u ON u.app_id = m.app_id AND u.initiated_at = m.initiated_at "
            "AND u.session_id = m.session_id"
        )
        lo, hi = seconds_bounds(series[0])[0], seconds_bounds(series[-1])[1]
        self.where = f"m.app_id = ? AND m.initiated_at >= ? AND m.initiated_at < ?{self.filters.where()}"
        self.params = [app_id, lo, hi, *self.filters.params]
        self.uids: list[str] = []

    def _among(self) -> str:
        return f" AND m.uid IN ({placeholders(len(self.uids))})" if self.uids else " AND 1 = 0"

    def top(self, limit: int) -> list[str]:
        """The ``limit`` users with the most own minutes over the range (ties: more calls, then uid)."""
        top_source = self.source if self.filters.clauses else "call_members m"
        totals = self.conn.fetchall(
            f"SELECT m.uid, sum(m.minutes_ms), count(*) FROM {top_source} WHERE {self.where} GROUP BY m.uid",
            self.params,
        )
        # Ranked in Python, as the rollups' path does: one order whatever the database's collation.
        ranked = sorted((-integer(own), -integer(calls), uid) for uid, own, calls in totals)
        self.uids = [uid for _, _, uid in ranked[:limit]]
        return self.uids

    def sums(self) -> tuple[dict[Key, CallSums], dict[Key, Counter[str]]]:
        """The ranked users' sums and status counts in each bucket."""
        filters = self.filters
        rows: list[tuple[Any, ...]] = []
        for offset, part in _chunks(self.series):
            ranges = _seconds_ranges(part, offset)
            rows += self.conn.fetchall(
                f"SELECT {bucket_case('m.initiated_at', ranges)}, m.uid, u.status, {_RAW_SUMS}, sum(m.minutes_ms), "
                f"sum(m.missed) FROM {self.source} WHERE m.app_id = ? AND m.initiated_at >= ? AND m.initiated_at < ?"
                f"{filters.where()}{self._among()} GROUP BY 1, 2, 3",
                [self.app_id, ranges[0][0], ranges[-1][1], *filters.params, *self.uids],
            )
        sums: dict[Key, CallSums] = {}
        statuses: dict[Key, Counter[str]] = {}
        for index, uid, status, *figures in rows:
            if index >= 0:
                total = sums.setdefault((index, uid), CallSums())
                calls, started, duration, started_duration, audio, video = map(integer, figures[:6])
                own = CallSums(
                    calls, started, duration, started_duration, audio, video, integer(figures[7]), integer(figures[8])
                )
                total.add(own)
                statuses.setdefault((index, uid), Counter())[status] += integer(figures[0])
        return sums, statuses

    def peaks(self) -> dict[Key, int]:
        """The ranked users' ``peakConcurrent`` in each bucket, swept from their started calls."""
        spans = self.conn.fetchall(
            f"SELECT m.initiated_at, m.uid, u.started_at, u.ended_at, u.status FROM {self.source} "
            f"WHERE {self.where}{self._among()} AND u.started_at IS NOT NULL",
            [*self.params, *self.uids],
        )
        return sweep(self.series, spans, self.now_ms, seconds=True)


class VoiceRowsRead:
    """One phone-call series read from ``usage_voice_calls`` (``group``, one of its columns, or
    None): keys ``(bucket index, group value)``."""

    def __init__(self, conn: Connection, app_id: str, query: ChannelCallQuery, group: str | None, series: list[Bucket]):
        self.conn, self.app_id, self.group, self.series = conn, app_id, group, series
        self.source, self.where, self.params = _voice_filter(query)

    def sums(self) -> tuple[dict[Key, VoiceSums], dict[Key, Counter[str]]]:
        """Every bucket's sums and status counts."""
        group = self.group
        grouped = f"v.{group}, " if group else ""
        sums: dict[Key, VoiceSums] = {}
        statuses: dict[Key, Counter[str]] = {}
        for offset, part in _chunks(self.series):
            ranges = [(b.start_ms, b.end_ms, offset + i) for i, b in enumerate(part)]
            rows = self.conn.fetchall(
                f"SELECT {bucket_case('v.created_at', ranges)}, {grouped}v.status, {_VOICE_SUMS} FROM {self.source} "
                f"WHERE v.app_id = ? AND v.created_at >= ? AND v.created_at < ?{self.where} "
                f"GROUP BY 1, {'2, 3' if group else '2'}",
                [self.app_id, ranges[0][0], ranges[-1][1], *self.params],
            )
            for row in rows:
                index, g, status, figures = row[0], row[1] if group else None, row[-11], row[-10:]
                if index >= 0:
                    total = sums.setdefault((index, g), VoiceSums())
                    for name, value in zip(VoiceSums.__slots__, figures, strict=True):
                        setattr(total, name, getattr(total, name) + integer(value))
                    statuses.setdefault((index, g), Counter())[status] += integer(figures[0])
        return sums, statuses

    def answered(self, from_ms: int, to_ms: int) -> list[tuple[Any, ...]]:
        """The spans of the answered calls created in ``[from_ms, to_ms)``, as :func:`sweep` takes
        them: fetched in the snapshot, swept after it."""
        group = self.group
        return self.conn.fetchall(
            f"SELECT v.created_at, {('v.' + group) if group else 'NULL'}, v.answered_at, v.ended_at, v.status "
            f"FROM {self.source} WHERE v.app_id = ? AND v.created_at >= ? AND v.created_at < ? "
            f"AND v.answered_at IS NOT NULL{self.where}",
            [self.app_id, from_ms, to_ms, *self.params],
        )


def _collect_calls(
    rows: list[tuple[Any, ...]], grouped: bool, sums: dict[Key, CallSums], statuses: dict[Key, dict[str, int]]
) -> None:
    for row in rows:
        index, g = row[0], row[1] if grouped else None
        status, figures = row[2 if grouped else 1], row[-7:]
        if index < 0:
            continue  # a slot cut by a bucket boundary: read from the per-call rows instead
        sums.setdefault((index, g), CallSums()).add(CallSums(*map(integer, figures)))
        counts = statuses.setdefault((index, g), {})
        counts[status] = counts.get(status, 0) + integer(figures[0])


def sweep(series: list[Bucket], rows: Iterable[Sequence[Any]], now_ms: int, *, seconds: bool) -> dict[Key, int]:
    """``peakConcurrent`` per (bucket, group) from ``(at, group, start, end, status)`` rows."""
    scale = 1000 if seconds else 1
    starts = [seconds_bounds(b)[0] if seconds else b.start_ms for b in series]
    ends = [seconds_bounds(b)[1] if seconds else b.end_ms for b in series]
    intervals: dict[Key, list[tuple[int, int]]] = {}
    for at, group, start, end, status in rows:
        index = bisect_right(starts, at) - 1
        if index < 0 or at >= ends[index]:
            continue
        if end is None:
            if status != "ongoing":
                continue  # over, but no end was recorded: never in progress
            stop = now_ms
        else:
            stop = int(end) * scale
        # A call is in progress from startedAt, or from initiatedAt if an event put its start
        # earlier (as the rollups count it); a phone call from answeredAt.
        begin = max(int(start), int(at)) if seconds else int(start)
        intervals.setdefault((index, group), []).append((begin * scale, stop))
    return {key: peak(spans, series[key[0]].start_ms, series[key[0]].end_ms) for key, spans in intervals.items()}


def _voice_filter(query: ChannelCallQuery) -> tuple[str, str, list[Any]]:
    """FROM, WHERE (each ``AND ...``) and parameters over ``usage_voice_calls v``."""
    clauses: list[str] = []
    params: list[Any] = []
    join = False
    for column, values in (
        ("v.channel_id", query.channels),
        ("v.status", query.statuses),
        ("v.type", query.types),
        ("v.direction", query.directions),
    ):
        if values:
            clauses.append(f"{column} IN ({placeholders(len(values))})")
            params += values
    for column, text in (("c.call_to", query.call_to), ("c.call_from", query.call_from)):
        if text is not None:
            clauses.append(f"{column} = ?")
            params.append(text)
            join = True
    for column, value in (("v.duration", query.duration), ("v.call_id", query.call_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if query.tags:
        clauses.append(
            "EXISTS (SELECT 1 FROM channel_call_tags x WHERE x.app_id = v.app_id AND x.call_id = v.call_id "
            f"AND x.tag IN ({placeholders(len(query.tags))}))"
        )
        params += query.tags
    source = "usage_voice_calls v"
    if join:
        source += " JOIN channel_calls c ON c.app_id = v.app_id AND c.call_id = v.call_id"
    return source, "".join(f" AND {clause}" for clause in clauses), params
