"""The contract of an export format."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable


class ExportFormat(Protocol):
    """Encodes records as a file, chunk by chunk."""

    #: The file name extension (``csv``).
    extension: str
    #: The ``Content-Type`` of the file.
    media_type: str

    def encode(self, records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[bytes]:
        """The file's bytes; ``columns`` are the scalar fields a tabular format keeps, in order."""
        ...

    def header(self, columns: Sequence[str]) -> bytes:
        """What the file starts with before any record (empty for formats without a header)."""
        ...

    def page(self, records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
        """The bytes of some records, without the header: a file is ``header`` then pages."""
        ...


@runtime_checkable
class TabularFormat(ExportFormat, Protocol):
    """A format that keeps each record's column values only: the database reads those values
    (``Connection.json_values``) instead of whole records, and this encodes them."""

    def values_page(
        self, arrays: Sequence[bytes], columns: Sequence[str], decode: Callable[[bytes], Sequence[Any]]
    ) -> bytes:
        """The rows of some records, without the header, from the JSON array of each record's
        column values (or, where the database could not read them, the stored record itself);
        ``decode`` gives the values of either, for the rows a format cannot write undecoded."""
        ...
