"""Usage figures kept exact at every commit: each call's contribution, written by the row writers.

``SessionStore._write_rows`` calls :func:`account_calls` and ``VoiceStore._write_rows`` calls
:func:`account_voice`, in the same transaction as the call rows, before overwriting them. Each
takes the previous contribution of the written calls away (:func:`unaccount_calls`,
:func:`unaccount_voice`) and adds the new one, so the figures stay exact through re-folds and
imports. A feature that deletes calls calls the ``unaccount_*`` function with their ids in its
transaction: a deletion is the same subtraction.

Tables (migration ``m0007_usage``):

* ``usage_calls``: one row per call, clustered by ``initiated_at``: its minutes in ms, start and
  end (for ``peakConcurrent``) and the low-cardinality columns.
* ``usage_call_slots``: those rows summed per app x 15-minute UTC slot x (status, type, mode,
  receiver type, recording). A series without other filters reads these sums.
* ``call_members`` (the session store's member rows, ``m0001``) carry each user's own minutes
  (``minutes_ms``, ``m0023``) beside their missed flag (``groupBy=uid``): :func:`account_calls`
  writes a written call's member rows, where those minutes are computed.
* ``usage_rollup_backlog`` and ``usage_member_backlog`` (``m0027``, ``m0026``): the slots of the
  app's rollups and the per-user rollup keys the writes changed, recomputed together
  (``store/usage_backlog.py``): the rollups are exact at every read rather than at every commit.
* ``usage_long_members`` (``m0021``): the members of long calls by user, with the call's span
  (``groupBy=uid`` counts each ranked user's long calls in progress from it).
* ``usage_voice_calls``: one row per phone call, with what Bird's record carries only in its
  JSON (answer and end times, hang-up cause, PDD, MOS).

Reads are in :mod:`calltrail.store.usage_read`, straight from these rows in :mod:`calltrail.store.usage_rows_read`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

import orjson

from calltrail.kernel.instants import parse_rfc3339
from calltrail.sessions.vocabulary import CallRow
from calltrail.store.database import Connection, Database, bounded_among, chunks
from calltrail.store.usage_backlog import mark
from calltrail.store.usage_members import long_member_rows, stored_members, write_long_members
from calltrail.store.usage_rollups import call_span
from calltrail.usage.figures import billable_minutes, participant_ms, quality, to_ms
from calltrail.usage.periods import SLOT_SECONDS
from calltrail.usage.rollups import CallSpan
from calltrail.voice.record import ChannelCallRow

SLOT_DIMS = ("status", "type", "mode", "receiver_type", "has_recording")
SLOT_SUMS = ("calls", "started", "duration_ms", "started_duration_ms", "audio_ms", "video_ms", "participant_ms")
CALL_COLUMNS = (
    "app_id",
    "initiated_at",
    "session_id",
    "started_at",
    "ended_at",
    *SLOT_DIMS,
    "initiator",
    "duration_ms",
    "audio_ms",
    "video_ms",
    "participant_ms",
)
MEMBER_COLUMNS = (
    "app_id", "session_id", "uid", "initiated_at", "is_initiator", "joined", "rejected", "missed", "minutes_ms"
)  # fmt: skip
VOICE_COLUMNS = (
    "app_id",
    "call_id",
    "channel_id",
    "created_at",
    "status",
    "direction",
    "type",
    "hangup_cause",
    "duration",
    "answered",
    "answered_at",
    "ended_at",
    "billable",
    "pdd_ms",
    "mos_milli",
)
_SLOT_COLUMNS = ("app_id", "slot", *SLOT_DIMS, *SLOT_SUMS)
_SLOT_CONFLICT = f"ON CONFLICT (app_id, slot, {', '.join(SLOT_DIMS)}) DO UPDATE SET " + ", ".join(
    f"{name} = usage_call_slots.{name} + excluded.{name}" for name in SLOT_SUMS
)
_UPSERT_VOICE = "ON CONFLICT (app_id, call_id) DO UPDATE SET " + ", ".join(
    f"{column} = excluded.{column}" for column in VOICE_COLUMNS[2:]
)


@dataclass(frozen=True, slots=True)
class CallUsage:
    """What one call contributes (see :mod:`calltrail.usage.figures`)."""

    initiated_at: int
    session_id: str
    started_at: int | None
    ended_at: int | None
    status: str
    type: str
    mode: str
    receiver_type: str
    has_recording: int
    initiator: str
    duration_ms: int
    audio_ms: int
    video_ms: int
    participant_ms: int

    def values(self) -> tuple[Any, ...]:
        """The fields in order (``dataclasses.astuple`` deep-copies each value: 5 % of ingest, profiled)."""
        return _USAGE_VALUES(self)

    def slot_key(self) -> tuple[Any, ...]:
        return (self.initiated_at // SLOT_SECONDS, self.status, self.type, self.mode, self.receiver_type,
                self.has_recording)  # fmt: skip

    def span(self) -> CallSpan:
        """This call as the rollups see it (``store/usage_rollups.py``)."""
        return call_span((self.session_id, self.initiated_at, self.started_at, self.ended_at, self.type, self.mode,
                          self.status, self.receiver_type, self.duration_ms, self.audio_ms, self.video_ms,
                          self.participant_ms))  # fmt: skip

    def slot_sums(self) -> tuple[int, ...]:
        started = int(self.started_at is not None)
        return (1, started, self.duration_ms, self.duration_ms * started, self.audio_ms, self.video_ms,
                self.participant_ms)  # fmt: skip


_USAGE_VALUES = attrgetter(*(field.name for field in fields(CallUsage)))


def call_usage(row: CallRow) -> tuple[CallUsage, list[tuple[Any, ...]]]:
    """A call row's contribution and its ``call_members`` rows (each user's own minutes last)."""
    record = orjson.loads(row.summary)
    participants, own = participant_ms(record)
    usage = CallUsage(
        row.initiated_at,
        row.session_id,
        row.started_at,
        row.ended_at,
        row.status,
        row.type,
        row.mode,
        row.receiver_type,
        int(row.has_recording),
        row.initiator,
        to_ms(row.duration),
        to_ms(row.audio_minutes),
        to_ms(row.video_minutes),
        participants,
    )
    members = [(row.session_id, m.uid, row.initiated_at, int(m.is_initiator), int(m.joined), int(m.rejected),
                int(m.missed), own.get(m.uid, 0)) for m in row.members]  # fmt: skip
    return usage, members


def _apply_slot_deltas(conn: Connection, app_id: str, deltas: dict[tuple[Any, ...], list[int]]) -> None:
    changed = sorted((key, sums) for key, sums in deltas.items() if any(sums))
    # Sorted, so concurrent PostgreSQL writers lock slot rows in one order (no deadlock).
    conn.insert_rows(
        "usage_call_slots", _SLOT_COLUMNS, [(app_id, *key, *sums) for key, sums in changed], _SLOT_CONFLICT
    )
    emptied = sorted({key[0] for key, sums in changed if sums[0] < 0})
    for part in chunks(emptied):
        among, slots = bounded_among(conn, "slot", part)
        conn.execute(f"DELETE FROM usage_call_slots WHERE app_id = ? AND calls = 0 AND {among}", (app_id, *slots))


def _add(deltas: dict[tuple[Any, ...], list[int]], usage: CallUsage, sign: int) -> None:
    total = deltas.setdefault(usage.slot_key(), [0] * len(SLOT_SUMS))
    for index, value in enumerate(usage.slot_sums()):
        total[index] += sign * value


def _stored_calls(conn: Connection, app_id: str, session_ids: Sequence[str]) -> list[CallUsage]:
    found = []
    # Through the session index by name: SQLite read every usage row of the app through the key
    # instead (it takes the key's first column for a few rows before statistics, and after them,
    # at tens of thousands of calls, still judged the scan cheaper than a lookup per id).
    source = f"usage_calls{conn.indexed_by('usage_calls_by_session')}"
    for part in chunks(list(session_ids)):
        among, ids = conn.any_of("session_id", part)
        rows = conn.fetchall(f"SELECT {', '.join(CALL_COLUMNS[1:])} FROM {source} WHERE app_id = ? AND {among}",
                             (app_id, *ids))  # fmt: skip
        found += [CallUsage(*row) for row in rows]
    return found


def _delete_calls(conn: Connection, app_id: str, session_ids: Sequence[str]) -> None:
    for part in chunks(list(session_ids)):
        among, ids = conn.any_of("session_id", part)
        conn.execute(f"DELETE FROM usage_calls WHERE app_id = ? AND {among}", (app_id, *ids))
        conn.execute(f"DELETE FROM call_members WHERE app_id = ? AND {among}", (app_id, *ids))


def unaccount_calls(conn: Connection, app_id: str, session_ids: Sequence[str]) -> None:
    """Take the stored contribution of these calls away (before they are rewritten or deleted)."""
    deltas: dict[tuple[Any, ...], list[int]] = {}
    stored = _stored_calls(conn, app_id, session_ids)
    was = stored_members(conn, app_id, session_ids)
    for usage in stored:
        _add(deltas, usage, -1)
    _delete_calls(conn, app_id, session_ids)
    _apply_slot_deltas(conn, app_id, deltas)
    spans = [usage.span() for usage in stored]
    write_long_members(conn, _long_rows(app_id, stored, spans, was), [])
    mark(conn, app_id, spans, [(uid, span) for usage, span in zip(stored, spans, strict=True)
                               for uid in was.get(usage.session_id, ())])  # fmt: skip


def _long_rows(
    app_id: str, stored: Sequence[CallUsage], spans: Sequence[CallSpan], members: dict[str, list[str]]
) -> list[tuple[Any, ...]]:
    """The ``usage_long_members`` rows of these calls with these members."""
    return [row for usage, span in zip(stored, spans, strict=True)
            for row in long_member_rows(app_id, usage.session_id, span, members.get(usage.session_id, ()))]  # fmt: skip


def account_calls(conn: Connection, app_id: str, rows: Sequence[CallRow]) -> None:
    """Replace the contribution of the written calls by their new one, and their member rows, in
    the writer's transaction (after their ``calls`` rows, which the member rows reference)."""
    if not rows:
        return
    deltas: dict[tuple[Any, ...], list[int]] = {}
    stored = _stored_calls(conn, app_id, [row.session_id for row in rows])
    was = stored_members(conn, app_id, [usage.session_id for usage in stored])
    for usage in stored:
        _add(deltas, usage, -1)
    _delete_calls(conn, app_id, [row.session_id for row in rows])
    calls, members, spans = [], [], [usage.span() for usage in stored]
    gone = _long_rows(app_id, stored, spans, was)
    # Each member's user, with the call as it was and as it is: per-user rollup keys to mark.
    by_user = [(uid, span) for usage, span in zip(stored, spans, strict=True) for uid in was.get(usage.session_id, ())]
    long_members = []
    for row in rows:
        usage, own = call_usage(row)
        _add(deltas, usage, 1)
        calls.append((app_id, *usage.values()))
        spans.append(usage.span())
        members += [(app_id, *member) for member in own]
        uids = [member[1] for member in own]
        by_user += [(uid, spans[-1]) for uid in uids]
        long_members += long_member_rows(app_id, row.session_id, spans[-1], uids)
    conn.insert_rows("usage_calls", CALL_COLUMNS, calls)
    conn.insert_rows("call_members", MEMBER_COLUMNS, members)
    write_long_members(conn, gone, long_members)
    _apply_slot_deltas(conn, app_id, deltas)
    mark(conn, app_id, spans, by_user)  # both rollups: recomputed later, together, from these rows


