"""Every matching call, newest first, page by page from one snapshot: what exports stream.

A :class:`ExportCursor` holds a read-only transaction on a connection of its own
(:meth:`calltrail.store.database.Database.snapshot`): on SQLite a WAL read transaction, on
PostgreSQL a REPEATABLE READ one. Every page is read from that snapshot, so an export running
while calls are ingested or imported contains each call exactly once, as it was when the export
began. Pages are keyset pages in list order (``(initiatedAt, sessionId)`` or
``(createdAt, callId)`` descending), so memory stays constant and each page costs the same.
The cursor may be used from any thread, one call at a time (an HTTP export reads each page in
one worker trip), and reads the next page ahead on a thread of its own; :meth:`ExportCursor.close`
ends the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from typing import Any

import orjson

from calltrail.kernel.cursors import Cursor
from calltrail.sessions.query import CallQuery
from calltrail.sessions.record import SCALAR_FIELDS
from calltrail.store.database import Connection, Database
from calltrail.store.sessions_sql import compile_query
from calltrail.store.voice_sql import compile_page
from calltrail.voice.query import ChannelCallQuery

PAGE_ROWS = 1000
Position = tuple[Any, Any]
#: Reads the page after a position (None: the first): ``(documents, last position or None)``.
PageReader = Callable[[Connection, Position | None, int], tuple[list[bytes], Position | None]]
#: Where each value a tabular export reads is in a stored record (keys from the top).
Paths = Sequence[tuple[str, ...]]
#: The paths whose values each call row keeps ready (``calls.scalars``).
STORED_SCALARS = tuple((name,) for name in SCALAR_FIELDS)


class ExportCursor:
    """Pages of stored JSON documents in list order, from one snapshot.

    While the caller encodes and sends a page, the next one is read on a thread of the cursor's
    own (reading a page of values is mostly the database's work, done without the GIL), so the
    two overlap on two cores; the snapshot's connection is still used by one thread at a time."""

    def __init__(self, db: Database, read_page: PageReader, page_rows: int = PAGE_ROWS):
        self._stack = ExitStack()
        self._conn = self._stack.enter_context(db.snapshot())
        self._read_page = read_page
        self._rows = page_rows
        self._after: Position | None = None
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-read")
        self._ahead: Future[tuple[list[bytes], Position | None]] | None = None
        self.done = False

    def _read(self, after: Position | None) -> tuple[list[bytes], Position | None]:
        return self._read_page(self._conn, after, self._rows)

    def next_page(self) -> list[bytes]:
        """The next documents (empty once every matching call was read)."""
        if self.done:
            return []
        ahead, self._ahead = self._ahead, None
        documents, last = ahead.result() if ahead is not None else self._read(self._after)
        if len(documents) < self._rows or last is None:
            self.done = True
        else:
            self._ahead = self._reader.submit(self._read, last)
        self._after = last
        return documents

    def close(self) -> None:
        """End the snapshot (idempotent), once a page being read ahead is done with it."""
        self.done = True
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            wait([ahead])  # its result (or error) is of no use any more
        self._reader.shutdown()
        self._stack.close()


def call_pages(app_id: str, query: CallQuery, paths: Paths | None = None) -> PageReader:
    """Keyset pages of the calls matching ``query``: the list-shape JSON of each, or with
    ``paths`` the JSON array of its values there (``Connection.json_values``; ``("sessionId",)``
    must be one of them).

    A page selects the stored documents (or values) alone: the position after it is read once per
    page, for its last call only (by that call's ``sessionId``, a primary-key lookup), so no row
    carries its ordering columns into Python (a third of the cost of reading a page)."""
    compiled = compile_query(app_id, query)
    first, second = compiled.order
    order = f"ORDER BY {first} DESC, {second} DESC LIMIT ?"
    position = f"SELECT {first}, {second} FROM {compiled.source} WHERE {compiled.where} AND {second} = ?"
    session_id = _session_id(paths)
    statements: dict[str, tuple[str, str]] = {}

    def sql(conn: Connection) -> tuple[str, str]:
        """The opening and following page queries (the selected expression is the dialect's)."""
        found = statements.get(conn.dialect)
        if found is None:
            selected = "c.summary" if paths is None else conn.json_values("c.summary", paths)
            if paths is not None and tuple(paths) == STORED_SCALARS:
                # Kept at write time (m0017): read, not parsed out of the record. (COALESCE: a
                # row without them would still export right.)
                selected = f"COALESCE(c.scalars, {selected})"
            select = f"SELECT {selected} FROM {compiled.source} WHERE {compiled.where}"
            found = statements[conn.dialect] = (
                f"{select} {order}",
                f"{select} AND ({first}, {second}) < (?, ?) {order}",
            )
        return found

    def read(conn: Connection, after: Position | None, rows: int) -> tuple[list[bytes], Position | None]:
        opening, following = sql(conn)
        if after is None:
            found = conn.fetchall(opening, [*compiled.params, rows])
        else:
            found = conn.fetchall(following, [*compiled.params, *after, rows])
        documents = [bytes(summary) for (summary,) in found]
        if len(documents) < rows:
            return documents, None  # the last page: no position after it is needed
        last = conn.fetchone(position, [*compiled.params, session_id(documents[-1])])
        if last is None:  # the snapshot still holds the call it just returned
            raise RuntimeError("an exported call is missing from its own snapshot")
        return documents, (last[0], last[1])

    return read


def _session_id(paths: Paths | None) -> Callable[[bytes], Any]:
    """Reads the ``sessionId`` of a page's row: from its document, or its value array."""
    index = None if paths is None else list(paths).index(("sessionId",))

    def read(row: bytes) -> Any:
        decoded = orjson.loads(row)
        # A value array, unless the database gave the document back (json_values).
        return decoded[index] if index is not None and isinstance(decoded, list) else decoded["sessionId"]

    return read


def voice_pages(app_id: str, query: ChannelCallQuery, paths: Paths | None = None) -> PageReader:
    """Keyset pages of the phone calls matching ``query``: each record's JSON, or with ``paths``
    the JSON array of its values there (``Connection.json_values``)."""

    def read(conn: Connection, after: Position | None, rows: int) -> tuple[list[bytes], Position | None]:
        cursor = Cursor(int(after[0]), str(after[1])) if after is not None else None
        sql, params = compile_page(conn, app_id, query, cursor, rows)
        if paths is not None:
            # The page's own query, its bodies read as values (in the same order).
            values = conn.json_values("v.body", paths)
            sql = (
                f"SELECT v.created_at, v.call_id, {values} FROM ({sql}) AS v ORDER BY v.created_at DESC, v.call_id DESC"
            )
        found = conn.fetchall(sql, params)
        last = (found[-1][0], found[-1][1]) if found else None
        return [bytes(body) for _, _, body in found], last

    return read


class ExportReader:
    """Opens export cursors over one database."""

    def __init__(self, db: Database):
        self.db = db

    def calls(
        self, app_id: str, query: CallQuery, page_rows: int = PAGE_ROWS, paths: Paths | None = None
    ) -> ExportCursor:
        """Every call matching ``query``, newest first: documents, or their values at ``paths``."""
        return ExportCursor(self.db, call_pages(app_id, query, paths), page_rows)

    def voice(
        self, app_id: str, query: ChannelCallQuery, page_rows: int = PAGE_ROWS, paths: Paths | None = None
    ) -> ExportCursor:
        """Every phone call matching ``query``, newest first: documents, or their values at ``paths``."""
        return ExportCursor(self.db, voice_pages(app_id, query, paths), page_rows)
