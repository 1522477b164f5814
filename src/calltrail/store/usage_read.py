"""Usage series: the figures of ``/api/usage/calls`` and ``/api/usage/voice`` from the tables
:mod:`calltrail.store.usage` keeps exact, each series in one snapshot.

Which source answers a calls series:

* the rollups (:mod:`calltrail.store.usage_rollups_read`) when it has no filter (ungrouped or
  grouped by a column they hold), or one equality on such a column and no grouping: whole
  blocks, and the edges that cut through a slot from the calls;
* the per-user rollups (:mod:`calltrail.store.usage_members_read`) for ``groupBy=uid`` without
  filters;
* else the per-call rows (:mod:`calltrail.store.usage_rows_read`), which also hold every phone
  call.

A series read from rollups first settles their backlog (``store/usage_backlog.py``). Here the
figures become the endpoints' rows: one per bucket and group, every value of an enumerated column
shown, and no more than ``MAX_ROWS`` of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from calltrail.kernel.errors import ResultTooLarge
from calltrail.sessions.query import CallQuery
from calltrail.sessions.vocabulary import CALL_MODES, CALL_STATUSES, CALL_TYPES, RECEIVER_TYPES
from calltrail.store.database import Connection, Database
from calltrail.store.usage_backlog import has_backlog, has_rollup_backlog, settle, settle_in
from calltrail.store.usage_members_read import MemberSeriesRead
from calltrail.store.usage_rollups_read import SeriesRead
from calltrail.store.usage_rows_read import CallRowsRead, Key, MemberRowsRead, VoiceRowsRead, sweep
from calltrail.usage.figures import CallSums, VoiceSums, call_row, voice_row
from calltrail.usage.params import MAX_ROWS, CallUsageRequest, Period, VoiceUsageRequest
from calltrail.usage.periods import Bucket, buckets
from calltrail.usage.rollups import GROUP_COLUMNS
from calltrail.voice.vocabulary import CALL_TYPES as VOICE_TYPES
from calltrail.voice.vocabulary import DIRECTIONS
from calltrail.voice.vocabulary import STATUSES as VOICE_STATUSES

CALL_GROUPS = {"type": "type", "mode": "mode", "status": "status", "receiverType": "receiver_type",
               "initiator": "initiator"}  # fmt: skip
_CALL_CHOICES: dict[str, tuple[Any, ...]] = {
    "type": CALL_TYPES, "mode": CALL_MODES, "status": CALL_STATUSES, "receiverType": RECEIVER_TYPES,
}  # fmt: skip
VOICE_GROUPS = {"direction": "direction", "status": "status", "type": "type", "channelId": "channel_id",
                "hangupCause": "hangup_cause"}  # fmt: skip
_VOICE_CHOICES: dict[str, tuple[Any, ...]] = {"direction": DIRECTIONS, "status": VOICE_STATUSES, "type": VOICE_TYPES}

_NO_STATUSES: Mapping[str, int] = {}


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
        rows = CallRowsRead(conn, app_id, request.query, group, series, now_ms)
        if rollup is not None:
            read = SeriesRead(conn, app_id, *rollup, series, now_ms)
            sums, statuses, edges = read.sums()
            rows.add_sums(edges, sums, statuses)
            # Only the buckets in which a call was initiated can have a peak (their own calls').
            peaks = read.peaks({index for (index, _), found in sums.items() if found.calls})
        else:
            sums, statuses = rows.sums()
            peaks = rows.peaks()
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

    def _member_series(
        self, conn: Connection, app_id: str, request: CallUsageRequest, series: list[Bucket], now_ms: int
    ) -> list[dict[str, Any]]:
        """``groupBy=uid``: from the per-user rollups without filters (a few rows per bucket and user,
        ``store/usage_members.py``), else from the member rows of the calls the filters keep."""
        if not _reads_member_rollups(request):
            return self._member_raw_series(conn, app_id, request, series, now_ms)
        return _ranked_rows(MemberSeriesRead(conn, app_id, series, now_ms), request.period.limit, series)

    def _member_raw_series(
        self, conn: Connection, app_id: str, request: CallUsageRequest, series: list[Bucket], now_ms: int
    ) -> list[dict[str, Any]]:
        read = MemberRowsRead(conn, app_id, request.query, series, now_ms)
        return _ranked_rows(read, request.period.limit, series)

    # -- phone calls ------------------------------------------------------------------------

    def voice(self, app_id: str, request: VoiceUsageRequest, now_ms: int) -> list[dict[str, Any]]:
        """The rows of ``/api/usage/voice``, bucket after bucket."""
        period = request.period
        series = buckets(period.from_ms, period.to_ms, period.interval, period.tz)
        group = VOICE_GROUPS.get(period.group_by or "")
        with self.db.read() as conn:
            read = VoiceRowsRead(conn, app_id, request.query, group, series)
            sums, statuses = read.sums()
            answered = read.answered(period.from_ms, period.to_ms)
        peaks = sweep(series, answered, now_ms, seconds=False)
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
        group = VOICE_GROUPS.get(period.group_by or "")
        with self.db.read() as conn:
            sums, statuses = VoiceRowsRead(conn, app_id, request.query, group, series).sums()
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


def _ranked_rows(read: MemberSeriesRead | MemberRowsRead, limit: int, series: list[Bucket]) -> list[dict[str, Any]]:
    """The rows of a ``groupBy=uid`` series: its top ``limit`` users' in each bucket, refused once
    the users are ranked, before their figures are read, when they would be too many."""
    top = read.top(limit)
    _check_member_rows(top, series)
    sums, statuses = read.sums()
    return _member_rows(series, top, sums, statuses, read.peaks())


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
