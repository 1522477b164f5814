"""Keyset ("seek") SQL for listing telephony calls: a page costs the same however deep it is.

Pure: builds SQL text and parameters, runs nothing. Column and index names come from fixed
tables here, never from the request.

The plan for one page:

1. Pick a *driving* filter, the one most likely to be selective, in the order ``id``, ``to``,
   ``from``, ``tag``, ``duration``, ``status``, ``type``, ``direction`` (none: the plain order).
2. One *branch* per value of the driving filter (and per channel of a ``channelId`` filter):
   an in-order read of the index ``(app_id, [channel_id,] <driver>, created_at, call_id)``
   starting at the cursor, with the other filters checked on each row, stopping after
   ``limit`` rows.
3. With several branches (``status=busy&status=failed``), their keys are merged (``UNION``,
   which also drops a call reached through two of its tags), the first ``limit`` kept, and the
   records read by primary key.

Every step reads at most ``branches x limit`` index entries past the cursor plus the rows the
non-driving filters reject, none of which depends on the page's depth. On SQLite each branch
names its index (``INDEXED BY``) so the plan cannot drift; PostgreSQL's planner picks the same
indexes from its statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from calltrail.kernel.cursors import Cursor
from calltrail.store.database import Connection, placeholders
from calltrail.voice.query import ChannelCallQuery

#: Above this many channel x value branches, channels become a row check instead of branches.
MAX_BRANCHES = 32
_ORDER = "ORDER BY {a}.created_at DESC, {a}.call_id DESC"


@dataclass
class _Sql:
    """SQL text with its parameters, built in step."""

    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, text: str, *params: Any) -> None:
        self.parts.append(text)
        self.params.extend(params)

    def __str__(self) -> str:
        return " ".join(self.parts)


def _equalities(query: ChannelCallQuery) -> list[tuple[str, tuple[Any, ...]]]:
    """The equality filters on call columns, most selective first (see the module docstring)."""
    single = [("call_to", query.call_to), ("call_from", query.call_from)]
    found: list[tuple[str, tuple[Any, ...]]] = [(column, (value,)) for column, value in single if value is not None]
    if query.tags:
        found.append(("tag", query.tags))
    if query.duration is not None:
        found.append(("duration", (query.duration,)))
    found += [
        (column, values)
        for column, values in (("status", query.statuses), ("type", query.types), ("direction", query.directions))
        if values
    ]
    return found


def _in(column: str, values: tuple[Any, ...]) -> str:
    return f"{column} = ?" if len(values) == 1 else f"{column} IN ({placeholders(len(values))})"


def _conditions(
    sql: _Sql, alias: str, query: ChannelCallQuery, after: Cursor | None, residual: list[tuple[str, tuple[Any, ...]]]
) -> None:
    """Range, cursor and the non-driving filters, each as ``AND ...``."""
    if query.start_ms is not None:
        sql.add(f"AND {alias}.created_at >= ?", query.start_ms)
    # A cursor inside the window already bounds the read from above; a second upper bound would
    # let the planner seek from endAt instead of the cursor and scan everything in between.
    if query.end_ms is not None and (after is None or after.position >= query.end_ms):
        sql.add(f"AND {alias}.created_at < ?", query.end_ms)
    if after is not None:
        sql.add(f"AND ({alias}.created_at, {alias}.call_id) < (?, ?)", after.position, after.key)
    for column, values in residual:
        if column == "tag":
            sql.add(
                "AND EXISTS (SELECT 1 FROM channel_call_tags x WHERE x.app_id = c.app_id AND x.call_id = c.call_id "
                f"AND {_in('x.tag', values)})",
                *values,
            )
        else:
            sql.add(f"AND {_in('c.' + column, values)}", *values)


def _branch(
    conn: Connection,
    app_id: str,
    query: ChannelCallQuery,
    after: Cursor | None,
    limit: int,
    channel: str | None,
    driver: tuple[str, Any] | None,
    residual: list[tuple[str, tuple[Any, ...]]],
    with_body: bool,
) -> _Sql:
    """One in-order index read: calls of ``channel`` (None: any) whose ``driver`` column has the
    given value, after the cursor, passing the residual filters."""
    sql = _Sql()
    if driver is not None and driver[0] == "tag":
        index = "channel_call_tags_seek" if channel is not None else "channel_call_tags_ws_seek"
        hint = conn.indexed_by(index)
        body = ", c.body" if with_body else ""
        # Without a body to read or a row to check, the tag index alone answers (covering read).
        join = " JOIN channel_calls c ON c.app_id = t.app_id AND c.call_id = t.call_id" if with_body or residual else ""
        sql.add(f"SELECT t.created_at, t.call_id{body} FROM channel_call_tags t{hint}{join} WHERE t.app_id = ?", app_id)
        if channel is not None:
            sql.add("AND t.channel_id = ?", channel)
        sql.add("AND t.tag = ?", driver[1])
        _conditions(sql, "t", query, after, residual)
        sql.add(_ORDER.format(a="t") + " LIMIT ?", limit)
        return sql
    if driver is None:
        index = "channel_calls_seek" if channel is not None else "channel_calls_ws_seek"
    else:
        index = f"channel_calls_by_{driver[0]}" if channel is not None else f"channel_calls_ws_by_{driver[0]}"
    hint = conn.indexed_by(index)
    body = ", c.body" if with_body else ""
    sql.add(f"SELECT c.created_at, c.call_id{body} FROM channel_calls c{hint} WHERE c.app_id = ?", app_id)
    if channel is not None:
        sql.add("AND c.channel_id = ?", channel)
    if driver is not None:
        sql.add(f"AND c.{driver[0]} = ?", driver[1])
    _conditions(sql, "c", query, after, residual)
    sql.add(_ORDER.format(a="c") + " LIMIT ?", limit)
    return sql


def compile_page(
    conn: Connection, app_id: str, query: ChannelCallQuery, after: Cursor | None, limit: int
) -> tuple[str, list[Any]]:
    """SQL selecting ``(created_at, call_id, body)`` of at most ``limit`` calls matching
    ``query`` strictly after ``after``, newest first; and its parameters."""
    equalities = _equalities(query)
    if query.call_id is not None:
        # A call id names at most one call: read it by primary key and check everything else.
        sql = _Sql()
        sql.add("SELECT c.created_at, c.call_id, c.body FROM channel_calls c WHERE c.app_id = ? AND c.call_id = ?")
        sql.params += [app_id, query.call_id]
        scope = (query.scope,) if query.scope is not None else query.channels
        checks = [("channel_id", scope), *equalities] if scope else equalities
        _conditions(sql, "c", query, after, checks)
        return str(sql), sql.params

    driver, residual = (equalities[0], equalities[1:]) if equalities else (None, [])
    driver_values: tuple[Any, ...] = driver[1] if driver else (None,)
    channels: tuple[str | None, ...]
    if query.scope is not None:
        channels = (query.scope,)
    elif query.channels and len(query.channels) * len(driver_values) <= MAX_BRANCHES:
        channels = query.channels
    else:
        channels = (None,)
        if query.channels:
            residual = [("channel_id", query.channels), *residual]
    branches = [(channel, (driver[0], value) if driver else None) for channel in channels for value in driver_values]
    if len(branches) == 1:
        channel, key = branches[0]
        sql = _branch(conn, app_id, query, after, limit, channel, key, residual, with_body=True)
        return str(sql), sql.params

    merged = _Sql()
    for position, (channel, key) in enumerate(branches):
        branch = _branch(conn, app_id, query, after, limit, channel, key, residual, with_body=False)
        union = "UNION " if position else ""
        merged.add(f"{union}SELECT * FROM ({branch}) AS b{position}", *branch.params)
    sql = _Sql()
    sql.add(
        f"SELECT c.created_at, c.call_id, c.body FROM (SELECT created_at, call_id FROM ({merged}) AS u "
        "ORDER BY created_at DESC, call_id DESC LIMIT ?) AS p "
        "JOIN channel_calls c ON c.app_id = ? AND c.call_id = p.call_id "
        "ORDER BY p.created_at DESC, p.call_id DESC",
        *merged.params,
        limit,
        app_id,
    )
    return str(sql), sql.params


#: True while the channel exists: an uncorrelated test both engines run once per statement.
CHANNEL_EXISTS = "EXISTS (SELECT 1 FROM channels WHERE app_id = ? AND channel_id = ?)"


def in_channel(sql: str, params: list[Any], app_id: str, channel_id: str) -> tuple[str, list[Any]]:
    """A page of :func:`compile_page` read only while ``channel_id`` exists: the check and the
    page in one statement (a round trip fewer on PostgreSQL). No rows then leaves "no such
    channel" and "no such calls" to be told apart by the check alone."""
    return (
        f"SELECT p.created_at, p.call_id, p.body FROM ({sql}) AS p WHERE {CHANNEL_EXISTS} "
        "ORDER BY p.created_at DESC, p.call_id DESC",
        [*params, app_id, channel_id],
    )
