"""Erasure of a person (a privacy request): the uid disappears from an app, its calls stay.

``erase(uid)`` deletes the user's profile and auth tokens, then replaces the uid by a stable
pseudonym (:func:`pseudonym`) in every call the user is a member of, :data:`BATCH` calls per
transaction on SQLite, 32 on PostgreSQL (each holding the calls' stream locks, as ingestion does):

* calls folded from events (``source = 'events'``): the stored event bodies are rewritten (the
  events stay the source of truth) and the record is folded again from them and written by the
  sessions' row writer, which moves member rows, count tables and usage figures exactly;
* imported calls (``source = 'import'``): the record is rewritten directly and written the same
  way (it stays an imported record).

What is rewritten are the fields that hold a user id (:data:`UID_KEYS`), wherever they appear
in an event or record: ``initiator``, ``receiver`` (unless the receiver is a group),
``invitees``, ``uid``, and ``deviceId`` when it is the uid or starts with it followed by
``@``, ``/``, ``:`` or ``#`` (``ann@android/1f2e`` becomes ``erased-…@android/1f2e``).
Free-form ``metaData``, ``tags`` and recording URLs are kept as sent. ``docs/lifecycle.md`` lists exactly what is kept.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from calltrail.adapters.janus import participant_uid
from calltrail.sessions.events import Event
from calltrail.sessions.fold import derive_record
from calltrail.sessions.record import merge_record, row_from_record
from calltrail.sessions.vocabulary import CallRow
from calltrail.store.database import Connection, chunks
from calltrail.store.room_map import rooms_holding
from calltrail.store.secrets import SecretStore
from calltrail.store.sessions import SessionStore

#: Calls rewritten per transaction.
BATCH = 200
PREFIX = "erased-"
UID_KEYS = frozenset({"initiator", "receiver", "invitees", "uid", "deviceId"})
#: What may follow the uid at the start of a device id that embeds it ("" : the whole id).
DEVICE_SEPARATORS = ("", "@", "/", ":", "#")


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure did."""

    uid: str
    pseudonym: str
    profile: bool
    tokens: int
    calls: int


def pseudonym(secret: bytes, app_id: str, uid: str) -> str:
    """``erased-`` + the first 16 hex digits of HMAC-SHA256(server secret, app id / uid):
    the same for a uid every time, on every server of the database; not reversible."""
    digest = hmac.new(secret, f"{app_id}/{uid}".encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:16]


