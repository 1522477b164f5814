"""Retention and purges: deleting an app's calls older than an instant, in bounded batches.

Each batch is one short write transaction (locked as streams, exactly like
``DELETE /v3/calls/{id}``), so ingestion and reads interleave with a long purge: on SQLite a
batch is 500 calls and holds the single writer for about 0.1 s; on PostgreSQL a batch is 32 calls
(``Database.CONCURRENT_KEYS``), locked one by one, so writers of other calls are never held up.
Sessions are selected by ``initiatedAt`` (seconds), phone calls by ``createdAt`` (milliseconds),
oldest first through the existing ``(app_id, initiated_at)`` / ``(app_id, created_at)`` indexes.
"""

from __future__ import annotations

from dataclasses import dataclass

from calltrail.kernel.errors import AppNotFound
from calltrail.store.database import Database
from calltrail.store.sessions import SessionStore
from calltrail.store.voice import VoiceStore

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Retention:
    """An app that keeps its calls for ``days`` days."""

    app_id: str
    days: int


def set_retention(db: Database, app_id: str, days: int | None) -> None:
    """Keep the app's calls ``days`` days (None or 0: forever). Raises :class:`AppNotFound`."""
    with db.write() as conn:
        if conn.fetchone("SELECT 1 FROM apps WHERE app_id = ?", (app_id,)) is None:
            raise AppNotFound(f"There is no app with id {app_id!r}.")
        conn.execute("UPDATE apps SET retention_days = ? WHERE app_id = ?", (days or None, app_id))


def retention_of(db: Database, app_id: str) -> int | None:
    """The app's retention in days, or None (forever)."""
    with db.read() as conn:
        row = conn.fetchone("SELECT retention_days FROM apps WHERE app_id = ?", (app_id,))
    return int(row[0]) if row and row[0] else None


def retained_apps(db: Database) -> list[Retention]:
    """Every app with a retention period."""
    with db.read() as conn:
        rows = conn.fetchall("SELECT app_id, retention_days FROM apps WHERE retention_days > 0 ORDER BY app_id")
    return [Retention(app_id, int(days)) for app_id, days in rows]


class Purger:
    """Deletes one app's calls older than an instant, a batch at a time."""

    def __init__(
        self, sessions: SessionStore, voice: VoiceStore, app_id: str, before_ms: int, batch: int | None = None
    ):
        self.sessions = sessions
        self.voice = voice
        self.db = sessions.db
        self.app_id = app_id
        self.before_ms = before_ms
        self.batch = batch or self.db.CONCURRENT_KEYS

    def pending(self) -> int:
        """How many calls (sessions and phone calls) are older than the instant."""
        with self.db.read() as conn:
            calls = conn.fetchone(
                "SELECT count(*) FROM calls WHERE app_id = ? AND initiated_at < ?",
                (self.app_id, self.before_ms // 1000),
            )
            phone = conn.fetchone(
                "SELECT count(*) FROM channel_calls WHERE app_id = ? AND created_at < ?", (self.app_id, self.before_ms)
            )
        return int(calls[0] if calls else 0) + int(phone[0] if phone else 0)

    def step(self) -> int:
        """Delete one batch (sessions first, then phone calls); 0 when nothing is left."""
        with self.db.read() as conn:
            ids = [
                session_id
                for (session_id,) in conn.fetchall(
                    "SELECT session_id FROM calls WHERE app_id = ? AND initiated_at < ? "
                    "ORDER BY initiated_at, session_id LIMIT ?",
                    (self.app_id, self.before_ms // 1000, self.batch),
                )
            ]
        if ids:
            # Re-checked under the lock by delete(): a call deleted meanwhile is skipped.
            return len(self.sessions.delete(self.app_id, ids)) or len(ids)
        with self.db.read() as conn:
            phone = [
                call_id
                for (call_id,) in conn.fetchall(
                    "SELECT call_id FROM channel_calls WHERE app_id = ? AND created_at < ? "
                    "ORDER BY created_at, call_id LIMIT ?",
                    (self.app_id, self.before_ms, self.batch),
                )
            ]
        if phone:
            return len(self.voice.delete(self.app_id, phone)) or len(phone)
        return 0

    def run(self) -> int:
        """Delete every call older than the instant; returns how many were deleted."""
        deleted = 0
        while done := self.step():
            deleted += done
        return deleted