def _instant(record: dict[str, Any], key: str) -> int | None:
    value = record.get(key)
    return parse_rfc3339(value) if isinstance(value, str) else None


def voice_usage(app_id: str, row: ChannelCallRow) -> tuple[Any, ...]:
    """A phone call's ``usage_voice_calls`` row."""
    record = orjson.loads(row.body)
    answered_at = _instant(record, "answeredAt")
    cause = record.get("hangupCauseCode")
    pdd, mos = quality(record)
    answered = answered_at is not None
    return (
        app_id,
        row.call_id,
        row.channel_id,
        row.created_at,
        row.status,
        row.direction,
        row.type,
        cause if isinstance(cause, int) and not isinstance(cause, bool) else None,
        row.duration,
        int(answered),
        answered_at,
        _instant(record, "endedAt"),
        billable_minutes(row.duration) if answered else 0,
        pdd,
        mos,
    )


def account_voice(conn: Connection, app_id: str, rows: Sequence[ChannelCallRow]) -> None:
    """Replace the stored figures of the written phone calls, in the writer's transaction."""
    if rows:
        conn.insert_rows("usage_voice_calls", VOICE_COLUMNS, [voice_usage(app_id, row) for row in rows], _UPSERT_VOICE)


def unaccount_voice(conn: Connection, app_id: str, call_ids: Sequence[str]) -> None:
    """Take these phone calls out of the figures (before they are deleted)."""
    for part in chunks(list(call_ids)):
        among, ids = conn.any_of("call_id", part)
        conn.execute(f"DELETE FROM usage_voice_calls WHERE app_id = ? AND {among}", (app_id, *ids))


