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
