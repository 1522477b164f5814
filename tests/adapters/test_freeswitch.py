"""The FreeSWITCH adapter: mod_json_cdr CDRs (JSON, ``cdr=`` form, base64; values encoded or not)
folded into Bird records, field by field, for an answered bridged call, a busy one, one nobody
answered and a cancelled one; order and redelivery independence; the mapping tables; malformed
CDRs."""

from __future__ import annotations

import base64
import copy
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest

from calltrail.adapters.base import Adapter, HookRequest, Translation
from calltrail.adapters.freeswitch import ADAPTER, final_status, hangup_source, values_are_encoded
from calltrail.kernel.errors import InvalidRequest
from calltrail.voice.events import parse_batch
from calltrail.voice.fold import fold

FIXTURES = Path(__file__).parent.parent / "fixtures" / "freeswitch"
CHANNEL = "a739d30b-8171-471c-9df4-591d4dd7bee5"
CONTENT_TYPES = {
    ".json": "application/json",
    ".form": "application/x-www-form-urlencoded",
    ".b64form": "application/x-www-form-base64-encoded",
}
#: Fixture -> whether its variables were written with encode-values on.
FIXTURE_ENCODING = {
    "answered_a_leg.json": True,
    "answered_b_leg.json": False,
    "busy_a_leg.form": True,
    "busy_b_leg.form": False,
    "no_answer_leg.b64form": True,
    "cancel_a_leg.json": True,
    "cancel_b_leg.form": True,
}
ANSWERED_A, ANSWERED_B = "c2f0a8e4-5b7d-4e19-8a36-0d91f2b7c4e5", "7e14d9a3-2c68-4b0f-b5d2-96a1e8c3f047"
BUSY_A, BUSY_B = "5d8e2b71-4c0a-4f3e-8b96-2e7a1c5f9d30", "a9c4e6f2-1d3b-4a57-9e08-7b2c5d1f3e64"
NO_ANSWER = "e3b7a1d9-6f24-4c8b-a5e0-9d1c7f2b4a86"
CANCEL_A, CANCEL_B = "51156b0b-f91b-4fd3-9c8f-15226f6098be", "ab0aa08a-ead3-42c6-a365-99553a001fba"


def switch_url_encode(text: str) -> str:
    """FreeSWITCH's ``switch_url_encode`` (switch_utils.c): these characters, control and
    non-ASCII bytes become ``%XX``; everything else, ``,`` ``/`` and ``'`` included, stays."""
    unsafe = '\r\n "#%&+:;<=>?@[\\]^`{|}'
    return "".join(
        chr(byte) if 0x20 <= byte <= 0x7E and chr(byte) not in unsafe else f"%{byte:02X}" for byte in text.encode()
    )


def hook(body: bytes | str, content_type: str = "application/json", uuid: str = "x") -> HookRequest:
    raw = body.encode() if isinstance(body, str) else body
    url = f"https://calltrail.example.com/hooks/9b2f4c1e-6d3a-4e8b-a7c5-0f1e2d3c4b5a?uuid={uuid}"
    return HookRequest(url=url, headers={"content-type": content_type, "user-agent": "freeswitch-json/1.0"}, body=raw)


def fixture_request(name: str) -> HookRequest:
    return hook((FIXTURES / name).read_bytes(), CONTENT_TYPES[Path(name).suffix])


def fixture_cdr(name: str) -> dict[str, Any]:
    """The CDR object a fixture carries, as FreeSWITCH built it."""
    text = (FIXTURES / name).read_text()
    if name.endswith(".b64form"):
        text = base64.b64decode(text.removeprefix("cdr=")).decode()
    elif name.endswith(".form"):
        text = parse_qs(text)["cdr"][0]
    cdr: dict[str, Any] = json.loads(text)
    return cdr


def bodies(cdr: dict[str, Any]) -> dict[str, HookRequest]:
    """The CDR posted in each of mod_json_cdr's ``encode`` modes."""
    compact = json.dumps(cdr, separators=(",", ":"), ensure_ascii=False)
    return {
        "encode=false": hook(json.dumps(cdr, indent=2)),
        "encode=true": hook("cdr=" + switch_url_encode(compact), CONTENT_TYPES[".form"]),
        "encode=base64": hook("cdr=" + base64.b64encode(compact.encode()).decode(), CONTENT_TYPES[".b64form"]),
    }


