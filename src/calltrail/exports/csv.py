"""CSV (RFC 4180, UTF-8, a header row): one row per record with its scalar fields.

A page is converted column by column (a column of strings, numbers or booleans needs no Python
call per cell), then written as plain joins when no cell needs quoting (none holds a comma, a
double quote, a CR or an LF: numbers and booleans never do, columns of text are searched once
each) and by :mod:`csv`'s writer otherwise. The bytes are the writer's either way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


# Value arrays: what the database reads for a tabular export (see ``Connection.json_values``), one
# compact JSON array per record (its column values, absent ones as null) or, where the database
# could not read the record, the stored document itself. Most pages become CSV by a few byte
# replacements over the whole page, without decoding a value; see :func:`plain_page`.


def _shapes_table() -> bytes:
    """Keeps ``0 . - e ,``, writes other digits as ``1``, brackets as commas, ``E`` as ``e``, a
    backslash or brace as ``{``, and anything else as a space: the checks of :func:`plain_page`
    then search a page that is mostly spaces, where a search skips ahead fast."""
    table = bytearray(b" " * 256)
    for kept in b"0.-e,{":
        table[kept] = kept
    for digit in b"123456789":
        table[digit] = ord("1")
    for byte, shape in ((b"[", b","), (b"]", b","), (b"E", b"e"), (b"\\", b"{"), (b"}", b"{")):
        table[byte[0]] = shape[0]
    return bytes(table)


_SHAPES = _shapes_table()
#: Rows tried together again when a page is not plain (only the groups holding an awkward row
#: are then encoded row by row).
GROUP_ROWS = 32

#: One record's column values decoded from what the database read (a value array or a document).
Decode = Callable[[bytes], Sequence[Any]]


def plain_page(arrays: Sequence[bytes], width: int) -> bytes | None:
    """Value arrays of ``width`` values as CSV rows by byte replacements alone, or None unless
    that gives exactly the writer's bytes for :func:`cell` of each decoded value.

    It does when every array is compact JSON with numbers as ``orjson`` writes them (shortest
    digits), and the page holds no backslash, no ``{``, no bracket but each row's own two, no
    comma but the ``width - 1`` between each row's values, no ``0.0000`` and no one-digit negative
    exponent. Then: no string holds an escape, so none holds a quote, a CR or an LF, and every
    ``"`` delimits a string; no string holds a comma, so none needs quoting and ``,null`` (or a
    row's ``[null``) is a null; no value is an array or an object; and every number's text is
    Python's ``str`` of it (the two differ only below 1e-4, which ``orjson`` writes as
    ``0.0000…`` or with a one-digit exponent, ``1e-7`` for Python's ``1e-07``). So a row is its
    values' texts, quotes dropped and nulls empty.
    """
    rows = len(arrays)
    if not rows or width < 2:  # the writer quotes a lone empty cell: never plain
        return None
    text = b"\r\n".join(arrays)
    shapes = text.translate(_SHAPES)
    if (
        b"{" in shapes
        or shapes.count(b",") != rows * (width + 1)
        or any(awkward in shapes for awkward in (b"0.0000", b"e-0,", b"e-1,"))
    ):
        return None
    # Nulls go before the quotes do (``"null"`` is text); no string holds a bracket.
    text = text.replace(b",null", b",").replace(b"[null,", b"[,").translate(None, b'"[]')
    return text + b"\r\n"


def values_page(arrays: Sequence[bytes], width: int, decode: Decode) -> bytes:
    """CSV rows of value arrays (or documents): :func:`plain_page` where it applies, else groups
    of :data:`GROUP_ROWS`, else row by row through :func:`cell` and the writer."""
    whole = plain_page(arrays, width)
    if whole is not None:
        return whole
    parts = []
    for start in range(0, len(arrays), GROUP_ROWS):
        group = arrays[start : start + GROUP_ROWS]
        plain_group = plain_page(group, width)
        if plain_group is not None:
            parts.append(plain_group)
            continue
        for array in group:
            row = plain_page((array,), width)
            parts.append(row if row is not None else rows_text([[cell(value) for value in decode(array)]]).encode())
    return b"".join(parts)


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

    def values_page(self, arrays: Sequence[bytes], columns: Sequence[str], decode: Decode) -> bytes:
        """Some records' rows from their value arrays (:func:`values_page`)."""
        return values_page(arrays, len(columns), decode)