def replace_uid(value: Any, uid: str, alias: str) -> Any:
    """``value`` (JSON) with ``uid`` replaced by ``alias`` in every field of :data:`UID_KEYS`."""
    if isinstance(value, list):
        return [replace_uid(item, uid, alias) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "deviceId" and isinstance(item, str) and item[len(uid) : len(uid) + 1] in DEVICE_SEPARATORS:
            # SDK device ids often start with the uid ("ann@android/1f2e"): that part goes too.
            if item.startswith(uid):
                item = alias + item[len(uid) :]
        elif key in UID_KEYS and not (key == "receiver" and value.get("receiverType") == "group"):
            if item == uid:
                item = alias
            elif isinstance(item, list):
                item = [alias if element == uid else element for element in item]
        elif key not in ("metaData", "tags"):
            item = replace_uid(item, uid, alias)
        out[key] = item
    return out


class Eraser:
    """Erases uids from one app's profiles, tokens, events and calls."""

    def __init__(self, sessions: SessionStore, batch: int | None = None):
        self.sessions = sessions
        self.db = sessions.db
        # At most CONCURRENT_KEYS calls per transaction: writers of other calls go on meanwhile.
        self.batch = batch or min(BATCH, self.db.CONCURRENT_KEYS)

    def pseudonym(self, app_id: str, uid: str) -> str:
        return pseudonym(SecretStore(self.db).get("erasure"), app_id, uid)

    def pending(self, app_id: str, uid: str) -> int:
        """How many calls still name the uid."""
        with self.db.read() as conn:
            row = conn.fetchone("SELECT count(*) FROM call_members WHERE app_id = ? AND uid = ?", (app_id, uid))
        return int(row[0]) if row else 0

    def forget_profile(self, app_id: str, uid: str) -> tuple[bool, int]:
        """Delete the profile and every auth token: (whether a profile existed, tokens deleted)."""
        with self.db.write() as conn:
            profile = conn.fetchone("SELECT 1 FROM user_profiles WHERE app_id = ? AND uid = ?", (app_id, uid))
            tokens = conn.fetchone("SELECT count(*) FROM auth_tokens WHERE app_id = ? AND uid = ?", (app_id, uid))
            conn.execute("DELETE FROM user_profiles WHERE app_id = ? AND uid = ?", (app_id, uid))
            conn.execute("DELETE FROM auth_tokens WHERE app_id = ? AND uid = ?", (app_id, uid))
        return profile is not None, int(tokens[0]) if tokens else 0

    def step(self, app_id: str, uid: str) -> int:
        """Rewrite one batch of the uid's calls; 0 when none is left."""
        with self.db.read() as conn:
            ids = [
                session_id
                for (session_id,) in conn.fetchall(
                    "SELECT session_id FROM call_members WHERE app_id = ? AND uid = ? ORDER BY session_id LIMIT ?",
                    (app_id, uid, self.batch),
                )
            ]
        if not ids:
            return 0
        alias = self.pseudonym(app_id, uid)
        with self.db.write() as conn:
            conn.lock_keys(f"{app_id}/session/{key}" for key in ids)
            self._rewrite(conn, app_id, ids, uid, alias)
        return len(ids)

    def steps(self, app_id: str, uid: str) -> Iterator[int]:
        """Rewrite the uid's calls batch by batch, yielding each batch's size."""
        left = self.pending(app_id, uid)
        while done := self.step(app_id, uid):
            yield done
            now_left = self.pending(app_id, uid)
            if now_left >= left:
                return  # no progress (a record the rewrite cannot change): never loop forever
            left = now_left

    def erase(self, app_id: str, uid: str) -> Erasure:
        """Erase the uid everywhere in the app (see the module's docstring)."""
        profile, tokens = self.forget_profile(app_id, uid)
        calls = sum(self.steps(app_id, uid))
        return Erasure(uid, self.pseudonym(app_id, uid), profile, tokens, calls)

    def _rewrite(self, conn: Connection, app_id: str, ids: Sequence[str], uid: str, alias: str) -> None:
        sources: dict[str, tuple[str, bytes, bytes | None]] = {}
        events: dict[str, list[Event]] = {}
        for part in chunks(list(ids)):
            among, values = conn.any_of("session_id", part)
            for session_id, source, summary, extra in conn.fetchall(
                f"SELECT session_id, source, summary, extra FROM calls WHERE app_id = ? AND {among}",
                (app_id, *values),
            ):
                sources[session_id] = (source, bytes(summary), bytes(extra) if extra is not None else None)
            in_events, event_values = self.sessions.log.spec.streams_among(conn, part)
            for session_id, event_id, event_type, at_ms, body in conn.fetchall(
                f"SELECT session_id, event_id, type, at_ms, body FROM call_events WHERE app_id = ? AND {in_events}",
                (app_id, *event_values),
            ):
                data = replace_uid(orjson.loads(bytes(body)), uid, alias)
                conn.execute(
                    "UPDATE call_events SET body = ? WHERE app_id = ? AND event_id = ?",
                    (orjson.dumps(data), app_id, event_id),
                )
                events.setdefault(session_id, []).append(Event(event_id, event_type, session_id, at_ms, data))
        rows: list[CallRow] = []
        from_rooms: list[str] = []
        for session_id, (source, summary, extra) in sorted(sources.items()):
            record = derive_record(session_id, events[session_id]) if session_id in events else None
            if record is None:
                # Imported, or folded from a Janus room's facts (no events of its own): the
                # stored record is rewritten as it is; it keeps its source.
                record = replace_uid(merge_record(summary, extra), uid, alias)
                if source != "import":
                    from_rooms.append(session_id)
            rows.append(row_from_record(record, source))
        self.sessions._write_rows(conn, app_id, rows)
        rewrite_room_facts(conn, app_id, from_rooms, uid, alias)


def rewrite_room_facts(conn: Connection, app_id: str, session_ids: Sequence[str], uid: str, alias: str) -> None:
    """Rename the uid in the facts of the Janus rooms that produced these sessions, so that a
    later fact of the room, which re-folds it from all its facts, yields the pseudonym too."""
    if not session_ids:
        return
    rooms = rooms_holding(conn, app_id, session_ids)
    for room_key in sorted(rooms):
        for event_id, body in conn.fetchall(
            "SELECT event_id, body FROM room_events WHERE app_id = ? AND room_key = ?", (app_id, room_key)
        ):
            fact = orjson.loads(bytes(body))
            if participant_uid(fact.get("display"), str(fact.get("feedId") or "")) == uid:
                fact["display"] = alias
                conn.execute(
                    "UPDATE room_events SET body = ? WHERE app_id = ? AND event_id = ?",
                    (orjson.dumps(fact), app_id, event_id),
                )
