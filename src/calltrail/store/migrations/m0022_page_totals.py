"""Deep pages of a whole app's list: its calls counted per time bucket alone.

``call_page_totals`` holds, per app, span and bucket, the sum of ``call_page_counts``' rows of
that bucket over every combination of the counted columns. A page of the unfiltered list (or of
a time window without other filters) is placed, and a window's total counted, from one row per
bucket instead of one per combination: about 18 rows per 15-minute bucket and 36 per coarser
one at 1M demo calls, so a deep page read about 1,500 rows where it now reads about 50.
The row writers keep it with ``call_page_counts`` (``store/page_index.py``); this migration fills
it from the counts already there.
"""

from __future__ import annotations


def statements(dialect: str) -> list[str]:
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return [
        "CREATE TABLE call_page_totals ("
        " app_id TEXT NOT NULL REFERENCES apps (app_id),"
        " span BIGINT NOT NULL,"
        " bucket_start BIGINT NOT NULL,"
        " n BIGINT NOT NULL,"
        f" PRIMARY KEY (app_id, span, bucket_start)){clustered}",
        "INSERT INTO call_page_totals (app_id, span, bucket_start, n) "
        "SELECT app_id, span, bucket_start, sum(n) FROM call_page_counts GROUP BY app_id, span, bucket_start",
    ]