# -- the one-time backfill of apps that had calls before the usage tables existed ---------------

BACKFILL_PAGE = 2000


def backfill(db: Database) -> list[str]:
    """Compute the figures of every app listed in ``usage_backfill``; returns their ids.

    One transaction per app, holding the exclusive bulk lock on PostgreSQL (the SQLite writer is
    exclusive already), so no writer can interleave and count a call twice.
    """
    from calltrail.sessions.record import merge_record, row_from_record
    from calltrail.voice.record import row_from_record as voice_row

    with db.read() as conn:
        pending = [app_id for (app_id,) in conn.fetchall("SELECT app_id FROM usage_backfill ORDER BY app_id")]
    for app_id in pending:
        with db.write() as conn:
            conn.lock_keys([f"{app_id}/usage-backfill-{n}" for n in range(64)])  # > 32 keys: the app's bulk lock
            # Not call_members: account_calls rewrites the rows of the calls it is given.
            tables = ("usage_calls", "usage_long_members", "usage_call_slots", "usage_voice_calls")
            for table in (*tables, "usage_rollups", "usage_member_rollups"):
                conn.execute(f"DELETE FROM {table} WHERE app_id = ?", (app_id,))
            after = ""
            while True:
                rows = conn.fetchall(
                    "SELECT session_id, source, summary, extra FROM calls WHERE app_id = ? AND session_id > ? "
                    "ORDER BY session_id LIMIT ?",
                    (app_id, after, BACKFILL_PAGE),
                )
                if not rows:
                    break
                account_calls(conn, app_id, [
                    row_from_record(merge_record(bytes(summary), bytes(extra) if extra else None), source)
                    for _, source, summary, extra in rows
                ])  # fmt: skip
                after = rows[-1][0]
            after = ""
            while True:
                rows = conn.fetchall(
                    "SELECT call_id, source, body FROM channel_calls WHERE app_id = ? AND call_id > ? "
                    "ORDER BY call_id LIMIT ?",
                    (app_id, after, BACKFILL_PAGE),
                )
                if not rows:
                    break
                account_voice(conn, app_id, [voice_row(orjson.loads(bytes(body)), source) for _, source, body in rows])
                after = rows[-1][0]
            conn.execute("DELETE FROM usage_backfill WHERE app_id = ?", (app_id,))
    return pending
