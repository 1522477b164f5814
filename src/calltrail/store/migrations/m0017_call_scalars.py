"""Call scalars: each call row keeps its record's scalar fields as a compact JSON array
(``calls.scalars``, the values of ``calltrail.sessions.record.SCALAR_FIELDS`` in order), so a CSV
export reads a short array instead of parsing every record (the JSON parse was most of an
export's time).

Existing rows get theirs here, read from their records by the database (the fields the running
code reads, so the two always agree). A later change to ``SCALAR_FIELDS`` needs a migration of
its own that rewrites the column of databases migrated before it.
"""

from __future__ import annotations

from calltrail.sessions.record import SCALAR_FIELDS
from calltrail.store.database import json_values_sql


def statements(dialect: str) -> list[str]:
    blob = "BYTEA" if dialect == "postgresql" else "BLOB"
    values = json_values_sql(dialect, "summary", [(name,) for name in SCALAR_FIELDS])
    return [
        f"ALTER TABLE calls ADD COLUMN scalars {blob}",
        f"UPDATE calls SET scalars = {values}",
    ]
