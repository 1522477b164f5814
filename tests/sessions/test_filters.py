"""Parsing CometChat's list-call query strings."""

from __future__ import annotations

import pytest

from calltrail.kernel.errors import InvalidRequest
from calltrail.sessions.filters import LIST_CALLS_PARAMS, ParsedParams, parse_params
from calltrail.sessions.query import Condition


def parse(query: list[tuple[str, str]]) -> ParsedParams:
    return parse_params(query, LIST_CALLS_PARAMS, per_page_default=100, per_page_max=1000)


def conditions(query: list[tuple[str, str]]) -> set[tuple[str, str, object]]:
    return {(c.column, c.op, c.value) for c in parse(query).query.conditions}


def errors(query: list[tuple[str, str]]) -> dict[str, list[str]]:
    with pytest.raises(InvalidRequest) as info:
        parse(query)
    return info.value.details


def test_defaults() -> None:
    parsed = parse([])
    assert (parsed.page.page, parsed.page.per_page, parsed.query.conditions) == (1, 100, ())


def test_plain_value_means_eq_and_aliases_are_normalised() -> None:
    assert conditions([("type", "voice"), ("status", "canceled"), ("mode", "meet")]) == {
        ("type", "eq", "audio"),
        ("status", "eq", "cancelled"),
        ("mode", "eq", "meet"),
    }


def test_operators() -> None:
    assert conditions(
        [
            ("initiatedAt[gte]", "10"),
            ("initiatedAt[lt]", "20"),
            ("duration[gt]", "1.5"),
            ("totalParticipants[eq]", "2"),
            ("videoMinutes[lte]", "5"),
        ]
    ) == {
        ("initiated_at", "gte", 10),
        ("initiated_at", "lt", 20),
        ("duration", "gt", 1.5),
        ("total_participants", "eq", 2),
        ("video_minutes", "lte", 5.0),
    }


@pytest.mark.parametrize(
    "query",
    [
        [("types", "voice,video")],
        [("types[]", "voice"), ("types[]", "video")],
        [("types", "voice"), ("types", "video")],
        [("types", "audio, video,voice")],
    ],
)
def test_list_forms(query: list[tuple[str, str]]) -> None:
    assert conditions(query) == {("type", "in", ("audio", "video"))}


def test_booleans_and_uid() -> None:
    parsed = parse([("hasRecording", "true"), ("uid", "superhero2")])
    assert parsed.query.conditions == (Condition("has_recording", "eq", 1),)
    assert parsed.values["uid"] == "superhero2"
    assert parse([("hasRecording", "0")]).query.conditions == (Condition("has_recording", "eq", 0),)


def test_paging() -> None:
    parsed = parse([("page", "3"), ("perPage", "1000")])
    assert (parsed.page.page, parsed.page.per_page, parsed.page.offset) == (3, 1000, 2000)


@pytest.mark.parametrize(
    ("query", "key", "fragment"),
    [
        ([("colour", "red")], "colour", "not a supported parameter"),
        ([("type", "fax")], "type", "voice, audio, video"),
        ([("type", "")], "type", "empty"),
        ([("types", "voice,fax")], "types", "voice, audio, video"),
        ([("status", "missed")], "status", "initiated"),
        ([("initiatedAt", "yesterday")], "initiatedAt", "Unix timestamp"),
        ([("initiatedAt[gte]", "1.5")], "initiatedAt[gte]", "Unix timestamp"),
        ([("initiatedAt[between]", "1")], "initiatedAt[between]", "eq, gt, gte, lt, lte"),
        ([("participantsCount[gt]", "1")], "participantsCount[gt]", "takes no operator"),
        ([("mode[eq]", "call")], "mode[eq]", "takes no operator"),
        ([("duration", "nan")], "duration", "finite"),
        ([("duration", "abc")], "duration", "number"),
        ([("totalParticipants", "-1")], "totalParticipants", "between"),
        ([("hasRecording", "maybe")], "hasRecording", "true or false"),
        ([("uid", "a b")], "uid", "without spaces"),
        ([("type", "audio"), ("type", "video")], "type", "once"),
        ([("types[gt]", "audio")], "types[gt]", "list"),
        ([("page", "0")], "page", "between 1"),
        ([("perPage", "1001")], "perPage", "between 1 and 1000"),
        ([("perPage", "ten")], "perPage", "between 1 and 1000"),
        ([("perPage[gt]", "1")], "perPage[gt]", "plain value"),
        ([("a[b][c]", "1")], "a[b][c]", "not a valid parameter name"),
    ],
)
def test_bad_parameters_are_named(query: list[tuple[str, str]], key: str, fragment: str) -> None:
    found = errors(query)
    assert key in found, found
    assert any(fragment in reason for reason in found[key]), found[key]


def test_every_bad_parameter_is_reported_at_once() -> None:
    assert set(errors([("type", "fax"), ("foo", "1"), ("perPage", "0")])) == {"type", "foo", "perPage"}
