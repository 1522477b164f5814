"""Settings, the builder and filters: what they accept, what they refuse, and the requests
they build. No server: requests are inspected, as built."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from calltrail_sdk import CallAppSettings, CallFilter, CallLogRequestBuilder, Range

SETTINGS = CallAppSettings(host="http://localhost:8080")


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("http://localhost:8080", "http://localhost:8080/v3.0"),
        ("http://localhost:8080/", "http://localhost:8080/v3.0"),
        ("http://localhost:8080/v3.0/", "http://localhost:8080/v3.0"),
        ("http://localhost:8080/v3.0", "http://localhost:8080/v3.0"),
        ("https://calls.example.com/v3", "https://calls.example.com/v3"),
        ("https://example.com/calltrail/", "https://example.com/calltrail/v3.0"),
    ],
)
def test_host_is_a_server_root_or_the_sdk_url(host: str, base: str) -> None:
    assert CallAppSettings(host=host).base_url == base


def test_without_a_host_it_is_cometchats_cloud() -> None:
    assert CallAppSettings(app_id="abc123", region="eu").base_url == "https://abc123.call-eu.cometchat.io/v3.0"


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({}, "host"),
        ({"host": "localhost:8080"}, "host"),
        ({"host": "ftp://x.example"}, "host"),
        ({"host": "http://x.example/?a=1"}, "host"),
        ({"app_id": "has space"}, "app_id"),
        ({"app_id": "a", "region": "EU!"}, "region"),
        ({"host": "http://x.example", "timeout": 0}, "timeout"),
        ({"host": "http://x.example", "timeout": True}, "timeout"),
    ],
)
def test_bad_settings_raise_naming_the_argument(kwargs: dict[str, Any], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        CallAppSettings(**kwargs)


def _request(builder: CallLogRequestBuilder) -> httpx.Request:
    """The request the first ``fetch_next`` would send (built, never sent)."""
    request = builder.build()._pager.begin(True)
    assert request is not None
    return request


def test_defaults() -> None:
    request = _request(CallLogRequestBuilder(SETTINGS).set_auth_token("tok"))
    assert request.method == "GET"
    assert str(request.url) == "http://localhost:8080/v3.0/calls?page=1&perPage=30"
    assert request.headers["authToken"] == "tok"
    assert request.headers["accept"] == "application/json"


def test_every_setter_reaches_the_query_with_the_official_names() -> None:
    builder = (
        CallLogRequestBuilder(SETTINGS)
        .set_auth_token("tok")
        .set_limit(100)
        .set_session_type("video")
        .set_call_status("missed")
        .set_has_recording(True)
        .set_call_category("meet")
        .set_call_direction("incoming")
        .set_uid("bob")
        .set_guid("team")
    )
    assert list(_request(builder).url.params.multi_items()) == [
        ("page", "1"),
        ("perPage", "100"),
        ("hasRecording", "true"),
        ("status", "missed"),
        ("type", "video"),
        ("mode", "meet"),
        ("direction", "incoming"),
        ("uid", "bob"),
        ("guid", "team"),
    ]


def test_aliases_are_normalised() -> None:
    builder = CallLogRequestBuilder(SETTINGS).set_auth_token("t").set_call_type("voice").set_call_status("canceled")
    params = dict(_request(builder).url.params)
    assert (params["type"], params["status"]) == ("audio", "cancelled")
    assert (
        dict(_request(CallLogRequestBuilder(SETTINGS).set_auth_token("t").set_has_recording(False)).url.params)[
            "hasRecording"
        ]
        == "false"
    )


@pytest.mark.parametrize(
    ("setter", "value", "word"),
    [
        ("set_limit", 0, "limit"),
        ("set_limit", 101, "limit"),
        ("set_limit", "30", "limit"),
        ("set_limit", True, "limit"),
        ("set_call_type", "fax", "call_type"),
        ("set_session_type", None, "call_type"),
        ("set_call_status", "lost", "call_status"),
        ("set_has_recording", "yes", "has_recording"),
        ("set_call_category", "party", "call_category"),
        ("set_call_direction", "sideways", "call_direction"),
        ("set_uid", "has space", "uid"),
        ("set_uid", "", "uid"),
        ("set_guid", "a/b", "guid"),
        ("set_auth_token", "", "auth_token"),
        ("set_auth_token", "tab\there", "auth_token"),
        ("set_auth_token", "naïve", "auth_token"),
        ("set_filter", {"status": "ended"}, "where"),
    ],
)
def test_bad_arguments_raise_at_the_setter(setter: str, value: object, word: str) -> None:
    builder = CallLogRequestBuilder(SETTINGS)
    with pytest.raises(ValueError, match=word):
        getattr(builder, setter)(value)


def test_build_needs_a_token() -> None:
    with pytest.raises(ValueError, match="auth_token"):
        CallLogRequestBuilder(SETTINGS).build()
    with pytest.raises(ValueError, match="settings"):
        CallLogRequestBuilder("http://localhost:8080")  # type: ignore[arg-type]


def test_build_freezes_the_settings() -> None:
    builder = CallLogRequestBuilder(SETTINGS).set_auth_token("t").set_call_status("missed")
    request = builder.build()
    builder.set_call_status("ended").set_limit(5)
    assert (request.params.call_status, request.params.limit) == ("missed", 30)
    with pytest.raises(AttributeError):
        request.params.limit = 3  # type: ignore[misc]


def test_a_filter_adds_the_rest_parameters() -> None:
    where = CallFilter(initiated_at=Range(gte=1700000000, lt=1710000000), duration=Range(gt=1.5), total_participants=3)
    builder = CallLogRequestBuilder(SETTINGS).set_auth_token("t").set_call_status("ended").set_filter(where)
    assert list(_request(builder).url.params.multi_items())[3:] == [
        ("initiatedAt[gte]", "1700000000"),
        ("initiatedAt[lt]", "1710000000"),
        ("duration[gt]", "1.5"),
        ("totalParticipants", "3"),
    ]


def test_a_filter_may_not_repeat_a_setter() -> None:
    builder = CallLogRequestBuilder(SETTINGS).set_auth_token("t").set_call_status("ended")
    builder.set_filter(CallFilter(status="busy"))
    with pytest.raises(ValueError, match="status"):
        builder.build()


# -- CallFilter ---------------------------------------------------------------------------


def test_every_filter_and_operator() -> None:
    where = CallFilter(
        type="voice",
        types=["audio", "video", "audio"],
        mode="presenter",
        status="canceled",
        statuses=["ended", "busy"],
        receiver_type="group",
        has_recording=False,
        uid="u1",
        participants_count=4,
        initiated_at=Range(eq=5, gt=1, gte=2, lt=9, lte=8),
        started_at=7,
        ended_at=Range(lte=10),
        duration=0.25,
        total_participants=Range(gte=2),
        voice_minutes=Range(gt=0),
        video_minutes=Range(lt=2.5),
    )
    assert where.to_params() == [
        ("type", "audio"),
        ("types", "audio,video"),
        ("mode", "presenter"),
        ("status", "cancelled"),
        ("statuses", "ended,busy"),
        ("receiverType", "group"),
        ("hasRecording", "false"),
        ("uid", "u1"),
        ("participantsCount", "4"),
        ("initiatedAt[eq]", "5"),
        ("initiatedAt[gt]", "1"),
        ("initiatedAt[gte]", "2"),
        ("initiatedAt[lt]", "9"),
        ("initiatedAt[lte]", "8"),
        ("startedAt", "7"),
        ("endedAt[lte]", "10"),
        ("duration", "0.25"),
        ("totalParticipants[gte]", "2"),
        ("voiceMinutes[gt]", "0"),
        ("videoMinutes[lt]", "2.5"),
    ]
    assert CallFilter().to_params() == []


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"type": "fax"}, "type"),
        ({"types": "audio"}, "types"),
        ({"types": []}, "types"),
        ({"status": "missed"}, "status"),
        ({"statuses": ["ended", "lost"]}, "statuses"),
        ({"mode": "party"}, "mode"),
        ({"receiver_type": "room"}, "receiver_type"),
        ({"has_recording": 1}, "has_recording"),
        ({"uid": "a b"}, "uid"),
        ({"participants_count": Range(gt=1)}, "participants_count"),
        ({"participants_count": -1}, "participants_count"),
        ({"initiated_at": 1.5}, "initiated_at"),
        ({"initiated_at": Range(gte="2024")}, "initiated_at"),  # type: ignore[arg-type]  # checks the validation
        ({"started_at": 10**13}, "started_at"),
        ({"duration": float("nan")}, "duration"),
        ({"voice_minutes": -1.0}, "voice_minutes"),
        ({"video_minutes": True}, "video_minutes"),
    ],
)
def test_bad_filters_raise_naming_the_field(kwargs: dict[str, Any], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        CallFilter(**kwargs)


def test_an_empty_range_is_refused() -> None:
    with pytest.raises(ValueError, match="Range"):
        Range()