def with_values(cdr: dict[str, Any], encoded: bool, now_encoded: bool) -> dict[str, Any]:
    """The CDR as written with ``encode-values`` on (``encoded``) or off."""
    result = copy.deepcopy(cdr)
    plain = {k: unquote(v) if now_encoded else v for k, v in cdr["variables"].items()}
    result["variables"] = {k: switch_url_encode(v) if encoded else v for k, v in plain.items()}
    return result


def translate(request: HookRequest) -> Translation:
    return ADAPTER.translate(request)


def records(events: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """parse_batch + fold, per call, as the hook endpoint will ingest the events."""
    by_call = defaultdict(list)
    for event in parse_batch(events, CHANNEL):
        by_call[event.call_id].append(event)
    return {call_id: fold(call_id, CHANNEL, events) for call_id, events in by_call.items()}


def all_events() -> list[dict[str, Any]]:
    return [event for name in FIXTURE_ENCODING for event in translate(fixture_request(name)).events]


def number(kind: str, value: str) -> dict[str, Any]:
    return {"number": {"type": kind, "number": value}}


EXPECTED: dict[str, dict[str, Any]] = {
    ANSWERED_A: {
        "id": ANSWERED_A,
        "channelId": CHANNEL,
        "originator": number("sip", "1001"),
        "receiver": number("sip", "+351910648518"),
        "from": "1001",
        "to": "+351910648518",
        "direction": "incoming",
        "status": "completed",
        "type": "sip",
        "duration": 66,
        "hangupCauseCode": 16,
        "hangupSource": "callee",
        "sipInsights": {
            "hangupSipCode": "200",
            "userAgent": "Yealink SIP-T46S 66.86.0.15",
            "remoteSignallingIp": "192.168.1.23",
            "remoteMediaIp": "192.168.1.23",
        },
        "qualityInsights": {"mos": "4.41", "pdd": "1.25"},
        "createdAt": "2024-03-01T16:00:00.123Z",
        "updatedAt": "2024-03-01T16:01:12.01Z",
        "ringingAt": "2024-03-01T16:00:01.371Z",
        "answeredAt": "2024-03-01T16:00:06.544Z",
        "endedAt": "2024-03-01T16:01:12.01Z",
    },
    ANSWERED_B: {
        "id": ANSWERED_B,
        "channelId": CHANNEL,
        "originator": number("pstn", "+3197058016589"),
        "receiver": number("pstn", "+351910648518"),
        "from": "+3197058016589",
        "to": "+351910648518",
        "parentId": ANSWERED_A,
        "direction": "outgoing",
        "status": "completed",
        "type": "pstn",
        "duration": 65,
        "hangupCauseCode": 16,
        "hangupSource": "callee",
        "sipInsights": {
            "hangupSipCode": "200",
            "userAgent": "Carrier-SBC/4.2",
            "remoteSignallingIp": "203.0.113.10",
            "remoteMediaIp": "203.0.113.12",
        },
        "qualityInsights": {"mos": "4.36", "pdd": "1.16"},
        "createdAt": "2024-03-01T16:00:00.201Z",
        "updatedAt": "2024-03-01T16:01:11.998Z",
        "ringingAt": "2024-03-01T16:00:01.362Z",
        "answeredAt": "2024-03-01T16:00:06.53Z",
        "endedAt": "2024-03-01T16:01:11.998Z",
    },
    BUSY_A: {
        "id": BUSY_A,
        "channelId": CHANNEL,
        "originator": number("pstn", "+351910648518"),
        "receiver": number("pstn", "+3197058016589"),
        "from": "+351910648518",
        "to": "+3197058016589",
        "direction": "incoming",
        "status": "busy",
        "type": "pstn",
        "duration": 0,
        "hangupCauseCode": 17,
        "hangupSource": "callee",
        "sipInsights": {
            "hangupSipCode": "486",
            "userAgent": "Carrier-SBC/4.2",
            "remoteSignallingIp": "203.0.113.10",
            "remoteMediaIp": "203.0.113.12",
        },
        "qualityInsights": {"pdd": "0.56"},
        "createdAt": "2024-03-01T16:45:00.456Z",
        "updatedAt": "2024-03-01T16:45:02.79Z",
        "ringingAt": "2024-03-01T16:45:01.02Z",
        "endedAt": "2024-03-01T16:45:02.79Z",
    },
    BUSY_B: {
        "id": BUSY_B,
        "channelId": CHANNEL,
        "originator": number("sip", "+351910648518"),
        "receiver": number("sip", "1003"),
        "from": "+351910648518",
        "to": "1003",
        "parentId": BUSY_A,
        "direction": "outgoing",
        "status": "busy",
        "type": "sip",
        "duration": 0,
        "hangupCauseCode": 17,
        "hangupSource": "callee",
        "sipInsights": {
            "hangupSipCode": "486",
            "userAgent": "Grandstream GXP2170 1.0.11.23",
            "remoteSignallingIp": "192.168.1.31",
        },
        "qualityInsights": {"pdd": "0.50"},
        "createdAt": "2024-03-01T16:45:00.512Z",
        "updatedAt": "2024-03-01T16:45:02.771Z",
        "ringingAt": "2024-03-01T16:45:01.011Z",
        "endedAt": "2024-03-01T16:45:02.771Z",
    },
    NO_ANSWER: {
        "id": NO_ANSWER,
        "channelId": CHANNEL,
        "originator": number("pstn", "+3197058016589"),
        "receiver": number("pstn", "+351910648518"),
        "from": "+3197058016589",
        "to": "+351910648518",
        "direction": "outgoing",
        "status": "no-answer",
        "type": "pstn",
        "duration": 0,
        "hangupCauseCode": 19,
        "hangupSource": "timeout",
        "sipInsights": {"hangupSipCode": "487", "userAgent": "Carrier-SBC/4.2", "remoteSignallingIp": "203.0.113.10"},
        "qualityInsights": {"pdd": "2.10"},
        "createdAt": "2024-03-01T17:10:00Z",
        "updatedAt": "2024-03-01T17:10:30.012Z",
        "ringingAt": "2024-03-01T17:10:02.104Z",
        "endedAt": "2024-03-01T17:10:30.012Z",
    },
    CANCEL_A: {
        "id": CANCEL_A,
        "channelId": CHANNEL,
        "originator": number("sip", "1001"),
        "receiver": number("sip", "1003"),
        "from": "1001",
        "to": "1003",
        "direction": "incoming",
        "status": "cancelled",
        "type": "sip",
        "duration": 0,
        "hangupCauseCode": 16,
        "hangupSource": "caller",
        "sipInsights": {
            "hangupSipCode": "487",
            "userAgent": "Twinkle/1.10.2",
            "remoteSignallingIp": "10.30.40.77",
            "remoteMediaIp": "10.30.40.77",
        },
        "qualityInsights": {"pdd": "10.02"},
        "createdAt": "2025-11-12T04:51:42.707Z",
        "updatedAt": "2025-11-12T04:51:56.247Z",
        "ringingAt": "2025-11-12T04:51:52.727Z",
        "endedAt": "2025-11-12T04:51:56.247Z",
    },
    CANCEL_B: {
        "id": CANCEL_B,
        "channelId": CHANNEL,
        "originator": number("sip", "1001"),
        "receiver": number("sip", "1003"),
        "from": "1001",
        "to": "1003",
        "parentId": CANCEL_A,
        "direction": "outgoing",
        "status": "cancelled",
        "type": "sip",
        "duration": 0,
        "hangupCauseCode": 16,
        "hangupSource": "caller",
        "sipInsights": {"hangupSipCode": "487", "userAgent": "Twinkle/1.10.2", "remoteSignallingIp": "10.30.40.77"},
        "qualityInsights": {"pdd": "0.00"},
        "createdAt": "2025-11-12T04:51:52.727Z",
        "updatedAt": "2025-11-12T04:51:56.247Z",
        "ringingAt": "2025-11-12T04:51:52.727Z",
        "endedAt": "2025-11-12T04:51:56.247Z",
    },
}


def test_the_adapter_declares_its_provider_domain_and_auth() -> None:
    adapter: Adapter = ADAPTER
    assert (adapter.provider, adapter.domain, adapter.auth) == ("freeswitch", "voice", "basic")


@pytest.mark.parametrize("call_id", list(EXPECTED))
def test_each_leg_folds_into_the_expected_record(call_id: str) -> None:
    assert records(all_events())[call_id] == EXPECTED[call_id]


def test_an_answered_bridged_call_gives_a_parent_and_a_child_leg() -> None:
    folded = records(all_events())
    a_leg, b_leg = folded[ANSWERED_A], folded[ANSWERED_B]
    assert a_leg is not None and b_leg is not None
    assert "parentId" not in a_leg and b_leg["parentId"] == ANSWERED_A
    assert (a_leg["status"], b_leg["status"]) == ("completed", "completed")
    assert (a_leg["duration"], b_leg["duration"]) == (66, 65)  # billsec of each leg


def test_a_cdr_becomes_one_event_per_milestone_with_ids_derived_from_the_leg() -> None:
    events = translate(fixture_request("answered_a_leg.json")).events
    assert [(e["id"], e["status"], e["at"]) for e in events] == [
        (f"fs:{ANSWERED_A}:starting", "starting", "2024-03-01T16:00:00.123Z"),
        (f"fs:{ANSWERED_A}:ringing", "ringing", "2024-03-01T16:00:01.371Z"),
        (f"fs:{ANSWERED_A}:ongoing", "ongoing", "2024-03-01T16:00:06.544Z"),
        (f"fs:{ANSWERED_A}:completed", "completed", "2024-03-01T16:01:12.01Z"),
    ]
    assert all(e["callId"] == ANSWERED_A and "channelId" not in e for e in events)
    assert all(e["from"] == "1001" and e["direction"] == "incoming" for e in events)
    assert "duration" not in events[0] and events[-1]["duration"] == 66
    no_answer = translate(fixture_request("no_answer_leg.b64form")).events
    assert [e["id"] for e in no_answer] == [f"fs:{NO_ANSWER}:{s}" for s in ("starting", "ringing", "no-answer")]


@pytest.mark.parametrize("seed", range(6))
def test_any_order_and_redelivered_cdrs_give_the_same_records(seed: int) -> None:
    rng = random.Random(seed)
    names = list(FIXTURE_ENCODING) + rng.sample(list(FIXTURE_ENCODING), 3)  # mod_json_cdr retries
    rng.shuffle(names)
    events = [event for name in names for event in translate(fixture_request(name)).events]
    rng.shuffle(events)
    assert records(events) == EXPECTED


@pytest.mark.parametrize("name", list(FIXTURE_ENCODING))
def test_every_encode_and_encode_values_mode_gives_the_same_events(name: str) -> None:
    expected = translate(fixture_request(name)).events
    cdr = fixture_cdr(name)
    for encoded in (True, False):
        variant = with_values(cdr, encoded, FIXTURE_ENCODING[name])
        assert values_are_encoded(list(variant["variables"].values())) is encoded
        for mode, request in bodies(variant).items():
            assert translate(request).events == expected, (encoded, mode)


def test_an_encoded_value_is_decoded_and_a_plain_one_kept_as_is() -> None:
    cdr = fixture_cdr("answered_b_leg.json")  # encode-values off
    cdr["variables"]["sip_user_agent"] = "Carrier%41SBC 4.2"  # a space: not switch_url_encode output
    events = translate(hook(json.dumps(cdr))).events
    assert events[-1]["sipInsights"]["userAgent"] == "Carrier%41SBC 4.2"
    encoded = with_values(fixture_cdr("answered_b_leg.json"), True, False)
    encoded["variables"]["sip_user_agent"] = "Carrier%20SBC%2F4.2"
    assert translate(hook(json.dumps(encoded))).events[-1]["sipInsights"]["userAgent"] == "Carrier SBC/4.2"


# -- the mapping tables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cause", "answered", "status"),
    [
        ("NORMAL_CLEARING", True, "completed"),
        ("MEDIA_TIMEOUT", True, "completed"),
        ("USER_BUSY", False, "busy"),
        ("NO_ANSWER", False, "no-answer"),
        ("NO_USER_RESPONSE", False, "no-answer"),
        ("ORIGINATOR_CANCEL", False, "cancelled"),
        ("LOSE_RACE", False, "cancelled"),
        ("NORMAL_CLEARING", False, "failed"),
        ("UNALLOCATED_NUMBER", False, "failed"),
        (None, False, "failed"),
    ],
)
def test_final_status(cause: str | None, answered: bool, status: str) -> None:
    assert final_status(cause, answered) == status


