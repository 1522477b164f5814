"""The Twilio adapter: signatures proven against the official library, callbacks folded into Bird
records (any order, with redeliveries), every outcome, and malformed payloads."""

from __future__ import annotations

import json
import random
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from calltrail.adapters.base import Adapter, Credentials, HookRequest
from calltrail.adapters.twilio import ADAPTER, NAMESPACE, call_uuid, compute_signature, url_variants
from calltrail.kernel.errors import HookUnauthorized, InvalidRequest
from calltrail.voice.events import parse_batch
from calltrail.voice.fold import fold

FIXTURES = Path(__file__).parent.parent / "fixtures" / "twilio"
TOKEN = "9f2c4b7e1d3a5c8e0b6d4f2a1c3e5b7d"
CHANNEL = "a739d30b-8171-471c-9df4-591d4dd7bee5"
PARENT_SID, PARENT_ID = "CA5b0e7c3f9a2d4b6e8f1a3c5e7b9d2f40", "fe7bc880-1eef-5f72-9729-a32b8de563a8"
CHILD_SID, CHILD_ID = "CA9d1f3b5e7a0c2e4f6b8d0a2c4e6f8b13", "294b6159-5b89-59c2-94e3-ca1347f8bde0"


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


class MultiDict(dict[str, list[str]]):
    """Repeated form fields, as the official validator reads them from Flask (``getall``)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def signed(params: dict[str, str] | list[tuple[str, str]], url: str, token: str = TOKEN) -> HookRequest:
    """A callback as Twilio sends it, signed by the official library."""
    pairs = list(params.items()) if isinstance(params, dict) else params
    grouped = MultiDict()
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    signature = RequestValidator(token).compute_signature(url, grouped)
    headers = {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature}
    return HookRequest(url=url, headers=headers, body=urlencode(pairs).encode())


def library_accepts(request: HookRequest, token: str = TOKEN) -> bool:
    """The official validator's verdict on a request, with its parameters as a framework reads them."""
    grouped = MultiDict()
    for name, value in parse_qsl(request.body.decode(), keep_blank_values=True):
        grouped.setdefault(name, []).append(value)
    verdict: bool = RequestValidator(token).validate(
        request.url, grouped, request.headers.get("x-twilio-signature", "")
    )
    return verdict


def calltrail_accepts(request: HookRequest, token: str | None = TOKEN) -> bool:
    try:
        ADAPTER.verify(request, Credentials(secret=token))
    except HookUnauthorized:
        return False
    return True


