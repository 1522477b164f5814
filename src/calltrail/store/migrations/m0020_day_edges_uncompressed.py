"""PostgreSQL keeps a day's rollup edges uncompressed (``STORAGE EXTERNAL``).

A day row's ``edges`` (96 records, 9,600 bytes; ``m0018``) is over PostgreSQL's TOAST threshold, so
by default it was compressed with pglz (to about 4,700 bytes) and decompressed at every read: a
365-day series read 181 of them in 6-8 ms on the 1M-call demo, against 2.3-3.3 ms uncompressed
(lz4: 3.0-4.2 ms). Writes skip the compression too: a day's row is rewritten by every write below
it. ``EXTERNAL`` applies to values written from now on, so the existing day rows' edges are
written again (a concatenation with nothing makes a new value). SQLite stores blobs as they are:
nothing to do there.
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    if dialect != "postgresql":
        return []
    return [
        "ALTER TABLE usage_rollups ALTER COLUMN edges SET STORAGE EXTERNAL",
        "UPDATE usage_rollups SET edges = edges || ''::bytea WHERE level = 3 AND edges IS NOT NULL",
    ]