@pytest.mark.parametrize(
    ("disposition", "cause", "direction", "source"),
    [
        ("recv_bye", "NORMAL_CLEARING", "incoming", "caller"),
        ("send_bye", "NORMAL_CLEARING", "incoming", "callee"),
        ("recv_cancel", "ORIGINATOR_CANCEL", "incoming", "caller"),
        ("send_refuse", "USER_BUSY", "incoming", "callee"),
        ("recv_bye", "NORMAL_CLEARING", "outgoing", "callee"),
        ("send_bye", "NORMAL_CLEARING", "outgoing", "caller"),
        ("send_cancel", "ORIGINATOR_CANCEL", "outgoing", "caller"),
        ("recv_refuse", "USER_BUSY", "outgoing", "callee"),
        ("send_cancel", "NO_ANSWER", "outgoing", "timeout"),
        ("send_bye", "ALLOTTED_TIMEOUT", "incoming", "timeout"),
        ("send_bye", "MEDIA_TIMEOUT", "outgoing", "media-timeout"),
        (None, "NORMAL_CLEARING", "incoming", None),
    ],
)
def test_hangup_source(disposition: str | None, cause: str, direction: str, source: str | None) -> None:
    assert hangup_source(disposition, cause, direction) == source


def _changed(name: str, **variables: str | None) -> dict[str, Any]:
    cdr = fixture_cdr(name)
    for key, value in variables.items():
        if value is None:
            cdr["variables"].pop(key, None)
        else:
            cdr["variables"][key] = value
    return cdr


