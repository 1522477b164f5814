"""The grammar of /api/usage and /api/exports: defaults, and every problem named at once."""

from __future__ import annotations

import pytest

from calltrail.kernel.errors import InvalidRequest
from calltrail.kernel.instants import parse_rfc3339
from calltrail.usage.params import parse_call_export, parse_call_usage, parse_voice_export, parse_voice_usage

NOW = parse_rfc3339("2026-06-15T12:00:00Z")


def test_defaults_are_the_last_30_days_daily_in_utc() -> None:
    request = parse_call_usage([], NOW)
    assert (request.period.from_ms, request.period.to_ms) == (NOW - 30 * 86400_000, NOW)
    assert (request.period.interval, request.period.tz_name, request.period.group_by) == ("day", "UTC", None)


def test_filters_come_from_the_list_grammar() -> None:
    request = parse_call_usage([("statuses", "ended,canceled"), ("uid", "ann"), ("from", "1767225600")], NOW)
    assert [(c.column, c.op, c.value) for c in request.query.conditions] == [("status", "in", ("ended", "cancelled"))]
    assert request.uid == "ann" and request.period.from_ms == 1767225600_000
    voice = parse_voice_usage([("fromNumber", "+31"), ("direction", "incoming"), ("groupBy", "hangupCause")], NOW)
    assert voice.query.call_from == "+31" and voice.query.directions == ("incoming",)


def _details(function: object, items: list[tuple[str, str]]) -> set[str]:
    with pytest.raises(InvalidRequest) as caught:
        function(items, NOW) if function in (parse_call_usage, parse_voice_usage) else function(items)  # type: ignore[operator]
    return set(caught.value.details)


def test_every_problem_is_named() -> None:
    assert _details(parse_call_usage, [("tz", "x"), ("interval", "y"), ("type", "fax"), ("from", "now")]) == {
        "tz",
        "interval",
        "type",
        "from",
    }
    assert _details(parse_voice_usage, [("to", "1"), ("from", "1"), ("pageToken", "x")]) == {"to", "pageToken"}
    assert _details(parse_call_export, [("format", "xml"), ("perPage", "2")]) == {"format", "perPage"}
    assert _details(parse_voice_export, [("format", "csv"), ("tag", "")]) == {"tag"}
