"""Call scalars: each call row keeps its record's scalar fields as a compact JSON array
(``calls.scalars``, the values of ``calltrail.sessions.record.SCALAR_FIELDS`` in order), so a CSV
export reads a short array instead of parsing every record (the JSON parse was most of an
export's time).

Existing rows get theirs here, read from their records by the database. The fields are listed
as they were when this migration was written (a migration never changes): a later change to
``SCALAR_FIELDS`` needs a migration of its own that rewrites the column.
"""

from __future__ import annotations

from calltrail.store.database import json_values_sql

FIELDS = (
    "sessionId",
    "status",
    "type",
    "mode",
    "initiator",
    "receiver",
    "receiverType",
    "initiatedAt",
    "startedAt",
    "endedAt",
    "totalDurationInMinutes",
    "totalAudioMinutes",
    "totalVideoMinutes",
    "totalDuration",
    "totalParticipants",
    "hasRecording",
    "mid",
)


def statements(dialect: str) -> list[str]:
    blob = "BYTEA" if dialect == "postgresql" else "BLOB"
    values = json_values_sql(dialect, "summary", [(name,) for name in FIELDS])
    return [
        f"ALTER TABLE calls ADD COLUMN scalars {blob}",
        f"UPDATE calls SET scalars = {values}",
    ]