def _last(cdr: dict[str, Any]) -> dict[str, Any]:
    return translate(hook(json.dumps(cdr))).events[-1]


def test_the_parent_comes_from_originator_or_the_callflow_when_originating_leg_uuid_is_missing() -> None:
    cdr = _changed("answered_b_leg.json", originating_leg_uuid=None)
    assert _last(cdr)["parentId"] == ANSWERED_A
    cdr = _changed("answered_b_leg.json", originating_leg_uuid=None, originator=None, signal_bond=None)
    assert _last(cdr)["parentId"] == ANSWERED_A  # callflow[].caller_profile.originator
    del cdr["callflow"][0]["caller_profile"]["originator"]
    assert "parentId" not in _last(cdr)
    assert "parentId" not in _last(fixture_cdr("answered_a_leg.json"))  # bridge_uuid names B: not a parent


def test_epochs_in_seconds_when_microseconds_are_missing() -> None:
    cdr = fixture_cdr("answered_b_leg.json")
    cdr["variables"] = {k: v for k, v in cdr["variables"].items() if not k.endswith("_uepoch")}
    events = translate(hook(json.dumps(cdr))).events
    assert [e["at"] for e in events] == [
        "2024-03-01T16:00:00Z",
        "2024-03-01T16:00:01Z",
        "2024-03-01T16:00:06Z",
        "2024-03-01T16:01:11Z",
    ]


