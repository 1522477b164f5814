"""Usage series: the figures of ``/api/usage/calls`` and ``/api/usage/voice`` from the tables
:mod:`calltrail.store.usage` keeps exact.

How a calls series is read, in one snapshot:

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
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from calltrail.kernel.errors import ResultTooLarge
from calltrail.sessions.query import OPERATORS, CallQuery, Condition
from calltrail.sessions.vocabulary import CALL_MODES, CALL_STATUSES, CALL_TYPES, RECEIVER_TYPES
from calltrail.store.database import Connection, Database, integer, placeholders
from calltrail.store.usage_backlog import has_backlog, has_rollup_backlog, settle, settle_in
from calltrail.store.usage_members_read import MemberSeriesRead
from calltrail.store.usage_rollups_read import SeriesRead
from calltrail.usage.figures import CallSums, VoiceSums, call_row, peak, voice_row
from calltrail.usage.params import MAX_ROWS, CallUsageRequest, Period, VoiceUsageRequest
from calltrail.usage.periods import Bucket, buckets, seconds_bounds, split_slots
from calltrail.usage.rollups import GROUP_COLUMNS
from calltrail.voice.query import ChannelCallQuery
from calltrail.voice.vocabulary import CALL_TYPES as VOICE_TYPES
from calltrail.voice.vocabulary import DIRECTIONS
from calltrail.voice.vocabulary import STATUSES as VOICE_STATUSES

#: Buckets per query: keeps the generated CASE small however long an hourly series is.
BUCKETS_PER_QUERY = 1024
_USAGE_COLUMNS = frozenset(
    ("initiated_at", "started_at", "ended_at", "status", "type", "mode", "receiver_type", "has_recording", "initiator")
)
_SLOT_COLUMNS = frozenset(("status", "type", "mode", "receiver_type", "has_recording"))
CALL_GROUPS = {"type": "type", "mode": "mode", "status": "status", "receiverType": "receiver_type",
               "initiator": "initiator"}  # fmt: skip
_CALL_CHOICES: dict[str, tuple[Any, ...]] = {
    "type": CALL_TYPES, "mode": CALL_MODES, "status": CALL_STATUSES, "receiverType": RECEIVER_TYPES,
}  # fmt: skip
VOICE_GROUPS = {"direction": "direction", "status": "status", "type": "type", "channelId": "channel_id",
                "hangupCause": "hangup_cause"}  # fmt: skip
_VOICE_CHOICES: dict[str, tuple[Any, ...]] = {"direction": DIRECTIONS, "status": VOICE_STATUSES, "type": VOICE_TYPES}
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
_NO_STATUSES: Mapping[str, int] = {}


def bucket_case(expr: str, ranges: Sequence[tuple[int, int, int]]) -> str:
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


def _rollup_choice(query: CallQuery, group: str | None) -> tuple[str, str | None] | None:
    """``(grp, value)`` of the rollups that answer this series, or ``None`` (read the calls)."""
    if query.members or group not in (None, *GROUP_COLUMNS):
        return None
    if not query.conditions:
        return group or "", None
    if len(query.conditions) > 1 or group is not None:
        return None
    condition = query.conditions[0]
    values = list(condition.value) if condition.op == "in" else [condition.value]  # type: ignore[call-overload]
    if condition.column in GROUP_COLUMNS and condition.op in ("eq", "in") and len(values) == 1:
        return condition.column, str(values[0])
    return None


def _reads_member_rollups(request: CallUsageRequest) -> bool:
    """Whether a ``groupBy=uid`` series reads the per-user rollups (it has no filter)."""
    return not (request.query.conditions or request.query.members)


class UsageReader:
    """Answers usage series over one database (one snapshot per series; a series read from rollups
    first settles their backlog, ``store/usage_backlog.py``)."""

    def __init__(self, db: Database):
        self.db = db

    def settle(self, app_id: str) -> None:
        """Recompute the app's rollups' backlog (before a snapshot whose series read them)."""
        settle(self.db, app_id)

    # -- calls ------------------------------------------------------------------------------

    def calls(self, app_id: str, request: CallUsageRequest, now_ms: int) -> list[dict[str, Any]]:
        """The rows of ``/api/usage/calls``, bucket after bucket."""
        period = request.period
        series = buckets(period.from_ms, period.to_ms, period.interval, period.tz)
        group = CALL_GROUPS.get(period.group_by or "")
        rollup = None if period.group_by == "uid" else _rollup_choice(request.query, group)
        if rollup is not None:
            marked = has_rollup_backlog
        elif period.group_by == "uid" and _reads_member_rollups(request):
            marked = has_backlog
        else:  # read from the calls or the member rows: no rollups, no backlog
            with self.db.read() as conn:
                return self._calls(conn, app_id, request, series, group, rollup, now_ms)
        self.settle(app_id)  # a day per transaction, before the snapshot
        with self.db.read() as conn:
            if not marked(conn, app_id):
                return self._calls(conn, app_id, request, series, group, rollup, now_ms)
        # Writes marked more since settle() (a steady ingest does): recomputed, then read, in one
        # write transaction, under the rollups' lock, so that no write comes between the two.
        with self.db.write() as conn:
            settle_in(conn, app_id)
            return self._calls(conn, app_id, request, series, group, rollup, now_ms)

    def _calls(
        self,
        conn: Connection,
        app_id: str,
        request: CallUsageRequest,
        series: list[Bucket],
        group: str | None,
        rollup: tuple[str, str | None] | None,
        now_ms: int,
    ) -> list[dict[str, Any]]:
        period = request.period
        if period.group_by == "uid":
            return self._member_series(conn, app_id, request, series, now_ms)
        sums: dict[Key, CallSums] = {}
        statuses: dict[Key, dict[str, int]] = {}
        filters = _Filter(request.query)
        if rollup is not None:
            read = SeriesRead(conn, app_id, *rollup, series, now_ms)
            sums, statuses, edges = read.sums()
            for start in range(0, len(edges), BUCKETS_PER_QUERY):
                part_edges = edges[start : start + BUCKETS_PER_QUERY]
                self._raw_sums(conn, app_id, filters, group, part_edges, sums, statuses)
            # Only the buckets in which a call was initiated can have a peak (their own calls').
            peaks = read.peaks({index for (index, _), found in sums.items() if found.calls})
        for offset, part in _chunks(series if rollup is None else []):
            if _slot_eligible(request.query, group):
                self._slot_sums(conn, app_id, filters, group, part, offset, sums, statuses)
            else:
                ranges = [(*seconds_bounds(b), offset + i) for i, b in enumerate(part)]
                self._raw_sums(conn, app_id, filters, group, ranges, sums, statuses)
        if rollup is None:
            peaks = self._call_peaks(conn, app_id, filters, group, series, now_ms)
        groups = _groups(period, _CALL_CHOICES, {key[1] for key in sums}, len(series))
        return [
            call_row(
                bucket.label,
                g,
                sums.get((i, g), CallSums()),
                statuses.get((i, g), _NO_STATUSES),
                peaks.get((i, g), 0),
                grouped=period.group_by is not None,
                uid=False,
            )
            for i, bucket in enumerate(series)
            for g in groups
        ]

    def _slot_sums(
        self, conn: Connection, app_id: str, filters: _Filter, group: str | None, part: list[Bucket], offset: int,
        sums: dict[Key, CallSums], statuses: dict[Key, dict[str, int]],
    ) -> None:  # fmt: skip
        plan = split_slots(part)
        if plan.slot_ranges:
            ranges = [(lo, hi, offset + i) for lo, hi, i in plan.slot_ranges]
            where = filters.where().replace("u.", "s.")
            grouped = f"s.{group}, " if group else ""
            sql = (
                f"SELECT {bucket_case('s.slot', ranges)}, {grouped}s.status, {_SLOT_SUMS} FROM usage_call_slots s "
                f"WHERE s.app_id = ? AND s.slot >= ? AND s.slot < ?{where} GROUP BY 1, {'2, 3' if group else '2'}"
            )
            params = [app_id, ranges[0][0], ranges[-1][1], *filters.params]
            _collect_calls(conn.fetchall(sql, params), group is not None, sums, statuses)
        for lo, hi, index in plan.raw_ranges:
            self._raw_sums(conn, app_id, filters, group, [(lo, hi, offset + index)], sums, statuses)

    def _raw_sums(
        self, conn: Connection, app_id: str, filters: _Filter, group: str | None,
        ranges: list[tuple[int, int, int]], sums: dict[Key, CallSums], statuses: dict[Key, dict[str, int]],
    ) -> None:  # fmt: skip
        grouped = f"u.{group}, " if group else ""
        sql = (
            f"SELECT {bucket_case('u.initiated_at', ranges)}, {grouped}u.status, {_RAW_SUMS} FROM {filters.source()} "
            f"WHERE u.app_id = ? AND u.initiated_at >= ? AND u.initiated_at < ?{filters.where()} "
            f"GROUP BY 1, {'2, 3' if group else '2'}"
        )
        params = [app_id, ranges[0][0], ranges[-1][1], *filters.params]
        _collect_calls(conn.fetchall(sql, params), group is not None, sums, statuses)

    def _call_peaks(
        self, conn: Connection, app_id: str, filters: _Filter, group: str | None, series: list[Bucket], now_ms: int
    ) -> dict[Key, int]:
        grouped = f", u.{group}" if group else ""
        lo, hi = seconds_bounds(series[0])[0], seconds_bounds(series[-1])[1]
        rows = conn.fetchall(
            f"SELECT u.initiated_at, u.started_at, u.ended_at, u.status{grouped} FROM {filters.source()} "
            f"WHERE u.app_id = ? AND u.initiated_at >= ? AND u.initiated_at < ? AND u.started_at IS NOT NULL"
            f"{filters.where()}",
            [app_id, lo, hi, *filters.params],
        )
        return _sweep(series, ((r[0], r[4] if group else None, r[1], r[2], r[3]) for r in rows), now_ms, seconds=True)

    def _member_series(
        self, conn: Connection, app_id: str, request: CallUsageRequest, series: list[Bucket], now_ms: int
    ) -> list[dict[str, Any]]:
        """``groupBy=uid``: from the per-user rollups without filters (a few rows per bucket and user,
        ``store/usage_members.py``), else from the member rows of the calls the filters keep."""
        if not _reads_member_rollups(request):
            return self._member_raw_series(conn, app_id, request, series, now_ms)
        read = MemberSeriesRead(conn, app_id, series, now_ms)
        top = read.top(request.period.limit)
        _check_member_rows(top, series)
        sums, statuses = read.sums()
        return _member_rows(series, top, sums, statuses, read.peaks())

    def _member_raw_series(
        self, conn: Connection, app_id: str, request: CallUsageRequest, series: list[Bucket], now_ms: int
    ) -> list[dict[str, Any]]:
        period = request.period
        filters = _Filter(request.query)
        source = filters.source(
            "call_members m JOIN usage_calls u ON u.app_id = m.app_id AND u.initiated_at = m.initiated_at "
            "AND u.session_id = m.session_id"
        )
        lo, hi = seconds_bounds(series[0])[0], seconds_bounds(series[-1])[1]
        where = f"m.app_id = ? AND m.initiated_at >= ? AND m.initiated_at < ?{filters.where()}"
        params = [app_id, lo, hi, *filters.params]
        top_source = source if filters.clauses else "call_members m"
        totals = conn.fetchall(f"SELECT m.uid, sum(m.minutes_ms), count(*) FROM {top_source} WHERE {where} "
                               "GROUP BY m.uid", params)  # fmt: skip
        # Ranked in Python, as the rollups' path does: one order whatever the database's collation.
        ranked = sorted((-integer(own), -integer(calls), uid) for uid, own, calls in totals)
        top = [uid for _, _, uid in ranked[: period.limit]]
        _check_member_rows(top, series)
        sums: dict[Key, CallSums] = {}
        statuses: dict[Key, Counter[str]] = {}
        rows: list[tuple[Any, ...]] = []
        among = f" AND m.uid IN ({placeholders(len(top))})" if top else " AND 1 = 0"
        for offset, part in _chunks(series):
            ranges = [(*seconds_bounds(b), offset + i) for i, b in enumerate(part)]
            rows += conn.fetchall(
                f"SELECT {bucket_case('m.initiated_at', ranges)}, m.uid, u.status, {_RAW_SUMS}, sum(m.minutes_ms), "
                f"sum(m.missed) FROM {source} WHERE m.app_id = ? AND m.initiated_at >= ? AND m.initiated_at < ?"
                f"{filters.where()}{among} GROUP BY 1, 2, 3",
                [app_id, ranges[0][0], ranges[-1][1], *filters.params, *top],
            )
        for index, uid, status, *figures in rows:
            if index >= 0:
                total = sums.setdefault((index, uid), CallSums())
                calls, started, duration, started_duration, audio, video = map(integer, figures[:6])
                own = CallSums(
                    calls, started, duration, started_duration, audio, video, integer(figures[7]), integer(figures[8])
                )
                total.add(own)
                statuses.setdefault((index, uid), Counter())[status] += integer(figures[0])
        intervals = conn.fetchall(
            f"SELECT m.initiated_at, m.uid, u.started_at, u.ended_at, u.status FROM {source} WHERE {where}{among} "
            "AND u.started_at IS NOT NULL",
            [*params, *top],
        )
        return _member_rows(series, top, sums, statuses, _sweep(series, intervals, now_ms, seconds=True))

    # -- phone calls ------------------------------------------------------------------------

    def voice(self, app_id: str, request: VoiceUsageRequest, now_ms: int) -> list[dict[str, Any]]:
        """The rows of ``/api/usage/voice``, bucket after bucket."""
        period = request.period
        series = buckets(period.from_ms, period.to_ms, period.interval, period.tz)
        group = VOICE_GROUPS.get(period.group_by or "")
        source, where, params = _voice_filter(request.query)
        with self.db.read() as conn:
            sums, statuses = self._voice_sums(conn, app_id, request, series)
            intervals = conn.fetchall(
                f"SELECT v.created_at, {('v.' + group) if group else 'NULL'}, v.answered_at, v.ended_at, v.status "
                f"FROM {source} WHERE v.app_id = ? AND v.created_at >= ? AND v.created_at < ? "
                f"AND v.answered_at IS NOT NULL{where}",
                [app_id, period.from_ms, period.to_ms, *params],
            )
        peaks = _sweep(series, intervals, now_ms, seconds=False)
        groups = _groups(period, _VOICE_CHOICES, {key[1] for key in sums}, len(series))
        return [
            voice_row(
                bucket.label,
                g,
                sums.get((i, g), VoiceSums()),
                statuses.get((i, g), Counter()),
                peaks.get((i, g), 0),
                grouped=period.group_by is not None,
            )
            for i, bucket in enumerate(series)
            for g in groups
        ]

    def voice_sums(self, app_id: str, request: VoiceUsageRequest) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The rows of an ungrouped ``/api/usage/voice`` series without ``peakConcurrent`` (not
        read), and the row of the whole range (its sums add up exactly; its peak is not read
        either). For a page that shows no phone-call peak: one query, no sweep."""
        period = request.period
        series = buckets(period.from_ms, period.to_ms, period.interval, period.tz)
        with self.db.read() as conn:
            sums, statuses = self._voice_sums(conn, app_id, request, series)
        total, counts = VoiceSums(), Counter[str]()
        for key, found in sums.items():
            for name in VoiceSums.__slots__:
                setattr(total, name, getattr(total, name) + getattr(found, name))
            counts.update(statuses.get(key, Counter()))
        rows = [
            voice_row(
                b.label, None, sums.get((i, None), VoiceSums()), statuses.get((i, None), Counter()), 0, grouped=False
            )
            for i, b in enumerate(series)
        ]
        whole = voice_row(series[0].label, None, total, counts, 0, grouped=False)
        for row in (*rows, whole):
            del row["peakConcurrent"]
        return rows, whole

    def _voice_sums(
        self, conn: Connection, app_id: str, request: VoiceUsageRequest, series: list[Bucket]
    ) -> tuple[dict[Key, VoiceSums], dict[Key, Counter[str]]]:
        group = VOICE_GROUPS.get(request.period.group_by or "")
        source, where, params = _voice_filter(request.query)
        grouped = f"v.{group}, " if group else ""
        sums: dict[Key, VoiceSums] = {}
        statuses: dict[Key, Counter[str]] = {}
        for offset, part in _chunks(series):
            ranges = [(b.start_ms, b.end_ms, offset + i) for i, b in enumerate(part)]
            rows = conn.fetchall(
                f"SELECT {bucket_case('v.created_at', ranges)}, {grouped}v.status, {_VOICE_SUMS} FROM {source} "
                f"WHERE v.app_id = ? AND v.created_at >= ? AND v.created_at < ?{where} "
                f"GROUP BY 1, {'2, 3' if group else '2'}",
                [app_id, ranges[0][0], ranges[-1][1], *params],
            )
            for row in rows:
                index, g, status, figures = row[0], row[1] if group else None, row[-11], row[-10:]
                if index >= 0:
                    total = sums.setdefault((index, g), VoiceSums())
                    for name, value in zip(VoiceSums.__slots__, figures, strict=True):
                        setattr(total, name, getattr(total, name) + integer(value))
                    statuses.setdefault((index, g), Counter())[status] += integer(figures[0])
        return sums, statuses


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


