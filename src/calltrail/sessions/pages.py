"""Page-number pagination as CometChat's list endpoints do it (``page``, ``perPage``).

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A 1-based page of ``per_page`` items."""

    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_meta(request: PageRequest, total: int, count: int) -> dict[str, Any]:
    """``meta.pagination``: exact ``total``; ``total_pages`` is 0 when nothing matches."""
    return {
        "pagination": {
            "total": total,
            "count": count,
            "per_page": request.per_page,
            "current_page": request.page,
            "total_pages": -(-total // request.per_page),
        }
    }


def window(total: int, offset: int, limit: int) -> tuple[bool, int, int]:
    """How to read rows ``offset..offset+limit`` of ``total`` most cheaply.

    Returns ``(reverse, offset, limit)``: past the middle of the result, reading from the other
    end skips fewer rows, so the deepest page costs what the first one does.
    """
    limit = max(0, min(limit, total - offset))
    if limit == 0 or offset + limit / 2 <= total / 2:
        return False, offset, limit
    return True, total - offset - limit, limit
