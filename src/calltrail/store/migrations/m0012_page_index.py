"""Deep pages: each app's calls counted per time bucket of four spans and per counted columns.

``call_page_counts`` holds, per app, the number of calls whose ``initiated_at`` (Unix seconds)
falls in each UTC-aligned bucket of 32 days, 2 days, 4 hours and 15 minutes, for each
combination of status, type, mode, receiver type and recording. A page deep in a list sums these counts to find
the bucket where it begins and seeks there instead of skipping every row before it
(``store/page_index.py``). The row writers keep it exact in the same transaction as the calls.

Existing calls are counted here, in the migration's transaction: the 15-minute buckets from the
calls, then each coarser span from the 15-minute counts (every span divides the next coarser one).
"""

from __future__ import annotations

#: The spans in seconds, coarsest first; each divides the one before. ``store/page_index.py``
#: uses the same (a test checks); changing them takes a new migration.
SPANS = (2_764_800, 172_800, 14_400, 900)
_DIMS = "status, type, mode, receiver_type, has_recording"


def statements(dialect: str) -> list[str]:
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    finest, coarser = SPANS[-1], SPANS[:-1]
    return [
        "CREATE TABLE call_page_counts ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " span BIGINT NOT NULL,"
        " bucket_start BIGINT NOT NULL,"
        " status TEXT NOT NULL,"
        " type TEXT NOT NULL,"
        " mode TEXT NOT NULL,"
        " receiver_type TEXT NOT NULL,"
        " has_recording SMALLINT NOT NULL,"
        " n BIGINT NOT NULL,"
        f" PRIMARY KEY (app_id, span, bucket_start, {_DIMS})){clustered}",
        # initiated_at is never negative, so subtracting the remainder gives the bucket's start.
        f"INSERT INTO call_page_counts (app_id, span, bucket_start, {_DIMS}, n) "
        f"SELECT app_id, {finest}, bucket_start, {_DIMS}, count(*) FROM "
        f"(SELECT app_id, initiated_at - initiated_at % {finest} AS bucket_start, {_DIMS} FROM calls) AS c "
        f"GROUP BY app_id, bucket_start, {_DIMS}",
        *(
            f"INSERT INTO call_page_counts (app_id, span, bucket_start, {_DIMS}, n) "
            f"SELECT app_id, {span}, bucket_start, {_DIMS}, sum(n) FROM "
            f"(SELECT app_id, bucket_start - bucket_start % {span} AS bucket_start, {_DIMS}, n "
            f"FROM call_page_counts WHERE span = {finest}) AS f "
            f"GROUP BY app_id, bucket_start, {_DIMS}"
            for span in coarser
        ),
    ]
