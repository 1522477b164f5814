"""CSV (RFC 4180, UTF-8, a header row): one row per record with its scalar fields.

A page is converted column by column (a column of strings, numbers or booleans needs no Python
call per cell), then written as plain joins when no cell needs quoting (none holds a comma, a
double quote, a CR or an LF: numbers and booleans never do, columns of text are searched once
each) and by :mod:`csv`'s writer otherwise. The bytes are the writer's either way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

#: Rows encoded per chunk: large enough to amortise the writer, small enough to stream.
ROWS_PER_CHUNK = 500
#: The characters that make the writer quote a cell (its delimiter, quote and line ends).
SPECIAL = (",", '"', "\r", "\n")

_STRINGS = frozenset((str,))
_NUMBERS = frozenset((int, float))
_ABSENT_OR_NUMBERS = frozenset((int, float, type(None)))
_BOOLEANS = frozenset((bool,))
_WORDS = {True: "true", False: "false"}


def cell(value: Any) -> str:
    """A field as a CSV cell: absent is empty, booleans are ``true``/``false`` as in the JSON."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def plain(cells: Sequence[str]) -> bool:
    """True when no cell needs quoting."""
    text = "".join(cells)
    return not any(character in text for character in SPECIAL)


def column(values: list[Any]) -> tuple[list[str], bool]:
    """One column's values as cells (:func:`cell`), and whether none of them needs quoting."""
    kinds = set(map(type, values))
    if kinds <= _STRINGS:
        return values, plain(values)
    # The text of a number (digits, sign, point, exponent, inf, nan) never needs quoting.
    if kinds <= _NUMBERS:
        return list(map(str, values)), True
    if kinds <= _BOOLEANS:
        return list(map(_WORDS.__getitem__, values)), True
    if kinds <= _ABSENT_OR_NUMBERS:
        return ["" if value is None else str(value) for value in values], True
    cells = [value if value.__class__ is str else cell(value) for value in values]
    return cells, plain(cells)


def rows_text(table: Sequence[Sequence[str]], quoting: bool = True) -> str:
    """Rows of cells (all of one width) as CSV text, each ending in CRLF: exactly what
    :func:`csv.writer` writes. ``quoting=False`` says no cell needs quoting: the rows are then
    joined, unless they have a single cell (the writer quotes a lone empty one)."""
    if not table:
        return ""
    if not quoting and len(table[0]) > 1:
        return "\r\n".join(map(",".join, table)) + "\r\n"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(table)
    return buffer.getvalue()


def page_text(records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Each record's ``columns`` as CSV rows (nested objects are left to NDJSON)."""
    listed = records if isinstance(records, list) else list(records)
    converted = [column([record.get(name) for record in listed]) for name in columns]
    table = list(zip(*(cells for cells, _ in converted), strict=True)) if columns else [() for _ in listed]
    return rows_text(table, quoting=not all(clean for _, clean in converted))


class CSV:
    """Comma-separated values with CRLF line ends and quoting where a cell needs it."""

    extension = "csv"
    media_type = "text/csv; charset=utf-8"

    def encode(self, records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[bytes]:
        """The header row, then each record's ``columns`` (nested objects are left to NDJSON)."""
        chunk = self.header(columns)
        batch: list[Mapping[str, Any]] = []
        for record in records:
            batch.append(record)
            if len(batch) == ROWS_PER_CHUNK:
                yield chunk + self.page(batch, columns)
                chunk, batch = b"", []
        yield chunk + self.page(batch, columns)

    def header(self, columns: Sequence[str]) -> bytes:
        """The header row: the column names."""
        return rows_text([columns], quoting=not plain(columns)).encode()

    def page(self, records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
        """Some records' rows, without the header."""
        return page_text(records, columns).encode()
