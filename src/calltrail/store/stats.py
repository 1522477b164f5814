"""Counters (and a gauge) the storage layer keeps about itself, read by the server's ``/metrics``.

Plain thread-safe counters (the store runs in many worker threads): the store knows nothing of
HTTP or of Prometheus; the API layer reads a snapshot when it is scraped. Per process, since
monitoring scrapes every process.
"""

from __future__ import annotations

import threading
from collections import Counter

#: Requests that failed because the database was unreachable or busy (raised ``Unavailable``).
DATABASE_ERRORS = "database_errors"
#: A gauge: the usage rollups' marks waiting, over every app, when the settler last looked.
USAGE_BACKLOG_MARKS = "usage_backlog_marks"


def events_accepted(domain: str) -> str:
    """The counter of events a domain's event log stored (new events)."""
    return f"events_accepted:{domain}"


def events_duplicate(domain: str) -> str:
    """The counter of redelivered events a domain's event log ignored."""
    return f"events_duplicate:{domain}"


class StoreStats:
    """Named counters, safe to bump from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the counter ``name``."""
        with self._lock:
            self._counts[name] += amount

    def set(self, name: str, value: int) -> None:
        """Set ``name`` to ``value`` (a gauge)."""
        with self._lock:
            self._counts[name] = value

    def snapshot(self) -> dict[str, int]:
        """Every counter's current value."""
        with self._lock:
            return dict(self._counts)
