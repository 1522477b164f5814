"""The room log's map from a room to the sessions its facts produced (``rooms.sessions``),
kept in step when sessions are deleted (``DELETE /v3/calls/{id}``, retention, purge).

Removing a deleted session from its room's list keeps the room log from treating it as a call
it produced. The room's *facts* stay (one fact cannot be told apart by call): a later fact of
that room re-folds every occupancy from all its facts and writes the session again. This is
documented in ``docs/lifecycle.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from calltrail.store.database import Connection


def _like(session_id: str) -> str:
    quoted = orjson.dumps(session_id).decode()
    return "%" + quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def rooms_holding(conn: Connection, app_id: str, session_ids: Sequence[str]) -> dict[str, list[str]]:
    """The rooms (key -> their session list) whose list holds one of these sessions."""
    found: dict[str, list[str]] = {}
    if not session_ids or conn.fetchone("SELECT 1 FROM rooms WHERE app_id = ? LIMIT 1", (app_id,)) is None:
        return found  # most apps have no Janus rooms: no scan at all
    for session_id in sorted(set(session_ids)):
        for room_key, sessions in conn.fetchall(
            "SELECT room_key, sessions FROM rooms WHERE app_id = ? AND sessions LIKE ? ESCAPE '\\'",
            (app_id, _like(session_id)),
        ):
            found[room_key] = orjson.loads(sessions)
    return found


def forget_room_sessions(conn: Connection, app_id: str, session_ids: Sequence[str]) -> None:
    """Remove these session ids from every room list of the app that holds them."""
    gone = set(session_ids)
    for room_key, sessions in sorted(rooms_holding(conn, app_id, session_ids).items()):
        kept = [s for s in sessions if s not in gone]
        conn.execute(
            "UPDATE rooms SET sessions = ? WHERE app_id = ? AND room_key = ?",
            (orjson.dumps(kept).decode(), app_id, room_key),
        )
