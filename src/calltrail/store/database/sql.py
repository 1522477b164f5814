"""SQL text both engines share, and the chunking of long key lists: placeholders, multi-row
``INSERT`` statements, ``IN`` lists (plain, bounded or by a key's hash), JSON paths; no I/O."""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from calltrail.store.database.base import Connection

#: SQLite's default cap is 32766 bound variables; IN lists are chunked well below it.
CHUNK = 500
#: Per-key advisory locks one PostgreSQL transaction may take. A stock server has 64 slots per
#: connection (``max_locks_per_transaction``) shared by every session; a transaction touching
#: more keys takes the exclusive bulk lock instead (see :meth:`PostgresConnection.lock_keys`).
MAX_KEY_LOCKS = 32
#: Rows per multi-row INSERT: far below SQLite's 32766 bound variables.
MAX_ROWS_PER_INSERT = 256
#: A digest's first 8 bytes as a big-endian signed 64-bit integer (no slice, no int.from_bytes).
_FIRST_INT64 = struct.Struct(">q").unpack_from


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Split a sequence into slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def integer(value: Any) -> int:
    """A fetched sum as an int: PostgreSQL sums bigints as numeric (a ``Decimal``), and the sum
    of no rows is NULL."""
    return int(value or 0)


def placeholders(count: int) -> str:
    """``?, ?, ?`` for an IN list of ``count`` values."""
    return ", ".join("?" * count)


@functools.cache
def insert_sql(table: str, columns: tuple[str, ...], rows: int, tail: str) -> str:
    marks = "(" + placeholders(len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([marks] * rows)} {tail}"


def matching_keys(
    conn: Connection, sql: str, column: str, tenant: str, keys: Sequence[Any], after: Sequence[Any] = ()
) -> set[Any]:
    """The first column of ``sql`` run over ``keys`` in chunks.

    ``sql`` takes the tenant as its first ``?``, has ``{among}`` where ``column`` among the keys
    goes (:meth:`Connection.any_of`), then any ``?`` of ``after``:
    ``"SELECT id FROM t WHERE app_id = ? AND {among}"``.
    """
    found: set[Any] = set()
    for part in chunks(keys):
        among, values = conn.any_of(column, part)
        found.update(row[0] for row in conn.fetchall(sql.format(among=among), (tenant, *values, *after)))
    return found


@functools.lru_cache(maxsize=4096)
def key_hash(key: str) -> int:
    """A long text key's indexed stand-in (``call_events.session_hash``, ``m0024``): the first 8
    bytes of its MD5, big-endian, as a signed 64-bit integer. An index entry of a 62-character
    session id took about 89 bytes, of its hash about 20; a lookup matches the key itself too, so
    two keys sharing a hash are told apart. :func:`key_hash_sql` computes it in SQL.

    Memoized: a pure function of the key (nothing it returns can go stale), asked once per
    stored event, and a batch's events share their sessions' keys (8 events a demo call)."""
    return int(_FIRST_INT64(hashlib.md5(key.encode(), usedforsecurity=False).digest())[0])


def key_hash_sql(dialect: str, column: str) -> str:
    """:func:`key_hash` of ``column`` in SQL (for migrations): on SQLite the function every
    connection of :class:`SQLiteDatabase` registers, on PostgreSQL from its own ``md5``."""
    if dialect == "sqlite":
        return f"calltrail_key_hash({column})"
    return f"('x' || substr(md5({column}), 1, 16))::bit(64)::bigint"


def hashed_among(conn: Connection, column: str, hash_column: str, keys: Sequence[str]) -> tuple[str, list[Any]]:
    """``column`` among ``keys``, found through the index on ``hash_column`` (their :func:`key_hash`)."""
    hashes, hash_values = conn.any_of(hash_column, [key_hash(key) for key in keys])
    among, values = conn.any_of(column, keys)
    return f"{hashes} AND {among}", [*hash_values, *values]


def bounded_among(conn: Connection, column: str, keys: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column`` among the sorted ``keys``, also bounded by their range. A plan may probe a list
    of keys in a column after the first of its index, or read every row of the app there and filter
    them (PostgreSQL's generic plan without statistics did, so a write's cost grew with the app's
    history); a range on the column bounds that scan whatever the planner estimates."""
    among, values = conn.any_of(column, keys)
    return f"{column} >= ? AND {column} <= ? AND {among}", [keys[0], keys[-1], *values]


def json_keys(paths: Sequence[Sequence[str]]) -> list[Sequence[str]]:
    """``paths`` checked to be at least two, each of plain keys (they are written into SQL)."""
    checked = [path for path in paths if path and all(key.isascii() and key.isalnum() for key in path)]
    if len(checked) != len(paths) or len(paths) < 2:
        raise ValueError(f"JSON value paths must be two or more, of letters and digits: {paths!r}")
    return checked


def json_values_sql(dialect: str, document: str, paths: Sequence[Sequence[str]]) -> str:
    """The expression :meth:`Connection.json_values` gives on ``dialect`` (also for migrations,
    which have no connection object to ask)."""
    if dialect == "sqlite":
        # One json_extract of several paths parses the document once and answers an array of
        # the values' own texts; a BLOB argument would be read as JSONB (3.45+), so it is cast.
        # Plain keys need no quotes in a path (unquoted ones are found a little faster).
        listed = ", ".join("'$" + "".join(f".{key}" for key in path) + "'" for path in json_keys(paths))
        return f"CAST(json_extract(CAST({document} AS TEXT), {listed}) AS BLOB)"
    # json (not jsonb, which rewrites numbers) keeps each value's text; json_to_record parses
    # the document once. PostgreSQL refuses \u0000 in any JSON text it parses: such documents
    # come back whole.
    checked = json_keys(paths)
    tops = list(dict.fromkeys(path[0] for path in checked))
    columns = ", ".join(f'"{key}" json' for key in tops)
    values = [f'x."{path[0]}"' + "".join(f" -> '{key}'" for key in path[1:]) for path in checked]
    array = " || ',' || ".join(f"coalesce(({value})::text, 'null')" for value in values)
    parsed = f"json_to_record(convert_from({document}, 'UTF8')::json) AS x({columns})"
    return (
        f"CASE WHEN position('\\\\u0000'::bytea in {document}) = 0 "
        f"THEN (SELECT convert_to('[' || {array} || ']', 'UTF8') FROM {parsed}) ELSE {document} END"
    )