def translate_all(requests: list[HookRequest]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for request in requests:
        ADAPTER.verify(request, Credentials(secret=TOKEN))
        events += ADAPTER.translate(request).events
    return events


def records(events: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """parse_batch + fold, per call, as the hook endpoint will ingest the events."""
    by_call = defaultdict(list)
    for event in parse_batch(events, CHANNEL):
        by_call[event.call_id].append(event)
    return {call_id: fold(call_id, CHANNEL, events) for call_id, events in by_call.items()}


def fixture_requests(name: str) -> list[HookRequest]:
    doc = load(name)
    return [signed(callback, doc["url"]) for callback in doc["callbacks"]]


# -- the adapter and its ids ----------------------------------------------------------------------


def test_the_adapter_declares_its_provider_domain_and_auth() -> None:
    adapter: Adapter = ADAPTER
    assert (adapter.provider, adapter.domain, adapter.auth) == ("twilio", "voice", "signature")


def test_a_call_sid_maps_to_a_uuid5_in_the_documented_namespace() -> None:
    assert str(NAMESPACE) == "149258d6-fe4c-4a31-9147-294ab3153f5a"
    assert call_uuid(PARENT_SID) == PARENT_ID == str(uuid.uuid5(NAMESPACE, PARENT_SID))
    assert call_uuid(CHILD_SID) == CHILD_ID


# -- signatures -----------------------------------------------------------------------------------


def test_twilios_documented_example_signature() -> None:
    """The example of Twilio's security docs: token 12345, this URL and these parameters."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234"}
    params |= {"From": "+12349013030", "To": "+18005551212"}
    expected = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert compute_signature("12345", url, {k: [v] for k, v in params.items()}) == expected
    assert RequestValidator("12345").compute_signature(url, params) == expected
    assert calltrail_accepts(signed(params, url, "12345"), "12345")


@pytest.mark.parametrize("name", ["answered_call.json", "outcomes.json"])
def test_every_callback_signed_by_the_official_library_is_accepted(name: str) -> None:
    for request in fixture_requests(name):
        assert library_accepts(request)
        assert calltrail_accepts(request)


def _tampered(request: HookRequest, **changes: Any) -> HookRequest:
    return HookRequest(
        url=changes.get("url", request.url),
        headers={**request.headers, **changes.get("headers", {})},
        body=changes.get("body", request.body),
    )


def _rejections(request: HookRequest) -> dict[str, HookRequest]:
    signature = request.headers["x-twilio-signature"]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return {
        "wrong signature": _tampered(request, headers={"x-twilio-signature": flipped}),
        "no signature": _tampered(request, headers={"x-twilio-signature": ""}),
        "altered parameter": _tampered(request, body=request.body.replace(b"CallDuration=49", b"CallDuration=4")),
        "added parameter": _tampered(request, body=request.body + b"&CallStatus=busy"),
        "other integration": _tampered(request, url=request.url.replace("9b2f4c1e", "9b2f4c1f")),
        "plain http": _tampered(request, url=request.url.replace("https://", "http://")),
        "extra query": _tampered(request, url=request.url + "?x=1"),
    }


def test_tampered_requests_are_rejected_as_the_official_library_rejects_them() -> None:
    completed = fixture_requests("answered_call.json")[3]
    assert b"CallDuration=49" in completed.body
    for case, request in _rejections(completed).items():
        assert not library_accepts(request), case
        with pytest.raises(HookUnauthorized):
            ADAPTER.verify(request, Credentials(secret=TOKEN))


def test_a_wrong_or_missing_token_is_rejected() -> None:
    request = fixture_requests("answered_call.json")[0]
    assert not library_accepts(request, "0" * 32)
    for secret in ("0" * 32, "", None):
        with pytest.raises(HookUnauthorized):
            ADAPTER.verify(request, Credentials(secret=secret))


@pytest.mark.parametrize(
    ("signed_url", "received_url", "accepted"),
    [
        ("https://calltrail.example.com:443/hooks/abc", "https://calltrail.example.com/hooks/abc", True),
        ("https://calltrail.example.com/hooks/abc", "https://calltrail.example.com:443/hooks/abc", True),
        ("http://calltrail.example.com:80/hooks/abc?x=1", "http://calltrail.example.com/hooks/abc?x=1", True),
        ("http://calltrail.example.com:8080/hooks/abc", "http://calltrail.example.com/hooks/abc", False),
        ("https://calltrail.example.com:8443/hooks/abc", "https://calltrail.example.com:443/hooks/abc", False),
    ],
)
def test_the_port_is_treated_as_the_official_library_treats_it(
    signed_url: str, received_url: str, accepted: bool
) -> None:
    request = _tampered(signed({"CallSid": "CA1", "CallStatus": "ringing"}, signed_url), url=received_url)
    assert calltrail_accepts(request) == library_accepts(request) == accepted


def test_url_variants() -> None:
    assert url_variants("https://h.example/p?q=1") == ["https://h.example/p?q=1", "https://h.example:443/p?q=1"]
    assert url_variants("http://h.example:8080/p") == ["http://h.example/p", "http://h.example:8080/p"]


def test_repeated_keys_are_signed_as_the_official_library_signs_them() -> None:
    url = "https://calltrail.example.com/hooks/abc"
    pairs = [("CallSid", "CA1"), ("Tag", "b"), ("Tag", "a"), ("Tag", "b"), ("Empty", "")]
    request = signed(pairs, url)
    assert calltrail_accepts(request) and library_accepts(request)
    reordered = _tampered(request, body=urlencode([pairs[2], pairs[0], pairs[4], pairs[1], pairs[3]]).encode())
    assert calltrail_accepts(reordered) and library_accepts(reordered)
    dropped = _tampered(request, body=urlencode(pairs[:2] + pairs[3:]).encode())  # one value fewer
    assert not calltrail_accepts(dropped) and not library_accepts(dropped)


_TEXT = st.text(st.characters(codec="utf-8"), max_size=20)  # any text a form can carry


@settings(max_examples=200, deadline=None)
@given(
    params=st.lists(st.tuples(_TEXT.filter(bool), _TEXT), max_size=8),
    path=st.text("abcdefghij/?=&%-_.~", max_size=20),
    token=st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
)
def test_signatures_agree_with_the_official_library_on_any_input(
    params: list[tuple[str, str]], path: str, token: str
) -> None:
    url = "https://calltrail.example.com/" + path
    grouped = MultiDict()
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    assert compute_signature(token, url, grouped) == RequestValidator(token).compute_signature(url, grouped)
    request = signed(params, url, token)
    # Both normalise the URL the same way (``urlparse(...).geturl()`` drops an empty ``?``), so a URL
    # that does not survive that is refused by both; every other one is accepted by both.
    expected = urlparse(url).geturl() == url
    assert calltrail_accepts(request, token) == library_accepts(request, token) == expected
    other = token + "x"
    assert calltrail_accepts(request, other) == library_accepts(request, other) is False


# -- translation ----------------------------------------------------------------------------------


def test_one_callback_becomes_one_status_event() -> None:
    request = fixture_requests("answered_call.json")[7]  # the child leg's completed callback
    translation = ADAPTER.translate(request)
    assert translation.ignored == 0
    assert translation.events == [
        {
            "id": f"twilio:{CHILD_SID}:3",
            "callId": CHILD_ID,
            "status": "completed",
            "at": "2024-03-01T16:45:21Z",
            "direction": "outgoing",
            "type": "sip",
            "from": "+3197058016589",
            "to": "sip:agent42@acme.sip.twilio.com",
            "originator": {"number": {"type": "pstn", "number": "+3197058016589", "countryIsoCode": "NL"}},
            "receiver": {"number": {"type": "sip", "number": "sip:agent42@acme.sip.twilio.com"}},
            "parentId": PARENT_ID,
            "duration": 43,
            "sipInsights": {"hangupSipCode": "200"},
        }
    ]


PARENT_RECORD = {
    "id": PARENT_ID,
    "channelId": CHANNEL,
    "originator": {"number": {"type": "pstn", "number": "+3197058016589", "countryIsoCode": "NL"}},
    "receiver": {"number": {"type": "pstn", "number": "+351910648518", "countryIsoCode": "PT"}},
    "from": "+3197058016589",
    "to": "+351910648518",
    "direction": "outgoing",
    "status": "completed",
    "type": "pstn",
    "duration": 49,
    "sipInsights": {"hangupSipCode": "200"},
    "createdAt": "2024-03-01T16:44:25Z",
    "updatedAt": "2024-03-01T16:45:22Z",
    "ringingAt": "2024-03-01T16:44:27Z",
    "answeredAt": "2024-03-01T16:44:33Z",
    "endedAt": "2024-03-01T16:45:22Z",
}
CHILD_RECORD = {
    "id": CHILD_ID,
    "channelId": CHANNEL,
    "originator": {"number": {"type": "pstn", "number": "+3197058016589", "countryIsoCode": "NL"}},
    "receiver": {"number": {"type": "sip", "number": "sip:agent42@acme.sip.twilio.com"}},
    "from": "+3197058016589",
    "to": "sip:agent42@acme.sip.twilio.com",
    "parentId": PARENT_ID,
    "direction": "outgoing",
    "status": "completed",
    "type": "sip",
    "duration": 43,
    "sipInsights": {"hangupSipCode": "200"},
    "createdAt": "2024-03-01T16:44:34Z",
    "updatedAt": "2024-03-01T16:45:21Z",
    "ringingAt": "2024-03-01T16:44:35Z",
    "answeredAt": "2024-03-01T16:44:38Z",
    "endedAt": "2024-03-01T16:45:21Z",
}


def test_an_answered_call_and_its_child_leg_fold_into_the_expected_records() -> None:
    assert records(translate_all(fixture_requests("answered_call.json"))) == {
        PARENT_ID: PARENT_RECORD,
        CHILD_ID: CHILD_RECORD,
    }


@pytest.mark.parametrize("seed", range(8))
def test_any_order_and_redeliveries_give_the_same_records(seed: int) -> None:
    rng = random.Random(seed)
    requests = fixture_requests("answered_call.json")
    delivered = requests + rng.sample(requests, 3)  # Twilio retries a few callbacks
    rng.shuffle(delivered)
    events = translate_all(delivered)
    assert len({event["id"] for event in events}) == len(requests)
    assert records(events) == {PARENT_ID: PARENT_RECORD, CHILD_ID: CHILD_RECORD}
    partial = [request for request in requests if rng.random() < 0.5] or requests[:1]
    assert all(record is not None for record in records(translate_all(partial)).values())


def test_a_redelivered_callback_gives_the_identical_event() -> None:
    request = fixture_requests("answered_call.json")[2]
    assert ADAPTER.translate(request) == ADAPTER.translate(request)


def _outcome(call_id: str) -> dict[str, Any]:
    record = records(translate_all(fixture_requests("outcomes.json")))[call_id]
    assert record is not None
    return record


def test_a_busy_call() -> None:
    record = _outcome("701f36eb-2a6e-51b7-84a9-4ceada2c8382")
    assert (record["status"], record["duration"], record["sipInsights"]) == ("busy", 0, {"hangupSipCode": "486"})
    assert (record["createdAt"], record["endedAt"]) == ("2024-03-01T17:00:00Z", "2024-03-01T17:00:03Z")
    assert "ringingAt" not in record and "answeredAt" not in record


def test_a_call_nobody_answered() -> None:
    record = _outcome("42f187eb-eff6-5096-86c4-7972fff40cf5")
    assert (record["status"], record["duration"], record["sipInsights"]) == ("no-answer", 0, {"hangupSipCode": "487"})
    assert (record["ringingAt"], record["endedAt"]) == ("2024-03-01T17:05:02Z", "2024-03-01T17:05:32Z")
    assert "answeredAt" not in record


def test_a_cancelled_call_that_was_queued_first() -> None:
    record = _outcome("624c0242-c754-520f-a34c-63b0d0f62d7a")
    assert (record["status"], record["duration"]) == ("cancelled", 0)
    assert (record["createdAt"], record["ringingAt"], record["endedAt"]) == (
        "2024-03-01T17:10:00Z",
        "2024-03-01T17:10:01Z",
        "2024-03-01T17:10:09Z",
    )
    events = translate_all(fixture_requests("outcomes.json"))
    assert [e["status"] for e in events if e["callId"] == record["id"]] == ["accepted", "ringing", "cancelled"]


def test_a_failed_call_to_a_voice_sdk_client() -> None:
    record = _outcome("c1781a66-0c83-5891-8325-5e1a3a9f11f8")
    assert (record["status"], record["type"], record["to"]) == ("failed", "webrtc", "client:agent_7")
    assert record["receiver"] == {"number": {"type": "webrtc", "number": "client:agent_7"}}
    assert (record["duration"], record["sipInsights"]) == (0, {"hangupSipCode": "480"})


def _callback(**changes: str | None) -> dict[str, str]:
    params: dict[str, str] = dict(load("answered_call.json")["callbacks"][3])
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return params


def _translate(params: dict[str, str], content_type: str = "application/x-www-form-urlencoded") -> Any:
    request = HookRequest(
        url="https://x/hooks/1", headers={"content-type": content_type}, body=urlencode(params).encode()
    )
    return ADAPTER.translate(request)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"Direction": "inbound", "From": "client:alice", "To": "+3197058016589"}, ("incoming", "webrtc")),
        ({"Direction": "trunking-originating"}, ("incoming", "pstn")),
        ({"Direction": "outbound-dial", "From": "sip:bob@pbx.example"}, ("outgoing", "sip")),
    ],
)
def test_direction_and_type(change: dict[str, str], expected: tuple[str, str]) -> None:
    event = _translate(_callback(**change)).events[0]
    assert (event["direction"], event["type"]) == expected


def test_caller_name_and_answering_machine_detection_are_kept() -> None:
    event = _translate(_callback(CallerName="Jose G", AnsweredBy="machine_end_beep")).events[0]
    assert event["originator"]["number"]["callerIdName"] == "Jose G"
    assert event["amdResult"] == {"result": "machine_end_beep"}


def test_timestamps_in_other_zones_and_without_a_sequence_number() -> None:
    event = _translate(_callback(Timestamp="Fri, 01 Mar 2024 17:45:22 +0100", SequenceNumber=None)).events[0]
    assert (event["at"], event["id"]) == ("2024-03-01T16:45:22Z", f"twilio:{PARENT_SID}:completed")
    assert _translate(_callback(Timestamp="Fri, 01 Mar 2024 16:45:22 -0000")).events[0]["at"] == "2024-03-01T16:45:22Z"


@pytest.mark.parametrize(
    "params",
    [
        {"CallSid": PARENT_SID, "RecordingSid": "RE1", "RecordingStatus": "completed", "RecordingUrl": "https://x"},
        _callback(CallbackSource="conference-events"),
        _callback(CallStatus="some-new-status"),
    ],
    ids=["recording callback", "other source", "unknown status"],
)
def test_callbacks_that_are_not_call_progress_are_ignored(params: dict[str, str]) -> None:
    translation = _translate(params)
    assert (translation.events, translation.ignored) == ([], 1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"CallSid": None}, "CallSid"),
        ({"Timestamp": None}, "Timestamp"),
        ({"Timestamp": "yesterday"}, "Timestamp"),
        ({"Timestamp": "Tue, 01 Mar 1960 16:45:22 +0000"}, "Timestamp"),
        ({"Direction": "sideways"}, "Direction"),
        ({"From": None}, "From"),
        ({"CallDuration": "49s"}, "CallDuration"),
        ({"CallDuration": "4²"}, "CallDuration"),
        ({"From": "+31\x00970"}, "from"),
    ],
)
def test_malformed_callbacks_name_the_field(change: dict[str, str | None], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        _translate(_callback(**change))
    assert list(caught.value.details) == [field]


def test_a_callback_cut_in_half_is_refused() -> None:
    request = fixture_requests("answered_call.json")[3]
    cut = _tampered(request, body=request.body[: len(request.body) // 2])
    with pytest.raises(HookUnauthorized):
        ADAPTER.verify(cut, Credentials(secret=TOKEN))
    with pytest.raises(InvalidRequest) as caught:
        ADAPTER.translate(cut)
    assert "Timestamp" in caught.value.details


def test_a_body_that_is_not_a_form_names_the_body() -> None:
    for request in (
        HookRequest(url="https://x", headers={"content-type": "application/json"}, body=b'{"CallSid": "CA1"}'),
        HookRequest(url="https://x", headers={}, body=b"CallSid=\xff\xfe"),
        HookRequest(url="https://x", headers={}, body=b"CallSid=%FF%FE"),
    ):
        with pytest.raises(InvalidRequest) as caught:
            ADAPTER.translate(request)
        assert list(caught.value.details) == ["body"]
