"""NDJSON: one record per line, exactly the object the list endpoint returns."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson


def lines(documents: Iterable[bytes]) -> bytes:
    """Already-encoded JSON objects (as stored and served by a list endpoint), one per line.

    One join, the final newline included (an empty last item): each document is copied once."""
    return b"\n".join([*documents, b""])


class NDJSON:
    """Newline-delimited JSON (every field, nested ones included)."""

    extension = "ndjson"
    media_type = "application/x-ndjson"

    def encode(self, records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[bytes]:
        """One ``orjson`` line per record; ``columns`` are ignored (NDJSON keeps every field)."""
        for record in records:
            yield orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)

    def header(self, columns: Sequence[str]) -> bytes:
        """NDJSON has no header."""
        return b""

    def page(self, records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
        """Some records, one line each."""
        return b"".join(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE) for record in records)