def _check_member_rows(top: list[str], series: list[Bucket]) -> None:
    if len(top) * len(series) > MAX_ROWS:
        raise ResultTooLarge(details={"limit": [f"gives more than {MAX_ROWS} rows: lower limit or interval"]})


def _member_rows(
    series: list[Bucket], top: list[str], sums: dict[Key, CallSums], statuses: Mapping[Key, Mapping[str, int]],
    peaks: dict[Key, int],
) -> list[dict[str, Any]]:  # fmt: skip
    return [
        call_row(
            bucket.label,
            uid,
            sums.get((i, uid), CallSums()),
            statuses.get((i, uid), {}),
            peaks.get((i, uid), 0),
            grouped=True,
            uid=True,
        )
        for i, bucket in enumerate(series)
        for uid in top
    ]


def _groups(period: Period, choices: dict[str, tuple[Any, ...]], seen: set[Any], buckets_count: int) -> list[Any]:
    """The groups every bucket shows: each value of an enumerated column, else the values seen."""
    if period.group_by is None:
        return [None]
    if period.group_by in choices:
        return list(choices[period.group_by])
    found = sorted(seen, key=lambda value: (value is not None, value))
    if len(found) * buckets_count > MAX_ROWS:
        raise ResultTooLarge(details={"groupBy": [f"gives more than {MAX_ROWS} rows: choose a longer interval"]})
    return found


def _sweep(series: list[Bucket], rows: Any, now_ms: int, *, seconds: bool) -> dict[Key, int]:
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
