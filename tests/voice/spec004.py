"""Spec file 004's calls, and the status events that reproduce each of them.

The events say what a telephony switch would report: the call starting at ``createdAt`` with
who called whom, ``ringing`` and ``ongoing`` at ``ringingAt`` and ``answeredAt``, the outcome at
``endedAt`` with the hangup details and call flow, and a last update carrying the insights at
``updatedAt``. ``duration`` is sent with the outcome only when asked: Bird's durations are not
always the rounded answered span (call 4d02b72b shows 7 s for a 6.228 s span), so the switch's
own figure wins when it reports one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

FIXTURES = Path(__file__).parent.parent / "fixtures"
IDENTITY = ("originator", "receiver", "from", "to", "parentId", "direction", "type")
OUTCOME = ("hangupCauseCode", "hangupSource", "callFlow", "reason")
UPDATE = ("sipInsights", "qualityInsights")


def example(name: str) -> dict[str, Any]:
    """``example1``, ``example2`` or ``schema_example``: the response as the spec shows it."""
    return cast(dict[str, Any], json.loads((FIXTURES / f"spec004_{name}.json").read_text()))


def example_calls() -> list[dict[str, Any]]:
    """Every call of examples 1 and 2 (the schema example is a type sketch, not a real call)."""
    calls: list[dict[str, Any]] = example("example1")["results"] + example("example2")["results"]
    return calls


#: The one spec call whose duration is not its answered span rounded (6.228 s shown as 7).
IRREGULAR_DURATION = "4d02b72b-8a16-42ae-9b3d-6d4d78941240"


def events_for(record: dict[str, Any], *, send_duration: bool = True) -> list[dict[str, Any]]:
    """Status events whose fold is ``record`` (for a finished call of the spec)."""
    call = record["id"]
    events = [
        {"id": f"{call}-start", "callId": call, "status": "starting", "at": record["createdAt"]}
        | {key: record[key] for key in IDENTITY if key in record}
    ]
    if "ringingAt" in record:
        events.append({"id": f"{call}-ring", "callId": call, "status": "ringing", "at": record["ringingAt"]})
    if "answeredAt" in record:
        events.append({"id": f"{call}-answer", "callId": call, "status": "ongoing", "at": record["answeredAt"]})
    events.append(
        {"id": f"{call}-end", "callId": call, "status": record["status"], "at": record["endedAt"]}
        | {key: record[key] for key in OUTCOME if key in record}
        | ({"duration": record["duration"]} if send_duration else {})
    )
    events.append(
        {"id": f"{call}-update", "callId": call, "status": record["status"], "at": record["updatedAt"]}
        | {key: record[key] for key in UPDATE if key in record}
    )
    return events
