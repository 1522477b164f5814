"""Every matching call, newest first, page by page from one snapshot: what exports stream.

A :class:`ExportCursor` holds a read-only transaction on a connection of its own
(:meth:`calltrail.store.database.Database.snapshot`): on SQLite a WAL read transaction, on
PostgreSQL a REPEATABLE READ one. Every page is read from that snapshot, so an export running
while calls are ingested or imported contains each call exactly once, as it was when the export
began. Pages are keyset pages in list order (``(initiatedAt, sessionId)`` or
``(createdAt, callId)`` descending), so memory stays constant and each page costs the same.
The cursor may be used from any thread, one call at a time (an HTTP export reads each page in
one worker trip); :meth:`ExportCursor.close` ends the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import orjson

from calltrail.kernel.cursors import Cursor
from calltrail.sessions.query import CallQuery
from calltrail.store.database import Connection, Database
from calltrail.store.sessions_sql import compile_query
from calltrail.store.voice_sql import compile_page
from calltrail.voice.query import ChannelCallQuery

PAGE_ROWS = 1000
Position = tuple[Any, Any]
#: Reads the page after a position (None: the first): ``(documents, last position or None)``.
PageReader = Callable[[Connection, Position | None, int], tuple[list[bytes], Position | None]]


class ExportCursor:
    """Pages of stored JSON documents in list order, from one snapshot."""

    def __init__(self, db: Database, read_page: PageReader, page_rows: int = PAGE_ROWS):
        self._stack = ExitStack()
        self._conn = self._stack.enter_context(db.snapshot())
        self._read_page = read_page
        self._rows = page_rows
        self._after: Position | None = None
        self.done = False

    def next_page(self) -> list[bytes]:
        """The next documents (empty once every matching call was read)."""
        if self.done:
            return []
        documents, last = self._read_page(self._conn, self._after, self._rows)
        if len(documents) < self._rows or last is None:
            self.done = True
        self._after = last
        return documents

    def close(self) -> None:
        """End the snapshot (idempotent)."""
        self.done = True
        self._stack.close()


def call_pages(app_id: str, query: CallQuery) -> PageReader:
    """Keyset pages of the calls matching ``query`` (the list-shape JSON of each).

    A page selects the stored documents alone: the position after it is read once per page, for
    its last call only (by that call's ``sessionId``, a primary-key lookup), so no row carries its
    ordering columns into Python (a third of the cost of reading a page)."""
    compiled = compile_query(app_id, query)
    first, second = compiled.order
    select = f"SELECT c.summary FROM {compiled.source} WHERE {compiled.where}"
    order = f"ORDER BY {first} DESC, {second} DESC LIMIT ?"
    opening = f"{select} {order}"
    following = f"{select} AND ({first}, {second}) < (?, ?) {order}"
    position = f"SELECT {first}, {second} FROM {compiled.source} WHERE {compiled.where} AND {second} = ?"

    def read(conn: Connection, after: Position | None, rows: int) -> tuple[list[bytes], Position | None]:
        if after is None:
            found = conn.fetchall(opening, [*compiled.params, rows])
        else:
            found = conn.fetchall(following, [*compiled.params, *after, rows])
        documents = [bytes(summary) for (summary,) in found]
        if len(documents) < rows:
            return documents, None  # the last page: no position after it is needed
        last = conn.fetchone(position, [*compiled.params, orjson.loads(documents[-1])["sessionId"]])
        if last is None:  # the snapshot still holds the call it just returned
            raise RuntimeError("an exported call is missing from its own snapshot")
        return documents, (last[0], last[1])

    return read


def voice_pages(app_id: str, query: ChannelCallQuery) -> PageReader:
    """Keyset pages of the phone calls matching ``query`` (each record's JSON)."""

    def read(conn: Connection, after: Position | None, rows: int) -> tuple[list[bytes], Position | None]:
        cursor = Cursor(int(after[0]), str(after[1])) if after is not None else None
        sql, params = compile_page(conn, app_id, query, cursor, rows)
        found = conn.fetchall(sql, params)
        last = (found[-1][0], found[-1][1]) if found else None
        return [bytes(body) for _, _, body in found], last

    return read


class ExportReader:
    """Opens export cursors over one database."""

    def __init__(self, db: Database):
        self.db = db

    def calls(self, app_id: str, query: CallQuery, page_rows: int = PAGE_ROWS) -> ExportCursor:
        """Every call matching ``query``, newest first."""
        return ExportCursor(self.db, call_pages(app_id, query), page_rows)

    def voice(self, app_id: str, query: ChannelCallQuery, page_rows: int = PAGE_ROWS) -> ExportCursor:
        """Every phone call matching ``query``, newest first."""
        return ExportCursor(self.db, voice_pages(app_id, query), page_rows)
