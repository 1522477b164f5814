"""The two calls of spec file 000 as native lifecycle events.

Deriving these events must reproduce the spec's records exactly, apart from ``mid`` (a UUID
Calltrail chooses). Device ids are the spec's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

FIXTURES = Path(__file__).parent.parent / "fixtures"

GROUP_SESSION = "v1.us.31780434a95d45.1692368168aefba73a1e5938ad7a02f8e61ea1c9a287a08aeb"
DIRECT_SESSION = "v1.us.31780434a95d45.16923681138d75114d60d1345a22e4cc612263fb26c0b5cf92"

_G2 = "b7683aaf-090a-4204-8f84-7ddd652923aa@rtc.cometchat-staging.com/ucTKf4eq"
_G8 = "f55d46e5-2b1c-4b02-9072-382209a8753f@rtc.cometchat-staging.com/K-s6dB3N"
_D8 = "70ecae89-b71c-4bb3-8220-b7c99ec1658f@rtc.cometchat-staging.com/hsYWb5ul"
_D2 = "c9ed493e-8495-428d-b6ee-b32019cc57ce@rtc.cometchat-staging.com/CKT3xgR4"


def group_call_events() -> list[dict[str, Any]]:
    """superhero8 rings group sivamathewstestgroup; superhero2 answers; 4, 7 and 6 never do."""
    s = GROUP_SESSION
    return [
        {
            "id": "g-1",
            "type": "call.initiated",
            "sessionId": s,
            "at": 1692368168,
            "initiator": "superhero8",
            "receiver": "sivamathewstestgroup",
            "receiverType": "group",
            "callType": "audio",
            "invitees": ["superhero2", "superhero4", "superhero7", "superhero6"],
        },
        {"id": "g-2", "type": "call.started", "sessionId": s, "at": 1692368180},
        {
            "id": "g-3",
            "type": "participant.joined",
            "sessionId": s,
            "at": 1692368180,
            "uid": "superhero8",
            "deviceId": _G8,
        },
        {
            "id": "g-4",
            "type": "participant.joined",
            "sessionId": s,
            "at": 1692368180,
            "uid": "superhero2",
            "deviceId": _G2,
        },
        {
            "id": "g-5",
            "type": "participant.left",
            "sessionId": s,
            "at": 1692368197,
            "uid": "superhero8",
            "deviceId": _G8,
        },
        {
            "id": "g-6",
            "type": "participant.left",
            "sessionId": s,
            "at": 1692368199,
            "uid": "superhero2",
            "deviceId": _G2,
        },
        {"id": "g-7", "type": "call.ended", "sessionId": s, "at": 1692368199},
    ]


def direct_call_events() -> list[dict[str, Any]]:
    """superhero8 calls superhero2, who answers; 19 seconds of audio."""
    s = DIRECT_SESSION
    return [
        {
            "id": "d-1",
            "type": "call.initiated",
            "sessionId": s,
            "at": 1692368113,
            "initiator": "superhero8",
            "receiver": "superhero2",
            "receiverType": "user",
            "callType": "audio",
        },
        {"id": "d-2", "type": "call.started", "sessionId": s, "at": 1692368127},
        {
            "id": "d-3",
            "type": "participant.joined",
            "sessionId": s,
            "at": 1692368128,
            "uid": "superhero8",
            "deviceId": _D8,
        },
        {
            "id": "d-4",
            "type": "participant.joined",
            "sessionId": s,
            "at": 1692368132,
            "uid": "superhero2",
            "deviceId": _D2,
        },
        {
            "id": "d-5",
            "type": "participant.left",
            "sessionId": s,
            "at": 1692368144,
            "uid": "superhero8",
            "deviceId": _D8,
        },
        {
            "id": "d-6",
            "type": "participant.left",
            "sessionId": s,
            "at": 1692368146,
            "uid": "superhero2",
            "deviceId": _D2,
        },
        {"id": "d-7", "type": "call.ended", "sessionId": s, "at": 1692368146},
    ]


def spec_list_response() -> dict[str, Any]:
    """Spec file 000's List Calls example response."""
    return cast(dict[str, Any], json.loads((FIXTURES / "spec000_list_calls.json").read_text()))


def spec_get_response() -> dict[str, Any]:
    """Spec file 002's Get Call example response."""
    return cast(dict[str, Any], json.loads((FIXTURES / "spec002_get_call.json").read_text()))


def without_mid(record: dict[str, Any]) -> dict[str, Any]:
    """A record with every ``mid`` removed (the one value Calltrail chooses itself)."""
    copy = {key: value for key, value in record.items() if key != "mid"}
    if "participants" in copy:
        copy["participants"] = [{k: v for k, v in p.items() if k != "mid"} for p in copy["participants"]]
    return copy
