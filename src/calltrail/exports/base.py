"""The contract of an export format."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol


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
