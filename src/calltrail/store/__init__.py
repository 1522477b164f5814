"""Storage: one :class:`Stores` per process gives every feature its store over one database."""

from __future__ import annotations

from calltrail.store.database import Database, open_database
from calltrail.store.exports import ExportReader
from calltrail.store.integrations import IntegrationStore
from calltrail.store.migrations import migrate
from calltrail.store.outbox import OutboxStore
from calltrail.store.rooms import RoomStore
from calltrail.store.sessions import SessionStore
from calltrail.store.tenants import TenantStore
from calltrail.store.usage import backfill as backfill_usage
from calltrail.store.usage_members import backfill as backfill_members
from calltrail.store.usage_read import UsageReader
from calltrail.store.usage_rollups import backfill as backfill_rollups
from calltrail.store.usage_rollups import backfill_day_edges, backfill_peak_times
from calltrail.store.users import UserStore
from calltrail.store.voice import VoiceStore


class Stores:
    """The stores of every feature, sharing one database connection factory."""

    def __init__(self, db: Database):
        self.db = db
        self.tenants = TenantStore(db)
        self.sessions = SessionStore(db)
        self.voice = VoiceStore(db)
        self.users = UserStore(db)
        self.integrations = IntegrationStore(db)
        self.outbox = OutboxStore(db)
        # A room's calls are sessions: written (and replaced) by the sessions' own row writer.
        self.rooms = RoomStore(db, self.sessions._write_rows, self.sessions._delete_rows)
        self.usage = UsageReader(db)
        self.exports = ExportReader(db)

    def prepare_to_serve(self) -> None:
        """Make sure the planner has statistics before serving reads (sampled: milliseconds)."""
        self.db.prepare_to_serve()

    def ping(self) -> None:
        """Raise :class:`calltrail.kernel.errors.Unavailable` unless the database answers."""
        with self.db.read() as conn:
            conn.fetchone("SELECT 1")

    def close(self) -> None:
        self.db.close()


def open_stores(url: str, *, run_migrations: bool = True) -> Stores:
    """Open the database at ``url``, bring its schema up to date, and return its stores."""
    db = open_database(url)
    try:
        if run_migrations:
            migrate(db)
            backfill_usage(db)  # once, for apps that had calls before the usage tables existed
            backfill_rollups(db)  # once, for apps that had calls before the rollups existed
            backfill_day_edges(db)  # once, for apps whose day rows predate a record per slot
            backfill_peak_times(db)  # once, for apps whose slot rows predate their peak times
            backfill_members(db)  # once, for apps that had calls before the per-user rollups existed
    except BaseException:
        db.close()
        raise
    return Stores(db)


__all__ = ["Database", "SessionStore", "Stores", "TenantStore", "UserStore", "VoiceStore", "open_stores"]
