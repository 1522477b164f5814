"""Time parsing and formatting."""

from __future__ import annotations

import pytest

from calltrail.kernel.instants import format_rfc3339, parse_instant, parse_rfc3339, to_unix_seconds


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("2023-10-26T15:26:47.77Z", 1698334007770),
        ("2023-10-26T15:26:47Z", 1698334007000),
        ("2023-10-26T17:26:47.770+02:00", 1698334007770),
        ("2023-10-26t15:26:47.123456789z", 1698334007123),
        ("1970-01-01T00:00:00Z", 0),
    ],
)
def test_parse_rfc3339(text: str, millis: int) -> None:
    assert parse_rfc3339(text) == millis


@pytest.mark.parametrize("text", ["2023-10-26", "2023-10-26T15:26:47", "2023-13-01T00:00:00Z", "yesterday", ""])
def test_parse_rfc3339_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)


@pytest.mark.parametrize(
    ("value", "millis"),
    [(1692368113, 1692368113000), (1692368113.5, 1692368113500), ("2023-08-18T14:15:13Z", 1692368113000)],
)
def test_parse_instant(value: object, millis: int) -> None:
    assert parse_instant(value) == millis


@pytest.mark.parametrize(
    "value", [True, None, [1], float("nan"), float("inf"), -1, 10**13, 1e308, -1e308, 10**400, "1692368113"]
)
def test_parse_instant_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_instant(value)


@pytest.mark.parametrize(
    ("millis", "text"),
    [
        (1698334007770, "2023-10-26T15:26:47.77Z"),
        (1698334007000, "2023-10-26T15:26:47Z"),
        (1698334006543, "2023-10-26T15:26:46.543Z"),
        (1698334006500, "2023-10-26T15:26:46.5Z"),
    ],
)
def test_format_rfc3339_trims_trailing_zeros(millis: int, text: str) -> None:
    assert format_rfc3339(millis) == text
    assert parse_rfc3339(text) == millis


def test_unix_seconds_floor() -> None:
    assert to_unix_seconds(1999) == 1
    assert to_unix_seconds(2000) == 2
