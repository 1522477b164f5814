"""Page arithmetic."""

from __future__ import annotations

import pytest

from calltrail.sessions.pages import PageRequest, page_meta, window


def test_meta() -> None:
    assert page_meta(PageRequest(1, 25), 150, 25) == {
        "pagination": {"total": 150, "count": 25, "per_page": 25, "current_page": 1, "total_pages": 6}
    }
    assert page_meta(PageRequest(1, 100), 0, 0)["pagination"]["total_pages"] == 0
    assert page_meta(PageRequest(1, 100), 101, 100)["pagination"]["total_pages"] == 2


@pytest.mark.parametrize(
    ("total", "offset", "limit", "expected"),
    [
        (100, 0, 10, (False, 0, 10)),
        (100, 40, 10, (False, 40, 10)),
        (100, 80, 10, (True, 10, 10)),
        (100, 95, 10, (True, 0, 5)),
        (100, 100, 10, (False, 100, 0)),
        (100, 500, 10, (False, 500, 0)),
        (0, 0, 10, (False, 0, 0)),
    ],
)
def test_window_reads_deep_pages_from_the_far_end(
    total: int, offset: int, limit: int, expected: tuple[bool, int, int]
) -> None:
    assert window(total, offset, limit) == expected


def test_window_covers_every_row_exactly_once() -> None:
    total, per_page = 97, 10
    seen: list[int] = []
    rows = list(range(total))  # rows in list order (index 0 is newest)
    for page in range(1, 12):
        reverse, offset, limit = window(total, (page - 1) * per_page, per_page)
        newest_last = list(reversed(rows))
        seen += newest_last[offset : offset + limit][::-1] if reverse else rows[offset : offset + limit]
    assert seen == rows
