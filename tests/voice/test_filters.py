"""The list endpoints' query-string grammar: each parameter's accepted and rejected values."""

from __future__ import annotations

from typing import Any

import pytest

from calltrail.kernel.errors import InvalidRequest
from calltrail.voice.filters import LIST_PARAMS, WORKSPACE_PARAMS, parse_list_params
from calltrail.voice.query import ChannelCallQuery

CHANNEL = "a739d30b-8171-471c-9df4-591d4dd7bee5"
OTHER = "db53c357-92e3-4f3d-babe-159573940a50"


def parse(*items: tuple[str, str], workspace: bool = False) -> Any:
    params = WORKSPACE_PARAMS if workspace else LIST_PARAMS
    return parse_list_params(items, params, None if workspace else CHANNEL)


def problems(*items: tuple[str, str], workspace: bool = False) -> dict[str, list[str]]:
    with pytest.raises(InvalidRequest) as caught:
        parse(*items, workspace=workspace)
    return caught.value.details


def test_defaults() -> None:
    request = parse()
    assert (request.limit, request.page_token, request.query) == (10, None, ChannelCallQuery(scope=CHANNEL))


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("25", 25), ("1000", 1000), ("0010", 10)])
def test_limit_accepts(text: str, value: int) -> None:
    assert parse(("limit", text)).limit == value


@pytest.mark.parametrize("text", ["0", "1001", "-1", "ten", "2.5", "", " 5", "99999"])
def test_limit_rejects(text: str) -> None:
    assert "limit" in problems(("limit", text))


def test_page_token_is_kept_verbatim_up_to_8000_characters() -> None:
    assert parse(("pageToken", "x" * 8000)).page_token == "x" * 8000
    assert problems(("pageToken", "x" * 8001)) == {"pageToken": ["must be at most 8000 characters"]}
    assert "pageToken" in problems(("pageToken", ""))


def test_start_and_end_are_rfc3339_instants_in_ms() -> None:
    query = parse(("startAt", "2024-02-28T16:54:33.241Z"), ("endAt", "2024-03-01T17:54:33.241+01:00")).query
    assert (query.start_ms, query.end_ms) == (1709139273241, 1709312073241)


@pytest.mark.parametrize("text", ["2024-02-28", "2024-02-28T16:54:33", "1709139273", "2024-02-30T00:00:00Z", ""])
def test_start_and_end_reject(text: str) -> None:
    assert "startAt" in problems(("startAt", text))
    assert "endAt" in problems(("endAt", text))


def test_end_must_be_after_start() -> None:
    assert problems(("startAt", "2024-03-01T00:00:00Z"), ("endAt", "2024-03-01T00:00:00Z")) == {
        "endAt": ["must be after startAt"]
    }


@pytest.mark.parametrize(
    ("name", "target", "good", "bad"),
    [
        ("status", "statuses", ["completed", "no-answer"], "queued"),
        ("type", "types", ["pstn", "sip", "webrtc"], "voice"),
        ("direction", "directions", ["incoming", "outgoing"], "inbound"),
    ],
)
def test_enums_are_repeatable_any_of(name: str, target: str, good: list[str], bad: str) -> None:
    query = parse(*((name, value) for value in good)).query
    assert getattr(query, target) == tuple(good)
    assert getattr(parse((name, ",".join(good))).query, target) == tuple(good)
    assert getattr(parse(*((f"{name}[]", value) for value in good)).query, target) == tuple(good)
    assert getattr(parse((name, good[0]), (name, good[0])).query, target) == (good[0],)
    assert name in problems((name, bad))
    assert name in problems((name, good[0]), (name, bad))
    assert name in problems((name, ""))


@pytest.mark.parametrize(("name", "target"), [("to", "call_to"), ("from", "call_from")])
def test_to_and_from_are_exact_strings_of_1_to_100(name: str, target: str) -> None:
    assert getattr(parse((name, "+351910648518")).query, target) == "+351910648518"
    assert getattr(parse((name, "x" * 100)).query, target) == "x" * 100
    assert name in problems((name, "x" * 101))
    assert name in problems((name, ""))
    assert problems((name, "+1"), (name, "+2")) == {name: ["must be given once"]}


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("7", 7), ("3600", 3600)])
def test_duration_accepts_whole_seconds(text: str, value: int) -> None:
    assert parse(("duration", text)).query.duration == value


@pytest.mark.parametrize("text", ["-1", "7.5", "7s", "", "99999999999"])
def test_duration_rejects(text: str) -> None:
    assert "duration" in problems(("duration", text))


def test_id_is_a_uuid_read_in_lower_case() -> None:
    assert parse(("id", CHANNEL.upper())).query.call_id == CHANNEL
    assert "id" in problems(("id", "4fc2edf7"))
    assert "id" in problems(("id", CHANNEL), ("id", OTHER))


def test_tags_are_repeatable_lower_cased_and_bounded() -> None:
    assert parse(("tag", "VIP"), ("tag", "sales"), ("tag", "vip")).query.tags == ("vip", "sales")
    assert parse(("tag[]", "a,b")).query.tags == ("a,b",)  # tags may contain commas: never split
    assert "tag" in problems(("tag", "x" * 101))
    assert "tag" in problems(*(("tag", str(i)) for i in range(21)))


def test_channel_id_only_on_the_workspace_list() -> None:
    assert problems(("channelId", CHANNEL)) == {"channelId": ["is not a supported parameter"]}
    query = parse(("channelId", CHANNEL), ("channelId", OTHER.upper()), workspace=True).query
    assert (query.scope, query.channels) == (None, (CHANNEL, OTHER))
    assert "channelId" in problems(("channelId", "main"), workspace=True)


def test_unknown_and_repeated_single_parameters_are_named_together() -> None:
    assert problems(("colour", "red"), ("limit", "5"), ("limit", "6"), ("status", "x")) == {
        "colour": ["is not a supported parameter"],
        "limit": ["must be given once"],
        "status": [
            "must be one of accepted, scheduled, starting, ringing, ongoing, completed, no-answer, busy, "
            "failed, cancelled"
        ],
    }


def test_fingerprint_ignores_order_and_spelling_but_not_meaning() -> None:
    a = parse(("status", "busy"), ("status", "failed"), ("startAt", "2024-03-01T00:00:00Z")).query
    b = parse(("status", "failed,busy"), ("startAt", "2024-03-01T01:00:00+01:00")).query
    c = parse(("status", "busy")).query
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert parse().query.fingerprint() != parse(workspace=True).query.fingerprint()