def test_an_originated_leg_keeps_the_caller_id_from_before_the_flip() -> None:
    cdr = _changed("no_answer_leg.b64form", channel_cid_flipped="yes", pre_transfer_caller_id_number="+3197058016589")
    cdr["callflow"][0]["caller_profile"]["caller_id_number"] = "+351910648518"  # flipped to the callee on answer
    assert _last(cdr)["from"] == "+3197058016589"


def test_the_original_caller_profile_names_the_dialled_number_after_a_transfer() -> None:
    cdr = fixture_cdr("busy_a_leg.form")
    transferred = copy.deepcopy(cdr["callflow"][0])
    transferred["profile_index"] = "2"
    transferred["caller_profile"]["destination_number"] = "voicemail"
    cdr["callflow"].insert(0, transferred)  # newest first
    assert _last(cdr)["to"] == "+3197058016589"
    cdr["callflow"] = cdr["callflow"][1]  # an old build's single object
    assert _last(cdr)["to"] == "+3197058016589"


def test_mos_needs_received_audio_and_falls_back_to_call_stats() -> None:
    assert "mos" not in _last(fixture_cdr("cancel_a_leg.json"))["qualityInsights"]  # 4.50 with no packets
    cdr = _changed("answered_a_leg.json", rtp_audio_in_mos=None, rtp_audio_in_media_packet_count=None)
    assert _last(cdr)["qualityInsights"]["mos"] == "4.41"  # callStats.audio.inbound.mos
    cdr = _changed("answered_a_leg.json", rtp_audio_in_mos="n/a")
    assert "mos" not in _last(cdr)["qualityInsights"]


def test_webrtc_legs_and_the_dialplan_override() -> None:
    assert _last(_changed("cancel_a_leg.json", sip_via_protocol="wss"))["type"] == "webrtc"
    assert _last(_changed("answered_b_leg.json", calltrail_type="sip"))["type"] == "sip"


def test_a_failed_leg_gives_its_cause_as_the_reason() -> None:
    event = _last(_changed("busy_b_leg.form", hangup_cause="UNALLOCATED_NUMBER", hangup_cause_q850="1"))
    assert (event["status"], event["reason"], event["hangupCauseCode"]) == ("failed", "unallocated number", 1)


def test_loopback_legs_are_ignored() -> None:
    cdr = _changed("cancel_b_leg.form", channel_name="loopback/app=voicemail:default-a")
    assert translate(hook(json.dumps(cdr))) == Translation(events=[], ignored=1)


# -- malformed CDRs -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FIXTURE_ENCODING))
def test_a_cdr_cut_in_half_names_the_body(name: str) -> None:
    body = (FIXTURES / name).read_bytes()
    with pytest.raises(InvalidRequest) as caught:
        translate(hook(body[: len(body) // 2], CONTENT_TYPES[Path(name).suffix]))
    assert list(caught.value.details) == ["body"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end_uepoch": None, "end_epoch": None}, "variables.end_epoch"),
        ({"start_uepoch": "soon"}, "variables.start_uepoch"),
        ({"start_uepoch": "١٧٠٩٣٠٨٨٠٠١٢٣٤٥٦"}, "variables.start_uepoch"),  # Arabic-Indic digits
        ({"end_uepoch": "1709308872010334000"}, "variables.end_uepoch"),  # nanoseconds: year 56000
        ({"uuid": "not-a-uuid"}, "variables.uuid"),
        ({"direction": "sideways"}, "variables.direction"),
        ({"sip_user_agent": "bad\x07agent"}, "sipInsights.userAgent"),
    ],
)
def test_malformed_cdrs_name_the_field(change: dict[str, str | None], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate(hook(json.dumps(_changed("answered_b_leg.json", **change))))
    assert list(caught.value.details) == [field]


def test_cdrs_without_variables_or_caller_profile_are_refused() -> None:
    cdr = fixture_cdr("answered_b_leg.json")
    with pytest.raises(InvalidRequest) as caught:
        translate(hook(json.dumps({**cdr, "variables": "none"})))
    assert list(caught.value.details) == ["variables"]
    with pytest.raises(InvalidRequest) as caught:
        translate(hook(json.dumps({**cdr, "callflow": []})))
    assert list(caught.value.details) == ["callflow"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe{}", "application/json"),
        (b"hello", "text/plain"),
        (b"cdr=%7B%22a%22%3A1", CONTENT_TYPES[".form"]),
        (b"cdr=!!not-base64!!", CONTENT_TYPES[".b64form"]),
    ],
)
def test_bodies_that_are_not_a_cdr_name_the_body(body: bytes, content_type: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate(hook(body, content_type))
    assert list(caught.value.details) == ["body"]
